using System.Net;
using Akka.Actor;
using Concentrator.DataPlane;
using Concentrator.Ike.Admission;
using Concentrator.Ike.Sa;
using Concentrator.Ipsec;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Support;

namespace Concentrator.Tests.Ike.Sa;

/// <summary>
/// Our initiator against our responder, two ActorSystems in one process talking IKEv2 over loopback UDP.
/// Each success case also proves the Child SA keys agree by sending ESP from one data plane to the other.
/// </summary>
public sealed class LoopbackExchangeTests
{
    public static TheoryData<string, string> Suites => new()
    {
        { "aes256gcm16-prfsha256-ecp256", "aes256gcm16" },
        { "aes128gcm16-prfsha256-curve25519", "aes128gcm16" },
        { "aes256-sha256-modp2048", "aes256-sha256" },
        { "aes128-sha384-ecp384", "aes128-sha384" },
        { "aes256gcm16-prfsha512-modp3072", "chacha20poly1305" },
        { "aes128-sha512-x25519", "aes256-sha512" },
        { "aes256gcm16-prfsha384-ecp521", "aes256gcm16" },
        { "aes128gcm16-prfsha256-modp4096", "aes128-sha256" },
        { "chacha20poly1305-prfsha256-x25519", "chacha20poly1305" },
        { "aes192gcm16-prfsha384-ecp384", "aes192gcm16" },
    };

    [Theory]
    [MemberData(nameof(Suites))]
    public async Task Establishes_with_each_suite_and_child_keys_agree(string ike, string esp)
    {
        await using var responder = TestGateway.Start(TestGateway.ResponderYaml(proposals: ike, esp: esp), name: "resp");
        await using var initiator = TestGateway.Start(TestGateway.InitiatorYaml(proposals: ike, esp: esp), name: "init");

        initiator.Initiate("site", responder.Endpoint);
        await Eventually.TrueAsync(() => initiator.DataPlane.InstalledCount == 1 && responder.DataPlane.InstalledCount == 1,
            "both sides installed the Child SA");

        Assert.Single(initiator.Events.Up);
        Assert.Single(responder.Events.Up);
        Assert.Empty(initiator.Events.Down);
        Assert.Equal("rw", responder.Events.Up.Single().Connection);

        AssertEspFlows(initiator.DataPlane, responder.DataPlane, IPAddress.Parse("10.200.1.7"), IPAddress.Parse("10.10.3.4"));
        AssertEspFlows(responder.DataPlane, initiator.DataPlane, IPAddress.Parse("10.10.3.4"), IPAddress.Parse("10.200.1.7"));
    }

    [Fact]
    public async Task Invalid_ke_payload_makes_the_initiator_retry_with_the_requested_group()
    {
        // The initiator's first group is curve25519; the responder only accepts ecp256.
        await using var responder = TestGateway.Start(TestGateway.ResponderYaml(proposals: "aes256gcm16-prfsha256-ecp256"), name: "resp");
        await using var initiator = TestGateway.Start(TestGateway.InitiatorYaml(proposals: "aes256gcm16-prfsha256-curve25519-ecp256"), name: "init");

        initiator.Initiate("site", responder.Endpoint);
        await Eventually.TrueAsync(() => initiator.Events.Up.Count == 1, "the initiator established after the retry");
        Assert.Contains("Ecp256", initiator.Events.Up.Single().Summary.Proposal);
        Assert.Contains(responder.Events.Down, d => d.Reason == CloseReason.InvalidKe && !d.WasEstablished);
        await Eventually.TrueAsync(() => responder.DataPlane.InstalledCount == 1, "the responder installed the child");
    }

    [Fact]
    public async Task Wrong_psk_fails_on_both_sides_and_installs_nothing()
    {
        await using var responder = TestGateway.Start(TestGateway.ResponderYaml(psk: "the-right-key-0123456789"), name: "resp");
        await using var initiator = TestGateway.Start(TestGateway.InitiatorYaml(psk: "a-wrong-key-000000000000"), name: "init");

        initiator.Initiate("site", responder.Endpoint);
        await Eventually.TrueAsync(() => initiator.Events.Down.Count == 1 && responder.Events.Down.Count == 1, "both sides gave up");

        Assert.Equal(CloseReason.AuthFailed, initiator.Events.Down.Single().Reason);
        Assert.Equal(CloseReason.AuthFailed, responder.Events.Down.Single().Reason);
        Assert.Empty(initiator.Events.Up);
        Assert.Empty(responder.Events.Up);
        Assert.Equal(0, initiator.DataPlane.InstalledCount);
        Assert.Equal(0, responder.DataPlane.InstalledCount);
    }

    [Fact]
    public async Task No_common_proposal_fails_with_no_proposal_chosen()
    {
        await using var responder = TestGateway.Start(TestGateway.ResponderYaml(proposals: "aes256gcm16-prfsha256-ecp256"), name: "resp");
        await using var initiator = TestGateway.Start(TestGateway.InitiatorYaml(proposals: "aes128-sha256-modp2048"), name: "init");

        initiator.Initiate("site", responder.Endpoint);
        await Eventually.TrueAsync(() => initiator.Events.Down.Count == 1, "the initiator gave up");
        Assert.Equal(CloseReason.NoProposal, initiator.Events.Down.Single().Reason);
        await Eventually.TrueAsync(() => responder.Events.Down.Count == 1, "the responder dropped its half-open SA");
        Assert.Equal(CloseReason.NoProposal, responder.Events.Down.Single().Reason);
        Assert.Equal(0, responder.DataPlane.InstalledCount);
    }

    [Fact]
    public async Task Traffic_selectors_are_narrowed_to_what_the_responder_allows()
    {
        // The initiator asks for 10.200.0.0/16 <-> 0.0.0.0/0; the responder allows 10.200.5.0/24 <-> 10.10.0.0/16.
        await using var responder = TestGateway.Start(TestGateway.ResponderYaml(localTs: "10.10.0.0/16", remoteTs: "10.200.5.0/24"), name: "resp");
        await using var initiator = TestGateway.Start(TestGateway.InitiatorYaml(localTs: "10.200.0.0/16", remoteTs: "0.0.0.0/0"), name: "init");

        initiator.Initiate("site", responder.Endpoint);
        await Eventually.TrueAsync(() => initiator.DataPlane.InstalledCount == 1 && responder.DataPlane.InstalledCount == 1, "child installed");

        var info = await ChildOf(initiator);
        Assert.Equal(IPAddress.Parse("10.200.5.0"), info.LocalTs.Single().StartAddress);
        Assert.Equal(IPAddress.Parse("10.200.5.255"), info.LocalTs.Single().EndAddress);
        Assert.Equal(IPAddress.Parse("10.10.0.0"), info.RemoteTs.Single().StartAddress);
        Assert.Equal(IPAddress.Parse("10.10.255.255"), info.RemoteTs.Single().EndAddress);
    }

    [Fact]
    public async Task Disjoint_traffic_selectors_give_an_ike_sa_without_child()
    {
        await using var responder = TestGateway.Start(TestGateway.ResponderYaml(remoteTs: "10.99.0.0/16"), name: "resp");
        await using var initiator = TestGateway.Start(TestGateway.InitiatorYaml(localTs: "10.200.1.0/24"), name: "init");

        initiator.Initiate("site", responder.Endpoint);
        await Eventually.TrueAsync(() => initiator.Events.Up.Count == 1 && responder.Events.Up.Count == 1, "IKE SA up on both sides");
        await Task.Delay(200);
        Assert.Equal(0, initiator.DataPlane.InstalledCount);
        Assert.Equal(0, responder.DataPlane.InstalledCount);
    }

    [Fact]
    public async Task Cookie_challenge_is_answered_and_the_tunnel_comes_up()
    {
        long before = Concentrator.Telemetry.IkeStats.CookiesSent;
        await using var responder = TestGateway.Start(TestGateway.ResponderYaml(),
            new AdmissionOptions { CookieThreshold = 0 }, name: "resp");
        await using var initiator = TestGateway.Start(TestGateway.InitiatorYaml(), name: "init");

        initiator.Initiate("site", responder.Endpoint);
        await Eventually.TrueAsync(() => initiator.DataPlane.InstalledCount == 1 && responder.DataPlane.InstalledCount == 1, "child installed");
        Assert.True(Concentrator.Telemetry.IkeStats.CookiesSent > before, "a COOKIE was sent");
    }

    [Fact]
    public async Task Delete_from_the_initiator_removes_everything_on_both_sides()
    {
        await using var responder = TestGateway.Start(TestGateway.ResponderYaml(), name: "resp");
        await using var initiator = TestGateway.Start(TestGateway.InitiatorYaml(), name: "init");
        initiator.Initiate("site", responder.Endpoint);
        await Eventually.TrueAsync(() => responder.DataPlane.InstalledCount == 1 && initiator.DataPlane.InstalledCount == 1, "child installed");

        initiator.Gateway.Supervisor.Tell(new Concentrator.Actors.DeleteAll(), Akka.Actor.ActorRefs.NoSender);
        await Eventually.TrueAsync(async () => await responder.Gateway.CountSasAsync() == 0 && await initiator.Gateway.CountSasAsync() == 0,
            "both IKE SAs are gone");
        Assert.Equal(0, responder.DataPlane.InstalledCount);
        Assert.Equal(0, initiator.DataPlane.InstalledCount);
        Assert.Equal(CloseReason.DeletedByPeer, responder.Events.Down.Single().Reason);
        Assert.Equal(CloseReason.Deleted, initiator.Events.Down.Single().Reason);
    }

    [Fact]
    public async Task Unanswered_requests_time_out_after_the_retransmission_budget()
    {
        await using var initiator = TestGateway.Start(TestGateway.InitiatorYaml(), name: "init");
        // Nobody listens on this port: a bound but silent socket.
        using var silent = new System.Net.Sockets.UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        initiator.Initiate("site", (IPEndPoint)silent.Client.LocalEndPoint!);

        await Eventually.TrueAsync(() => initiator.Events.Down.Count == 1, "the initiator gave up", seconds: 20);
        Assert.Equal(CloseReason.Timeout, initiator.Events.Down.Single().Reason);
        int received = 0;
        while (silent.Available > 0)
        {
            var from = new IPEndPoint(IPAddress.Any, 0);
            silent.Receive(ref from);
            received++;
        }
        Assert.Equal(1 + TestGateway.FastTunables.RetransmitTries, received);
    }

    private static async Task<ChildSaRecord> ChildOf(TestGateway gateway)
    {
        var sas = await gateway.Gateway.Supervisor.Ask<List<Akka.Actor.IActorRef>>(Concentrator.Actors.IkeSaSupervisor.GetSas.Instance);
        var info = await sas.Single().Ask<Concentrator.Actors.IkeSaActor.Info>(Concentrator.Actors.IkeSaActor.GetInfo.Instance);
        return info.Children.Single();
    }

    /// <summary>Encapsulates on <paramref name="from"/> and decapsulates on <paramref name="to"/>; fails unless the inner packet survives.</summary>
    internal static void AssertEspFlows(InMemoryDataPlane from, InMemoryDataPlane to, IPAddress src, IPAddress dst)
    {
        var packet = Packets.Ipv4Udp(src, dst, 100);
        uint spi = from.InstalledSpis().Single();
        var wire = new byte[packet.Length + 128];
        Assert.Equal(EspStatus.Ok, from.Encapsulate(spi, packet, wire, out int written));
        Assert.Equal(EspStatus.Ok, to.Decapsulate(wire.AsSpan(0, written), out var inner));
        Assert.Equal(packet, wire.AsSpan(0, written)[inner].ToArray());
    }
}
