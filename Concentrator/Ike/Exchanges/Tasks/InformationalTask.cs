using System.Buffers.Binary;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Exchanges.Tasks;

/// <summary>
/// INFORMATIONAL (RFC 7296 §1.4): Delete of the IKE SA or of Child SAs, and the empty request that is
/// dead peer detection (§2.4). A DPD needs nothing special: an unanswered request times out through the
/// normal retransmission budget and closes the SA with <see cref="CloseReason.Timeout"/>.
/// </summary>
public sealed class InformationalTask(IReadOnlyList<Payload> requestPayloads) : IIkeTask
{
    private readonly List<byte[]> _deletedInbound = new();

    public void BuildRequest(IkeSa sa, List<Payload> payloads) => payloads.AddRange(requestPayloads);

    public TaskStatus ProcessResponse(IkeSa sa, IkeMessage response)
    {
        foreach (var p in requestPayloads)
        {
            if (p is not DeletePayload delete) continue;
            if (delete.Protocol == ProtocolId.Ike)
            {
                sa.Close(CloseReason.Deleted);
                return TaskStatus.Failed;
            }

            foreach (var spi in delete.Spis) sa.RemoveChild(BinaryPrimitives.ReadUInt32BigEndian(spi));
        }
        return TaskStatus.Done;
    }

    public TaskStatus ProcessRequest(IkeSa sa, IkeMessage request)
    {
        foreach (var delete in request.GetAll<DeletePayload>())
        {
            if (delete.Protocol == ProtocolId.Ike)
            {
                // §2.25.2: a Delete of the IKE SA we are rekeying ends our rekey; if the peer's colliding rekey
                // already created a new SA, the peer won and that SA takes the children over first.
                if (sa.TakePassiveIkeRekey() is { } passive) sa.HandOver(passive.Sa);
                sa.CloseAfterResponse = CloseReason.DeletedByPeer;
                continue;
            }

            if (delete.Protocol != ProtocolId.Esp) continue;
            foreach (var spi in delete.Spis)
            {
                if (spi.Length != 4) continue;
                // The peer lists its inbound SPIs, which are our outbound ones (§1.4.1).
                var child = sa.FindChildByOutbound(BinaryPrimitives.ReadUInt32BigEndian(spi));
                if (child is null) continue;
                _deletedInbound.Add(IkeSa.SpiBytes(child.InboundSpi));
                sa.RemoveChild(child.InboundSpi);
            }
        }
        return TaskStatus.Done;
    }

    public void BuildResponse(IkeSa sa, List<Payload> payloads)
    {
        if (_deletedInbound.Count > 0 && sa.CloseAfterResponse is null)
        {
            payloads.Add(new DeletePayload(ProtocolId.Esp, _deletedInbound));
        }
    }
}
