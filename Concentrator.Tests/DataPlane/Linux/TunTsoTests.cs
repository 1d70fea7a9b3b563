using System.Buffers.Binary;
using Concentrator.DataPlane.Linux;

namespace Concentrator.Tests.DataPlane.Linux;

/// <summary>
/// Splitting a TUN TSO super-packet (TunTso) as a function over bytes: every segment is checked against a
/// reference of its own (RFC 1071 sums written here, tcp_gso_segment's rules), and hostile virtio-net headers
/// are refused without throwing.
/// </summary>
public sealed class TunTsoTests
{
    private const int Room = PacketBatch.DefaultBufferSize - PacketBatch.DefaultHeadroom;

    [Theory]
    [InlineData(false, 1000, 9500, 12)]
    [InlineData(false, 1348, 1348 * 48, 12)]
    [InlineData(true, 1208, 5000, 0)]
    [InlineData(true, 1000, 1001, 12)]
    public void Segments_carry_the_payload_in_order_with_per_segment_headers_and_valid_checksums(bool v6, int gso, int payload, int options)
    {
        var frame = SuperPacket(v6, options, payload, seq: 0xFFFFF000, id: 0xFFFE, flags: 0x80 | 0x10 | 0x08 | 0x01); // CWR|ACK|PSH|FIN
        int ip = v6 ? 40 : 20, headers = ip + 20 + options;
        var header = VirtioHeader(v6 ? LibC.VIRTIO_NET_HDR_GSO_TCPV6 : LibC.VIRTIO_NET_HDR_GSO_TCPV4, gso, ip, hdrLen: frame.Length);

        Assert.True(TunTso.TryPlan(header, frame, Room, out var plan));
        int expected = (payload + gso - 1) / gso;
        Assert.Equal(expected, plan.Segments);
        Assert.Equal(headers, plan.HeaderLength);

        var data = new List<byte>();
        var buffer = new byte[Room];
        for (int k = 0; k < plan.Segments; k++)
        {
            buffer.AsSpan().Fill(0xEE);
            int length = TunTso.WriteSegment(plan, frame, k, buffer);
            var s = buffer.AsSpan(0, length).ToArray();
            bool last = k == plan.Segments - 1;
            Assert.Equal(headers + (last ? payload - k * gso : gso), length);
            if (v6)
            {
                Assert.Equal(length - 40, BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(4)));
            }
            else
            {
                Assert.Equal(length, BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(2)));
                Assert.Equal((ushort)(0xFFFE + k), BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(4)));
                Assert.Equal(0xFFFF, RefFold(RefSum(s.AsSpan(0, 20))));
            }
            Assert.Equal(unchecked(0xFFFFF000u + (uint)(k * gso)), BinaryPrimitives.ReadUInt32BigEndian(s.AsSpan(ip + 4)));
            byte flags = s[ip + 13];
            Assert.Equal(k == 0, (flags & 0x80) != 0); // CWR on the first only
            Assert.Equal(last, (flags & 0x08) != 0); // PSH on the last only
            Assert.Equal(last, (flags & 0x01) != 0); // FIN on the last only
            Assert.True((flags & 0x10) != 0);
            Assert.True(s.AsSpan(ip + 20, options).SequenceEqual(frame.AsSpan(ip + 20, options)), "TCP options copied");
            Assert.Equal(0xFFFF, RefFold(RefSum(s.AsSpan(ip)) + RefPseudo(s, v6, length - ip)));
            data.AddRange(s.AsSpan(headers).ToArray());
        }
        Assert.Equal(frame.AsSpan(headers).ToArray(), data.ToArray());
    }

    [Fact]
    public void A_super_packet_whose_checksum_field_holds_only_the_pseudo_header_sum_splits_into_valid_segments()
    {
        // What the kernel hands over with F_NEEDS_CSUM: the TCP checksum field is partial, not a checksum.
        var frame = SuperPacket(false, 0, 4000, seq: 1, id: 7, flags: 0x10);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(36), 0x1234);
        var header = VirtioHeader(LibC.VIRTIO_NET_HDR_GSO_TCPV4, 1400, 20, hdrLen: 40);
        Assert.True(TunTso.TryPlan(header, frame, Room, out var plan));
        var buffer = new byte[Room];
        for (int k = 0; k < plan.Segments; k++)
        {
            int length = TunTso.WriteSegment(plan, frame, k, buffer);
            Assert.True(TunOffload.TcpChecksumValid(buffer.AsSpan(0, length), 20, v6: false), $"segment {k}");
        }
    }

    public static TheoryData<string> Refusals() => new()
    {
        "gso type none", "tcpv6 for ipv4", "tcpv4 for ipv6", "ecn bit", "udp gso type", "no needs_csum", "csum_offset 6",
        "csum_start past ihl", "csum_start 0", "gso_size 0", "segment larger than a slot", "not tcp", "fragment",
        "tcp header beyond the frame", "data offset below 5", "headers only", "short frame", "ipv6 csum_start 20",
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public void Headers_that_do_not_describe_the_packet_are_refused(string what)
    {
        bool v6 = what.Contains("ipv6", StringComparison.Ordinal) && !what.StartsWith("tcpv6", StringComparison.Ordinal);
        var frame = SuperPacket(v6, 0, 3000, seq: 1, id: 1, flags: 0x10);
        byte type = v6 ? LibC.VIRTIO_NET_HDR_GSO_TCPV6 : LibC.VIRTIO_NET_HDR_GSO_TCPV4;
        int start = v6 ? 40 : 20, gso = 1000;
        byte flags = LibC.VIRTIO_NET_HDR_F_NEEDS_CSUM;
        int offset = 16;
        switch (what)
        {
            case "gso type none": type = LibC.VIRTIO_NET_HDR_GSO_NONE; break;
            case "tcpv6 for ipv4": type = LibC.VIRTIO_NET_HDR_GSO_TCPV6; break;
            case "tcpv4 for ipv6": type = LibC.VIRTIO_NET_HDR_GSO_TCPV4; break;
            case "ecn bit": type |= 0x80; break;
            case "udp gso type": type = 5; break;
            case "no needs_csum": flags = 0; break;
            case "csum_offset 6": offset = 6; break;
            case "csum_start past ihl": start = 24; break;
            case "csum_start 0": start = 0; break;
            case "gso_size 0": gso = 0; break;
            case "segment larger than a slot": gso = Room; break;
            case "not tcp": frame[9] = 17; break;
            case "fragment": frame[6] = 0x20; break;
            case "tcp header beyond the frame": start = frame.Length - 10; break;
            case "data offset below 5": frame[start + 12] = 0x40; break;
            case "headers only": frame = frame[..40]; BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(2), 40); break;
            case "short frame": frame = frame[..30]; break;
            case "ipv6 csum_start 20": start = 20; break;
        }
        var header = VirtioHeader(type, gso, start, hdrLen: 54);
        header[0] = flags;
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(8), (ushort)offset);
        Assert.False(TunTso.TryPlan(header, frame, Room, out _), what);
    }

    [Fact]
    public void Random_headers_and_frames_never_throw_and_every_planned_segment_fits_a_slot()
    {
        var random = new Random(4720);
        var buffer = new byte[Room];
        int planned = 0;
        for (int round = 0; round < 20_000; round++)
        {
            bool v6 = random.Next(2) == 0;
            byte[] frame = random.Next(3) == 0
                ? RandomBytes(random, random.Next(0, 9000))
                : SuperPacket(v6, 4 * random.Next(0, 11), random.Next(1, 8000), (uint)random.Next(), (ushort)random.Next(), (byte)random.Next(256));
            var header = VirtioHeader((byte)(random.Next(4) == 0 ? random.Next(256) : v6 ? 4 : 1), random.Next(0, 2200),
                random.Next(3) == 0 ? random.Next(0, 80) : v6 ? 40 : 20, random.Next(65536));
            if (random.Next(4) == 0) header[0] = (byte)random.Next(256);
            if (random.Next(4) == 0) BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(8), (ushort)random.Next(0, 40));
            if (random.Next(4) == 0) frame.AsSpan(0, Math.Min(frame.Length, 60)).Fill((byte)random.Next(256));
            if (!TunTso.TryPlan(header, frame, Room, out var plan)) continue;
            planned++;
            for (int k = 0; k < plan.Segments; k++)
                Assert.InRange(TunTso.WriteSegment(plan, frame, k, buffer), plan.HeaderLength + 1, Room);
        }
        Assert.True(planned > 1000, $"only {planned} of 20000 random frames were planned: the generator does not reach the split");
    }

    // ---- building super-packets and a reference checksum ----

    private static byte[] SuperPacket(bool v6, int options, int payload, uint seq, ushort id, byte flags)
    {
        int ip = v6 ? 40 : 20, tcp = 20 + options, total = ip + tcp + payload;
        var p = new byte[total];
        if (v6)
        {
            p[0] = 0x60;
            BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(4), (ushort)Math.Min(total - 40, 0xFFFF));
            p[6] = 6;
            p[7] = 64;
            for (int i = 0; i < 16; i++) { p[8 + i] = (byte)(0x20 + i); p[24 + i] = (byte)(0x90 + i); }
        }
        else
        {
            p[0] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)Math.Min(total, 0xFFFF));
            BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(4), id);
            p[6] = 0x40; // DF
            p[8] = 64;
            p[9] = 6;
            p[12] = 10; p[13] = 99; p[14] = 2; p[15] = 1;
            p[16] = 10; p[17] = 99; p[18] = 10; p[19] = 1;
        }
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(ip), 40000);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(ip + 2), 5201);
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(ip + 4), seq);
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(ip + 8), 0x01020304);
        p[ip + 12] = (byte)((tcp / 4) << 4);
        p[ip + 13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(ip + 14), 512);
        for (int i = 0; i < options; i++) p[ip + 20 + i] = (byte)(i == 0 ? 1 : 0x30 + i); // NOP, then option bytes
        for (int i = 0; i < payload; i++) p[ip + tcp + i] = (byte)(i * 7 + (i >> 8));
        return p;
    }

    private static byte[] VirtioHeader(byte type, int gso, int start, int hdrLen)
    {
        var h = new byte[LibC.VirtioNetHdrLength];
        h[0] = LibC.VIRTIO_NET_HDR_F_NEEDS_CSUM;
        h[1] = type;
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(2), (ushort)hdrLen);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(4), (ushort)gso);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(6), (ushort)start);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(8), 16);
        return h;
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        var b = new byte[length];
        random.NextBytes(b);
        return b;
    }

    private static ulong RefSum(ReadOnlySpan<byte> data)
    {
        ulong sum = 0;
        for (int i = 0; i + 1 < data.Length; i += 2) sum += (ulong)(data[i] << 8 | data[i + 1]);
        if (data.Length % 2 == 1) sum += (ulong)data[^1] << 8;
        return sum;
    }

    private static ulong RefPseudo(ReadOnlySpan<byte> packet, bool v6, int l4Length) =>
        (v6 ? RefSum(packet.Slice(8, 32)) : RefSum(packet.Slice(12, 8))) + 6 + (ulong)l4Length;

    private static int RefFold(ulong sum)
    {
        while (sum > 0xFFFF) sum = (sum & 0xFFFF) + (sum >> 16);
        return (int)sum;
    }
}
