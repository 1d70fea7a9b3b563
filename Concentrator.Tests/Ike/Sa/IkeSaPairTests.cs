using System.Net;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.Hosting;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;

namespace Concentrator.Tests.Ike.Sa;

/// <summary>
/// Two <see cref="IkeSa"/> objects wired directly (no sockets, no actors): deterministic checks of the
/// task manager, the message-ID window and the response cache.
/// </summary>
public sealed class IkeSaPairTests
{
    private static readonly IPEndPoint InitiatorEp = new(IPAddress.Parse("192.0.2.1"), 500);
    private static readonly IPEndPoint ResponderEp = new(IPAddress.Parse("192.0.2.2"), 500);

    private sealed class Side
    {
        public required IkeSa Sa { get; init; }
        public required InMemoryDataPlane Plane { get; init; }
        public List<IkeEffect> Seen { get; } = new();

        public List<SendMessage> Drain()
        {
            var effects = Sa.DrainEffects();
            Seen.AddRange(effects);
            foreach (var e in effects)
            {
                if (e is ChildSaEstablished c) Plane.AddSa(c.Install);
                if (e is ChildSaRemoved r) Plane.DeleteSa(r.InboundSpi);
            }
            return effects.OfType<SendMessage>().ToList();
        }
    }

    /// <summary>IKE_SA_INIT and IKE_AUTH between the two sides' own endpoints, every message delivered once.</summary>
    private static void Handshake(Side i, Side r)
    {
        i.Sa.Initiate();
        Deliver(r, i.Drain().Single(), InitiatorEp, ResponderEp);
        Deliver(i, r.Drain().Single(), ResponderEp, InitiatorEp);
        Deliver(r, i.Drain().Single(), InitiatorEp, ResponderEp);
        Deliver(i, r.Drain().Single(), ResponderEp, InitiatorEp);
    }

    private static (Side Initiator, Side Responder) Create(string initiatorConnectionExtra = "", string responderConnectionExtra = "")
    {
        var rConfig = ConcentratorConfig.Parse(Testbed.Support.TestGateway.ResponderYaml()
            .Replace("  rw:\n", "  rw:\n" + responderConnectionExtra), "<r>");
        var iConfig = ConcentratorConfig.Parse(Testbed.Support.TestGateway.InitiatorYaml()
            .Replace("    remote_addrs: [127.0.0.1]\n", "    remote_addrs: [127.0.0.1]\n" + initiatorConnectionExtra), "<i>");
        var rPlane = new InMemoryDataPlane();
        var iPlane = new InMemoryDataPlane();
        var rContext = new IkeSaContext { Resolver = new ConfigConnectionResolver(rConfig), DataPlane = rPlane };
        var iContext = new IkeSaContext { Resolver = new ConfigConnectionResolver(iConfig), DataPlane = iPlane };
        var initiator = IkeSa.CreateInitiator(iContext, iConfig.Connections["site"], 0x1111_2222_3333_4444, InitiatorEp, ResponderEp);
        var responder = IkeSa.CreateResponder(rContext, 0x1111_2222_3333_4444, 0x5555_6666_7777_8888, ResponderEp, InitiatorEp, natT: false);
        return (new Side { Sa = initiator, Plane = iPlane }, new Side { Sa = responder, Plane = rPlane });
    }

    private static void Deliver(Side to, SendMessage m, IPEndPoint from, IPEndPoint at) =>
        to.Sa.HandleDatagram(m.Datagram, from, at, viaNatT: false);

    [Fact]
    public void Full_handshake_moves_both_sides_through_their_states()
    {
        var (i, r) = Create();
        Assert.Equal(IkeSaState.Created, i.Sa.State);

        i.Sa.Initiate();
        var init = i.Drain().Single();
        Assert.Equal(IkeSaState.Connecting, i.Sa.State);

        Deliver(r, init, InitiatorEp, ResponderEp);
        var initResponse = r.Drain().Single();
        Assert.Equal(IkeSaState.Connecting, r.Sa.State);

        Deliver(i, initResponse, ResponderEp, InitiatorEp);
        var auth = i.Drain().Single();
        Assert.Equal(0x5555_6666_7777_8888UL, i.Sa.SpiR);

        Deliver(r, auth, InitiatorEp, ResponderEp);
        var authResponse = r.Drain().Single();
        Assert.Equal(IkeSaState.Established, r.Sa.State);

        Deliver(i, authResponse, ResponderEp, InitiatorEp);
        i.Drain();
        Assert.Equal(IkeSaState.Established, i.Sa.State);
        Assert.Equal(1, i.Plane.InstalledCount);
        Assert.Equal(1, r.Plane.InstalledCount);
        Assert.Equal(i.Sa.Children.Single().InboundSpi, r.Sa.Children.Single().OutboundSpi);
        Assert.Equal(r.Sa.Children.Single().InboundSpi, i.Sa.Children.Single().OutboundSpi);
    }

    [Fact]
    public void Retransmitted_requests_are_answered_from_the_response_cache()
    {
        var (i, r) = Create();
        i.Sa.Initiate();
        var init = i.Drain().Single();
        Deliver(r, init, InitiatorEp, ResponderEp);
        var initResponse = r.Drain().Single();

        // The same IKE_SA_INIT again: byte-identical answer, no new state.
        Deliver(r, init, InitiatorEp, ResponderEp);
        var again = r.Drain();
        Assert.Equal(initResponse.Datagram, again.OfType<SendMessage>().Single().Datagram);

        Deliver(i, initResponse, ResponderEp, InitiatorEp);
        var auth = i.Drain().Single();
        Deliver(r, auth, InitiatorEp, ResponderEp);
        var authResponse = r.Drain().Single();
        Assert.Equal(1, r.Plane.InstalledCount);

        // The same IKE_AUTH again (our response got lost): same bytes, still one Child SA.
        Deliver(r, auth, InitiatorEp, ResponderEp);
        var effects = r.Drain();
        Assert.Equal(authResponse.Datagram, effects.Single().Datagram);
        Assert.Equal(1, r.Plane.InstalledCount);
        Assert.Single(r.Seen.OfType<ChildSaEstablished>());
    }

    [Fact]
    public void Retransmit_timer_resends_the_same_request_then_gives_up()
    {
        var (i, _) = Create();
        i.Sa.Initiate();
        var first = i.Drain().Single();
        for (int attempt = 1; attempt <= IkeTunables.Default.RetransmitTries; attempt++)
        {
            i.Sa.OnRetransmitTimer();
            var resent = i.Drain().Single();
            Assert.Equal(first.Datagram, resent.Datagram);
            Assert.Contains(i.Seen, e => e is ScheduleRetransmit s && s.Delay == IkeTunables.Default.RetransmitDelay(attempt));
        }

        i.Sa.OnRetransmitTimer();
        i.Drain();
        Assert.Equal(IkeSaState.Destroyed, i.Sa.State);
        Assert.Equal(CloseReason.Timeout, i.Seen.OfType<IkeSaClosed>().Single().Reason);
    }

    [Fact]
    public void A_tampered_ike_auth_is_dropped_without_changing_state()
    {
        var (i, r) = Create();
        i.Sa.Initiate();
        Deliver(r, i.Drain().Single(), InitiatorEp, ResponderEp);
        Deliver(i, r.Drain().Single(), ResponderEp, InitiatorEp);
        var auth = i.Drain().Single();

        var tampered = (byte[])auth.Datagram.Clone();
        tampered[^5] ^= 0x01;
        r.Sa.HandleDatagram(tampered, InitiatorEp, ResponderEp, false);
        Assert.Empty(r.Drain());
        Assert.Equal(IkeSaState.Connecting, r.Sa.State);

        // The genuine message still works afterwards.
        Deliver(r, auth, InitiatorEp, ResponderEp);
        Assert.Single(r.Drain());
        Assert.Equal(IkeSaState.Established, r.Sa.State);
    }

    [Fact]
    public void Dead_peer_detection_is_an_empty_informational_that_times_out()
    {
        var (i, r) = Create();
        Handshake(i, r);
        i.Drain();

        // Answered DPD: SA stays.
        i.Sa.SendDpd();
        var probe = i.Drain().Single();
        Deliver(r, probe, InitiatorEp, ResponderEp);
        Deliver(i, r.Drain().Single(), ResponderEp, InitiatorEp);
        i.Drain();
        Assert.Equal(IkeSaState.Established, i.Sa.State);

        // Unanswered DPD: the retransmission budget runs out and the SA is cleared with its children.
        i.Sa.SendDpd();
        i.Drain();
        for (int n = 0; n <= IkeTunables.Default.RetransmitTries; n++) i.Sa.OnRetransmitTimer();
        i.Drain();
        Assert.Equal(IkeSaState.Destroyed, i.Sa.State);
        Assert.Equal(0, i.Plane.InstalledCount);
        Assert.Equal(CloseReason.Timeout, i.Seen.OfType<IkeSaClosed>().Single().Reason);
    }

    [Theory]
    [InlineData("", 0)]                        // the budget alone: 4 s, 7.2 s, ... (strongSwan's defaults)
    [InlineData("    dpd_timeout: 10s\n", 10)] // dpd_timeout ends it after the second retransmission
    public void An_unanswered_dpd_probe_ends_at_dpd_timeout_or_the_retransmit_budget_whichever_is_first(string extra, int dpdTimeout)
    {
        var (i, r) = Create(extra);
        long now = 0;
        i.Sa.Context.Clock = () => now;
        Handshake(i, r);
        i.Drain();
        Assert.Equal(TimeSpan.FromSeconds(dpdTimeout), i.Sa.Connection!.DpdTimeout);

        // The probe goes out; every retransmission timer fires exactly when it was scheduled.
        i.Sa.SendDpd();
        int sends = i.Drain().Count;
        while (i.Sa.State != IkeSaState.Destroyed)
        {
            var due = i.Seen.OfType<ScheduleRetransmit>().Last().Delay;
            Assert.True(due > TimeSpan.Zero, "a retransmission is always scheduled in the future");
            now += (long)due.TotalMilliseconds;
            i.Sa.OnRetransmitTimer();
            sends += i.Drain().Count;
            Assert.True(sends <= 1 + IkeTunables.Default.RetransmitTries, "more sends than the budget allows");
        }

        // Budget: 4 + 7.2 + 12.96 + 23.3 + 42 + 75.6 s ≈ 165 s, 1 + 5 sends; dpd_timeout 10 s: 4 s, then cut at 10 s.
        double expected = dpdTimeout > 0 ? dpdTimeout : Enumerable.Range(0, IkeTunables.Default.RetransmitTries + 1)
            .Sum(n => IkeTunables.Default.RetransmitDelay(n).TotalSeconds);
        Assert.Equal(expected, now / 1000.0, 1);
        Assert.Equal(dpdTimeout > 0 ? 2 : 1 + IkeTunables.Default.RetransmitTries, sends);
        Assert.Equal(CloseReason.Timeout, i.Seen.OfType<IkeSaClosed>().Single().Reason);
        Assert.Equal(0, i.Plane.InstalledCount);
    }

    [Fact]
    public void A_nat_between_the_peers_moves_ike_and_esp_to_port_4500()
    {
        var (i, r) = Create();
        // The initiator sends from 192.0.2.1:500; a NAT rewrites it to 198.51.100.7:61000.
        var natted = new IPEndPoint(IPAddress.Parse("198.51.100.7"), 61000);
        i.Sa.Initiate();
        Deliver(r, i.Drain().Single(), natted, ResponderEp);
        Assert.True(r.Sa.NatDetected, "the responder sees the source hash mismatch");
        var initResponse = r.Drain().Single();
        Assert.Equal(natted, initResponse.Remote);

        Deliver(i, initResponse, ResponderEp, InitiatorEp);
        Assert.True(i.Sa.NatDetected, "the initiator learns of the NAT from the responder's destination hash");
        Assert.True(i.Sa.BehindNat, "the initiator is the one behind the NAT: it sends keepalives");
        Assert.False(r.Sa.BehindNat, "the responder's own address is not translated");
        var auth = i.Drain().Single();
        Assert.True(auth.NatT, "IKE_AUTH goes out with the non-ESP marker");
        Assert.Equal(4500, auth.Remote.Port);
        Assert.Equal(ResponderEp.Address, auth.Remote.Address);

        // The NAT maps the new flow to another public port; the responder follows it.
        var nattedFloat = new IPEndPoint(natted.Address, 61001);
        var responderNatt = new IPEndPoint(ResponderEp.Address, 4500);
        r.Sa.HandleDatagram(auth.Datagram, nattedFloat, responderNatt, viaNatT: true);
        var authResponse = r.Drain().Single();
        Assert.True(authResponse.NatT);
        Assert.Equal(nattedFloat, authResponse.Remote);
        Assert.Equal(EspTransport.UdpEncapsulated, r.Seen.OfType<ChildSaEstablished>().Single().Install.Transport);
        Assert.Equal(nattedFloat, r.Seen.OfType<ChildSaEstablished>().Single().Install.RemoteEndpoint);

        i.Sa.HandleDatagram(authResponse.Datagram, responderNatt, new IPEndPoint(InitiatorEp.Address, 4500), viaNatT: true);
        i.Drain();
        Assert.Equal(IkeSaState.Established, i.Sa.State);
        Assert.Equal(EspTransport.UdpEncapsulated, i.Seen.OfType<ChildSaEstablished>().Single().Install.Transport);
    }

    [Fact]
    public void Behind_a_nat_that_rebinds_a_new_authenticated_request_or_new_esp_moves_the_sa_and_the_host_is_told()
    {
        // RFC 7296 §2.23's implicit updates, for a peer without MOBIKE (with it, only UPDATE_SA_ADDRESSES moves: MobikeTests).
        var (i, r) = Create(initiatorConnectionExtra: "    mobike: no\n");
        var natted = new IPEndPoint(IPAddress.Parse("198.51.100.7"), 61000);
        var mapped = new IPEndPoint(natted.Address, 61001);
        var responderNatt = new IPEndPoint(ResponderEp.Address, 4500);
        var initiatorNatt = new IPEndPoint(InitiatorEp.Address, 4500);
        i.Sa.Initiate();
        Deliver(r, i.Drain().Single(), natted, ResponderEp);
        Deliver(i, r.Drain().Single(), ResponderEp, InitiatorEp);
        r.Sa.HandleDatagram(i.Drain().Single().Datagram, mapped, responderNatt, viaNatT: true);
        i.Sa.HandleDatagram(r.Drain().Single().Datagram, responderNatt, initiatorNatt, viaNatT: true);
        i.Drain();
        Assert.Equal(IkeSaState.Established, r.Sa.State);
        Assert.Empty(r.Seen.OfType<PeerMoved>()); // floating to port 4500 while negotiating is not a move
        long version = r.Sa.StateVersion;

        // The NAT forgets the mapping; the initiator's next request (a DPD) arrives from a new one.
        var rebound = new IPEndPoint(natted.Address, 61002);
        i.Sa.SendDpd();
        var dpd = i.Drain().Single();
        r.Sa.HandleDatagram(dpd.Datagram, rebound, responderNatt, viaNatT: true);
        Assert.Equal(rebound, r.Drain().Single().Remote);
        var moved = Assert.Single(r.Seen.OfType<PeerMoved>());
        Assert.Equal((mapped, rebound, PeerMoveTrigger.Ike), (moved.From, moved.Remote, moved.Trigger));
        Assert.Equal(rebound, r.Sa.RemoteEndpoint);
        Assert.True(r.Sa.StateVersion > version, "the move must be replicated");

        // The same request again from the old mapping (delayed or replayed): answered from the cache, never followed.
        r.Sa.HandleDatagram(dpd.Datagram, mapped, responderNatt, viaNatT: true);
        Assert.Equal(mapped, r.Drain().Single().Remote);
        Assert.Equal(rebound, r.Sa.RemoteEndpoint);
        Assert.Single(r.Seen.OfType<PeerMoved>());

        // ESP the data plane authenticated: another SA's SPI moves nothing, this SA's child's does.
        var espFrom = new IPEndPoint(natted.Address, 61003);
        r.Sa.FollowEsp(r.Sa.Children.Single().InboundSpi ^ 0x5A5A5A5A, espFrom);
        Assert.Empty(r.Drain());
        r.Sa.FollowEsp(r.Sa.Children.Single().InboundSpi, espFrom);
        r.Drain();
        Assert.Equal(espFrom, r.Sa.RemoteEndpoint);
        var byEsp = r.Seen.OfType<PeerMoved>().Last();
        Assert.Equal((rebound, espFrom, PeerMoveTrigger.Esp), (byEsp.From, byEsp.Remote, byEsp.Trigger));
        // The next request we send goes to the new mapping.
        r.Sa.SendDpd();
        Assert.Equal(espFrom, r.Drain().Single().Remote);

        // The initiator is behind the NAT itself: it does not follow ESP from elsewhere (RFC 7296 §2.23, strongSwan alike).
        var initiatorRemote = i.Sa.RemoteEndpoint;
        i.Sa.FollowEsp(i.Sa.Children.Single().InboundSpi, new IPEndPoint(IPAddress.Parse("203.0.113.1"), 4500));
        Assert.Equal(initiatorRemote, i.Sa.RemoteEndpoint);
        Assert.Empty(i.Seen.OfType<PeerMoved>());
    }

    [Fact]
    public void Without_a_nat_neither_ike_nor_esp_from_another_address_moves_the_sa()
    {
        var (i, r) = Create();
        Handshake(i, r);
        Assert.Equal(IkeSaState.Established, r.Sa.State);

        var elsewhere = new IPEndPoint(IPAddress.Parse("192.0.2.99"), 500);
        i.Sa.SendDpd();
        Deliver(r, i.Drain().Single(), elsewhere, ResponderEp);
        r.Drain();
        r.Sa.FollowEsp(r.Sa.Children.Single().InboundSpi, elsewhere);
        r.Drain();
        Assert.Equal(InitiatorEp, r.Sa.RemoteEndpoint);
        Assert.Empty(r.Seen.OfType<PeerMoved>());
    }

    [Fact]
    public void Without_a_nat_ike_stays_on_port_500_and_esp_is_plain()
    {
        var (i, r) = Create();
        i.Sa.Initiate();
        Deliver(r, i.Drain().Single(), InitiatorEp, ResponderEp);
        Deliver(i, r.Drain().Single(), ResponderEp, InitiatorEp);
        var auth = i.Drain().Single();
        Assert.False(i.Sa.NatDetected);
        Assert.False(auth.NatT);
        Assert.Equal(500, auth.Remote.Port);
        Deliver(r, auth, InitiatorEp, ResponderEp);
        r.Drain();
        Assert.Equal(EspTransport.RawEsp, r.Seen.OfType<ChildSaEstablished>().Single().Install.Transport);
    }

    /// <summary>
    /// encap: yes (strongSwan's forced UDP encapsulation, RFC 3948): with no NAT between the peers, the initiator
    /// hashes a made-up address into NAT_DETECTION_SOURCE_IP, so the responder sees a NAT, and moves IKE to 4500
    /// itself; both ends then install UDP-encapsulated ESP.
    /// </summary>
    [Fact]
    public void Encap_yes_on_the_initiator_forces_udp_encapsulation_without_a_nat()
    {
        var (i, r) = Create(initiatorConnectionExtra: "    encap: yes\n");
        i.Sa.Initiate();
        Deliver(r, i.Drain().Single(), InitiatorEp, ResponderEp);
        Assert.True(r.Sa.NatDetected, "the responder sees the faked source hash as a NAT");
        Assert.False(r.Sa.BehindNat, "the destination hash still matches the responder's address");
        Deliver(i, r.Drain().Single(), ResponderEp, InitiatorEp);
        Assert.False(i.Sa.NatDetected, "the responder's hashes match: there is no NAT");
        Assert.False(i.Sa.BehindNat, "no keepalives without a real NAT");
        var auth = i.Drain().Single();
        Assert.True(auth.NatT, "IKE_AUTH goes out with the non-ESP marker");
        Assert.Equal(new IPEndPoint(ResponderEp.Address, 4500), auth.Remote);

        var responderNatt = new IPEndPoint(ResponderEp.Address, 4500);
        var initiatorNatt = new IPEndPoint(InitiatorEp.Address, 4500);
        r.Sa.HandleDatagram(auth.Datagram, initiatorNatt, responderNatt, viaNatT: true);
        var authResponse = r.Drain().Single();
        Assert.True(authResponse.NatT);
        Assert.Equal(initiatorNatt, authResponse.Remote);
        Assert.Equal(EspTransport.UdpEncapsulated, r.Seen.OfType<ChildSaEstablished>().Single().Install.Transport);

        i.Sa.HandleDatagram(authResponse.Datagram, responderNatt, initiatorNatt, viaNatT: true);
        i.Drain();
        Assert.Equal(IkeSaState.Established, i.Sa.State);
        var install = i.Seen.OfType<ChildSaEstablished>().Single().Install;
        Assert.Equal(EspTransport.UdpEncapsulated, install.Transport);
        Assert.Equal(responderNatt, install.RemoteEndpoint);
    }

    /// <summary>encap: yes on the responder (strongSwan fakes its source hash in either role): the initiator sees a NAT
    /// in front of the responder and floats to 4500, though none is there.</summary>
    [Fact]
    public void Encap_yes_on_the_responder_makes_the_initiator_float_without_a_nat()
    {
        var (i, r) = Create(responderConnectionExtra: "    encap: yes\n");
        i.Sa.Initiate();
        Deliver(r, i.Drain().Single(), InitiatorEp, ResponderEp);
        Assert.False(r.Sa.NatDetected, "the initiator's hashes match");
        Deliver(i, r.Drain().Single(), ResponderEp, InitiatorEp);
        Assert.True(i.Sa.NatDetected, "the responder's faked source hash reads as a NAT in front of it");
        Assert.False(i.Sa.BehindNat);
        var auth = i.Drain().Single();
        Assert.True(auth.NatT);
        Assert.Equal(4500, auth.Remote.Port);
    }

    /// <summary>The faked hash is not the hash of any endpoint the peers use, and differs from the real one.</summary>
    [Fact]
    public void Encap_yes_fakes_only_the_source_hash()
    {
        var (i, _) = Create(initiatorConnectionExtra: "    encap: yes\n");
        var (plain, _) = Create();
        i.Sa.Initiate();
        plain.Sa.Initiate();
        var forced = IkeMessageOf(i.Drain().Single());
        var normal = IkeMessageOf(plain.Drain().Single());
        Assert.NotEqual(Convert.ToHexString(NotifyData(normal, NotifyType.NatDetectionSourceIp)),
            Convert.ToHexString(NotifyData(forced, NotifyType.NatDetectionSourceIp)));
        Assert.Equal(Convert.ToHexString(NotifyData(normal, NotifyType.NatDetectionDestinationIp)),
            Convert.ToHexString(NotifyData(forced, NotifyType.NatDetectionDestinationIp)));
    }

    private static IkeMessage IkeMessageOf(SendMessage m)
    {
        Assert.Equal(ParseStatus.Ok, IkeCodec.TryDecode(m.Datagram, out var message));
        return message!;
    }

    private static byte[] NotifyData(IkeMessage m, NotifyType type) => m.GetNotify(type)!.Data;
}

/// <summary>Child SA rekeying (RFC 7296 §1.3.3, §2.8) between two directly wired IKE SAs, step by step.</summary>
public sealed class ChildRekeyPairTests
{
    private static (RekeyHarness.Side I, RekeyHarness.Side R) Established() => RekeyHarness.Established();
    private static void Pump(RekeyHarness.Side a, RekeyHarness.Side b) => RekeyHarness.Pump(a, b);

    private static readonly IPEndPoint InitiatorEp = RekeyHarness.InitiatorEp;
    private static readonly IPEndPoint ResponderEp = RekeyHarness.ResponderEp;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Rekey_replaces_the_child_on_both_sides_and_traffic_moves_to_it(bool originalInitiatorRekeys)
    {
        var (i, r) = Established();
        var (rekeyer, other) = originalInitiatorRekeys ? (i, r) : (r, i);
        uint oldRekeyer = rekeyer.Sa.Children.Single().InboundSpi;
        uint oldOther = other.Sa.Children.Single().InboundSpi;

        // CREATE_CHILD_SA {N(REKEY_SA), SA, Ni, TSi, TSr} -> {SA, Nr, TSi, TSr}, then INFORMATIONAL {D(old)}.
        Assert.True(rekeyer.Sa.RekeyChild(oldRekeyer));
        Assert.False(rekeyer.Sa.RekeyChild(oldRekeyer), "one rekey of a child at a time");
        Pump(rekeyer, other);

        var newRekeyer = rekeyer.Sa.Children.Single();
        var newOther = other.Sa.Children.Single();
        Assert.NotEqual(oldRekeyer, newRekeyer.InboundSpi);
        Assert.NotEqual(oldOther, newOther.InboundSpi);
        Assert.Equal(newRekeyer.InboundSpi, newOther.OutboundSpi);
        Assert.Equal(newOther.InboundSpi, newRekeyer.OutboundSpi);
        Assert.Equal(1, rekeyer.Plane.InstalledCount);
        Assert.Equal(1, other.Plane.InstalledCount);
        Assert.False(rekeyer.Sa.IsRekeying(oldRekeyer));

        // The responder of the rekey installed its new SA inbound-only and activated it only when the peer deleted
        // the old one: in the same step, immediately before the old SA's removal (no moment without an outbound SA).
        var install = other.Seen.OfType<ChildSaEstablished>().Last().Install;
        Assert.False(install.OutboundActive);
        int removed = other.Seen.FindIndex(e => e is ChildSaRemoved x && x.InboundSpi == oldOther);
        int activated = other.Seen.FindIndex(e => e is ChildSaActivated a && a.InboundSpi == newOther.InboundSpi);
        int established = other.Seen.FindLastIndex(e => e is ChildSaEstablished);
        Assert.True(removed >= 0 && activated > established && removed == activated + 1,
            "the successor is activated on the predecessor's deletion, immediately before its removal");
        Assert.True(rekeyer.Seen.OfType<ChildSaEstablished>().Last().Install.OutboundActive);

        LoopbackExchangeTests.AssertEspFlows(i.Plane, r.Plane, IPAddress.Parse("10.200.1.9"), IPAddress.Parse("10.10.0.9"));
        LoopbackExchangeTests.AssertEspFlows(r.Plane, i.Plane, IPAddress.Parse("10.10.0.9"), IPAddress.Parse("10.200.1.9"));
    }

    [Fact]
    public void Repeated_rekeys_leave_exactly_one_child_and_no_leaked_spi()
    {
        var (i, r) = Established();
        var seen = new HashSet<uint>();
        for (int n = 0; n < 20; n++)
        {
            var side = n % 2 == 0 ? i : r;
            var child = side.Sa.Children.Single();
            Assert.True(seen.Add(child.InboundSpi), "SPIs are never reused");
            Assert.True(side.Sa.RekeyChild(child.InboundSpi));
            Pump(side, n % 2 == 0 ? r : i);
            Assert.Single(i.Sa.Children);
            Assert.Single(r.Sa.Children);
            Assert.Equal(1, i.Plane.InstalledCount);
            Assert.Equal(1, r.Plane.InstalledCount);
        }
        LoopbackExchangeTests.AssertEspFlows(i.Plane, r.Plane, IPAddress.Parse("10.200.1.9"), IPAddress.Parse("10.10.0.9"));
    }

    [Fact]
    public void Rekey_of_an_unknown_child_is_answered_with_child_sa_not_found()
    {
        var (i, r) = Established();
        var child = i.Sa.Children.Single();
        // The responder already lost the SA without the initiator hearing of it (e.g. its Delete was lost).
        r.Sa.ChildTable.Remove(r.Sa.Children.Single().InboundSpi);
        r.Drain();
        Assert.True(i.Sa.RekeyChild(child.InboundSpi));
        var rekey = i.Drain().Single();
        r.Sa.HandleDatagram(rekey.Datagram, InitiatorEp, ResponderEp, false);
        var answer = r.Drain().Single();
        Assert.Equal(ParseStatus.Ok, Concentrator.Ike.Wire.IkeCodec.TryDecode(answer.Datagram, out var opened));
        Assert.Equal(ParseStatus.Ok, i.Sa.Protector!.TryOpen(answer.Datagram, opened!));
        Assert.NotNull(opened!.GetNotify(Concentrator.Ike.Wire.NotifyType.ChildSaNotFound));
        i.Sa.HandleDatagram(answer.Datagram, ResponderEp, InitiatorEp, false);
        i.Drain();
        Assert.False(i.Sa.IsRekeying(child.InboundSpi));
        Assert.Equal(child.InboundSpi, i.Sa.Children.Single().InboundSpi);
        Assert.Empty(r.Seen.OfType<ChildSaEstablished>().Skip(1));
        Assert.Empty(r.Sa.Children);

    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Ike_rekey_moves_the_children_to_a_new_ike_sa_and_deletes_the_old_one(bool originalInitiatorRekeys)
    {
        var (i, r) = Established();
        var (rekeyer, other) = originalInitiatorRekeys ? (i, r) : (r, i);
        ulong oldI = i.Sa.OurSpi, oldR = r.Sa.OurSpi;
        uint childI = i.Sa.Children.Single().InboundSpi, childR = r.Sa.Children.Single().InboundSpi;

        // CREATE_CHILD_SA {SA(IKE, new SPI), Ni, KEi} -> {SA, Nr, KEr} on the old SA; then INFORMATIONAL {D(IKE)} on the old SA.
        Assert.True(rekeyer.Sa.RekeyIke());
        Pump(rekeyer, other);

        Assert.NotEqual(oldI, i.Sa.OurSpi);
        Assert.NotEqual(oldR, r.Sa.OurSpi);
        Assert.Equal(i.Sa.SpiI, r.Sa.SpiI);
        Assert.Equal(i.Sa.SpiR, r.Sa.SpiR);
        Assert.Equal(originalInitiatorRekeys, i.Sa.IsInitiator);
        Assert.Empty(i.Retiring);
        Assert.Empty(r.Retiring);
        Assert.Equal(IkeSaState.Established, i.Sa.State);
        Assert.Equal(IkeSaState.Established, r.Sa.State);
        // The same Child SAs, still installed, now under the new IKE SA.
        Assert.Equal(childI, i.Sa.Children.Single().InboundSpi);
        Assert.Equal(childR, r.Sa.Children.Single().InboundSpi);
        Assert.Equal(1, i.Plane.InstalledCount);
        Assert.Equal(1, r.Plane.InstalledCount);
        Assert.Empty(i.Seen.OfType<ChildSaRemoved>());
        Assert.Empty(r.Seen.OfType<ChildSaRemoved>());

        // The new IKE SA works: a DPD and a Child rekey over it.
        i.Sa.SendDpd();
        Pump(i, r);
        Assert.True(r.Sa.RekeyChild(childR));
        Pump(r, i);
        Assert.NotEqual(childI, i.Sa.Children.Single().InboundSpi);
        LoopbackExchangeTests.AssertEspFlows(i.Plane, r.Plane, IPAddress.Parse("10.200.1.9"), IPAddress.Parse("10.10.0.9"));
    }
}

/// <summary>Collisions (RFC 7296 §2.8.1, §2.25), each step the exchange it is.</summary>
public sealed class CollisionPairTests
{
    /// <summary>
    /// Nonce first bytes that make one end's exchange hold the lowest of the four nonces. Order of nonce use: each end's
    /// request (Ni), then each end's response to the other (Nr). The winner's exchange has {0x20, 0x30}, the loser's
    /// {0x10, 0x40}: the loser's holds 0x10, the lowest, so its SA is redundant.
    /// </summary>
    private static void Decide(RekeyHarness.Side winner, RekeyHarness.Side loser)
    {
        winner.NoncesStartingWith(0x20, 0x40); // Ni of the winner's request, Nr of its answer to the loser
        loser.NoncesStartingWith(0x10, 0x30);  // Ni of the loser's request, Nr of its answer to the winner
    }

    private static NotifyType? ErrorIn(RekeyHarness.Side reader, SendMessage m)
    {
        Assert.Equal(ParseStatus.Ok, Concentrator.Ike.Wire.IkeCodec.TryDecode(m.Datagram, out var message));
        Assert.Equal(ParseStatus.Ok, reader.Sa.Protector!.TryOpen(m.Datagram, message!));
        return message!.GetErrorNotify()?.NotifyType;
    }

    /// <summary>One Child SA per side, paired, installed, sending; nothing in flight.</summary>
    private static void AssertOneChildPair(RekeyHarness.Side i, RekeyHarness.Side r)
    {
        var ci = Assert.Single(i.Sa.Children);
        var cr = Assert.Single(r.Sa.Children);
        Assert.Equal(ci.InboundSpi, cr.OutboundSpi);
        Assert.Equal(cr.InboundSpi, ci.OutboundSpi);
        Assert.Equal([ci.InboundSpi], i.Plane.InstalledSpis());
        Assert.Equal([cr.InboundSpi], r.Plane.InstalledSpis());
        Assert.Equal([ci.InboundSpi], i.OutboundActive);
        Assert.Equal([cr.InboundSpi], r.OutboundActive);
        Assert.False(i.Sa.RequestInFlight);
        Assert.False(r.Sa.RequestInFlight);
        Assert.False(i.Sa.IsRekeying(ci.InboundSpi));
        Assert.False(r.Sa.IsRekeying(cr.InboundSpi));
        LoopbackExchangeTests.AssertEspFlows(i.Plane, r.Plane, IPAddress.Parse("10.200.1.9"), IPAddress.Parse("10.10.0.9"));
        LoopbackExchangeTests.AssertEspFlows(r.Plane, i.Plane, IPAddress.Parse("10.10.0.9"), IPAddress.Parse("10.200.1.9"));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Simultaneous_child_rekeys_keep_the_sa_without_the_lowest_nonce(bool initiatorWins)
    {
        var (i, r) = RekeyHarness.Established();
        var (winner, loser) = initiatorWins ? (i, r) : (r, i);
        Decide(winner, loser);
        uint oldW = winner.Sa.Children.Single().InboundSpi, oldL = loser.Sa.Children.Single().InboundSpi;

        // Both rekey timers fire: CREATE_CHILD_SA {N(REKEY_SA), SA, Ni, TSi, TSr} from each end, crossing on the wire.
        Assert.True(winner.Sa.RekeyChild(oldW));
        Assert.True(loser.Sa.RekeyChild(oldL));
        var requestW = winner.Drain().Single();
        var requestL = loser.Drain().Single();

        // Each end answers the other's request as usual (§2.8.1): CREATE_CHILD_SA response {SA, Nr, TSi, TSr}; the
        // responder's new SA is inbound-only until the old SA is deleted.
        loser.Receive(requestW.Datagram, winner.Self);
        winner.Receive(requestL.Datagram, loser.Self);
        var answerToW = loser.Drain().Single();
        var answerToL = winner.Drain().Single();
        Assert.Null(ErrorIn(winner, answerToW));
        Assert.Null(ErrorIn(loser, answerToL));
        uint passiveAtW = winner.Seen.OfType<ChildSaEstablished>().Last().Install.InboundSpi; // the loser's SA, winner's end
        uint passiveAtL = loser.Seen.OfType<ChildSaEstablished>().Last().Install.InboundSpi;  // the winner's SA, loser's end

        // Each end gets the response to its own request and compares the four nonces: the loser's exchange holds the
        // lowest. The winner sends INFORMATIONAL {D(old SA)}; the loser INFORMATIONAL {D(its redundant SA)}.
        winner.Receive(answerToW.Datagram, loser.Self);
        loser.Receive(answerToL.Datagram, winner.Self);
        var deleteOld = winner.Drain().Single();
        var deleteRedundant = loser.Drain().Single();
        var ownW = winner.Seen.OfType<ChildSaEstablished>().Last().Install;
        var ownL = loser.Seen.OfType<ChildSaEstablished>().Last().Install;
        Assert.True(ownW.OutboundActive, "the winner sends on its new SA at once (make-before-break)");
        Assert.False(ownL.OutboundActive, "the loser's redundant SA never sends");

        // The Deletes cross: each end answers INFORMATIONAL {D(...)} for the SA the other deleted.
        loser.Receive(deleteOld.Datagram, winner.Self);
        winner.Receive(deleteRedundant.Datagram, loser.Self);
        RekeyHarness.Pump(winner, loser);

        AssertOneChildPair(i, r);
        Assert.Equal(ownW.InboundSpi, winner.Sa.Children.Single().InboundSpi);
        Assert.Equal(passiveAtL, loser.Sa.Children.Single().InboundSpi);
        // The loser switched outbound to the winner's SA when the old one was deleted; the redundant SA never sent.
        Assert.Contains(loser.Seen, e => e is ChildSaActivated a && a.InboundSpi == passiveAtL);
        Assert.DoesNotContain(winner.Seen, e => e is ChildSaActivated a && a.InboundSpi == passiveAtW);
        Assert.DoesNotContain(loser.Seen, e => e is ChildSaActivated a && a.InboundSpi == ownL.InboundSpi);
        Assert.Contains(winner.Seen, e => e is ChildSaRemoved x && x.InboundSpi == oldW);
        Assert.Contains(loser.Seen, e => e is ChildSaRemoved x && x.InboundSpi == oldL);
        Assert.Contains(winner.Seen, e => e is ChildSaRemoved x && x.InboundSpi == passiveAtW);
        Assert.Contains(loser.Seen, e => e is ChildSaRemoved x && x.InboundSpi == ownL.InboundSpi);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Child_rekey_whose_response_overtakes_the_peers_request_wins_whatever_the_nonces(bool lowNoncesFirst)
    {
        var (i, r) = RekeyHarness.Established();
        if (lowNoncesFirst) Decide(r, i); else Decide(i, r);
        uint oldI = i.Sa.Children.Single().InboundSpi, oldR = r.Sa.Children.Single().InboundSpi;

        // Both send CREATE_CHILD_SA {N(REKEY_SA)}; r answers i's request before i sees r's.
        Assert.True(i.Sa.RekeyChild(oldI));
        Assert.True(r.Sa.RekeyChild(oldR));
        var requestI = i.Drain().Single();
        var requestR = r.Drain().Single();
        r.Receive(requestI.Datagram, i.Self);
        var answerToI = r.Drain().Single();

        // i's rekey completes with no collision in sight: i switches to its new SA and sends INFORMATIONAL {D(old)}.
        i.Receive(answerToI.Datagram, r.Self);
        var deleteOld = i.Drain().Single();
        uint newI = i.Seen.OfType<ChildSaEstablished>().Last().Install.InboundSpi;

        // r's request now meets an SA i is deleting: TEMPORARY_FAILURE (§2.25.1), not a second successor.
        i.Receive(requestR.Datagram, r.Self);
        var refused = i.Drain().Single();
        Assert.Equal(NotifyType.TemporaryFailure, ErrorIn(r, refused));

        // r processes the refusal and the Delete: its rekey ends without a failure, i's successor takes over.
        r.Receive(refused.Datagram, i.Self);
        r.Receive(deleteOld.Datagram, i.Self);
        RekeyHarness.Pump(i, r);

        AssertOneChildPair(i, r);
        Assert.Equal(newI, i.Sa.Children.Single().InboundSpi);
        Assert.DoesNotContain(r.Sa.Children, c => c.InboundSpi == oldR);
        Assert.Single(r.Seen.OfType<ChildSaEstablished>().Skip(1)); // exactly one successor on r's side
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Simultaneous_ike_rekeys_keep_the_sa_without_the_lowest_nonce(bool initiatorWins)
    {
        var (i, r) = RekeyHarness.Established();
        var (winner, loser) = initiatorWins ? (i, r) : (r, i);
        Decide(winner, loser);
        var old = (I: i.Sa, R: r.Sa);
        uint childI = i.Sa.Children.Single().InboundSpi, childR = r.Sa.Children.Single().InboundSpi;

        // Both IKE rekey timers fire: CREATE_CHILD_SA {SA(IKE, new SPI), Ni, KEi} from each end on the old IKE SA.
        Assert.True(winner.Sa.RekeyIke());
        Assert.True(loser.Sa.RekeyIke());
        var requestW = winner.Drain().Single();
        var requestL = loser.Drain().Single();

        // Each answers the other's as usual (§2.25.2): CREATE_CHILD_SA response {SA, Nr, KEr}; the new SA waits.
        loser.Receive(requestW.Datagram, winner.Self);
        winner.Receive(requestL.Datagram, loser.Self);
        var answerToW = loser.Drain().Single();
        var answerToL = winner.Drain().Single();
        Assert.Null(ErrorIn(winner, answerToW));
        Assert.Null(ErrorIn(loser, answerToL));
        Assert.Same(old.I, i.Sa);
        Assert.Same(old.R, r.Sa);

        // The responses arrive; the lowest nonce was in the loser's exchange. The winner moves the children to its new
        // SA and sends INFORMATIONAL {D(IKE)} on the old SA; the loser moves them to the winner's SA and sends
        // INFORMATIONAL {D(IKE)} on its redundant SA.
        winner.Receive(answerToW.Datagram, loser.Self);
        loser.Receive(answerToL.Datagram, winner.Self);
        var fromW = winner.Drain();
        var fromL = loser.Drain();
        Assert.Single(fromW);
        Assert.Single(fromL);
        Assert.Equal(winner.Sa.SpiI, loser.Sa.SpiI);
        Assert.Equal(winner.Sa.SpiR, loser.Sa.SpiR);
        Assert.True(winner.Sa.IsInitiator, "the surviving IKE SA is the one the winner initiated");
        Assert.Equal(2, winner.Retiring.Count); // the old SA and the loser's redundant SA, until their Deletes
        Assert.Equal(2, loser.Retiring.Count);

        // The Deletes cross and are answered; both old and redundant IKE SAs close.
        loser.Receive(fromW.Single().Datagram, winner.Self);
        winner.Receive(fromL.Single().Datagram, loser.Self);
        RekeyHarness.Pump(winner, loser);

        Assert.Empty(i.Retiring);
        Assert.Empty(r.Retiring);
        Assert.Equal(IkeSaState.Established, i.Sa.State);
        Assert.Equal(IkeSaState.Established, r.Sa.State);
        Assert.Equal(IkeSaState.Destroyed, old.I.State);
        Assert.Equal(IkeSaState.Destroyed, old.R.State);
        Assert.Equal(i.Sa.SpiI, r.Sa.SpiI);
        Assert.Equal(i.Sa.SpiR, r.Sa.SpiR);
        Assert.Equal(initiatorWins, i.Sa.IsInitiator);
        // The same Child SAs, never removed, now under the surviving IKE SA.
        Assert.Equal(childI, i.Sa.Children.Single().InboundSpi);
        Assert.Equal(childR, r.Sa.Children.Single().InboundSpi);
        Assert.Empty(i.Seen.OfType<ChildSaRemoved>());
        Assert.Empty(r.Seen.OfType<ChildSaRemoved>());
        Assert.Equal(2, i.Seen.Concat(r.Seen).OfType<IkeSaRedundant>().Count());

        // The survivor works: a DPD and a child rekey over it.
        i.Sa.SendDpd();
        RekeyHarness.Pump(i, r);
        Assert.True(r.Sa.RekeyChild(childR));
        RekeyHarness.Pump(r, i);
        AssertOneChildPair(i, r);
    }

    [Fact]
    public void Ike_rekey_whose_response_overtakes_the_peers_request_wins_and_the_peer_adopts_it()
    {
        var (i, r) = RekeyHarness.Established();
        Decide(r, i); // nonces would favour r, but r's request arrives only after i's rekey is done
        uint childR = r.Sa.Children.Single().InboundSpi;

        // Both send CREATE_CHILD_SA {SA(IKE)}; r answers i's first.
        Assert.True(i.Sa.RekeyIke());
        Assert.True(r.Sa.RekeyIke());
        var requestI = i.Drain().Single();
        var requestR = r.Drain().Single();
        r.Receive(requestI.Datagram, i.Self);
        var answerToI = r.Drain().Single();

        // i completes: children to its new SA, INFORMATIONAL {D(IKE)} on the old one.
        i.Receive(answerToI.Datagram, r.Self);
        var deleteOld = i.Drain().Single();

        // r's request meets an IKE SA i is deleting: TEMPORARY_FAILURE (§2.25.2).
        i.Receive(requestR.Datagram, r.Self);
        var refused = i.Drain().Single();
        Assert.Equal(NotifyType.TemporaryFailure, ErrorIn(r, refused));

        // r: its rekey was refused, so the new SA it answered (i's) takes its children; then the old SA's Delete.
        r.Receive(refused.Datagram, i.Self);
        r.Receive(deleteOld.Datagram, i.Self);
        RekeyHarness.Pump(i, r);

        Assert.Empty(i.Retiring);
        Assert.Empty(r.Retiring);
        Assert.True(i.Sa.IsInitiator);
        Assert.Equal(i.Sa.SpiI, r.Sa.SpiI);
        Assert.Equal(i.Sa.SpiR, r.Sa.SpiR);
        Assert.Equal(childR, r.Sa.Children.Single().InboundSpi);
        Assert.Empty(r.Seen.OfType<ChildSaRemoved>());
        Assert.Empty(r.Seen.OfType<IkeSaRedundant>());
        AssertOneChildPair(i, r);
    }

    [Fact]
    public void Ike_rekey_during_another_exchange_gets_temporary_failure_and_keeps_the_sa()
    {
        var (i, r) = RekeyHarness.Established();
        ulong before = r.Sa.OurSpi;
        // The responder has a DPD of its own in flight when the initiator's IKE rekey arrives.
        r.Sa.SendDpd();
        var dpd = r.Drain().Single();
        Assert.True(i.Sa.RekeyIke());
        var rekey = i.Drain().Single();
        r.Receive(rekey.Datagram, i.Self);
        var refused = r.Drain().Single();
        i.Receive(refused.Datagram, r.Self);
        i.Drain();
        Assert.False(i.Sa.RekeyingIke);
        Assert.Empty(i.Retiring);
        Assert.Equal(before, r.Sa.OurSpi);

        // The DPD still completes on the unchanged SA.
        i.Receive(dpd.Datagram, r.Self);
        RekeyHarness.Pump(i, r);
        Assert.Equal(IkeSaState.Established, r.Sa.State);
    }

    [Fact]
    public void Delete_during_rekey_leaves_no_child_and_no_stuck_exchange()
    {
        var (i, r) = RekeyHarness.Established();
        uint childI = i.Sa.Children.Single().InboundSpi, childR = r.Sa.Children.Single().InboundSpi;
        // The responder deletes the child while the initiator's rekey of it is on the wire.
        Assert.True(i.Sa.RekeyChild(childI));
        var rekey = i.Drain().Single();
        r.Sa.DeleteChild(childR);
        var delete = r.Drain().Single();

        i.Receive(delete.Datagram, r.Self);      // INFORMATIONAL {D(ESP)}: the initiator drops the child
        r.Receive(rekey.Datagram, i.Self);       // CREATE_CHILD_SA {N(REKEY_SA)} for a child r is deleting
        RekeyHarness.Pump(i, r);

        Assert.False(i.Sa.IsRekeying(childI));
        Assert.False(i.Sa.RequestInFlight);
        Assert.False(r.Sa.RequestInFlight);
        Assert.DoesNotContain(i.Sa.Children, c => c.InboundSpi == childI);
        Assert.DoesNotContain(r.Sa.Children, c => c.InboundSpi == childR);
        // Whatever survived is consistent: each side's children pair up and are installed.
        Assert.Equal(i.Sa.Children.Count, r.Sa.Children.Count);
        Assert.Equal(i.Sa.Children.Count, i.Plane.InstalledCount);
        Assert.Equal(r.Sa.Children.Count, r.Plane.InstalledCount);
    }
}

/// <summary>
/// Soak: 1000 rekeys between our own initiator and responder with near-identical timing — each round one side,
/// the other, or both at once (a collision, settled by the lowest-nonce rule) rekey the child or the IKE SA.
/// </summary>
public sealed class RekeySoakTests
{
    [Fact]
    public void A_thousand_rekeys_with_collisions_leak_nothing_and_never_stall()
    {
        var (i, r) = RekeyHarness.Established();
        var random = new Random(1234);
        var spisSeen = new HashSet<uint>();
        var ikeSpisSeen = new HashSet<ulong> { i.Sa.OurSpi, r.Sa.OurSpi };
        int childRekeys = 0, ikeRekeys = 0, childCollisions = 0, ikeCollisions = 0;
        for (int round = 0; round < 1000; round++)
        {
            uint ci = i.Sa.Children.Single().InboundSpi, cr = r.Sa.Children.Single().InboundSpi;
            ulong ikeI = i.Sa.OurSpi;
            int what = random.Next(10);
            if (what == 9)
            {
                Assert.True((round % 2 == 0 ? i : r).Sa.RekeyIke());
            }
            else if (what == 8)
            {
                // Both IKE rekey timers fire together: CREATE_CHILD_SA {SA(IKE)} from each side (§2.8.2).
                Assert.True(i.Sa.RekeyIke());
                Assert.True(r.Sa.RekeyIke());
                ikeCollisions++;
            }
            else if (what >= 6)
            {
                // Both child rekey timers fire together: CREATE_CHILD_SA {N(REKEY_SA)} from each side (§2.8.1).
                Assert.True(i.Sa.RekeyChild(ci));
                Assert.True(r.Sa.RekeyChild(cr));
                childCollisions++;
            }
            else
            {
                Assert.True((what % 2 == 0 ? i : r).Sa.RekeyChild(what % 2 == 0 ? ci : cr));
            }

            RekeyHarness.Pump(i, r);
            if (what >= 8)
            {
                Assert.NotEqual(ikeI, i.Sa.OurSpi);
                Assert.True(ikeSpisSeen.Add(i.Sa.OurSpi) & ikeSpisSeen.Add(r.Sa.OurSpi), $"round {round}: IKE SPI reused");
                Assert.Equal(ci, i.Sa.Children.Single().InboundSpi);
                ikeRekeys++;
            }
            else
            {
                // Every child rekey round ends with exactly one new pair, collision or not.
                Assert.NotEqual(ci, i.Sa.Children.Single().InboundSpi);
                Assert.NotEqual(cr, r.Sa.Children.Single().InboundSpi);
                childRekeys++;
            }

            Assert.True(spisSeen.Add(i.Sa.Children.Single().InboundSpi) | what >= 8, $"round {round}: duplicate SPI");
            Assert.True(spisSeen.Add(r.Sa.Children.Single().InboundSpi) | what >= 8, $"round {round}: duplicate SPI");
            Assert.Single(i.Sa.Children);
            Assert.Single(r.Sa.Children);
            Assert.Equal(1, i.Plane.InstalledCount);
            Assert.Equal(1, r.Plane.InstalledCount);
            Assert.Single(i.OutboundActive);
            Assert.Single(r.OutboundActive);
            Assert.Empty(i.Retiring);
            Assert.Empty(r.Retiring);
            Assert.False(i.Sa.RequestInFlight, $"round {round}: initiator exchange stuck");
            Assert.False(r.Sa.RequestInFlight, $"round {round}: responder exchange stuck");
            Assert.Equal(i.Sa.SpiI, r.Sa.SpiI);
            Assert.Equal(i.Sa.SpiR, r.Sa.SpiR);
            Assert.Equal(i.Sa.Children.Single().InboundSpi, r.Sa.Children.Single().OutboundSpi);
            Assert.Equal(r.Sa.Children.Single().InboundSpi, i.Sa.Children.Single().OutboundSpi);
        }

        Assert.True(childRekeys >= 750, $"child rekeys {childRekeys}");
        Assert.True(ikeRekeys >= 150, $"IKE rekeys {ikeRekeys}");
        Assert.True(childCollisions >= 150, $"child collisions {childCollisions}");
        Assert.True(ikeCollisions >= 60, $"IKE collisions {ikeCollisions}");
        LoopbackExchangeTests.AssertEspFlows(i.Plane, r.Plane, IPAddress.Parse("10.200.1.9"), IPAddress.Parse("10.10.0.9"));
        LoopbackExchangeTests.AssertEspFlows(r.Plane, i.Plane, IPAddress.Parse("10.10.0.9"), IPAddress.Parse("10.200.1.9"));
    }
}
