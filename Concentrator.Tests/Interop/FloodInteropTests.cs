using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Concentrator.Testbed.Interop;
using Xunit.Abstractions;

namespace Concentrator.Tests.Interop;


/// <summary>
/// Issue 8's flood test: an IKE_SA_INIT flood from thousands of spoofed addresses (a /16 routed inside the
/// testbed) plus a cookie-answering stream from one real address, at several times the concentrator's handshake
/// capacity (about 300/s on this machine) for 30 s, while an established strongSwan tunnel carries a 10 ms ping and
/// a second strongSwan peer connects through a COOKIE round trip.
/// <code>
///   flood (f0 10.99.4.2; replies for 10.98.0.0/16 dropped) ─ veth ─ gateway g2 10.99.4.1 (route 10.98.0.0/16 via f0)
///   late  (q0 10.99.5.2, inner 10.99.11.1)                  ─ veth ─ gateway g3 10.99.5.1
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
    private const int RealPerSecond = 200;
    private const int Sources = 4096;
    private const long RssBoundBytes = 256L * 1024 * 1024;

    [Fact(Timeout = 120_000)]
    [Trait("Category", "Root")]
    public async Task Init_flood_leaves_established_tunnel_and_new_peer_unharmed_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 100);
        var bed = scope.Bed;
        var flood = scope.Own(Netns.Create($"{bed.Id}-fl"));
        var late = scope.Own(Netns.Create($"{bed.Id}-late"));
        Netns.Veth(flood, "f0", bed.Gateway, "g2");
        flood.AddAddress("f0", FloodOwn + "/24");
        bed.Gateway.AddAddress("g2", "10.99.4.1/24");
        flood.AddRoute(NamespaceTestbed.GatewayOuter + "/32", "10.99.4.1");
        bed.Gateway.AddRoute(FloodNet + "/16", FloodOwn);
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

        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"), GatewayYaml(),
            scope.Remaining(TimeSpan.FromSeconds(25)), logLevel: "information"));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics());
        int pid = ProcessWithArgument(gateway.ConfigPath);
        scope.Log($"concentrator pid {pid}, RSS before: {Rss(pid, "VmRSS") / 1024} KiB");

        var up = await peer.InitiateAsync("gw", "net", timeoutSeconds: 15);
        Assert.True(up.Ok, "the established tunnel did not come up before the flood: " + up);
        var warm = await bed.Peer.ExecAsync(TimeSpan.FromSeconds(10), "ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", "-I", NamespaceTestbed.PeerInner, NamespaceTestbed.LanHost);
        Assert.True(warm.Ok, "ping through the tunnel failed before the flood: " + warm);

        // The flood, and for its whole length a 10 ms ping through the established tunnel.
        await using var flooder = IkeFlooder.Create(flood.Name, IPAddress.Parse(FloodOwn), new IPEndPoint(IPAddress.Parse(NamespaceTestbed.GatewayOuter), 500),
            IPAddress.Parse(FloodNet), Sources);
        const int pings = FloodSeconds * 100;
        // -w: a deadline, so the count is what was really sent in the flood's time (the loss is taken from the summary).
        var pingTask = bed.Peer.ExecAsync(TimeSpan.FromSeconds(FloodSeconds + 20), "ping", "-n", "-q", "-c", pings.ToString(CultureInfo.InvariantCulture),
            "-i", "0.01", "-W", "1", "-w", (FloodSeconds + 3).ToString(CultureInfo.InvariantCulture), "-I", NamespaceTestbed.PeerInner, NamespaceTestbed.LanHost);
        flooder.Start(SpoofedPerSecond, RealPerSecond, TimeSpan.FromSeconds(FloodSeconds));
        scope.Log($"flood started: {SpoofedPerSecond}/s spoofed from {Sources} addresses in {FloodNet}/16, {RealPerSecond}/s from {FloodOwn} answering cookies");

        // The newcomer connects while the flood is in full swing: its first IKE_SA_INIT is answered with a COOKIE.
        await Task.Delay(TimeSpan.FromSeconds(5));
        long spoofedByThen = flooder.SpoofedSent;
        var setup = Stopwatch.StartNew();
        var lateUp = await newcomer.InitiateAsync("gw", "net", timeoutSeconds: 20);
        double setupMs = setup.Elapsed.TotalMilliseconds;
        scope.Log($"newcomer: exit {lateUp.ExitCode} after {setupMs:0} ms (flood had sent {spoofedByThen} spoofed requests)");
        string midMetrics = await GatewayMetrics.ScrapeAsync(bed.Gateway);

        var pingResult = await pingTask;
        await flooder.Completion;
        int received = PingOutput.Received(pingResult);
        var transmitted = Regex.Match(pingResult.Stdout, @"(?<n>\d+) packets transmitted");
        Assert.True(transmitted.Success, "no ping summary: " + pingResult);
        int sentPings = int.Parse(transmitted.Groups["n"].Value, CultureInfo.InvariantCulture);
        double loss = 100.0 * (sentPings - received) / sentPings;
        long peakRss = Rss(pid, "VmHWM");
        string metrics = await GatewayMetrics.ScrapeAsync(bed.Gateway);
        double Dropped(string reason) => GatewayMetrics.Sum(metrics, "concentrator_ike_messages_dropped_total", $"reason=\"{reason}\"");
        double cookiesSent = GatewayMetrics.Sum(metrics, "concentrator_ike_cookies_sent_total");
        double halfOpenMid = GatewayMetrics.Sum(midMetrics, "concentrator_ike_half_open_sas");
        scope.Log($"flood: {flooder.SpoofedSent} spoofed + {flooder.RealSent} real requests in {FloodSeconds} s " +
                  $"({(flooder.SpoofedSent + flooder.RealSent) / (double)FloodSeconds:0}/s), {flooder.CookiesAnswered} cookies answered, " +
                  $"{flooder.Admitted} half-open SAs granted to the real-address stream");
        scope.Log($"ping: {PingOutput.Summary(pingResult)} -> loss {loss:0.00} %");
        scope.Log($"newcomer setup {setupMs:0} ms; peak RSS {peakRss / 1024 / 1024} MiB (bound {RssBoundBytes / 1024 / 1024} MiB); half-open mid-flood {halfOpenMid}");
        scope.Log($"refused: cookie_required {Dropped("cookie_required")}, per_source_limit {Dropped("per_source_limit")}, " +
                  $"half_open_limit {Dropped("half_open_limit")}, init_queue_full {Dropped("init_queue_full")}, " +
                  $"init_rate_limit {Dropped("init_rate_limit")}, auth_failed_backoff {Dropped("auth_failed_backoff")}; cookies sent {cookiesSent}");

        Assert.True(lateUp.Ok, "the newcomer did not get its tunnel during the flood: " + lateUp);
        Assert.Contains("N(COOKIE)", newcomer.Log());
        var lateSa = await newcomer.WaitInstalledAsync("gw", "net", scope.Remaining(TimeSpan.FromSeconds(5)));
        Assert.True(lateSa is not null, "newcomer: no ESTABLISHED IKE SA with an INSTALLED child");
        Assert.True(flooder.SpoofedSent + flooder.RealSent > 4 * 300 * FloodSeconds,
            $"the flood ({flooder.SpoofedSent + flooder.RealSent} requests) was not several times the handshake capacity");
        Assert.True(sentPings > pings / 2, $"only {sentPings} pings went out in the flood's {FloodSeconds} s");
        Assert.True(loss < 1.0, $"the established tunnel lost {loss:0.00} % of its pings under the flood");
        Assert.True(peakRss < RssBoundBytes, $"peak RSS {peakRss} bytes over the bound {RssBoundBytes}");
        Assert.True(Dropped("cookie_required") > flooder.SpoofedSent / 2, "spoofed requests were not refused as cookie_required");
        Assert.True(Dropped("per_source_limit") > 0, "the cookie-answering source was never held to block_threshold");
        Assert.True(flooder.Admitted <= 5 * (FloodSeconds / 5 + 2), $"the real-address stream got {flooder.Admitted} half-open SAs past block_threshold 5");
        Assert.InRange(halfOpenMid, 0, 100);
        Assert.False(gateway.HasExited, "the concentrator exited under the flood");
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
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
