using System.Diagnostics;
using System.Text.RegularExpressions;
using Concentrator.Testbed.Interop;
using Xunit.Abstractions;

namespace Concentrator.Tests.Interop;

/// <summary>
/// IKEv1 (issue 19) end to end against stock strongSwan with <c>version = 1</c>: main mode with a PSK, then quick mode
/// (RFC 2409 §5.5) installs the Child SA that carries ping and TCP. charon's kernel-libipsec only does ESP in UDP, so its
/// connections say encap = yes: it fakes its NAT-D, phase 1 floats to 4500 and quick mode negotiates the
/// UDP-encapsulated tunnel mode (RFC 3947 §5).
/// </summary>
[Collection(InteropCollection.Name)]
[Trait("Category", "Root")]
public sealed class V1QuickModeInteropTests(ITestOutputHelper output)
{
    private const string Ike = "aes256-sha256-modp2048";
    private const long ShaBytes = 2L * 1024 * 1024;
    private const int QuickModeEstablished = 5120;

    private static string V1(string conf) => conf.Replace("version = 2", "version = 1").Replace("version: 2", "version: 1");

    /// <summary>The child's rekey_time in a <see cref="SwanctlConf.ConnectionBlock"/> (its IKE SA keeps rekey_time = 0).</summary>
    private static string ChildLifetimes(string conf, string lines) =>
        Regex.Replace(conf, @"(esp_proposals = [^\n]*\n\s*)rekey_time = 0", "$1" + lines);

    [Fact(Timeout = 120_000)]
    [Trait("Category", "Root")]
    public async Task StrongSwan_v1_initiator_main_mode_psk_and_quick_mode_carry_ping_and_tcp_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 100);
        var bed = scope.Bed;
        const string esp = "aes256-sha256";

        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer"));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics());
        await peer.LoadAsync(V1(SwanctlConf.Connection("gw", bed.PeerOuter, NamespaceTestbed.GatewayOuter, SwanctlConf.PeerId, SwanctlConf.GatewayId,
            Ike, "net", NamespaceTestbed.PeerInnerSubnet, NamespaceTestbed.LanSubnet, esp)));
        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"),
            V1(ConcentratorYaml.Connection(NamespaceTestbed.GatewayOuter, "%any", SwanctlConf.GatewayId, SwanctlConf.PeerId, Ike, esp,
                NamespaceTestbed.LanSubnet, NamespaceTestbed.PeerInnerSubnet)),
            scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics());

        var init = await peer.InitiateAsync("gw", "net", timeoutSeconds: 30);
        Assert.True(init.Ok, "swanctl --initiate (IKEv1) to the concentrator failed: " + init);
        var onPeer = await peer.WaitInstalledAsync("gw", "net", scope.Remaining(TimeSpan.FromSeconds(10)));
        Assert.True(onPeer is not null, "peer: no ESTABLISHED IKEv1 SA with an INSTALLED child");
        var (ike, child) = onPeer!.Value;
        scope.Log($"peer: {ike} / {child}");
        Assert.Equal("1", ike.Get("version"));
        Assert.Equal("yes", child.Get("encap"));
        Assert.Equal("TUNNEL", child.Get("mode"));
        Assert.Equal("AES_CBC", child.Get("encr-alg"));
        Assert.Equal("HMAC_SHA2_256_128", child.Get("integ-alg"));

        Assert.True(await gateway.WaitForEventAsync(ConcentratorProcess.ChildSaInstalled, scope.Remaining(TimeSpan.FromSeconds(5))),
            "the concentrator did not log Child SA installed (1003)");
        var (spiIn, spiOut) = ConcentratorYaml.SpisOf(Assert.Single(gateway.EventsWithId(ConcentratorProcess.ChildSaInstalled)).Message);
        // The same SA seen from both ends: charon's inbound SPI is our outbound one and the reverse.
        Assert.Equal(Underlay.NormalizeSpi(child.SpiIn), spiOut);
        Assert.Equal(Underlay.NormalizeSpi(child.SpiOut), spiIn);
        scope.Log("quick mode: " + Assert.Single(gateway.EventsWithId(QuickModeEstablished)).Message);

        var ping = await bed.Peer.ExecAsync(scope.Remaining(TimeSpan.FromSeconds(15)),
            "ping", "-n", "-c", "5", "-i", "0.2", "-W", "2", "-I", NamespaceTestbed.PeerInner, NamespaceTestbed.LanHost);
        scope.Log("ping peer inner -> LAN: " + PingOutput.Summary(ping));
        Assert.True(ping.Ok, "ping through the IKEv1 tunnel failed: " + ping);
        var back = await bed.Lan.ExecAsync(scope.Remaining(TimeSpan.FromSeconds(15)),
            "ping", "-n", "-c", "5", "-i", "0.2", "-W", "2", NamespaceTestbed.PeerInner);
        scope.Log("ping LAN -> peer inner: " + PingOutput.Summary(back));
        Assert.True(back.Ok, "ping LAN -> peer through the IKEv1 tunnel failed: " + back);

        // SHA-256-verified TCP streams both ways (peer -> LAN: we decrypt; LAN -> peer: we encrypt).
        var up = await TcpTransfer.Sha256StreamAsync(bed.Lan, NamespaceTestbed.LanHost, bed.Peer, NamespaceTestbed.PeerInner, ShaBytes, bed.WorkDir,
            scope.Remaining(TimeSpan.FromSeconds(30)));
        scope.Log($"sha256 stream peer -> LAN: sent {up.Sent} B, received {up.Received} B");
        Assert.Equal(ShaBytes, up.Received);
        Assert.Equal(up.SentHash, up.ReceivedHash);
        var down = await TcpTransfer.Sha256StreamAsync(bed.Peer, NamespaceTestbed.PeerInner, bed.Lan, NamespaceTestbed.LanHost, ShaBytes, bed.WorkDir,
            scope.Remaining(TimeSpan.FromSeconds(30)));
        scope.Log($"sha256 stream LAN -> peer: sent {down.Sent} B, received {down.Received} B");
        Assert.Equal(ShaBytes, down.Received);
        Assert.Equal(down.SentHash, down.ReceivedHash);

        var after = (await peer.WaitInstalledAsync("gw", "net", TimeSpan.FromSeconds(5)))!.Value.Child;
        scope.Log("peer child after traffic: " + after);
        Assert.True(long.Parse(after.Get("bytes-in")) >= ShaBytes, "charon's inbound SA did not carry the LAN -> peer stream");
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }

    [Fact(Timeout = 120_000)]
    [Trait("Category", "Root")]
    public async Task Concentrator_v1_initiator_with_pfs_brings_up_a_tunnel_to_StrongSwan_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 90);
        var bed = scope.Bed;
        const string esp = "aes128gcm16-modp2048";

        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer"));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics());
        await peer.LoadAsync(V1(SwanctlConf.Connection("gw", bed.PeerOuter, "%any", SwanctlConf.PeerId, SwanctlConf.GatewayId,
            Ike, "net", NamespaceTestbed.PeerInnerSubnet, NamespaceTestbed.LanSubnet, esp)));
        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"),
            V1(ConcentratorYaml.Connection(NamespaceTestbed.GatewayOuter, bed.PeerOuter, SwanctlConf.GatewayId, SwanctlConf.PeerId, Ike, esp,
                NamespaceTestbed.LanSubnet, NamespaceTestbed.PeerInnerSubnet, startAction: "start", name: "site", encap: true)),
            scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics());

        var onPeer = await peer.WaitInstalledAsync("gw", "net", scope.Remaining(TimeSpan.FromSeconds(30)));
        Assert.True(onPeer is not null, "peer (responder): no ESTABLISHED IKEv1 SA with an INSTALLED child");
        var (ike, child) = onPeer!.Value;
        scope.Log($"peer: {ike} / {child}");
        Assert.Equal("1", ike.Get("version"));
        Assert.NotEqual("yes", ike.Get("initiator"));
        Assert.Equal("MODP_2048", child.Get("dh-group"));
        Assert.Equal("AES_GCM_16", child.Get("encr-alg"));

        Assert.True(await gateway.WaitForEventAsync(ConcentratorProcess.ChildSaInstalled, scope.Remaining(TimeSpan.FromSeconds(5))),
            "the concentrator did not log Child SA installed (1003)");
        var (spiIn, spiOut) = ConcentratorYaml.SpisOf(Assert.Single(gateway.EventsWithId(ConcentratorProcess.ChildSaInstalled)).Message);
        Assert.Equal(Underlay.NormalizeSpi(child.SpiIn), spiOut);
        Assert.Equal(Underlay.NormalizeSpi(child.SpiOut), spiIn);

        var ping = await bed.Lan.ExecAsync(scope.Remaining(TimeSpan.FromSeconds(15)),
            "ping", "-n", "-c", "5", "-i", "0.2", "-W", "2", NamespaceTestbed.PeerInner);
        scope.Log("ping LAN -> peer inner: " + PingOutput.Summary(ping));
        Assert.True(ping.Ok, "ping through the IKEv1 tunnel we initiated failed: " + ping);
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }

    /// <summary>
    /// Phase 2 rekeyed by strongSwan (child rekey_time 20 s, life_time 30 s, PFS) under a 10 ms ping: a second quick mode
    /// with the same IDs; our responder installs the new inbound SA before its message 2 leaves and switches outbound on
    /// HASH(3); the old SA goes with charon's Delete. Zero loss, and new SPIs on both sides.
    /// </summary>
    [Fact(Timeout = 150_000)]
    [Trait("Category", "Root")]
    public async Task Phase2_rekeyed_by_StrongSwan_under_a_10ms_ping_loses_nothing_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        const int soak = 50;
        await using var scope = InteropScope.Create(output, budgetSeconds: soak + 70);
        var bed = scope.Bed;
        bed.Gateway.Sysctl("net.ipv6.conf.default.disable_ipv6", "1");
        const string esp = "aes256-sha256-modp2048";

        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer"));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics(30000));
        await peer.LoadAsync(ChildLifetimes(V1(SwanctlConf.Connection("gw", bed.PeerOuter, NamespaceTestbed.GatewayOuter, SwanctlConf.PeerId,
            SwanctlConf.GatewayId, Ike, "net", NamespaceTestbed.PeerInnerSubnet, NamespaceTestbed.LanSubnet, esp)),
            "rekey_time = 20s\n                life_time = 30s\n                rand_time = 0"));
        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"),
            V1(ConcentratorYaml.Connection(NamespaceTestbed.GatewayOuter, "%any", SwanctlConf.GatewayId, SwanctlConf.PeerId, Ike, esp,
                NamespaceTestbed.LanSubnet, NamespaceTestbed.PeerInnerSubnet)),
            scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics(30000));

        var init = await peer.InitiateAsync("gw", "net", timeoutSeconds: 30);
        Assert.True(init.Ok, "swanctl --initiate (IKEv1) failed: " + init);
        var first = await peer.WaitInstalledAsync("gw", "net", scope.Remaining(TimeSpan.FromSeconds(10)));
        Assert.True(first is not null, "peer: no INSTALLED IKEv1 child");
        string firstSpi = first!.Value.Child.SpiIn;
        scope.Log("first child on the peer: " + first.Value.Child);

        var (stats, seen) = await PingWhileWatchingChildrenAsync(scope, peer, soak, firstSpi);
        var installed = gateway.EventsWithId(ConcentratorProcess.ChildSaInstalled).Select(e => ConcentratorYaml.SpisOf(e.Message)).ToList();
        foreach (var e in gateway.EventsWithId(QuickModeEstablished)) scope.Log("quick mode: " + e.Message);
        var removed = gateway.EventsWithId(ConcentratorProcess.ChildSaRemoved);
        foreach (var e in removed) scope.Log("removed: " + e.Message);
        string charonLog = peer.Log();
        int quickModes = Regex.Matches(charonLog, @"generating QUICK_MODE request \d+ \[ HASH SA No KE ID ID \]").Count;
        foreach (Match m in Regex.Matches(charonLog, @"[^\n]*(DELETE|rekey|CHILD_SA net\{\d+\} established)[^\n]*")) scope.Log("charon: " + m.Value);
        scope.Log($"charon quick mode requests with PFS: {quickModes}; child SPIs seen on the peer: {string.Join(",", seen)}; ours: " +
                  string.Join(" ", installed.Select(s => s.In + "/" + s.Out)));

        Assert.True(stats.Transmitted >= soak * 20, $"ping sent only {stats.Transmitted} requests");
        Assert.True(stats.Lost.Count == 0, $"ping lost {stats.Lost.Count} of {stats.Transmitted} across the phase 2 rekeys");
        Assert.True(seen.Count >= 2, "the peer never showed a rekeyed child (new inbound SPI)");
        Assert.True(quickModes >= 2, $"charon sent {quickModes} quick mode requests with KE, expected the first and at least one rekey");
        // The replaced SAs leave our data plane (charon's Delete, or the lifetime both ends agreed: 30 s).
        Assert.NotEmpty(removed);
        Assert.True(installed.Count >= 2, "the concentrator installed no second Child SA");
        Assert.Equal(installed.Count, installed.Select(s => s.In).Distinct().Count());
        Assert.Equal(installed.Count, installed.Select(s => s.Out).Distinct().Count());
        // Every SPI pair charon showed is one we installed (its inbound is our outbound).
        foreach (var spi in seen) Assert.Contains(installed, s => s.Out == Underlay.NormalizeSpi(spi));
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }

    /// <summary>
    /// Phase 2 rekeyed by the concentrator (child rekey_time 15 s, life_time 25 s) under a 10 ms ping: our quick mode
    /// with the IDs of the SA it replaces, the new SA installed before HASH(3) leaves, then our Delete for the old one.
    /// </summary>
    [Fact(Timeout = 150_000)]
    [Trait("Category", "Root")]
    public async Task Phase2_rekeyed_by_the_concentrator_under_a_10ms_ping_loses_nothing_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        const int soak = 45;
        await using var scope = InteropScope.Create(output, budgetSeconds: soak + 70);
        var bed = scope.Bed;
        bed.Gateway.Sysctl("net.ipv6.conf.default.disable_ipv6", "1");
        const string esp = "aes128gcm16-modp2048";

        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer"));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics(30000));
        await peer.LoadAsync(V1(SwanctlConf.Connection("gw", bed.PeerOuter, NamespaceTestbed.GatewayOuter, SwanctlConf.PeerId,
            SwanctlConf.GatewayId, Ike, "net", NamespaceTestbed.PeerInnerSubnet, NamespaceTestbed.LanSubnet, esp)));
        var yaml = Regex.Replace(V1(ConcentratorYaml.Connection(NamespaceTestbed.GatewayOuter, "%any", SwanctlConf.GatewayId, SwanctlConf.PeerId, Ike,
            esp, NamespaceTestbed.LanSubnet, NamespaceTestbed.PeerInnerSubnet)), @"\n(\s*)mode: tunnel", "\n$1mode: tunnel\n$1rekey_time: 15s\n$1life_time: 25s");
        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"), yaml, scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics(30000));

        var init = await peer.InitiateAsync("gw", "net", timeoutSeconds: 30);
        Assert.True(init.Ok, "swanctl --initiate (IKEv1) failed: " + init);
        var first = await peer.WaitInstalledAsync("gw", "net", scope.Remaining(TimeSpan.FromSeconds(10)));
        Assert.True(first is not null, "peer: no INSTALLED IKEv1 child");
        var (stats, seen) = await PingWhileWatchingChildrenAsync(scope, peer, soak, first!.Value.Child.SpiIn);
        var installed = gateway.EventsWithId(ConcentratorProcess.ChildSaInstalled).Select(e => ConcentratorYaml.SpisOf(e.Message)).ToList();
        foreach (var e in gateway.EventsWithId(QuickModeEstablished)) scope.Log("quick mode: " + e.Message);
        string charonLog = peer.Log();
        int deletes = Regex.Matches(charonLog, @"received DELETE for ESP CHILD_SA").Count;
        foreach (Match m in Regex.Matches(charonLog, @"[^\n]*(DELETE|rekey|CHILD_SA net\{\d+\} established)[^\n]*")) scope.Log("charon: " + m.Value);

        Assert.True(stats.Transmitted >= soak * 20, $"ping sent only {stats.Transmitted} requests");
        Assert.True(stats.Lost.Count == 0, $"ping lost {stats.Lost.Count} of {stats.Transmitted} across our phase 2 rekeys");
        Assert.True(seen.Count >= 2, "the peer never showed a rekeyed child (new inbound SPI)");
        Assert.True(installed.Count >= 2, "the concentrator installed no second Child SA");
        Assert.Contains(gateway.EventsWithId(QuickModeEstablished), e => e.Message.Contains("as initiator") && e.Message.Contains(", rekeys "));
        Assert.True(deletes >= 1, "charon received no Delete for the rekeyed ESP SA");
        foreach (var spi in seen) Assert.Contains(installed, s => s.Out == Underlay.NormalizeSpi(spi));
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }

    /// <summary>
    /// A 10 ms ping from the peer's inner address to the LAN host for <paramref name="soak"/> seconds (bounded by time:
    /// on two shared cores ping -i 0.01 manages 60-100 a second) while charon's INSTALLED children are listed once a
    /// second; returns ping's outcome and every inbound SPI charon showed, the first one given.
    /// </summary>
    private static async Task<(LifecycleInteropTests.PingStats Stats, List<string> Seen)> PingWhileWatchingChildrenAsync(InteropScope scope,
        StrongSwan peer, int soak, string firstSpi)
    {
        var bed = scope.Bed;
        var clock = Stopwatch.StartNew();
        var ping = bed.Peer.ExecAsync(TimeSpan.FromSeconds(soak + 20),
            "ping", "-n", "-D", "-i", "0.01", "-w", soak.ToString(), "-I", NamespaceTestbed.PeerInner, NamespaceTestbed.LanHost);
        var seen = new List<string> { firstSpi };
        while (!ping.IsCompleted && clock.Elapsed < TimeSpan.FromSeconds(soak + 25))
        {
            foreach (var sa in await peer.ListSasAsync())
            {
                foreach (var c in sa.Children.Where(c => c.Name == "net" && c.State == "INSTALLED" && !seen.Contains(c.SpiIn)))
                {
                    seen.Add(c.SpiIn);
                    scope.Log($"t={clock.Elapsed.TotalSeconds:F1}s new child on the peer: {c}");
                }
            }
            await Task.WhenAny(ping, Task.Delay(1000));
        }
        var stats = LifecycleInteropTests.PingStats.Parse((await ping).Stdout);
        scope.Log($"ping: {stats.Transmitted} transmitted, {stats.Received} received, lost {stats.Lost.Count}" +
                  (stats.Lost.Count > 0 ? $" (icmp_seq {string.Join(",", stats.Lost.Take(50))})" : ""));
        return (stats, seen);
    }
}
