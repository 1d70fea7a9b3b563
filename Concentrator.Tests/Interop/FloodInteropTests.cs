using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Concentrator.Testbed.Interop;
using Xunit.Abstractions;

namespace Concentrator.Tests.Interop;


/// <summary>
/// Issue 8's flood test, with issue 14's claim: a stream spoofed from the address of a real peer (the newcomer's: many
/// users behind one NAT look like that to a responder), from the start; after <see cref="ClaimedLead"/> also an
/// IKE_SA_INIT flood from thousands of spoofed addresses (a /16 routed inside the testbed) and a cookie-answering
/// stream from one real address, at several times the concentrator's handshake capacity (about 300/s on this machine),
/// 30 s in all, while an established strongSwan tunnel carries a 10 ms ping. The strongSwan newcomer behind the claimed
/// address connects while only its address is flooded (the global cookie threshold is not reached: what stops the
/// spoofed copies then is cookie_threshold_ip), and again in the full flood, each time through a COOKIE round trip.
/// The same streams against a stock strongSwan responder give the comparison.
/// <code>
///   flood (f0 10.99.4.2; replies for 10.98.0.0/16 dropped) ─ veth ─ gateway g2 10.99.4.1 (route 10.98.0.0/16 via f0)
///   late  (q0 10.99.5.2, inner 10.99.11.1)                  ─ veth ─ gateway g3 10.99.5.1   (10.99.5.2 also claimed by the flood)
/// </code>
/// </summary>
[Collection(InteropCollection.Name)]
[Trait("Category", "Root")]
public sealed class FloodInteropTests(ITestOutputHelper output)
{
    private const string FloodNet = "10.98.0.0";
    private const string FloodOwn = "10.99.4.2";
    private const string LateOuter = "10.99.5.2";
    private const string LateInner = "10.99.11.1";
    private const string LateId = "late.interop.test";
    private const int FloodSeconds = 30;
    private const int SpoofedPerSecond = 1500;
    private const int ClaimedPerSecond = 300;
    private static readonly TimeSpan ClaimedLead = TimeSpan.FromSeconds(8);
    private const int RealPerSecond = 200;
    private const int Sources = 4096;
    private const long RssBoundBytes = 256L * 1024 * 1024;

    /// <summary>What one flood run saw.</summary>
    private sealed record FloodRun(IkeFlooder Flooder, CommandResult ClaimedOnlyUp, CommandResult LateUp, double SetupMs, int SentPings, double Loss, string MidMetrics, string Metrics,
        string NewcomerLog);

    [Fact(Timeout = 120_000)]
    [Trait("Category", "Root")]
    public async Task Init_flood_leaves_established_tunnel_and_new_peer_unharmed_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 100);
        var bed = scope.Bed;
        ConcentratorProcess? gateway = null;
        int pid = 0;
        var run = await RunFloodAsync(scope, async () =>
        {
            gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"), GatewayYaml(),
                scope.Remaining(TimeSpan.FromSeconds(25)), logLevel: "information"));
            scope.AddDiagnostics("concentrator", () => gateway.Diagnostics());
            pid = ProcessWithArgument(gateway.ConfigPath);
            scope.Log($"concentrator pid {pid}, RSS before: {Rss(pid, "VmRSS") / 1024} KiB");
        }, metrics: true);
        var flooder = run.Flooder;
        long peakRss = Rss(pid, "VmHWM");
        double Dropped(string reason) => GatewayMetrics.Sum(run.Metrics, "concentrator_ike_messages_dropped_total", $"reason=\"{reason}\"");
        double cookiesSent = GatewayMetrics.Sum(run.Metrics, "concentrator_ike_cookies_sent_total");
        double halfOpenMid = GatewayMetrics.Sum(run.MidMetrics, "concentrator_ike_half_open_sas");
        scope.Log($"peak RSS {peakRss / 1024 / 1024} MiB (bound {RssBoundBytes / 1024 / 1024} MiB); half-open mid-flood {halfOpenMid}");
        scope.Log($"refused: cookie_required {Dropped("cookie_required")}, per_source_limit {Dropped("per_source_limit")}, " +
                  $"half_open_limit {Dropped("half_open_limit")}, init_queue_full {Dropped("init_queue_full")}, " +
                  $"init_rate_limit {Dropped("init_rate_limit")}, auth_failed_backoff {Dropped("auth_failed_backoff")}; cookies sent {cookiesSent}");

        Assert.True(run.ClaimedOnlyUp.Ok, "the newcomer did not get its tunnel while its address was claimed: " + run.ClaimedOnlyUp);
        Assert.True(run.LateUp.Ok, "the newcomer behind the claimed address did not get its tunnel during the flood: " + run.LateUp);
        Assert.Contains("N(COOKIE)", run.NewcomerLog);
        Assert.True(flooder.SpoofedSent + flooder.ClaimedSent + flooder.RealSent > 4 * 300 * FloodSeconds,
            $"the flood ({flooder.SpoofedSent + flooder.ClaimedSent + flooder.RealSent} requests) was not several times the handshake capacity");
        Assert.True(flooder.ClaimedSent > ClaimedPerSecond * FloodSeconds / 2, $"only {flooder.ClaimedSent} requests claimed the newcomer's address");
        Assert.True(run.SentPings > FloodSeconds * 100 / 2, $"only {run.SentPings} pings went out in the flood's {FloodSeconds} s");
        Assert.True(run.Loss < 1.0, $"the established tunnel lost {run.Loss:0.00} % of its pings under the flood");
        Assert.True(peakRss < RssBoundBytes, $"peak RSS {peakRss} bytes over the bound {RssBoundBytes}");
        Assert.True(Dropped("cookie_required") > (flooder.SpoofedSent + flooder.ClaimedSent) / 2, "spoofed requests were not refused as cookie_required");
        Assert.True(Dropped("per_source_limit") > 0, "the cookie-answering source was never held to block_threshold");
        Assert.True(flooder.Admitted <= 5 * (FloodSeconds / 5 + 2), $"the real-address stream got {flooder.Admitted} half-open SAs past block_threshold 5");
        Assert.InRange(halfOpenMid, 0, 100);
        Assert.False(gateway!.HasExited, "the concentrator exited under the flood");
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }

    /// <summary>The same streams against a stock strongSwan responder with the same admission settings: the reference.</summary>
    [Fact(Timeout = 120_000)]
    [Trait("Category", "Root")]
    public async Task Init_flood_against_stock_strongSwan_for_comparison_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 100);
        var bed = scope.Bed;
        StrongSwan? charon = null;
        var run = await RunFloodAsync(scope, async () =>
        {
            // strongSwan's defaults but for the settings the concentrator run sets (cookie_threshold_ip 3 is the default of both).
            charon = scope.Own(await StrongSwan.StartAsync(bed.Gateway, bed.Dir("charon-gw"), "gateway",
                extraSettings: "cookie_threshold = 10\nblock_threshold = 5\nhalf_open_timeout = 5\ninit_limit_half_open = 5000"));
            scope.AddDiagnostics("charon gateway", () => charon.Diagnostics());
            await charon.LoadAsync(
                SwanctlConf.Connection("peer", NamespaceTestbed.GatewayOuter, "%any", SwanctlConf.GatewayId, SwanctlConf.PeerId,
                    "aes256gcm16-prfsha256-ecp256", "net", NamespaceTestbed.LanSubnet, NamespaceTestbed.PeerInnerSubnet, "aes256gcm16") + "\n" +
                SwanctlConf.Connection("late", NamespaceTestbed.GatewayOuter, "%any", SwanctlConf.GatewayId, LateId,
                    "aes256gcm16-prfsha256-ecp256", "net", NamespaceTestbed.LanSubnet, LateInner + "/32", "aes256gcm16"));
        }, metrics: false, beforeFlood: () => charon!.QuietAsync());
        var flooder = run.Flooder;
        scope.Log($"stock strongSwan: newcomer {(run.LateUp.Ok ? "up" : "NOT up")} after {run.SetupMs:0} ms; ping loss {run.Loss:0.00} %; " +
                  $"the real-address stream got {flooder.Admitted} half-open SAs and answered {flooder.CookiesAnswered} cookies");
        Assert.False(charon!.HasExited, "charon exited under the flood");
        Assert.True(flooder.ClaimedSent > ClaimedPerSecond * FloodSeconds / 2, $"only {flooder.ClaimedSent} requests claimed the newcomer's address");
        Assert.True(flooder.CookiesAnswered > 0, "charon never asked the real-address stream for a cookie");
        Assert.True(run.ClaimedOnlyUp.Ok, "stock strongSwan did not let the newcomer in while its address was claimed: " + run.ClaimedOnlyUp);
        Assert.True(run.LateUp.Ok, "stock strongSwan did not let the newcomer behind the claimed address in either: " + run.LateUp);
        scope.Passed();
    }

    /// <summary>
    /// Builds the flood's namespaces, starts the gateway (<paramref name="startGateway"/>) and both strongSwan peers, brings
    /// the established tunnel up, then floods for <see cref="FloodSeconds"/> with a 10 ms ping through the tunnel, and
    /// after 5 s lets the newcomer behind the claimed address connect.
    /// </summary>
    private static async Task<FloodRun> RunFloodAsync(InteropScope scope, Func<Task> startGateway, bool metrics, Func<Task>? beforeFlood = null)
    {
        var bed = scope.Bed;
        var flood = scope.Own(Netns.Create($"{bed.Id}-fl"));
        var late = scope.Own(Netns.Create($"{bed.Id}-late"));
        Netns.Veth(flood, "f0", bed.Gateway, "g2");
        flood.AddAddress("f0", FloodOwn + "/24");
        bed.Gateway.AddAddress("g2", "10.99.4.1/24");
        flood.AddRoute(NamespaceTestbed.GatewayOuter + "/32", "10.99.4.1");
        bed.Gateway.AddRoute(FloodNet + "/16", FloodOwn);
        // The claimed address is routed through g3: without this the gateway's reverse-path filter would drop its spoofed copies on g2.
        bed.Gateway.Exec("sysctl", "-q", "-w", "net.ipv4.conf.all.rp_filter=0");
        bed.Gateway.Exec("sysctl", "-q", "-w", "net.ipv4.conf.g2.rp_filter=0");
        string nft = Path.Combine(bed.WorkDir, "flood.nft");
        await File.WriteAllTextAsync(nft, $$"""
            table ip cit_flood {
              chain prerouting {
                type filter hook prerouting priority raw; policy accept;
                ip daddr {{FloodNet}}/16 counter drop
              }
            }

            """);
        flood.Exec("nft", "-f", nft);
        Netns.Veth(late, "q0", bed.Gateway, "g3");
        late.AddAddress("q0", LateOuter + "/24");
        late.AddAddress("lo", LateInner + "/32");
        bed.Gateway.AddAddress("g3", "10.99.5.1/24");
        late.Ip("route", "add", "default", "via", "10.99.5.1");

        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer"));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics());
        await peer.LoadAsync(SwanctlConf.Connection("gw", bed.PeerOuter, NamespaceTestbed.GatewayOuter, SwanctlConf.PeerId, SwanctlConf.GatewayId,
            "aes256gcm16-prfsha256-ecp256", "net", NamespaceTestbed.PeerInner + "/32", NamespaceTestbed.LanSubnet, "aes256gcm16"));
        var newcomer = scope.Own(await StrongSwan.StartAsync(late, bed.Dir("charon-late"), "late"));
        scope.AddDiagnostics("charon late", () => newcomer.Diagnostics());
        await newcomer.LoadAsync(SwanctlConf.Connection("gw", LateOuter, NamespaceTestbed.GatewayOuter, LateId, SwanctlConf.GatewayId,
            "aes256gcm16-prfsha256-ecp256", "net", LateInner + "/32", NamespaceTestbed.LanSubnet, "aes256gcm16"));

        await startGateway();
        var up = await peer.InitiateAsync("gw", "net", timeoutSeconds: 15);
        Assert.True(up.Ok, "the established tunnel did not come up before the flood: " + up);
        var warm = await bed.Peer.ExecAsync(TimeSpan.FromSeconds(10), "ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", "-I", NamespaceTestbed.PeerInner, NamespaceTestbed.LanHost);
        Assert.True(warm.Ok, "ping through the tunnel failed before the flood: " + warm);
        if (beforeFlood is not null) await beforeFlood();

        // The flood, and for its whole length a 10 ms ping through the established tunnel.
        var flooder = IkeFlooder.Create(flood.Name, IPAddress.Parse(FloodOwn), new IPEndPoint(IPAddress.Parse(NamespaceTestbed.GatewayOuter), 500),
            IPAddress.Parse(FloodNet), Sources);
        await using var stopFlood = flooder;
        const int pings = FloodSeconds * 100;
        // -w: a deadline, so the count is what was really sent in the flood's time (the loss is taken from the summary).
        var pingTask = bed.Peer.ExecAsync(TimeSpan.FromSeconds(FloodSeconds + 20), "ping", "-n", "-q", "-c", pings.ToString(CultureInfo.InvariantCulture),
            "-i", "0.01", "-W", "1", "-w", (FloodSeconds + 3).ToString(CultureInfo.InvariantCulture), "-I", NamespaceTestbed.PeerInner, NamespaceTestbed.LanHost);
        flooder.Start(SpoofedPerSecond, RealPerSecond, TimeSpan.FromSeconds(FloodSeconds), IPAddress.Parse(LateOuter), ClaimedPerSecond, ClaimedLead);
        var started = Stopwatch.StartNew();
        scope.Log($"flood started: {ClaimedPerSecond}/s spoofed from the newcomer's {LateOuter}, after {ClaimedLead.TotalSeconds:0} s also " +
                  $"{SpoofedPerSecond}/s spoofed from {Sources} addresses in {FloodNet}/16 and {RealPerSecond}/s from {FloodOwn} answering cookies");

        // While only its address is flooded, the newcomer connects (and leaves again).
        await Task.Delay(TimeSpan.FromSeconds(3));
        var clock = Stopwatch.StartNew();
        var claimedOnlyUp = await newcomer.InitiateAsync("gw", "net", timeoutSeconds: 4);
        scope.Log($"newcomer while only its address is claimed: exit {claimedOnlyUp.ExitCode} after {clock.Elapsed.TotalMilliseconds:0} ms " +
                  $"(claimed {flooder.ClaimedSent} times so far)");
        if (claimedOnlyUp.Ok) await newcomer.SwanctlAsync(["--terminate", "--ike", "gw", "--timeout", "5"], TimeSpan.FromSeconds(8));
        Assert.True(started.Elapsed < ClaimedLead, "the claimed-only phase ran out before the newcomer's first attempt ended");

        // Then while the flood is in full swing: its first IKE_SA_INIT is answered with a COOKIE.
        await Task.Delay(ClaimedLead + TimeSpan.FromSeconds(5) - started.Elapsed);
        long claimedByThen = flooder.ClaimedSent;
        var setup = Stopwatch.StartNew();
        var lateUp = await newcomer.InitiateAsync("gw", "net", timeoutSeconds: 20);
        double setupMs = setup.Elapsed.TotalMilliseconds;
        scope.Log($"newcomer: exit {lateUp.ExitCode} after {setupMs:0} ms (the flood had claimed its address {claimedByThen} times)");
        string midMetrics = metrics ? await GatewayMetrics.ScrapeAsync(bed.Gateway) : "";
        if (lateUp.Ok)
        {
            var lateSa = await newcomer.WaitInstalledAsync("gw", "net", scope.Remaining(TimeSpan.FromSeconds(5)));
            Assert.True(lateSa is not null, "newcomer: no ESTABLISHED IKE SA with an INSTALLED child");
        }

        var pingResult = await pingTask;
        await flooder.Completion;
        int received = PingOutput.Received(pingResult);
        var transmitted = Regex.Match(pingResult.Stdout, @"(?<n>\d+) packets transmitted");
        Assert.True(transmitted.Success, "no ping summary: " + pingResult);
        int sentPings = int.Parse(transmitted.Groups["n"].Value, CultureInfo.InvariantCulture);
        double loss = 100.0 * (sentPings - received) / sentPings;
        string after = metrics ? await GatewayMetrics.ScrapeAsync(bed.Gateway) : "";
        scope.Log($"flood: {flooder.SpoofedSent} spoofed + {flooder.ClaimedSent} claiming {LateOuter} + {flooder.RealSent} real requests in " +
                  $"{FloodSeconds} s ({(flooder.SpoofedSent + flooder.ClaimedSent + flooder.RealSent) / (double)FloodSeconds:0}/s), " +
                  $"{flooder.CookiesAnswered} cookies answered, {flooder.Admitted} half-open SAs granted to the real-address stream");
        scope.Log($"ping: {PingOutput.Summary(pingResult)} -> loss {loss:0.00} %");
        return new FloodRun(flooder, claimedOnlyUp, lateUp, setupMs, sentPings, loss, midMetrics, after, newcomer.Log());
    }

    /// <summary>Two peers: the established one and the newcomer, each with its own identity and inner address.</summary>
    private static string GatewayYaml() => $$"""
        # generated by the Concentrator flood test
        listen: { addresses: [{{NamespaceTestbed.GatewayOuter}}], ike_port: 500, natt_port: 4500 }
        http: { listen: "127.0.0.1:9400" }
        charon: { cookie_threshold: 10, block_threshold: 5, half_open_timeout: 5s, init_limit_half_open: 5000, init_limit_rate: 200 }
        connections:
          peer:
            local_addrs: [{{NamespaceTestbed.GatewayOuter}}]
            proposals: [aes256gcm16-prfsha256-ecp256]
            local: { auth: psk, id: {{SwanctlConf.GatewayId}} }
            remote: { auth: psk, id: {{SwanctlConf.PeerId}} }
            children:
              net: { local_ts: [{{NamespaceTestbed.LanSubnet}}], remote_ts: [{{NamespaceTestbed.PeerInnerSubnet}}], esp_proposals: [aes256gcm16] }
          late:
            local_addrs: [{{NamespaceTestbed.GatewayOuter}}]
            proposals: [aes256gcm16-prfsha256-ecp256]
            local: { auth: psk, id: {{SwanctlConf.GatewayId}} }
            remote: { auth: psk, id: {{LateId}} }
            children:
              net: { local_ts: [{{NamespaceTestbed.LanSubnet}}], remote_ts: [{{LateInner}}/32], esp_proposals: [aes256gcm16] }
        secrets:
          ike-peer: { id: [{{SwanctlConf.PeerId}}, {{SwanctlConf.GatewayId}}], secret: "{{SwanctlConf.Psk}}" }
          ike-late: { id: [{{LateId}}, {{SwanctlConf.GatewayId}}], secret: "{{SwanctlConf.Psk}}" }
        """;

    /// <summary>The process whose command line has <paramref name="argument"/> (the run's own config path, unique per testbed).</summary>
    private static int ProcessWithArgument(string argument)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            try
            {
                var args = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0');
                if (args.Contains(argument) && args.Any(a => a.EndsWith("Concentrator.dll", StringComparison.Ordinal))) return pid;
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        throw new InvalidOperationException($"no concentrator process with {argument}");
    }

    /// <summary>A memory figure of /proc/PID/status in bytes (VmRSS now, VmHWM the peak so far).</summary>
    private static long Rss(int pid, string field)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (!line.StartsWith(field + ":", StringComparison.Ordinal)) continue;
            var kb = line[(field.Length + 1)..].Trim().Split(' ')[0];
            return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
        }
        throw new InvalidOperationException($"{field} not in /proc/{pid}/status");
    }
}
