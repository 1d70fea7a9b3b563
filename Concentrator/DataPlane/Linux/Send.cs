// Outbound: packets read from the TUN device, sealed as ESP to the peers (after wireguard-go's device/send.go).
//
// Threads and what each owns:
//   esp-out-w   (w = 0..W-1) [parallel]: TUN queue w for reading and its PacketBatches (TUN input, UDP output,
//               raw ESP output, AH output, per outer family). It sends on UDP socket w, the raw ESP and the AH sockets. SAs are shared: any
//               number of threads seal for one SA (its sequence counter is atomic and its transforms are
//               rented per packet, see Esp/EspSa.cs).
//   control plane (an actor activating an SA): seals the packets the trap policies held, on a batch of its
//               own, and sends them on UDP socket 0 or the raw socket (TrapPolicies.Flush, rare).
//
// Stages (esp-out-w):
//   S1 read      one batch from TUN queue w (bounded wait, so the stop flag is seen); with tunnel.tso a TCP
//                super-packet is split into its segments (TunTso.cs), one that overflows the batch finishing the next
//   S2 lookup    most specific outbound selector (SelectorTable, lock-free) -> SA. A miss is counted as
//                no_sa; one that matches a trap policy queues the packet (bounded) and asks the control
//                plane to negotiate (TrapPolicies.OnMiss)
//   S3 seal      EspPipeline.Seal into the send slot: copy behind the SA's header room -> sequence number
//                (atomic) + encrypt in place; the slot is addressed to the SA's peer. An AH SA (RFC 4302): AhPipeline.Protect
//                writes the whole outer IPv4 packet (header, AH, payload; AhPacket A1-A4) into the AH batch's slot
//   S4 send      sendmmsg on UDP socket w (ESP-in-UDP), the raw socket (plain ESP) or the AH socket (IP_HDRINCL, IPv4
//                only: an AH SA with an IPv6 peer has no way out, no_sa), of the peer's family: an SA
//                whose peer is IPv6 on a plane without IPv6 sockets has no way out (dropped as no_sa). With
//                tunnel.udp_gso a run of equal-length datagrams to one peer is one UDP GSO message (UdpGso.cs)
//   S5 publish   counters to the metrics once per batch; the thread's allocated bytes sampled
using Concentrator.DataPlane.Esp;
using Concentrator.Ipsec;
using Concentrator.Telemetry;

namespace Concentrator.DataPlane.Linux;

public sealed partial class LinuxDataPlane
{
    private readonly bool _tso, _udpGso;

    private void OutboundLoop(int worker)
    {
        using var input = new PacketBatch(PacketBatch.DefaultCapacity, PacketBatch.DefaultBufferSize, PacketBatch.DefaultHeadroom);
        using var output = new OutboundBatches(_udp6 is not null, _raw6 is not null, _udpGso);
        using var tso = _tso ? new TsoReader() : null;
        var counters = new WorkerBatchCounters();
        while (!_stopping)
        {
            int n = tso is null ? _tun.ReadBatch(worker, input, 100) : ReadTso(tso, _tun, worker, input, ref counters);
            if (n <= 0) continue;
            output.Reset();
            for (int i = 0; i < n; i++)
            {
                var inner = input.Packet(i);
                if (!_outbound.TryLookup(inner, out var sa))
                {
                    _traps.OnMiss(inner, _metrics);
                    counters.CountDrop(EspStatus.NoSa);
                    continue;
                }

                SealNext(sa, inner, output, ref counters);
            }

            SendAll(output, worker, ref counters);
            EndBatch(worker, _workers + worker, ref counters);
        }
    }

    /// <summary>S1 on a TSO device: the batch filled with whole packets and split super-packets; frames whose virtio-net
    /// header did not check are counted as malformed inner packets.</summary>
    private static int ReadTso(TsoReader tso, TunDevice tun, int queue, PacketBatch input, ref WorkerBatchCounters counters)
    {
        tso.ResetCounters();
        int n = tso.ReadBatch(tun, queue, input, 100);
        counters.TunTsoFrames += (ulong)tso.Frames;
        counters.TunTsoSegments += (ulong)tso.Segments;
        for (int d = 0; d < tso.Dropped; d++) counters.CountDrop(EspStatus.BadInnerPacket);
        return n;
    }

    /// <summary>S3 for one packet: sealed into the next slot of the batch of the SA's transport and peer family, which then
    /// advances; counted either way. A family the plane has no socket for: no way out, counted as no_sa.</summary>
    private static void SealNext(EspSa sa, ReadOnlySpan<byte> inner, OutboundBatches output, ref WorkerBatchCounters counters)
    {
        if (sa.Protocol == IpsecProtocol.Ah)
        {
            ProtectNext(sa, inner, output, ref counters);
            return;
        }
        bool udp = sa.Transport == EspTransport.UdpEncapsulated;
        bool v6 = sa.TryGetRemoteV6(out _);
        var target = v6 ? (udp ? output.Udp6 : output.Raw6) : udp ? output.Udp : output.Raw;
        if (target is null)
        {
            counters.CountDrop(EspStatus.NoSa);
            return;
        }
        int index = v6 ? (udp ? output.U6 : output.R6) : udp ? output.U : output.R;
        var status = SealInto(sa, inner, target, index);
        if (status != EspStatus.Ok)
        {
            counters.CountDrop(status);
            return;
        }

        counters.PacketsOut++;
        counters.BytesOut += (ulong)target.Lengths[index];
        if (v6 && udp) output.U6++;
        else if (v6) output.R6++;
        else if (udp) output.U++;
        else output.R++;
    }

    /// <summary>S4: what one batch sealed, on UDP socket <paramref name="udpSocket"/> of each family and the raw sockets.</summary>
    private void SendAll(OutboundBatches output, int udpSocket, ref WorkerBatchCounters counters)
    {
        if (output.U > 0) SendUdp(_udp[udpSocket], output.Udp, output.U, output.Gso, ref counters);
        if (output.R > 0) _raw?.SendBatch(output.Raw, output.R);
        if (output.U6 > 0) SendUdp(_udp6![udpSocket], output.Udp6!, output.U6, output.Gso, ref counters);
        if (output.R6 > 0) _raw6!.SendBatch(output.Raw6!, output.R6);
        if (output.A > 0) _rawAh?.SendBatch(output.Ah, output.A);
    }

    private static void SendUdp(UdpBatchSocket socket, PacketBatch batch, int count, UdpGsoSender? gso, ref WorkerBatchCounters counters)
    {
        if (gso is null || !gso.Enabled)
        {
            socket.SendBatch(batch, count);
            return;
        }
        gso.Send(socket.Handle, batch, count, socket.SendStallMs);
        counters.UdpGsoMessages += (ulong)gso.GsoMessages;
        counters.UdpGsoSegments += (ulong)gso.GsoSegments;
    }

    /// <summary>One outbound thread's send batches (S3/S4), one per transport and outer family, with their fill counts.
    /// Owned by that thread alone.</summary>
    private sealed class OutboundBatches(bool udp6, bool raw6, bool udpGso) : IDisposable
    {
        public readonly UdpGsoSender? Gso = udpGso ? new() : null;
        public readonly PacketBatch Udp = new(PacketBatch.DefaultCapacity, PacketBatch.DefaultBufferSize, 0);
        public readonly PacketBatch Raw = new(PacketBatch.DefaultCapacity, PacketBatch.DefaultBufferSize, 0);
        public readonly PacketBatch? Udp6 = udp6 ? new(PacketBatch.DefaultCapacity, PacketBatch.DefaultBufferSize, 0) : null;
        public readonly PacketBatch? Raw6 = raw6 ? new(PacketBatch.DefaultCapacity, PacketBatch.DefaultBufferSize, 0) : null;
        public readonly PacketBatch Ah = new(PacketBatch.DefaultCapacity, PacketBatch.DefaultBufferSize, 0);
        public int U, R, U6, R6, A;

        public void Reset() => U = R = U6 = R6 = A = 0;

        public void Dispose()
        {
            Udp.Dispose();
            Raw.Dispose();
            Udp6?.Dispose();
            Raw6?.Dispose();
            Ah.Dispose();
            Gso?.Dispose();
        }
    }

    /// <summary>Seals <paramref name="inner"/> into slot <paramref name="index"/> of <paramref name="target"/>, addressed to the SA's peer.</summary>
    internal static EspStatus SealInto(EspSa sa, ReadOnlySpan<byte> inner, PacketBatch target, int index)
    {
        var status = sa.Protocol == IpsecProtocol.Ah
            ? AhPipeline.Protect(sa, inner, target.Slot(index), out int written)
            : EspPipeline.Seal(sa, inner, target.Slot(index), out written);
        if (status != EspStatus.Ok) return status;
        target.Offsets[index] = 0;
        target.Lengths[index] = written;
        bool v6 = sa.TryGetRemoteV6(out var address6);
        target.IsV6[index] = v6;
        target.Addresses[index] = sa.RemoteAddressV4;
        target.Addresses6[index] = address6;
        target.Ports[index] = sa.RemotePort;
        return EspStatus.Ok;
    }
}
