using System.Diagnostics;
using System.Text.RegularExpressions;
using Concentrator.Testbed.Interop;
using Xunit.Abstractions;

namespace Concentrator.Tests.Interop;

/// <summary>
/// Where the concentrator's tunnel routes go and where its ESP goes when the peer's NAT changes, against stock strongSwan
/// (peer namespace, libipsec, encap = yes): a 0.0.0.0/0 ↔ 0.0.0.0/0 child (every route-based cloud VPN) leaves the
/// gateway's main table and default route alone and carries traffic through a table of its own; a NAT router that
/// forgets its mapping and picks another port moves the gateway's outbound ESP to the new mapping before any rekey.
/// </summary>
[Collection(InteropCollection.Name)]
[Trait("Category", "Root")]
public sealed partial class RoutingInteropTests(ITestOutputHelper output)
{
    private const string Ike = "aes256gcm16-prfsha256-ecp256";
    private const string Esp = "aes256gcm16";

    /// <summary>charon.routing_table's default, strongSwan's.</summary>
    private const string Table = "220";

    [Fact(Timeout = 120_000)]
    [Trait("Category", "Root")]
    public async Task Zero_selectors_keep_the_gateway_default_route_and_carry_traffic_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 80);
        var bed = scope.Bed;
        // The gateway has a default route of its own (its uplink); the tunnel must neither replace nor remove it.
        bed.Gateway.Ip("route", "add", "default", "via", bed.PeerOuter, "dev", NamespaceTestbed.GatewayOuterDevice);
        string mainBefore = MainTable(bed.Gateway);
        Assert.Contains($"default via {bed.PeerOuter} dev {NamespaceTestbed.GatewayOuterDevice}", mainBefore);

        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer"));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics());
        await peer.LoadAsync(SwanctlConf.Connection("gw", bed.PeerOuter, NamespaceTestbed.GatewayOuter, SwanctlConf.PeerId, SwanctlConf.GatewayId,
            Ike, "net", "0.0.0.0/0", "0.0.0.0/0", Esp));
        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"),
            ConcentratorYaml.Connection(NamespaceTestbed.GatewayOuter, "%any", SwanctlConf.GatewayId, SwanctlConf.PeerId, Ike, Esp,
                "0.0.0.0/0", "0.0.0.0/0"),
            scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics());
        scope.AddDiagnostics("gateway routing", () => RoutingState(bed.Gateway));
        EspCounters.Install(bed.Gateway, bed.WorkDir);

        var init = await peer.InitiateAsync("gw", "net", timeoutSeconds: 20);
        Assert.True(init.Ok, "swanctl --initiate to the concentrator failed: " + init);
        Assert.NotNull(await peer.WaitInstalledAsync("gw", "net", scope.Remaining(TimeSpan.FromSeconds(10))));
        Assert.True(await gateway.WaitForEventAsync(ConcentratorProcess.ChildSaInstalled, scope.Remaining(TimeSpan.FromSeconds(5))));

        string mainUp = MainTable(bed.Gateway);
        string tableUp = await TunnelTableAsync(bed.Gateway);
        scope.Log($"main table with the tunnel up:\n{mainUp}\ntable {Table}:\n{tableUp}");
        Assert.Equal(mainBefore, mainUp);
        Assert.Contains("default dev ipsec0", tableUp);
        // The peer's own address is thrown back to the main table: IKE, ESP and anything else to it never enter the tunnel.
        Assert.Contains($"throw {bed.PeerOuter}", tableUp);

        // The gateway's IKE and ESP sockets carry the mark its rules exclude from the tunnel table.
        string sockets = bed.Gateway.Exec("ss", "-uaneH").Stdout;
        scope.Log("gateway UDP sockets:\n" + sockets);
        foreach (var port in new[] { ":500 ", ":4500 " })
        {
            Assert.True(sockets.Split('\n').Any(l => l.Contains(NamespaceTestbed.GatewayOuter + port) && l.Contains("fwmark:0xdc")),
                $"the socket on {port.Trim()} carries no fwmark 0xdc");
        }
        string rules = bed.Gateway.Exec("ip", "-4", "rule", "show").Stdout;
        scope.Log("ip rule:\n" + rules);
        Assert.Contains($"220:\tnot from all fwmark 0xdc lookup {Table} suppress_prefixlength 0", rules);
        Assert.Contains("221:\tnot from all fwmark 0xdc lookup main suppress_prefixlength 0", rules);
        Assert.Contains($"222:\tnot from all fwmark 0xdc lookup {Table}", rules);

        // Traffic both ways through the tunnel: the peer's inner address to the LAN host and back, and the LAN host's own.
        var before = EspCounters.Read(bed.Gateway);
        var ping = await bed.Peer.ExecAsync(TimeSpan.FromSeconds(15), "ping", "-n", "-c", "5", "-i", "0.2", "-W", "2",
            "-I", NamespaceTestbed.PeerInner, NamespaceTestbed.LanHost);
        scope.Log("peer -> LAN: " + PingOutput.Summary(ping));
        Assert.True(ping.Ok, "ping from the peer's inner address to the LAN host failed: " + ping);
        var fromLan = await bed.Lan.ExecAsync(TimeSpan.FromSeconds(15), "ping", "-n", "-c", "5", "-i", "0.2", "-W", "2", NamespaceTestbed.PeerInner);
        scope.Log("LAN -> peer: " + PingOutput.Summary(fromLan));
        Assert.True(fromLan.Ok, "ping from the LAN host to the peer's inner address failed: " + fromLan);
        var after = EspCounters.Read(bed.Gateway);
        Assert.True(after["udp_esp_in"].Packets - before["udp_esp_in"].Packets >= 10, "the pings did not arrive as ESP");
        Assert.True(after["udp_esp_out"].Packets - before["udp_esp_out"].Packets >= 10, "the replies did not leave as ESP");

        // The gateway's own traffic to the peer's outer address stays out of the tunnel.
        var direct = await bed.Gateway.ExecAsync(TimeSpan.FromSeconds(10), "ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", bed.PeerOuter);
        var afterDirect = EspCounters.Read(bed.Gateway);
        Assert.True(direct.Ok, "plain ping from the gateway to the peer's outer address failed: " + direct);
        Assert.Equal(after["udp_esp_out"].Packets, afterDirect["udp_esp_out"].Packets);

        // The child ends: its routes leave the gateway's table, the main table is still what it was.
        var term = await peer.SwanctlAsync(["--terminate", "--ike", "gw", "--timeout", "10"]);
        Assert.True(term.Ok, "swanctl --terminate failed: " + term);
        Assert.True(await gateway.WaitForEventAsync(ConcentratorProcess.ChildSaRemoved, scope.Remaining(TimeSpan.FromSeconds(10))));
        string tableDown = await WaitAsync(() => TunnelTableAsync(bed.Gateway),
            t => !t.Contains("default") && !t.Contains("throw"), TimeSpan.FromSeconds(5));
        Assert.DoesNotContain("default", tableDown);
        Assert.DoesNotContain("throw", tableDown);
        Assert.Equal(mainBefore, MainTable(bed.Gateway));
        Assert.Empty(gateway.EventsWithId(RouteFailed));

        // Stopped, the concentrator takes its rules with it.
        await gateway.DisposeAsync();
        Assert.DoesNotContain($"lookup {Table}", bed.Gateway.Exec("ip", "-4", "rule", "show").Stdout);
        Assert.Equal(mainBefore, MainTable(bed.Gateway));
        scope.Passed();
    }

    [Fact(Timeout = 120_000)]
    [Trait("Category", "Root")]
    public async Task Nat_rebinding_moves_outbound_esp_to_the_new_mapping_before_any_rekey_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true) || !Have("conntrack")) return;
        await using var scope = InteropScope.Create(output, withNatRouter: true, budgetSeconds: 80);
        var bed = scope.Bed;
        var router = bed.Router!;

        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer"));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics());
        await peer.LoadAsync(SwanctlConf.Connection("gw", bed.PeerOuter, NamespaceTestbed.GatewayOuter, SwanctlConf.PeerId, SwanctlConf.GatewayId,
            Ike, "net", NamespaceTestbed.PeerInner + "/32", NamespaceTestbed.LanSubnet, Esp));
        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"),
            ConcentratorYaml.Responder(Ike, Esp), scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics());
        scope.AddDiagnostics("router conntrack", () => router.Exec("conntrack", "-L").Stdout);
        InstallPortCounters(bed.Gateway, bed.WorkDir);

        var init = await peer.InitiateAsync("gw", "net", timeoutSeconds: 20);
        Assert.True(init.Ok, "swanctl --initiate to the concentrator failed: " + init);
        var up = await peer.WaitInstalledAsync("gw", "net", scope.Remaining(TimeSpan.FromSeconds(10)));
        Assert.NotNull(up);
        string spiIn = up!.Value.Child.SpiIn, spiOut = up.Value.Child.SpiOut;
        var first = await Ping(bed, 3);
        Assert.True(first.Ok, "ping through the tunnel failed before the rebinding: " + first);
        var c0 = ReadPortCounters(bed.Gateway);
        scope.Log($"before the rebinding: ESP to the old mapping {c0["esp_old"]}, to the new range {c0["esp_new"]}");
        Assert.True(c0["esp_old"] >= 3);
        Assert.Equal(0, c0["esp_new"]);

        // The NAT forgets every mapping and from now on maps to ports 20000-20999 (a NAT reboot, or a mapping timeout).
        router.Exec("nft", "flush", "chain", "ip", "cit_nat", "postrouting");
        router.Exec("nft", "add", "rule", "ip", "cit_nat", "postrouting", "oifname", "r1", "meta", "l4proto", "udp", "masquerade", "to", ":20000-20999");
        router.Exec("nft", "add", "rule", "ip", "cit_nat", "postrouting", "oifname", "r1", "masquerade");
        router.Exec("conntrack", "-F");
        scope.Log("NAT mapping flushed; new mappings from ports 20000-20999");

        // The peer's traffic arrives from the new mapping; the gateway's answers must follow it (the first one may race
        // the update: the ESP that showed the new mapping is decrypted before the IKE SA has moved).
        var second = await Ping(bed, 5);
        var c1 = ReadPortCounters(bed.Gateway);
        scope.Log($"after the rebinding: {PingOutput.Summary(second)}; ESP to the old mapping {c1["esp_old"]}, to the new range {c1["esp_new"]}");
        Assert.True(PingOutput.Received(second) >= 4, "the gateway's ESP did not follow the peer's new mapping: " + second);
        Assert.True(c1["esp_new"] >= 4, $"only {c1["esp_new"]} ESP packets went to the new mapping");
        Assert.True(c1["esp_old"] - c0["esp_old"] <= 1, $"{c1["esp_old"] - c0["esp_old"]} ESP packets still went to the old mapping");

        // No rekey, no new SA: the same Child SA carries the traffic on both sides.
        var now = await peer.WaitInstalledAsync("gw", "net", TimeSpan.FromSeconds(5));
        Assert.NotNull(now);
        Assert.Equal((spiIn, spiOut), (now!.Value.Child.SpiIn, now.Value.Child.SpiOut));
        Assert.Single(gateway.EventsWithId(ConcentratorProcess.ChildSaInstalled));
        Assert.Contains(gateway.EventsWithId(PeerMoved), e => Regex.IsMatch(e.Message, @"10\.99\.1\.2:2\d{4}"));
        Assert.Equal(1, await GatewayMetrics.ReadAsync(bed.Gateway, "concentrator_ike_peer_moves_total", "trigger=\"esp\""));
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }

    // ------------------------------------------------------------------------------------------------
    // Helpers
    // ------------------------------------------------------------------------------------------------

    private const int RouteFailed = 3001;
    private const int PeerMoved = 1010;

    private bool Have(string tool)
    {
        if (Command.Exists(tool)) return true;
        string reason = $"{tool} missing (scripts/install-deps.sh)";
        if (InteropPrerequisites.InCi) Assert.Fail(reason);
        output.WriteLine("NOT RUN: " + reason);
        return false;
    }

    private static string MainTable(Netns ns) => ns.Exec("ip", "-4", "route", "show", "table", "main").Stdout;

    private static string RoutingState(Netns ns) =>
        string.Join("\n", new[] { "rule", "route show table main", $"route show table {Table}" }
            .Select(what => $"--- ip -4 {what}\n" + ns.ExecAsync(TimeSpan.FromSeconds(10), ["ip", "-4", .. what.Split(' ')]).GetAwaiter().GetResult()));

    private static Task<CommandResult> Ping(NamespaceTestbed bed, int count) =>
        bed.Peer.ExecAsync(TimeSpan.FromSeconds(count + 10),
            "ping", "-n", "-c", count.ToString(), "-i", "0.3", "-W", "2", "-I", NamespaceTestbed.PeerInner, NamespaceTestbed.LanHost);

    private static async Task<string> WaitAsync(Func<Task<string>> read, Func<string, bool> done, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        string value;
        while (!done(value = await read()) && clock.Elapsed < timeout) await Task.Delay(200);
        return value;
    }

    /// <summary>The tunnel table's routes; empty while the table does not exist (nothing was ever installed in it).</summary>
    private static async Task<string> TunnelTableAsync(Netns ns) =>
        (await ns.ExecAsync(TimeSpan.FromSeconds(10), "ip", "-4", "route", "show", "table", Table)).Stdout;

    /// <summary>Counters of the gateway's outbound ESP-in-UDP by destination port: the new NAT range, and anything else.</summary>
    private static void InstallPortCounters(Netns ns, string workDir)
    {
        string rules = """
            table inet cit_ports {
              counter esp_new { }
              counter esp_old { }
              chain output {
                type filter hook output priority 0; policy accept;
                udp sport 4500 udp dport 20000-20999 @th,64,32 != 0 counter name "esp_new"
                udp sport 4500 udp dport != 20000-20999 @th,64,32 != 0 counter name "esp_old"
              }
            }
            """;
        string file = Path.Combine(workDir, $"port-counters-{ns.Name}.nft");
        File.WriteAllText(file, rules + "\n");
        ns.Exec("nft", "-f", file);
    }

    private static IReadOnlyDictionary<string, long> ReadPortCounters(Netns ns)
    {
        var text = ns.Exec("nft", "list", "counters", "table", "inet", "cit_ports").Stdout;
        return CounterPattern().Matches(text).ToDictionary(m => m.Groups["name"].Value, m => long.Parse(m.Groups["packets"].Value));
    }

    [GeneratedRegex(@"counter (?<name>\w+) \{\s*packets (?<packets>\d+)")]
    private static partial Regex CounterPattern();
}
