using System.Net;
using Akka.Actor;
using Concentrator.Actors;
using Concentrator.DataPlane;
using Concentrator.Hosting;
using Concentrator.Ike.Sa;
using Concentrator.Ipsec;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Support;
using Xunit.Abstractions;

namespace Concentrator.Tests.Cluster.Replication;

/// <summary>
/// Virtual IP leases in a cluster of two gateways in this process (real remoting and Distributed Data on loopback,
/// in-memory data planes): peers negotiating with different nodes get different addresses of the one pool, and a lease
/// moves with its SA to the node the peer's ESP reaches, which counts it in its pool from then on.
/// </summary>
public sealed class VirtualIpClusterTests(ITestOutputHelper output)
{
    private const string GatewayYaml = """
        listen: { addresses: [127.0.0.1], ike_port: 0, natt_port: 0 }
        pools:
          rw-pool: { addrs: 10.30.0.0/24, dns: 10.10.0.53 }
        connections:
          rw:
            proposals: [aes256gcm16-prfsha256-ecp256]
            pools: [rw-pool]
            local: { auth: psk, id: gw.test }
            remote: { auth: psk, id: "%any" }
            children:
              lan: { local_ts: [10.10.0.0/16], remote_ts: [dynamic], esp_proposals: [aes256gcm16] }
        secrets:
          rw: { secret: "test-shared-key-0123456789" }
        """;

    private static string PeerYaml(string id) => $$"""
        listen: { addresses: [127.0.0.1], ike_port: 0, natt_port: 0 }
        connections:
          site:
            remote_addrs: [127.0.0.1]
            proposals: [aes256gcm16-prfsha256-ecp256]
            vips: [0.0.0.0]
            local: { auth: psk, id: {{id}} }
            remote: { auth: psk, id: gw.test }
            children:
              net: { local_ts: [dynamic], remote_ts: [10.10.0.0/16], esp_proposals: [aes256gcm16] }
        secrets:
          site: { secret: "test-shared-key-0123456789" }
        """;

    [Fact(Timeout = 120_000)]
    public async Task Peers_of_two_nodes_get_distinct_addresses_and_a_lease_moves_with_its_sa()
    {
        int pa = FreePorts.Tcp(), pb = FreePorts.Tcp();
        string seeds = $"[{ClusterTestNode.Seed(pa)}]";
        var settle = TimeSpan.FromMilliseconds(300);
        await using var a = await ClusterTestNode.StartAsync($"cluster: {{ port: {pa}, seed_nodes: {seeds} }}", "vip-a", GatewayYaml, settle);
        await using var b = await ClusterTestNode.StartAsync($"cluster: {{ port: {pb}, seed_nodes: {seeds} }}", "vip-b", GatewayYaml, settle);
        foreach (var n in new[] { a, b })
        {
            await Eventually.TrueAsync(async () => (await n.ScrapeAsync()).Sum("concentrator_cluster_members", ("status", "up")) == 2,
                "both nodes see two members Up", 40);
        }
        await Task.Delay(settle + TimeSpan.FromSeconds(1)); // observed twice a second, then settled

        // Each node leases the first address of its own share: without shares both would lease 10.30.0.1.
        await using var one = TestGateway.Start(PeerYaml("one.branch.test"), name: "vip-one");
        await using var two = TestGateway.Start(PeerYaml("two.branch.test"), name: "vip-two");
        one.Initiate("site", a.Gateway.IkeEndpoint);
        two.Initiate("site", b.Gateway.IkeEndpoint);
        await Eventually.TrueAsync(() => one.Events.Up.Count == 1 && two.Events.Up.Count == 1 && Plane(a).InstalledCount == 1 && Plane(b).InstalledCount == 1,
            "both tunnels are up", 15);
        var vipOne = Assert.Single(one.Events.Up.Single().VirtualIps!);
        var vipTwo = Assert.Single(two.Events.Up.Single().VirtualIps!);
        output.WriteLine($"node a leased {vipOne}, node b leased {vipTwo}");
        Assert.NotEqual(vipOne, vipTwo);

        // one's ESP reaches b: a releases the SA, b adopts it with its lease; one keeps its address, no renegotiation.
        var child = await ChildOf(one);
        await Eventually.TrueAsync(() => b.Gateway.Replicas!.TryGetIkeSpiOfEsp(child.OutboundSpi, out _), "b holds one's replica", 10);
        Assert.Equal(EspStatus.UnknownSpi, Plane(b).Decapsulate(Seal(one, child.InboundSpi, vipOne, 1), out _));
        await Eventually.TrueAsync(() => Plane(b).InstalledCount == 2 && Plane(a).InstalledCount == 0, "one's SA moved from a to b", 10);
        Assert.Equal(EspStatus.Ok, Plane(b).Decapsulate(Seal(one, child.InboundSpi, vipOne, 2), out _));
        Assert.Single(one.Events.Up);
        Assert.Empty(one.Events.Down);

        var onB = await AdminApi.ListAsync(b.Gateway);
        Assert.Equal(new[] { vipOne.ToString(), vipTwo.ToString() }.Order(), onB.SelectMany(s => s.VirtualIps!).Order());
        var mb = await b.ScrapeAsync();
        var ma = await a.ScrapeAsync();
        Assert.Equal(2, mb.Sum("concentrator_pool_leases_in_use", ("pool", "rw-pool")));
        Assert.Equal(0, ma.Sum("concentrator_pool_leases_in_use", ("pool", "rw-pool")));
        Assert.Equal(1, ma.Sum("concentrator_pool_leases_offline", ("pool", "rw-pool"))); // kept for one.branch.test on a

        // A newcomer on a gets neither address, though one's lease is offline there and b's replicas carry both.
        await using var three = TestGateway.Start(PeerYaml("three.branch.test"), name: "vip-three");
        three.Initiate("site", a.Gateway.IkeEndpoint);
        await Eventually.TrueAsync(() => three.Events.Up.Count == 1, "three's tunnel is up", 15);
        var vipThree = Assert.Single(three.Events.Up.Single().VirtualIps!);
        Assert.DoesNotContain(vipThree, new[] { vipOne, vipTwo });
    }

    private static InMemoryDataPlane Plane(ClusterTestNode node) => (InMemoryDataPlane)node.Gateway.Options.DataPlane;

    private static async Task<ChildSaRecord> ChildOf(TestGateway peer)
    {
        var sa = (await peer.Gateway.Supervisor.Ask<List<IActorRef>>(IkeSaSupervisor.GetSas.Instance, TimeSpan.FromSeconds(5))).Single();
        return (await sa.Ask<IkeSaActor.Info>(IkeSaActor.GetInfo.Instance, TimeSpan.FromSeconds(5))).Children.Single();
    }

    private static byte[] Seal(TestGateway peer, uint peerSpi, IPAddress source, byte seed)
    {
        var wire = new byte[2048];
        var inner = Packets.Ipv4Udp(source, IPAddress.Parse("10.10.0.1"), 200, seed);
        Assert.Equal(EspStatus.Ok, peer.DataPlane.Encapsulate(peerSpi, inner, wire, out int written));
        return wire.AsSpan(0, written).ToArray();
    }
}
