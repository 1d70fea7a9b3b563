using System.Buffers.Binary;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Wire;

namespace Concentrator.Ike.Tasks;

/// <summary>
/// Deletes Child SAs with INFORMATIONAL {D(ESP or AH, SPIs)} (RFC 7296 §1.4.1; the protocol is the child's). Initiator: our inbound SPIs go out; the child
/// leaves when the response arrives. Responder: the peer lists its inbound SPIs, which are our outbound ones; each
/// child we find is removed and answered with our inbound SPI, unless the IKE SA itself goes with this exchange.
/// </summary>
public sealed class ChildDeleteTask : IIkeTask
{
    private readonly uint _inboundSpi;
    private readonly List<byte[]> _deletedInbound = new();
    private readonly List<byte[]> _deletedInboundAh = new();

    /// <summary>Initiator: delete the child with this inbound SPI.</summary>
    public ChildDeleteTask(uint inboundSpi) => _inboundSpi = inboundSpi;

    /// <summary>Responder.</summary>
    public ChildDeleteTask()
    {
    }

    public void BuildRequest(IkeSa sa, List<Payload> payloads) =>
        payloads.Add(new DeletePayload(ProtocolOf(sa.ChildTable.FindRecord(_inboundSpi)?.Suite), [IkeSa.SpiBytes(_inboundSpi)]));

    /// <summary>The protocol ID (RFC 7296 §3.3.1) of a child with <paramref name="suite"/>: AH or ESP.</summary>
    internal static ProtocolId ProtocolOf(Ipsec.EspSuite? suite) =>
        suite?.Protocol == Ipsec.IpsecProtocol.Ah ? ProtocolId.Ah : ProtocolId.Esp;

    public TaskOutcome ProcessResponse(IkeSa sa, IkeMessage response)
    {
        sa.ChildTable.Remove(_inboundSpi);
        return TaskOutcome.Done;
    }

    public TaskOutcome ProcessRequest(IkeSa sa, IkeMessage request)
    {
        foreach (var delete in request.GetAll<DeletePayload>())
        {
            if (delete.Protocol is not (ProtocolId.Esp or ProtocolId.Ah)) continue;
            foreach (var spi in delete.Spis)
            {
                if (spi.Length != 4) continue;
                var child = sa.ChildTable.FindByOutbound(BinaryPrimitives.ReadUInt32BigEndian(spi));
                if (child is null || ProtocolOf(child.Suite) != delete.Protocol) continue;
                (delete.Protocol == ProtocolId.Ah ? _deletedInboundAh : _deletedInbound).Add(IkeSa.SpiBytes(child.InboundSpi));
                sa.ChildTable.Remove(child.InboundSpi);
            }
        }
        return TaskOutcome.Done;
    }

    public void BuildResponse(IkeSa sa, List<Payload> payloads)
    {
        if (sa.TaskManager.CloseAfterResponse is not null) return;
        if (_deletedInbound.Count > 0) payloads.Add(new DeletePayload(ProtocolId.Esp, _deletedInbound));
        if (_deletedInboundAh.Count > 0) payloads.Add(new DeletePayload(ProtocolId.Ah, _deletedInboundAh));
    }
}
