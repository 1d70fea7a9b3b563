using System.Text.RegularExpressions;
using Concentrator.Testbed.Interop;
using Xunit.Abstractions;

namespace Concentrator.Tests.Interop;

/// <summary>
/// Route-based tunnels (swanctl if_id_in/if_id_out) against stock strongSwan: two peers each negotiate 0.0.0.0/0 ↔ 0.0.0.0/0
/// with the gateway, as AWS, Azure and GCP route-based VPNs do, on interface IDs 1 and 2. Each is reachable through its own
/// ipsec&lt;N&gt; (inside addresses like AWS's 169.254.x.x/30, and one overlapping address behind both peers) at the same
/// time, and the gateway's default route, main table and tunnel table are left alone: routing is the operator's.
/// <code>
///   peer A (p0 10.99.1.2; lo 169.254.10.2, 10.99.50.1) ─ g0 10.99.1.1 ┐
///                                                                   gateway (ipsec1 169.254.10.1/30, ipsec2 169.254.20.1/30)
///   peer B (q0 10.99.4.2; lo 169.254.20.2, 10.99.50.1) ─ g2 10.99.4.1 ┘
/// </code>
/// </summary>
[Collection(InteropCollection.Name)]
[Trait("Category", "Root")]
public sealed partial class RouteBasedInteropTests(ITestOutputHelper output)
{
    private const string Ike = "aes256gcm16-prfsha256-ecp256";
    private const string Esp = "aes256gcm16";
    private const string PeerAId = "peera.interop.test";
    private const string PeerBId = "peerb.interop.test";
    private const string PeerBOuter = "10.99.4.2";
    private const string GatewayToB = "10.99.4.1";
    /// <summary>Behind both peers: only the interface a packet enters decides which peer gets it.</summary>
    private const string Overlapping = "10.99.50.1";

    [Fact(Timeout = 150_000)]
    [Trait("Category", "Root")]
    public async Task Two_zero_selector_peers_each_reachable_through_their_own_interface_and_the_default_route_untouched_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 110);
        var bed = scope.Bed;
        var peerA = bed.Peer;
        var peerB = scope.Own(Netns.Create($"{bed.Id}-peerb"));
        Netns.Veth(peerB, "q0", bed.Gateway, "g2");
        peerB.AddAddress("q0", PeerBOuter + "/24");
        bed.Gateway.AddAddress("g2", GatewayToB + "/24");
        peerB.Ip("route", "add", "10.99.1.0/24", "via", GatewayToB);
        foreach (var (peer, inside) in new[] { (peerA, "169.254.10.2"), (peerB, "169.254.20.2") })
        {
            peer.AddAddress("lo", inside + "/32");
            peer.AddAddress("lo", Overlapping + "/32");
            InstallEchoCounters(peer, bed.WorkDir);
        }
        // The gateway's uplink default route: route-based children must neither replace nor remove it.
        bed.Gateway.Ip("route", "add", "default", "via", bed.PeerOuter, "dev", NamespaceTestbed.GatewayOuterDevice);
        string defaultBefore = Default(bed.Gateway);
        Assert.Contains($"default via {bed.PeerOuter} dev {NamespaceTestbed.GatewayOuterDevice}", defaultBefore);

        var swanA = scope.Own(await StrongSwan.StartAsync(peerA, bed.Dir("charon-a"), "peer-a"));
        var swanB = scope.Own(await StrongSwan.StartAsync(peerB, bed.Dir("charon-b"), "peer-b"));
        scope.AddDiagnostics("charon peer A", () => swanA.Diagnostics());
        scope.AddDiagnostics("charon peer B", () => swanB.Diagnostics());
        await swanA.LoadAsync(SwanctlConf.Connection("gw", bed.PeerOuter, NamespaceTestbed.GatewayOuter, PeerAId, SwanctlConf.GatewayId,
            Ike, "net", "0.0.0.0/0", "0.0.0.0/0", Esp));
        await swanB.LoadAsync(SwanctlConf.Connection("gw", PeerBOuter, NamespaceTestbed.GatewayOuter, PeerBId, SwanctlConf.GatewayId,
            Ike, "net", "0.0.0.0/0", "0.0.0.0/0", Esp));

        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"), GatewayYaml(bed.PeerOuter),
            scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics());
        scope.AddDiagnostics("gateway routing", () => RoutingState(bed.Gateway));

        // Both interfaces exist from the start, before any SA: the operator can address them and start a routing daemon.
        foreach (var (device, address) in new[] { ("ipsec1", "169.254.10.1/30"), ("ipsec2", "169.254.20.1/30") })
        {
            var link = await bed.Gateway.ExecAsync(TimeSpan.FromSeconds(5), "ip", "link", "show", device);
            Assert.True(link.Ok, $"{device} does not exist after the gateway started: {link}");
            bed.Gateway.AddAddress(device, address);
        }
        Assert.Equal(2, gateway.EventsWithId(RouteInterfaceCreated).Count);
        string mainBefore = MainTable(bed.Gateway);
        string tunnelTableBefore = await TunnelTableAsync(bed.Gateway);

        // A first, then B: B's 0/0 SA must not take A's traffic (today's shared table: the newest 0/0 SA wins for everyone).
        foreach (var swan in new[] { swanA, swanB })
        {
            var init = await swan.InitiateAsync("gw", "net", timeoutSeconds: 20);
            Assert.True(init.Ok, $"swanctl --initiate of {swan.Name} failed: {init}");
            Assert.NotNull(await swan.WaitInstalledAsync("gw", "net", scope.Remaining(TimeSpan.FromSeconds(10))));
        }
        Assert.True(await Eventually(() => gateway.EventsWithId(ConcentratorProcess.ChildSaInstalled).Count >= 2, scope.Remaining(TimeSpan.FromSeconds(5))),
            "the gateway did not install both Child SAs");

        string sas = (await bed.Gateway.ExecCheckedAsync(TimeSpan.FromSeconds(30), "dotnet", ConcentratorProcess.AssemblyPath, "sas",
            "--admin", "http://127.0.0.1:9400/")).Stdout;
        scope.Log("gateway sas:\n" + sas);
        Assert.Contains("if_id in 1, out 1", sas);
        Assert.Contains("if_id in 2, out 2", sas);

        // The same overlapping address through each interface, at the same time, plus each peer's inside address.
        var pings = await Task.WhenAll(
            bed.Gateway.ExecAsync(TimeSpan.FromSeconds(20), "ping", "-n", "-c", "6", "-i", "0.2", "-W", "2", "-I", "ipsec1", Overlapping),
            bed.Gateway.ExecAsync(TimeSpan.FromSeconds(20), "ping", "-n", "-c", "6", "-i", "0.2", "-W", "2", "-I", "ipsec2", Overlapping),
            bed.Gateway.ExecAsync(TimeSpan.FromSeconds(20), "ping", "-n", "-c", "4", "-i", "0.2", "-W", "2", "169.254.10.2"),
            bed.Gateway.ExecAsync(TimeSpan.FromSeconds(20), "ping", "-n", "-c", "4", "-i", "0.2", "-W", "2", "169.254.20.2"));
        string[] what = ["ipsec1 -> 10.99.50.1", "ipsec2 -> 10.99.50.1", "169.254.10.2", "169.254.20.2"];
        for (int i = 0; i < pings.Length; i++) scope.Log($"{what[i]}: {PingOutput.Summary(pings[i])}");
        for (int i = 0; i < pings.Length; i++) Assert.True(pings[i].Ok, $"ping {what[i]} failed: {pings[i]}");

        // Each peer saw only the echo requests of its own interface (source = that interface's inside address).
        var a = ReadEchoCounters(peerA);
        var b = ReadEchoCounters(peerB);
        scope.Log($"peer A: from ipsec1 {a["from_if1"]}, from ipsec2 {a["from_if2"]}; peer B: from ipsec1 {b["from_if1"]}, from ipsec2 {b["from_if2"]}");
        Assert.True(a["from_if1"] >= 6, $"peer A got {a["from_if1"]} echo requests through ipsec1");
        Assert.Equal(0, a["from_if2"]);
        Assert.True(b["from_if2"] >= 6, $"peer B got {b["from_if2"]} echo requests through ipsec2");
        Assert.Equal(0, b["from_if1"]);

        // The gateway installed no route for either child: default route, main table and the tunnel table as they were.
        Assert.Equal(defaultBefore, Default(bed.Gateway));
        Assert.Equal(mainBefore, MainTable(bed.Gateway));
        Assert.Equal(tunnelTableBefore, await TunnelTableAsync(bed.Gateway));
        Assert.DoesNotContain("ipsec0", tunnelTableBefore);

        // Traffic into an interface with no SA on it is dropped there, never sent through the other interface's SA.
        var term = await swanB.SwanctlAsync(["--terminate", "--ike", "gw", "--timeout", "10"]);
        Assert.True(term.Ok, "swanctl --terminate of peer B failed: " + term);
        Assert.True(await Eventually(() => gateway.EventsWithId(ConcentratorProcess.ChildSaRemoved).Count >= 1, scope.Remaining(TimeSpan.FromSeconds(10))));
        var orphan = await bed.Gateway.ExecAsync(TimeSpan.FromSeconds(10), "ping", "-n", "-c", "3", "-i", "0.2", "-W", "1", "-I", "ipsec2", Overlapping);
        var stillA = await bed.Gateway.ExecAsync(TimeSpan.FromSeconds(10), "ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", "-I", "ipsec1", Overlapping);
        var a2 = ReadEchoCounters(peerA);
        Assert.Equal(0, PingOutput.Received(orphan));
        Assert.Equal(0, a2["from_if2"]);
        Assert.True(stillA.Ok, "ping through ipsec1 failed after peer B left: " + stillA);
        Assert.Equal(defaultBefore, Default(bed.Gateway));

        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        Assert.Empty(gateway.EventsWithId(RouteInterfaceFailed));

        // Stopped, the gateway's devices go with it (non-persistent TUNs) and the default route is still there.
        await gateway.DisposeAsync();
        Assert.False((await bed.Gateway.ExecAsync(TimeSpan.FromSeconds(5), "ip", "link", "show", "ipsec1")).Ok, "ipsec1 outlived the gateway");
        Assert.Equal(defaultBefore, Default(bed.Gateway));
        scope.Passed();
    }

    private const int RouteInterfaceCreated = 4600;
    private const int RouteInterfaceFailed = 4601;

    private static string GatewayYaml(string peerAOuter) => $$"""
        # generated by the Concentrator interop harness (route-based tunnels)
        listen: { addresses: [{{NamespaceTestbed.GatewayOuter}}], ike_port: 500, natt_port: 4500 }
        http: { listen: "127.0.0.1:9400" }
        tunnel: { type: tun, device: ipsec0, mtu: 1400 }
        connections:
          branch-a:
            version: 2
            local_addrs: [{{NamespaceTestbed.GatewayOuter}}]
            remote_addrs: [{{peerAOuter}}]
            proposals: [{{Ike}}]
            local: { auth: psk, id: {{SwanctlConf.GatewayId}} }
            remote: { auth: psk, id: {{PeerAId}} }
            children:
              net:
                local_ts: [0.0.0.0/0]
                remote_ts: [0.0.0.0/0]
                esp_proposals: [{{Esp}}]
                if_id_in: 1
                if_id_out: 1
          branch-b:
            version: 2
            local_addrs: [{{NamespaceTestbed.GatewayOuter}}]
            remote_addrs: [{{PeerBOuter}}]
            proposals: [{{Ike}}]
            if_id_in: 2
            if_id_out: 0x2
            local: { auth: psk, id: {{SwanctlConf.GatewayId}} }
            remote: { auth: psk, id: {{PeerBId}} }
            children:
              net:
                local_ts: [0.0.0.0/0]
                remote_ts: [0.0.0.0/0]
                esp_proposals: [{{Esp}}]
        secrets:
          ike-a: { id: [{{PeerAId}}, {{SwanctlConf.GatewayId}}], secret: "{{SwanctlConf.Psk}}" }
          ike-b: { id: [{{PeerBId}}, {{SwanctlConf.GatewayId}}], secret: "{{SwanctlConf.Psk}}" }
        """;

    private static string Default(Netns ns) => ns.Exec("ip", "-4", "route", "show", "default").Stdout;

    private static string MainTable(Netns ns) => ns.Exec("ip", "-4", "route", "show", "table", "main").Stdout;

    private static async Task<string> TunnelTableAsync(Netns ns) =>
        (await ns.ExecAsync(TimeSpan.FromSeconds(10), "ip", "-4", "route", "show", "table", "220")).Stdout;

    private static string RoutingState(Netns ns) =>
        string.Join("\n", new[] { "rule", "route show table all", "addr" }
            .Select(what => $"--- ip -4 {what}\n" + ns.ExecAsync(TimeSpan.FromSeconds(10), ["ip", "-4", .. what.Split(' ')]).GetAwaiter().GetResult()));

    private static async Task<bool> Eventually(Func<bool> done, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (!done())
        {
            if (DateTime.UtcNow > until) return false;
            await Task.Delay(100);
        }
        return true;
    }

    /// <summary>Echo requests to the overlapping address arriving at a peer, by the gateway interface they left.</summary>
    private static void InstallEchoCounters(Netns ns, string workDir)
    {
        string rules = $$"""
            table ip cit_echo {
              counter from_if1 { }
              counter from_if2 { }
              chain input {
                type filter hook input priority 0; policy accept;
                ip saddr 169.254.10.1 icmp type echo-request counter name "from_if1"
                ip saddr 169.254.20.1 icmp type echo-request counter name "from_if2"
              }
            }
            """;
        string file = Path.Combine(workDir, $"echo-counters-{ns.Name}.nft");
        File.WriteAllText(file, rules + "\n");
        ns.Exec("nft", "-f", file);
    }

    private static IReadOnlyDictionary<string, long> ReadEchoCounters(Netns ns)
    {
        var text = ns.Exec("nft", "list", "counters", "table", "ip", "cit_echo").Stdout;
        return CounterPattern().Matches(text).ToDictionary(m => m.Groups["name"].Value, m => long.Parse(m.Groups["packets"].Value));
    }

    [GeneratedRegex(@"counter (?<name>\w+) \{\s*packets (?<packets>\d+)")]
    private static partial Regex CounterPattern();
}
