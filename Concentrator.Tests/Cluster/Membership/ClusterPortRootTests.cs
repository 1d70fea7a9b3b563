using Concentrator.Testbed.Interop;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Interop;
using Xunit.Abstractions;

namespace Concentrator.Tests.Cluster.Membership;

/// <summary>
/// The cluster port seen from another network namespace (issue 14, finding 1), with real processes: the gateway runs
/// <c>Concentrator run</c> in its namespace with a stock strongSwan tunnel up (an SA with keys to steal), the peer's
/// namespace reaches its outer address. A lone node keeps remoting on loopback, so nothing outside reaches it at all;
/// a node that clusters beyond loopback runs mutual TLS, and a node in the other namespace that presents a certificate
/// with the right name but no CA's signature never becomes a member: it receives no replica (no key) and can send
/// nothing (no SA installed, the tunnel untouched), while a node with the cluster CA's certificate, from the same
/// namespace and the same route, joins and receives the SA's replica at once (so the port was reachable).
/// </summary>
[Collection(InteropCollection.Name)]
[Trait("Category", "Root")]
public sealed class ClusterPortRootTests(ITestOutputHelper output)
{
    private const string Ike = "aes256gcm16-prfsha256-ecp256";
    private const string Esp = "aes256gcm16";
    private const int ClusterPort = 4053;
    private const string NodeNames = "*.cluster.port.test";
    private const int HttpEndpoint = 4004; // logged once the HTTP endpoint listens (Listening, 4001, comes before it)

    [Fact(Timeout = 150_000)]
    [Trait("Category", "Root")]
    public async Task A_process_in_another_namespace_that_reaches_the_cluster_port_can_neither_read_a_key_nor_install_an_sa_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 130);
        var bed = scope.Bed;
        using var certificates = new ClusterCertificates(bed.Dir("cluster-tls"));

        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer"));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics());
        await peer.LoadAsync(SwanctlConf.Connection("gw", bed.PeerOuter, NamespaceTestbed.GatewayOuter, SwanctlConf.PeerId, SwanctlConf.GatewayId,
            Ike, "net", NamespaceTestbed.PeerInner + "/32", NamespaceTestbed.LanSubnet, Esp));

        // 1. A lone node (no seeds, no TLS): remoting listens on loopback only; the other namespace is refused.
        string gatewayYaml = ConcentratorYaml.Connection(NamespaceTestbed.GatewayOuter, "%any", SwanctlConf.GatewayId, SwanctlConf.PeerId,
            Ike, Esp, NamespaceTestbed.LanSubnet, NamespaceTestbed.PeerInnerSubnet);
        await using (var lone = await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("lone"),
            gatewayYaml + $"\ncluster: {{ port: {ClusterPort} }}\n", scope.Remaining(TimeSpan.FromSeconds(25))))
        {
            scope.AddDiagnostics("lone node", () => lone.Diagnostics());
            var listening = await bed.Gateway.ExecAsync(TimeSpan.FromSeconds(5), "ss", "-ltnH", $"sport = :{ClusterPort}");
            scope.Log("lone node listens: " + listening.Stdout.Trim());
            // One listener, on IPv4 loopback (DotNetty binds a dual-stack socket to ::ffff:127.0.0.1).
            var local = Assert.Single(listening.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[3];
            Assert.Contains(local, new[] { $"127.0.0.1:{ClusterPort}", $"[::ffff:127.0.0.1]:{ClusterPort}" });
            var connect = await bed.Peer.ExecAsync(TimeSpan.FromSeconds(5), "bash", "-c",
                $"exec 3<>/dev/tcp/{NamespaceTestbed.GatewayOuter}/{ClusterPort} && echo connected");
            scope.Log($"connect from the peer's namespace to the lone node's cluster port: exit {connect.ExitCode} {connect.Stderr.Trim()}");
            Assert.False(connect.Ok, "a process in another namespace connected to a lone node's cluster port");
        }

        // 2. The same gateway clustering on its outer address, with mutual TLS, and a tunnel up.
        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"),
            gatewayYaml + ClusterYaml(NamespaceTestbed.GatewayOuter, ClusterPort,
                certificates.TlsYaml(certificates.Node("gw.cluster.port.test"), NodeNames)),
            scope.Remaining(TimeSpan.FromSeconds(30))));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics());
        var init = await peer.InitiateAsync("gw", "net", timeoutSeconds: 20);
        Assert.True(init.Ok, "swanctl --initiate to the concentrator failed: " + init);
        Assert.True(await gateway.WaitForEventAsync(ConcentratorProcess.ChildSaInstalled, scope.Remaining(TimeSpan.FromSeconds(5))),
            "the concentrator did not log Child SA installed (1003)");

        // 3. The stranger: a node in the peer's namespace whose certificate carries a cluster name but is self-signed. It
        //    reaches the port (TCP) and tries to join with the gateway as its seed.
        var stranger = scope.Own(await ConcentratorProcess.StartAsync(bed.Peer, bed.Dir("stranger"),
            NodeYaml(bed, 9401, 5500, ClusterPort + 1, certificates.TlsYaml(certificates.SelfSigned("x.cluster.port.test"), NodeNames)),
            scope.Remaining(TimeSpan.FromSeconds(30))));
        scope.AddDiagnostics("stranger", () => stranger.Diagnostics());
        Assert.True(await stranger.WaitForEventAsync(HttpEndpoint, TimeSpan.FromSeconds(10)), "the stranger's HTTP endpoint did not start");
        // Several join attempts (seed-node retries every few seconds) until it gives up and stops: while it runs it holds
        // no replica and is not ready (ready means Up in a cluster).
        int observed = 0;
        for (var clock = System.Diagnostics.Stopwatch.StartNew(); clock.Elapsed < TimeSpan.FromSeconds(8) && !stranger.HasExited; observed++)
        {
            var metrics = await bed.Peer.ExecAsync(TimeSpan.FromSeconds(10), "curl", "-sS", "-f", "--max-time", "5", "http://127.0.0.1:9401/metrics");
            var ready = await bed.Peer.ExecAsync(TimeSpan.FromSeconds(10), "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
                "http://127.0.0.1:9401/readyz");
            // It may be stopping between two looks: its HTTP endpoint closes before the process ends.
            if (!metrics.Ok) await Task.Delay(3000);
            if (stranger.HasExited) break;
            Assert.True(metrics.Ok, "stranger metrics: " + metrics);
            Assert.Equal(0, GatewayMetrics.Sum(metrics.Stdout, "concentrator_cluster_replicated_sas"));
            Assert.Equal("503", ready.Stdout.Trim());
            await Task.Delay(1000);
        }
        double gatewayUp = await GatewayMetrics.ReadAsync(bed.Gateway, "concentrator_cluster_members", "status=\"up\"");
        scope.Log($"stranger: no replica and not ready in {observed} looks, {(stranger.HasExited ? "then gave up joining and stopped" : "still trying")}; gateway: {gatewayUp} members up");
        Assert.True(observed > 0 || stranger.HasExited);
        Assert.Equal(1, gatewayUp);

        // 4. A node of the cluster's CA from the same namespace joins over the same path and holds the SA's replica at
        //    once: the stranger lacked nothing but the CA's signature.
        var member = scope.Own(await ConcentratorProcess.StartAsync(bed.Peer, bed.Dir("member"),
            NodeYaml(bed, 9402, 6500, ClusterPort + 2, certificates.TlsYaml(certificates.Node("m.cluster.port.test"), NodeNames)),
            scope.Remaining(TimeSpan.FromSeconds(30))));
        scope.AddDiagnostics("member", () => member.Diagnostics());
        Assert.True(await member.WaitForEventAsync(HttpEndpoint, TimeSpan.FromSeconds(10)), "the member's HTTP endpoint did not start");
        double memberReplicas = 0;
        for (var clock = System.Diagnostics.Stopwatch.StartNew(); memberReplicas < 1 && clock.Elapsed < scope.Remaining(TimeSpan.FromSeconds(30));)
        {
            await Task.Delay(250);
            memberReplicas = await ReadAsync(bed.Peer, 9402, "concentrator_cluster_replicated_sas");
        }
        scope.Log($"member: {memberReplicas} replicas");
        Assert.Equal(1, memberReplicas);
        Assert.Equal(2, await GatewayMetrics.ReadAsync(bed.Gateway, "concentrator_cluster_members", "status=\"up\""));

        // Nothing of the stranger's reached the gateway: one SA, its own child, the tunnel carries traffic.
        Assert.Equal(1, await GatewayMetrics.ReadAsync(bed.Gateway, "concentrator_ike_sas", "state=\"established\""));
        Assert.Single(gateway.EventsWithId(ConcentratorProcess.ChildSaInstalled));
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ChildSaRemoved));
        var ping = await bed.Peer.ExecAsync(scope.Remaining(TimeSpan.FromSeconds(15)),
            "ping", "-n", "-c", "3", "-i", "0.3", "-W", "2", "-I", NamespaceTestbed.PeerInner, NamespaceTestbed.LanHost);
        scope.Log("ping peer inner -> LAN: " + PingOutput.Summary(ping));
        Assert.True(ping.Ok, "ping through the tunnel failed: " + ping);
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }

    private static async Task<double> ReadAsync(Netns ns, int httpPort, string family, params string[] labels) =>
        GatewayMetrics.Sum(await GatewayMetrics.ScrapeAsync(ns, $"http://127.0.0.1:{httpPort}/metrics"), family, labels);

    private static string ClusterYaml(string host, int port, string tls) =>
        $"\ncluster: {{ hostname: {host}, port: {port}, seed_nodes: [\"akka.tcp://concentrator@{NamespaceTestbed.GatewayOuter}:{ClusterPort}\"], " +
        $"split_brain_resolver: off, tls: {tls} }}\n";

    /// <summary>A second node in the peer's namespace: its own IKE and HTTP ports, IKE only (no TUN beside charon's).</summary>
    private static string NodeYaml(NamespaceTestbed bed, int httpPort, int ikePort, int clusterPort, string tls) =>
        ConcentratorYaml.Connection(bed.PeerOuter, "%any", SwanctlConf.GatewayId, SwanctlConf.PeerId, Ike, Esp,
                NamespaceTestbed.LanSubnet, NamespaceTestbed.PeerInnerSubnet)
            .Replace("ike_port: 500, natt_port: 4500", $"ike_port: {ikePort}, natt_port: {ikePort + 1}")
            .Replace("127.0.0.1:9400", $"127.0.0.1:{httpPort}")
            .Replace("tunnel: { type: tun, device: ipsec0, mtu: 1400, plain_esp: yes }", "tunnel: { type: none }")
        + ClusterYaml(bed.PeerOuter, clusterPort, tls);
}
