// UDP GSO sends (tunnel.udp_gso): a run of sealed ESP-in-UDP datagrams to one peer, all of one length but the
// last (which may be shorter), leaves as one sendmmsg message whose UDP_SEGMENT cmsg tells the kernel their
// length (Linux 4.18+, after wireguard-go's conn/ GSO send). The kernel builds one super-skb, routes it once and
// segments it at the device (or in software) into exactly the datagrams given, in order. One message holds at
// most MaxSegments datagrams and MaxPayload bytes (the kernel refuses more: EINVAL / EMSGSIZE).
//
// A message the kernel refuses as a whole is sent again datagram by datagram (a path whose MTU is below the
// segment size, or a device that cannot checksum: EIO, after which the sender stops grouping for good, as
// wireguard-go does), so a refusal never costs more datagrams than a plain sendmmsg would have lost.
//
// Ownership/thread-safety: a UdpGsoSender belongs to one outbound thread and is not thread-safe. Its message
// headers, iovecs, addresses and control buffers are allocated once; Send does not allocate, lock or throw.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Concentrator.DataPlane.Linux;

public sealed unsafe class UdpGsoSender : IDisposable
{
    /// <summary>UDP_MAX_SEGMENTS of the kernel (include/linux/udp.h).</summary>
    public const int MaxSegments = 64;

    /// <summary>The UDP payload of one IPv4 super-packet: 65535 - 20 (IP) - 8 (UDP); IPv6 allows as much.</summary>
    public const int MaxPayload = 65535 - 20 - 8;

    // struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; } + a u16, CMSG_SPACE(2) = 24 on x86_64.
    private const int ControlSpace = 24;
    private const int ControlLength = 18;

    private readonly int _capacity;
    private LibC.MMsgHdr* _headers;
    private LibC.IoVec* _iov;
    private LibC.SockAddrIn6* _names;
    private byte* _control;
    private readonly int[] _first;
    private readonly int[] _count;

    public UdpGsoSender(int capacity = PacketBatch.DefaultCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        _capacity = capacity;
        _headers = (LibC.MMsgHdr*)NativeMemory.AllocZeroed((nuint)capacity, (nuint)sizeof(LibC.MMsgHdr));
        _iov = (LibC.IoVec*)NativeMemory.AllocZeroed((nuint)capacity, (nuint)sizeof(LibC.IoVec));
        _names = (LibC.SockAddrIn6*)NativeMemory.AllocZeroed((nuint)capacity, (nuint)sizeof(LibC.SockAddrIn6));
        _control = (byte*)NativeMemory.AllocZeroed((nuint)capacity, ControlSpace);
        _first = new int[capacity];
        _count = new int[capacity];
    }

    /// <summary>False once a device refused a super-packet with EIO: every datagram then leaves as its own message.</summary>
    public bool Enabled { get; private set; } = true;

    /// <summary>Of the last Send: messages that carried more than one datagram, the datagrams they carried, and the
    /// messages the kernel refused whole that were sent again one datagram each.</summary>
    public int GsoMessages { get; private set; }
    public int GsoSegments { get; private set; }
    public int Fallbacks { get; private set; }

    /// <summary>Messages the last <see cref="Plan"/> made, and datagram indices of message m: [First(m), First(m) + Count(m)).</summary>
    public int Messages { get; private set; }
    public int First(int message) => _first[message];
    public int Count(int message) => _count[message];

    /// <summary>True when <paramref name="fd"/> takes UDP_SEGMENT (the kernel knows the option).</summary>
    public static bool Supported(int fd)
    {
        int value = 0;
        uint length = sizeof(int);
        return LibC.getsockopt(fd, LibC.IPPROTO_UDP, LibC.UDP_SEGMENT, &value, &length) == 0;
    }

    /// <summary>
    /// Groups datagrams [0, count) of the batch into messages: consecutive datagrams to one peer (family, address,
    /// port) of the first one's length, the last of a message possibly shorter, at most <see cref="MaxSegments"/>
    /// and <see cref="MaxPayload"/> bytes each. Fills the message headers; returns the number of messages.
    /// </summary>
    public int Plan(PacketBatch batch, int count)
    {
        count = Math.Min(Math.Min(count, batch.Capacity), _capacity);
        int messages = 0;
        for (int i = 0; i < count;)
        {
            int size = batch.Lengths[i];
            int total = size, n = 1;
            if (Enabled && size > 0)
            {
                while (i + n < count && n < MaxSegments && SamePeer(batch, i, i + n))
                {
                    int next = batch.Lengths[i + n];
                    if (next <= 0 || next > size || total + next > MaxPayload) break;
                    total += next;
                    n++;
                    if (next < size) break; // a shorter datagram ends the message
                }
            }
            Fill(batch, messages, i, n, size);
            messages++;
            i += n;
        }
        Messages = messages;
        return messages;
    }

    /// <summary>
    /// Sends datagrams [0, count) of the batch on <paramref name="fd"/> as <see cref="Plan"/> groups them. A full send
    /// buffer is waited on at most <paramref name="waitMs"/> per stall (three stalls, then the rest is dropped); a
    /// message refused whole is sent again one datagram each. Returns datagrams sent, or -errno on a fd-level error
    /// before any was sent.
    /// </summary>
    public int Send(int fd, PacketBatch batch, int count, int waitMs)
    {
        GsoMessages = GsoSegments = Fallbacks = 0;
        if (count <= 0)
            return 0;
        int messages = Plan(batch, count);
        int sent = 0, next = 0, stalls = 0;
        while (next < messages)
        {
            int n = LibC.sendmmsg(fd, _headers + next, (uint)(messages - next), LibC.MSG_DONTWAIT);
            if (n > 0)
            {
                for (int m = next; m < next + n; m++)
                {
                    sent += _count[m];
                    if (_count[m] > 1)
                    {
                        GsoMessages++;
                        GsoSegments += _count[m];
                    }
                }
                next += n;
                continue;
            }
            int err = n < 0 ? LibC.Errno() : LibC.EAGAIN;
            if (err == LibC.EINTR)
                continue;
            if (err == LibC.EAGAIN || err == LibC.ENOBUFS)
            {
                if (++stalls > 3 || BatchIo.WaitFor(fd, LibC.POLLOUT, waitMs) <= 0)
                    break;
                continue;
            }
            if (err == LibC.EBADF || err == LibC.ENOTSOCK || err == LibC.EFAULT)
                return sent == 0 ? -err : sent;
            if (_count[next] > 1)
            {
                if (err == LibC.EIO)
                    Enabled = false;
                Fallbacks++;
                sent += SendSingly(fd, next);
            }
            next++; // this message is refused on its own: go on with the rest
        }
        return sent;
    }

    /// <summary>Message <paramref name="message"/>'s datagrams as messages of their own. Returns those sent.</summary>
    private int SendSingly(int fd, int message)
    {
        LibC.MMsgHdr single = default;
        int sent = 0;
        for (int k = 0; k < _count[message]; k++)
        {
            single.Header = _headers[message].Header;
            single.Header.Iov = _headers[message].Header.Iov + k;
            single.Header.IovLength = 1;
            single.Header.Control = null;
            single.Header.ControlLength = 0;
            single.Length = 0;
            if (LibC.sendmmsg(fd, &single, 1, LibC.MSG_DONTWAIT) == 1)
                sent++;
        }
        return sent;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool SamePeer(PacketBatch batch, int a, int b) =>
        batch.Ports[a] == batch.Ports[b] && batch.IsV6[a] == batch.IsV6[b]
        && (batch.IsV6[a] ? batch.Addresses6[a] == batch.Addresses6[b] : batch.Addresses[a] == batch.Addresses[b]);

    private void Fill(PacketBatch batch, int message, int first, int n, int size)
    {
        _first[message] = first;
        _count[message] = n;
        for (int k = 0; k < n; k++)
        {
            var packet = batch.Packet(first + k);
            _iov[first + k].Base = Unsafe.AsPointer(ref MemoryMarshal.GetReference(packet)); // native slot memory: never moves
            _iov[first + k].Length = (nuint)packet.Length;
        }
        LibC.SockAddrIn6* name = _names + message;
        uint nameLength;
        if (batch.IsV6[first])
        {
            LibC.Fill6(name, batch.Addresses6[first], batch.Ports[first]);
            nameLength = (uint)sizeof(LibC.SockAddrIn6);
        }
        else
        {
            LibC.Fill((LibC.SockAddrIn*)name, batch.Addresses[first], batch.Ports[first]);
            nameLength = (uint)sizeof(LibC.SockAddrIn);
        }
        LibC.MMsgHdr* h = _headers + message;
        h->Header.Name = name;
        h->Header.NameLength = nameLength;
        h->Header.Iov = _iov + first;
        h->Header.IovLength = (nuint)n;
        h->Header.Flags = 0;
        h->Length = 0;
        if (n > 1)
        {
            byte* c = _control + message * ControlSpace;
            *(nuint*)c = ControlLength;
            *(int*)(c + 8) = LibC.IPPROTO_UDP; // SOL_UDP
            *(int*)(c + 12) = LibC.UDP_SEGMENT;
            *(ushort*)(c + 16) = (ushort)size;
            h->Header.Control = c;
            h->Header.ControlLength = ControlSpace;
        }
        else
        {
            h->Header.Control = null;
            h->Header.ControlLength = 0;
        }
    }

    public void Dispose()
    {
        if (_headers != null)
        {
            NativeMemory.Free(_headers);
            NativeMemory.Free(_iov);
            NativeMemory.Free(_names);
            NativeMemory.Free(_control);
            _headers = null;
            _iov = null;
            _names = null;
            _control = null;
        }
        GC.SuppressFinalize(this);
    }

    ~UdpGsoSender() => Dispose();
}
