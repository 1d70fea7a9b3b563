using System.Net;
using Akka.Actor;
using Concentrator.Actors;
using Concentrator.DataPlane;
using Concentrator.Ipsec;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Support;
using Concentrator.Tests.Telemetry;

namespace Concentrator.Tests.Actors;

/// <summary>
/// A peer behind a NAT (a <see cref="UdpNat"/> on loopback) whose mapping changes (RFC 7296 §2.23): the gateway's IKE SA
/// follows an authenticated IKE request or authenticated, new ESP from the new mapping, and so does every Child SA it
/// installed in the data plane (before, <c>IDataPlane.UpdateRemote</c> had no caller and ESP kept going to the old mapping).
/// Unauthenticated or old packets from elsewhere move nothing.
/// </summary>
public sealed class PeerMoveTests
{
    private static readonly IPAddress PeerInner = IPAddress.Parse("10.200.1.1");
    private static readonly IPAddress LanHost = IPAddress.Parse("10.10.0.1");

    [Fact]
    public async Task An_ike_request_from_the_peers_new_mapping_moves_the_ike_sa_and_every_child_sa()
    {
        await using var t = await NattedTunnelAsync(children: 2);
        var before = t.PeerMapping();
        foreach (var spi in t.Gateway.DataPlane.InstalledSpis()) Assert.Equal(before, Remote(t.Gateway, spi));

        t.Nat.Rebind();
        t.PeerSa.Tell(IkeSaActor.SendDpd.Instance);
        await Eventually.TrueAsync(() => t.Nat.Mappings.Count == 1 && !t.PeerMapping().Equals(before), "the DPD left through a new mapping", 5);
        var after = t.PeerMapping();
        await Eventually.TrueAsync(() => t.Gateway.DataPlane.InstalledSpis().All(spi => after.Equals(Remote(t.Gateway, spi))),
            "every Child SA sends to the new mapping", 5);

        Assert.Equal(2, t.Gateway.DataPlane.InstalledCount);
        var info = await t.GatewaySa().Ask<IkeSaActor.Info>(IkeSaActor.GetInfo.Instance, TimeSpan.FromSeconds(5));
        Assert.Equal(after, info.Remote);
        var m = new MetricsText(await MetricsEndpointTests.ExportAsync(t.Gateway.Gateway.Metrics.Registry));
        Assert.Equal(1, m.Sum("concentrator_ike_peer_moves_total", ("trigger", "ike")));
        Assert.Equal(0, m.Sum("concentrator_ike_peer_moves_total", ("trigger", "esp")));
        // The peer's answer came back through the new mapping: nothing was renegotiated or torn down.
        await Eventually.TrueAsync(async () => new MetricsText(await MetricsEndpointTests.ExportAsync(t.Peer.Gateway.Metrics.Registry))
            .Sum("concentrator_ike_messages_received_total", ("exchange", "informational")) >= 1, "the peer got the DPD answer", 5);
        Assert.Single(t.Peer.Events.Up);
        Assert.Empty(t.Peer.Events.Down);
    }

    [Fact]
    public async Task Authenticated_new_esp_from_a_new_mapping_moves_every_child_sa_and_nothing_else_does()
    {
        await using var t = await NattedTunnelAsync(children: 2);
        var before = t.PeerMapping();
        var spis = t.Gateway.DataPlane.InstalledSpis().ToList();
        var peerSpis = t.Peer.DataPlane.InstalledSpis().ToList();
        var elsewhere = new IPEndPoint(IPAddress.Loopback, before.Port == 65000 ? 65001 : 65000);

        // Forged (bad ICV), replayed and older-than-the-newest packets from elsewhere move nothing.
        var first = Seal(t.Peer, peerSpis[0], 1);
        var second = Seal(t.Peer, peerSpis[0], 2);
        Assert.Equal(EspStatus.Ok, t.Gateway.DataPlane.Decapsulate(second.ToArray(), before, out _));
        Assert.Equal(EspStatus.Ok, t.Gateway.DataPlane.Decapsulate(first.ToArray(), elsewhere, out _)); // in the window, not newest
        Assert.Equal(EspStatus.Replay, t.Gateway.DataPlane.Decapsulate(second.ToArray(), elsewhere, out _));
        var forged = Seal(t.Peer, peerSpis[0], 3);
        forged[^1] ^= 0x01;
        Assert.Equal(EspStatus.AuthFailed, t.Gateway.DataPlane.Decapsulate(forged, elsewhere, out _));
        await Task.Delay(300);
        foreach (var spi in spis) Assert.Equal(before, Remote(t.Gateway, spi));

        // The peer's next packet, through its NAT's new mapping: the IKE SA and both Child SAs follow.
        Assert.Equal(EspStatus.Ok, t.Gateway.DataPlane.Decapsulate(Seal(t.Peer, peerSpis[0], 4), elsewhere, out _));
        await Eventually.TrueAsync(() => spis.All(spi => elsewhere.Equals(Remote(t.Gateway, spi))), "every Child SA sends to the new mapping", 5);
        var info = await t.GatewaySa().Ask<IkeSaActor.Info>(IkeSaActor.GetInfo.Instance, TimeSpan.FromSeconds(5));
        Assert.Equal(elsewhere, info.Remote);
        var m = new MetricsText(await MetricsEndpointTests.ExportAsync(t.Gateway.Gateway.Metrics.Registry));
        Assert.Equal(1, m.Sum("concentrator_ike_peer_moves_total", ("trigger", "esp")));
        Assert.Single(t.Peer.Events.Up);
    }

    // ------------------------------------------------------------------------------------------------

    private static IPEndPoint? Remote(TestGateway gateway, uint spi) => gateway.DataPlane.TryGetSa(spi, out var sa) ? sa.RemoteEndpoint : null;

    private static byte[] Seal(TestGateway peer, uint peerInboundSpi, byte seed)
    {
        var wire = new byte[2048];
        var inner = Packets.Ipv4Udp(PeerInner, LanHost, 200, seed);
        Assert.Equal(EspStatus.Ok, peer.DataPlane.Encapsulate(peerInboundSpi, inner, wire, out int written));
        return wire.AsSpan(0, written).ToArray();
    }

    /// <summary>A gateway, a NAT in front of it and a peer behind the NAT with <paramref name="children"/> Child SAs up.</summary>
    private static async Task<Tunnel> NattedTunnelAsync(int children)
    {
        var gw = TestGateway.Start(TestGateway.ResponderYaml(), name: "gw");
        var nat = UdpNat.Start(gw.Gateway.IkeEndpoint, new IPEndPoint(IPAddress.Loopback, gw.Gateway.Transports[0].NattPort));
        // remote_port: after NAT detection the peer floats to the NAT's port, not to 4500.
        var peer = TestGateway.Start(TestGateway.InitiatorYaml().Replace("    remote_addrs: [127.0.0.1]\n",
            $"    remote_addrs: [127.0.0.1]\n    remote_port: {nat.Endpoint.Port}\n"), name: "peer");
        var t = new Tunnel(gw, nat, peer);
        try
        {
            peer.Initiate("site", nat.Endpoint);
            await Eventually.TrueAsync(() => peer.Events.Up.Count == 1 && gw.DataPlane.InstalledCount == 1, "the tunnel is up through the NAT", 15);
            for (int i = 1; i < children; i++)
            {
                t.PeerSa.Tell(new IkeSaActor.CreateChildSa(peer.Config.Connections["site"].Children["net"]));
                int want = i + 1;
                await Eventually.TrueAsync(() => gw.DataPlane.InstalledCount == want, $"Child SA {want} is up", 10);
            }
            var info = await t.GatewaySa().Ask<IkeSaActor.Info>(IkeSaActor.GetInfo.Instance, TimeSpan.FromSeconds(5));
            Assert.Equal(t.PeerMapping(), info.Remote);
            foreach (var spi in gw.DataPlane.InstalledSpis())
            {
                Assert.True(gw.DataPlane.TryGetSa(spi, out var sa));
                Assert.Equal(EspTransport.UdpEncapsulated, sa.Transport);
            }
            return t;
        }
        catch
        {
            await t.DisposeAsync();
            throw;
        }
    }

    private sealed record Tunnel(TestGateway Gateway, UdpNat Nat, TestGateway Peer) : IAsyncDisposable
    {
        public IActorRef PeerSa => Sa(Peer);

        public IActorRef GatewaySa() => Sa(Gateway);

        /// <summary>The outside endpoint of the peer's NAT-T socket: the one mapping the gateway uses once NAT-T floated.</summary>
        public IPEndPoint PeerMapping() =>
            Nat.MappingOf(new IPEndPoint(IPAddress.Loopback, Peer.Gateway.Transports[0].NattPort)) ?? throw new InvalidOperationException("no NAT-T mapping yet");

        private static IActorRef Sa(TestGateway g) =>
            g.Gateway.Supervisor.Ask<List<IActorRef>>(IkeSaSupervisor.GetSas.Instance, TimeSpan.FromSeconds(5)).GetAwaiter().GetResult().Single();

        public async ValueTask DisposeAsync()
        {
            await Peer.DisposeAsync();
            await Nat.DisposeAsync();
            await Gateway.DisposeAsync();
        }
    }
}
