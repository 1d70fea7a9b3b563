using Concentrator.Ike.Sa;
using Concentrator.Ike.Sa.V1;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;
using static Concentrator.Tests.Ike.Sa.V1.V1PairHarness;

namespace Concentrator.Tests.Ike.Sa.V1;

/// <summary>
/// Quick mode on two phase 1 SAs wired by <see cref="V1PairHarness"/>: the initiator's child follows main mode, both ends
/// install mirrored SAs (the test acts as host, adding each installed SA to the side's data plane), the commit bit changes
/// nothing, and a rekey replaces the SA with a Delete for the old one.
/// </summary>
public class QuickModePairTests
{
    private static readonly Dictionary<Side, int> Applied = [];

    /// <summary>The host's part: every ChildSaEstablished a side emitted goes into its data plane (in order).</summary>
    private static void Install(Side side)
    {
        var installs = side.Seen.OfType<ChildSaEstablished>().ToList();
        Applied.TryGetValue(side, out int done);
        foreach (var e in installs.Skip(done)) side.Plane.AddSa(e.Install);
        Applied[side] = installs.Count;
    }

    private static SendMessage? Host(Side i, Side r, SendMessage send, Func<SendMessage, SendMessage>? change = null)
    {
        Install(i);
        Install(r);
        return change is null ? send : change(send);
    }

    private static (Side I, Side R) Up(Func<Side, Side, Func<Side, SendMessage, SendMessage?>>? tamper = null)
    {
        var (i, r) = Create(Initiator(extra: "    encap: yes"), Responder());
        i.Sa.Initiate();
        Pump(i, r, tamper is null ? (_, s) => Host(i, r, s) : tamper(i, r));
        Install(i);
        Install(r);
        return (i, r);
    }

    private static bool IsQuickMode(SendMessage s) => s.Datagram[18] == (byte)V1ExchangeType.QuickMode;
    private static bool IsInformational(SendMessage s) => s.Datagram[18] == (byte)V1ExchangeType.Informational;

    [Fact]
    public void The_initiators_child_follows_main_mode_and_both_ends_install_mirrored_udp_encapsulated_sas()
    {
        var (i, r) = Up();
        Assert.Equal(3, i.Sent.Concat(r.Sent).Count(IsQuickMode));
        var mine = Assert.Single(i.Seen.OfType<ChildSaEstablished>()).Install;
        var theirs = Assert.Single(r.Seen.OfType<ChildSaEstablished>()).Install;
        Assert.Equal(mine.InboundSpi, theirs.OutboundSpi);
        Assert.Equal(mine.OutboundEncryptionKey, theirs.InboundEncryptionKey);
        Assert.Equal(mine.InboundIntegrityKey, theirs.OutboundIntegrityKey);
        Assert.Equal(EspTransport.UdpEncapsulated, theirs.Transport);
        Assert.Equal("10.200.1.0", theirs.RemoteTs[0].StartAddress.ToString());
        // Outbound on: the initiator after HASH(3) left, the responder once HASH(3) verified.
        Assert.Equal(mine.InboundSpi, Assert.Single(i.Seen.OfType<ChildSaActivated>()).InboundSpi);
        Assert.Equal(theirs.InboundSpi, Assert.Single(r.Seen.OfType<ChildSaActivated>()).InboundSpi);
        Assert.Equal(2, i.Plane.InstalledCount + r.Plane.InstalledCount);
        Assert.Empty(i.Sent.Concat(r.Sent).Where(IsInformational));
    }

    [Fact]
    public void A_commit_bit_from_the_peer_changes_nothing_install_on_hash3_and_no_connected_notify()
    {
        int changed = 0;
        var (i, r) = Up((iSide, rSide) => (from, send) => Host(iSide, rSide, send, s =>
        {
            if (from != iSide || !IsQuickMode(s)) return s;
            changed++;
            var d = s.Datagram.ToArray();
            d[19] |= (byte)V1Flags.Commit; // header flags are outside the HASH: the peer may set it freely
            return s with { Datagram = d };
        }));
        Assert.Equal(2, changed);
        Assert.Single(r.Seen.OfType<ChildSaEstablished>());
        Assert.Single(r.Seen.OfType<ChildSaActivated>());
        // No CONNECTED (RFC 2408 §4.6) nor anything else after HASH(3), and never the commit bit from us.
        Assert.Empty(r.Sent.Where(IsInformational));
        Assert.All(r.Sent, s => Assert.Equal(0, s.Datagram[19] & (byte)V1Flags.Commit));
    }

    [Fact]
    public void Our_rekey_installs_the_successor_then_deletes_the_old_sa_and_the_peer_does_not_rekey_the_old_one_again()
    {
        var (i, r) = Up();
        uint oldI = Assert.Single(i.Seen.OfType<ChildSaEstablished>()).Install.InboundSpi;
        uint oldR = Assert.Single(r.Seen.OfType<ChildSaEstablished>()).Install.InboundSpi;
        int sentBefore = i.Sent.Count + r.Sent.Count;

        i.Sa.RekeyChild(oldI);
        Pump(i, r, (_, s) => Host(i, r, s));
        Install(i);
        Install(r);
        var newI = i.Seen.OfType<ChildSaEstablished>().Last().Install;
        var newR = r.Seen.OfType<ChildSaEstablished>().Last().Install;
        Assert.NotEqual(oldI, newI.InboundSpi);
        Assert.Equal(newI.InboundSpi, newR.OutboundSpi);
        Assert.Equal(newI.LocalTs, Assert.Single(i.Seen.OfType<ChildSaEstablished>().Take(1)).Install.LocalTs);
        var removed = Assert.Single(i.Seen.OfType<ChildSaRemoved>());
        Assert.Equal((oldI, true), (removed.InboundSpi, removed.Rekeyed));
        // QM1..3 and our Delete (an informational), in that order.
        var rekeySends = i.Sent.Concat(r.Sent).Skip(sentBefore).ToList();
        Assert.Equal(4, rekeySends.Count);
        Assert.True(IsInformational(i.Sent[^1]));

        // The responder saw a second quick mode with the same child and selectors: the old SA is replaced, not rekeyed.
        int before = r.Sent.Count;
        r.Sa.RekeyChild(oldR);
        Assert.Empty(r.Sa.DrainEffects().OfType<SendMessage>());
        Assert.Equal(before, r.Sent.Count);
    }

    [Fact]
    public void A_lost_hash3_is_recovered_by_the_responders_retransmitted_message_2_and_the_initiators_repeated_hash3()
    {
        int initiatorQuick = 0;
        var (i, r) = Up((iSide, rSide) => (from, send) =>
        {
            // The initiator's second quick mode message is HASH(3): lost once on the wire.
            if (from == iSide && IsQuickMode(send) && ++initiatorQuick == 2) return null;
            return Host(iSide, rSide, send);
        });
        Assert.Empty(r.Seen.OfType<ChildSaActivated>());
        var message2 = Assert.Single(r.Sent.Where(IsQuickMode));

        r.Sa.OnRetransmitTimer();
        Pump(i, r, (_, s) => Host(i, r, s));
        Install(i);
        Install(r);

        var resent = r.Sent.Where(IsQuickMode).ToList();
        Assert.Equal(2, resent.Count);
        Assert.Equal(message2.Datagram, resent[1].Datagram);
        // msg 1, the lost HASH(3), and HASH(3) again answering the repeated message 2.
        var fromI = i.Sent.Where(IsQuickMode).ToList();
        Assert.Equal(3, fromI.Count);
        Assert.Equal(fromI[1].Datagram, fromI[2].Datagram);
        var mine = Assert.Single(i.Seen.OfType<ChildSaEstablished>()).Install;
        var theirs = Assert.Single(r.Seen.OfType<ChildSaEstablished>()).Install;
        Assert.Equal(mine.InboundSpi, Assert.Single(i.Seen.OfType<ChildSaActivated>()).InboundSpi);
        Assert.Equal(theirs.InboundSpi, Assert.Single(r.Seen.OfType<ChildSaActivated>()).InboundSpi);
        // HASH(3) ended the responder's retransmissions: its timer sends nothing more.
        r.Sa.OnRetransmitTimer();
        Assert.Empty(r.Drain());
    }
}
