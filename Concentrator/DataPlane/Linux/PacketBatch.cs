// Ownership/thread-safety: a PacketBatch belongs to exactly one worker at a time and is not
// thread-safe. All memory is allocated once (NativeMemory, 64-byte aligned, never moved by the GC)
// at construction and freed in Dispose; receive/send reuse it without allocating. Packet i lives in
// slot i (BufferSize bytes) at [Offsets[i], Offsets[i] + Lengths[i]); the Headroom bytes before a
// received packet let ESP headers be prepended in place. Addresses/ports are host-order plain fields; a slot's
// peer is IPv4 (Addresses) or IPv6 (Addresses6) as IsV6 says, taken from the sockaddr's family on receive and
// written as sockaddr_in or sockaddr_in6 on send (each slot's name buffer holds either). A batch built with
// udpGro has a control buffer per slot and reports each datagram's UDP_GRO segment size (SegmentSizes, LibC.Udp.cs).
using System.Net;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Concentrator.DataPlane.Linux;

public sealed unsafe class PacketBatch : IDisposable
{
    public const int DefaultCapacity = 64;
    public const int DefaultBufferSize = 2048;
    public const int DefaultHeadroom = 64;

    private byte* _buffers;
    private LibC.SockAddrIn6* _addresses;
    private LibC.IoVec* _iovecs;
    private LibC.MMsgHdr* _headers;
    private byte* _control; // LibC.CMsgSpaceInt bytes per slot; null without udpGro

    /// <summary>Packet length per slot (0 = nothing / dropped, e.g. truncated on receive).</summary>
    public readonly int[] Lengths;
    /// <summary>Start of the packet within its slot.</summary>
    public readonly int[] Offsets;
    /// <summary>Peer IPv4 address per packet, host order (127.0.0.1 = 0x7F000001): source on receive, destination on send.</summary>
    public readonly uint[] Addresses;
    /// <summary>Peer IPv6 address per packet, host order (the 128-bit big-endian value of its octets), where IsV6.</summary>
    public readonly UInt128[] Addresses6;
    /// <summary>Whether packet i's peer is IPv6 (Addresses6) rather than IPv4 (Addresses).</summary>
    public readonly bool[] IsV6;
    /// <summary>Peer port per packet, host order (0 for raw ESP).</summary>
    public readonly ushort[] Ports;
    /// <summary>
    /// Per datagram of the last receive of a udpGro batch: the kernel's UDP_GRO segment size (hostile like the bytes:
    /// any int), or -1 when the datagram came without one (not coalesced).
    /// </summary>
    public readonly int[] SegmentSizes;

    public PacketBatch(int capacity = DefaultCapacity, int bufferSize = DefaultBufferSize, int headroom = DefaultHeadroom, bool udpGro = false)
    {
        if (capacity <= 0 || capacity > 1024)
            throw new ArgumentOutOfRangeException(nameof(capacity));
        if (bufferSize < 64 || bufferSize > 65536 + 1024)
            throw new ArgumentOutOfRangeException(nameof(bufferSize));
        if (headroom < 0 || headroom >= bufferSize)
            throw new ArgumentOutOfRangeException(nameof(headroom));
        Capacity = capacity;
        BufferSize = bufferSize;
        Headroom = headroom;
        _buffers = (byte*)NativeMemory.AlignedAlloc((nuint)capacity * (nuint)bufferSize, 64);
        _addresses = (LibC.SockAddrIn6*)NativeMemory.AlignedAlloc((nuint)(capacity * sizeof(LibC.SockAddrIn6)), 64);
        _iovecs = (LibC.IoVec*)NativeMemory.AlignedAlloc((nuint)(capacity * sizeof(LibC.IoVec)), 64);
        _headers = (LibC.MMsgHdr*)NativeMemory.AlignedAlloc((nuint)(capacity * sizeof(LibC.MMsgHdr)), 64);
        NativeMemory.Clear(_buffers, (nuint)capacity * (nuint)bufferSize);
        NativeMemory.Clear(_addresses, (nuint)(capacity * sizeof(LibC.SockAddrIn6)));
        NativeMemory.Clear(_iovecs, (nuint)(capacity * sizeof(LibC.IoVec)));
        NativeMemory.Clear(_headers, (nuint)(capacity * sizeof(LibC.MMsgHdr)));
        Lengths = new int[capacity];
        Offsets = new int[capacity];
        Addresses = new uint[capacity];
        Addresses6 = new UInt128[capacity];
        IsV6 = new bool[capacity];
        Ports = new ushort[capacity];
        SegmentSizes = new int[capacity];
        for (int i = 0; i < capacity; i++)
        {
            Offsets[i] = headroom;
            SegmentSizes[i] = -1;
        }
        if (udpGro)
            _control = (byte*)NativeMemory.AllocZeroed((nuint)(capacity * LibC.CMsgSpaceInt));
    }

    public int Capacity { get; }
    public int BufferSize { get; }
    /// <summary>Where a receive places packet bytes in each slot.</summary>
    public int Headroom { get; }
    /// <summary>Packets filled by the last receive.</summary>
    public int Count { get; set; }
    /// <summary>Datagrams of the last receive that did not fit a slot (their Lengths are 0).</summary>
    public int Truncated { get; internal set; }

    /// <summary>The whole slot of packet <paramref name="index"/>.</summary>
    public Span<byte> Slot(int index)
    {
        if ((uint)index >= (uint)Capacity)
            ThrowIndex();
        return new Span<byte>(_buffers + (nint)index * BufferSize, BufferSize);
    }

    /// <summary>Packet <paramref name="index"/>: Slot(index)[Offsets[index] .. + Lengths[index]].</summary>
    public Span<byte> Packet(int index) => Slot(index).Slice(Offsets[index], Lengths[index]);

    /// <summary>Copies <paramref name="data"/> into slot <paramref name="index"/> at the headroom and sets its peer.</summary>
    public void Set(int index, ReadOnlySpan<byte> data, uint address, ushort port)
    {
        data.CopyTo(Slot(index).Slice(Headroom));
        Offsets[index] = Headroom;
        Lengths[index] = data.Length;
        Addresses[index] = address;
        IsV6[index] = false;
        Ports[index] = port;
    }

    /// <summary>As <see cref="Set"/> for an IPv6 peer (host-order address, see <see cref="ToUInt128"/>).</summary>
    public void Set6(int index, ReadOnlySpan<byte> data, UInt128 address, ushort port)
    {
        Set(index, data, 0, port);
        Addresses6[index] = address;
        IsV6[index] = true;
    }

    /// <summary>Control-plane/test view of packet i's peer (allocates).</summary>
    public IPEndPoint EndPoint(int index) => new(IsV6[index] ? ToIPAddress(Addresses6[index]) : ToIPAddress(Addresses[index]), Ports[index]);

    public static uint ToUInt32(IPAddress address)
    {
        Span<byte> b = stackalloc byte[16];
        if (address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork || !address.TryWriteBytes(b, out int n) || n != 4)
            throw new ArgumentException("An IPv4 address is required.", nameof(address));
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(b);
    }

    public static IPAddress ToIPAddress(uint hostOrder)
    {
        Span<byte> b = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(b, hostOrder);
        return new IPAddress(b);
    }

    /// <summary>An IPv6 address as the host-order value of its 16 octets (IPv4 throws: it has its own field).</summary>
    public static UInt128 ToUInt128(IPAddress address)
    {
        Span<byte> b = stackalloc byte[16];
        if (address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6 || !address.TryWriteBytes(b, out int n) || n != 16)
            throw new ArgumentException("An IPv6 address is required.", nameof(address));
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(b);
    }

    public static IPAddress ToIPAddress(UInt128 hostOrder)
    {
        Span<byte> b = stackalloc byte[16];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt128BigEndian(b, hostOrder);
        return new IPAddress(b);
    }

    internal LibC.MMsgHdr* Headers => _headers;

    /// <summary>Points every header at its slot's free space (after the headroom) for a receive.</summary>
    internal void PrepareReceive()
    {
        ThrowIfDisposed();
        nuint room = (nuint)(BufferSize - Headroom);
        for (int i = 0; i < Capacity; i++)
        {
            LibC.IoVec* iov = _iovecs + i;
            iov->Base = _buffers + (nint)i * BufferSize + Headroom;
            iov->Length = room;
            LibC.MMsgHdr* h = _headers + i;
            h->Header.Name = _addresses + i;
            h->Header.NameLength = (uint)sizeof(LibC.SockAddrIn6);
            h->Header.Iov = iov;
            h->Header.IovLength = 1;
            h->Header.Control = _control == null ? null : _control + i * LibC.CMsgSpaceInt;
            h->Header.ControlLength = _control == null ? 0 : (nuint)LibC.CMsgSpaceInt;
            h->Header.Flags = 0;
            h->Length = 0;
        }
    }

    /// <summary>Copies kernel results of the first <paramref name="count"/> headers into the plain fields.</summary>
    internal void CompleteReceive(int count)
    {
        int truncated = 0;
        for (int i = 0; i < count; i++)
        {
            LibC.MMsgHdr* h = _headers + i;
            LibC.SockAddrIn6* sa = _addresses + i;
            Offsets[i] = Headroom;
            if ((h->Header.Flags & LibC.MSG_TRUNC) != 0)
            {
                Lengths[i] = 0;
                truncated++;
            }
            else
            {
                Lengths[i] = (int)h->Length;
            }
            // The family the kernel wrote decides the layout: sockaddr_in (AF_INET sockets) or sockaddr_in6.
            bool v6 = sa->Family == LibC.AF_INET6;
            IsV6[i] = v6;
            if (v6) Addresses6[i] = LibC.Address6(sa);
            else Addresses[i] = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(((LibC.SockAddrIn*)sa)->Address);
            Ports[i] = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(sa->Port);
            SegmentSizes[i] = _control == null ? -1 : LibC.FindUdpGroSize(_control + i * LibC.CMsgSpaceInt,
                Math.Min(h->Header.ControlLength, (nuint)LibC.CMsgSpaceInt));
        }
        Count = count;
        Truncated = truncated;
    }

    /// <summary>Points headers [start, start+count) at the packets and their destinations for a send.</summary>
    internal void PrepareSend(int start, int count)
    {
        ThrowIfDisposed();
        for (int i = start; i < start + count; i++)
        {
            int offset = Offsets[i];
            int length = Lengths[i];
            if ((uint)offset > (uint)BufferSize || (uint)length > (uint)(BufferSize - offset))
            {
                // A malformed slot is sent as an empty datagram rather than reading past the slot.
                offset = 0;
                length = 0;
            }
            LibC.IoVec* iov = _iovecs + i;
            iov->Base = _buffers + (nint)i * BufferSize + offset;
            iov->Length = (nuint)length;
            bool v6 = IsV6[i];
            if (v6) LibC.Fill6(_addresses + i, Addresses6[i], Ports[i]);
            else LibC.Fill((LibC.SockAddrIn*)(_addresses + i), Addresses[i], Ports[i]);
            LibC.MMsgHdr* h = _headers + i;
            h->Header.Name = _addresses + i;
            h->Header.NameLength = (uint)(v6 ? sizeof(LibC.SockAddrIn6) : sizeof(LibC.SockAddrIn));
            h->Header.Iov = iov;
            h->Header.IovLength = 1;
            h->Header.Control = null;
            h->Header.ControlLength = 0;
            h->Header.Flags = 0;
            h->Length = 0;
        }
    }

    private void ThrowIfDisposed()
    {
        if (_buffers == null)
            ThrowDisposed();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowIndex() => throw new ArgumentOutOfRangeException("index");

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowDisposed() => throw new ObjectDisposedException(nameof(PacketBatch));

    public void Dispose()
    {
        if (_buffers == null)
            return;
        NativeMemory.AlignedFree(_buffers);
        NativeMemory.AlignedFree(_addresses);
        NativeMemory.AlignedFree(_iovecs);
        NativeMemory.AlignedFree(_headers);
        if (_control != null) NativeMemory.Free(_control);
        _control = null;
        _buffers = null;
        _addresses = null;
        _iovecs = null;
        _headers = null;
        GC.SuppressFinalize(this);
    }

    ~PacketBatch() => Dispose();
}
