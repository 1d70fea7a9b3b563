using System.Diagnostics;
using Concentrator.Testbed.Interop;
using Xunit.Abstractions;

namespace Concentrator.Tests.Interop;

/// <summary>
/// <c>Concentrator reload</c> against stock strongSwan (issue 16): one strongSwan with two connections, a (identity
/// a.peer.test, from the peer's inner address) and b (b.peer.test, from a second inner address). A 10 ms ping runs
/// through a's tunnel while a reload adds connection b to the concentrator's file, b connects, and a second reload removes
/// it again: a loses no ping, b's IKE SA is deleted with a DELETE strongSwan logs, and strongSwan lists no SA of b.
/// </summary>
[Collection(InteropCollection.Name)]
[Trait("Category", "Root")]
public sealed class ReloadInteropTests(ITestOutputHelper output)
{
    private const string PeerInnerB = "10.99.11.1";
    private const string IdA = "a.peer.test";
    private const string IdB = "b.peer.test";
    private const string Proposals = "aes256gcm16-prfsha256-ecp256";
    private const string Esp = "aes256gcm16";

    private static string GatewayConnection(string name, string remoteId, string remoteTs) => $$"""
          {{name}}:
            local_addrs: [{{NamespaceTestbed.GatewayOuter}}]
            proposals: [{{Proposals}}]
            local: { auth: psk, id: {{SwanctlConf.GatewayId}} }
            remote: { auth: psk, id: {{remoteId}} }
            children:
              net-{{name}}: { local_ts: [{{NamespaceTestbed.LanSubnet}}], remote_ts: [{{remoteTs}}], esp_proposals: [{{Esp}}] }

        """;

    private static string GatewayYaml(bool withB) => $$"""
        listen: { addresses: [{{NamespaceTestbed.GatewayOuter}}], ike_port: 500, natt_port: 4500 }
        http: { listen: "127.0.0.1:9400" }
        tunnel: { type: tun, device: ipsec0, mtu: 1400 }
        connections:
        {{GatewayConnection("a", IdA, NamespaceTestbed.PeerInnerSubnet)}}{{(withB ? GatewayConnection("b", IdB, "10.99.11.0/24") : "")}}
        secrets:
          ike-a: { id: [{{IdA}}, {{SwanctlConf.GatewayId}}], secret: "{{SwanctlConf.Psk}}" }
          ike-b: { id: [{{IdB}}, {{SwanctlConf.GatewayId}}], secret: "{{SwanctlConf.Psk}}-b" }
        """;

    private static string PeerConf(string peerOuter) =>
        SwanctlConf.Connections(
            SwanctlConf.ConnectionBlock("a", peerOuter, NamespaceTestbed.GatewayOuter, Proposals, $"auth = psk\nid = {IdA}",
                $"auth = psk\nid = {SwanctlConf.GatewayId}", "net-a", NamespaceTestbed.PeerInner + "/32", NamespaceTestbed.LanSubnet, Esp),
            SwanctlConf.ConnectionBlock("b", peerOuter, NamespaceTestbed.GatewayOuter, Proposals, $"auth = psk\nid = {IdB}",
                $"auth = psk\nid = {SwanctlConf.GatewayId}", "net-b", PeerInnerB + "/32", NamespaceTestbed.LanSubnet, Esp)) + $$"""
        secrets {
          ike-a {
            id-1 = {{IdA}}
            id-2 = {{SwanctlConf.GatewayId}}
            secret = "{{SwanctlConf.Psk}}"
          }
          ike-b {
            id-1 = {{IdB}}
            id-2 = {{SwanctlConf.GatewayId}}
            secret = "{{SwanctlConf.Psk}}-b"
          }
        }
        """;

    [Fact(Timeout = 180_000)]
    [Trait("Category", "Root")]
    public async Task Reload_adds_a_connection_under_traffic_without_loss_and_removing_it_deletes_the_peers_SA_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 150);
        var bed = scope.Bed;
        bed.Gateway.Sysctl("net.ipv6.conf.default.disable_ipv6", "1");
        bed.Peer.AddAddress("lo", PeerInnerB + "/32");

        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer"));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics(30000));
        await peer.LoadAsync(PeerConf(bed.PeerOuter));

        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"), GatewayYaml(withB: false),
            scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics(30000));

        Assert.True((await peer.InitiateAsync("a", "net-a", timeoutSeconds: 20)).Ok, "swanctl --initiate a failed");
        var a = await peer.WaitInstalledAsync("a", "net-a", scope.Remaining(TimeSpan.FromSeconds(10)));
        Assert.True(a is not null, "peer: a is not installed");
        // b is unknown to the gateway before the reload.
        Assert.False((await peer.InitiateAsync("b", "net-b", timeoutSeconds: 10)).Ok, "b connected before the reload added it");

        const int PingSeconds = 25;
        var clock = Stopwatch.StartNew();
        var ping = bed.Peer.ExecAsync(TimeSpan.FromSeconds(PingSeconds + 20),
            "ping", "-n", "-D", "-i", "0.01", "-w", PingSeconds.ToString(), "-I", NamespaceTestbed.PeerInner, NamespaceTestbed.LanHost);
        await Task.Delay(2000);

        await File.WriteAllTextAsync(gateway.ConfigPath, GatewayYaml(withB: true));
        var added = await Reload(bed);
        scope.Log($"t={clock.Elapsed.TotalSeconds:F1}s reload: {added.Stdout.Trim()}");
        Assert.True(added.Ok, "reload failed: " + added);
        Assert.Contains("connections added b", added.Stdout);

        Assert.True((await peer.InitiateAsync("b", "net-b", timeoutSeconds: 20)).Ok, "swanctl --initiate b failed after the reload");
        var b = await peer.WaitInstalledAsync("b", "net-b", scope.Remaining(TimeSpan.FromSeconds(10)));
        Assert.True(b is not null, "peer: b is not installed");
        scope.Log($"t={clock.Elapsed.TotalSeconds:F1}s b up: {b!.Value.Ike}");
        var pingB = await bed.Peer.ExecAsync(TimeSpan.FromSeconds(10), "ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", "-I", PeerInnerB, NamespaceTestbed.LanHost);
        Assert.True(pingB.Ok, "ping through b failed: " + pingB);

        await File.WriteAllTextAsync(gateway.ConfigPath, GatewayYaml(withB: false));
        var removed = await Reload(bed);
        scope.Log($"t={clock.Elapsed.TotalSeconds:F1}s reload: {removed.Stdout.Trim()}");
        Assert.True(removed.Ok, "reload failed: " + removed);
        Assert.Contains("connections removed b", removed.Stdout);
        Assert.Contains("deleting 1 IKE SA(s) of removed connections", removed.Stdout);

        var deadline = Stopwatch.StartNew();
        IReadOnlyList<IkeSaInfo> sas;
        do
        {
            sas = await peer.ListSasAsync();
            if (!sas.Any(s => s.Name == "b")) break;
            await Task.Delay(200);
        }
        while (deadline.Elapsed < TimeSpan.FromSeconds(10));
        Assert.DoesNotContain(sas, s => s.Name == "b");
        Assert.Contains("received DELETE for IKE_SA b", peer.Log());

        var pingResult = await ping;
        var stats = LifecycleInteropTests.PingStats.Parse(pingResult.Stdout);
        scope.Log($"ping through a: {stats.Transmitted} transmitted, {stats.Received} received, lost {stats.Lost.Count}" +
                  (stats.Lost.Count > 0 ? $" (icmp_seq {string.Join(",", stats.Lost.Take(50))})" : ""));
        Assert.True(stats.Transmitted > 200, $"ping sent only {stats.Transmitted}");
        Assert.Empty(stats.Lost);

        // a is the same IKE SA and child throughout.
        var after = await peer.WaitInstalledAsync("a", "net-a", TimeSpan.FromSeconds(2));
        Assert.True(after is not null, "a is gone");
        Assert.Equal(a!.Value.Child.SpiIn, after!.Value.Child.SpiIn);
        Assert.Equal(2, await GatewayMetrics.ReadAsync(bed.Gateway, "concentrator_config_reloads_total", "outcome=\"applied\""));
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }

    private static Task<CommandResult> Reload(NamespaceTestbed bed) =>
        bed.Gateway.ExecAsync(TimeSpan.FromSeconds(30), "dotnet", ConcentratorProcess.AssemblyPath, "reload", "--admin", "http://127.0.0.1:9400/");
}
