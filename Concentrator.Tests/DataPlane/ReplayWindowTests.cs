using Concentrator.DataPlane;
using Concentrator.DataPlane.Esp;
using Concentrator.Ipsec;
using static Concentrator.Tests.DataPlane.EspTestSupport;

namespace Concentrator.Tests.DataPlane;

public class ReplayWindowTests
{
    [Theory]
    [InlineData(32, 64)]
    [InlineData(64, 64)]
    [InlineData(65, 128)]
    [InlineData(128, 128)]
    [InlineData(1024, 1024)]
    [InlineData(4096, 4096)]
    [InlineData(65536, 65536)]
    public void SizeIsRoundedUpToWholeBlocks(int requested, int effective)
        => Assert.Equal(effective, new ReplayWindow(requested).Size);

    [Theory]
    [InlineData(31)]
    [InlineData(1)]
    [InlineData(-1)]
    [InlineData(65537)]
    public void SizeOutOfRangeIsRefused(int size)
        => Assert.Throws<ArgumentOutOfRangeException>(() => new ReplayWindow(size));

    [Theory]
    [InlineData(32)]
    [InlineData(128)]
    [InlineData(1024)]
    [InlineData(4096)]
    public void DuplicatesOldAndOutOfOrder(int size)
    {
        var w = new ReplayWindow(size);
        int n = w.Size;
        Assert.False(w.Check(0));
        Accept(w, 1);
        Assert.False(w.Check(1)); // duplicate

        ulong top = (ulong)n * 3 + 17;
        Accept(w, top);
        // Every slot in the window except the top is open, once.
        for (ulong s = top - (ulong)n + 1; s < top; s += 7)
        {
            Accept(w, s);
            Assert.False(w.Check(s));
        }
        // Just outside the window: too old, even though never seen.
        Assert.False(w.Check(top - (ulong)n));
        Assert.False(w.Check(1));
        Assert.True(w.Check(top - (ulong)n + 2));
        Assert.True(w.Check(top + 1));

        // Jumps of more than the ring clear everything: old bits must not reappear as "seen".
        ulong far = top + (ulong)n * 10 + 5;
        Accept(w, far);
        Assert.True(w.Check(far - 1));
        Assert.True(w.Check(far - (ulong)n + 1));
        Assert.False(w.Check(far - (ulong)n));

        // Sliding by exactly one block keeps the bits still inside the window.
        ulong last = far - 3;
        Accept(w, last);
        Accept(w, far + 64);
        Assert.False(w.Check(last));
        Assert.False(w.Check(far));
    }

    [Fact]
    public void SlidingBitByBitKeepsExactWindow()
    {
        var w = new ReplayWindow(128);
        for (ulong s = 1; s <= 1000; s++)
            Accept(w, s);
        for (ulong s = 1; s <= 1000; s++)
            Assert.False(w.Check(s));
        Assert.True(w.Check(1001));
    }

    [Fact]
    public void Esn_InfersHighHalf_AcrossTheWrap()
    {
        var w = new ReplayWindow(64);
        // Fresh window: small numbers are in sub-space 0; numbers just below 2^32 would be sub-space -1.
        Assert.True(w.TryInfer(5, out ulong seq));
        Assert.Equal(5UL, seq);
        Assert.False(w.TryInfer(uint.MaxValue, out _));

        Accept(w, 0xFFFF_FFF0UL);
        Assert.True(w.TryInfer(0xFFFF_FFFA, out seq));
        Assert.Equal(0xFFFF_FFFAUL, seq);
        Assert.True(w.TryInfer(3, out seq)); // past the wrap: Case A, Th + 1
        Assert.Equal(0x1_0000_0003UL, seq);
        Accept(w, seq);

        // Case B (window straddles 2^32): late packets from the old sub-space are still placed right.
        Assert.True(w.TryInfer(0xFFFF_FFF5, out seq));
        Assert.Equal(0xFFFF_FFF5UL, seq);
        Assert.True(w.Check(seq));
        Assert.True(w.TryInfer(0xFFFF_FFF0, out seq));
        Assert.False(w.Check(seq)); // already seen before the wrap
        Assert.True(w.TryInfer(0x20, out seq));
        Assert.Equal(0x1_0000_0020UL, seq);

        // Far in the past of the new sub-space: inferred into the next sub-space (the ICV will then fail).
        Accept(w, 0x1_0000_1000UL);
        Assert.True(w.TryInfer(0x10, out seq));
        Assert.Equal(0x2_0000_0010UL, seq);
    }

    [Fact]
    public void Esn_AtTheTopOfTheSequenceSpace_NothingWraps()
    {
        var w = new ReplayWindow(64);
        Accept(w, ulong.MaxValue - 1);
        Assert.True(w.TryInfer(uint.MaxValue, out ulong seq));
        Assert.Equal(ulong.MaxValue, seq);
        Assert.False(w.TryInfer(0, out _)); // would be 2^64
    }

    [Fact]
    public void Sa_ForgedIcvDoesNotMoveTheWindow()
    {
        using var pair = new Pair(Gcm128, replayWindow: 32);
        byte[] first = pair.Send(Ipv4(60));
        byte[] second = pair.Send(Ipv4(61));

        // Forgery carrying the second packet's sequence number: rejected, window untouched.
        byte[] forged = (byte[])second.Clone();
        forged[^1] ^= 0x80;
        Assert.Equal(EspStatus.AuthFailed, pair.B.Decapsulate(forged, out _));
        Assert.Equal(0UL, pair.SaB.Window.Top);

        // A forged number far to the right would slide the window and kill 1 and 2 if it counted.
        byte[] farForgery = (byte[])second.Clone();
        farForgery[4] = 0x7f;
        Assert.Equal(EspStatus.AuthFailed, pair.B.Decapsulate(farForgery, out _));
        Assert.Equal(0UL, pair.SaB.Window.Top);

        Assert.Equal(EspStatus.Ok, pair.B.Decapsulate((byte[])second.Clone(), out _));
        Assert.Equal(EspStatus.Ok, pair.B.Decapsulate((byte[])first.Clone(), out _)); // out of order, in window
        Assert.Equal(EspStatus.Replay, pair.B.Decapsulate((byte[])second.Clone(), out _));
        Assert.Equal(EspStatus.Replay, pair.B.Decapsulate((byte[])first.Clone(), out _));
        Assert.Equal(2UL, pair.SaB.Window.Top);
    }

    [Fact]
    public void Sa_ReplayIsRejectedBeforeDecryption()
    {
        using var pair = new Pair(Gcm128, replayWindow: 32);
        byte[] packet = pair.Send(Ipv4(60));
        Assert.Equal(EspStatus.Ok, pair.B.Decapsulate((byte[])packet.Clone(), out _));
        // A replayed copy with a broken ICV reports Replay, not AuthFailed: the window check came first.
        byte[] replayed = (byte[])packet.Clone();
        replayed[^1] ^= 1;
        Assert.Equal(EspStatus.Replay, pair.B.Decapsulate(replayed, out _));
    }

    [Theory]
    [InlineData(32)]
    [InlineData(4096)]
    public void Sa_OldOutsideWindowRejected_InWindowOutOfOrderAccepted(int size)
    {
        using var pair = new Pair(ChaCha, replayWindow: size);
        int n = pair.SaB.Window.Size;
        var packets = new byte[n + 2][];
        for (int i = 0; i < packets.Length; i++)
            packets[i] = pair.Send(Ipv4(30));
        Assert.Equal(EspStatus.Ok, pair.B.Decapsulate(packets[^1], out _)); // seq n+2
        Assert.Equal(EspStatus.Replay, pair.B.Decapsulate(packets[0], out _)); // seq 1: n+1 behind
        Assert.Equal(EspStatus.Replay, pair.B.Decapsulate(packets[1], out _)); // seq 2: exactly n behind
        Assert.Equal(EspStatus.Ok, pair.B.Decapsulate(packets[2], out _)); // seq 3: oldest slot in window
        Assert.Equal(EspStatus.Ok, pair.B.Decapsulate(packets[n / 2], out _));
    }

    [Fact]
    public void Sa_EsnTrafficAcrossTwoToThe32()
    {
        using var pair = new Pair(Gcm256 with { Esn = true }, replayWindow: 64);
        const ulong start = (1UL << 32) - 4;
        pair.SaA.SetLastOutboundSequenceForTest(start);
        pair.SaB.Window.Update(start); // the receiver saw the traffic up to there
        var packets = new byte[8][];
        for (int i = 0; i < packets.Length; i++)
            packets[i] = pair.Send(Ipv4(50 + i));
        Assert.Equal("fffffffd", ToHex(packets[0].AsSpan(4, 4)));
        Assert.Equal("00000000", ToHex(packets[3].AsSpan(4, 4))); // 2^32: low half 0 is valid with ESN
        Assert.Equal(SaRekeyHintNone, pair.A.GetRekeyHint(Pair.SpiA));

        // Deliver out of order around the wrap.
        foreach (int i in new[] { 0, 4, 2, 7, 3, 1, 6, 5 })
            Assert.Equal(EspStatus.Ok, pair.B.Decapsulate((byte[])packets[i].Clone(), out _));
        Assert.Equal((1UL << 32) + 4, pair.SaB.Window.Top);
        foreach (byte[] p in packets)
            Assert.Equal(EspStatus.Replay, pair.B.Decapsulate((byte[])p.Clone(), out _));
    }

    [Fact]
    public void Sa_EsnWrongSubSpaceGuessFailsClosed()
    {
        // The ESN high half is in the ICV: a receiver that guesses a different sub-space fails closed.
        using var pair = new Pair(ChaCha with { Esn = true }, replayWindow: 64);
        pair.SaA.SetLastOutboundSequenceForTest((1UL << 32) + 9); // sender in sub-space 1
        byte[] packet = pair.Send(Ipv4(50)); // receiver still in sub-space 0 -> infers 0x0000000a
        Assert.Equal(EspStatus.AuthFailed, pair.B.Decapsulate(packet, out _));
        Assert.Equal(0UL, pair.SaB.Window.Top);
    }

    [Theory]
    [InlineData(1UL)]
    [InlineData(63UL)]
    [InlineData(64UL)]
    [InlineData(1023UL)]
    [InlineData(1UL << 40)]
    public void Restore_marks_everything_up_to_the_mark_and_nothing_above(ulong mark)
    {
        var w = new ReplayWindow(128);
        w.Restore(mark);
        Assert.Equal(mark, w.Top);
        for (ulong back = 0; back < (ulong)w.Size && back < mark; back++) Assert.False(w.Check(mark - back), $"{mark - back} counts as seen");
        Accept(w, mark + 3);
        Accept(w, mark + 1);
        Accept(w, mark + 2);
        Accept(w, mark + 200); // slides whole blocks past the restored ones
        Accept(w, mark + 200 - 100);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Sa_restored_at_a_mark_refuses_every_sequence_number_up_to_it(bool esn)
    {
        // An SA adopted from another cluster node knows only the highest sequence number that node accepted (the mark),
        // not which ones below it arrived: all of them count as seen, or the last W-1 packets could be replayed.
        var suite = Gcm256 with { Esn = esn };
        using var pair = new Pair(suite, replayWindow: 64);
        const ulong mark = 1000;
        using var adopter = new InMemoryDataPlane();
        adopter.AddSa(Install(suite, Pair.SpiB, Pair.SpiA, (byte[])pair.KeyAtoB.Clone(), (byte[])pair.IntegAtoB.Clone(),
            (byte[])pair.KeyBtoA.Clone(), (byte[])pair.IntegBtoA.Clone(), replayWindow: 64) with { InboundSequenceFloor = mark });

        foreach (ulong seq in new ulong[] { mark, mark - 1, mark - 2, mark - 31, mark - 63 })
        {
            pair.SaA.SetLastOutboundSequenceForTest(seq - 1);
            Assert.Equal(EspStatus.Replay, adopter.Decapsulate(pair.Send(Ipv4(60)), out _));
        }
        // Below the window: too old (with ESN inferred in the next sub-space, where the ICV fails).
        foreach (ulong seq in new ulong[] { mark - 64, mark - 200, 1 })
        {
            pair.SaA.SetLastOutboundSequenceForTest(seq - 1);
            Assert.Equal(esn ? EspStatus.AuthFailed : EspStatus.Replay, adopter.Decapsulate(pair.Send(Ipv4(60)), out _));
        }
        // Above the mark nothing is seen yet, reordered arrivals included.
        foreach (ulong seq in new ulong[] { mark + 5, mark + 3, mark + 1 })
        {
            pair.SaA.SetLastOutboundSequenceForTest(seq - 1);
            Assert.Equal(EspStatus.Ok, adopter.Decapsulate(pair.Send(Ipv4(60)), out _));
        }
        pair.SaA.SetLastOutboundSequenceForTest(mark + 2);
        Assert.Equal(EspStatus.Replay, adopter.Decapsulate(pair.Send(Ipv4(60)), out _));
        Assert.Equal(mark + 5, adopter.TryGetSequenceMarks(Pair.SpiB, out _, out var top) ? top : 0);
    }

    /// <summary>
    /// replay_window 0 (swanctl, as strongSwan hands it to the kernel): no replay check on that SA. Every authentic
    /// packet is accepted however often and late it comes; sequence number 0 is still invalid (RFC 4303 §3.3.3), a
    /// forgery still fails its ICV, and the top still moves (ESN inference and the replicated mark need it).
    /// </summary>
    [Fact]
    public void Sa_ReplayWindowZeroDisablesTheCheck()
    {
        using var pair = new Pair(Gcm128, replayWindow: 0);
        Assert.Equal(0, pair.SaB.Window.Size);
        var packets = new byte[200][];
        for (int i = 0; i < packets.Length; i++)
            packets[i] = pair.Send(Ipv4(40));
        Assert.Equal(EspStatus.Ok, pair.B.Decapsulate((byte[])packets[^1].Clone(), out _));
        Assert.Equal(EspStatus.Ok, pair.B.Decapsulate((byte[])packets[^1].Clone(), out _)); // duplicate
        Assert.Equal(EspStatus.Ok, pair.B.Decapsulate((byte[])packets[0].Clone(), out _)); // 199 behind the top
        Assert.Equal(200UL, pair.SaB.Window.Top);

        byte[] forged = (byte[])packets[5].Clone();
        forged[^1] ^= 0x80;
        Assert.Equal(EspStatus.AuthFailed, pair.B.Decapsulate(forged, out _));
        Assert.False(pair.SaB.Window.Check(0));

        // The same traffic with the default window: the duplicate and the old packet are replays.
        using var guarded = new Pair(Gcm128);
        var again = new byte[200][];
        for (int i = 0; i < again.Length; i++)
            again[i] = guarded.Send(Ipv4(40));
        Assert.Equal(EspStatus.Ok, guarded.B.Decapsulate((byte[])again[^1].Clone(), out _));
        Assert.Equal(EspStatus.Replay, guarded.B.Decapsulate((byte[])again[^1].Clone(), out _));
        Assert.Equal(EspStatus.Replay, guarded.B.Decapsulate((byte[])again[0].Clone(), out _));
    }

    [Fact]
    public void Sa_ReplayWindowZeroWithEsnStillInfersTheHighHalf()
    {
        using var pair = new Pair(ChaCha with { Esn = true }, replayWindow: 0);
        const ulong start = (1UL << 32) - 2;
        pair.SaA.SetLastOutboundSequenceForTest(start);
        pair.SaB.Window.Update(start);
        var packets = new byte[4][];
        for (int i = 0; i < packets.Length; i++)
            packets[i] = pair.Send(Ipv4(50));
        foreach (int i in new[] { 3, 0, 2, 1, 3 })
            Assert.Equal(EspStatus.Ok, pair.B.Decapsulate((byte[])packets[i].Clone(), out _));
        Assert.Equal((1UL << 32) + 2, pair.SaB.Window.Top);
    }

    [Theory]
    [InlineData(1, 32)]
    [InlineData(31, 32)]
    [InlineData(32, 32)]
    public void Sa_SmallReplayWindowsAreRaisedToTheMinimum(int configured, int minimum)
    {
        using var pair = new Pair(Gcm128, replayWindow: configured);
        Assert.True(pair.SaB.Window.Size >= minimum);
    }

    private const SaRekeyHint SaRekeyHintNone = SaRekeyHint.None;

    private static void Accept(ReplayWindow w, ulong seq)
    {
        Assert.True(w.Check(seq), $"{seq} should be acceptable");
        w.Update(seq);
        Assert.False(w.Check(seq), $"{seq} should now be a replay");
    }
}
