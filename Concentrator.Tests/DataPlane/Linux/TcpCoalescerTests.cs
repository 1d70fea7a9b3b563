using System.Buffers.Binary;
using Concentrator.DataPlane.Linux;

namespace Concentrator.Tests.DataPlane.Linux;

/// <summary>
/// The TUN write path's TCP coalescer as a function over bytes: packets in, frames (virtio-net header +
/// packet) out. Every GSO frame is re-segmented here the way the kernel's tcp_gso_segment does (sequence
/// numbers, IPv4 IDs, lengths, PSH on the last, full checksums) with a reference checksum of its own, and
/// must give back exactly the packets that went in, in their order per flow.
/// </summary>
public sealed unsafe class TcpCoalescerTests
{
    private static readonly byte[] A = [10, 99, 10, 1], B = [10, 99, 2, 2], C = [10, 99, 10, 7];
    private static readonly byte[] A6 = Enumerable.Range(0, 16).Select(i => (byte)(0x20 + i)).ToArray();
    private static readonly byte[] B6 = Enumerable.Range(0, 16).Select(i => (byte)(0x90 + i)).ToArray();

    // ---- what merges ----

    [Fact]
    public void Consecutive_segments_of_one_flow_become_one_gso_frame_that_resegments_to_the_originals()
    {
        var flow = new Flow(A, B, 40000, 5201) { Options = TimestampOptions(7, 9) };
        var packets = new List<byte[]>();
        for (int i = 0; i < 9; i++) packets.Add(flow.Next(1000));
        packets.Add(flow.Next(500, psh: true));

        var frames = Run(packets);

        var frame = Assert.Single(frames.Frames);
        Assert.Equal(1, frames.GsoFrames);
        Assert.Equal(10, frames.GsoSegments);
        Assert.Equal(LibC.VIRTIO_NET_HDR_F_NEEDS_CSUM, frame.Header[0]);
        Assert.Equal(LibC.VIRTIO_NET_HDR_GSO_TCPV4, frame.Header[1]);
        Assert.Equal(20 + 32, BinaryPrimitives.ReadUInt16LittleEndian(frame.Header.AsSpan(2))); // hdr_len: IP + TCP with options
        Assert.Equal(1000, BinaryPrimitives.ReadUInt16LittleEndian(frame.Header.AsSpan(4))); // gso_size
        Assert.Equal(20, BinaryPrimitives.ReadUInt16LittleEndian(frame.Header.AsSpan(6))); // csum_start
        Assert.Equal(16, BinaryPrimitives.ReadUInt16LittleEndian(frame.Header.AsSpan(8))); // csum_offset
        Assert.Equal(52 + 9500, frame.Packet.Length);
        Assert.Equal(frame.Packet.Length, BinaryPrimitives.ReadUInt16BigEndian(frame.Packet.AsSpan(2)));
        Assert.Equal(0xFFFF, RefFold(RefSum(frame.Packet.AsSpan(0, 20)))); // IPv4 header checksum recomputed
        Assert.Equal(TunOffload.TcpFlagAck | TunOffload.TcpFlagPsh, frame.Packet[20 + 13]); // PSH of the last segment
        // The checksum field holds the folded pseudo-header sum over the whole TCP length (CHECKSUM_PARTIAL) ...
        ushort partial = BinaryPrimitives.ReadUInt16BigEndian(frame.Packet.AsSpan(36));
        Assert.Equal(RefFold(RefPseudo(frame.Packet, v6: false, frame.Packet.Length - 20)), partial);
        // ... so that summing from csum_start and storing the complement completes a valid checksum.
        var completed = (byte[])frame.Packet.Clone();
        var partialOnly = (byte[])frame.Header.Clone();
        partialOnly[1] = LibC.VIRTIO_NET_HDR_GSO_NONE; // CompleteRead takes no GSO frames, only the checksum part
        fixed (byte* h = partialOnly) Assert.True(TunOffload.CompleteRead(h, completed));
        Assert.True(RefTcpValid(completed, 20, v6: false));

        AssertSameOrderPerFlow(packets, frames.Frames);
    }

    [Fact]
    public void Interleaved_flows_coalesce_separately_and_frames_keep_the_order_of_their_first_segment()
    {
        var a = new Flow(A, B, 40000, 5201);
        var b = new Flow(C, B, 40001, 5201);
        var packets = new List<byte[]> { a.Next(1200), b.Next(1200), a.Next(1200), b.Next(1200), a.Next(1200), b.Next(800) };

        var frames = Run(packets);

        Assert.Equal(2, frames.Frames.Count);
        Assert.Equal(2, frames.GsoFrames);
        Assert.Equal(6, frames.GsoSegments);
        Assert.Equal(A, frames.Frames[0].Packet[12..16]);
        Assert.Equal(C, frames.Frames[1].Packet[12..16]);
        AssertSameOrderPerFlow(packets, frames.Frames);
    }

    [Fact]
    public void Ipv6_segments_coalesce_with_the_payload_length_and_tcpv6_gso_type()
    {
        var flow = new Flow(A6, B6, 40000, 443);
        var packets = Enumerable.Range(0, 5).Select(_ => flow.Next(1300)).ToList();

        var frames = Run(packets);

        var frame = Assert.Single(frames.Frames);
        Assert.Equal(LibC.VIRTIO_NET_HDR_GSO_TCPV6, frame.Header[1]);
        Assert.Equal(40, BinaryPrimitives.ReadUInt16LittleEndian(frame.Header.AsSpan(6)));
        Assert.Equal(frame.Packet.Length - 40, BinaryPrimitives.ReadUInt16BigEndian(frame.Packet.AsSpan(4)));
        Assert.Equal(RefFold(RefPseudo(frame.Packet, v6: true, frame.Packet.Length - 40)), BinaryPrimitives.ReadUInt16BigEndian(frame.Packet.AsSpan(56)));
        AssertSameOrderPerFlow(packets, frames.Frames);
    }

    [Fact]
    public void Other_protocols_pass_through_without_breaking_a_flow_open_around_them()
    {
        var flow = new Flow(A, B, 40000, 5201);
        var udp = Udp(A, B, 300);
        var packets = new List<byte[]> { flow.Next(1000), udp, flow.Next(1000) };

        var frames = Run(packets);

        Assert.Equal(2, frames.Frames.Count);
        Assert.Equal(1, frames.GsoFrames);
        Assert.Equal(udp, frames.Frames[1].Packet);
        Assert.All(frames.Frames[1].Header, b => Assert.Equal(0, b));
        AssertSameOrderPerFlow(packets, frames.Frames);
    }

    [Fact]
    public void A_frame_never_exceeds_65535_bytes()
    {
        var flow = new Flow(A, B, 40000, 5201);
        var packets = Enumerable.Range(0, 60).Select(_ => flow.Next(1360)).ToList();

        var frames = Run(packets);

        Assert.Equal(2, frames.Frames.Count);
        Assert.All(frames.Frames, f => Assert.InRange(f.Packet.Length, 1, TcpCoalescer.MaxFrameLength));
        Assert.Equal((65535 - 40) / 1360, SegmentsOf(frames.Frames[0]));
        AssertSameOrderPerFlow(packets, frames.Frames);
    }

    // ---- what does not merge ----

    public static TheoryData<string> Breakers() =>
    [
        "seq-gap", "ack", "window", "options", "ttl", "tos", "df", "ip-options", "syn", "fin", "rst", "pure-ack", "ece", "tcp-checksum",
        "ip-checksum", "larger-after-smaller", "psh-first", "fragment", "total-length-padding",
    ];

    /// <summary>
    /// Two clean segments, then one that must not join them, then a clean one: the breaker is written as it
    /// came (zero header, bytes untouched), the segments before it leave first, and nothing after it joins
    /// the earlier frame (per-flow order).
    /// </summary>
    [Theory]
    [MemberData(nameof(Breakers))]
    public void A_segment_that_differs_is_written_unchanged_between_the_frames_around_it(string breaker)
    {
        var flow = new Flow(A, B, 40000, 5201) { Options = TimestampOptions(1, 2) };
        var first = flow.Next(1000);
        var second = flow.Next(1000);
        byte[] odd = breaker switch
        {
            "seq-gap" => flow.Skip(1000).Next(1000),
            "ack" => flow.With(f => f.Ack++).Next(1000),
            "window" => flow.With(f => f.Window--).Next(1000),
            "options" => flow.With(f => f.Options = TimestampOptions(2, 2)).Next(1000),
            "ttl" => flow.With(f => f.Ttl--).Next(1000),
            "tos" => flow.With(f => f.Tos = 0x02).Next(1000), // ECT(0) vs not-ECT
            "df" => flow.With(f => f.Df = false).Next(1000),
            "ip-options" => flow.With(f => f.IpOptions = [1, 1, 1, 0]).Next(1000),
            "syn" => flow.Next(1000, extraFlags: TunOffload.TcpFlagSyn),
            "fin" => flow.Next(1000, extraFlags: TunOffload.TcpFlagFin),
            "rst" => flow.Next(1000, extraFlags: TunOffload.TcpFlagRst),
            "pure-ack" => flow.Next(0),
            "ece" => flow.Next(1000, extraFlags: 0x40),
            "tcp-checksum" => Corrupt(flow.Next(1000), at: 20 + 16),
            "ip-checksum" => Corrupt(flow.Next(1000), at: 10),
            "larger-after-smaller" => flow.Next(600),
            "psh-first" => flow.Next(1000, psh: true),
            "fragment" => flow.With(f => f.MoreFragments = true).Next(1000),
            "total-length-padding" => flow.Next(1000).Concat(new byte[] { 0, 0 }).ToArray(),
            _ => throw new ArgumentException(breaker),
        };
        flow.Restore();
        var after = flow.Next(1000);
        var packets = new List<byte[]> { first, second, odd, after };

        var frames = Run(packets);

        if (breaker == "seq-gap")
        {
            // The segment after the gap starts a frame of its own, which the next one joins.
            Assert.Equal(2, frames.Frames.Count);
            Assert.Equal(2, SegmentsOf(frames.Frames[0]));
            Assert.Equal(2, SegmentsOf(frames.Frames[1]));
        }
        else if (breaker == "larger-after-smaller")
        {
            // A smaller segment may end a frame; the next full-size one cannot follow it in the same frame.
            Assert.Equal(2, frames.Frames.Count);
            Assert.Equal(3, SegmentsOf(frames.Frames[0]));
            Assert.Equal(after, frames.Frames[1].Packet);
        }
        else if (breaker == "psh-first")
        {
            // PSH may be on the last segment of a frame: the third joins, the fourth starts a new frame.
            Assert.Equal(2, frames.Frames.Count);
            Assert.Equal(3, SegmentsOf(frames.Frames[0]));
            Assert.Equal(TunOffload.TcpFlagAck | TunOffload.TcpFlagPsh, frames.Frames[0].Packet[20 + 13]);
        }
        else
        {
            Assert.Equal(3, frames.Frames.Count);
            Assert.Equal(2, SegmentsOf(frames.Frames[0]));
            Assert.Equal(odd, frames.Frames[1].Packet);
            Assert.All(frames.Frames[1].Header, b => Assert.Equal(0, b));
            Assert.Equal(after, frames.Frames[2].Packet);
        }
        AssertSameOrderPerFlow(packets, frames.Frames);
    }

    [Fact]
    public void Disabled_writes_every_packet_unchanged_behind_a_zero_header()
    {
        var flow = new Flow(A, B, 40000, 5201);
        var packets = Enumerable.Range(0, 8).Select(_ => flow.Next(1000)).ToList();
        var copies = packets.Select(p => p.ToArray()).ToList();

        var frames = Run(packets, enabled: false);

        Assert.Equal(8, frames.Frames.Count);
        Assert.Equal(0, frames.GsoFrames);
        for (int i = 0; i < 8; i++)
        {
            Assert.Equal(copies[i], frames.Frames[i].Packet);
            Assert.All(frames.Frames[i].Header, b => Assert.Equal(0, b));
        }
    }

    [Fact]
    public void Hostile_bytes_never_throw_and_come_out_unchanged()
    {
        var random = new Random(4711);
        var flow = new Flow(A, B, 40000, 5201);
        var packets = new List<byte[]>();
        for (int i = 0; i < 64; i++)
        {
            var p = i % 3 == 0 ? flow.Next(random.Next(0, 1400)) : new byte[random.Next(1, 120)];
            if (i % 3 != 0) random.NextBytes(p);
            if (i % 5 == 0 && p.Length > 40) p[random.Next(0, 40)] ^= (byte)random.Next(1, 256); // damage a header byte
            packets.Add(p);
        }

        var frames = Run(packets.Select(p => p.ToArray()).ToList());

        // Every input byte comes out once, in order per flow; the damaged and random ones as they were.
        Assert.Equal(packets.Sum(p => p.Length), frames.Frames.Sum(f => f.Packet.Length + (SegmentsOf(f) - 1) * HeadersOf(f)));
        var resegmented = frames.Frames.SelectMany(Resegment).ToList();
        Assert.Equal(packets.Count, resegmented.Count);
        foreach (var p in packets) Assert.Contains(resegmented, r => r.AsSpan().SequenceEqual(p));
    }

    /// <summary>Random interleavings of several flows with random breakers: per flow, the frames re-segment to exactly its packets in order.</summary>
    [Fact]
    public void Random_mixes_of_flows_resegment_to_their_packets_in_order()
    {
        var random = new Random(20261127);
        for (int round = 0; round < 200; round++)
        {
            var flows = Enumerable.Range(0, random.Next(1, 5)).Select(f => new Flow(A, B, (ushort)(40000 + f), 5201)).ToArray();
            var packets = new List<byte[]>();
            int count = random.Next(1, 65);
            for (int i = 0; i < count; i++)
            {
                var flow = flows[random.Next(flows.Length)];
                int roll = random.Next(20);
                packets.Add(roll switch
                {
                    0 => flow.Next(random.Next(1, 1000), psh: true),
                    1 => flow.Next(0),
                    2 => flow.Skip(1000).Next(1000),
                    3 => Udp(A, B, random.Next(1, 1400)),
                    4 => flow.Next(random.Next(1, 1000)),
                    _ => flow.Next(1000),
                });
            }

            var frames = Run(packets);
            Assert.True(frames.Frames.Count <= packets.Count);
            AssertSameOrderPerFlow(packets, frames.Frames);
        }
    }

    [Fact]
    public void Add_and_flush_allocate_nothing()
    {
        var flow = new Flow(A, B, 40000, 5201);
        var originals = Enumerable.Range(0, 64).Select(i => i % 9 == 8 ? flow.Next(0) : flow.Next(1000)).ToArray();
        var packets = originals.Select(Pinned).ToArray();
        using var coalescer = new TcpCoalescer(64, enabled: true);
        var sink = new CountingSink();
        for (int round = 0; round < 3; round++) Cycle(); // warm-up (JIT, statics)

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int round = 0; round < 100; round++) Cycle();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.True(coalescer.GsoFrames > 0, "nothing coalesced, so the measurement saw no GSO path");
        Assert.True(sink.Frames > 0);

        void Cycle()
        {
            for (int i = 0; i < packets.Length; i++)
            {
                originals[i].CopyTo(packets[i], 0); // a flush rewrote the heads' headers in place
                Assert.True(coalescer.Add(packets[i]));
            }
            coalescer.Flush(ref sink);
        }
    }

    [Fact]
    public void Checksum_sum_matches_the_reference_for_every_length_and_alignment()
    {
        var random = new Random(1071);
        var data = new byte[1600];
        random.NextBytes(data);
        for (int length = 0; length <= 300; length++)
        {
            for (int offset = 0; offset < 3; offset++)
            {
                var span = data.AsSpan(offset, length);
                Assert.Equal(RefFold(RefSum(span) + 0x1234), TunOffload.Fold(TunOffload.Sum(span, 0x1234)));
            }
        }
        foreach (int length in new[] { 1399, 1400, 1401, 1597 })
            Assert.Equal(RefFold(RefSum(data.AsSpan(1, length))), TunOffload.Fold(TunOffload.Sum(data.AsSpan(1, length), 0)));
        Array.Fill(data, (byte)0xFF); // all-ones words: the carries of the vector lanes must wrap around
        Assert.Equal(RefFold(RefSum(data)), TunOffload.Fold(TunOffload.Sum(data, 0)));
    }

    // ---- harness ----

    private sealed record Frame(byte[] Header, byte[] Packet);

    private sealed record Output(List<Frame> Frames, int GsoFrames, int GsoSegments);

    private struct CollectingSink(List<Frame> frames) : ITunFrameSink
    {
        public int Write(LibC.IoVec* iov, int count)
        {
            var header = new ReadOnlySpan<byte>(iov[0].Base, (int)iov[0].Length).ToArray();
            var packet = new List<byte>();
            for (int i = 1; i < count; i++) packet.AddRange(new ReadOnlySpan<byte>(iov[i].Base, (int)iov[i].Length).ToArray());
            frames.Add(new Frame(header, packet.ToArray()));
            return packet.Count;
        }
    }

    private struct CountingSink : ITunFrameSink
    {
        public int Frames;

        public int Write(LibC.IoVec* iov, int count)
        {
            Frames++;
            return 0;
        }
    }

    /// <summary>Packets in pinned arrays (the coalescer keeps pointers until Flush), through a fresh coalescer.</summary>
    private static Output Run(List<byte[]> packets, bool enabled = true)
    {
        var pinned = packets.Select(Pinned).ToList();
        using var coalescer = new TcpCoalescer(64, enabled);
        var list = new List<Frame>();
        var sink = new CollectingSink(list);
        foreach (var p in pinned) Assert.True(coalescer.Add(p));
        coalescer.Flush(ref sink);
        Assert.Equal(list.Count, coalescer.Frames);
        Assert.Equal(0, coalescer.WriteErrors);
        return new Output(list, coalescer.GsoFrames, coalescer.GsoSegments);
    }

    private static byte[] Pinned(byte[] p)
    {
        var a = GC.AllocateArray<byte>(p.Length, pinned: true);
        p.CopyTo(a, 0);
        return a;
    }

    private static int HeadersOf(Frame f) => f.Header[1] == 0 ? 0 : BinaryPrimitives.ReadUInt16LittleEndian(f.Header.AsSpan(2));

    private static int SegmentsOf(Frame f)
    {
        if (f.Header[1] == 0) return 1;
        int headers = HeadersOf(f), gso = BinaryPrimitives.ReadUInt16LittleEndian(f.Header.AsSpan(4));
        return (f.Packet.Length - headers + gso - 1) / gso;
    }

    /// <summary>The kernel's tcp_gso_segment in miniature: headers copied, seq advanced, IPv4 ID counted up,
    /// lengths set, PSH/FIN only on the last, complete IP and TCP checksums.</summary>
    private static List<byte[]> Resegment(Frame f)
    {
        if (f.Header[1] == LibC.VIRTIO_NET_HDR_GSO_NONE)
        {
            Assert.Equal(0, f.Header[0] & LibC.VIRTIO_NET_HDR_F_NEEDS_CSUM);
            return [f.Packet];
        }
        bool v6 = f.Header[1] == LibC.VIRTIO_NET_HDR_GSO_TCPV6;
        int headers = HeadersOf(f), gso = BinaryPrimitives.ReadUInt16LittleEndian(f.Header.AsSpan(4));
        int ip = BinaryPrimitives.ReadUInt16LittleEndian(f.Header.AsSpan(6));
        Assert.Equal(16, BinaryPrimitives.ReadUInt16LittleEndian(f.Header.AsSpan(8)));
        Assert.True(f.Packet.Length - headers > gso, "a GSO frame carries more than one segment");
        uint seq = BinaryPrimitives.ReadUInt32BigEndian(f.Packet.AsSpan(ip + 4));
        ushort id = v6 ? (ushort)0 : BinaryPrimitives.ReadUInt16BigEndian(f.Packet.AsSpan(4));
        byte flags = f.Packet[ip + 13];
        var segments = new List<byte[]>();
        for (int off = headers, k = 0; off < f.Packet.Length; off += gso, k++)
        {
            int len = Math.Min(gso, f.Packet.Length - off);
            var s = new byte[headers + len];
            f.Packet.AsSpan(0, headers).CopyTo(s);
            f.Packet.AsSpan(off, len).CopyTo(s.AsSpan(headers));
            bool last = off + len >= f.Packet.Length;
            BinaryPrimitives.WriteUInt32BigEndian(s.AsSpan(ip + 4), seq + (uint)(k * gso));
            s[ip + 13] = last ? flags : (byte)(flags & ~(TunOffload.TcpFlagPsh | TunOffload.TcpFlagFin));
            if (v6)
            {
                BinaryPrimitives.WriteUInt16BigEndian(s.AsSpan(4), (ushort)(s.Length - 40));
            }
            else
            {
                BinaryPrimitives.WriteUInt16BigEndian(s.AsSpan(2), (ushort)s.Length);
                BinaryPrimitives.WriteUInt16BigEndian(s.AsSpan(4), (ushort)(id + k));
                BinaryPrimitives.WriteUInt16BigEndian(s.AsSpan(10), 0);
                BinaryPrimitives.WriteUInt16BigEndian(s.AsSpan(10), (ushort)~RefFold(RefSum(s.AsSpan(0, ip))));
            }
            BinaryPrimitives.WriteUInt16BigEndian(s.AsSpan(ip + 16), 0);
            ushort tcp = (ushort)~RefFold(RefSum(s.AsSpan(ip)) + RefPseudo(s, v6, s.Length - ip));
            BinaryPrimitives.WriteUInt16BigEndian(s.AsSpan(ip + 16), tcp);
            segments.Add(s);
        }
        return segments;
    }

    /// <summary>Every packet comes out exactly once, byte for byte, and the packets of each flow (by address and port bytes) in input order.</summary>
    private static void AssertSameOrderPerFlow(List<byte[]> packets, List<Frame> frames)
    {
        var output = frames.SelectMany(Resegment).ToList();
        Assert.Equal(packets.Count, output.Count);
        foreach (var group in packets.GroupBy(FlowOf))
        {
            var expected = group.ToList();
            var actual = output.Where(p => FlowOf(p) == group.Key).ToList();
            Assert.Equal(expected.Count, actual.Count);
            for (int i = 0; i < expected.Count; i++)
                Assert.True(expected[i].AsSpan().SequenceEqual(actual[i]), $"flow {group.Key}: packet {i} differs after re-segmentation");
        }
    }

    private static string FlowOf(byte[] p)
    {
        if (p.Length < 20) return "short";
        if (p[0] >> 4 == 6 && p.Length >= 44) return Convert.ToHexString(p, 8, 32) + Convert.ToHexString(p, 40, 4) + p[6];
        int ip = (p[0] & 0x0F) * 4;
        return p.Length >= ip + 4 && ip >= 20 ? Convert.ToHexString(p, 12, 8) + Convert.ToHexString(p, ip, 4) + p[9] : "other";
    }

    private static byte[] Corrupt(byte[] p, int at)
    {
        p[at] ^= 0x5A;
        return p;
    }

    private static byte[] TimestampOptions(uint tsval, uint tsecr)
    {
        var o = new byte[12];
        o[0] = 1; o[1] = 1; o[2] = 8; o[3] = 10;
        BinaryPrimitives.WriteUInt32BigEndian(o.AsSpan(4), tsval);
        BinaryPrimitives.WriteUInt32BigEndian(o.AsSpan(8), tsecr);
        return o;
    }

    private static byte[] Udp(byte[] src, byte[] dst, int payload)
    {
        var p = new byte[28 + payload];
        p[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)p.Length);
        p[8] = 64; p[9] = 17;
        src.CopyTo(p, 12); dst.CopyTo(p, 16);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(10), (ushort)~RefFold(RefSum(p.AsSpan(0, 20))));
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(20), 5000);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(22), 9);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(24), (ushort)(8 + payload));
        return p;
    }

    /// <summary>A TCP sender: consecutive segments with valid checksums, IPv4 IDs counting up, fields settable for one packet.</summary>
    private sealed class Flow(byte[] src, byte[] dst, ushort sport, ushort dport)
    {
        private (uint Ack, ushort Window, byte[] Options, byte Ttl, byte Tos, bool Df, byte[] IpOptions, bool Mf)? _saved;
        public uint Seq = 1_000_000;
        public uint Ack = 77;
        public ushort Window = 512;
        public byte[] Options = [];
        public byte Ttl = 63, Tos;
        public bool Df = true, MoreFragments;
        public byte[] IpOptions = [];
        private ushort _id = 0x1234;
        private readonly bool _v6 = src.Length == 16;

        public Flow Skip(int bytes)
        {
            Seq += (uint)bytes;
            return this;
        }

        /// <summary>Changes fields for the next packets until <see cref="Restore"/>.</summary>
        public Flow With(Action<Flow> change)
        {
            _saved = (Ack, Window, Options, Ttl, Tos, Df, IpOptions, MoreFragments);
            change(this);
            return this;
        }

        public void Restore()
        {
            if (_saved is not { } s) return;
            (Ack, Window, Options, Ttl, Tos, Df, IpOptions, MoreFragments) = s;
            _saved = null;
        }

        public byte[] Next(int payload, bool psh = false, byte extraFlags = 0)
        {
            int ip = _v6 ? 40 : 20 + IpOptions.Length;
            int tcp = 20 + Options.Length;
            var p = new byte[ip + tcp + payload];
            if (_v6)
            {
                p[0] = 0x60;
                BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(4), (ushort)(tcp + payload));
                p[6] = 6; p[7] = Ttl;
                src.CopyTo(p, 8); dst.CopyTo(p, 24);
            }
            else
            {
                p[0] = (byte)(0x40 | ip / 4);
                p[1] = Tos;
                BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)p.Length);
                BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(4), _id++);
                p[6] = (byte)((Df ? 0x40 : 0) | (MoreFragments ? 0x20 : 0));
                p[8] = Ttl; p[9] = 6;
                src.CopyTo(p, 12); dst.CopyTo(p, 16);
                IpOptions.CopyTo(p, 20);
                BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(10), (ushort)~RefFold(RefSum(p.AsSpan(0, ip))));
            }
            BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(ip), sport);
            BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(ip + 2), dport);
            BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(ip + 4), Seq);
            BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(ip + 8), Ack);
            p[ip + 12] = (byte)(tcp / 4 << 4);
            p[ip + 13] = (byte)(TunOffload.TcpFlagAck | (psh ? TunOffload.TcpFlagPsh : 0) | extraFlags);
            BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(ip + 14), Window);
            Options.CopyTo(p, ip + 20);
            for (int i = 0; i < payload; i++) p[ip + tcp + i] = (byte)(Seq + i * 7);
            BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(ip + 16), (ushort)~RefFold(RefSum(p.AsSpan(ip)) + RefPseudo(p, _v6, p.Length - ip)));
            Seq += (uint)payload + ((extraFlags & (TunOffload.TcpFlagSyn | TunOffload.TcpFlagFin)) != 0 ? 1u : 0u);
            return p;
        }
    }

    // Reference one's-complement arithmetic (RFC 1071), 16 bits at a time, independent of TunOffload's.
    private static ulong RefSum(ReadOnlySpan<byte> data)
    {
        ulong sum = 0;
        for (int i = 0; i < data.Length; i += 2)
            sum += (ulong)(data[i] << 8 | (i + 1 < data.Length ? data[i + 1] : 0));
        return sum;
    }

    private static ushort RefFold(ulong sum)
    {
        while (sum > 0xFFFF) sum = (sum >> 16) + (sum & 0xFFFF);
        return (ushort)sum;
    }

    private static ulong RefPseudo(byte[] p, bool v6, int length) =>
        (v6 ? RefSum(p.AsSpan(8, 32)) : RefSum(p.AsSpan(12, 8))) + 6 + (ulong)length;

    private static bool RefTcpValid(byte[] p, int ip, bool v6) => RefFold(RefSum(p.AsSpan(ip)) + RefPseudo(p, v6, p.Length - ip)) == 0xFFFF;
}
