// Ownership/thread-safety: one RawEspSocket per worker, used by that worker only (its PacketBatch is
// not shareable); construction and Dispose are control-plane calls, Dispose after the worker stopped.
// socket(AF_INET, SOCK_RAW, IPPROTO_ESP) receives a copy of every IPv4 packet with protocol 50 in the
// socket's network namespace (with its IP header) and sends ESP to which the kernel adds the IP
// header. Needs CAP_NET_RAW. The fd is non-blocking; waits are bounded polls. No allocation per batch.
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Concentrator.DataPlane.Linux;

public sealed unsafe class RawEspSocket : IDisposable
{
    /// <summary>SPI + sequence number: anything shorter is not ESP.</summary>
    private const int MinEspLength = 8;

    private int _fd;

    /// <summary>Opens the raw ESP socket; binds it to <paramref name="localAddress"/> when given (only packets to it are received).</summary>
    public RawEspSocket(IPAddress? localAddress = null, int bufferBytes = UdpBatchSocket.DefaultBufferBytes)
    {
        int fd = LibC.socket(LibC.AF_INET, LibC.SOCK_RAW | LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC, LibC.IPPROTO_ESP);
        if (fd < 0)
            throw new SocketException(LibC.Errno());
        try
        {
            if (bufferBytes > 0)
            {
                UdpBatchSocket.SetBuffer(fd, LibC.SO_RCVBUFFORCE, LibC.SO_RCVBUF, bufferBytes);
                UdpBatchSocket.SetBuffer(fd, LibC.SO_SNDBUFFORCE, LibC.SO_SNDBUF, bufferBytes);
            }
            if (localAddress is not null)
            {
                LibC.SockAddrIn sa;
                LibC.Fill(&sa, PacketBatch.ToUInt32(localAddress), 0);
                if (LibC.bind(fd, &sa, (uint)sizeof(LibC.SockAddrIn)) != 0)
                    throw new SocketException(LibC.Errno());
            }
        }
        catch
        {
            LibC.close(fd);
            throw;
        }
        _fd = fd;
    }

    public int Handle => Volatile.Read(ref _fd);

    public int ReceiveTimeoutMs { get; set; } = 100;
    public int SendStallMs { get; set; } = 20;

    /// <summary>Packets of the last receives that were not IPv4 carrying at least an ESP header (dropped, Lengths 0).</summary>
    public long Malformed { get; private set; }

    /// <summary>
    /// Receives up to batch.Capacity packets. For each, Offsets/Lengths locate the ESP packet (the
    /// IPv4 header, IHL*4 bytes, is skipped in place) and Addresses holds the source; Ports are 0.
    /// A packet that is not sane IPv4 + ESP gets Length 0. Returns the count, 0 on timeout, or -errno.
    /// </summary>
    public int ReceiveBatch(PacketBatch batch) => ReceiveBatch(batch, ReceiveTimeoutMs);

    public int ReceiveBatch(PacketBatch batch, int timeoutMs)
    {
        int n = BatchIo.Receive(Handle, batch, timeoutMs);
        if (n <= 0)
            return n;
        int[] lengths = batch.Lengths;
        int[] offsets = batch.Offsets;
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

    private void Drop(PacketBatch batch, int i)
    {
        batch.Lengths[i] = 0;
        Malformed++;
    }

    /// <summary>
    /// Sends packets [0, count) — each an ESP packet (SPI first) — to Addresses[i]; the kernel
    /// prepends the IPv4 header with protocol 50. Returns packets sent or -errno.
    /// </summary>
    public int SendBatch(PacketBatch batch, int count)
    {
        ushort[] ports = batch.Ports;
        int n = Math.Min(count, batch.Capacity);
        for (int i = 0; i < n; i++)
            ports[i] = 0; // raw IPv4 sockets ignore sin_port; keep it 0 like the kernel reports it
        return BatchIo.Send(Handle, batch, count, SendStallMs);
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
