// Outbound: packets read from the TUN device, sealed as ESP to the peers (after wireguard-go's device/send.go).
//
// Threads and what each owns:
//   esp-out-w   (w = 0..W-1) [parallel]: TUN queue w for reading and its three PacketBatches (TUN input,
//               UDP output, raw output). It sends on UDP socket w and on the raw socket. SAs are shared: any
//               number of threads seal for one SA (its sequence counter is atomic and its transforms are
//               rented per packet, see Esp/EspSa.cs).
//   control plane (an actor activating an SA): seals the packets the trap policies held, on a batch of its
//               own, and sends them on UDP socket 0 or the raw socket (TrapPolicies.Flush, rare).
//
// Stages (esp-out-w):
//   S1 read      one batch from TUN queue w (bounded wait, so the stop flag is seen)
//   S2 lookup    most specific outbound selector (SelectorTable, lock-free) -> SA. A miss is counted as
//                no_sa; one that matches a trap policy queues the packet (bounded) and asks the control
//                plane to negotiate (TrapPolicies.OnMiss)
//   S3 seal      EspPipeline.Seal into the send slot: copy behind the SA's header room -> sequence number
//                (atomic) + encrypt in place; the slot is addressed to the SA's peer
//   S4 send      sendmmsg on UDP socket w (ESP-in-UDP) or the raw socket (plain ESP)
//   S5 publish   counters to the metrics once per batch; the thread's allocated bytes sampled
using Concentrator.DataPlane.Esp;
using Concentrator.Ipsec;
using Concentrator.Telemetry;

namespace Concentrator.DataPlane.Linux;

public sealed partial class LinuxDataPlane
{
    private void OutboundLoop(int worker)
    {
        using var input = new PacketBatch(PacketBatch.DefaultCapacity, PacketBatch.DefaultBufferSize, PacketBatch.DefaultHeadroom);
        using var udpOut = new PacketBatch(PacketBatch.DefaultCapacity, PacketBatch.DefaultBufferSize, 0);
        using var rawOut = new PacketBatch(PacketBatch.DefaultCapacity, PacketBatch.DefaultBufferSize, 0);
        var counters = new WorkerBatchCounters();
        while (!_stopping)
        {
            int n = _tun.ReadBatch(worker, input, 100);
            if (n <= 0) continue;
            int u = 0, r = 0;
            for (int i = 0; i < n; i++)
            {
                var inner = input.Packet(i);
                if (!_outbound.TryLookup(inner, out var sa))
                {
                    _traps.OnMiss(inner, _metrics);
                    counters.CountDrop(EspStatus.NoSa);
                    continue;
                }

                SealNext(sa, inner, udpOut, rawOut, ref u, ref r, ref counters);
            }

            if (u > 0) _udp[worker].SendBatch(udpOut, u);
            if (r > 0) _raw?.SendBatch(rawOut, r);
            EndBatch(worker, _workers + worker, ref counters);
        }
    }

    /// <summary>S3 for one packet: sealed into the next slot of <paramref name="udpOut"/> (slot <paramref name="u"/>) or
    /// <paramref name="rawOut"/> (slot <paramref name="r"/>) by the SA's transport, which then advances; counted either way.</summary>
    private static void SealNext(EspSa sa, ReadOnlySpan<byte> inner, PacketBatch udpOut, PacketBatch rawOut, ref int u, ref int r,
        ref WorkerBatchCounters counters)
    {
        bool udp = sa.Transport == EspTransport.UdpEncapsulated;
        var target = udp ? udpOut : rawOut;
        int index = udp ? u : r;
        var status = SealInto(sa, inner, target, index);
        if (status != EspStatus.Ok)
        {
            counters.CountDrop(status);
            return;
        }
        counters.PacketsOut++;
        counters.BytesOut += (ulong)target.Lengths[index];
        if (udp) u++;
        else r++;
    }

    /// <summary>Seals <paramref name="inner"/> into slot <paramref name="index"/> of <paramref name="target"/>, addressed to the SA's peer.</summary>
    internal static EspStatus SealInto(EspSa sa, ReadOnlySpan<byte> inner, PacketBatch target, int index)
    {
        var status = EspPipeline.Seal(sa, inner, target.Slot(index), out int written);
        if (status != EspStatus.Ok) return status;
        target.Offsets[index] = 0;
        target.Lengths[index] = written;
        target.Addresses[index] = sa.RemoteAddressV4;
        target.Ports[index] = sa.RemotePort;
        return EspStatus.Ok;
    }
}
