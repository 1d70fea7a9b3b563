// TSO reads from the TUN device (tunnel.tso): the device offers TCP segmentation offload (TUNSETOFFLOAD
// TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6), so the kernel hands over a TCP flow's data as GSO super-packets of up
// to 64 KiB, one per read, instead of segmenting and queueing every MSS-sized packet (after wireguard-go's
// tun/offload_linux.go). Each super-packet is split here, as the kernel's tcp_gso_segment would: segment k
// carries gso_size bytes of payload (the last the rest) behind a copy of the head's headers with the IPv4
// total length / IPv6 payload length, the IPv4 ID (head's + k) and header checksum, the sequence number
// (head's + k * gso_size) and a complete TCP checksum; FIN and PSH only on the last segment, CWR only on the
// first. Each segment is then sealed as an ordinary packet: ESP never carries more than the MTU allows.
//
// The virtio-net header is kernel-supplied metadata and is checked like peer input: a GSO frame must say
// TCPV4 for an IPv4 packet and TCPV6 for an IPv6 one (no ECN bit: TUN_F_TSO_ECN is never offered), carry
// F_NEEDS_CSUM with csum_start at the TCP header (IPv4: exactly the IHL) and csum_offset 16, a TCP header of
// 20..60 bytes inside the frame, and gso_size > 0 with the headers plus one segment fitting a batch slot.
// hdr_len is not trusted (on the forwarding path the kernel sets it to the head's linear length): the
// headers' length is csum_start plus the TCP header's data offset. Anything else is dropped and counted.
//
// Ownership/thread-safety: a TsoReader belongs to one outbound thread (esp-out-w, TUN queue w) and is not
// thread-safe. Its frame buffer is allocated once; reads and splits do not allocate, lock or throw.
using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Concentrator.DataPlane.Linux;

/// <summary>How one checked GSO super-packet splits: see <see cref="TunTso.TryPlan"/>.</summary>
public readonly record struct TsoPlan(bool V6, int IpLength, int HeaderLength, int GsoSize, int FrameLength)
{
    /// <summary>Segments the frame splits into (the last may carry less than <see cref="GsoSize"/>).</summary>
    public int Segments => (FrameLength - HeaderLength + GsoSize - 1) / GsoSize;
}

public static class TunTso
{
    /// <summary>The offload flags a TSO device is given (TUNSETOFFLOAD).</summary>
    public const uint Offloads = LibC.TUN_F_CSUM | LibC.TUN_F_TSO4 | LibC.TUN_F_TSO6;

    /// <summary>The largest frame a TSO read can return (the device's GSO limit is 64 KiB; IPv4 total length 65535).</summary>
    public const int MaxFrameLength = 65536;

    private const byte TcpFlagCwr = 0x80;

    /// <summary>
    /// Checks the virtio-net header of a GSO frame against the packet it came with (see the file header) and
    /// says how it splits into segments of at most <paramref name="room"/> bytes. False: the frame is to be
    /// dropped. A frame of gso_type NONE is not a plan (false too; <see cref="TunOffload.CompleteRead"/> takes it).
    /// </summary>
    public static bool TryPlan(ReadOnlySpan<byte> header, ReadOnlySpan<byte> frame, int room, out TsoPlan plan)
    {
        plan = default;
        if (header.Length < LibC.VirtioNetHdrLength || frame.Length < 40 || frame.Length > MaxFrameLength)
            return false;
        byte type = header[1];
        int version = frame[0] >> 4;
        bool v6;
        if (type == LibC.VIRTIO_NET_HDR_GSO_TCPV4 && version == 4) v6 = false;
        else if (type == LibC.VIRTIO_NET_HDR_GSO_TCPV6 && version == 6) v6 = true;
        else return false;
        if ((header[0] & LibC.VIRTIO_NET_HDR_F_NEEDS_CSUM) == 0)
            return false;
        int gso = BinaryPrimitives.ReadUInt16LittleEndian(header[4..]);
        int start = BinaryPrimitives.ReadUInt16LittleEndian(header[6..]);
        int offset = BinaryPrimitives.ReadUInt16LittleEndian(header[8..]);
        if (offset != TunOffload.TcpChecksumOffset || gso == 0)
            return false;
        if (v6 ? start < 40 : start != (frame[0] & 0x0F) * 4 || start < 20 || frame[9] != LibC.IPPROTO_TCP)
            return false;
        if (!v6 && ((frame[6] & 0x3F) != 0 || frame[7] != 0))
            return false; // a fragment cannot be a TCP super-packet
        if (start + 20 > frame.Length)
            return false;
        int tcp = (frame[start + 12] >> 4) * 4;
        int headers = start + tcp;
        if (tcp < 20 || headers >= frame.Length || headers + gso > room)
            return false;
        plan = new TsoPlan(v6, start, headers, gso, frame.Length);
        return true;
    }

    /// <summary>
    /// Writes segment <paramref name="index"/> of a planned frame into <paramref name="destination"/> (at least
    /// headers + gso_size bytes) and returns its length. The frame itself is not changed.
    /// </summary>
    public static int WriteSegment(in TsoPlan plan, ReadOnlySpan<byte> frame, int index, Span<byte> destination)
    {
        int ip = plan.IpLength, headers = plan.HeaderLength;
        int dataStart = headers + index * plan.GsoSize;
        int dataLength = Math.Min(plan.GsoSize, plan.FrameLength - dataStart);
        int length = headers + dataLength;
        bool last = dataStart + dataLength == plan.FrameLength;
        var d = destination[..length];
        frame[..headers].CopyTo(d);
        frame.Slice(dataStart, dataLength).CopyTo(d[headers..]);

        if (plan.V6)
        {
            BinaryPrimitives.WriteUInt16BigEndian(d[4..], (ushort)(length - 40));
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(d[2..], (ushort)length);
            BinaryPrimitives.WriteUInt16BigEndian(d[4..], (ushort)(BinaryPrimitives.ReadUInt16BigEndian(frame[4..]) + index));
            d[10] = 0;
            d[11] = 0;
            BinaryPrimitives.WriteUInt16BigEndian(d[10..], (ushort)~TunOffload.Fold(TunOffload.Sum(d[..ip], 0)));
        }

        var t = d[ip..];
        BinaryPrimitives.WriteUInt32BigEndian(t[4..], BinaryPrimitives.ReadUInt32BigEndian(frame[(ip + 4)..]) + (uint)(index * plan.GsoSize));
        if (!last) t[13] &= unchecked((byte)~(TunOffload.TcpFlagFin | TunOffload.TcpFlagPsh));
        if (index > 0) t[13] &= unchecked((byte)~TcpFlagCwr);
        t[TunOffload.TcpChecksumOffset] = 0;
        t[TunOffload.TcpChecksumOffset + 1] = 0;
        ulong pseudo = TunOffload.PseudoHeaderSum(d, plan.V6, (byte)LibC.IPPROTO_TCP, t.Length);
        BinaryPrimitives.WriteUInt16BigEndian(t[TunOffload.TcpChecksumOffset..], (ushort)~TunOffload.Fold(TunOffload.Sum(t, pseudo)));
        return length;
    }
}

/// <summary>
/// Reads a TSO device's queue into a <see cref="PacketBatch"/>, splitting GSO super-packets into its slots. A
/// super-packet with more segments than the batch has free slots stays pending and fills the next batch first.
/// </summary>
public sealed unsafe class TsoReader : IDisposable
{
    private byte* _frame;
    private byte* _header;
    private LibC.IoVec* _iov;
    private int _frameLength;
    private TsoPlan _plan;
    private int _nextSegment, _segments;

    public TsoReader()
    {
        _frame = (byte*)NativeMemory.AlignedAlloc(TunTso.MaxFrameLength + 64, 64);
        _header = (byte*)NativeMemory.AllocZeroed(16);
        _iov = (LibC.IoVec*)NativeMemory.AllocZeroed(3, (nuint)sizeof(LibC.IoVec));
    }

    /// <summary>Since the last <see cref="ResetCounters"/>: super-packets read, the segments made of them, and frames
    /// dropped because their virtio-net header or headers did not check (see <see cref="TunTso.TryPlan"/>).</summary>
    public int Frames { get; private set; }
    public int Segments { get; private set; }
    public int Dropped { get; private set; }

    public void ResetCounters() => Frames = Segments = Dropped = 0;

    /// <summary>
    /// Fills the batch: the pending super-packet's segments first, then reads of queue <paramref name="queue"/>
    /// (only the first read of an empty batch waits, up to <paramref name="timeoutMs"/>). Returns the packets in the
    /// batch, 0 on timeout, or -errno when the first read failed.
    /// </summary>
    public int ReadBatch(TunDevice tun, int queue, PacketBatch batch, int timeoutMs)
    {
        int headroom = batch.Headroom, room = batch.BufferSize - headroom, count = 0;
        count = Drain(batch, count);
        // Bounded: one read per free slot at most, and as many for frames dropped on the way.
        for (int reads = 0; count < batch.Capacity && reads < 2 * batch.Capacity; reads++)
        {
            var slot = batch.Slot(count).Slice(headroom, room);
            int n;
            fixed (byte* s = slot)
            {
                _iov[0].Base = _header;
                _iov[0].Length = LibC.VirtioNetHdrLength;
                _iov[1].Base = s;
                _iov[1].Length = (nuint)room;
                // The frame buffer's first `room` bytes stay free: a GSO frame's head is moved there from the slot.
                _iov[2].Base = _frame + room;
                _iov[2].Length = (nuint)(TunTso.MaxFrameLength - room + 1);
                n = tun.ReadFrame(queue, _iov, 3, count == 0 && reads == 0 ? timeoutMs : 0);
                if (n <= 0)
                {
                    if (count == 0 && n < 0) return n;
                    break;
                }
                var header = new ReadOnlySpan<byte>(_header, LibC.VirtioNetHdrLength);
                if (header[1] == LibC.VIRTIO_NET_HDR_GSO_NONE)
                {
                    if (n <= room && TunOffload.CompleteRead(_header, slot[..n]))
                        Place(batch, count++, headroom, n);
                    else
                        Dropped++;
                    continue;
                }
                if (n > TunTso.MaxFrameLength)
                {
                    Dropped++;
                    continue;
                }
                new ReadOnlySpan<byte>(s, Math.Min(n, room)).CopyTo(new Span<byte>(_frame, room));
            }
            var frame = new ReadOnlySpan<byte>(_frame, n);
            if (!TunTso.TryPlan(new ReadOnlySpan<byte>(_header, LibC.VirtioNetHdrLength), frame, room, out _plan))
            {
                Dropped++;
                continue;
            }
            Frames++;
            _frameLength = n;
            _nextSegment = 0;
            _segments = _plan.Segments;
            count = Drain(batch, count);
        }
        batch.Count = count;
        return count;
    }

    /// <summary>The pending super-packet's next segments into the free slots from <paramref name="count"/>.</summary>
    private int Drain(PacketBatch batch, int count)
    {
        var frame = new ReadOnlySpan<byte>(_frame, _frameLength);
        while (_nextSegment < _segments && count < batch.Capacity)
        {
            int length = TunTso.WriteSegment(_plan, frame, _nextSegment++, batch.Slot(count)[batch.Headroom..]);
            Place(batch, count++, batch.Headroom, length);
            Segments++;
        }
        return count;
    }

    private static void Place(PacketBatch batch, int index, int headroom, int length)
    {
        batch.Offsets[index] = headroom;
        batch.Lengths[index] = length;
        batch.Addresses[index] = 0;
        batch.Ports[index] = 0;
    }

    public void Dispose()
    {
        if (_frame != null)
        {
            NativeMemory.AlignedFree(_frame);
            NativeMemory.Free(_header);
            NativeMemory.Free(_iov);
            _frame = null;
            _header = null;
            _iov = null;
        }
        GC.SuppressFinalize(this);
    }

    ~TsoReader() => Dispose();
}
