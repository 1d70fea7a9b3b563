using System.Net;
using Akka.Actor;
using Concentrator.Ike.Admission;
using Concentrator.Ike.Wire;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;
using Concentrator.Telemetry;
using Concentrator.Transport;

namespace Concentrator.Hosting;

/// <summary>
/// The one way in for IKE datagrams, whichever socket received them (each <see cref="UdpIkeTransport"/>, the Linux
/// data plane's NAT-T sockets), so that they are all bounded and counted alike in the node's metrics. In order: shorter
/// than an IKE header is malformed (truncated); longer than charon.max_packet is refused as a resource limit; a header
/// that does not parse is malformed; a new IKE_SA_INIT request must pass the <see cref="InitGate"/>
/// (charon.init_limit_job_load, left by the supervisor); the rest is copied, with the header parsed here once, into an
/// <see cref="IkeInbound"/> for the IKE SA supervisor. Refusals allocate nothing.
/// Thread-safe: every receive loop calls it, several at once.
/// </summary>
public sealed class IkeIngress(ICanTell supervisor, InitGate gate, ConcentratorMetrics metrics, int maxPacket) : IIkeDatagramSink
{
    public void Deliver(ReadOnlySpan<byte> datagram, IPEndPoint remote, IPEndPoint local, bool viaNatT)
    {
        if (datagram.Length < ProtocolConstants.IkeHeaderLength)
        {
            metrics.CountMalformed(ParseStatus.Truncated);
            return;
        }

        if (datagram.Length > maxPacket)
        {
            metrics.CountLimitDrop(ResourceLimit.MaxPacket, maxPacket);
            return;
        }

        // ISAKMP's version octet (RFC 2408 §3.1, the same place as IKEv2's): major version 1 is IKEv1, on the same ports.
        if (datagram[17] >> 4 == V1Constants.MajorVersion)
        {
            DeliverV1(datagram, remote, local, viaNatT);
            return;
        }

        var status = IkeHeader.TryParse(datagram, out var header);
        if (status != ParseStatus.Ok)
        {
            metrics.CountMalformed(status);
            return;
        }

        if (!gate.TryEnter(header))
        {
            metrics.CountDrop(IkeDropReason.InitQueueFull);
            return;
        }

        supervisor.Tell(new IkeInbound(datagram.ToArray(), header, remote, local, viaNatT), ActorRefs.NoSender);
    }

    /// <summary>IKEv1: the same bounds; a first main or aggressive mode message passes the same <see cref="InitGate"/>.</summary>
    private void DeliverV1(ReadOnlySpan<byte> datagram, IPEndPoint remote, IPEndPoint local, bool viaNatT)
    {
        var status = IsakmpHeader.TryParse(datagram, out var header);
        if (status != ParseStatus.Ok)
        {
            metrics.CountMalformed(status);
            return;
        }

        if (AdmissionPolicy.IsInitialV1(header) && !gate.TryEnterInitial())
        {
            metrics.CountDrop(IkeDropReason.InitQueueFull);
            return;
        }

        supervisor.Tell(new V1Inbound(datagram.ToArray(), header, remote, local, viaNatT), ActorRefs.NoSender);
    }
}
