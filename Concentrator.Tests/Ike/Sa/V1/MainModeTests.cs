using System.Buffers.Binary;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Sa.V1;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;
using static Concentrator.Tests.Ike.Sa.V1.V1PairHarness;

namespace Concentrator.Tests.Ike.Sa.V1;

/// <summary>
/// Main mode with pre-shared keys (RFC 2409 §5), our initiator against our responder, driven message by message without
/// an ActorSystem: each suite establishes with the same keys on both ends, a wrong key or identity fails both, every
/// proposal mismatch is NO-PROPOSAL-CHOSEN, retransmissions are answered from the cache, NAT-T floats (RFC 3947).
/// </summary>
public sealed class MainModeTests
{
    public static TheoryData<string, bool> Suites => new()
    {
        { "aes128-sha256-modp2048", false },
        { "aes256-sha256-modp3072", false },
        { "aes192-sha384-ecp384", false },
        { "aes256-sha512-ecp256", false },
        { "aes128-sha256-modp4096", false },
        { "aes256-sha1-modp2048", true },
        { "3des-sha1-modp1024", true },
    };

    [Theory]
    [MemberData(nameof(Suites))]
    public void Establishes_with_each_suite_and_both_ends_hold_the_same_keys(string proposal, bool weak)
    {
        var (i, r) = Handshake(Initiator(proposal, weak: weak), Responder(proposal, weak: weak));

        Assert.Equal(V1Phase1State.Established, i.Sa.State);
        Assert.Equal(V1Phase1State.Established, r.Sa.State);
        Assert.Single(i.Seen.OfType<IkeSaEstablished>());
        var up = Assert.Single(r.Seen.OfType<IkeSaEstablished>());
        Assert.Equal("rw", up.Connection);
        Assert.Equal("branch.example.net", up.RemoteId);
        Assert.Equal("gw.example.net", i.Sa.RemoteId!.Text);
        Assert.Equal(i.Sa.SkeyidD, r.Sa.SkeyidD);
        Assert.Equal(i.Sa.SkeyidA, r.Sa.SkeyidA);
        Assert.Equal(i.Sa.SkeyidE, r.Sa.SkeyidE);
        Assert.NotEmpty(i.Sa.SkeyidD);
        Assert.Equal(ResponderCookie, i.Sa.CookieR);
        Assert.Null(i.Sa.Phase1);
        Assert.Null(r.Sa.Phase1);
        // Main mode's six (quick mode follows for the initiator's child: QuickModePairTests).
        Assert.Equal(6, i.Sent.Concat(r.Sent).Count(s => s.Datagram[18] == (byte)V1ExchangeType.IdentityProtection));

        // Phase 2 IVs start from the last phase 1 block on both ends: a message sealed by one opens on the other.
        const uint mid = 0x1234_5678;
        var header = new IsakmpHeader(InitiatorCookie, ResponderCookie, V1PayloadType.None, 1, 0, V1ExchangeType.Informational, V1Flags.None, mid, 0);
        byte[] sealedMsg = i.Sa.Protector!.Seal(header, [new V1DataPayload(V1PayloadType.Hash, new byte[20])]);
        IsakmpCodec.TryDecode(sealedMsg, out var message);
        Assert.Equal(ParseStatus.Ok, r.Sa.Protector!.TryOpen(message!, out var plain, out _));
        Assert.Equal(new byte[20], plain.AsSpan(4, 20).ToArray());
        Assert.Equal((byte)V1PayloadType.None, plain[0]);
    }

    [Fact]
    public void A_wrong_pre_shared_key_fails_both_ends_and_counts_the_failure()
    {
        var (i, r) = Handshake(Initiator(psk: "the-initiators-key-000000"), Responder(psk: "the-responders-key-111111"));

        Assert.Equal(V1Phase1State.Closed, r.Sa.State);
        Assert.Equal(CloseReason.AuthFailed, Assert.Single(r.Seen.OfType<IkeSaClosed>()).Reason);
        Assert.Equal(AuthFailure.PskMismatch, Assert.Single(r.Seen.OfType<PeerAuthFailed>()).Reason);
        Assert.Empty(r.Seen.OfType<IkeSaEstablished>());
        Assert.Empty(i.Seen.OfType<IkeSaEstablished>());
        // The responder answers nothing to message 5; the initiator retransmits it until its budget ends.
        Assert.Equal(V1Phase1State.AwaitingAuth, i.Sa.State);
        for (int k = 0; k <= i.Sa.Context.Tunables.RetransmitTries; k++) i.Sa.OnRetransmitTimer();
        i.Drain();
        Assert.Equal(CloseReason.Timeout, Assert.Single(i.Seen.OfType<IkeSaClosed>()).Reason);
        Assert.Equal(V1Phase1State.Closed, i.Sa.State);
    }

    [Fact]
    public void An_identity_the_connection_does_not_name_fails_the_responder()
    {
        var (_, r) = Handshake(Initiator(), Responder(remoteId: "someone-else.example.net"));

        Assert.Equal(CloseReason.AuthFailed, Assert.Single(r.Seen.OfType<IkeSaClosed>()).Reason);
        Assert.Equal(AuthFailure.IdentityMismatch, Assert.Single(r.Seen.OfType<PeerAuthFailed>()).Reason);
    }

    [Fact]
    public void The_initiator_refuses_a_responder_with_another_identity()
    {
        var (i, r) = Handshake(Initiator(remoteId: "not-the-gateway.example.net"), Responder());

        Assert.Equal(V1Phase1State.Established, r.Sa.State);
        Assert.Equal(CloseReason.AuthFailed, Assert.Single(i.Seen.OfType<IkeSaClosed>()).Reason);
        Assert.Equal(AuthFailure.IdentityMismatch, Assert.Single(i.Seen.OfType<PeerAuthFailed>()).Reason);
    }

    public static TheoryData<string, string, bool> Mismatches => new()
    {
        { "aes256-sha256-modp2048", "aes128-sha256-modp2048", false }, // key length
        { "aes256-sha256-modp2048", "3des-sha256-modp2048", true },    // cipher
        { "aes256-sha256-modp2048", "aes256-sha384-modp2048", false }, // hash
        { "aes256-sha256-modp2048", "aes256-sha256-modp3072", false }, // group
        { "aes256-sha256-ecp256", "aes256-sha256-ecp384", false },     // curve
    };

    [Theory]
    [MemberData(nameof(Mismatches))]
    public void Every_proposal_mismatch_is_refused_with_no_proposal_chosen(string initiator, string responder, bool weak)
    {
        var (i, r) = Handshake(Initiator(initiator, weak: weak), Responder(responder, weak: weak));

        Assert.Equal(CloseReason.NoProposal, Assert.Single(r.Seen.OfType<IkeSaClosed>()).Reason);
        var notify = Assert.Single(r.Sent);
        IsakmpCodec.TryDecode(notify.Datagram, out var message);
        Assert.Equal(V1ExchangeType.Informational, message!.Header.Exchange);
        Assert.Equal(V1NotifyType.NoProposalChosen, message.Find<V1NotificationPayload>()!.NotifyType);
        Assert.Equal(CloseReason.NoProposal, Assert.Single(i.Seen.OfType<IkeSaClosed>()).Reason);
        Assert.Empty(r.Seen.OfType<IkeSaEstablished>());
    }

    [Fact]
    public void Retransmitted_first_and_third_messages_are_answered_from_the_cache_without_new_state()
    {
        var (i, r) = Create(Initiator(), Responder());
        i.Sa.Initiate();
        var m1 = Assert.Single(i.Drain());
        r.Sa.HandleDatagram(r.InboundFrom(i, m1));
        var m2 = Assert.Single(r.Drain());
        var stateAfter1 = r.Sa.State;
        r.Sa.HandleDatagram(r.InboundFrom(i, m1));
        var again2 = Assert.Single(r.Drain());
        Assert.Equal(m2.Datagram, again2.Datagram);
        Assert.Equal(stateAfter1, r.Sa.State);

        i.Sa.HandleDatagram(i.InboundFrom(r, m2));
        var m3 = Assert.Single(i.Drain());
        r.Sa.HandleDatagram(r.InboundFrom(i, m3));
        var m4 = Assert.Single(r.Drain());
        byte[] skeyidE = r.Sa.SkeyidE.ToArray();
        r.Sa.HandleDatagram(r.InboundFrom(i, m3));
        var again4 = Assert.Single(r.Drain());
        Assert.Equal(m4.Datagram, again4.Datagram);
        Assert.Equal(skeyidE, r.Sa.SkeyidE);
        Assert.Equal(V1Phase1State.AwaitingAuth, r.Sa.State);

        // The exchange still completes after the duplicates.
        i.Sa.HandleDatagram(i.InboundFrom(r, m4));
        Pump(i, r);
        Assert.Equal(V1Phase1State.Established, r.Sa.State);
    }

    [Fact]
    public void The_initiator_retransmits_its_last_message_within_the_tunables_and_then_gives_up()
    {
        var (i, _) = Create(Initiator(), Responder());
        i.Sa.Initiate();
        var first = Assert.Single(i.Drain());
        int tries = i.Sa.Context.Tunables.RetransmitTries;
        for (int k = 0; k < tries; k++)
        {
            i.Sa.OnRetransmitTimer();
            Assert.Equal(first.Datagram, Assert.Single(i.Drain()).Datagram);
        }
        i.Sa.OnRetransmitTimer();
        Assert.Empty(i.Drain());
        Assert.Equal(CloseReason.Timeout, Assert.Single(i.Seen.OfType<IkeSaClosed>()).Reason);
        Assert.Equal(tries + 1, i.Seen.OfType<ScheduleRetransmit>().Count());
    }

    [Fact]
    public void Several_exchanges_wait_at_once_and_each_is_retransmitted_until_its_own_answer()
    {
        var (i, _) = Handshake(Initiator(), Responder());
        long now = 1_000_000;
        i.Sa.Context.Clock = () => now;
        var payload = new Concentrator.Ike.Wire.V1.V1DataPayload(Concentrator.Ike.Wire.V1.V1PayloadType.Hash, new byte[32]);
        i.Sa.Send(Concentrator.Ike.Wire.V1.V1ExchangeType.QuickMode, 0x1111, [payload], encrypt: true, request: true);
        now += 1000;
        i.Sa.Send(Concentrator.Ike.Wire.V1.V1ExchangeType.Informational, 0x2222, [payload], encrypt: true, request: true);
        var sent = i.Drain();
        Assert.Equal(2, sent.Count);

        now += 3500; // past the first's 4 s, not the second's
        i.Sa.OnRetransmitTimer();
        Assert.Equal(sent[0].Datagram, Assert.Single(i.Drain()).Datagram);

        i.Sa.CancelRequest(0x1111);
        now += 60_000;
        i.Sa.OnRetransmitTimer();
        Assert.Equal(sent[1].Datagram, Assert.Single(i.Drain()).Datagram);
        i.Sa.CancelRequest(0x2222);
        Assert.IsType<CancelRetransmit>(i.Sa.DrainEffects().Last());
        i.Sa.OnRetransmitTimer();
        Assert.Empty(i.Drain());
        Assert.Equal(V1Phase1State.Established, i.Sa.State);
    }

    [Fact]
    public void With_encap_the_peer_sees_a_nat_and_both_ends_float_to_4500_from_message_5()
    {
        var (i, r) = Handshake(Initiator(extra: "    encap: yes"), Responder());

        Assert.Equal(V1Phase1State.Established, r.Sa.State);
        Assert.Equal(V1Phase1State.Established, i.Sa.State);
        Assert.Equal(NatTVersion.Rfc3947, r.Sa.NatTVersion);
        Assert.True(r.Sa.PeerBehindNat);
        Assert.False(r.Sa.BehindNat);
        Assert.True(r.Sa.NatT);
        Assert.True(i.Sa.NatT);
        Assert.Equal(UdpEncapsulation.NatTraversalPort, r.Sa.RemoteEndpoint.Port);
        Assert.Equal(UdpEncapsulation.NatTraversalPort, i.Sa.RemoteEndpoint.Port);
        // Messages 1-4 on 500, 5 and 6 on 4500.
        Assert.Equal([false, false, true], i.Sent.Where(s => s.Datagram[18] == (byte)V1ExchangeType.IdentityProtection).Select(s => s.NatT));
        Assert.Equal([false, false, true], r.Sent.Where(s => s.Datagram[18] == (byte)V1ExchangeType.IdentityProtection).Select(s => s.NatT));
    }

    [Fact]
    public void Without_a_nat_nothing_floats()
    {
        var (i, r) = Handshake(Initiator(), Responder());

        Assert.Equal(NatTVersion.Rfc3947, r.Sa.NatTVersion);
        Assert.False(r.Sa.NatDetected);
        Assert.False(i.Sa.NatDetected);
        Assert.All(i.Sent.Concat(r.Sent), s => Assert.False(s.NatT));
    }

    [Fact]
    public void A_ciphertext_changed_on_the_wire_fails_phase_1_and_leaves_no_established_sa()
    {
        int seen = 0;
        var (i, r) = Handshake(Initiator(), Responder(), tamper: (from, send) =>
        {
            if (from.Sa.IsInitiator && ++seen == 3)
            {
                var bytes = send.Datagram.ToArray();
                bytes[^1] ^= 0x01;
                return send with { Datagram = bytes };
            }
            return send;
        });

        Assert.NotEqual(V1Phase1State.Established, r.Sa.State);
        Assert.Empty(r.Seen.OfType<IkeSaEstablished>());
        Assert.Empty(i.Seen.OfType<IkeSaEstablished>());
    }

    [Fact]
    public void Key_material_is_zeroed_when_the_sa_is_disposed()
    {
        var (i, r) = Handshake(Initiator(), Responder());
        byte[] d = r.Sa.SkeyidD, a = r.Sa.SkeyidA, e = r.Sa.SkeyidE;
        r.Sa.Dispose();
        Assert.All([d, a, e], k => Assert.All(k, b => Assert.Equal(0, b)));
        i.Sa.Dispose();
    }

    [Fact]
    public void A_message_with_other_cookies_is_dropped()
    {
        var (i, r) = Handshake(Initiator(), Responder());
        var last = i.Sent[^1].Datagram.ToArray();
        BinaryPrimitives.WriteUInt64BigEndian(last, 0x9999);
        IsakmpHeader.TryParse(last, out var header);
        r.Sa.HandleDatagram(new V1Inbound(last, header, InitiatorEp, ResponderEp, false));
        Assert.Empty(r.Drain());
        Assert.Equal(V1Phase1State.Established, r.Sa.State);
    }
}
