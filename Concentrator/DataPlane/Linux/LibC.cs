// Ownership/thread-safety: a stateless P/Invoke surface into glibc. Every entry point is as
// thread-safe as the libc call itself; callers own the file descriptors they pass. All imports
// are source-generated ([LibraryImport]) and blittable; errno is captured with SetLastError and
// read back with Marshal.GetLastPInvokeError (no allocation). Struct layouts match x86_64 Linux.
// Hot-path helpers return counts or negative errno values and never throw.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Concentrator.DataPlane.Linux;

public static unsafe partial class LibC
{
    private const string Lib = "libc";

    // <bits/socket.h>, <netinet/in.h>
    public const int AF_INET = 2;
    public const int AF_INET6 = 10;
    public const int AF_NETLINK = 16;
    public const int SOCK_DGRAM = 2;
    public const int SOCK_RAW = 3;
    public const int SOCK_NONBLOCK = 0x800;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int IPPROTO_IP = 0;
    public const int IPPROTO_ICMP = 1;
    public const int IPPROTO_TCP = 6;
    public const int IPPROTO_UDP = 17;
    public const int IPPROTO_IPV6 = 41;
    public const int IPPROTO_ESP = 50;
    public const int IPPROTO_AH = 51;
    /// <summary>IPPROTO_IP level: the sender writes the IPv4 header itself (raw(7)).</summary>
    public const int IP_HDRINCL = 3;
    public const int IPPROTO_ICMPV6 = 58;

    // <linux/in6.h>
    public const int IPV6_V6ONLY = 26;

    // <asm-generic/socket.h>
    public const int SOL_SOCKET = 1;
    public const int SO_REUSEADDR = 2;
    public const int SO_SNDBUF = 7;
    public const int SO_RCVBUF = 8;
    public const int SO_REUSEPORT = 15;
    public const int SO_SNDBUFFORCE = 32;
    public const int SO_RCVBUFFORCE = 33;
    public const int SO_MARK = 36;
    public const int SO_ATTACH_REUSEPORT_CBPF = 51;

    // <bits/socket.h> message flags
    public const int MSG_TRUNC = 0x20;
    public const int MSG_DONTWAIT = 0x40;
    public const int MSG_WAITFORONE = 0x10000;

    // <asm-generic/fcntl.h>
    public const int O_RDONLY = 0;
    public const int O_RDWR = 2;
    public const int O_NONBLOCK = 0x800;
    public const int O_CLOEXEC = 0x80000;

    // <poll.h>
    public const short POLLIN = 0x001;
    public const short POLLOUT = 0x004;
    public const short POLLERR = 0x008;
    public const short POLLHUP = 0x010;
    public const short POLLNVAL = 0x020;

    // <asm-generic/errno-base.h>, <asm-generic/errno.h>
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int ESRCH = 3;
    public const int EINTR = 4;
    public const int EBADF = 9;
    public const int EAGAIN = 11;
    public const int EWOULDBLOCK = EAGAIN;
    public const int ENOMEM = 12;
    public const int EFAULT = 14;
    public const int EACCES = 13;
    public const int EBUSY = 16;
    public const int EEXIST = 17;
    public const int ENODEV = 19;
    public const int EINVAL = 22;
    public const int ENOTSOCK = 88;
    public const int EMSGSIZE = 90;
    public const int EAFNOSUPPORT = 97;
    public const int ENOBUFS = 105;
    public const int ETIMEDOUT = 110;
    public const int ECONNREFUSED = 111;
    public const int EHOSTUNREACH = 113;

    // <linux/sockios.h>
    public const uint SIOCGIFFLAGS = 0x8913;
    public const uint SIOCSIFFLAGS = 0x8914;
    public const uint SIOCGIFMTU = 0x8921;
    public const uint SIOCSIFMTU = 0x8922;
    public const uint SIOCGIFINDEX = 0x8933;

    // <net/if.h>
    public const int IFNAMSIZ = 16;
    public const short IFF_UP = 0x1;
    public const short IFF_RUNNING = 0x40;

    // <linux/if_tun.h>
    public const uint TUNSETIFF = 0x400454ca;
    public const uint TUNSETQUEUE = 0x400454d9;
    public const short IFF_TUN = 0x0001;
    public const short IFF_NO_PI = 0x1000;
    public const short IFF_MULTI_QUEUE = 0x0100;
    public const short IFF_ATTACH_QUEUE = 0x0200;
    public const short IFF_DETACH_QUEUE = 0x0400;
    public const short IFF_VNET_HDR = 0x4000;
    public const uint TUNSETOFFLOAD = 0x400454d0;
    public const uint TUNGETIFF = 0x800454d2;
    public const uint TUNSETVNETHDRSZ = 0x400454d8;

    // <linux/virtio_net.h>: struct virtio_net_hdr (10 bytes, little-endian fields on a little-endian host)
    public const int VirtioNetHdrLength = 10;
    public const byte VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
    public const byte VIRTIO_NET_HDR_GSO_NONE = 0;
    public const byte VIRTIO_NET_HDR_GSO_TCPV4 = 1;
    public const byte VIRTIO_NET_HDR_GSO_TCPV6 = 4;

    // <sched.h>
    public const int CLONE_NEWNET = 0x40000000;

    // <linux/filter.h>, <linux/bpf_common.h>: classic BPF opcodes
    public const ushort BPF_LD = 0x00;
    public const ushort BPF_ALU = 0x04;
    public const ushort BPF_RET = 0x06;
    public const ushort BPF_W = 0x00;
    public const ushort BPF_ABS = 0x20;
    public const ushort BPF_MOD = 0x90;
    public const ushort BPF_K = 0x00;
    public const ushort BPF_A = 0x10;

    [StructLayout(LayoutKind.Explicit, Size = 16)]
    public struct SockAddrIn
    {
        [FieldOffset(0)] public ushort Family;
        /// <summary>Network byte order.</summary>
        [FieldOffset(2)] public ushort Port;
        /// <summary>Network byte order (as the bytes appear on the wire).</summary>
        [FieldOffset(4)] public uint Address;
        [FieldOffset(8)] public ulong Zero;
    }

    /// <summary>struct sockaddr_in6 (RFC 3493 §3.3): 28 bytes, the address as its 16 wire octets.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 28)]
    public struct SockAddrIn6
    {
        [FieldOffset(0)] public ushort Family;
        /// <summary>Network byte order.</summary>
        [FieldOffset(2)] public ushort Port;
        [FieldOffset(4)] public uint FlowInfo;
        /// <summary>The 16 address octets as on the wire.</summary>
        [FieldOffset(8)] public fixed byte Address[16];
        [FieldOffset(24)] public uint ScopeId;
    }

    [StructLayout(LayoutKind.Explicit, Size = 16)]
    public struct IoVec
    {
        [FieldOffset(0)] public void* Base;
        [FieldOffset(8)] public nuint Length;
    }

    [StructLayout(LayoutKind.Explicit, Size = 56)]
    public struct MsgHdr
    {
        [FieldOffset(0)] public void* Name;
        [FieldOffset(8)] public uint NameLength;
        [FieldOffset(16)] public IoVec* Iov;
        [FieldOffset(24)] public nuint IovLength;
        [FieldOffset(32)] public void* Control;
        [FieldOffset(40)] public nuint ControlLength;
        [FieldOffset(48)] public int Flags;
    }

    [StructLayout(LayoutKind.Explicit, Size = 64)]
    public struct MMsgHdr
    {
        [FieldOffset(0)] public MsgHdr Header;
        [FieldOffset(56)] public uint Length;
    }

    [StructLayout(LayoutKind.Explicit, Size = 8)]
    public struct PollFd
    {
        [FieldOffset(0)] public int Fd;
        [FieldOffset(4)] public short Events;
        [FieldOffset(6)] public short ReturnedEvents;
    }

    [StructLayout(LayoutKind.Explicit, Size = 16)]
    public struct TimeSpec
    {
        [FieldOffset(0)] public long Seconds;
        [FieldOffset(8)] public long Nanoseconds;
    }

    /// <summary>struct ifreq: 16-byte name then a 24-byte union (flags, mtu, ifindex ...).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 40)]
    public struct IfReq
    {
        [FieldOffset(0)] public fixed byte Name[IFNAMSIZ];
        [FieldOffset(16)] public short Flags;
        [FieldOffset(16)] public int Mtu;
        [FieldOffset(16)] public int Index;
    }

    /// <summary>struct sock_filter (classic BPF instruction).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 8)]
    public struct SockFilter
    {
        [FieldOffset(0)] public ushort Code;
        [FieldOffset(2)] public byte JumpTrue;
        [FieldOffset(3)] public byte JumpFalse;
        [FieldOffset(4)] public uint K;

        public SockFilter(ushort code, uint k) { Code = code; JumpTrue = 0; JumpFalse = 0; K = k; }
    }

    /// <summary>struct sock_fprog.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 16)]
    public struct SockFProg
    {
        [FieldOffset(0)] public ushort Length;
        [FieldOffset(8)] public SockFilter* Filter;
    }

    [LibraryImport(Lib, EntryPoint = "socket", SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);

    [LibraryImport(Lib, EntryPoint = "bind", SetLastError = true)]
    public static partial int bind(int fd, void* address, uint addressLength);

    [LibraryImport(Lib, EntryPoint = "setsockopt", SetLastError = true)]
    public static partial int setsockopt(int fd, int level, int name, void* value, uint valueLength);

    [LibraryImport(Lib, EntryPoint = "getsockopt", SetLastError = true)]
    public static partial int getsockopt(int fd, int level, int name, void* value, uint* valueLength);

    [LibraryImport(Lib, EntryPoint = "getsockname", SetLastError = true)]
    public static partial int getsockname(int fd, void* address, uint* addressLength);

    [LibraryImport(Lib, EntryPoint = "recvmmsg", SetLastError = true)]
    public static partial int recvmmsg(int fd, MMsgHdr* messages, uint count, int flags, TimeSpec* timeout);

    [LibraryImport(Lib, EntryPoint = "sendmmsg", SetLastError = true)]
    public static partial int sendmmsg(int fd, MMsgHdr* messages, uint count, int flags);

    [LibraryImport(Lib, EntryPoint = "sendto", SetLastError = true)]
    public static partial nint sendto(int fd, void* buffer, nuint length, int flags, void* address, uint addressLength);

    [LibraryImport(Lib, EntryPoint = "recvfrom", SetLastError = true)]
    public static partial nint recvfrom(int fd, void* buffer, nuint length, int flags, void* address, uint* addressLength);

    /// <summary>ioctl(2) with a pointer argument (the variadic call is ABI-identical on x86_64 for pointers).</summary>
    [LibraryImport(Lib, EntryPoint = "ioctl", SetLastError = true)]
    public static partial int ioctl(int fd, nuint request, void* argument);

    /// <summary>open(2) without a mode (never creates files). <paramref name="path"/> is NUL-terminated UTF-8.</summary>
    [LibraryImport(Lib, EntryPoint = "open", SetLastError = true)]
    public static partial int open(byte* path, int flags);

    [LibraryImport(Lib, EntryPoint = "read", SetLastError = true)]
    public static partial nint read(int fd, void* buffer, nuint count);

    [LibraryImport(Lib, EntryPoint = "write", SetLastError = true)]
    public static partial nint write(int fd, void* buffer, nuint count);

    [LibraryImport(Lib, EntryPoint = "readv", SetLastError = true)]
    public static partial nint readv(int fd, IoVec* iov, int count);

    [LibraryImport(Lib, EntryPoint = "writev", SetLastError = true)]
    public static partial nint writev(int fd, IoVec* iov, int count);

    [LibraryImport(Lib, EntryPoint = "close", SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport(Lib, EntryPoint = "poll", SetLastError = true)]
    public static partial int poll(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport(Lib, EntryPoint = "setns", SetLastError = true)]
    public static partial int setns(int fd, int nsType);

    [LibraryImport(Lib, EntryPoint = "geteuid")]
    public static partial uint geteuid();

    /// <summary>errno of the last P/Invoke made on this thread with SetLastError.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Errno() => Marshal.GetLastPInvokeError();

    /// <summary>The last call's errno as a SocketException whose SocketErrorCode is .NET's value for it (SocketException(int)
    /// takes SocketError codes, not Linux errno values: errno 98 would not read as AddressAlreadyInUse).</summary>
    public static System.Net.Sockets.SocketException LastSocketError()
    {
        int errno = Errno();
        System.Net.Sockets.SocketError? code = errno switch
        {
            1 or 13 => System.Net.Sockets.SocketError.AccessDenied,       // EPERM, EACCES
            4 => System.Net.Sockets.SocketError.Interrupted,               // EINTR
            11 => System.Net.Sockets.SocketError.WouldBlock,               // EAGAIN
            22 => System.Net.Sockets.SocketError.InvalidArgument,          // EINVAL
            90 => System.Net.Sockets.SocketError.MessageSize,              // EMSGSIZE
            97 => System.Net.Sockets.SocketError.AddressFamilyNotSupported, // EAFNOSUPPORT
            98 => System.Net.Sockets.SocketError.AddressAlreadyInUse,      // EADDRINUSE
            99 => System.Net.Sockets.SocketError.AddressNotAvailable,      // EADDRNOTAVAIL
            101 => System.Net.Sockets.SocketError.NetworkUnreachable,      // ENETUNREACH
            105 => System.Net.Sockets.SocketError.NoBufferSpaceAvailable,  // ENOBUFS
            111 => System.Net.Sockets.SocketError.ConnectionRefused,       // ECONNREFUSED
            113 => System.Net.Sockets.SocketError.HostUnreachable,         // EHOSTUNREACH
            _ => null,
        };
        return code is { } c ? new System.Net.Sockets.SocketException((int)c) : new System.Net.Sockets.SocketException(errno);
    }

    /// <summary>The transient errors a hot-path loop retries or treats as "nothing now".</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsTransient(int errno) => errno == EINTR || errno == EAGAIN;

    /// <summary>strerror-like text for control-plane messages (allocates: never on the packet path).</summary>
    public static string Describe(int errno) => $"{Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";

    /// <summary>
    /// SO_MARK (needs CAP_NET_ADMIN): every packet the socket sends carries <paramref name="mark"/>, which routing rules
    /// can match (fwmark). Returns 0 or the errno.
    /// </summary>
    public static int SetMark(int fd, uint mark) => setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(uint)) == 0 ? 0 : Errno();

    /// <summary>open(2) for control-plane use: the path is marshalled on the stack.</summary>
    public static int Open(string path, int flags)
    {
        int max = System.Text.Encoding.UTF8.GetMaxByteCount(path.Length) + 1;
        Span<byte> bytes = max <= 512 ? stackalloc byte[max] : new byte[max];
        int n = System.Text.Encoding.UTF8.GetBytes(path, bytes);
        bytes[n] = 0;
        fixed (byte* p = bytes)
            return open(p, flags);
    }

    /// <summary>Fills an ifreq's name (NUL-terminated, at most IFNAMSIZ-1 bytes). False when too long.</summary>
    public static bool TrySetName(ref IfReq request, string name)
    {
        if (name.Length == 0 || name.Length >= IFNAMSIZ)
            return false;
        fixed (byte* p = request.Name)
        {
            var span = new Span<byte>(p, IFNAMSIZ);
            span.Clear();
            for (int i = 0; i < name.Length; i++)
            {
                char c = name[i];
                if (c <= ' ' || c > '~' || c == '/' || c == ':')
                    return false;
                span[i] = (byte)c;
            }
        }
        return true;
    }

    public static string GetName(ref IfReq request)
    {
        fixed (byte* p = request.Name)
        {
            var span = new ReadOnlySpan<byte>(p, IFNAMSIZ);
            int end = span.IndexOf((byte)0);
            return System.Text.Encoding.ASCII.GetString(end < 0 ? span : span.Slice(0, end));
        }
    }

    /// <summary>Host-order IPv4 address/port into a sockaddr_in.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Fill(SockAddrIn* sa, uint hostOrderAddress, ushort hostOrderPort)
    {
        sa->Family = AF_INET;
        sa->Port = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(hostOrderPort);
        sa->Address = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(hostOrderAddress);
        sa->Zero = 0;
    }

    /// <summary>
    /// Host-order IPv6 address (the 128-bit big-endian value of its octets) and port into a sockaddr_in6; flow label and
    /// scope 0 (a link-local peer is not addressable without a scope: outer addresses are global or ULA).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Fill6(SockAddrIn6* sa, UInt128 hostOrderAddress, ushort hostOrderPort)
    {
        sa->Family = AF_INET6;
        sa->Port = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(hostOrderPort);
        sa->FlowInfo = 0;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt128BigEndian(new Span<byte>(sa->Address, 16), hostOrderAddress);
        sa->ScopeId = 0;
    }

    /// <summary>The host-order value of a sockaddr_in6's address (inverse of <see cref="Fill6"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static UInt128 Address6(SockAddrIn6* sa) =>
        System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(new ReadOnlySpan<byte>(sa->Address, 16));
}
