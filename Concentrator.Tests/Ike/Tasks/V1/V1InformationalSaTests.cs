using System.Buffers.Binary;
using System.Security.Cryptography;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Sa.V1;
using Concentrator.Ike.Tasks.V1;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;
using Concentrator.Tests.Ike.Sa.V1;
using Side = Concentrator.Tests.Ike.Sa.V1.V1PairHarness.Side;

namespace Concentrator.Tests.Ike.Tasks.V1;

/// <summary>
/// The informational exchange on two phase 1 SAs that ran main mode and quick mode against each other
/// (<see cref="V1PairHarness"/>, one Child SA), without an ActorSystem: HASH(1)
/// of RFC 2409 §5.7 (recomputed here with .NET's HMAC), a forged, changed or cleartext informational moving nothing,
/// Deletes both ways, INITIAL-CONTACT, and DPD probes, answers and a dead peer.
/// </summary>
public class V1InformationalSaTests
{
    /// <summary>A main mode and quick mode pair; <paramref name="initiatorExtra"/> are further keys of the initiator's connection.</summary>
    private sealed record Pair(IkeV1Sa I, IkeV1Sa R, Side IS, Side RS)
    {
        public static Pair Up(params string[] initiatorExtra)
        {
            var (i, r) = V1PairHarness.Handshake(V1PairHarness.Initiator(extra: string.Concat(initiatorExtra.Select(l => "    " + l + "\n"))),
                V1PairHarness.Responder());
            Assert.Equal(V1Phase1State.Established, i.Sa.State);
            Assert.Equal(V1Phase1State.Established, r.Sa.State);
            Assert.Single(r.Sa.QuickModeChildren);
            return new Pair(i.Sa, r.Sa, i, r);
        }
    }

    private static List<IkeEffect> Effects(IkeV1Sa sa) => sa.DrainEffects().ToList();

    private static byte[] Sent(IkeV1Sa sa) => Assert.Single(sa.DrainEffects().OfType<SendMessage>()).Datagram;

    private static void ToR(Pair p, byte[] datagram) =>
        p.R.HandleDatagram(p.RS.InboundFrom(p.IS, new SendMessage(datagram, V1PairHarness.ResponderEp, p.I.NatT)));

    private static void ToI(Pair p, byte[] datagram) =>
        p.I.HandleDatagram(p.IS.InboundFrom(p.RS, new SendMessage(datagram, V1PairHarness.InitiatorEp, p.R.NatT)));

    private static V1DeletePayload IsakmpDelete(IkeV1Sa sa) =>
        new(V1ProtocolId.Isakmp, [V1Informational.IsakmpSpi(sa.CookieI, sa.CookieR)]);

    /// <summary>An informational sealed by <paramref name="sa"/> with <paramref name="payloads"/> as they are (the caller brings the HASH).</summary>
    private static byte[] Raw(IkeV1Sa sa, uint messageId, IReadOnlyList<V1Payload> payloads) =>
        sa.Protector!.Seal(new IsakmpHeader(sa.CookieI, sa.CookieR, V1PayloadType.None, 1, 0, V1ExchangeType.Informational, V1Flags.None,
            messageId, 0), payloads);

    [Fact]
    public void Main_mode_announces_dpd_both_ways_and_an_informational_carries_hash1_over_the_payloads_after_it()
    {
        var p = Pair.Up();
        Assert.True((p.I.PeerFeatures & V1PeerFeatures.Dpd) != 0, "the responder sent no DPD vendor ID");
        Assert.True((p.R.PeerFeatures & V1PeerFeatures.Dpd) != 0, "the initiator sent no DPD vendor ID");

        var notify = V1DpdState.Notify(V1NotifyType.DpdRUThere, p.I.CookieI, p.I.CookieR, 77);
        p.I.SendInformational([notify]);
        byte[] datagram = Sent(p.I);
        Assert.Equal(ParseStatus.Ok, IsakmpCodec.TryDecode(datagram, out var message));
        Assert.Equal(V1ExchangeType.Informational, message!.Header.Exchange);
        Assert.True(message.Header.Encrypted);
        Assert.NotEqual(0u, message.Header.MessageId);
        Assert.Equal(ParseStatus.Ok, p.R.Protector!.TryOpen(message, out var plaintext, out _));
        var chain = IsakmpCodec.EncodeChain([notify]);
        byte[] mid = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(mid, message.Header.MessageId);
        // HASH(1) = prf(SKEYID_a, M-ID | N), the HMAC of the negotiated SHA-256 keyed with SKEYID_a.
        byte[] expected = HMACSHA256.HashData(p.I.SkeyidA, (byte[])[.. mid, .. chain]);
        Assert.Equal(V1PayloadType.Hash, message.Header.NextPayload);
        Assert.Equal(expected, plaintext.AsSpan(4, 32).ToArray());
        Assert.Equal(chain, plaintext.AsSpan(36, chain.Length).ToArray());

        ToR(p, datagram);
        var ack = Assert.Single(p.R.DrainEffects().OfType<SendMessage>());
        ToI(p, ack.Datagram);
        Assert.Empty(p.I.DrainEffects().OfType<IkeSaClosed>());
    }

    [Fact]
    public void A_wrong_hash_is_refused_and_moves_nothing()
    {
        var p = Pair.Up();
        Effects(p.R);
        long lastInbound = p.R.LastInbound = 1;
        // The right chain under a HASH keyed with something else than SKEYID_a.
        var delete = IsakmpDelete(p.I);
        byte[] wrong = HMACSHA256.HashData(new byte[32], IsakmpCodec.EncodeChain([delete]));
        ToR(p, Raw(p.I, 0x1234, [new V1DataPayload(V1PayloadType.Hash, wrong), delete]));
        var effects = Effects(p.R);
        Assert.Equal(V1Phase1State.Established, p.R.State);
        Assert.DoesNotContain(effects, e => e is SendMessage or IkeSaClosed or ChildSaRemoved);
        Assert.Contains(effects, e => e is V1InfoLogged { Event: V1InfoEvent.Dropped });
        Assert.Equal(lastInbound, p.R.LastInbound);

        // A DPD probe with the wrong HASH is not answered, and the receive sequence did not move: the genuine probe
        // with the same number is then the first one seen.
        var ru = V1DpdState.Notify(V1NotifyType.DpdRUThere, p.I.CookieI, p.I.CookieR, 500);
        ToR(p, Raw(p.I, 0x1235, [new V1DataPayload(V1PayloadType.Hash, new byte[32]), ru]));
        Assert.Empty(p.R.DrainEffects().OfType<SendMessage>());
        p.I.SendInformational([ru]);
        ToR(p, Sent(p.I));
        Assert.Single(p.R.DrainEffects().OfType<SendMessage>());
        Assert.False(p.R.Dpd.OnRuThere(500)); // 500 was taken by the genuine probe, not by the forged one
        Assert.True(p.R.Dpd.OnRuThere(501));

        // A cleartext Delete after phase 1 is unauthenticated: dropped.
        ToR(p, IsakmpCodec.Encode(new IsakmpHeader(p.I.CookieI, p.I.CookieR, V1PayloadType.None, 1, 0, V1ExchangeType.Informational,
            V1Flags.None, 0x1236, 0), [delete]));
        Assert.Equal(V1Phase1State.Established, p.R.State);
        Assert.DoesNotContain(Effects(p.R), e => e is IkeSaClosed);
    }

    [Fact]
    public void Every_single_octet_change_of_an_isakmp_delete_leaves_the_sa_up()
    {
        var p = Pair.Up();
        Effects(p.R);
        p.I.SendInformational([IsakmpDelete(p.I)]);
        byte[] datagram = Sent(p.I);
        for (int i = 0; i < datagram.Length; i++)
        {
            // The minor version (RFC 2408 §5.2: a receiver may accept a higher one) is covered by nothing in IKEv1.
            if (i == 17) continue;
            var changed = (byte[])datagram.Clone();
            changed[i] ^= 0x01;
            if (IsakmpHeader.TryParse(changed, out _) != ParseStatus.Ok) continue;
            ToR(p, changed);
            Assert.True(p.R.State == V1Phase1State.Established, $"octet {i} changed closed the SA");
            Assert.DoesNotContain(Effects(p.R), e => e is SendMessage or IkeSaClosed);
        }
        ToR(p, datagram);
        Assert.Equal(V1Phase1State.Closed, p.R.State);
        Assert.Equal(CloseReason.DeletedByPeer, Assert.Single(p.R.DrainEffects().OfType<IkeSaClosed>()).Reason);
    }

    [Fact]
    public void Our_teardown_deletes_each_child_then_the_isakmp_sa_and_the_peer_removes_them()
    {
        var p = Pair.Up();
        Effects(p.R);
        uint iChild = Assert.Single(p.I.QuickModeChildren.Keys);
        uint rChild = Assert.Single(p.R.QuickModeChildren.Keys);
        p.I.Delete();
        var sent = p.I.DrainEffects().ToList();
        Assert.Equal(CloseReason.Deleted, Assert.Single(sent.OfType<IkeSaClosed>()).Reason);
        var datagrams = sent.OfType<SendMessage>().ToList();
        Assert.Equal(2, datagrams.Count);
        ToR(p, datagrams[0].Datagram);
        var afterChild = Effects(p.R);
        // Our inbound SPI is the peer's outbound one: it finds the child by it and removes it by its own inbound SPI.
        Assert.Equal(rChild, Assert.Single(afterChild.OfType<ChildSaRemoved>()).InboundSpi);
        Assert.Empty(afterChild.OfType<IkeSaClosed>());
        Assert.Empty(p.R.QuickModeChildren);
        ToR(p, datagrams[1].Datagram);
        Assert.Equal(CloseReason.DeletedByPeer, Assert.Single(Effects(p.R).OfType<IkeSaClosed>()).Reason);
        Assert.NotEqual(iChild, rChild);
    }

    [Fact]
    public void A_child_sa_to_go_is_deleted_at_the_peer_and_an_unknown_spi_is_ignored()
    {
        var p = Pair.Up();
        Effects(p.R);
        // An SPI no child has: counted and ignored, the SA and its child stay.
        var unknown = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(unknown, 0xC3C3C3C3);
        p.I.SendInformational([new V1DeletePayload(V1ProtocolId.Esp, [unknown])]);
        ToR(p, Sent(p.I));
        var effects = Effects(p.R);
        Assert.Empty(effects.OfType<ChildSaRemoved>());
        Assert.Contains(effects, e => e is V1InfoLogged { Event: V1InfoEvent.DeleteIgnored, Number: 1 });
        Assert.Single(p.R.QuickModeChildren);

        uint iChild = Assert.Single(p.I.QuickModeChildren.Keys);
        uint rChild = Assert.Single(p.R.QuickModeChildren.Keys);
        p.I.DeleteChild(iChild);
        var sent = p.I.DrainEffects().ToList();
        Assert.Equal(iChild, Assert.Single(sent.OfType<ChildSaRemoved>()).InboundSpi);
        ToR(p, Assert.Single(sent.OfType<SendMessage>()).Datagram);
        Assert.Equal(rChild, Assert.Single(Effects(p.R).OfType<ChildSaRemoved>()).InboundSpi);
        Assert.Equal(V1Phase1State.Established, p.R.State);

        // A child quick mode does not know is removed without a Delete on the wire.
        p.I.DeleteChild(0xD4D4D4D4);
        var none = p.I.DrainEffects().ToList();
        Assert.Empty(none.OfType<SendMessage>());
        Assert.Equal(0xD4D4D4D4u, Assert.Single(none.OfType<ChildSaRemoved>()).InboundSpi);
    }

    [Fact]
    public void Initial_contact_after_main_mode_is_reported_once()
    {
        var p = Pair.Up();
        Effects(p.R);
        Assert.False(p.R.InitialContact);
        var ic = new V1NotificationPayload(V1NotifyType.InitialContact, V1ProtocolId.Isakmp, V1Informational.IsakmpSpi(p.I.CookieI, p.I.CookieR));
        p.I.SendInformational([ic]);
        ToR(p, Sent(p.I));
        Assert.Single(Effects(p.R).OfType<V1InitialContactSeen>());
        Assert.True(p.R.InitialContact);
        p.I.SendInformational([ic]);
        ToR(p, Sent(p.I));
        Assert.Empty(Effects(p.R).OfType<V1InitialContactSeen>());
    }

    [Fact]
    public void Dpd_probes_an_idle_peer_takes_its_ack_and_closes_the_sa_of_a_silent_one()
    {
        var p = Pair.Up("dpd_delay: 2s", "dpd_timeout: 6s");
        Effects(p.I);
        Effects(p.R);
        p.I.Dpd.PeerSupports = (p.I.PeerFeatures & V1PeerFeatures.Dpd) != 0;
        uint first = p.I.Dpd.OutstandingSequence;

        Assert.False(p.I.DpdTick(now: 1_000, lastInbound: 0));
        Assert.Empty(p.I.DrainEffects().OfType<SendMessage>());
        Assert.False(p.I.DpdTick(now: 2_000, lastInbound: 0));
        ToR(p, Sent(p.I));
        ToI(p, Sent(p.R));
        Assert.False(p.I.Dpd.Outstanding);
        Assert.Equal(first + 1, p.I.Dpd.OutstandingSequence);
        Assert.Equal(V1DpdPhase.Quiet, p.I.Dpd.Phase);

        // Silent from now on: probes every dpd_delay, dead at dpd_timeout - dpd_delay after the first.
        Assert.False(p.I.DpdTick(now: 10_000, lastInbound: 0));
        Assert.Single(p.I.DrainEffects().OfType<SendMessage>());
        Assert.False(p.I.DpdTick(now: 12_000, lastInbound: 0));
        Assert.Single(p.I.DrainEffects().OfType<SendMessage>());
        Assert.True(p.I.DpdTick(now: 14_000, lastInbound: 0));
        Assert.Equal(CloseReason.Timeout, Assert.Single(p.I.DrainEffects().OfType<IkeSaClosed>()).Reason);
        Assert.Equal(V1Phase1State.Closed, p.I.State);
    }

    [Fact]
    public void Without_the_peer_s_vendor_id_or_a_dpd_delay_no_probe_goes_out()
    {
        var p = Pair.Up("dpd_delay: 2s");
        Effects(p.I);
        Assert.False(p.I.DpdTick(now: 100_000, lastInbound: 0));
        var effects = Effects(p.I);
        Assert.Empty(effects.OfType<SendMessage>());
        Assert.Contains(effects, e => e is V1InfoLogged { Event: V1InfoEvent.DpdUnsupported });

        var noDelay = Pair.Up();
        noDelay.I.Dpd.PeerSupports = true;
        Effects(noDelay.I);
        Assert.False(noDelay.I.DpdTick(now: 100_000, lastInbound: 0));
        Assert.Empty(Effects(noDelay.I));
    }
}
