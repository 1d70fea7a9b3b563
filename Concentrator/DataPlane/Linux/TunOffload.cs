// TUN offloads through the virtio-net header (IFF_VNET_HDR, see TunDevice): completing a read's partial
// checksum, and coalescing the decrypted TCP segments of one receive batch into GSO super-packets on the
// write path (after wireguard-go's tun/offload_linux.go, which follows the kernel's own GRO rules).
//
// struct virtio_net_hdr (include/uapi/linux/virtio_net.h), little-endian on this host (no TUNSETVNETBE):
//   u8 flags | u8 gso_type | le16 hdr_len | le16 gso_size | le16 csum_start | le16 csum_offset
// A super-packet written with gso_type TCPV4/TCPV6 and F_NEEDS_CSUM becomes one CHECKSUM_PARTIAL GSO skb:
// the kernel routes and forwards it once and segments it (tcp_gso_segment: per-segment sequence numbers,
// IPv4 IDs counting up from the head's, lengths, PSH only on the last) only where the egress cannot take
// it whole. The TCP checksum field then holds the folded, not inverted, pseudo-header sum over the whole
// TCP length; csum_offset must be 16 (offsetof(struct tcphdr, check)) or the kernel rejects the write.
//
// Ownership/thread-safety: a TcpCoalescer belongs to one packet thread and is not thread-safe. All of
// its memory is allocated at construction; Add/Flush do not allocate, lock or throw on any input.
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Concentrator.DataPlane.Linux;

/// <summary>Where a <see cref="TcpCoalescer"/> writes its frames: one frame per call, iov[0] the virtio-net header.</summary>
public unsafe interface ITunFrameSink
{
    /// <summary>Bytes written after the header, or a negative errno.</summary>
    int Write(LibC.IoVec* iov, int count);
}

/// <summary>Writes frames to one queue of a TUN device.</summary>
public readonly unsafe struct TunQueueSink(TunDevice tun, int queue) : ITunFrameSink
{
    public int Write(LibC.IoVec* iov, int count) => tun.WriteVector(queue, iov, count);
}

public static class TunOffload
{
    public const int TcpChecksumOffset = 16;
    public const byte TcpFlagFin = 0x01, TcpFlagSyn = 0x02, TcpFlagRst = 0x04, TcpFlagPsh = 0x08, TcpFlagAck = 0x10;

    /// <summary>
    /// Checks the virtio-net header of a read and finishes the packet: a partial checksum
    /// (F_NEEDS_CSUM) is completed in place. False for anything the device never enabled (gso_type other
    /// than NONE) and for a partial checksum whose field lies outside the packet; the caller drops those.
    /// </summary>
    public static unsafe bool CompleteRead(byte* header, Span<byte> packet)
    {
        if (header[1] != LibC.VIRTIO_NET_HDR_GSO_NONE)
            return false;
        if ((header[0] & LibC.VIRTIO_NET_HDR_F_NEEDS_CSUM) == 0)
            return true;
        int start = header[6] | header[7] << 8;
        int offset = header[8] | header[9] << 8;
        if (start + offset + 2 > packet.Length)
            return false;
        // The field holds the pseudo-header sum; the sum from csum_start to the end then covers everything.
        ushort sum = Fold(Sum(packet[start..], 0));
        BinaryPrimitives.WriteUInt16BigEndian(packet[(start + offset)..], (ushort)~sum);
        return true;
    }

    /// <summary>
    /// One's-complement sum (RFC 1071) of the big-endian 16-bit words of <paramref name="data"/> (an odd last
    /// byte padded with zero) added to <paramref name="initial"/>, unfolded. The words are added as they lie
    /// in memory (little-endian, 16 bytes at a time where vectors are accelerated) and only the folded
    /// result is byte-swapped: RFC 1071 §2(B), the sum is independent of byte order up to that swap (this
    /// host is little-endian, as LibC's layouts and the virtio-net header's byte order already assume).
    /// </summary>
    public static ulong Sum(ReadOnlySpan<byte> data, ulong initial)
    {
        ref byte start = ref MemoryMarshal.GetReference(data);
        int n = data.Length, i = 0;
        ulong sum = 0;
        if (Vector128.IsHardwareAccelerated && n >= 64)
        {
            Vector128<ulong> acc0 = default, acc1 = default;
            for (; i + 32 <= n; i += 32)
            {
                var (a0, a1) = Vector128.Widen(Vector128.LoadUnsafe(ref start, (nuint)i).AsUInt32());
                var (b0, b1) = Vector128.Widen(Vector128.LoadUnsafe(ref start, (nuint)(i + 16)).AsUInt32());
                acc0 += a0 + a1;
                acc1 += b0 + b1;
            }
            var acc = acc0 + acc1;
            sum = acc.GetElement(0) + acc.GetElement(1);
        }
        for (; i + 8 <= n; i += 8)
        {
            ulong v = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, i));
            sum += (v >> 32) + (uint)v;
        }
        for (; i + 2 <= n; i += 2)
            sum += Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref start, i));
        if (i < n)
            sum += Unsafe.Add(ref start, i); // the low byte of a little-endian word = the high byte of the big-endian one
        return initial + BinaryPrimitives.ReverseEndianness(Fold(sum));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Fold(ulong sum)
    {
        while (sum >> 16 != 0)
            sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)sum;
    }

    /// <summary>The TCP/UDP pseudo-header sum (RFC 9293 §3.1, RFC 8200 §8.1) of an IPv4 or IPv6 packet, unfolded.</summary>
    public static ulong PseudoHeaderSum(ReadOnlySpan<byte> ip, bool v6, byte protocol, int l4Length)
    {
        ulong sum = v6 ? Sum(ip.Slice(8, 32), 0) : Sum(ip.Slice(12, 8), 0);
        return sum + protocol + (ulong)l4Length;
    }

    /// <summary>True when the TCP checksum of <paramref name="packet"/> (IP header of <paramref name="ipLength"/> bytes) verifies.</summary>
    public static bool TcpChecksumValid(ReadOnlySpan<byte> packet, int ipLength, bool v6) =>
        Fold(Sum(packet[ipLength..], PseudoHeaderSum(packet, v6, (byte)LibC.IPPROTO_TCP, packet.Length - ipLength))) == 0xFFFF;

    public static bool Ipv4HeaderChecksumValid(ReadOnlySpan<byte> header) => Fold(Sum(header, 0)) == 0xFFFF;
}

/// <summary>
/// Coalesces the decrypted TCP segments of one batch into GSO super-packets and writes everything.
/// <see cref="Add"/> each packet in arrival order, then <see cref="Flush{TSink}"/> once. Segments merge when
/// they are of one flow (addresses, ports, IP version), IPv4 without options or fragmentation (IPv6 without
/// extension headers), equal TOS/DF/TTL (traffic class, flow label, hop limit), equal TCP header length and
/// option bytes, ACK number and window, flags ACK (ACK|PSH only on the last), contiguous sequence numbers,
/// every payload but the last exactly the first's (gso_size), at most 65535 bytes in all, and valid IPv4
/// header and TCP checksums (a bad one is written as it came, for the receiver to drop). IPv4 IDs are not
/// compared: the kernel renumbers them from the head's only if it has to segment. Anything else is written
/// unchanged. Per flow the order is kept: a packet of a flow that cannot join the flow's open super-packet
/// closes it, and frames are written in the order of their first packet. Packets stay where they are (the
/// head's headers are fixed up in place; the other members' payloads are gathered by writev), so their
/// memory must not move or change between Add and Flush (native batch slots, or pinned arrays).
/// </summary>
public sealed unsafe class TcpCoalescer : IDisposable
{
    /// <summary>Flows with an open super-packet at once; a further flow's segments are written singly.</summary>
    public const int MaxOpenFlows = 16;

    public const int MaxFrameLength = 65535;

    private const byte StateOpen = 1, StatePsh = 2, StateVerified = 4, StateV6 = 8;

    private readonly int _capacity;
    private readonly nint[] _data;
    private readonly int[] _length;
    private readonly int[] _next;
    private readonly int[] _tail;
    private readonly int[] _members;
    private readonly int[] _total;
    private readonly int[] _gso;
    private readonly int[] _ipLength;
    private readonly int[] _tcpLength;
    private readonly uint[] _nextSeq;
    private readonly byte[] _state;
    private readonly int[] _order;
    private readonly int[] _open = new int[MaxOpenFlows];
    private LibC.IoVec* _iov;
    private byte* _header;
    private int _count, _orderCount, _openCount;

    public TcpCoalescer(int capacity, bool enabled)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        _capacity = capacity;
        Enabled = enabled;
        _data = new nint[capacity];
        _length = new int[capacity];
        _next = new int[capacity];
        _tail = new int[capacity];
        _members = new int[capacity];
        _total = new int[capacity];
        _gso = new int[capacity];
        _ipLength = new int[capacity];
        _tcpLength = new int[capacity];
        _nextSeq = new uint[capacity];
        _state = new byte[capacity];
        _order = new int[capacity];
        _iov = (LibC.IoVec*)NativeMemory.AllocZeroed((nuint)(capacity + 1), (nuint)sizeof(LibC.IoVec));
        _header = (byte*)NativeMemory.AllocZeroed(16);
    }

    /// <summary>False: every packet is written as it came (one frame each, zero virtio-net header).</summary>
    public bool Enabled { get; }

    /// <summary>Frames written by the last Flush, super-packets among them, the segments those carried, and the
    /// packets of frames whose write failed.</summary>
    public int Frames { get; private set; }
    public int GsoFrames { get; private set; }
    public int GsoSegments { get; private set; }
    public int WriteErrors { get; private set; }

    /// <summary>
    /// Queues one IP packet for the next Flush. False (the packet is not queued) only when the batch
    /// already holds capacity packets, which a caller sized like its receive batch never reaches.
    /// </summary>
    public bool Add(Span<byte> packet)
    {
        if (_count >= _capacity || packet.IsEmpty)
            return false;
        int i = _count++;
        _data[i] = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(packet));
        _length[i] = packet.Length;
        _next[i] = -1;
        _tail[i] = i;
        _members[i] = 1;
        _state[i] = 0;
        _order[_orderCount++] = i;
        if (Enabled)
            Classify(i, packet);
        return true;
    }

    private void Classify(int i, ReadOnlySpan<byte> p)
    {
        int version = p[0] >> 4;
        int ip;
        bool v6 = version == 6;
        if (version == 4)
        {
            if (p.Length < 20 || p[9] != LibC.IPPROTO_TCP)
                return;
            ip = (p[0] & 0x0F) * 4;
            if ((p[6] & 0x3F) != 0 || p[7] != 0 || ip < 20)
            {
                CloseAll(); // a fragment (or a broken header) of some TCP flow: which one is not known
                return;
            }
        }
        else if (v6)
        {
            if (p.Length < 40)
                return;
            byte next = p[6];
            if (next != LibC.IPPROTO_TCP)
            {
                if (next is not (byte)LibC.IPPROTO_UDP and not (byte)LibC.IPPROTO_ICMPV6)
                    CloseAll(); // an extension header may hide a segment of any flow
                return;
            }
            ip = 40;
        }
        else
        {
            return;
        }

        if (p.Length < ip + 20 || p.Length < ip + ((p[ip + 12] >> 4) * 4))
        {
            CloseAll();
            return;
        }

        int open = FindOpen(p, ip, v6);
        int tcp = (p[ip + 12] >> 4) * 4;
        int payload = p.Length - ip - tcp;
        byte flags = p[ip + 13];
        bool candidate = tcp >= 20 && payload > 0 && (p[ip + 12] & 0x0F) == 0
                         && (flags == TunOffload.TcpFlagAck || flags == (TunOffload.TcpFlagAck | TunOffload.TcpFlagPsh))
                         && (v6 ? BinaryPrimitives.ReadUInt16BigEndian(p[4..]) == p.Length - 40
                                : ip == 20 && BinaryPrimitives.ReadUInt16BigEndian(p[2..]) == p.Length);
        if (!candidate)
        {
            if (open >= 0)
                Close(open);
            return;
        }

        bool psh = (flags & TunOffload.TcpFlagPsh) != 0;
        uint seq = BinaryPrimitives.ReadUInt32BigEndian(p[(ip + 4)..]);
        if (open >= 0)
        {
            int head = _open[open];
            if (TryAppend(head, i, p, ip, tcp, payload, seq, psh))
                return;
            Close(open);
        }

        _ipLength[i] = ip;
        _tcpLength[i] = tcp;
        _gso[i] = payload;
        _total[i] = p.Length;
        _nextSeq[i] = seq + (uint)payload;
        _state[i] = v6 ? StateV6 : (byte)0;
        if (!psh && _openCount < MaxOpenFlows)
        {
            _state[i] |= StateOpen;
            _open[_openCount++] = i;
        }
    }

    private bool TryAppend(int head, int i, ReadOnlySpan<byte> p, int ip, int tcp, int payload, uint seq, bool psh)
    {
        var h = Packet(head);
        bool v6 = (_state[head] & StateV6) != 0;
        if (seq != _nextSeq[head] || tcp != _tcpLength[head] || payload > _gso[head] || _total[head] + payload > MaxFrameLength)
            return false;
        if (v6)
        {
            if (!p[..4].SequenceEqual(h[..4]) || p[7] != h[7])
                return false;
        }
        else if (p[1] != h[1] || (p[6] & 0xE0) != (h[6] & 0xE0) || p[8] != h[8])
        {
            return false;
        }

        // ACK number (8..12) and window (14..16) equal; data offset/flags (12..14) are checked by the caller.
        if (!p.Slice(ip + 8, 4).SequenceEqual(h.Slice(ip + 8, 4)) || !p.Slice(ip + 14, 2).SequenceEqual(h.Slice(ip + 14, 2))
            || !p.Slice(ip + 20, tcp - 20).SequenceEqual(h.Slice(ip + 20, tcp - 20)))
            return false;

        if ((_state[head] & StateVerified) == 0)
        {
            if ((!v6 && !TunOffload.Ipv4HeaderChecksumValid(h[..20])) || !TunOffload.TcpChecksumValid(h, ip, v6))
                return false;
            _state[head] |= StateVerified;
        }
        if ((!v6 && !TunOffload.Ipv4HeaderChecksumValid(p[..20])) || !TunOffload.TcpChecksumValid(p, ip, v6))
            return false;

        _next[_tail[head]] = i;
        _tail[head] = i;
        _members[head]++;
        _total[head] += payload;
        _nextSeq[head] = seq + (uint)payload;
        _orderCount--; // i rides in its head's frame (Add put it last in the order)
        if (psh)
            _state[head] |= StatePsh;
        if (psh || payload < _gso[head])
            CloseHead(head);
        return true;
    }

    private int FindOpen(ReadOnlySpan<byte> p, int ip, bool v6)
    {
        for (int k = 0; k < _openCount; k++)
        {
            int head = _open[k];
            if (((_state[head] & StateV6) != 0) != v6)
                continue;
            var h = Packet(head);
            bool same = v6 ? p.Slice(8, 32).SequenceEqual(h.Slice(8, 32)) : p.Slice(12, 8).SequenceEqual(h.Slice(12, 8));
            if (same && p.Slice(ip, 4).SequenceEqual(h.Slice(_ipLength[head], 4)))
                return k;
        }
        return -1;
    }

    private void Close(int openIndex)
    {
        _state[_open[openIndex]] &= unchecked((byte)~StateOpen);
        _open[openIndex] = _open[--_openCount];
    }

    private void CloseHead(int head)
    {
        for (int k = 0; k < _openCount; k++)
        {
            if (_open[k] == head)
            {
                Close(k);
                return;
            }
        }
    }

    private void CloseAll()
    {
        while (_openCount > 0)
            Close(_openCount - 1);
    }

    private Span<byte> Packet(int i) => new((void*)_data[i], _length[i]);

    /// <summary>Writes every queued packet (super-packets and single ones) to <paramref name="sink"/> and empties the batch.</summary>
    public void Flush<TSink>(ref TSink sink) where TSink : struct, ITunFrameSink
    {
        int frames = 0, gsoFrames = 0, gsoSegments = 0, errors = 0;
        for (int k = 0; k < _orderCount; k++)
        {
            int head = _order[k];
            int count = 2;
            _iov[1].Base = (void*)_data[head];
            _iov[1].Length = (nuint)_length[head];
            if (_members[head] == 1)
            {
                new Span<byte>(_header, LibC.VirtioNetHdrLength).Clear();
            }
            else
            {
                FinishHead(head);
                int headers = _ipLength[head] + _tcpLength[head];
                for (int m = _next[head]; m >= 0; m = _next[m])
                {
                    _iov[count].Base = (byte*)_data[m] + headers;
                    _iov[count].Length = (nuint)(_length[m] - headers);
                    count++;
                }
                gsoFrames++;
                gsoSegments += _members[head];
            }
            _iov[0].Base = _header;
            _iov[0].Length = LibC.VirtioNetHdrLength;
            if (sink.Write(_iov, count) < 0)
                errors += _members[head];
            frames++;
        }
        Frames = frames;
        GsoFrames = gsoFrames;
        GsoSegments = gsoSegments;
        WriteErrors = errors;
        _count = _orderCount = _openCount = 0;
    }

    /// <summary>Turns the head's headers into the super-packet's and fills the virtio-net header for it.</summary>
    private void FinishHead(int head)
    {
        var h = Packet(head);
        int ip = _ipLength[head];
        int total = _total[head];
        bool v6 = (_state[head] & StateV6) != 0;
        if (v6)
        {
            BinaryPrimitives.WriteUInt16BigEndian(h[4..], (ushort)(total - 40));
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(h[2..], (ushort)total);
            h[10] = 0;
            h[11] = 0;
            BinaryPrimitives.WriteUInt16BigEndian(h[10..], (ushort)~TunOffload.Fold(TunOffload.Sum(h[..20], 0)));
        }
        if ((_state[head] & StatePsh) != 0)
            h[ip + 13] |= TunOffload.TcpFlagPsh;
        ulong pseudo = TunOffload.PseudoHeaderSum(h, v6, (byte)LibC.IPPROTO_TCP, total - ip);
        BinaryPrimitives.WriteUInt16BigEndian(h[(ip + TunOffload.TcpChecksumOffset)..], TunOffload.Fold(pseudo));

        var header = new Span<byte>(_header, LibC.VirtioNetHdrLength);
        header[0] = LibC.VIRTIO_NET_HDR_F_NEEDS_CSUM;
        header[1] = v6 ? LibC.VIRTIO_NET_HDR_GSO_TCPV6 : LibC.VIRTIO_NET_HDR_GSO_TCPV4;
        BinaryPrimitives.WriteUInt16LittleEndian(header[2..], (ushort)(ip + _tcpLength[head]));
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], (ushort)_gso[head]);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], (ushort)ip);
        BinaryPrimitives.WriteUInt16LittleEndian(header[8..], TunOffload.TcpChecksumOffset);
    }

    public void Dispose()
    {
        if (_iov != null)
        {
            NativeMemory.Free(_iov);
            NativeMemory.Free(_header);
            _iov = null;
            _header = null;
        }
        GC.SuppressFinalize(this);
    }

    ~TcpCoalescer() => Dispose();
}
