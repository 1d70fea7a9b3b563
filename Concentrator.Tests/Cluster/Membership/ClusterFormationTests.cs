using System.Diagnostics;
using System.Net;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Support;
using Xunit.Abstractions;


namespace Concentrator.Tests.Cluster.Membership;

public sealed class ClusterFormationTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_node_without_seeds_is_a_one_node_cluster_and_ready_once_up()
    {
        var clock = Stopwatch.StartNew();
        await using var node = await ClusterTestNode.StartAsync("cluster: { hostname: 127.0.0.1, port: 0 }", "solo");
        await Eventually.TrueAsync(() => node.Gateway.Ready, "the lone node is Up", 20);
        output.WriteLine($"one-node cluster Up after {clock.ElapsedMilliseconds} ms");
        Assert.Equal(HttpStatusCode.OK, await node.ReadyzAsync());
        Assert.NotEqual(0, node.Gateway.ClusterNode!.SelfAddress.Port);

        var m = await node.ScrapeAsync();
        Assert.Equal(1, m.Sum("concentrator_cluster_members", ("status", "up")));
        Assert.Equal(0, m.Sum("concentrator_cluster_members", ("status", "joining")));
        Assert.Equal(0, m.Sum("concentrator_cluster_unreachable_members"));
        Assert.Equal(1, m.Sum("concentrator_node_ready"));
    }

    [Fact]
    public async Task Three_nodes_with_seed_nodes_form_one_cluster_and_readyz_follows_membership()
    {
        int pa = FreePorts.Tcp(), pb = FreePorts.Tcp(), pc = FreePorts.Tcp();
        string seeds = $"[{ClusterTestNode.Seed(pa)}, {ClusterTestNode.Seed(pb)}]";
        var nodes = new List<ClusterTestNode>();
        try
        {
            // b and c first: their seeds do not answer yet, so they are members of nothing and not ready.
            nodes.Add(await ClusterTestNode.StartAsync($"cluster: {{ port: {pb}, seed_nodes: {seeds} }}", "b"));
            nodes.Add(await ClusterTestNode.StartAsync($"cluster: {{ port: {pc}, seed_nodes: {seeds} }}", "c"));
            await Task.Delay(1500);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, await nodes[0].ReadyzAsync());
            Assert.Equal(HttpStatusCode.ServiceUnavailable, await nodes[1].ReadyzAsync());
            Assert.False(nodes[0].Gateway.Ready);

            // a is the first seed: it forms the cluster, b and c join it.
            var clock = Stopwatch.StartNew();
            nodes.Insert(0, await ClusterTestNode.StartAsync($"cluster: {{ port: {pa}, seed_nodes: {seeds} }}", "a"));
            foreach (var n in nodes)
            {
                await Eventually.TrueAsync(async () => await n.ReadyzAsync() == HttpStatusCode.OK, $"{n.Gateway.ClusterNode!.SelfAddress} is ready", 40);
            }
            // Each node learns the others' Up status by gossip, so each is asked until it agrees (bounded).
            foreach (var n in nodes)
            {
                await Eventually.TrueAsync(async () => (await n.ScrapeAsync()).Sum("concentrator_cluster_members", ("status", "up")) == 3,
                    $"{n.Gateway.ClusterNode!.SelfAddress} sees three members Up", 20);
                var m = await n.ScrapeAsync();
                Assert.Equal(0, m.Sum("concentrator_cluster_members", ("status", "joining")));
                Assert.Equal(0, m.Sum("concentrator_cluster_unreachable_members"));
            }
            output.WriteLine($"three members Up on every node {clock.ElapsedMilliseconds} ms after the first seed started");

            // c leaves gracefully: it is no longer ready, and the others count two members.
            var c = nodes[2];
            var leave = c.Gateway.ClusterNode!.LeaveAsync(TimeSpan.FromSeconds(20));
            await Eventually.TrueAsync(async () => await c.ReadyzAsync() == HttpStatusCode.ServiceUnavailable, "c, leaving, is not ready", 10);
            await leave;
            await Eventually.TrueAsync(async () => (await nodes[0].ScrapeAsync()).Sum("concentrator_cluster_members", ("status", "up")) == 2,
                "a counts two members after c left", 20);
            Assert.Equal(HttpStatusCode.OK, await nodes[0].ReadyzAsync());
            Assert.Equal(HttpStatusCode.OK, await nodes[1].ReadyzAsync());
        }
        finally
        {
            await Task.WhenAll(nodes.Select(n => n.DisposeAsync().AsTask()));
        }
    }
}
