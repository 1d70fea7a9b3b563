using Concentrator.Testbed.Interop;
using Xunit.Abstractions;

namespace Concentrator.Tests.Interop;


/// <summary>
/// strongSwan against strongSwan on the testbed: proves the harness (namespaces, charon per namespace,
/// libipsec, swanctl parsing, captures) and is the baseline the concentrator is measured against.
/// </summary>
[Collection(InteropCollection.Name)]
[Trait("Category", "Root")]
public sealed class StrongSwanBaselineTests(ITestOutputHelper output)
{
    [Fact(Timeout = 90_000)]
    [Trait("Category", "Root")]
    public async Task StrongSwan_to_strongSwan_libipsec_Root()
    {
        if (!InteropPrerequisites.Check(output)) return;
        await using var scope = InteropScope.Create(output);
        var bed = scope.Bed;

        var gw = scope.Own(await StrongSwan.StartAsync(bed.Gateway, bed.Dir("charon-gw"), "gateway"));
        scope.AddDiagnostics("charon gateway", () => gw.Diagnostics());
        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer"));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics());
        scope.Log("both charons answer on vici");

        await gw.LoadAsync(SwanctlConf.Connection("peer", NamespaceTestbed.GatewayOuter, "%any", SwanctlConf.GatewayId, SwanctlConf.PeerId,
            "aes256gcm16-prfsha256-ecp256", "net", NamespaceTestbed.LanSubnet, NamespaceTestbed.PeerInnerSubnet, "aes256gcm16"));
        await peer.LoadAsync(SwanctlConf.Connection("gw", bed.PeerOuter, NamespaceTestbed.GatewayOuter, SwanctlConf.PeerId, SwanctlConf.GatewayId,
            "aes256gcm16-prfsha256-ecp256", "net", NamespaceTestbed.PeerInner + "/32", NamespaceTestbed.LanSubnet, "aes256gcm16"));
        Underlay.InstallEspCounters(bed.Gateway, bed.WorkDir);

        var init = await peer.InitiateAsync("gw", "net", timeoutSeconds: 20);
        scope.Log($"initiate: exit {init.ExitCode}");
        Assert.True(init.Ok, "swanctl --initiate failed: " + init);

        var onPeer = await peer.WaitInstalledAsync("gw", "net", scope.Remaining(TimeSpan.FromSeconds(10)));
        var onGw = await gw.WaitInstalledAsync("peer", "net", scope.Remaining(TimeSpan.FromSeconds(10)));
        Assert.True(onPeer is not null, "peer: no ESTABLISHED IKE SA with an INSTALLED child");
        Assert.True(onGw is not null, "gateway: no ESTABLISHED IKE SA with an INSTALLED child");
        scope.Log("peer:    " + onPeer!.Value.Ike);
        scope.Log("gateway: " + onGw!.Value.Ike);
        Assert.Equal("AES_GCM_16", onPeer.Value.Ike.Get("encr-alg"));
        Assert.Equal("256", onPeer.Value.Ike.Get("encr-keysize"));
        Assert.Equal("ECP_256", onPeer.Value.Ike.Get("dh-group"));
        Assert.Equal("yes", onPeer.Value.Child.Get("encap"));
        Assert.Equal(onPeer.Value.Child.SpiOut, onGw.Value.Child.SpiIn);
        Assert.Equal(onPeer.Value.Child.SpiIn, onGw.Value.Child.SpiOut);

        // Ping from the peer's inner address to the LAN host: only the tunnel routes between them.
        await using var capture = await Underlay.Capture.StartAsync(bed.Gateway, NamespaceTestbed.GatewayOuterDevice, bed.WorkDir, seconds: 10, maxPackets: 6);
        var ping = await bed.Peer.ExecAsync(TimeSpan.FromSeconds(15),
            "ping", "-n", "-c", "3", "-i", "0.3", "-W", "2", "-I", NamespaceTestbed.PeerInner, NamespaceTestbed.LanHost);
        scope.Log("ping: " + ping.Stdout.Split('\n').FirstOrDefault(l => l.Contains("received")));
        Assert.True(ping.Ok, "ping through the tunnel failed: " + ping);

        var lines = await capture.FinishAsync(scope.Remaining(TimeSpan.FromSeconds(2)));
        foreach (var l in lines) scope.Log("capture: " + l);
        var spis = Underlay.Capture.Spis(lines);
        Assert.Contains(Underlay.NormalizeSpi(onGw.Value.Child.SpiIn), spis);
        Assert.Contains(Underlay.NormalizeSpi(onGw.Value.Child.SpiOut), spis);

        var counters = Underlay.ReadCounters(bed.Gateway);
        scope.Log("gateway underlay counters: " + string.Join(", ", counters.Select(kv => $"{kv.Key}={kv.Value}")));
        Assert.True(counters.GetValueOrDefault("esp_in") >= 3, "fewer than 3 ESP-in-UDP packets reached the gateway");
        Assert.True(counters.GetValueOrDefault("esp_out") >= 3, "fewer than 3 ESP-in-UDP packets left the gateway");

        var after = await gw.WaitInstalledAsync("peer", "net", TimeSpan.FromSeconds(5));
        scope.Log("gateway child after ping: " + after!.Value.Child);
        Assert.True(after.Value.Child.Number("packets-in") >= 3, "gateway's child SA counted fewer than 3 inbound packets");
        Assert.True(after.Value.Child.Number("packets-out") >= 3, "gateway's child SA counted fewer than 3 outbound packets");
        scope.Passed();
    }

    /// <summary>The same tunnel through a masquerading router: real NAT, detected by both charons.</summary>
    [Fact(Timeout = 90_000)]
    [Trait("Category", "Root")]
    public async Task StrongSwan_to_strongSwan_behind_nat_Root()
    {
        if (!InteropPrerequisites.Check(output)) return;
        await using var scope = InteropScope.Create(output, withNatRouter: true);
        var bed = scope.Bed;

        var gw = scope.Own(await StrongSwan.StartAsync(bed.Gateway, bed.Dir("charon-gw"), "gateway"));
        scope.AddDiagnostics("charon gateway", () => gw.Diagnostics());
        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer"));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics());

        await gw.LoadAsync(SwanctlConf.Connection("peer", NamespaceTestbed.GatewayOuter, "%any", SwanctlConf.GatewayId, SwanctlConf.PeerId,
            "aes256gcm16-prfsha256-ecp256", "net", NamespaceTestbed.LanSubnet, NamespaceTestbed.PeerInnerSubnet, "aes256gcm16"));
        await peer.LoadAsync(SwanctlConf.Connection("gw", bed.PeerOuter, NamespaceTestbed.GatewayOuter, SwanctlConf.PeerId, SwanctlConf.GatewayId,
            "aes256gcm16-prfsha256-ecp256", "net", NamespaceTestbed.PeerInner + "/32", NamespaceTestbed.LanSubnet, "aes256gcm16"));

        var init = await peer.InitiateAsync("gw", "net", timeoutSeconds: 20);
        Assert.True(init.Ok, "swanctl --initiate failed: " + init);
        var onGw = await gw.WaitInstalledAsync("peer", "net", scope.Remaining(TimeSpan.FromSeconds(10)));
        Assert.True(onGw is not null, "gateway: no ESTABLISHED IKE SA with an INSTALLED child");
        scope.Log("gateway: " + onGw!.Value.Ike);
        Assert.Equal(bed.PeerSeenByGateway, onGw.Value.Ike.Get("remote-host"));
        Assert.Equal("yes", onGw.Value.Ike.Get("nat-remote"));

        var ping = await bed.Peer.ExecAsync(TimeSpan.FromSeconds(15),
            "ping", "-n", "-c", "3", "-i", "0.3", "-W", "2", "-I", NamespaceTestbed.PeerInner, NamespaceTestbed.LanHost);
        Assert.True(ping.Ok, "ping through the NATed tunnel failed: " + ping);
        scope.Passed();
    }
}
