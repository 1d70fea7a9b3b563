using System.Diagnostics;
using Concentrator.Testbed.Interop;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Interop;
using Xunit.Abstractions;

namespace Concentrator.Tests.Cluster.Membership;

/// <summary>
/// Three <c>Concentrator run</c> processes in three namespaces on one bridge form a cluster; nftables then cuts one
/// node off from the other two. Topology (10.98.0.0/24 exists only inside the test's namespaces):
/// <code>
///   n1 e0 10.98.0.11 ─┐
///   n2 e0 10.98.0.12 ─┼─ br0 (namespace sw) ─ c0 10.98.0.2 in the testbed's peer namespace
///   n3 e0 10.98.0.13 ─┘
/// </code>
/// </summary>
[Trait("Category", "Root")]
public sealed class ClusterPartitionRootTests(ITestOutputHelper output)
{
    private const string Subnet = "10.98.0";
    private const string PeerAddress = Subnet + ".2";
    private const string Psk = "cluster-partition-test-key-0123456789";
    private const int NodeCount = 3;

    private static string NodeAddress(int i) => $"{Subnet}.{11 + i}";

    private static string Seeds => "[" + string.Join(", ", Enumerable.Range(0, NodeCount).Select(i => $"akka.tcp://concentrator@{NodeAddress(i)}:4053")) + "]";

    /// <summary>Beyond loopback the nodes need mutual TLS: certificates of a CA made for this run, one name per node.</summary>
    private static string NodeYaml(int i, ClusterCertificates ca) => $$"""
        listen: { addresses: [{{NodeAddress(i)}}], ike_port: 500, natt_port: 4500 }
        http: { listen: "127.0.0.1:9400" }
        tunnel: { type: none }
        cluster:
          hostname: {{NodeAddress(i)}}
          port: 4053
          seed_nodes: {{Seeds}}
          split_brain_resolver: keep-majority
          tls: {{ca.TlsYaml(ca.Node($"n{i + 1}.cluster.test"), "*.cluster.test")}}
        connections:
          rw:
            proposals: [aes256gcm16-prfsha256-ecp256]
            local: { auth: psk, id: gw.cluster.test }
            remote: { auth: psk, id: "%any" }
            children:
              net: { local_ts: [10.97.0.0/24], remote_ts: [10.97.1.0/24], esp_proposals: [aes256gcm16] }
        secrets:
          rw: { secret: "{{Psk}}" }
        """;

    private static string PeerYaml(string target) => $$"""
        listen: { addresses: [{{PeerAddress}}], ike_port: 500, natt_port: 4500 }
        http: { listen: "127.0.0.1:9400" }
        tunnel: { type: none }
        connections:
          site:
            remote_addrs: [{{target}}]
            proposals: [aes256gcm16-prfsha256-ecp256]
            local: { auth: psk, id: peer.cluster.test }
            remote: { auth: psk, id: gw.cluster.test }
            children:
              net: { local_ts: [10.97.1.0/24], remote_ts: [10.97.0.0/24], esp_proposals: [aes256gcm16], start_action: start }
        secrets:
          site: { secret: "{{Psk}}" }
        """;

    [Fact]
    [Trait("Category", "Root")]
    public async Task Partitioned_minority_node_downs_itself_and_the_majority_keeps_serving_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 100);
        var bed = scope.Bed;

        var sw = scope.Own(Netns.Create($"{bed.Id}-sw"));
        sw.Ip("link", "add", "br0", "type", "bridge");
        sw.Up("br0");
        var nodes = new Netns[NodeCount];
        for (int i = 0; i < NodeCount; i++)
        {
            nodes[i] = scope.Own(Netns.Create($"{bed.Id}-n{i + 1}"));
            Netns.Veth(nodes[i], "e0", sw, $"s{i + 1}");
            sw.Ip("link", "set", $"s{i + 1}", "master", "br0");
            nodes[i].AddAddress("e0", NodeAddress(i) + "/24");
        }
        Netns.Veth(bed.Peer, "c0", sw, "sp");
        sw.Ip("link", "set", "sp", "master", "br0");
        bed.Peer.AddAddress("c0", PeerAddress + "/24");

        using var ca = new ClusterCertificates(bed.Dir("cluster-tls"));
        var procs = await Task.WhenAll(Enumerable.Range(0, NodeCount).Select(i =>
            ConcentratorProcess.StartAsync(nodes[i], bed.Dir($"n{i + 1}"), NodeYaml(i, ca), TimeSpan.FromSeconds(40), "debug")));
        for (int i = 0; i < NodeCount; i++)
        {
            var p = scope.Own(procs[i]);
            scope.AddDiagnostics($"n{i + 1}", () => p.Diagnostics());
        }
        scope.Log("three nodes listening");

        // Formation: every node Up and ready, each counting three members Up.
        for (int i = 0; i < NodeCount; i++)
        {
            Assert.True(await WaitAsync(async () => await ReadyzAsync(nodes[i]) == 200, scope.Remaining(TimeSpan.FromSeconds(40))),
                $"n{i + 1} became ready");
        }
        for (int i = 0; i < NodeCount; i++)
        {
            Assert.True(await WaitAsync(async () => await MembersAsync(nodes[i], "up") == 3, scope.Remaining(TimeSpan.FromSeconds(20))),
                $"n{i + 1} counts three members Up");
        }
        scope.Log("cluster of three formed");

        // Partition: n3 drops everything from and to n1 and n2 (the bridge still carries their traffic to each other).
        string others = $"{{ {NodeAddress(0)}, {NodeAddress(1)} }}";
        string rules = $$"""
            table inet cit_partition {
              chain input { type filter hook input priority 0; policy accept; ip saddr {{others}} drop; }
              chain output { type filter hook output priority 0; policy accept; ip daddr {{others}} drop; }
            }
            """;
        string file = Path.Combine(bed.WorkDir, "partition.nft");
        await File.WriteAllTextAsync(file, rules + "\n");
        nodes[2].Exec("nft", "-f", file);
        var partitioned = Stopwatch.StartNew();
        scope.Log("n3 partitioned from n1 and n2");

        // The majority sees n3 unreachable, then its resolver downs n3 and the member is removed.
        Assert.True(await WaitAsync(async () => await ReadAsync(nodes[0], "concentrator_cluster_unreachable_members") == 1,
            scope.Remaining(TimeSpan.FromSeconds(20))), "n1 marks n3 unreachable");
        scope.Log($"n1 sees n3 unreachable after {partitioned.Elapsed.TotalSeconds:F1} s");

        // The minority downs itself: its actor system stops and the process exits 1 after logging 5006.
        Assert.True(await WaitAsync(() => Task.FromResult(procs[2].HasExited), scope.Remaining(TimeSpan.FromSeconds(40))),
            "n3, the minority, shut down");
        scope.Log($"n3 exited after {partitioned.Elapsed.TotalSeconds:F1} s");
        Assert.NotEmpty(procs[2].EventsWithId(5006));

        Assert.True(await WaitAsync(async () => await MembersAsync(nodes[0], "up") == 2
                                             && await ReadAsync(nodes[0], "concentrator_cluster_unreachable_members") == 0,
            scope.Remaining(TimeSpan.FromSeconds(30))), "n1 counts two members Up and none unreachable");
        scope.Log($"majority settled at two members after {partitioned.Elapsed.TotalSeconds:F1} s");
        for (int i = 0; i < 2; i++)
        {
            Assert.Equal(200, await ReadyzAsync(nodes[i]));
            Assert.False(procs[i].HasExited);
            Assert.Equal(2, await MembersAsync(nodes[i], "up"));
        }

        // The majority keeps serving: a peer establishes an IKE SA with a Child SA against n1.
        var peer = scope.Own(await ConcentratorProcess.StartAsync(bed.Peer, bed.Dir("peer"), PeerYaml(NodeAddress(0)),
            TimeSpan.FromSeconds(30), "debug"));
        scope.AddDiagnostics("peer", () => peer.Diagnostics());
        Assert.True(await peer.WaitForEventAsync(ConcentratorProcess.ChildSaInstalled, scope.Remaining(TimeSpan.FromSeconds(20))),
            "the peer's tunnel to n1 came up");
        Assert.True(await procs[0].WaitForEventAsync(ConcentratorProcess.IkeSaEstablished, TimeSpan.FromSeconds(5)),
            "n1 established the IKE SA");
        scope.Log("IKE SA with n1 established after the partition");

        // SIGTERM on n2 is a graceful leave, not a failure: n1 never marks it unreachable and stays ready alone.
        await procs[1].DisposeAsync();
        Assert.NotEmpty(procs[1].EventsWithId(5007));
        Assert.True(await WaitAsync(async () => await MembersAsync(nodes[0], "up") == 1, scope.Remaining(TimeSpan.FromSeconds(15))),
            "n1 counts itself alone after n2 left");
        Assert.Empty(procs[0].EventsWithId(5003).Where(e => e.Message.Contains(NodeAddress(1))));
        Assert.Equal(200, await ReadyzAsync(nodes[0]));
        scope.Log("n2 left gracefully on SIGTERM; n1 alone and ready");
        scope.Passed();
    }

    private static async Task<bool> WaitAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (await condition()) return true;
            await Task.Delay(250);
        }
        return await condition();
    }

    private static async Task<int> ReadyzAsync(Netns ns)
    {
        var r = await ns.ExecAsync(TimeSpan.FromSeconds(10), "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
            "http://127.0.0.1:9400/readyz");
        return int.TryParse(r.Stdout.Trim(), out var code) ? code : 0;
    }

    private static Task<double> MembersAsync(Netns ns, string status) => ReadAsync(ns, "concentrator_cluster_members", $"status=\"{status}\"");

    /// <summary>The family's value, or -1 when the scrape fails (the node is starting or gone).</summary>
    private static async Task<double> ReadAsync(Netns ns, string family, params string[] labels)
    {
        var r = await ns.ExecAsync(TimeSpan.FromSeconds(10), "curl", "-sS", "-f", "--max-time", "5", "http://127.0.0.1:9400/metrics");
        return r.Ok ? GatewayMetrics.Sum(r.Stdout, family, labels) : -1;
    }
}
