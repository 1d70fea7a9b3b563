// Ownership/thread-safety: one UdpBatchSocket per worker. ReceiveBatch and SendBatch are meant for
// the owning worker (the kernel would tolerate concurrent calls, but a PacketBatch must not be
// shared). Construction, AttachSpiSteering and Dispose are control-plane calls; Dispose only after
// the owning worker stopped using the socket. The fd is non-blocking; waiting is done with poll and
// a bounded timeout so a worker can notice that it should stop. No allocation per batch.
//
// Steering (SO_ATTACH_REUSEPORT_CBPF): the kernel runs the classic BPF program of a reuseport group
// on each datagram with the skb data pointer advanced past the UDP header (net/core/sock_reuseport.c,
// run_bpf: pskb_pull(skb, hdr_len) with hdr_len = sizeof(struct udphdr) from the UDP lookup), so
// offset 0 is the first payload byte. An index >= group size makes the kernel fall back to its hash.
// The program: A = payload[0..4) big-endian (the SPI for ESP-in-UDP, 0 for the RFC 3948 non-ESP
// marker of IKE); A = A % N; return A. A payload shorter than 4 bytes (the 0xFF NAT keepalive)
// aborts the load, and an aborted classic BPF program returns 0: socket 0, the IKE socket.
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace Concentrator.DataPlane.Linux;

public sealed unsafe class UdpBatchSocket : IDisposable
{
    public const int DefaultBufferBytes = 4 << 20;

    private int _fd;

    /// <summary>
    /// Opens a UDP socket of <paramref name="address"/>'s family bound to <paramref name="address"/>:<paramref name="port"/>
    /// (port 0 = ephemeral), with SO_REUSEPORT when asked, and send/receive buffers of
    /// <paramref name="bufferBytes"/> (forced past rmem_max/wmem_max when CAP_NET_ADMIN allows). An AF_INET6 socket is
    /// IPV6_V6ONLY whatever net.ipv6.bindv6only says: IPv4 has a socket of its own, so a peer's packets always arrive
    /// as the family its SA sends to (never as a v4-mapped address). Throws on failure (control plane).
    /// </summary>
    public UdpBatchSocket(IPAddress address, int port, bool reusePort = true, int bufferBytes = DefaultBufferBytes)
    {
        ArgumentNullException.ThrowIfNull(address);
        if ((uint)port > ushort.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(port));
        bool v6 = address.AddressFamily == AddressFamily.InterNetworkV6;
        int fd = LibC.socket(v6 ? LibC.AF_INET6 : LibC.AF_INET, LibC.SOCK_DGRAM | LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC, LibC.IPPROTO_UDP);
        if (fd < 0)
            throw LibC.LastSocketError();
        try
        {
            int one = 1;
            if (v6 && LibC.setsockopt(fd, LibC.IPPROTO_IPV6, LibC.IPV6_V6ONLY, &one, sizeof(int)) != 0)
                throw LibC.LastSocketError();
            if (reusePort && LibC.setsockopt(fd, LibC.SOL_SOCKET, LibC.SO_REUSEPORT, &one, sizeof(int)) != 0)
                throw LibC.LastSocketError();
            if (bufferBytes > 0)
            {
                SetBuffer(fd, LibC.SO_RCVBUFFORCE, LibC.SO_RCVBUF, bufferBytes);
                SetBuffer(fd, LibC.SO_SNDBUFFORCE, LibC.SO_SNDBUF, bufferBytes);
            }
            try
            {
                BindOrThrow(fd, address, (ushort)port);
            }
            catch (SocketException e)
            {
                throw new Transport.PortBindException(new IPEndPoint(address, port), e);
            }
            LibC.SockAddrIn6 bound;
            uint length = (uint)sizeof(LibC.SockAddrIn6);
            if (LibC.getsockname(fd, &bound, &length) != 0)
                throw LibC.LastSocketError();
            LocalIPAddress = address;
            LocalAddress = v6 ? 0 : PacketBatch.ToUInt32(address);
            IsV6 = v6;
            LocalPort = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(bound.Port);
        }
        catch
        {
            LibC.close(fd);
            throw;
        }
        _fd = fd;
    }

    /// <summary>
    /// N sockets sharing one address:port (one per worker); socket i has reuseport index i. With
    /// <paramref name="steerBySpi"/> the SPI program is attached, so ESP with SPI s reaches
    /// socket <see cref="SteeringIndex"/>(s, N) and IKE (non-ESP marker) reaches socket 0.
    /// </summary>
    public static UdpBatchSocket[] OpenGroup(IPAddress address, int port, int count, bool steerBySpi, int bufferBytes = DefaultBufferBytes)
    {
        if (count <= 0 || count > 1024)
            throw new ArgumentOutOfRangeException(nameof(count));
        var sockets = new UdpBatchSocket[count];
        int opened = 0;
        try
        {
            for (int i = 0; i < count; i++)
            {
                sockets[i] = new UdpBatchSocket(address, i == 0 ? port : sockets[0].LocalPort, reusePort: true, bufferBytes);
                opened++;
            }
            if (steerBySpi)
                sockets[0].AttachSpiSteering(count);
            return sockets;
        }
        catch
        {
            for (int i = 0; i < opened; i++)
                sockets[i].Dispose();
            throw;
        }
    }

    /// <summary>Binds <paramref name="fd"/> (of <paramref name="address"/>'s family) to it; throws on failure.</summary>
    internal static void BindOrThrow(int fd, IPAddress address, ushort port)
    {
        int result;
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            LibC.SockAddrIn6 sa6;
            LibC.Fill6(&sa6, PacketBatch.ToUInt128(address), port);
            result = LibC.bind(fd, &sa6, (uint)sizeof(LibC.SockAddrIn6));
        }
        else
        {
            LibC.SockAddrIn sa;
            LibC.Fill(&sa, PacketBatch.ToUInt32(address), port);
            result = LibC.bind(fd, &sa, (uint)sizeof(LibC.SockAddrIn));
        }
        if (result != 0)
            throw LibC.LastSocketError();
    }

    public int Handle => Volatile.Read(ref _fd);
    /// <summary>Bound IPv4 address, host order (0 for an IPv6 socket).</summary>
    public uint LocalAddress { get; }
    public IPAddress LocalIPAddress { get; }
    /// <summary>An AF_INET6 (IPV6_V6ONLY) socket: its batches' slots are IPv6.</summary>
    public bool IsV6 { get; }
    public int LocalPort { get; }
    public IPEndPoint LocalEndPoint => new(LocalIPAddress, LocalPort);

    /// <summary>How long ReceiveBatch waits for a first datagram (ms; -1 = forever).</summary>
    public int ReceiveTimeoutMs { get; set; } = 100;

    /// <summary>How long SendBatch waits for send-buffer space per stall before dropping the rest (ms).</summary>
    public int SendStallMs { get; set; } = 20;

    /// <summary>The reuseport index the steering program gives a datagram whose first word is <paramref name="spi"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int SteeringIndex(uint spi, int sockets) => (int)(spi % (uint)sockets);

    /// <summary>The classic BPF program: ld [0]; mod #N; ret a.</summary>
    public static LibC.SockFilter[] BuildSpiSteeringProgram(int sockets)
    {
        if (sockets <= 0)
            throw new ArgumentOutOfRangeException(nameof(sockets));
        return
        [
            new LibC.SockFilter(LibC.BPF_LD | LibC.BPF_W | LibC.BPF_ABS, 0),
            new LibC.SockFilter(LibC.BPF_ALU | LibC.BPF_MOD | LibC.BPF_K, (uint)sockets),
            new LibC.SockFilter(LibC.BPF_RET | LibC.BPF_A, 0),
        ];
    }

    /// <summary>Attaches the SPI steering program to this socket's reuseport group (bind first). Throws on failure.</summary>
    public void AttachSpiSteering(int sockets)
    {
        LibC.SockFilter[] program = BuildSpiSteeringProgram(sockets);
        fixed (LibC.SockFilter* p = program)
        {
            LibC.SockFProg prog;
            prog.Length = (ushort)program.Length;
            prog.Filter = p;
            if (LibC.setsockopt(Handle, LibC.SOL_SOCKET, LibC.SO_ATTACH_REUSEPORT_CBPF, &prog, (uint)sizeof(LibC.SockFProg)) != 0)
                throw LibC.LastSocketError();
        }
    }

    /// <summary>
    /// Receives up to batch.Capacity datagrams (recvmmsg, MSG_WAITFORONE), waiting at most
    /// <see cref="ReceiveTimeoutMs"/> for the first. Per packet: Lengths/Offsets, source Addresses/Ports.
    /// Returns the count, 0 on timeout, or -errno.
    /// </summary>
    public int ReceiveBatch(PacketBatch batch) => BatchIo.Receive(Handle, batch, ReceiveTimeoutMs);

    public int ReceiveBatch(PacketBatch batch, int timeoutMs) => BatchIo.Receive(Handle, batch, timeoutMs);

    /// <summary>
    /// Sends packets [0, count) of the batch (sendmmsg) to their Addresses/Ports. Returns packets
    /// sent (individually refused packets are skipped), or -errno on a socket-level error.
    /// </summary>
    public int SendBatch(PacketBatch batch, int count) => BatchIo.Send(Handle, batch, count, SendStallMs);

    /// <summary>One datagram (sendto): IKE and tests. Returns bytes sent or -errno.</summary>
    public int SendTo(ReadOnlySpan<byte> data, uint address, ushort port)
    {
        LibC.SockAddrIn sa;
        LibC.Fill(&sa, address, port);
        fixed (byte* p = data)
        {
            nint n = LibC.sendto(Handle, p, (nuint)data.Length, LibC.MSG_DONTWAIT, &sa, (uint)sizeof(LibC.SockAddrIn));
            return n < 0 ? -LibC.Errno() : (int)n;
        }
    }

    /// <summary>One datagram to an IPv6 peer (host-order address). Returns bytes sent or -errno.</summary>
    public int SendTo6(ReadOnlySpan<byte> data, UInt128 address, ushort port)
    {
        LibC.SockAddrIn6 sa;
        LibC.Fill6(&sa, address, port);
        fixed (byte* p = data)
        {
            nint n = LibC.sendto(Handle, p, (nuint)data.Length, LibC.MSG_DONTWAIT, &sa, (uint)sizeof(LibC.SockAddrIn6));
            return n < 0 ? -LibC.Errno() : (int)n;
        }
    }

    internal static void SetBuffer(int fd, int forceOption, int option, int bytes)
    {
        // FORCE needs CAP_NET_ADMIN; without it the plain option is capped at the sysctl maximum.
        if (LibC.setsockopt(fd, LibC.SOL_SOCKET, forceOption, &bytes, sizeof(int)) != 0)
            LibC.setsockopt(fd, LibC.SOL_SOCKET, option, &bytes, sizeof(int));
    }

    /// <summary>
    /// Asks for UDP GRO (SOL_UDP/UDP_GRO): reads may return several datagrams of one flow as one, with their segment
    /// size in a control message (the batch must be built with udpGro and slots of a full datagram). 0 or an errno.
    /// </summary>
    public int EnableUdpGro()
    {
        int one = 1;
        return LibC.setsockopt(Handle, LibC.SOL_UDP, LibC.UDP_GRO, &one, sizeof(int)) == 0 ? 0 : LibC.Errno();
    }

    public void DisableUdpGro()
    {
        int zero = 0;
        LibC.setsockopt(Handle, LibC.SOL_UDP, LibC.UDP_GRO, &zero, sizeof(int));
    }

    /// <summary>Effective SO_RCVBUF/SO_SNDBUF (the kernel reports double the requested value).</summary>
    public int GetBufferSize(bool receive)
    {
        int value = 0;
        uint length = sizeof(int);
        LibC.getsockopt(Handle, LibC.SOL_SOCKET, receive ? LibC.SO_RCVBUF : LibC.SO_SNDBUF, &value, &length);
        return value;
    }

    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
            LibC.close(fd);
        GC.SuppressFinalize(this);
    }

    /// <summary>A leaked socket must not keep its reuseport slot (and port) forever.</summary>
    ~UdpBatchSocket() => Dispose();
}
