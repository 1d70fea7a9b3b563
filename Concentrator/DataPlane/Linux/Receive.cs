// Inbound: ESP from the peers, decrypted onto the TUN device (after wireguard-go's device/receive.go).
//
// Threads and what each owns:
//   esp-in-w    (w = 0..W-1) [parallel across workers, sequential within one]: UDP 4500 socket w for
//               receiving, its PacketBatch and TcpCoalescer, and the inbound state (replay window, inbound
//               counters) of every UDP-encapsulated SA whose SPI the kernel steers to socket w (a reuseport
//               BPF program: worker = SPI mod W; IKE's non-ESP marker goes to worker 0). Writes TUN queue w.
//   esp-raw-in  [one thread]: the IP protocol 50 socket, for SAs without NAT-T. A raw socket sees every ESP
//               packet, so exactly one thread reads it and owns those SAs' inbound state. Writes TUN queue 0.
//   ah-raw-in   [one thread]: the IP protocol 51 socket (IPv4, RFC 4302), the one owner of every AH SA's inbound state
//               (LinuxDataPlane.Ah.cs: R1, then AhPipeline.Open for R3: IP header to AH, SA by SPI, replay check, ICV
//               over the header with mutable fields zeroed, replay update, selectors; R4-R5 as esp-raw-in). Writes TUN
//               queue 0; its counters publish under esp-raw-in's worker label.
//   With an IPv6 listen address each of these threads reads the IPv6 socket of its kind too (LinuxDataPlane.Ipv6.cs):
//   the outer family never changes which thread owns an SA.
// An SA's inbound state belongs to the one thread its transport routes it to: an ESP packet that arrives on
// the other transport is dropped (wrong_transport), so no replay window ever has two writers.
//
// Stages (esp-raw-in skips R2: what its socket delivers is ESP by protocol number):
//   R1 receive   recvmmsg one batch (bounded wait, so the stop flag is seen); a datagram longer than its slot
//                is dropped (oversize): slots hold an MTU's ESP, and worker 0's, where the steering program sends
//                every IKE datagram (non-ESP marker, SPI 0), also the largest IKE message (charon.max_packet); with
//                tunnel.udp_gro every slot holds 64 KiB and a datagram or segment longer than that IKE limit is dropped (oversize)
//   R1b split    with tunnel.udp_gro a read may be several datagrams of one peer coalesced by the kernel (up to 64 KiB
//                per slot): each segment goes through R2-R3 where it lies; a segment of an SA another worker owns is
//                dropped (Receive.Gro.cs)
//   R2 classify  NattDemux.Classify: keepalive dropped / IKE to the IKE sink (rare) / ESP on
//   R3 open      EspPipeline.Open: SA by SPI -> transport check -> replay check -> ICV verify + decrypt
//                in place -> replay update -> inner traffic selector check -> a new packet from another
//                source than the SA's peer is reported (its NAT moved; rare); status counted per worker
//   R4 TUN write after the whole batch (an SA with if_id_in N > 0: its packet written at once to ipsec<N>, RouteInterfaces.cs): consecutive TCP segments of one flow coalesced into GSO
//                super-packets when tunnel.gro is on, everything written to the thread's TUN queue
//   R5 publish   counters to the metrics once per batch; the thread's allocated bytes sampled
using System.Net;
using Concentrator.Ipsec;
using Concentrator.Telemetry;
using Concentrator.Transport;

namespace Concentrator.DataPlane.Linux;

public sealed partial class LinuxDataPlane
{
    private void InboundLoop(int worker)
    {
        using var batch = NewUdpBatch(worker);
        using var tunOut = NewUdpCoalescer();
        var sink = new TunQueueSink(_tun, worker);
        var counters = new WorkerBatchCounters();
        var socket = _udp[worker];
        while (!_stopping)
        {
            int n = socket.ReceiveBatch(batch, 100);
            if (n <= 0) continue;
            ProcessUdpBatch(worker, batch, n, tunOut, ref sink, ref counters);
            EndBatch(worker, worker, ref counters);
        }
    }

    /// <summary>R1b-R4 for one received UDP batch (either family).</summary>
    private void ProcessUdpBatch(int worker, PacketBatch batch, int n, TcpCoalescer tunOut, ref TunQueueSink sink, ref WorkerBatchCounters counters)
    {
        counters.Drops[(int)EspStatus.Oversize] += (ulong)batch.Truncated;
        for (int i = 0; i < n; i++)
        {
            if (batch.Lengths[i] == 0) continue;
            ProcessUdpDatagram(worker, batch, i, tunOut, ref sink, ref counters);
        }

        WriteTun(tunOut, ref sink, ref counters);
    }

    /// <summary>R2-R3 for one datagram of slot <paramref name="i"/> (a whole one, or a segment of a UDP GRO read).</summary>
    private void ProcessUdpSegment(PacketBatch batch, int i, Span<byte> packet, TcpCoalescer tunOut, ref TunQueueSink sink,
        ref WorkerBatchCounters counters)
    {
        if (packet.Length > _ikeSlot)
        {
            // A slot held at most this before UDP GRO's 64 KiB slots (charon.max_packet of IKE): the same limit stays.
            counters.Drops[(int)EspStatus.Oversize]++;
            return;
        }
        switch (NattDemux.Classify(packet, out var ike))
        {
            case NattDatagram.Keepalive:
                return;
            case NattDatagram.Ike:
                HandOffIke(ike, batch, i);
                return;
        }

        var status = batch.IsV6[i]
            ? EspPipeline.Open6(_sas, packet, batch.Addresses6[i], batch.Ports[i], out var inner, out uint interfaceIn)
            : EspPipeline.Open(_sas, packet, batch.Addresses[i], batch.Ports[i], out inner, out interfaceIn);
        Count(ref counters, status, packet.Length);
        if (status != EspStatus.Ok) return;
        if (interfaceIn == 0) QueueForTun(tunOut, packet[inner], ref sink, ref counters);
        else WriteToInterface(interfaceIn, packet[inner], ref counters);
    }

    private void RawInboundLoop()
    {
        using var batch = new PacketBatch(PacketBatch.DefaultCapacity, PacketBatch.DefaultBufferSize, 0);
        using var tunOut = new TcpCoalescer(batch.Capacity, _gro);
        var sink = new TunQueueSink(_tun, 0);
        var counters = new WorkerBatchCounters();
        while (!_stopping)
        {
            int n = _raw!.ReceiveBatch(batch, 100);
            if (n <= 0) continue;
            ProcessRawBatch(batch, n, tunOut, ref sink, ref counters);
            EndBatch(_workers, 2 * _workers, ref counters);
        }
    }

    /// <summary>R3-R4 for one received raw batch (either family: the socket has already located the ESP packet).</summary>
    private void ProcessRawBatch(PacketBatch batch, int n, TcpCoalescer tunOut, ref TunQueueSink sink, ref WorkerBatchCounters counters)
    {
        counters.Drops[(int)EspStatus.Oversize] += (ulong)batch.Truncated;
        for (int i = 0; i < n; i++)
        {
            if (batch.Lengths[i] == 0) continue;
            var packet = batch.Packet(i);
            var status = EspPipeline.Open(_sas, packet, EspTransport.RawEsp, out var inner, out uint interfaceIn);
            Count(ref counters, status, packet.Length);
            if (status != EspStatus.Ok) continue;
            if (interfaceIn == 0) tunOut.Add(packet[inner]);
            else WriteToInterface(interfaceIn, packet[inner], ref counters);
        }

        WriteTun(tunOut, ref sink, ref counters);
    }

    /// <summary>The batch's decrypted packets go to the TUN after the whole batch is decrypted, so that
    /// consecutive segments of a TCP flow can leave as one GSO super-packet (tunnel.gro).</summary>
    private static void WriteTun(TcpCoalescer tunOut, ref TunQueueSink sink, ref WorkerBatchCounters counters)
    {
        tunOut.Flush(ref sink);
        counters.TunGsoFrames += (ulong)tunOut.GsoFrames;
        counters.TunGsoSegments += (ulong)tunOut.GsoSegments;
        counters.QueueFull += (ulong)tunOut.WriteErrors;
    }

    private static void Count(ref WorkerBatchCounters counters, EspStatus status, int wireBytes)
    {
        if (status != EspStatus.Ok)
        {
            counters.CountDrop(status);
            return;
        }

        counters.PacketsIn++;
        counters.BytesIn += (ulong)wireBytes;
    }

    /// <summary>IKE is rare on this path (after NAT-T floated): allocating the endpoints here is fine.</summary>
    private void HandOffIke(ReadOnlySpan<byte> datagram, PacketBatch batch, int i)
    {
        var remote = batch.EndPoint(i);
        _ike!.Deliver(datagram, remote, LocalFor(remote), viaNatT: true);
    }

    private IPEndPoint LocalFor(IPEndPoint remote)
    {
        var bound = (remote.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 && _udp6 is not null ? _udp6[0] : _udp[0]).LocalEndPoint;
        return UdpIkeTransport.LocalEndpointFor(bound.Address, bound.Port, remote, SocketMark);
    }
}
