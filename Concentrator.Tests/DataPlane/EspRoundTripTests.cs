using System.Buffers.Binary;
using Concentrator.DataPlane.Esp;
using Concentrator.Ipsec;
using static Concentrator.Tests.DataPlane.EspTestSupport;

namespace Concentrator.Tests.DataPlane;

public class EspRoundTripTests
{
    [Theory]
    [MemberData(nameof(SuitesAndEsn), MemberType = typeof(EspTestSupport))]
    public void EverySize_Ipv4AndIpv6_RoundTrips(int suiteIndex, bool esn)
    {
        EspSuite suite = AllSuites[suiteIndex] with { Esn = esn };
        using var pair = new Pair(suite, replayWindow: 64);
        var buffer = new byte[1600];
        int alignment = suite.Encryption switch
        {
            EncrAlgorithm.AesCbc => 16,
            EncrAlgorithm.TripleDes => 8, // RFC 2451 §2.3: 8-octet block and IV
            _ => 4,
        };
        ulong expectedSeq = 0;

        for (int length = 20; length <= 1500; length++)
        {
            foreach (byte[] inner in length >= 40 ? new[] { Ipv4(length), Ipv6(length) } : new[] { Ipv4(length) })
            {
                Assert.Equal(EspStatus.Ok, pair.A.Encapsulate(Pair.SpiA, inner, buffer, out int written));
                expectedSeq++;
                Span<byte> packet = buffer.AsSpan(0, written);
                Assert.Equal(Pair.SpiB, BinaryPrimitives.ReadUInt32BigEndian(packet));
                Assert.Equal((uint)expectedSeq, BinaryPrimitives.ReadUInt32BigEndian(packet.Slice(4)));
                // Ciphertext never contains the plaintext and padding is minimal for the alignment.
                Assert.False(packet.IndexOf(inner.AsSpan(20, Math.Min(16, length - 20))) >= 0 && length >= 36);
                int ivLength = alignment == 16 ? 16 : 8;
                int icvLength = written - 8 - ivLength - (inner.Length + 2 + alignment - 1) / alignment * alignment;
                Assert.Equal(suite.Integrity == IntegAlgorithm.None ? 16 : Algorithms.IntegrityIcvLength(suite.Integrity), icvLength);

                Assert.Equal(EspStatus.Ok, pair.B.Decapsulate(packet, out Range range));
                Assert.True(packet[range].SequenceEqual(inner), $"length {length} differs after the round trip");
            }
        }

        Assert.True(pair.B.FlushCounters(Pair.SpiB));
        Assert.True(pair.A.FlushCounters(Pair.SpiA));
        Assert.True(pair.B.TryGetCounters(Pair.SpiB, out var inbound));
        Assert.True(pair.A.TryGetCounters(Pair.SpiA, out var outbound));
        Assert.Equal(expectedSeq, inbound.PacketsIn);
        Assert.Equal(expectedSeq, outbound.PacketsOut);
        Assert.Equal(outbound.BytesOut, inbound.BytesIn);
        Assert.True(inbound.LastInboundTicks > 0 && outbound.LastOutboundTicks > 0);
        Assert.Equal(0UL, inbound.PacketsOut);
    }

    [Fact]
    public void InPlace_InnerAlreadyAtHeadroom()
    {
        using var pair = new Pair(Gcm256);
        int headroom = pair.A.OutboundHeadroom(Pair.SpiA);
        Assert.Equal(16, headroom);
        byte[] inner = Ipv6(200);
        var buffer = new byte[400];
        inner.CopyTo(buffer, headroom);
        Assert.Equal(EspStatus.Ok, pair.A.Encapsulate(Pair.SpiA, buffer.AsSpan(headroom, inner.Length), buffer, out int written));
        Assert.Equal(EspStatus.Ok, pair.B.Decapsulate(buffer.AsSpan(0, written), out Range range));
        Assert.True(buffer.AsSpan(0, written)[range].SequenceEqual(inner));
    }

    [Fact]
    public void AeadIvIsTheSequenceNumber_CbcIvIsRandom()
    {
        using var gcm = new Pair(Gcm128);
        byte[] first = gcm.Send(Ipv4(40));
        byte[] second = gcm.Send(Ipv4(40));
        Assert.Equal("0000000000000001", ToHex(first.AsSpan(8, 8)));
        Assert.Equal("0000000000000002", ToHex(second.AsSpan(8, 8)));

        using var cbc = new Pair(Cbc128Sha256);
        byte[] a = cbc.Send(Ipv4(40));
        byte[] b = cbc.Send(Ipv4(40));
        Assert.NotEqual(ToHex(a.AsSpan(8, 16)), ToHex(b.AsSpan(8, 16)));
    }

    [Fact]
    public void ConcurrentSenders_GetUniqueSequenceNumbers_AndEveryPacketOpens()
    {
        using var pair = new Pair(Gcm128, replayWindow: 4096);
        const int threads = 4, perThread = 1500;
        var packets = new byte[threads][][];
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            packets[t] = new byte[perThread][];
            for (int i = 0; i < perThread; i++)
                packets[t][i] = pair.Send(Ipv4(100, (byte)t));
        });
        byte[][] all = packets.SelectMany(p => p).OrderBy(p => BinaryPrimitives.ReadUInt32BigEndian(p.AsSpan(4))).ToArray();
        uint[] seqs = all.Select(p => BinaryPrimitives.ReadUInt32BigEndian(p.AsSpan(4))).ToArray();
        Assert.Equal(Enumerable.Range(1, threads * perThread).Select(i => (uint)i), seqs);
        foreach (byte[] packet in all)
            Assert.Equal(EspStatus.Ok, pair.B.Decapsulate(packet, out _));
        Assert.True(pair.A.FlushCounters(Pair.SpiA));
        Assert.True(pair.A.TryGetCounters(Pair.SpiA, out var counters));
        Assert.Equal((ulong)(threads * perThread), counters.PacketsOut);
    }

    [Fact]
    public void OneOutboundLaneAtInstall_AnotherOnlyWhenEveryLaneIsRented_AndItSealsWithTheSaKey()
    {
        using var pair = new Pair(Gcm256, replayWindow: 4096);
        var sa = pair.SaA;
        Assert.Equal(1, sa.OutboundLaneCount);
        Assert.Equal(1, EspSa.LanesAtInstall(16));
        for (int i = 0; i < 100; i++)
            Assert.Equal(EspStatus.Ok, pair.B.Decapsulate(pair.Send(Ipv4(100)), out _));
        Assert.Equal(1, sa.OutboundLaneCount); // one sender at a time never needs a second lane

        // A sender holds lane 0: the next one creates lane 1, keyed with the SA's outbound key (the peer opens it).
        var held = sa.RentLane(out int heldIndex);
        Assert.Equal(0, heldIndex);
        Assert.Equal(EspStatus.Ok, pair.B.Decapsulate(pair.Send(Ipv4(100)), out _));
        Assert.Equal(2, sa.OutboundLaneCount);
        var second = sa.RentLane(out int secondIndex);
        Assert.Equal(1, secondIndex);
        sa.ReturnLane(secondIndex, second);
        sa.ReturnLane(heldIndex, held);
        Assert.Equal(EspStatus.Ok, pair.B.Decapsulate(pair.Send(Ipv4(100)), out _));
        Assert.Equal(2, sa.OutboundLaneCount);

        // Counters of every created lane are published, none lost to the lane created on the packet path.
        Assert.True(pair.A.FlushCounters(Pair.SpiA));
        Assert.True(pair.A.TryGetCounters(Pair.SpiA, out var counters));
        Assert.Equal(102UL, counters.PacketsOut);
    }

    [Fact]
    public void LanesGrowUnderContention_UpToTheLimit()
    {
        using var pair = new Pair(Gcm128, replayWindow: 4096);
        var sa = pair.SaA;
        const int threads = 8, perThread = 2000;
        using var start = new Barrier(threads);
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, _ =>
        {
            start.SignalAndWait();
            for (int i = 0; i < perThread; i++)
                pair.Send(Ipv4(100));
        });
        Assert.InRange(sa.OutboundLaneCount, 1, EspSa.LaneLimit(Environment.ProcessorCount));
        Assert.True(pair.A.FlushCounters(Pair.SpiA));
        Assert.True(pair.A.TryGetCounters(Pair.SpiA, out var counters));
        Assert.Equal((ulong)(threads * perThread), counters.PacketsOut);
    }
}
