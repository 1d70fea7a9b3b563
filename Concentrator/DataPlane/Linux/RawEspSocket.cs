// Ownership/thread-safety: one RawEspSocket per worker, used by that worker only (its PacketBatch is
// not shareable); construction and Dispose are control-plane calls, Dispose after the worker stopped.
// socket(AF_INET, SOCK_RAW, IPPROTO_ESP) receives a copy of every IPv4 packet with protocol 50 in the
// socket's network namespace (with its IP header) and sends ESP to which the kernel adds the IP
// header. socket(AF_INET6, SOCK_RAW, IPPROTO_ESP) is the IPv6 one, and unlike IPv4 it receives the
// payload alone (RFC 3542 §3: no IPv6 header, nor extension headers before ESP), the source in the
// sockaddr_in6; on send, sin6_port must be 0 (Linux reads a nonzero one as the protocol).
// Needs CAP_NET_RAW. The fd is non-blocking; waits are bounded polls. No allocation per batch.
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Concentrator.DataPlane.Linux;

public sealed unsafe class RawEspSocket : IDisposable
{
    /// <summary>SPI + sequence number: anything shorter is not ESP.</summary>
    private const int MinEspLength = 8;

    private int _fd;

    /// <summary>
    /// Opens the raw ESP socket of <paramref name="localAddress"/>'s family (IPv4 when null); binds it to
    /// <paramref name="localAddress"/> unless that is the wildcard (then every ESP packet of the family is received).
    /// </summary>
    public RawEspSocket(IPAddress? localAddress = null, int bufferBytes = UdpBatchSocket.DefaultBufferBytes)
    {
        IsV6 = localAddress?.AddressFamily == AddressFamily.InterNetworkV6;
        _fd = OpenRaw(IsV6 ? LibC.AF_INET6 : LibC.AF_INET, LibC.IPPROTO_ESP, localAddress, bufferBytes, headerIncluded: false);
    }

    /// <summary>
    /// A non-blocking raw socket of <paramref name="protocol"/> with the plane's buffer sizes, bound to
    /// <paramref name="localAddress"/> unless that is null or the IPv6 wildcard; with <paramref name="headerIncluded"/> the
    /// sender writes the IPv4 header (IP_HDRINCL). Control plane only (throws).
    /// </summary>
    internal static unsafe int OpenRaw(int family, int protocol, IPAddress? localAddress, int bufferBytes, bool headerIncluded)
    {
        int fd = LibC.socket(family, LibC.SOCK_RAW | LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC, protocol);
        if (fd < 0)
            throw LibC.LastSocketError();
        try
        {
            int on = 1;
            if (headerIncluded && LibC.setsockopt(fd, LibC.IPPROTO_IP, LibC.IP_HDRINCL, &on, sizeof(int)) != 0)
                throw LibC.LastSocketError();
            if (bufferBytes > 0)
            {
                UdpBatchSocket.SetBuffer(fd, LibC.SO_RCVBUFFORCE, LibC.SO_RCVBUF, bufferBytes);
                UdpBatchSocket.SetBuffer(fd, LibC.SO_SNDBUFFORCE, LibC.SO_SNDBUF, bufferBytes);
            }
            if (localAddress is not null && !localAddress.Equals(IPAddress.IPv6Any))
                UdpBatchSocket.BindOrThrow(fd, localAddress, 0);
        }
        catch
        {
            LibC.close(fd);
            throw;
        }
        return fd;
    }

    public int Handle => Volatile.Read(ref _fd);

    /// <summary>An AF_INET6 socket: packets arrive without an IP header and their slots are IPv6.</summary>
    public bool IsV6 { get; }

    public int ReceiveTimeoutMs { get; set; } = 100;
    public int SendStallMs { get; set; } = 20;

    /// <summary>Packets of the receives so far that were not (IPv4 and) at least an ESP header (dropped, Lengths 0).</summary>
    public long Malformed { get; private set; }

    /// <summary>
    /// Receives up to batch.Capacity packets. For each, Offsets/Lengths locate the ESP packet (the
    /// IPv4 header, IHL*4 bytes, is skipped in place; IPv6 delivers ESP alone) and Addresses (Addresses6)
    /// holds the source; Ports are 0. A packet that is not sane (IPv4 +) ESP gets Length 0.
    /// Returns the count, 0 on timeout, or -errno.
    /// </summary>
    public int ReceiveBatch(PacketBatch batch) => ReceiveBatch(batch, ReceiveTimeoutMs);

    public int ReceiveBatch(PacketBatch batch, int timeoutMs)
    {
        int n = BatchIo.Receive(Handle, batch, timeoutMs);
        if (n <= 0)
            return n;
        int[] lengths = batch.Lengths;
        int[] offsets = batch.Offsets;
        if (IsV6)
        {
            Screen6(batch, n);
            return n;
        }
        for (int i = 0; i < n; i++)
        {
            int length = lengths[i];
            if (length < 20)
            {
                Drop(batch, i);
                continue;
            }
            ReadOnlySpan<byte> ip = batch.Slot(i).Slice(offsets[i], length);
            int ihl = (ip[0] & 0x0F) * 4;
            int total = BinaryPrimitives.ReadUInt16BigEndian(ip.Slice(2));
            if (ip[0] >> 4 != 4 || ihl < 20 || total > length || total < ihl + MinEspLength)
            {
                Drop(batch, i);
                continue;
            }
            offsets[i] += ihl;
            lengths[i] = total - ihl;
            batch.Ports[i] = 0;
        }
        return n;
    }

    /// <summary>IPv6: the payload is ESP from its SPI on; only a runt (or a truncated datagram, already 0) is dropped.</summary>
    private void Screen6(PacketBatch batch, int n)
    {
        int[] lengths = batch.Lengths;
        for (int i = 0; i < n; i++)
        {
            if (lengths[i] < MinEspLength)
            {
                if (lengths[i] != 0) Drop(batch, i);
                continue;
            }
            batch.Ports[i] = 0;
        }
    }

    private void Drop(PacketBatch batch, int i)
    {
        batch.Lengths[i] = 0;
        Malformed++;
    }

    /// <summary>
    /// Sends packets [0, count) — each an ESP packet (SPI first) — to Addresses[i] (Addresses6[i] on an
    /// IPv6 socket); the kernel prepends the IP header with protocol (next header) 50. Returns packets sent or -errno.
    /// </summary>
    public int SendBatch(PacketBatch batch, int count) => SendRaw(Handle, batch, count, SendStallMs);

    /// <summary>Sends packets [0, count) of <paramref name="batch"/> on the raw socket <paramref name="fd"/>. Returns packets sent or -errno.</summary>
    internal static int SendRaw(int fd, PacketBatch batch, int count, int stallMs)
    {
        ushort[] ports = batch.Ports;
        int n = Math.Min(count, batch.Capacity);
        for (int i = 0; i < n; i++)
            ports[i] = 0; // raw IPv4 sockets ignore sin_port, raw IPv6 ones refuse any but 0 or their protocol
        return BatchIo.Send(fd, batch, count, stallMs);
    }

    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
            LibC.close(fd);
        GC.SuppressFinalize(this);
    }

    /// <summary>A leaked socket must not keep its reuseport slot (and port) forever.</summary>
    ~RawEspSocket() => Dispose();
}
