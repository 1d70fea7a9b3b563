using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Concentrator.Testbed.Interop;
using Xunit.Abstractions;

namespace Concentrator.Tests.Interop;


/// <summary>
/// SA lifecycle against strongSwan (peer namespace, libipsec, encap = yes) with the built concentrator in
/// the gateway namespace: the 90 s soak of Child and IKE SA rekeys under traffic initiated by each side, byte-based
/// rekeys, two children on one IKE SA, dead peer detection (clear as responder, restart as initiator).
/// </summary>
[Collection(InteropCollection.Name)]
[Trait("Category", "Root")]
public sealed partial class LifecycleInteropTests(ITestOutputHelper output)
{
    /// <summary>Second LAN subnet (test of two children): an extra address on the LAN host, routed by the gateway.</summary>
    private const string LanHost2 = "10.99.4.2";
    private const string LanSubnet2 = "10.99.4.0/24";

    /// <summary>Soak length of the rekey test in seconds: the issue's 90 by default (CONCENTRATOR_SOAK_SECONDS shortens
    /// it for local runs, 30..150).</summary>
    private static int SoakSeconds =>
        int.TryParse(Environment.GetEnvironmentVariable("CONCENTRATOR_SOAK_SECONDS"), out var s) ? Math.Clamp(s, 30, 150) : 90;

    /// <summary>
    /// A short retransmission budget for the DPD tests (strongswan.conf names): sends at 0, 1, 2.4 and 4.36 s, the
    /// peer is declared dead at ≈ 7.1 s after the probe (strongSwan's defaults would take ≈ 165 s).
    /// </summary>
    private const string ShortRetransmit = "{ retransmit_timeout: 1, retransmit_base: 1.4, retransmit_tries: 3 }";

    /// <summary>Seconds from the first DPD probe to giving up with <see cref="ShortRetransmit"/>: 1 + 1.4 + 1.96 + 2.744.</summary>
    private const double ShortBudgetSeconds = 7.104;

    // ------------------------------------------------------------------------------------------------
    // 1. The issue's soak: Child and IKE SA rekeys under traffic, initiated by both sides, zero ping loss.
    // ------------------------------------------------------------------------------------------------

    /// <summary>
    /// The concentrator has the issue's lifetimes: child rekey_time 10 s (rand_time 1 s, life_time 20 s), IKE rekey_time
    /// 25 s (rand_time 1 s). strongSwan's own timers are longer (child 12 s, IKE 40 s): with fixed lifetimes the shorter
    /// one always fires first (both restart with every new SA), so strongSwan's turns are triggered with swanctl:
    /// <c>--rekey --child</c> at 5 s and then every 15 s, <c>--rekey --ike</c> at 12 s and 47 s; the concentrator's timers
    /// take the slots between. Meanwhile ping -i 0.01 and an iperf3 TCP stream run through the tunnel for the whole soak
    /// (90 s by default). The child moves to every new IKE SA; the old SPIs are gone on both sides at the end.
    /// </summary>
    [Fact(Timeout = 360_000)]
    [Trait("Category", "Root")]
    public async Task Child_and_ike_rekeys_under_traffic_initiated_by_both_sides_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true) || !HaveIperf()) return;
        int soak = SoakSeconds;
        await using var scope = InteropScope.Create(output, budgetSeconds: soak + 80);
        var bed = scope.Bed;

        // IPv4-only testbed: without this the kernel's IPv6 router solicitations and MLD reports on the
        // concentrator's TUN device count as no_sa drops, which must stay 0 here.
        bed.Gateway.Sysctl("net.ipv6.conf.default.disable_ipv6", "1");
        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer"));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics(30000));
        await peer.LoadAsync(PeerConf(bed.PeerOuter, ikeRekey: "40s",
            new PeerChild("net", NamespaceTestbed.LanSubnet, "aes256gcm16-ecp256", RekeyTime: "12s", RandTime: "1s", LifeTime: "30s")));

        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"),
            GatewayYaml(children: [new GwChild("net", NamespaceTestbed.LanSubnet, "aes256gcm16-ecp256", "rekey_time: 10s, rand_time: 1s, life_time: 20s")],
                connectionExtra: "rekey_time: 25s, rand_time: 1s"),
            scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics(30000));

        var init = await peer.InitiateAsync("gw", "net", timeoutSeconds: 20);
        Assert.True(init.Ok, "swanctl --initiate to the concentrator failed: " + init);
        var first = await peer.WaitInstalledAsync("gw", "net", scope.Remaining(TimeSpan.FromSeconds(10)));
        Assert.True(first is not null, "peer: no ESTABLISHED IKE SA with an INSTALLED child");
        string firstIkeSpi = first!.Value.Ike.Get("initiator-spi") + first.Value.Ike.Get("responder-spi");
        scope.Log("established: " + first.Value.Ike);

        await using var iperfServer = await IperfServer.StartAsync(bed.Lan, NamespaceTestbed.LanHost, bed.WorkDir);
        // Drops before the soak (e.g. IPv6 router solicitations the kernel sends on the TUN device) are not the rekeys' fault.
        double noSaBefore = MetricValue(await ScrapeAsync(bed.Gateway, "metrics"), "concentrator_esp_dropped_packets_total", ("reason", "no_sa"));
        // Bounded by time (-w), not count: on two shared cores ping -i 0.01 manages 60-100 packets a second.
        var clock = Stopwatch.StartNew();
        var ping = bed.Peer.ExecAsync(TimeSpan.FromSeconds(soak + 20),
            "ping", "-n", "-D", "-i", "0.01", "-w", soak.ToString(), "-I", NamespaceTestbed.PeerInner, NamespaceTestbed.LanHost);
        var iperf = bed.Peer.ExecAsync(TimeSpan.FromSeconds(soak + 30),
            "iperf3", "-c", NamespaceTestbed.LanHost, "-B", NamespaceTestbed.PeerInner, "-t", (soak - 5).ToString(), "-b", "10M", "-J", "--connect-timeout", "3000");

        // Watch SPIs once a second and trigger strongSwan's rekeys on schedule.
        var spisSeen = new List<string>();
        var ikeSpis = new List<string> { firstIkeSpi };
        double nextChild = 5;
        var ikeForces = new Queue<double>([12, 47]);
        while (!ping.IsCompleted && clock.Elapsed < TimeSpan.FromSeconds(soak + 35))
        {
            double t = clock.Elapsed.TotalSeconds;
            if (t >= nextChild && t < soak - 3)
            {
                var r = await peer.SwanctlAsync(["--rekey", "--child", "net"]);
                scope.Log($"t={t:F1}s swanctl --rekey --child net -> exit {r.ExitCode}");
                nextChild += 15;
            }
            if (ikeForces.TryPeek(out var at) && t >= at && t < soak - 3)
            {
                ikeForces.Dequeue();
                var r = await peer.SwanctlAsync(["--rekey", "--ike", "gw"]);
                scope.Log($"t={t:F1}s swanctl --rekey --ike gw -> exit {r.ExitCode}");
            }
            foreach (var sa in await peer.ListSasAsync())
            {
                string ikeSpi = sa.Get("initiator-spi") + sa.Get("responder-spi");
                if (sa.State == "ESTABLISHED" && !ikeSpis.Contains(ikeSpi))
                {
                    ikeSpis.Add(ikeSpi);
                    scope.Log($"t={clock.Elapsed.TotalSeconds:F1}s new IKE SA on the peer: {sa}");
                }
                foreach (var c in sa.Children.Where(c => c.Name == "net" && c.State == "INSTALLED"))
                {
                    if (!spisSeen.Contains(c.SpiIn))
                    {
                        spisSeen.Add(c.SpiIn);
                        scope.Log($"t={clock.Elapsed.TotalSeconds:F1}s new child on the peer: {c}");
                    }
                }
            }
            await Task.WhenAny(ping, Task.Delay(1000));
        }

        var pingResult = await ping;
        var iperfResult = await iperf;
        var stats = PingStats.Parse(pingResult.Stdout);
        scope.Log($"ping: {stats.Transmitted} transmitted, {stats.Received} received, lost {stats.Lost.Count}, " +
                  $"in flight at the -w deadline {stats.InFlightAtEnd}" +
                  (stats.Lost.Count > 0 ? $" (icmp_seq {string.Join(",", stats.Lost.Take(50))})" : ""));
        long iperfBytes = await iperfServer.ReceivedBytesAsync();
        scope.Log($"iperf3: exit {iperfResult.ExitCode}, {IperfBytes(iperfResult.Stdout, "sum_sent")} bytes sent, {iperfBytes} received by the LAN host");

        // Rekeys on both sides. strongSwan logs every CREATE_CHILD_SA: "generating ... request" (it initiates)
        // and "parsed ... request" (the concentrator initiates); N(REKEY_SA) marks a child rekey, [ SA No KE ] an IKE rekey.
        // The timers keep running after the soak: a rekey in flight while the log is read and /metrics is scraped
        // shows in one and not yet the other. Read both until they describe the same moment (bounded); the exact
        // equality below is still asserted on that snapshot.
        string charonLog, metrics;
        int peerChild, gatewayChild, peerIke, gatewayIke;
        double childOk, childFail, ikeOk, ikeFail;
        var snapshot = Stopwatch.StartNew();
        while (true)
        {
            charonLog = peer.Log();
            peerChild = RekeyRequests(charonLog, "generating");
            gatewayChild = RekeyRequests(charonLog, "parsed");
            peerIke = IkeRekeyRequests(charonLog, "generating");
            gatewayIke = IkeRekeyRequests(charonLog, "parsed");
            metrics = await ScrapeAsync(bed.Gateway, "metrics");
            childOk = MetricValue(metrics, "concentrator_rekeys_total", ("kind", "child"), ("outcome", "success"));
            childFail = MetricValue(metrics, "concentrator_rekeys_total", ("kind", "child"), ("outcome", "failure"));
            ikeOk = MetricValue(metrics, "concentrator_rekeys_total", ("kind", "ike"), ("outcome", "success"));
            ikeFail = MetricValue(metrics, "concentrator_rekeys_total", ("kind", "ike"), ("outcome", "failure"));
            bool consistent = (int)childOk == peerChild + gatewayChild && (int)ikeOk == peerIke + gatewayIke;
            if (consistent || snapshot.Elapsed > TimeSpan.FromSeconds(8)) break;
            scope.Log($"log and metrics disagree (child {peerChild}+{gatewayChild} vs {childOk}, ike {peerIke}+{gatewayIke} vs {ikeOk}): reading again");
            await Task.Delay(300);
        }
        double noSaDrops = MetricValue(metrics, "concentrator_esp_dropped_packets_total", ("reason", "no_sa")) - noSaBefore;
        scope.Log($"concentrator no_sa drops during the soak {noSaDrops} (before it {noSaBefore}); ESP drops: " + string.Join(", ", metrics.Split('\n')
            .Where(l => l.StartsWith("concentrator_esp_dropped_packets_total{", StringComparison.Ordinal) && !l.EndsWith(" 0"))));
        int established = Regex.Matches(charonLog, @"CHILD_SA net\{(\d+)\} established with SPIs").Select(m => m.Groups[1].Value).Distinct().Count();
        scope.Log($"SOAK {soak} s: child rekeys initiated by strongSwan {peerChild}, by the concentrator {gatewayChild} " +
                  $"(concentrator_rekeys_total child success {childOk}, failure {childFail}); IKE rekeys initiated by strongSwan {peerIke}, " +
                  $"by the concentrator {gatewayIke} (ike success {ikeOk}, failure {ikeFail}); {established} CHILD_SAs established on the peer; " +
                  $"{spisSeen.Count} distinct child SPIs and {ikeSpis.Count} IKE SAs seen on the peer; ping lost {stats.Lost.Count} of {stats.Transmitted}");
        LogRekeyTimeline(scope, gateway, charonLog);
        foreach (var e in gateway.EventsWithId(1009)) scope.Log("concentrator " + e.Message);
        if (stats.Lost.Count > 0) LogLossContext(scope, stats, pingResult.Stdout);

        Assert.True(stats.Transmitted >= soak * 40, $"ping sent only {stats.Transmitted} packets in {soak} s: " + pingResult);
        Assert.True(stats.Lost.Count == 0,
            $"ping lost {stats.Lost.Count} of {stats.Transmitted} during the rekeys (icmp_seq {string.Join(",", stats.Lost.Take(50))})");
        Assert.True(noSaDrops == 0, $"the concentrator dropped {noSaDrops} packets for want of an outbound/inbound SA (make-before-break gap)");
        Assert.True(iperfResult.Ok, "iperf3 through the tunnel failed: " + iperfResult);
        Assert.True(iperfBytes > 1_000_000, $"iperf3 moved only {iperfBytes} bytes");
        // The issue: at least 6 child and 2 IKE rekeys, each side initiating in turn (scaled for a shorter soak).
        int wantChild = Math.Max(2, soak / 30);
        Assert.True(peerChild >= wantChild, $"strongSwan initiated {peerChild} child rekeys, expected >= {wantChild}");
        Assert.True(gatewayChild >= wantChild, $"the concentrator initiated {gatewayChild} child rekeys, expected >= {wantChild}");
        Assert.True(peerChild + gatewayChild >= (soak >= 90 ? 6 : 4), "too few child rekeys");
        Assert.True(peerIke >= 1, $"strongSwan initiated {peerIke} IKE rekeys, expected >= 1");
        Assert.True(gatewayIke >= 1, $"the concentrator initiated {gatewayIke} IKE rekeys, expected >= 1");
        Assert.True(peerIke + gatewayIke >= 2, "fewer than 2 IKE rekeys");
        // The metric counts rekeys initiated by either side that completed.
        Assert.Equal(peerChild + gatewayChild, (int)childOk);
        Assert.Equal(peerIke + gatewayIke, (int)ikeOk);
        Assert.Equal(0, childFail);
        Assert.Equal(0, ikeFail);
        Assert.True(established >= 5, $"only {established} CHILD_SAs established on the peer");
        Assert.True(ikeSpis.Count >= 3, $"only {ikeSpis.Count} distinct IKE SAs seen on the peer");

        // Make-before-break leaves nothing behind: one IKE SA (the newest) with one child on each side, the old SPIs gone.
        var (peerChildren, installed) = await WaitSingleChildAsync(peer, bed.Gateway, scope.Remaining(TimeSpan.FromSeconds(10)));
        var sas = await peer.ListSasAsync();
        scope.Log($"end: peer [{string.Join("; ", sas)}], concentrator installed {installed}");
        var ike = Assert.Single(sas);
        Assert.Equal("ESTABLISHED", ike.State);
        Assert.NotEqual(firstIkeSpi, ike.Get("initiator-spi") + ike.Get("responder-spi"));
        var last = Assert.Single(peerChildren);
        Assert.Equal("INSTALLED", last.State);
        Assert.Equal(1, installed);
        Assert.DoesNotContain(last.SpiIn, spisSeen.Take(spisSeen.Count - 1));
        // On the concentrator every child SA it installed was removed again, except the current one.
        var installedSpis = gateway.EventsWithId(ConcentratorProcess.ChildSaInstalled)
            .Select(e => Regex.Match(e.Message, @"SPIs in (\w+)").Groups[1].Value).ToList();
        var removedSpis = gateway.EventsWithId(ConcentratorProcess.ChildSaRemoved)
            .Select(e => Regex.Match(e.Message, @"SPI in (\w+)").Groups[1].Value).ToHashSet();
        Assert.Single(installedSpis.Where(spi => !removedSpis.Contains(spi)));
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        Assert.True((await Ping(bed, NamespaceTestbed.LanHost, 3)).Ok, "ping after the soak failed");
        scope.Passed();
    }

    // ------------------------------------------------------------------------------------------------
    // 2. Byte-based rekey.
    // ------------------------------------------------------------------------------------------------

    [Fact(Timeout = 150_000)]
    [Trait("Category", "Root")]
    public async Task Child_rekeys_by_bytes_during_transfer_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true) || !HaveIperf()) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 100);
        var bed = scope.Bed;

        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer"));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics());
        await peer.LoadAsync(PeerConf(bed.PeerOuter, ikeRekey: "4h", new PeerChild("net", NamespaceTestbed.LanSubnet, "aes256gcm16")));
        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"),
            GatewayYaml(children: [new GwChild("net", NamespaceTestbed.LanSubnet, "aes256gcm16", "rekey_time: 0, rekey_bytes: 5M, life_bytes: 50M")]),
            scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics());

        var init = await peer.InitiateAsync("gw", "net", timeoutSeconds: 20);
        Assert.True(init.Ok, "swanctl --initiate failed: " + init);
        var before = await peer.WaitInstalledAsync("gw", "net", scope.Remaining(TimeSpan.FromSeconds(10)));
        Assert.True(before is not null, "peer: no INSTALLED child");
        string firstSpi = before!.Value.Child.SpiIn;

        await using var iperfServer = await IperfServer.StartAsync(bed.Lan, NamespaceTestbed.LanHost, bed.WorkDir);
        // 40 Mbit/s: 30 MiB take about 6 s, so the 1 s counter pulls see several 5M crossings.
        var iperf = await bed.Peer.ExecAsync(scope.Remaining(TimeSpan.FromSeconds(60)),
            "iperf3", "-c", NamespaceTestbed.LanHost, "-B", NamespaceTestbed.PeerInner, "-n", "30M", "-b", "40M", "-J", "--connect-timeout", "3000");
        long sent = IperfBytes(iperf.Stdout, "sum_sent");
        long received = await iperfServer.ReceivedBytesAsync();
        scope.Log($"iperf3 -n 30M: exit {iperf.ExitCode}, {sent} bytes sent by the peer, {received} bytes received by the LAN host (server's count)");

        // Counters are pulled once a second: the last rekey may still be finishing.
        await Task.Delay(2000);
        var metrics = await ScrapeAsync(bed.Gateway, "metrics");
        double rekeys = MetricValue(metrics, "concentrator_rekeys_total", ("kind", "child"), ("outcome", "success"));
        var (children, installed) = await WaitSingleChildAsync(peer, bed.Gateway, scope.Remaining(TimeSpan.FromSeconds(10)));
        scope.Log($"concentrator child rekeys {rekeys}; peer children now [{string.Join("; ", children)}], installed {installed}");
        LogRekeyTimeline(scope, gateway, peer.Log());

        Assert.True(iperf.Ok, "iperf3 through the tunnel failed: " + iperf);
        Assert.True(sent >= 30L * 1024 * 1024, $"the peer sent {sent} bytes, expected 30 MiB");
        // The server's own count stops when the client's TEST_END arrives on the control connection and can miss
        // the last few hundred KiB still in flight on the data connection (an iperf3 artefact, not a loss: TCP).
        Assert.True(received >= 29L * 1024 * 1024, $"the LAN host received {received} bytes, expected about 30 MiB");
        Assert.True(rekeys >= 1, "no byte-based rekey by the concentrator");
        Assert.True(RekeyRequests(peer.Log(), "parsed") >= 1, "strongSwan saw no CREATE_CHILD_SA with REKEY_SA");
        var now = Assert.Single(children);
        Assert.NotEqual(firstSpi, now.SpiIn);
        Assert.Equal(1, installed);
        scope.Passed();
    }

    // ------------------------------------------------------------------------------------------------
    // 3. Two children on one IKE SA; deleting one leaves the other working.
    // ------------------------------------------------------------------------------------------------

    [Fact(Timeout = 120_000)]
    [Trait("Category", "Root")]
    public async Task Two_children_one_terminated_other_keeps_working_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 70);
        var bed = scope.Bed;
        // A second LAN subnet behind the gateway: an extra address on the LAN host.
        bed.Lan.AddAddress(NamespaceTestbed.LanDevice, LanHost2 + "/24");
        bed.Gateway.AddRoute(LanSubnet2, NamespaceTestbed.LanHost);

        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer"));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics());
        await peer.LoadAsync(PeerConf(bed.PeerOuter, ikeRekey: "4h",
            new PeerChild("net1", NamespaceTestbed.LanSubnet, "aes256gcm16"), new PeerChild("net2", LanSubnet2, "aes256gcm16")));
        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"),
            GatewayYaml(children: [new GwChild("net1", NamespaceTestbed.LanSubnet, "aes256gcm16"), new GwChild("net2", LanSubnet2, "aes256gcm16")]),
            scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics());

        var i1 = await peer.InitiateAsync("gw", "net1", timeoutSeconds: 20);
        Assert.True(i1.Ok, "initiating net1 failed: " + i1);
        var i2 = await peer.InitiateAsync("gw", "net2", timeoutSeconds: 20);
        Assert.True(i2.Ok, "initiating net2 (CREATE_CHILD_SA) failed: " + i2);
        Assert.NotNull(await peer.WaitInstalledAsync("gw", "net1", scope.Remaining(TimeSpan.FromSeconds(5))));
        Assert.NotNull(await peer.WaitInstalledAsync("gw", "net2", scope.Remaining(TimeSpan.FromSeconds(5))));
        var sas = await peer.ListSasAsync();
        var ike = Assert.Single(sas);
        scope.Log("peer: " + ike);
        Assert.Equal(2, ike.Children.Count(c => c.State == "INSTALLED"));
        Assert.Equal(2, await InstalledAsync(bed.Gateway));

        var p1 = await Ping(bed, NamespaceTestbed.LanHost, 5);
        var p2 = await Ping(bed, LanHost2, 5);
        scope.Log($"ping via net1: exit {p1.ExitCode}; via net2: exit {p2.ExitCode}");
        Assert.True(p1.Ok, "ping through child net1 failed: " + p1);
        Assert.True(p2.Ok, "ping through child net2 failed: " + p2);
        var counted = Assert.Single(await peer.ListSasAsync()).Children;
        Assert.True(counted.Single(c => c.Name == "net2").Number("packets-in") >= 5, "net2 carried no traffic back");

        var term = await peer.SwanctlAsync(["--terminate", "--child", "net2", "--timeout", "10"]);
        scope.Log($"terminate net2: exit {term.ExitCode}");
        Assert.True(term.Ok, "swanctl --terminate --child net2 failed: " + term);

        // The concentrator removes exactly net2's SA; net1 keeps carrying traffic.
        var clock = Stopwatch.StartNew();
        var bound = scope.Remaining(TimeSpan.FromSeconds(5));
        int installed;
        while ((installed = await InstalledAsync(bed.Gateway)) != 1 && clock.Elapsed < bound)
        {
            await Task.Delay(200);
        }
        var metrics = await ScrapeAsync(bed.Gateway, "metrics");
        double net1 = MetricValue(metrics, "concentrator_child_sas", ("connection", "peer"), ("child", "net1"));
        double net2 = MetricValue(metrics, "concentrator_child_sas", ("connection", "peer"), ("child", "net2"));
        scope.Log($"concentrator after terminate: installed {installed}, child_sas net1 {net1} net2 {net2}");
        Assert.Equal(1, installed);
        Assert.Equal(1, net1);
        Assert.Equal(0, net2);
        var left = Assert.Single(Assert.Single(await peer.ListSasAsync()).Children);
        Assert.Equal("net1", left.Name);
        Assert.Single(gateway.EventsWithId(ConcentratorProcess.ChildSaRemoved));

        var again = await Ping(bed, NamespaceTestbed.LanHost, 5);
        Assert.True(again.Ok, "ping through net1 failed after net2 was terminated: " + again);
        var gone = await Ping(bed, LanHost2, 2);
        Assert.False(gone.Ok, "ping to the net2 subnet still passes after net2 was terminated");
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }

    // ------------------------------------------------------------------------------------------------
    // 4. Dead peer detection.
    // ------------------------------------------------------------------------------------------------

    /// <summary>
    /// Responder with dpd_delay 2 s, dpd_timeout 5 s, dpd_action clear and a short retransmission budget (≈ 7.1 s, so
    /// dpd_timeout is the bound that ends it); charon is SIGKILLed. Probes go out, are retransmitted, and the SA is
    /// removed within dpd_delay (checked every dpd_delay / 2) + dpd_timeout, counted as a dead peer.
    /// </summary>
    [Fact(Timeout = 150_000)]
    [Trait("Category", "Root")]
    public async Task Dpd_clears_sas_of_a_killed_peer_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 80);
        var bed = scope.Bed;

        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer"));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics());
        await peer.LoadAsync(PeerConf(bed.PeerOuter, ikeRekey: "4h", new PeerChild("net", NamespaceTestbed.LanSubnet, "aes256gcm16")));
        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"),
            GatewayYaml(children: [new GwChild("net", NamespaceTestbed.LanSubnet, "aes256gcm16", "dpd_action: clear")],
                connectionExtra: "dpd_delay: 2s, dpd_timeout: 5s", charon: ShortRetransmit),
            scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics());
        Underlay.InstallEspCounters(bed.Gateway, bed.WorkDir);

        var init = await peer.InitiateAsync("gw", "net", timeoutSeconds: 20);
        Assert.True(init.Ok, "swanctl --initiate failed: " + init);
        Assert.NotNull(await peer.WaitInstalledAsync("gw", "net", scope.Remaining(TimeSpan.FromSeconds(10))));
        Assert.True((await Ping(bed, NamespaceTestbed.LanHost, 3)).Ok, "ping through the tunnel failed");

        // Idle tunnel, live peer: probes every dpd_delay, each answered (no retransmission).
        await Task.Delay(5000);
        var m0 = await ScrapeAsync(bed.Gateway, "metrics");
        double probes0 = MetricValue(m0, "concentrator_ike_dpd_probes_total");
        double retx0 = MetricValue(m0, "concentrator_ike_retransmissions_total", ("exchange", "informational"));
        scope.Log($"live peer: dpd probes {probes0}, informational retransmissions {retx0}");
        Assert.True(probes0 >= 1, "no DPD probe on an idle tunnel after 5 s with dpd_delay 2s");
        Assert.Equal(0, retx0);
        Assert.Equal(0, MetricValue(m0, "concentrator_ike_dead_peers_total"));
        Assert.Contains("parsed INFORMATIONAL request", peer.Log());

        await peer.KillAsync();
        Assert.True(peer.HasExited, "charon did not die from SIGKILL");
        var killed = Stopwatch.StartNew();
        scope.Log("charon SIGKILLed");

        // Dead peer: the next probe goes unanswered, is retransmitted, and dpd_timeout closes the IKE SA.
        bool closed = await gateway.WaitForEventAsync(ConcentratorProcess.IkeSaClosed, scope.Remaining(TimeSpan.FromSeconds(30)));
        double detected = killed.Elapsed.TotalSeconds;
        var m = await ScrapeAsync(bed.Gateway, "metrics");
        double probes1 = MetricValue(m, "concentrator_ike_dpd_probes_total");
        double retx1 = MetricValue(m, "concentrator_ike_retransmissions_total", ("exchange", "informational"));
        double dead = MetricValue(m, "concentrator_ike_dead_peers_total");
        var counters = Underlay.ReadCounters(bed.Gateway);
        scope.Log($"IKE SA closed: {closed} after {detected:F1} s; dpd probes {probes1}, informational retransmissions {retx1}, " +
                  $"dead peers {dead}, ike on 4500 out {counters.GetValueOrDefault("ike4500_out")}");
        Assert.True(closed, "the concentrator did not close the IKE SA of the dead peer");
        Assert.True(probes1 > probes0, "no DPD probe after the peer died");
        Assert.True(retx1 >= 1, "the unanswered DPD probe was not retransmitted");
        Assert.Contains("Timeout", gateway.EventsWithId(ConcentratorProcess.IkeSaClosed).Last().Message);
        Assert.Equal(1, dead);
        // Silence is noticed within 1.5 x dpd_delay (the check runs every dpd_delay / 2), then dpd_timeout (5 s) ends it,
        // before the ≈ 7.1 s retransmission budget would; 2 s of slack for the loaded CI machine.
        Assert.True(detected < 1.5 * 2 + 5 + 2, $"DPD took {detected:F1} s, more than dpd_delay + dpd_timeout");
        Assert.True(detected >= 5 - 0.5, $"the SA closed after {detected:F1} s, before dpd_timeout could have run out");
        var clock = Stopwatch.StartNew();
        while (await InstalledAsync(bed.Gateway) != 0 && clock.Elapsed < TimeSpan.FromSeconds(5)) await Task.Delay(200);
        Assert.Equal(0, await InstalledAsync(bed.Gateway));
        Assert.Equal(0, MetricValue(await ScrapeAsync(bed.Gateway, "metrics"), "concentrator_child_sas", ("connection", "peer"), ("child", "net")));
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }

    /// <summary>
    /// The concentrator initiates (start_action start) with dpd_delay 2 s, dpd_action restart and the short
    /// retransmission budget (no dpd_timeout: the budget, ≈ 7.1 s, ends it); charon is SIGKILLed and started again
    /// empty. The concentrator declares the peer dead, initiates again, and traffic flows through the new tunnel.
    /// </summary>
    [Fact(Timeout = 150_000)]
    [Trait("Category", "Root")]
    public async Task Dpd_restart_initiator_brings_tunnel_back_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 90);
        var bed = scope.Bed;

        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer"));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics());
        string responderConf = ResponderConf();
        await peer.LoadAsync(responderConf);
        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"),
            GatewayYaml(children: [new GwChild("net", NamespaceTestbed.LanSubnet, "aes256gcm16", "dpd_action: restart, start_action: start")],
                connectionExtra: "dpd_delay: 2s, encap: yes", remote: bed.PeerOuter, charon: ShortRetransmit),
            scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics());

        Assert.True(await gateway.WaitForEventAsync(ConcentratorProcess.ChildSaInstalled, scope.Remaining(TimeSpan.FromSeconds(15))),
            "the concentrator did not bring up its start_action start child");
        Assert.NotNull(await peer.WaitInstalledAsync("gw", "net", scope.Remaining(TimeSpan.FromSeconds(5))));
        Assert.Contains("initiator", gateway.EventsWithId(ConcentratorProcess.IkeSaEstablished).Single().Message);
        Assert.True((await Ping(bed, NamespaceTestbed.LanHost, 3)).Ok, "ping through the concentrator-initiated tunnel failed");

        await Task.Delay(3000);
        double probes0 = MetricValue(await ScrapeAsync(bed.Gateway, "metrics"), "concentrator_ike_dpd_probes_total");
        await peer.KillAsync();
        var killed = Stopwatch.StartNew();
        scope.Log($"charon SIGKILLed (probes so far {probes0})");

        // Unanswered probes are retransmitted; charon comes back (empty: it lost every SA) while they are.
        double retx = 0, probes = probes0;
        var probeBound = scope.Remaining(TimeSpan.FromSeconds(10));
        while (killed.Elapsed < probeBound)
        {
            var m = await ScrapeAsync(bed.Gateway, "metrics");
            probes = MetricValue(m, "concentrator_ike_dpd_probes_total");
            retx = MetricValue(m, "concentrator_ike_retransmissions_total", ("exchange", "informational"));
            if (retx >= 1) break;
            await Task.Delay(250);
        }
        scope.Log($"after {killed.Elapsed.TotalSeconds:F1} s: probes {probes}, informational retransmissions {retx}");
        Assert.True(probes > probes0, "no DPD probe after the peer died");
        Assert.True(retx >= 1, "the unanswered DPD probe was not retransmitted");

        var peer2 = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer2"), "peer2"));
        scope.AddDiagnostics("charon peer2", () => peer2.Diagnostics());
        await peer2.LoadAsync(responderConf);
        scope.Log($"charon restarted after {killed.Elapsed.TotalSeconds:F1} s");

        // The budget runs out (the restarted charon ignores the old SA's probes), dpd_action restart initiates again.
        var restartBound = scope.Remaining(TimeSpan.FromSeconds(30));
        while (gateway.EventsWithId(ConcentratorProcess.IkeSaEstablished).Count < 2 && killed.Elapsed < restartBound)
        {
            await Task.Delay(250);
        }
        var closedEvents = gateway.EventsWithId(ConcentratorProcess.IkeSaClosed);
        scope.Log($"after {killed.Elapsed.TotalSeconds:F1} s: closed {closedEvents.Count}, " +
                  $"established {gateway.EventsWithId(ConcentratorProcess.IkeSaEstablished).Count}");
        Assert.NotEmpty(closedEvents);
        Assert.Contains("Timeout", closedEvents.First().Message);
        Assert.Equal(2, gateway.EventsWithId(ConcentratorProcess.IkeSaEstablished).Count);
        Assert.True(killed.Elapsed.TotalSeconds < 1.5 * 2 + ShortBudgetSeconds + 10,
            $"the tunnel came back only after {killed.Elapsed.TotalSeconds:F1} s");
        Assert.Equal(1, MetricValue(await ScrapeAsync(bed.Gateway, "metrics"), "concentrator_ike_dead_peers_total"));
        Assert.NotNull(await peer2.WaitInstalledAsync("gw", "net", scope.Remaining(TimeSpan.FromSeconds(10))));
        Assert.True((await Ping(bed, NamespaceTestbed.LanHost, 3)).Ok, "ping through the restarted tunnel failed");
        Assert.Equal(1, await InstalledAsync(bed.Gateway));
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();

        string ResponderConf() => $$"""
            connections {
              gw {
                version = 2
                local_addrs = {{bed.PeerOuter}}
                remote_addrs = {{NamespaceTestbed.GatewayOuter}}
                proposals = aes256gcm16-prfsha256-ecp256
                encap = yes
                mobike = no
                rekey_time = 0
                reauth_time = 0
                dpd_delay = 0
                local { auth = psk
                  id = {{SwanctlConf.PeerId}} }
                remote { auth = psk
                  id = {{SwanctlConf.GatewayId}} }
                children {
                  net {
                    local_ts = {{NamespaceTestbed.PeerInner}}/32
                    remote_ts = {{NamespaceTestbed.LanSubnet}}
                    esp_proposals = aes256gcm16
                    rekey_time = 0
                    start_action = none
                  }
                }
              }
            }
            secrets {
              ike-interop {
                id-1 = {{SwanctlConf.PeerId}}
                id-2 = {{SwanctlConf.GatewayId}}
                secret = "{{SwanctlConf.Psk}}"
              }
            }
            """;
    }

    // ------------------------------------------------------------------------------------------------
    // Helpers
    // ------------------------------------------------------------------------------------------------

    private sealed record PeerChild(string Name, string RemoteTs, string Esp, string RekeyTime = "0", string? RandTime = null,
        string? LifeTime = null);

    private sealed record GwChild(string Name, string LocalTs, string Esp, string Extra = "");

    /// <summary>strongSwan as initiator on the peer: one IKE connection "gw" with the given children.</summary>
    private static string PeerConf(string peerOuter, string ikeRekey, params PeerChild[] children)
    {
        var sb = new StringBuilder();
        foreach (var c in children)
        {
            sb.Append($$"""
                      {{c.Name}} {
                        local_ts = {{NamespaceTestbed.PeerInner}}/32
                        remote_ts = {{c.RemoteTs}}
                        esp_proposals = {{c.Esp}}
                        rekey_time = {{c.RekeyTime}}
                """).Append('\n');
            if (c.RandTime is not null) sb.Append($"              rand_time = {c.RandTime}\n");
            if (c.LifeTime is not null) sb.Append($"              life_time = {c.LifeTime}\n");
            sb.Append("""
                        start_action = none
                        close_action = none
                        dpd_action = clear
                      }
                """).Append('\n');
        }
        return $$"""
            connections {
              gw {
                version = 2
                local_addrs = {{peerOuter}}
                remote_addrs = {{NamespaceTestbed.GatewayOuter}}
                proposals = aes256gcm16-prfsha256-ecp256
                encap = yes
                mobike = no
                rekey_time = {{ikeRekey}}
                reauth_time = 0
                dpd_delay = 0
                keyingtries = 1
                local {
                  auth = psk
                  id = {{SwanctlConf.PeerId}}
                }
                remote {
                  auth = psk
                  id = {{SwanctlConf.GatewayId}}
                }
                children {
            {{sb}}
                }
              }
            }
            secrets {
              ike-interop {
                id-1 = {{SwanctlConf.PeerId}}
                id-2 = {{SwanctlConf.GatewayId}}
                secret = "{{SwanctlConf.Psk}}"
              }
            }
            """;
    }

    /// <summary>The concentrator: connection "peer" (responder unless <paramref name="remote"/> is given) with the given children.</summary>
    private static string GatewayYaml(IReadOnlyList<GwChild> children, string connectionExtra = "", string? remote = null, string? charon = null)
    {
        var sb = new StringBuilder();
        foreach (var c in children)
        {
            sb.Append($"      {c.Name}: {{ local_ts: [{c.LocalTs}], remote_ts: [{NamespaceTestbed.PeerInnerSubnet}], esp_proposals: [{c.Esp}]")
              .Append(c.Extra.Length > 0 ? ", " + c.Extra : "").Append(" }\n");
        }
        string extra = connectionExtra.Length == 0 ? "" : string.Join("\n", connectionExtra.Split(", ").Select(kv => "    " + kv)) + "\n";
        return $$"""
            # generated by the Concentrator lifecycle interop tests
            listen: { addresses: [{{NamespaceTestbed.GatewayOuter}}], ike_port: 500, natt_port: 4500 }
            http: { listen: "127.0.0.1:9400" }
            {{(charon is null ? "" : "charon: " + charon + "\n")}}connections:
              peer:
                version: 2
                local_addrs: [{{NamespaceTestbed.GatewayOuter}}]
                remote_addrs: ["{{remote ?? "%any"}}"]
                proposals: [aes256gcm16-prfsha256-ecp256]
                local: { auth: psk, id: {{SwanctlConf.GatewayId}} }
                remote: { auth: psk, id: {{SwanctlConf.PeerId}} }
            {{extra}}    children:
            {{sb}}secrets:
              ike-interop: { id: [{{SwanctlConf.PeerId}}, {{SwanctlConf.GatewayId}}], secret: "{{SwanctlConf.Psk}}" }
            """;
    }

    private bool HaveIperf()
    {
        if (Command.Exists("iperf3") && Command.Exists("curl")) return true;
        const string reason = "iperf3 or curl missing (scripts/install-deps.sh)";
        if (InteropPrerequisites.InCi) Assert.Fail(reason);
        output.WriteLine("NOT RUN: " + reason);
        return false;
    }

    private static Task<CommandResult> Ping(NamespaceTestbed bed, string target, int count) =>
        bed.Peer.ExecAsync(TimeSpan.FromSeconds(count + 10),
            "ping", "-n", "-c", count.ToString(), "-i", "0.2", "-W", "2", "-I", NamespaceTestbed.PeerInner, target);

    /// <summary>GET http://127.0.0.1:9400/{path} inside the gateway namespace (the concentrator's http.listen).</summary>
    internal static async Task<string> ScrapeAsync(Netns gw, string path)
    {
        var r = await gw.ExecAsync(TimeSpan.FromSeconds(10), "curl", "-sS", "--max-time", "5", $"http://127.0.0.1:9400/{path}");
        if (!r.Ok) throw new InvalidOperationException($"GET /{path} failed: {r}");
        return r.Stdout;
    }

    private static async Task<int> InstalledAsync(Netns gw)
    {
        using var doc = JsonDocument.Parse(await ScrapeAsync(gw, "dataplane"));
        return doc.RootElement.GetProperty("installed").GetInt32();
    }

    /// <summary>Sum of the samples of <paramref name="name"/> whose labels include all of <paramref name="labels"/>.</summary>
    internal static double MetricValue(string exposition, string name, params (string Key, string Value)[] labels)
    {
        double sum = 0;
        foreach (var raw in exposition.Split('\n'))
        {
            var line = raw.Trim();
            if (line.StartsWith('#') || !line.StartsWith(name, StringComparison.Ordinal)) continue;
            string rest = line[name.Length..];
            if (rest.Length == 0 || (rest[0] != '{' && rest[0] != ' ')) continue;
            if (labels.Any(l => !rest.Contains($"{l.Key}=\"{l.Value}\"", StringComparison.Ordinal))) continue;
            var value = rest[(rest.LastIndexOf(' ') + 1)..];
            if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var v)) sum += v;
        }
        return sum;
    }

    /// <summary>CREATE_CHILD_SA requests with REKEY_SA in charon's log that charon generated or parsed.</summary>
    internal static int RekeyRequests(string charonLog, string verb) =>
        Regex.Matches(charonLog, $@"{verb} CREATE_CHILD_SA request \d+ \[ [^\]]*N\(REKEY_SA\)").Count;

    /// <summary>CREATE_CHILD_SA requests rekeying the IKE SA (SA, Nonce, KE and nothing else) that charon generated or parsed.</summary>
    internal static int IkeRekeyRequests(string charonLog, string verb) =>
        Regex.Matches(charonLog, $@"{verb} CREATE_CHILD_SA request \d+ \[ SA No KE \]").Count;

    /// <summary>Polls until the peer has exactly one child and the concentrator exactly one installed SA (bounded).</summary>
    private static async Task<(IReadOnlyList<ChildSaInfo> PeerChildren, int Installed)> WaitSingleChildAsync(StrongSwan peer, Netns gw, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var children = (await peer.ListSasAsync()).SelectMany(s => s.Children).ToList();
            int installed = await InstalledAsync(gw);
            if ((children.Count == 1 && installed == 1) || clock.Elapsed > timeout) return (children, installed);
            await Task.Delay(250);
        }
    }

    /// <summary>end.{sum_sent|sum_received}.bytes of iperf3's JSON; 0 when absent.</summary>
    private static long IperfBytes(string json, string sum)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            return doc.RootElement.GetProperty("end").GetProperty(sum).GetProperty("bytes").GetInt64();
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return 0;
        }
    }

    /// <summary>Rekey events on both sides, in order, for the test output.</summary>
    private static void LogRekeyTimeline(InteropScope scope, ConcentratorProcess gateway, string charonLog)
    {
        foreach (var e in gateway.Events().Where(e => e.EventId is ConcentratorProcess.ChildSaInstalled or ConcentratorProcess.ChildSaRemoved))
        {
            string ts = Regex.Match(e.Raw, "\"Timestamp\":\"([^\"]+)\"").Groups[1].Value;
            scope.Log($"concentrator {ts} {e.Message}");
        }
        foreach (var line in charonLog.Split('\n').Where(l =>
                     l.Contains("CREATE_CHILD_SA") || l.Contains("established with SPIs") || l.Contains("INFORMATIONAL") || l.Contains("closing CHILD_SA")))
        {
            scope.Log("charon " + line.Trim());
        }
    }

    private static void LogLossContext(InteropScope scope, PingStats stats, string pingOutput)
    {
        // Each lost icmp_seq between the replies before and after it (ping -D epoch stamps).
        foreach (int seq in stats.Lost.Take(20))
        {
            var before = stats.Replies.LastOrDefault(r => r.Seq < seq);
            var after = stats.Replies.FirstOrDefault(r => r.Seq > seq);
            scope.Log($"lost icmp_seq={seq}: after reply {before.Seq} at {Stamp(before.Epoch)}, before reply {after.Seq} at {Stamp(after.Epoch)}");
        }

        static string Stamp(double epoch) =>
            epoch == 0 ? "-" : DateTimeOffset.FromUnixTimeMilliseconds((long)(epoch * 1000)).ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture) + "Z";
    }

    /// <summary>
    /// ping's outcome. <see cref="Lost"/>: requests without a reply, except the last few sent just before the
    /// -w deadline (ping exits without waiting for them): up to <see cref="InFlightAllowance"/> trailing ones
    /// count as <see cref="InFlightAtEnd"/>; more than that is a tunnel that broke at the end, and all count as lost.
    /// </summary>
    internal sealed partial record PingStats(int Transmitted, int Received, IReadOnlyList<int> Lost, IReadOnlyList<(int Seq, double Epoch)> Replies,
        int InFlightAtEnd)
    {
        public const int InFlightAllowance = 3;

        public static PingStats Parse(string stdout)
        {
            var replies = new List<(int, double)>();
            foreach (Match m in ReplyLine().Matches(stdout))
            {
                replies.Add((int.Parse(m.Groups["seq"].Value), double.Parse(m.Groups["t"].Value, CultureInfo.InvariantCulture)));
            }
            var summary = Summary().Match(stdout);
            int tx = summary.Success ? int.Parse(summary.Groups["tx"].Value) : 0;
            int rx = summary.Success ? int.Parse(summary.Groups["rx"].Value) : 0;
            var got = replies.Select(r => r.Item1).ToHashSet();
            var lost = Enumerable.Range(1, tx).Where(s => !got.Contains(s)).ToList();
            int lastReply = got.Count == 0 ? 0 : got.Max();
            int trailing = tx - lastReply;
            int inFlight = trailing <= InFlightAllowance ? trailing : 0;
            if (inFlight > 0) lost.RemoveAll(s => s > lastReply);
            return new PingStats(tx, rx, lost, replies.OrderBy(r => r.Item1).ToList(), inFlight);
        }

        [GeneratedRegex(@"^\[(?<t>[0-9.]+)\] \d+ bytes from [0-9.]+: icmp_seq=(?<seq>\d+)", RegexOptions.Multiline)]
        private static partial Regex ReplyLine();

        [GeneratedRegex(@"(?<tx>\d+) packets transmitted, (?<rx>\d+) received")]
        private static partial Regex Summary();
    }

    /// <summary>iperf3 -s -1 in a namespace, bound to one address, stopped on dispose.</summary>
    private sealed class IperfServer : IAsyncDisposable
    {
        private readonly Netns _ns;
        private readonly BackgroundProcess _p;

        private IperfServer(Netns ns, BackgroundProcess p)
        {
            _ns = ns;
            _p = p;
        }

        public static async Task<IperfServer> StartAsync(Netns ns, string address, string workDir)
        {
            var p = ns.Start(["iperf3", "-s", "-1", "-J", "-B", address], Path.Combine(workDir, "iperf3-server.json"),
                Path.Combine(workDir, "iperf3-server.stderr"), null, TimeSpan.FromSeconds(2));
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(5))
            {
                var ss = await ns.ExecAsync(TimeSpan.FromSeconds(5), "ss", "-Hltn", "sport", "= :5201");
                if (ss.Stdout.Contains("5201")) break;
                await Task.Delay(100);
            }
            return new IperfServer(ns, p);
        }

        /// <summary>Bytes the server received in its one test (its own JSON, written when the test ends).</summary>
        public async Task<long> ReceivedBytesAsync()
        {
            await _p.WaitForExitAsync(TimeSpan.FromSeconds(5));
            return IperfBytes(_p.ReadStdout(), "sum_received");
        }

        public ValueTask DisposeAsync() => new(_ns.StopAsync(_p));
    }
}
