// Ownership/thread-safety: one RawAhSocket per plane; receive only from the ah-raw-in thread (its PacketBatch is not
// shareable), send from any outbound thread (sendmmsg on one fd is safe; each thread passes its own batch).
// socket(AF_INET, SOCK_RAW, IPPROTO_AH) receives a copy of every IPv4 packet with protocol 51 in the socket's network
// namespace, IP header included. AH authenticates the IP header (RFC 4302 §3.3.3), so the plane writes the header
// itself (IP_HDRINCL): the kernel then only fills in the checksum and total length (both recomputed here alike, the
// checksum mutable anyway) and an identification of 0 (AhPacket never sends 0), so what was authenticated is what
// leaves. IPv6 outer AH is not carried: a raw AF_INET6 socket delivers no IPv6 header, which the ICV covers.
// Needs CAP_NET_RAW. The fd is non-blocking; waits are bounded polls. No allocation per batch.
using System.Buffers.Binary;
using System.Net;

namespace Concentrator.DataPlane.Linux;

public sealed class RawAhSocket : IDisposable
{
    /// <summary>IPv4 header + AH's fixed part: anything shorter is not AH.</summary>
    private const int MinLength = 20 + 12;

    private int _fd;

    /// <summary>Opens the raw AH socket, bound to <paramref name="localAddress"/> unless that is the wildcard or null.</summary>
    public RawAhSocket(IPAddress? localAddress = null, int bufferBytes = UdpBatchSocket.DefaultBufferBytes)
    {
        _fd = RawEspSocket.OpenRaw(LibC.AF_INET, LibC.IPPROTO_AH, localAddress, bufferBytes, headerIncluded: true);
    }

    public int Handle => Volatile.Read(ref _fd);

    public int SendStallMs { get; set; } = 20;

    /// <summary>Packets of the receives so far that were not a sane IPv4 packet long enough for AH (dropped, Lengths 0).</summary>
    public long Malformed { get; private set; }

    /// <summary>
    /// Receives up to batch.Capacity packets; Offsets/Lengths locate each whole IPv4 packet (header included, its total
    /// length), Addresses its source. A packet that is not sane IPv4 gets Length 0. Returns the count, 0 on timeout, or -errno.
    /// </summary>
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
            if (length == 0) continue; // truncated: counted by the batch
            ReadOnlySpan<byte> ip = batch.Slot(i).Slice(offsets[i], length);
            int total = length >= 4 ? BinaryPrimitives.ReadUInt16BigEndian(ip[2..]) : 0;
            if (length < MinLength || ip[0] >> 4 != 4 || total > length || total < MinLength)
            {
                lengths[i] = 0;
                Malformed++;
                continue;
            }
            lengths[i] = total;
            batch.Ports[i] = 0;
        }
        return n;
    }

    /// <summary>Sends packets [0, count), each a whole IPv4 packet, to Addresses[i]. Returns packets sent or -errno.</summary>
    public int SendBatch(PacketBatch batch, int count) => RawEspSocket.SendRaw(Handle, batch, count, SendStallMs);

    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
            LibC.close(fd);
        GC.SuppressFinalize(this);
    }

    ~RawAhSocket() => Dispose();
}
