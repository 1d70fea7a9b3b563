// UDP GRO on the ESP-in-UDP receive path (tunnel.udp_gro; stage R1b of Receive.cs). With UDP_GRO set the kernel may
// return one read of several datagrams of one flow (same peer address and port) laid end to end, all but the last
// exactly the segment size its control message names (LibC.Udp.cs). Each segment is run through R2-R4 where it lies,
// as if it had been received alone. Slots then hold a whole coalesced datagram (64 KiB), so a GRO batch has fewer
// slots: UdpGroBatchCapacity x 64 KiB per socket, per worker and family, never per SA.
//
// The segment size is hostile input like the bytes: a size of 0, or one beyond the datagram, is counted
// (bad_segment_size) and the datagram is read as one; a short last segment is normal; a tiny size only means many
// segments, each of which the ESP checks drop. Ownership: the reuseport program steered the coalesced datagram by its
// first SPI, but the kernel coalesces by flow, not by SPI, so a peer's datagrams of several SAs may share one read. A
// segment whose SPI another worker owns is dropped and counted (foreign_worker): decrypting it here would give that
// SA's replay window a second writer. IKE in a segment (the non-ESP marker) goes to the IKE sink from any worker.
using Concentrator.Telemetry;

namespace Concentrator.DataPlane.Linux;

/// <summary>How one read datagram of a UDP GRO socket is walked (pure: the unit tests drive it).</summary>
public enum UdpGroKind
{
    /// <summary>Not coalesced: one datagram.</summary>
    Single,
    /// <summary>Segments of <c>step</c> bytes, the last possibly shorter.</summary>
    Coalesced,
    /// <summary>The kernel's segment size is unusable (0, or beyond the datagram): read as one datagram, counted.</summary>
    BadSize,
}

public static class UdpGroSplit
{
    /// <summary>
    /// The walk of a <paramref name="length"/>-byte datagram whose UDP_GRO segment size is <paramref name="segmentSize"/>
    /// (-1: no control message). <paramref name="step"/> is the segment length (the last segment is what remains).
    /// </summary>
    public static UdpGroKind Classify(int length, int segmentSize, out int step)
    {
        step = length;
        if (segmentSize < 0 || segmentSize == length)
            return UdpGroKind.Single;
        if (segmentSize == 0 || segmentSize > length)
            return UdpGroKind.BadSize;
        step = segmentSize;
        return UdpGroKind.Coalesced;
    }

    /// <summary>Segments of a <see cref="UdpGroKind.Coalesced"/> datagram: ceil(length / step).</summary>
    public static int SegmentCount(int length, int step) => step <= 0 ? 1 : (length + step - 1) / step;
}

public sealed partial class LinuxDataPlane
{
    /// <summary>Slots of a UDP GRO batch: each holds a whole coalesced datagram (up to 64 KiB).</summary>
    public const int UdpGroBatchCapacity = 32;

    /// <summary>A slot of a UDP GRO batch: the largest datagram GRO builds (gro_max_size, 64 KiB by default).</summary>
    public const int UdpGroSlotBytes = 65536;

    /// <summary>Decrypted packets queued for one TUN flush on a GRO worker (a full batch would be ~1,400).</summary>
    private const int UdpGroCoalescerCapacity = 256;

    private readonly bool _udpGro; // set by the constructor (EnableUdpGro): every ESP-in-UDP socket has UDP_GRO on

    /// <summary>UDP_GRO on every ESP-in-UDP socket of both families, or on none (a kernel refusal is logged).</summary>
    private bool EnableUdpGro()
    {
        foreach (var s in UdpSockets())
        {
            int errno = s.EnableUdpGro();
            if (errno == 0) continue;
            Log.UdpGroUnavailable(_log, LibC.Describe(errno));
            foreach (var t in UdpSockets()) t.DisableUdpGro();
            return false;
        }
        return true;
    }

    private IEnumerable<UdpBatchSocket> UdpSockets() => _udp6 is null ? _udp : _udp.Concat(_udp6);

    /// <summary>Worker <paramref name="worker"/>'s receive batch for one family's UDP socket.</summary>
    private PacketBatch NewUdpBatch(int worker)
    {
        if (!_udpGro) return new PacketBatch(PacketBatch.DefaultCapacity, worker == 0 ? _ikeSlot : PacketBatch.DefaultBufferSize, 0);
        return new PacketBatch(UdpGroBatchCapacity, Math.Max(UdpGroSlotBytes, worker == 0 ? _ikeSlot : 0), 0, udpGro: true);
    }

    private TcpCoalescer NewUdpCoalescer() => new(_udpGro ? UdpGroCoalescerCapacity : PacketBatch.DefaultCapacity, _gro);

    /// <summary>R1b-R3 for datagram <paramref name="i"/> of a UDP batch: split when coalesced, then each part on its own.</summary>
    private void ProcessUdpDatagram(int worker, PacketBatch batch, int i, TcpCoalescer tunOut, ref TunQueueSink sink,
        ref WorkerBatchCounters counters)
    {
        var datagram = batch.Packet(i);
        var kind = UdpGroSplit.Classify(datagram.Length, batch.SegmentSizes[i], out int step);
        if (kind != UdpGroKind.Coalesced)
        {
            if (kind == UdpGroKind.BadSize) counters.UdpGroBadSize++;
            ProcessUdpSegment(batch, i, datagram, tunOut, ref sink, ref counters);
            return;
        }

        counters.UdpGroDatagrams++;
        for (int offset = 0; offset < datagram.Length; offset += step)
        {
            var segment = datagram.Slice(offset, Math.Min(step, datagram.Length - offset));
            counters.UdpGroSegments++;
            if (_workers > 1 && segment.Length >= 4)
            {
                uint spi = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(segment);
                if (spi != 0 && UdpBatchSocket.SteeringIndex(spi, _workers) != worker)
                {
                    counters.UdpGroForeign++;
                    continue;
                }
            }
            ProcessUdpSegment(batch, i, segment, tunOut, ref sink, ref counters);
        }
    }

    /// <summary>Queues a decrypted packet for the TUN; a full queue is written out first (a GRO read can carry hundreds).</summary>
    private static void QueueForTun(TcpCoalescer tunOut, Span<byte> packet, ref TunQueueSink sink, ref WorkerBatchCounters counters)
    {
        if (tunOut.Add(packet)) return;
        WriteTun(tunOut, ref sink, ref counters);
        tunOut.Add(packet);
    }
}
