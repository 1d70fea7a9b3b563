using System.Net;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.DataPlane.Esp;
using Concentrator.Hosting;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Cluster.Replication;
using Concentrator.Tests.Support;
using Side = Concentrator.Tests.Ike.Sa.RekeyHarness.Side;

namespace Concentrator.Tests.Ike.Sa;

/// <summary>
/// Childless IKE SAs (RFC 6023) between two <see cref="IkeSa"/> objects wired directly: swanctl childless in both roles
/// (allow, prefer, force, never), the peer that did not announce support, and a childless SA through DPD, IKE rekeys and
/// a move to another node before its children come by CREATE_CHILD_SA from either side.
/// </summary>
public sealed class ChildlessPairTests
{
    private static readonly IPAddress InitiatorInner = IPAddress.Parse("10.200.1.9");
    private static readonly IPAddress ResponderInner = IPAddress.Parse("10.10.0.9");

    /// <summary>An initiator (connection site, child net) and a responder (rw, child lan) with the given childless values
    /// (null: the key absent); <paramref name="initiatorChildren"/> false starts the initiator with no child at all.</summary>
    private static (Side I, Side R) Pair(string? initiatorPolicy, string? responderPolicy, bool initiatorChildren = true, string? responderYaml = null)
    {
        var rYaml = responderYaml ?? TestGateway.ResponderYaml();
        if (responderPolicy is not null) rYaml = rYaml.Replace("  rw:\n", $"  rw:\n    childless: {responderPolicy}\n");
        var iYaml = TestGateway.InitiatorYaml();
        if (initiatorPolicy is not null) iYaml = iYaml.Replace("    remote_addrs: [127.0.0.1]\n", $"    remote_addrs: [127.0.0.1]\n    childless: {initiatorPolicy}\n");
        var rConfig = ConcentratorConfig.Parse(rYaml, "<r>");
        var iConfig = ConcentratorConfig.Parse(iYaml, "<i>");
        var rPlane = new InMemoryDataPlane();
        var iPlane = new InMemoryDataPlane();
        var i = new Side(IkeSa.CreateInitiator(new IkeSaContext { Resolver = new ConfigConnectionResolver(iConfig), DataPlane = iPlane },
            iConfig.Connections["site"], 0x0A0B_0C0D_0E0F_1011, RekeyHarness.InitiatorEp, RekeyHarness.ResponderEp,
            initiatorChildren ? null : []), iPlane, RekeyHarness.InitiatorEp);
        var r = new Side(IkeSa.CreateResponder(new IkeSaContext { Resolver = new ConfigConnectionResolver(rConfig), DataPlane = rPlane },
            0x0A0B_0C0D_0E0F_1011, 0x2122_2324_2526_2728, RekeyHarness.ResponderEp, RekeyHarness.InitiatorEp, natT: false), rPlane, RekeyHarness.ResponderEp);
        return (i, r);
    }

    /// <summary>Delivers what <paramref name="from"/> has to send; returns those messages.</summary>
    private static List<SendMessage> Step(Side from, Side to)
    {
        var sends = from.Drain();
        foreach (var m in sends) to.Receive(m.Datagram, from.Self);
        return sends;
    }

    private static bool AnnouncesChildless(SendMessage init)
    {
        Assert.Equal(ParseStatus.Ok, IkeCodec.TryDecode(init.Datagram, out var message));
        return message!.GetNotify(NotifyType.ChildlessIkev2Supported) is not null;
    }

    /// <summary>IKE_SA_INIT and IKE_AUTH, one message each way per step: what each IKE_SA_INIT announced.</summary>
    private static (bool ByInitiator, bool ByResponder) InitAndAuth(Side i, Side r)
    {
        i.Sa.Initiate();
        var request = Step(i, r).Single();
        var response = Step(r, i).Single();
        Step(i, r);
        Step(r, i);
        return (AnnouncesChildless(request), AnnouncesChildless(response));
    }

    /// <summary>ESP of the child with inbound SPI <paramref name="spi"/> at <paramref name="from"/> opens at <paramref name="to"/>.</summary>
    private static void AssertEspFlows(Side from, uint spi, Side to, IPAddress src, IPAddress dst)
    {
        var packet = Packets.Ipv4Udp(src, dst, 100);
        var wire = new byte[packet.Length + 128];
        Assert.Equal(EspStatus.Ok, from.Plane.Encapsulate(spi, packet, wire, out int written));
        Assert.Equal(EspStatus.Ok, to.Plane.Decapsulate(wire.AsSpan(0, written), out var inner));
        Assert.Equal(packet, wire.AsSpan(0, written)[inner].ToArray());
    }

    private static void AssertOneChildPairCarriesEsp(Side i, Side r)
    {
        var childI = Assert.Single(i.Sa.Children);
        var childR = Assert.Single(r.Sa.Children);
        Assert.Equal(childI.InboundSpi, childR.OutboundSpi);
        AssertEspFlows(i, childI.InboundSpi, r, InitiatorInner, ResponderInner);
        AssertEspFlows(r, childR.InboundSpi, i, ResponderInner, InitiatorInner);
    }

    [Theory]
    // initiator, responder: whether IKE_AUTH carried the child, what each end announced.
    [InlineData(null, null, true, true, true)]
    [InlineData("allow", "never", true, true, false)]
    [InlineData("never", "allow", true, false, true)]
    [InlineData("prefer", "allow", false, true, true)]
    [InlineData("prefer", "never", true, true, false)] // prefer goes childless only to a responder that announced it
    [InlineData("prefer", "prefer", false, true, true)]
    [InlineData("force", null, false, true, true)]
    [InlineData("force", "force", false, true, true)]
    public void The_policies_of_both_ends_decide_whether_ike_auth_or_a_create_child_sa_carries_the_first_child(
        string? initiatorPolicy, string? responderPolicy, bool childInIkeAuth, bool initiatorAnnounces, bool responderAnnounces)
    {
        var (i, r) = Pair(initiatorPolicy, responderPolicy);
        var announced = InitAndAuth(i, r);
        Assert.Equal((initiatorAnnounces, responderAnnounces), announced);
        Assert.Equal(responderAnnounces, i.Sa.PeerSupportsChildless);
        Assert.Equal(initiatorAnnounces, r.Sa.PeerSupportsChildless);

        // After IKE_AUTH: both ends up, the child there or not yet, and the initiator waits for it.
        Assert.Equal(IkeSaState.Established, i.Sa.State);
        Assert.Equal(IkeSaState.Established, r.Sa.State);
        Assert.Equal(childInIkeAuth ? 1 : 0, r.Sa.Children.Count);
        Assert.Equal(childInIkeAuth ? 1 : 0, i.Sa.Children.Count);
        Assert.Equal(!childInIkeAuth, i.Sa.InitialChildrenPending);
        Assert.Equal(childInIkeAuth ? 1 : 0, r.Seen.OfType<IkeSaEstablished>().Single().Summary.ChildCount);

        // The deferred child follows by CREATE_CHILD_SA at once.
        RekeyHarness.Pump(i, r);
        Assert.False(i.Sa.InitialChildrenPending);
        AssertOneChildPairCarriesEsp(i, r);
        Assert.Empty(i.Seen.OfType<ChildlessMismatched>());
        Assert.Empty(r.Seen.OfType<ChildlessMismatched>());
    }

    [Theory]
    [InlineData("never")]
    [InlineData(null)] // a responder that predates RFC 6023 announces nothing either; never stands in for it
    public void Force_against_a_responder_that_did_not_announce_support_fails_before_ike_auth(string? responderPolicy)
    {
        var (i, r) = Pair("force", responderPolicy ?? "never");
        i.Sa.Initiate();
        Step(i, r);
        Step(r, i);

        Assert.False(i.Sa.PeerSupportsChildless);
        Assert.Empty(i.Drain()); // no IKE_AUTH went out
        Assert.Equal(IkeSaState.Destroyed, i.Sa.State);
        Assert.Equal(CloseReason.ChildlessMismatch, i.Seen.OfType<IkeSaClosed>().Single().Reason);
        Assert.Contains("did not announce", i.Seen.OfType<ChildlessMismatched>().Single().Detail);
        Assert.Equal(0, i.Plane.InstalledCount);
        Assert.Equal(IkeSaState.Connecting, r.Sa.State); // half-open until half_open_timeout, as for any silent initiator
    }

    [Theory]
    // force takes childless initiation only; never (announcing nothing) refuses it. An initiator started without
    // children sends a childless IKE_AUTH whatever the responder announced.
    [InlineData("allow", "force", true, "childless force")]
    [InlineData(null, "never", false, "not announced")]
    public void A_responder_refuses_an_ike_auth_of_the_shape_its_policy_excludes_and_keeps_nothing(
        string? initiatorPolicy, string responderPolicy, bool initiatorChildren, string detail)
    {
        var (i, r) = Pair(initiatorPolicy, responderPolicy, initiatorChildren);
        InitAndAuth(i, r);
        Assert.Empty(i.Drain());

        Assert.Equal(IkeSaState.Destroyed, r.Sa.State);
        Assert.Equal(CloseReason.ChildlessMismatch, r.Seen.OfType<IkeSaClosed>().Single().Reason);
        Assert.Contains(detail, r.Seen.OfType<ChildlessMismatched>().Single().Detail);
        Assert.Empty(r.Seen.OfType<IkeSaEstablished>());
        // Our INVALID_SYNTAX alone: the initiator fails as strongSwan's does on the notify.
        Assert.Equal(IkeSaState.Destroyed, i.Sa.State);
        Assert.Equal(CloseReason.InvalidSyntax, i.Seen.OfType<IkeSaClosed>().Single().Reason);
        Assert.Equal(0, i.Plane.InstalledCount);
        Assert.Equal(0, r.Plane.InstalledCount);
    }

    [Fact]
    public void The_connection_chosen_in_ike_auth_decides_even_after_another_announced_support()
    {
        // IKE_SA_INIT picks rw (allow: announced); IKE_AUTH picks strict by identity, whose never refuses the childless request.
        var yaml = TestGateway.ResponderYaml().Replace("secrets:\n", """
              strict:
                childless: never
                proposals: [aes256gcm16-prfsha256-ecp256]
                local: { auth: psk, id: gw.test }
                remote: { auth: psk, id: site.test }
                children:
                  lan: { local_ts: [10.10.0.0/16], remote_ts: [10.200.0.0/16], esp_proposals: [aes256gcm16] }
            secrets:

            """);
        var (i, r) = Pair(null, null, initiatorChildren: false, responderYaml: yaml);
        var announced = InitAndAuth(i, r);
        Assert.True(announced.ByResponder);
        Assert.Equal(IkeSaState.Destroyed, r.Sa.State);
        Assert.Equal("strict", r.Sa.Connection!.Name);
        Assert.Contains("childless never", r.Seen.OfType<ChildlessMismatched>().Single().Detail);
        i.Drain();
        Assert.Equal(IkeSaState.Destroyed, i.Sa.State);
    }

    [Fact]
    public void A_childless_ike_auth_to_an_initiator_that_announced_nothing_is_still_accepted_by_allow()
    {
        var (i, r) = Pair("never", null, initiatorChildren: false);
        var announced = InitAndAuth(i, r);
        Assert.Equal((false, true), announced);
        Assert.Equal(IkeSaState.Established, r.Sa.State);
        Assert.Equal(IkeSaState.Established, i.Sa.State);
        Assert.Empty(r.Sa.Children);
        Assert.Empty(i.Sa.Children);
    }

    [Fact]
    public void A_childless_sa_survives_dpd_ike_rekeys_and_a_move_then_gets_children_from_either_side()
    {
        var (i, r) = Pair("force", null, initiatorChildren: false);
        i.Sa.Initiate();
        RekeyHarness.Pump(i, r);
        Assert.Equal(IkeSaState.Established, i.Sa.State);
        Assert.Equal(IkeSaState.Established, r.Sa.State);
        Assert.Empty(i.Sa.Children);
        Assert.Empty(r.Sa.Children);
        Assert.False(i.Sa.InitialChildrenPending);

        // DPD either way.
        i.Sa.SendDpd();
        RekeyHarness.Pump(i, r);
        r.Sa.SendDpd();
        RekeyHarness.Pump(r, i);
        Assert.Equal(IkeSaState.Established, i.Sa.State);
        Assert.Equal(IkeSaState.Established, r.Sa.State);

        // IKE rekey by each end: new SPIs, nothing left behind, still no child.
        foreach (var (rekeyer, other) in new[] { (i, r), (r, i) })
        {
            ulong before = rekeyer.Sa.OurSpi;
            Assert.True(rekeyer.Sa.RekeyIke());
            RekeyHarness.Pump(rekeyer, other);
            Assert.NotEqual(before, rekeyer.Sa.OurSpi);
            Assert.Empty(i.Retiring);
            Assert.Empty(r.Retiring);
            Assert.Equal(IkeSaState.Established, i.Sa.State);
            Assert.Equal(IkeSaState.Established, r.Sa.State);
            Assert.Empty(i.Sa.Children);
            Assert.Empty(r.Sa.Children);
        }

        // The responder's end moves to another node (cluster adoption) with no child to carry.
        var nodeB = IkeSaSnapshotTests.MoveToNodeB(r, initiatorSide: false);
        Assert.Equal(IkeSaState.Established, nodeB.Sa.State);
        Assert.Empty(nodeB.Sa.Children);

        // A child from the responder's side (CREATE_CHILD_SA the other way), then one from the initiator's.
        nodeB.Sa.CreateChild(nodeB.Sa.Connection!.Children["lan"]);
        RekeyHarness.Pump(nodeB, i);
        AssertOneChildPairCarriesEsp(i, nodeB);
        uint firstI = i.Sa.Children.Single().InboundSpi;
        nodeB.Sa.DeleteChild(nodeB.Sa.Children.Single().InboundSpi);
        RekeyHarness.Pump(nodeB, i);
        Assert.Empty(i.Sa.Children);

        i.Sa.CreateChild(i.Sa.Connection!.Children["net"]);
        RekeyHarness.Pump(i, nodeB);
        AssertOneChildPairCarriesEsp(i, nodeB);
        Assert.NotEqual(firstI, i.Sa.Children.Single().InboundSpi);

        // An unanswered DPD still ends it with its child.
        i.Sa.SendDpd();
        i.Drain();
        for (int n = 0; n <= IkeTunables.Default.RetransmitTries; n++) i.Sa.OnRetransmitTimer();
        i.Drain();
        Assert.Equal(IkeSaState.Destroyed, i.Sa.State);
        Assert.Equal(CloseReason.Timeout, i.Seen.OfType<IkeSaClosed>().Last().Reason);
        Assert.Equal(0, i.Plane.InstalledCount);
    }

    [Fact]
    public void A_half_open_responder_moved_after_ike_sa_init_still_takes_the_childless_ike_auth_it_announced()
    {
        var (i, r) = Pair("force", null);
        i.Sa.Initiate();
        Step(i, r);
        var initResponse = r.Drain().Single();
        Assert.True(AnnouncesChildless(initResponse));
        var nodeB = IkeSaSnapshotTests.MoveToNodeB(r, initiatorSide: false);

        i.Receive(initResponse.Datagram, r.Self);
        RekeyHarness.Pump(i, nodeB);
        Assert.Equal(IkeSaState.Established, nodeB.Sa.State);
        Assert.Empty(nodeB.Seen.OfType<ChildlessMismatched>());
        AssertOneChildPairCarriesEsp(i, nodeB);
    }

    [Fact]
    public void A_childless_ike_auth_still_carries_the_configuration_payload_and_the_later_child_uses_the_virtual_ip()
    {
        var responders = new VirtualIpTests.Responders(VirtualIpTests.Responder("rw-pool"));
        var iConfig = ConcentratorConfig.Parse(VirtualIpTests.Initiator("alice.test", "0.0.0.0")
            .Replace("    remote_addrs: [127.0.0.1]\n", "    remote_addrs: [127.0.0.1]\n    childless: force\n"), "<i>");
        var i = new Side(IkeSa.CreateInitiator(new IkeSaContext { Resolver = new ConfigConnectionResolver(iConfig), DataPlane = new InMemoryDataPlane() },
            iConfig.Connections["site"], 0x0A0B_0C0D_0E0F_1011, RekeyHarness.InitiatorEp, RekeyHarness.ResponderEp), new InMemoryDataPlane(),
            RekeyHarness.InitiatorEp);
        var r = responders.New(RekeyHarness.InitiatorEp);
        i.Sa.Initiate();
        Step(i, r);
        Step(r, i);
        Step(i, r);
        Step(r, i);

        // IKE_AUTH: no child, but CFG_REQUEST / CFG_REPLY (RFC 6023 §4 leaves the configuration payload in IKE_AUTH).
        Assert.Equal(IkeSaState.Established, r.Sa.State);
        Assert.Empty(r.Sa.Children);
        var vip = Assert.Single(i.Sa.VirtualIps.All);
        Assert.Equal(IPAddress.Parse("10.30.0.1"), vip.Address);
        Assert.Equal(vip.Address, Assert.Single(r.Sa.VirtualIps.All).Address);

        // The child by CREATE_CHILD_SA: "dynamic" is the virtual IP on both sides.
        RekeyHarness.Pump(i, r);
        Assert.Equal("10.30.0.1", Assert.Single(Assert.Single(i.Sa.Children).LocalTs).StartAddress.ToString());
        Assert.Equal("10.30.0.1", Assert.Single(Assert.Single(r.Sa.Children).RemoteTs).EndAddress.ToString());
    }

    [Theory]
    [InlineData("allow", ChildlessPolicy.Allow)]
    [InlineData("Prefer", ChildlessPolicy.Prefer)]
    [InlineData("force", ChildlessPolicy.Force)]
    [InlineData("never", ChildlessPolicy.Never)]
    public void The_childless_key_takes_swanctls_values(string value, ChildlessPolicy expected)
    {
        var yaml = TestGateway.ResponderYaml().Replace("  rw:\n", $"  rw:\n    childless: {value}\n");
        Assert.Equal(expected, ConcentratorConfig.Parse(yaml, "<r>").Connections["rw"].Childless);
        Assert.Equal(ChildlessPolicy.Allow, ConcentratorConfig.Parse(TestGateway.ResponderYaml(), "<r>").Connections["rw"].Childless);
    }

    [Theory]
    [InlineData("yes")]
    [InlineData("sometimes")]
    public void Any_other_childless_value_is_a_load_error_naming_file_and_key(string value)
    {
        var yaml = TestGateway.ResponderYaml().Replace("  rw:\n", $"  rw:\n    childless: {value}\n");
        var e = Assert.Throws<ConfigException>(() => ConcentratorConfig.Parse(yaml, "gw.yaml"));
        Assert.Contains("gw.yaml", e.Message);
        Assert.Contains("connections.rw.childless", e.Message);
        Assert.Contains(value, e.Message);
    }

    [Fact]
    public void List_conns_shows_the_childless_policy()
    {
        var yaml = TestGateway.ResponderYaml().Replace("  rw:\n", "  rw:\n    childless: force\n");
        var conns = AdminApi.ListConns(ConcentratorConfig.Parse(yaml, "<r>"));
        Assert.Equal("force", conns.Single().Childless);
        Assert.Contains("rw: IKEv2, unique no, childless force", Concentrator.Cli.AdminCommands.RenderConns(conns));
    }
}
