using System.Net;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.Hosting;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;
using Concentrator.Telemetry;
using Concentrator.Tests.Telemetry;

namespace Concentrator.Tests.Ike.Sa;

/// <summary>
/// MOBIKE (RFC 4555) between two <see cref="IkeSa"/> ends wired message by message, no actors: negotiation in IKE_AUTH,
/// the responder moving the IKE SA and every Child SA on an authenticated UPDATE_SA_ADDRESSES (with NAT detection
/// recomputed and COOKIE2 echoed), the initiator's updates (our address changed, our NAT's mapping changed), and what
/// must not move an SA: a peer that did not negotiate MOBIKE, IKE from an address the peer left, a NAT where none is allowed.
/// </summary>
public sealed class MobikeTests
{
    private static readonly IPEndPoint InitiatorEp = new(IPAddress.Parse("192.0.2.1"), 500);
    private static readonly IPEndPoint ResponderEp = new(IPAddress.Parse("192.0.2.2"), 500);
    private static readonly IPEndPoint ResponderNatt = new(ResponderEp.Address, 4500);

    /// <summary>One end as the actor hosts it: installs children and, on <see cref="PeerMoved"/>, points each at the new
    /// remote (EffectRunner.OnPeerMoved).</summary>
    private sealed class Side
    {
        public required IkeSa Sa { get; init; }
        public required InMemoryDataPlane Plane { get; init; }
        public required ConcentratorMetrics Metrics { get; init; }
        public List<IkeEffect> Seen { get; } = new();

        public List<SendMessage> Drain()
        {
            var effects = Sa.DrainEffects();
            Seen.AddRange(effects);
            foreach (var e in effects)
            {
                if (e is ChildSaEstablished c) Plane.AddSa(c.Install);
                if (e is ChildSaRemoved r) Plane.DeleteSa(r.InboundSpi);
                if (e is PeerMoved m)
                {
                    foreach (var spi in Plane.InstalledSpis()) Plane.UpdateRemote(spi, m.Remote);
                }
            }
            return effects.OfType<SendMessage>().ToList();
        }

        public IPEndPoint? ChildRemote(uint spi) => Plane.TryGetSa(spi, out var sa) ? sa.RemoteEndpoint : null;

        public double Mobike(MobikeOutcome outcome)
        {
            var text = new MetricsText(MetricsEndpointTests.ExportAsync(Metrics.Registry).GetAwaiter().GetResult());
            return text.Sum("concentrator_ike_mobike_updates_total", ("outcome", LabelValues.Snake(outcome.ToString())));
        }
    }

    private static (Side I, Side R) Create(string initiatorExtra = "", string responderExtra = "")
    {
        var rConfig = ConcentratorConfig.Parse(Testbed.Support.TestGateway.ResponderYaml().Replace("  rw:\n", "  rw:\n" + responderExtra), "<r>");
        var iConfig = ConcentratorConfig.Parse(Testbed.Support.TestGateway.InitiatorYaml()
            .Replace("    remote_addrs: [127.0.0.1]\n", "    remote_addrs: [127.0.0.1]\n" + initiatorExtra), "<i>");
        var rPlane = new InMemoryDataPlane();
        var iPlane = new InMemoryDataPlane();
        var rMetrics = new ConcentratorMetrics();
        var iMetrics = new ConcentratorMetrics();
        var rContext = new IkeSaContext { Resolver = new ConfigConnectionResolver(rConfig), DataPlane = rPlane, Metrics = rMetrics };
        var iContext = new IkeSaContext { Resolver = new ConfigConnectionResolver(iConfig), DataPlane = iPlane, Metrics = iMetrics };
        var initiator = IkeSa.CreateInitiator(iContext, iConfig.Connections["site"], 0x1111_2222_3333_4444, InitiatorEp, ResponderEp);
        var responder = IkeSa.CreateResponder(rContext, 0x1111_2222_3333_4444, 0x5555_6666_7777_8888, ResponderEp, InitiatorEp, natT: false);
        return (new Side { Sa = initiator, Plane = iPlane, Metrics = iMetrics }, new Side { Sa = responder, Plane = rPlane, Metrics = rMetrics });
    }

    /// <summary>IKE_SA_INIT and IKE_AUTH without a NAT, on port 500.</summary>
    private static void Handshake(Side i, Side r)
    {
        i.Sa.Initiate();
        r.Sa.HandleDatagram(i.Drain().Single().Datagram, InitiatorEp, ResponderEp, viaNatT: false);
        i.Sa.HandleDatagram(r.Drain().Single().Datagram, ResponderEp, InitiatorEp, viaNatT: false);
        r.Sa.HandleDatagram(i.Drain().Single().Datagram, InitiatorEp, ResponderEp, viaNatT: false);
        i.Sa.HandleDatagram(r.Drain().Single().Datagram, ResponderEp, InitiatorEp, viaNatT: false);
        i.Drain();
        Assert.Equal(IkeSaState.Established, i.Sa.State);
        Assert.Equal(IkeSaState.Established, r.Sa.State);
    }

    /// <summary>IKE_SA_INIT from 192.0.2.1:500 through a NAT (198.51.100.7:61000), then IKE_AUTH on port 4500 (mapped to
    /// :61001): both ends on NAT-T, the responder sees the NAT, the initiator knows it is behind it.</summary>
    private static (IPEndPoint Mapped, IPEndPoint InitiatorNatt) NattedHandshake(Side i, Side r)
    {
        var natted = new IPEndPoint(IPAddress.Parse("198.51.100.7"), 61000);
        var mapped = new IPEndPoint(natted.Address, 61001);
        var initiatorNatt = new IPEndPoint(InitiatorEp.Address, 4500);
        i.Sa.Initiate();
        r.Sa.HandleDatagram(i.Drain().Single().Datagram, natted, ResponderEp, viaNatT: false);
        i.Sa.HandleDatagram(r.Drain().Single().Datagram, ResponderEp, InitiatorEp, viaNatT: false);
        r.Sa.HandleDatagram(i.Drain().Single().Datagram, mapped, ResponderNatt, viaNatT: true);
        i.Sa.HandleDatagram(r.Drain().Single().Datagram, ResponderNatt, initiatorNatt, viaNatT: true);
        i.Drain();
        Assert.Equal(IkeSaState.Established, r.Sa.State);
        Assert.True(r.Sa.NatDetected);
        Assert.True(i.Sa.BehindNat);
        return (mapped, initiatorNatt);
    }

    /// <summary>A second Child SA, so "every child" is more than one.</summary>
    private static void SecondChild(Side i, Side r, IPEndPoint iFrom, IPEndPoint rAt, bool natT)
    {
        i.Sa.CreateChild(i.Sa.Connection!.Children.Values.Single());
        r.Sa.HandleDatagram(i.Drain().Single().Datagram, iFrom, rAt, natT);
        i.Sa.HandleDatagram(r.Drain().Single().Datagram, rAt, i.Sa.LocalEndpoint, natT);
        i.Drain();
        Assert.Equal(2, r.Plane.InstalledCount);
    }

    private static IReadOnlyList<NotifyType> Notifies(IkeSa receiver, byte[] datagram)
    {
        Assert.Equal(ParseStatus.Ok, IkeHeader.TryParse(datagram, out var header));
        Assert.Equal(ParseStatus.Ok, IkeCodec.TryDecode(datagram, header, out var message, out _, 64));
        Assert.Equal(ParseStatus.Ok, receiver.Protector!.TryOpen(datagram, message!, 64));
        return message!.GetAll<NotifyPayload>().Select(n => n.NotifyType).ToList();
    }

    [Fact]
    public void Both_ends_announce_mobike_in_ike_auth_and_record_it_only_when_both_allow_it()
    {
        var (i, r) = Create();
        i.Sa.Initiate();
        r.Sa.HandleDatagram(i.Drain().Single().Datagram, InitiatorEp, ResponderEp, viaNatT: false);
        i.Sa.HandleDatagram(r.Drain().Single().Datagram, ResponderEp, InitiatorEp, viaNatT: false);
        var auth = i.Drain().Single();
        Assert.Contains(NotifyType.MobikeSupported, Notifies(r.Sa, auth.Datagram));
        r.Sa.HandleDatagram(auth.Datagram, InitiatorEp, ResponderEp, viaNatT: false);
        var authResponse = r.Drain().Single();
        Assert.Contains(NotifyType.MobikeSupported, Notifies(i.Sa, authResponse.Datagram));
        i.Sa.HandleDatagram(authResponse.Datagram, ResponderEp, InitiatorEp, viaNatT: false);
        i.Drain();
        Assert.True(i.Sa.PeerSupportsMobike);
        Assert.True(r.Sa.PeerSupportsMobike);

        // mobike = no on the responder: it neither answers the notify nor takes it; the initiator then has no MOBIKE either.
        var (i2, r2) = Create(responderExtra: "    mobike: no\n");
        Handshake(i2, r2);
        Assert.False(r2.Sa.PeerSupportsMobike);
        Assert.False(i2.Sa.PeerSupportsMobike);
        Assert.False(i2.Sa.UpdateAddresses(new IPEndPoint(IPAddress.Parse("192.0.2.50"), 500)));

        // mobike = no on the initiator: it sends no MOBIKE_SUPPORTED, so the responder does not announce it either.
        var (i3, r3) = Create(initiatorExtra: "    mobike: no\n");
        i3.Sa.Initiate();
        r3.Sa.HandleDatagram(i3.Drain().Single().Datagram, InitiatorEp, ResponderEp, viaNatT: false);
        i3.Sa.HandleDatagram(r3.Drain().Single().Datagram, ResponderEp, InitiatorEp, viaNatT: false);
        var auth3 = i3.Drain().Single();
        Assert.DoesNotContain(NotifyType.MobikeSupported, Notifies(r3.Sa, auth3.Datagram));
        r3.Sa.HandleDatagram(auth3.Datagram, InitiatorEp, ResponderEp, viaNatT: false);
        Assert.DoesNotContain(NotifyType.MobikeSupported, Notifies(i3.Sa, r3.Drain().Single().Datagram));
        Assert.False(r3.Sa.PeerSupportsMobike);
    }

    [Fact]
    public void An_update_from_a_new_address_moves_the_ike_sa_and_every_child_recomputes_nat_and_echoes_cookie2()
    {
        var (i, r) = Create();
        var (mapped, initiatorNatt) = NattedHandshake(i, r);
        SecondChild(i, r, mapped, ResponderNatt, natT: true);
        var spis = r.Plane.InstalledSpis().ToList();
        Assert.All(spis, spi => Assert.Equal(mapped, r.ChildRemote(spi)));
        long version = r.Sa.StateVersion;

        // The laptop leaves the NAT: Wi-Fi to a public address of its own. It sends the update from there.
        var publicEp = new IPEndPoint(IPAddress.Parse("203.0.113.5"), 4500);
        Assert.True(i.Sa.UpdateAddresses(publicEp));
        var update = i.Drain().Single();
        Assert.Equal(ResponderNatt, update.Remote);
        var sent = Notifies(r.Sa, update.Datagram);
        Assert.Contains(NotifyType.UpdateSaAddresses, sent);
        Assert.Contains(NotifyType.Cookie2, sent);
        Assert.Contains(NotifyType.NatDetectionSourceIp, sent);
        Assert.DoesNotContain(NotifyType.NoNatsAllowed, sent); // NAT-T is on: NATs are allowed

        r.Sa.HandleDatagram(update.Datagram, publicEp, ResponderNatt, viaNatT: true);
        var response = r.Drain().Single();
        Assert.Equal(publicEp, response.Remote);
        Assert.Equal(publicEp, r.Sa.RemoteEndpoint);
        var moved = Assert.Single(r.Seen.OfType<PeerMoved>());
        Assert.Equal((mapped, publicEp, PeerMoveTrigger.Mobike), (moved.From, moved.Remote, moved.Trigger));
        Assert.All(spis, spi => Assert.Equal(publicEp, r.ChildRemote(spi)));
        Assert.False(r.Sa.NatDetected, "the update's NAT detection matches the new path: no NAT any more");
        Assert.True(r.Sa.StateVersion > version, "the move is replicated");
        Assert.Equal(1, r.Mobike(MobikeOutcome.Moved));
        var answered = Notifies(i.Sa, response.Datagram);
        Assert.Contains(NotifyType.Cookie2, answered);
        Assert.Contains(NotifyType.NatDetectionDestinationIp, answered);

        // The initiator checks its COOKIE2 and learns it is no longer behind a NAT.
        i.Sa.HandleDatagram(response.Datagram, ResponderNatt, publicEp, viaNatT: true);
        i.Drain();
        Assert.Equal(IkeSaState.Established, i.Sa.State);
        Assert.False(i.Sa.BehindNat);
        Assert.Equal(1, i.Mobike(MobikeOutcome.Sent));
        Assert.Equal(1, i.Mobike(MobikeOutcome.Confirmed));

        // ESP and IKE keep working on the new path: a DPD from there is answered there and moves nothing.
        i.Sa.SendDpd();
        r.Sa.HandleDatagram(i.Drain().Single().Datagram, publicEp, ResponderNatt, viaNatT: true);
        Assert.Equal(publicEp, r.Drain().Single().Remote);
        Assert.Single(r.Seen.OfType<PeerMoved>());
    }

    [Fact]
    public void Ike_from_an_address_the_peer_left_never_moves_the_sa_back()
    {
        var (i, r) = Create();
        var (mapped, _) = NattedHandshake(i, r);
        // Cellular, behind the carrier's NAT: the phone's address 10.0.0.5 appears as 100.64.9.9.
        var cellular = new IPEndPoint(IPAddress.Parse("100.64.9.9"), 4500);
        Assert.True(i.Sa.UpdateAddresses(new IPEndPoint(IPAddress.Parse("10.0.0.5"), 4500)));
        var update = i.Drain().Single();
        r.Sa.HandleDatagram(update.Datagram, cellular, ResponderNatt, viaNatT: true);
        r.Drain();
        Assert.Equal(cellular, r.Sa.RemoteEndpoint);
        Assert.True(r.Sa.NatDetected);

        // The same update again from the old address (a retransmission that took the old path): the cached response, no move.
        r.Sa.HandleDatagram(update.Datagram, mapped, ResponderNatt, viaNatT: true);
        Assert.Equal(mapped, r.Drain().Single().Remote);
        Assert.Equal(cellular, r.Sa.RemoteEndpoint);

        // A new authenticated request (no UPDATE_SA_ADDRESSES) from the old address: answered there, the SA stays (RFC 4555
        // §3.8: with MOBIKE no implicit updates from IKE; without MOBIKE this request would have moved it).
        i.Sa.HandleDatagram(RespondTo(r, update, cellular), ResponderNatt, cellular, viaNatT: true);
        i.Drain();
        i.Sa.SendDpd();
        r.Sa.HandleDatagram(i.Drain().Single().Datagram, mapped, ResponderNatt, viaNatT: true);
        Assert.Equal(mapped, r.Drain().Single().Remote);
        Assert.Equal(cellular, r.Sa.RemoteEndpoint);
        Assert.Single(r.Seen.OfType<PeerMoved>());

        // New ESP from the old address (sent just before the move, arriving late) does not move it back either; new ESP from
        // another port of the address in use (the NAT there rebound) does (§3.8).
        uint child = r.Sa.Children.Single().InboundSpi;
        r.Sa.FollowEsp(child, mapped);
        r.Drain();
        Assert.Equal(cellular, r.Sa.RemoteEndpoint);
        var rebound = new IPEndPoint(cellular.Address, 4501);
        r.Sa.FollowEsp(child, rebound);
        r.Drain();
        Assert.Equal(rebound, r.Sa.RemoteEndpoint);
        Assert.Equal(PeerMoveTrigger.Esp, r.Seen.OfType<PeerMoved>().Last().Trigger);
    }

    /// <summary>The responder's cached response to <paramref name="request"/> (sent again for a retransmission).</summary>
    private static byte[] RespondTo(Side r, SendMessage request, IPEndPoint from)
    {
        r.Sa.HandleDatagram(request.Datagram, from, ResponderNatt, viaNatT: true);
        return r.Drain().Single().Datagram;
    }

    [Fact]
    public void A_peer_that_did_not_negotiate_mobike_is_ignored_and_gets_no_cookie2_back()
    {
        // No NAT, so RFC 7296 §2.23's implicit updates (which a non-MOBIKE SA behind a NAT still makes) stay out of it.
        var (i, r) = Create(responderExtra: "    mobike: no\n");
        Handshake(i, r);
        Assert.False(r.Sa.PeerSupportsMobike);
        // An initiator that believes otherwise (or sends the notify anyway).
        i.Sa.PeerSupportsMobike = true;
        var elsewhere = new IPEndPoint(IPAddress.Parse("192.0.2.77"), 500);
        Assert.True(i.Sa.UpdateAddresses(elsewhere));
        r.Sa.HandleDatagram(i.Drain().Single().Datagram, elsewhere, ResponderEp, viaNatT: false);
        var response = r.Drain().Single();
        Assert.Equal(InitiatorEp, r.Sa.RemoteEndpoint);
        Assert.Empty(r.Seen.OfType<PeerMoved>());
        Assert.Equal(1, r.Mobike(MobikeOutcome.NotNegotiated));
        Assert.DoesNotContain(NotifyType.Cookie2, Notifies(i.Sa, response.Datagram));

        // Without its COOKIE2 echoed the initiator closes the SA (RFC 4555 §3.7).
        i.Sa.HandleDatagram(response.Datagram, ResponderEp, elsewhere, viaNatT: false);
        i.Drain();
        Assert.Equal(IkeSaState.Destroyed, i.Sa.State);
        Assert.Equal(1, i.Mobike(MobikeOutcome.CookieMismatch));
    }

    [Fact]
    public void Without_nat_traversal_an_update_rewritten_by_a_nat_is_refused_with_unexpected_nat_detected()
    {
        var (i, r) = Create();
        Handshake(i, r);
        Assert.False(i.Sa.NatT);
        var newLocal = new IPEndPoint(IPAddress.Parse("192.0.2.77"), 500);
        Assert.True(i.Sa.UpdateAddresses(newLocal));
        var update = i.Drain().Single();
        Assert.Contains(NotifyType.NoNatsAllowed, Notifies(r.Sa, update.Datagram));

        // A NAT on the way rewrote the source: the IP header is not what NO_NATS_ALLOWED says.
        var rewritten = new IPEndPoint(IPAddress.Parse("198.51.100.9"), 500);
        r.Sa.HandleDatagram(update.Datagram, rewritten, ResponderEp, viaNatT: false);
        var response = r.Drain().Single();
        Assert.Equal(rewritten, response.Remote);
        Assert.Equal(InitiatorEp, r.Sa.RemoteEndpoint);
        Assert.Empty(r.Seen.OfType<PeerMoved>());
        Assert.Equal(1, r.Mobike(MobikeOutcome.NatRefused));
        Assert.Contains(NotifyType.UnexpectedNatDetected, Notifies(i.Sa, response.Datagram));
        i.Sa.HandleDatagram(response.Datagram, ResponderEp, newLocal, viaNatT: false);
        i.Drain();
        Assert.Equal(IkeSaState.Established, i.Sa.State);
        Assert.Equal(1, i.Mobike(MobikeOutcome.Refused));

        // Unrewritten, the same kind of update moves the SA.
        Assert.True(i.Sa.UpdateAddresses());
        r.Sa.HandleDatagram(i.Drain().Single().Datagram, newLocal, ResponderEp, viaNatT: false);
        r.Drain();
        Assert.Equal(newLocal, r.Sa.RemoteEndpoint);
        Assert.Equal(1, r.Mobike(MobikeOutcome.Moved));
    }

    [Fact]
    public void Behind_a_nat_whose_mapping_changes_the_initiators_dpd_notices_and_sends_an_update()
    {
        var (i, r) = Create();
        var (mapped, initiatorNatt) = NattedHandshake(i, r);
        var rebound = new IPEndPoint(mapped.Address, 62000);

        // The first probe learns the mapping of the NAT-T flow (IKE_SA_INIT's, on port 500, was another): no update.
        i.Sa.SendDpd();
        r.Sa.HandleDatagram(i.Drain().Single().Datagram, mapped, ResponderNatt, viaNatT: true);
        i.Sa.HandleDatagram(r.Drain().Single().Datagram, ResponderNatt, initiatorNatt, viaNatT: true);
        Assert.Empty(i.Drain());

        // The NAT forgot its mapping. The DPD carries NAT detection (RFC 4555 §3.8); it arrives from the new mapping and
        // moves nothing by itself.
        i.Sa.SendDpd();
        var dpd = i.Drain().Single();
        Assert.Contains(NotifyType.NatDetectionSourceIp, Notifies(r.Sa, dpd.Datagram));
        r.Sa.HandleDatagram(dpd.Datagram, rebound, ResponderNatt, viaNatT: true);
        var dpdResponse = r.Drain().Single();
        Assert.Equal(mapped, r.Sa.RemoteEndpoint);

        // The answer's destination hash names the new mapping: the initiator sends UPDATE_SA_ADDRESSES at once.
        i.Sa.HandleDatagram(dpdResponse.Datagram, ResponderNatt, initiatorNatt, viaNatT: true);
        var update = i.Drain().Single();
        Assert.Contains(NotifyType.UpdateSaAddresses, Notifies(r.Sa, update.Datagram));
        r.Sa.HandleDatagram(update.Datagram, rebound, ResponderNatt, viaNatT: true);
        r.Drain();
        Assert.Equal(rebound, r.Sa.RemoteEndpoint);
        Assert.Equal(PeerMoveTrigger.Mobike, Assert.Single(r.Seen.OfType<PeerMoved>()).Trigger);

        // An unchanged mapping sends no update.
        i.Sa.HandleDatagram(RespondTo(r, update, rebound), ResponderNatt, initiatorNatt, viaNatT: true);
        i.Drain();
        i.Sa.SendDpd();
        r.Sa.HandleDatagram(i.Drain().Single().Datagram, rebound, ResponderNatt, viaNatT: true);
        i.Sa.HandleDatagram(r.Drain().Single().Datagram, ResponderNatt, initiatorNatt, viaNatT: true);
        Assert.Empty(i.Drain());
        Assert.Equal(1, i.Mobike(MobikeOutcome.Sent));
    }

    [Fact]
    public void Malformed_cookie2_or_no_nats_allowed_moves_nothing()
    {
        Assert.Equal(ParseStatus.BadLength, NoNatsAllowed.TryParse(new byte[11], out _));
        Assert.Equal(ParseStatus.BadLength, NoNatsAllowed.TryParse(new byte[37], out _));
        Assert.Equal(ParseStatus.BadLength, NoNatsAllowed.TryParse([], out _));
        var data = NoNatsAllowed.Build(InitiatorEp, ResponderEp);
        Assert.Equal(ParseStatus.Ok, NoNatsAllowed.TryParse(data, out var parsed));
        Assert.True(parsed!.Matches(InitiatorEp, ResponderEp));
        Assert.False(parsed.Matches(new IPEndPoint(InitiatorEp.Address, 501), ResponderEp));
        var v6 = NoNatsAllowed.Build(new IPEndPoint(IPAddress.Parse("2001:db8::1"), 4500), new IPEndPoint(IPAddress.Parse("2001:db8::2"), 4500));
        Assert.Equal(NoNatsAllowed.V6Length, v6.Length);
    }

    [Fact]
    public void Mobike_is_kept_across_an_ike_rekey()
    {
        var (i, r) = RekeyHarness.Established();
        Assert.True(r.Sa.PeerSupportsMobike);
        Assert.True(i.Sa.RekeyIke());
        RekeyHarness.Pump(i, r);
        Assert.True(i.Sa.SpiI != 0x0A0B_0C0D_0E0F_1011, "the IKE SA was rekeyed");
        Assert.True(i.Sa.PeerSupportsMobike);
        Assert.True(r.Sa.PeerSupportsMobike);
        Assert.True(i.Sa.OriginalInitiator);
        Assert.False(r.Sa.OriginalInitiator);

        // The responder initiates the next rekey: it becomes the IKE SA's initiator, MOBIKE's roles stay.
        Assert.True(r.Sa.RekeyIke());
        RekeyHarness.Pump(i, r);
        Assert.True(r.Sa.IsInitiator);
        Assert.False(r.Sa.OriginalInitiator);
        Assert.True(i.Sa.OriginalInitiator);
        Assert.True(r.Sa.PeerSupportsMobike);
        Assert.True(i.Sa.UpdateAddresses());
    }
}
