using Concentrator.Ike.Tasks.V1;
using Concentrator.Ike.Wire.V1;
using static Concentrator.Tests.Ike.Crypto.Hex;

namespace Concentrator.Tests.Ike.Tasks.V1;

/// <summary>RFC 3706 DPD of a phase 1 SA, stepped by hand: when probes go out, with which numbers, and when the peer is dead.</summary>
public class V1DpdStateTests
{
    private static readonly TimeSpan Delay = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(6);

    private static V1DpdState Dpd(uint seq = 42) => new(seq) { PeerSupports = true };

    [Fact]
    public void The_vendor_id_is_rfc_3706_s_and_a_first_number_is_random_below_2_31()
    {
        Assert.Equal(B("AFCAD71368A1F1C96B8696FC77570100"), V1VendorIds.Dpd);
        var seen = new HashSet<uint>();
        for (int i = 0; i < 64; i++)
        {
            var s = V1DpdState.Create().OutstandingSequence;
            Assert.InRange(s, 1u, 0x7FFFFFFFu);
            seen.Add(s);
        }
        Assert.True(seen.Count > 60);
    }

    [Fact]
    public void A_probe_goes_out_after_dpd_delay_of_silence_and_repeats_each_delay_with_the_same_number()
    {
        var dpd = Dpd();
        Assert.Equal(V1DpdStep.None, dpd.Tick(1_999, 0, false, Delay, Timeout));
        Assert.Equal(V1DpdStep.Probe, dpd.Tick(2_000, 0, false, Delay, Timeout));
        Assert.Equal(V1DpdPhase.Probing, dpd.Phase);
        Assert.Equal(42u, dpd.OutstandingSequence);
        Assert.Equal(V1DpdStep.None, dpd.Tick(3_000, 0, false, Delay, Timeout));
        Assert.Equal(V1DpdStep.Probe, dpd.Tick(4_000, 0, false, Delay, Timeout));
        Assert.Equal(42u, dpd.OutstandingSequence);
        Assert.True(dpd.OnAck(42));
        Assert.Equal(43u, dpd.OutstandingSequence);
        Assert.Equal(V1DpdPhase.Quiet, dpd.Phase);
    }

    [Fact]
    public void Silence_for_dpd_timeout_less_the_delay_after_the_first_probe_is_a_dead_peer_and_final()
    {
        var dpd = Dpd();
        Assert.Equal(V1DpdStep.Probe, dpd.Tick(2_000, 0, false, Delay, Timeout));
        Assert.Equal(V1DpdStep.Probe, dpd.Tick(4_000, 0, false, Delay, Timeout));
        Assert.Equal(V1DpdStep.None, dpd.Tick(5_999, 0, false, Delay, Timeout));
        Assert.Equal(V1DpdStep.Dead, dpd.Tick(6_000, 0, false, Delay, Timeout));
        Assert.Equal(V1DpdPhase.Dead, dpd.Phase);
        Assert.Equal(V1DpdStep.None, dpd.Tick(7_000, 6_500, false, Delay, Timeout));
        Assert.False(dpd.OnAck(42));
        Assert.Equal(V1DpdPhase.Dead, dpd.Phase);
    }

    [Fact]
    public void Anything_heard_from_the_peer_ends_the_probing_and_a_dpd_timeout_below_the_delay_still_waits_one_delay()
    {
        var dpd = Dpd();
        Assert.Equal(V1DpdStep.Probe, dpd.Tick(2_000, 0, false, Delay, Timeout));
        // ESP arrived at 2.5 s (the host folds the Child SAs' last inbound into lastInbound).
        Assert.Equal(V1DpdStep.None, dpd.Tick(3_000, 2_500, false, Delay, Timeout));
        Assert.Equal(V1DpdPhase.Quiet, dpd.Phase);
        Assert.Equal(V1DpdStep.Probe, dpd.Tick(4_500, 2_500, false, Delay, Timeout));

        var short_ = Dpd();
        Assert.Equal(V1DpdStep.Probe, short_.Tick(2_000, 0, false, Delay, TimeSpan.FromSeconds(1)));
        Assert.Equal(V1DpdStep.None, short_.Tick(3_999, 0, false, Delay, TimeSpan.FromSeconds(1)));
        Assert.Equal(V1DpdStep.Dead, short_.Tick(4_000, 0, false, Delay, TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public void No_probe_without_the_peer_s_vendor_id_without_a_delay_or_while_an_exchange_is_in_flight()
    {
        var unsupported = new V1DpdState(1);
        Assert.Equal(V1DpdStep.None, unsupported.Tick(100_000, 0, false, Delay, Timeout));
        Assert.Equal(V1DpdStep.None, Dpd().Tick(100_000, 0, false, TimeSpan.Zero, Timeout));
        var busy = Dpd();
        Assert.Equal(V1DpdStep.None, busy.Tick(100_000, 0, true, Delay, Timeout));
        Assert.Equal(V1DpdStep.Probe, busy.Tick(100_001, 0, false, Delay, Timeout));
    }

    [Fact]
    public void A_zero_dpd_timeout_takes_the_retransmission_budget()
    {
        Assert.Equal(Timeout, V1DpdState.DeadAfter(Timeout, TimeSpan.FromSeconds(165)));
        Assert.Equal(TimeSpan.FromSeconds(165), V1DpdState.DeadAfter(TimeSpan.Zero, TimeSpan.FromSeconds(165)));
    }

    [Fact]
    public void The_receive_sequence_starts_at_the_first_number_seen_and_wraps_past_zero()
    {
        var dpd = Dpd();
        Assert.True(dpd.OnRuThere(uint.MaxValue));
        Assert.False(dpd.OnRuThere(0));
        Assert.True(dpd.OnRuThere(1));
        Assert.True(dpd.OnRuThere(2));
        Assert.False(dpd.OnRuThere(2));
    }

    [Fact]
    public void Dpd_notifies_carry_both_cookies_and_the_number()
    {
        var n = V1DpdState.Notify(V1NotifyType.DpdRUThereAck, 0x0102030405060708, 0x1112131415161718, 0xDEADBEEF);
        Assert.Equal(V1ProtocolId.Isakmp, n.Protocol);
        Assert.Equal(B("0102030405060708 1112131415161718"), n.Spi);
        Assert.Equal(B("DEADBEEF"), n.Data);
        Assert.Throws<ArgumentOutOfRangeException>(() => V1DpdState.Notify(V1NotifyType.InitialContact, 1, 2, 3));
    }
}
