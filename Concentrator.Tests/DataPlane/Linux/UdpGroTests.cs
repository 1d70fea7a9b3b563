using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Concentrator.DataPlane.Linux;

namespace Concentrator.Tests.DataPlane.Linux;

/// <summary>
/// UDP GRO on the ESP-in-UDP receive path: how a read datagram is cut into its segments (pure), the control-message
/// parser fed hostile buffers, and the kernel really handing a UDP_GRO socket one read with its segment size (loopback,
/// ephemeral ports; a UDP_SEGMENT send is what the kernel keeps whole for such a socket; no root needed).
/// </summary>
public sealed unsafe class UdpGroTests
{
    [Theory]
    [InlineData(4200, 1400, UdpGroKind.Coalesced, 1400, 3)] // three full segments
    [InlineData(4000, 1400, UdpGroKind.Coalesced, 1400, 3)] // the last one shorter (1200)
    [InlineData(1401, 1400, UdpGroKind.Coalesced, 1400, 2)] // a 1-byte last segment
    [InlineData(1400, 1400, UdpGroKind.Single, 1400, 1)] // one segment: a plain datagram
    [InlineData(1400, -1, UdpGroKind.Single, 1400, 1)] // no control message
    [InlineData(1400, 0, UdpGroKind.BadSize, 1400, 1)] // hostile: size 0 would never advance
    [InlineData(1400, 1401, UdpGroKind.BadSize, 1400, 1)] // hostile: beyond the datagram
    [InlineData(65535, 1, UdpGroKind.Coalesced, 1, 65535)] // hostile but finite: every byte a segment the ESP checks drop
    public void Classify_walks_segments_and_reads_unusable_sizes_as_one_datagram(int length, int size, UdpGroKind kind, int step, int count)
    {
        Assert.Equal(kind, UdpGroSplit.Classify(length, size, out int s));
        Assert.Equal(step, s);
        Assert.Equal(count, UdpGroSplit.SegmentCount(length, s));
        // The walk a receive worker does: every byte in exactly one segment, none empty, all but the last exactly step.
        int covered = 0, segments = 0;
        for (int offset = 0; offset < length; offset += s)
        {
            int segment = Math.Min(s, length - offset);
            Assert.True(segment > 0);
            if (offset + s < length) Assert.Equal(s, segment);
            covered += segment;
            segments++;
        }
        Assert.Equal(length, covered);
        Assert.Equal(count, segments);
    }

    [Fact]
    public void Control_message_parser_finds_udp_gro_and_survives_hostile_buffers()
    {
        byte* buffer = stackalloc byte[64];
        var span = new Span<byte>(buffer, 64);

        Write(span, 0, LibC.CMsgHeaderLength + 4, LibC.SOL_UDP, LibC.UDP_GRO, 1438);
        Assert.Equal(1438, LibC.FindUdpGroSize(buffer, LibC.CMsgSpaceInt));
        Assert.Equal(-1, LibC.FindUdpGroSize(buffer, 0)); // nothing filled in
        Assert.Equal(-1, LibC.FindUdpGroSize(buffer, LibC.CMsgHeaderLength + 3)); // the message reaches past what was filled

        Write(span, 0, LibC.CMsgHeaderLength + 4, LibC.SOL_UDP, LibC.UDP_GRO, -5);
        Assert.Equal(0, LibC.FindUdpGroSize(buffer, LibC.CMsgSpaceInt)); // a negative size reads as the invalid 0

        // Another message first (SOL_SOCKET/SO_TIMESTAMP-like, 16 bytes of data), then UDP_GRO.
        span.Clear();
        Write(span, 0, LibC.CMsgHeaderLength + 16, 1, 29, 0);
        Write(span, 32, LibC.CMsgHeaderLength + 4, LibC.SOL_UDP, LibC.UDP_GRO, 1200);
        Assert.Equal(1200, LibC.FindUdpGroSize(buffer, 56));

        // cmsg_len 0 (would loop forever), shorter than a header, or huge: none found.
        foreach (long bad in new long[] { 0, 8, long.MaxValue })
        {
            span.Clear();
            MemoryMarshal.Write(span, bad);
            Assert.Equal(-1, LibC.FindUdpGroSize(buffer, 64));
        }

        // The wrong level or type is not UDP_GRO.
        Write(span, 0, LibC.CMsgHeaderLength + 4, LibC.SOL_UDP, 103, 1400);
        Assert.Equal(-1, LibC.FindUdpGroSize(buffer, LibC.CMsgSpaceInt));
    }

    [Fact]
    public void A_udp_gro_socket_reads_a_segmented_send_as_one_datagram_with_its_segment_size()
    {
        using var receiver = new UdpBatchSocket(IPAddress.Loopback, 0, reusePort: false);
        Assert.Equal(0, receiver.EnableUdpGro());
        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        sender.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        const int Segment = 1000, Segments = 5, Last = 300;
        SetUdpSegment(sender, Segment);
        var payload = new byte[Segment * (Segments - 1) + Last];
        for (int i = 0; i < payload.Length; i++) payload[i] = (byte)(i / Segment + 1);
        sender.SendTo(payload, new IPEndPoint(IPAddress.Loopback, receiver.LocalPort));

        using var batch = new PacketBatch(4, LinuxDataPlane.UdpGroSlotBytes, 0, udpGro: true);
        int n = receiver.ReceiveBatch(batch, 2000);
        Assert.Equal(1, n);
        Assert.Equal(payload.Length, batch.Lengths[0]);
        Assert.Equal(Segment, batch.SegmentSizes[0]);
        Assert.Equal(payload, batch.Packet(0).ToArray());
        Assert.Equal(UdpGroKind.Coalesced, UdpGroSplit.Classify(batch.Lengths[0], batch.SegmentSizes[0], out int step));
        Assert.Equal(Segments, UdpGroSplit.SegmentCount(batch.Lengths[0], step));

        // A plain datagram on the same socket comes without the control message.
        SetUdpSegment(sender, 0);
        sender.SendTo(new byte[200], new IPEndPoint(IPAddress.Loopback, receiver.LocalPort));
        Assert.Equal(1, receiver.ReceiveBatch(batch, 2000));
        Assert.Equal(200, batch.Lengths[0]);
        Assert.Equal(-1, batch.SegmentSizes[0]);
    }

    /// <summary>UDP_SEGMENT (include/uapi/linux/udp.h): the sender's GSO size.</summary>
    private const int UdpSegment = 103;

    /// <summary>(.NET's SetSocketOption maps only the option names it knows.)</summary>
    internal static void SetUdpSegment(Socket socket, int size) =>
        Assert.Equal(0, LibC.setsockopt((int)socket.Handle, LibC.SOL_UDP, UdpSegment, &size, sizeof(int)));

    private static void Write(Span<byte> buffer, int offset, long length, int level, int type, int value)
    {
        MemoryMarshal.Write(buffer[offset..], length);
        MemoryMarshal.Write(buffer[(offset + 8)..], level);
        MemoryMarshal.Write(buffer[(offset + 12)..], type);
        MemoryMarshal.Write(buffer[(offset + 16)..], value);
    }
}
