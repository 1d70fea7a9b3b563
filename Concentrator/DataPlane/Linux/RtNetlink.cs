// Ownership/thread-safety: one NETLINK_ROUTE socket answering one request at a time; the caller serialises
// (RouteManager's lock). The socket belongs to the network namespace of the thread that opened it, for its whole
// life, like every socket (NetworkNamespace.Run). Control plane only: a route or rule per Child SA, never per packet.
// Requests are built on the stack in the kernel's layouts (<linux/netlink.h>, <linux/rtnetlink.h>,
// <linux/fib_rules.h>; host byte order, addresses in network order) and every one asks for an ACK, so each
// outcome is 0 or a negative errno: a failure is a value the caller logs and counts, never an exception.
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Concentrator.DataPlane.Linux;

/// <summary>The rtnetlink requests the data plane makes: link index by name, routes and policy routing rules.</summary>
internal sealed unsafe class RtNetlink : IDisposable
{
    private const int NetlinkRoute = 0;

    // <linux/netlink.h>
    private const ushort NlmsgError = 2;
    private const ushort NlmFRequest = 0x1;
    private const ushort NlmFAck = 0x4;
    private const ushort NlmFReplace = 0x100;
    private const ushort NlmFExcl = 0x200;
    private const ushort NlmFCreate = 0x400;
    private const int HeaderLength = 16;

    // <linux/rtnetlink.h>
    private const ushort RtmNewLink = 16;
    private const ushort RtmGetLink = 18;
    private const ushort RtmNewRoute = 24;
    private const ushort RtmDelRoute = 25;
    private const ushort RtmNewRule = 32;
    private const ushort RtmDelRule = 33;
    private const ushort RtaDst = 1;
    private const ushort RtaOif = 4;
    private const ushort RtaPrefsrc = 7;
    private const ushort RtaTable = 15;
    private const ushort IflaIfname = 3;
    private const byte RtprotStatic = 4;
    private const byte ScopeUniverse = 0;
    private const byte ScopeLink = 253;
    private const byte ScopeNowhere = 255;
    public const byte TypeUnicast = 1;
    public const byte TypeThrow = 9;
    public const uint MainTable = 254;

    // <linux/fib_rules.h>
    private const ushort FraPriority = 6;
    private const ushort FraFwmark = 10;
    private const ushort FraSuppressPrefixlen = 14;
    private const ushort FraTable = 15;
    private const ushort FraFwmask = 16;
    private const byte FrActToTable = 1;
    private const uint FibRuleInvert = 0x2;

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    private readonly byte[] _receive = new byte[16384];
    private int _fd;
    private uint _sequence;

    private RtNetlink(int fd) => _fd = fd;

    /// <summary>A NETLINK_ROUTE socket in the calling thread's network namespace.</summary>
    /// <exception cref="SocketException">socket(2) failed.</exception>
    public static RtNetlink Open()
    {
        int fd = LibC.socket(LibC.AF_NETLINK, LibC.SOCK_RAW | LibC.SOCK_CLOEXEC, NetlinkRoute);
        if (fd < 0) throw LibC.LastSocketError();
        return new RtNetlink(fd);
    }

    /// <summary>The interface index of <paramref name="device"/> (RTM_GETLINK by IFLA_IFNAME), or a negative errno.</summary>
    public int LinkIndex(string device)
    {
        Span<byte> m = stackalloc byte[64];
        m.Clear();
        int length = HeaderLength + 16; // struct ifinfomsg, family AF_UNSPEC
        Span<byte> name = stackalloc byte[LibC.IFNAMSIZ];
        name.Clear();
        if (System.Text.Encoding.ASCII.GetByteCount(device) >= LibC.IFNAMSIZ) return -LibC.EINVAL;
        System.Text.Encoding.ASCII.GetBytes(device, name);
        length = Attribute(m, length, IflaIfname, name[..(device.Length + 1)]);
        int error = Request(m, length, RtmGetLink, NlmFRequest | NlmFAck, out int index);
        return error != 0 ? error : index > 0 ? index : -LibC.ENODEV;
    }

    /// <summary>
    /// Adds (replacing an equal one) or deletes a route to <paramref name="destination"/>/<paramref name="prefixLength"/>
    /// in <paramref name="table"/>: <see cref="TypeUnicast"/> out of <paramref name="outputIndex"/>, or
    /// <see cref="TypeThrow"/> (lookup goes on with the next rule). Returns 0 or a negative errno.
    /// </summary>
    public int Route(bool add, ReadOnlySpan<byte> destination, int prefixLength, uint table, byte type, int outputIndex) =>
        Route(add, destination, prefixLength, table, type, outputIndex, []);

    /// <summary>As <see cref="Route(bool, ReadOnlySpan{byte}, int, uint, byte, int)"/>, with the source address the kernel
    /// gives locally sent packets that take the route (RTA_PREFSRC; empty: the kernel's choice).</summary>
    public int Route(bool add, ReadOnlySpan<byte> destination, int prefixLength, uint table, byte type, int outputIndex,
        ReadOnlySpan<byte> preferredSource)
    {
        Span<byte> m = stackalloc byte[96];
        m.Clear();
        var rtm = m[HeaderLength..];
        rtm[0] = (byte)(destination.Length == 4 ? LibC.AF_INET : LibC.AF_INET6);
        rtm[1] = (byte)prefixLength;
        rtm[4] = table < 256 ? (byte)table : (byte)0;
        rtm[5] = RtprotStatic;
        // As ip(8): a route out of a device without a gateway is link scope; a delete matches any scope.
        rtm[6] = !add ? ScopeNowhere : type == TypeUnicast ? ScopeLink : ScopeUniverse;
        rtm[7] = type;
        int length = HeaderLength + 12;
        length = Attribute(m, length, RtaTable, table);
        length = Attribute(m, length, RtaDst, destination);
        if (type == TypeUnicast) length = Attribute(m, length, RtaOif, (uint)outputIndex);
        if (add && !preferredSource.IsEmpty) length = Attribute(m, length, RtaPrefsrc, preferredSource);
        return add
            ? Request(m, length, RtmNewRoute, NlmFRequest | NlmFAck | NlmFCreate | NlmFReplace, out _)
            : Request(m, length, RtmDelRoute, NlmFRequest | NlmFAck, out _);
    }

    /// <summary>
    /// Adds or deletes the rule "[not] fwmark <paramref name="mark"/> lookup <paramref name="table"/> [suppress_prefixlength
    /// <paramref name="suppressPrefixLength"/>] priority <paramref name="priority"/>" for <paramref name="family"/>
    /// (AF_INET or AF_INET6). An add of a rule that exists already is -EEXIST. Returns 0 or a negative errno.
    /// </summary>
    public int Rule(bool add, int family, uint priority, uint table, uint mark, bool notMarked, int suppressPrefixLength)
    {
        Span<byte> m = stackalloc byte[96];
        m.Clear();
        var frh = m[HeaderLength..];
        frh[0] = (byte)family;
        frh[4] = table < 256 ? (byte)table : (byte)0;
        frh[7] = FrActToTable;
        MemoryMarshal.Write(frh[8..], notMarked ? FibRuleInvert : 0u);
        int length = HeaderLength + 12;
        length = Attribute(m, length, FraTable, table);
        length = Attribute(m, length, FraPriority, priority);
        if (mark != 0)
        {
            length = Attribute(m, length, FraFwmark, mark);
            length = Attribute(m, length, FraFwmask, uint.MaxValue);
        }
        if (suppressPrefixLength >= 0) length = Attribute(m, length, FraSuppressPrefixlen, (uint)suppressPrefixLength);
        return add
            ? Request(m, length, RtmNewRule, NlmFRequest | NlmFAck | NlmFCreate | NlmFExcl, out _)
            : Request(m, length, RtmDelRule, NlmFRequest | NlmFAck, out _);
    }

    /// <summary>An address's bytes in network order, IPv4-mapped IPv6 as IPv4.</summary>
    public static byte[] Bytes(IPAddress address) =>
        (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).GetAddressBytes();

    private static int Attribute(Span<byte> m, int offset, ushort type, uint value)
    {
        Span<byte> v = stackalloc byte[4];
        MemoryMarshal.Write(v, in value);
        return Attribute(m, offset, type, v);
    }

    /// <summary>Appends one rtattr (length, type, value, padded to 4 bytes); returns the new message length.</summary>
    private static int Attribute(Span<byte> m, int offset, ushort type, ReadOnlySpan<byte> value)
    {
        ushort length = (ushort)(4 + value.Length);
        MemoryMarshal.Write(m[offset..], in length);
        MemoryMarshal.Write(m[(offset + 2)..], in type);
        value.CopyTo(m[(offset + 4)..]);
        return offset + ((length + 3) & ~3);
    }

    /// <summary>
    /// Sends one request and reads until its ACK (an NLMSG_ERROR with the request's sequence number; error 0 is
    /// success). A link reply before the ACK yields its index. Replies to earlier requests that timed out are skipped.
    /// </summary>
    private int Request(Span<byte> m, int length, ushort type, ushort flags, out int linkIndex)
    {
        linkIndex = 0;
        int fd = Volatile.Read(ref _fd);
        if (fd < 0) return -LibC.EBADF;
        uint sequence = ++_sequence;
        uint total = (uint)length;
        MemoryMarshal.Write(m, in total);
        MemoryMarshal.Write(m[4..], in type);
        MemoryMarshal.Write(m[6..], in flags);
        MemoryMarshal.Write(m[8..], in sequence);
        Span<byte> kernel = stackalloc byte[12]; // struct sockaddr_nl: family, pad, pid 0 (the kernel), groups 0
        kernel.Clear();
        kernel[0] = LibC.AF_NETLINK;
        fixed (byte* message = m)
        fixed (byte* to = kernel)
        {
            if (LibC.sendto(fd, message, (nuint)length, 0, to, 12) < 0) return -LibC.Errno();
        }

        long deadline = Environment.TickCount64 + (long)Timeout.TotalMilliseconds;
        while (true)
        {
            int wait = (int)Math.Max(0, deadline - Environment.TickCount64);
            var poll = new LibC.PollFd { Fd = fd, Events = LibC.POLLIN };
            int ready = LibC.poll(&poll, 1, wait);
            if (ready < 0 && LibC.Errno() == LibC.EINTR) continue;
            if (ready < 0) return -LibC.Errno();
            if (ready == 0) return -LibC.ETIMEDOUT;
            nint received;
            fixed (byte* buffer = _receive)
            {
                received = LibC.recvfrom(fd, buffer, (nuint)_receive.Length, 0, null, null);
            }
            if (received < 0)
            {
                int errno = LibC.Errno();
                if (LibC.IsTransient(errno)) continue;
                return -errno;
            }

            var data = _receive.AsSpan(0, (int)received);
            while (data.Length >= HeaderLength)
            {
                int messageLength = (int)MemoryMarshal.Read<uint>(data);
                if (messageLength < HeaderLength || messageLength > data.Length) break;
                ushort messageType = MemoryMarshal.Read<ushort>(data[4..]);
                uint messageSequence = MemoryMarshal.Read<uint>(data[8..]);
                if (messageSequence == sequence)
                {
                    if (messageType == NlmsgError && messageLength >= HeaderLength + 4) return MemoryMarshal.Read<int>(data[HeaderLength..]);
                    if (messageType == RtmNewLink && messageLength >= HeaderLength + 8) linkIndex = MemoryMarshal.Read<int>(data[(HeaderLength + 4)..]);
                }
                data = data[Math.Min(data.Length, (messageLength + 3) & ~3)..];
            }
        }
    }

    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0) LibC.close(fd);
    }
}
