using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Concentrator.Testbed.Interop;
using Xunit.Abstractions;

namespace Concentrator.Tests.Interop;


/// <summary>
/// The Linux data plane's packet threads do not allocate per packet (DEVELOPERS.md: hot path without
/// allocation). Two concentrator processes, site to site over plain ESP (IP protocol 50, no NAT):
/// <code>
///   peer ns: concentrator A (initiator, 10.99.1.2; inner 10.99.10.1 on lo, route 10.99.2.0/24 via its TUN)
///     └─ veth ─ gateway ns: concentrator B (responder, 10.99.1.1, forwarding) ─ veth ─ lan ns (10.99.2.2)
/// </code>
/// After a warm-up (every packet thread has run its one-time setup: batches, per-thread scratch,
/// metric series), <c>/dataplane</c>'s packetThreadAllocatedBytes of both processes is read, a burst
/// of flood ping (5000 echo requests and replies) and 2 s of iperf3 UDP goes through the tunnel,
/// and the figure is read again: it must not grow. One packet worker per process, so the same
/// threads (esp-out-0, esp-raw-in; esp-in-0 sees no traffic without NAT-T) carry warm-up and burst.
/// </summary>
[Collection(InteropCollection.Name)]
[Trait("Category", "Root")]
public sealed partial class DataPlaneAllocationRootTests(ITestOutputHelper output)
{
    private const int HttpPort = 9400;
    private const int BurstPings = 5000;

    /// <summary>Bytes the packet threads may allocate during the whole burst. Zero per packet is the rule;
    /// the slack admits one rare, bounded event (e.g. a one-off lazy initialisation), never per-packet cost.</summary>
    private const long AllowedGrowthBytes = 1024;

    [Fact(Timeout = 60_000)]
    [Trait("Category", "Root")]
    public async Task Packet_threads_do_not_allocate_under_a_burst_Root()
    {
        if (!InteropPrerequisites.CheckRoot(output, "ip", "nft", "ping", "iperf3", "sysctl", "bash", "dotnet")) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 55);
        var bed = scope.Bed;
        bed.Peer.Sysctl("net.ipv4.conf.all.rp_filter", "0");
        bed.Peer.Sysctl("net.ipv4.conf.default.rp_filter", "0");

        var gw = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator-gw"),
            SiteYaml(NamespaceTestbed.GatewayOuter, "\"%any\"", SwanctlConf.GatewayId, SwanctlConf.PeerId, NamespaceTestbed.LanSubnet, NamespaceTestbed.PeerInnerSubnet, "none"),
            scope.Remaining(TimeSpan.FromSeconds(20)), logLevel: "debug"));
        scope.AddDiagnostics("concentrator gw", () => gw.Diagnostics());
        var peer = scope.Own(await ConcentratorProcess.StartAsync(bed.Peer, bed.Dir("concentrator-peer"),
            SiteYaml(bed.PeerOuter, NamespaceTestbed.GatewayOuter, SwanctlConf.PeerId, SwanctlConf.GatewayId, NamespaceTestbed.PeerInner + "/32", NamespaceTestbed.LanSubnet, "start"),
            scope.Remaining(TimeSpan.FromSeconds(20)), logLevel: "debug"));
        scope.AddDiagnostics("concentrator peer", () => peer.Diagnostics());
        scope.Log("both concentrators listening");

        Assert.True(await peer.WaitForEventAsync(ConcentratorProcess.ChildSaInstalled, scope.Remaining(TimeSpan.FromSeconds(15))),
            "the initiating concentrator did not install its Child SA (1003)");
        Assert.True(await gw.WaitForEventAsync(ConcentratorProcess.ChildSaInstalled, scope.Remaining(TimeSpan.FromSeconds(5))),
            "the responding concentrator did not install its Child SA (1003)");
        scope.Log("Child SA installed on both: " + gw.EventsWithId(ConcentratorProcess.ChildSaInstalled)[0].Message);

        InstallEspCounter(bed.Gateway, bed.WorkDir);
        var iperfServer = bed.Lan.Start(["iperf3", "-s", "-B", NamespaceTestbed.LanHost], Path.Combine(bed.WorkDir, "iperf3-server.txt"),
            Path.Combine(bed.WorkDir, "iperf3-server.stderr"));
        scope.AddDiagnostics("iperf3 server", () => iperfServer.ReadStdout() + iperfServer.ReadStderr());

        // ---- warm-up: the same kinds of traffic as the burst, so every packet thread has done its first batches.
        var warmPing = await Ping(bed, count: 300, scope);
        Assert.True(warmPing.Received >= 250, $"warm-up ping through the tunnel: {warmPing.Summary}");
        await Iperf(bed, seconds: 1, scope);
        await Task.Delay(300);

        var gw0 = await ReadPlane(bed.Gateway);
        var peer0 = await ReadPlane(bed.Peer);
        long esp0 = ReadEspCounter(bed.Gateway);
        scope.Log($"after warm-up: gw {gw0}, peer {peer0}, ESP packets on the gateway's underlay {esp0}");
        Assert.True(gw0.AllocatedBytes > 0 && peer0.AllocatedBytes > 0, "packetThreadAllocatedBytes is not sampled (0 after the warm-up)");
        Assert.Equal(1, gw0.Installed);
        Assert.Equal(1, peer0.Installed);

        // ---- burst: flood ping (requests and replies through both planes) and iperf3 UDP.
        var clock = Stopwatch.StartNew();
        var burstPing = await Ping(bed, count: BurstPings, scope);
        var iperf = await Iperf(bed, seconds: 2, scope);
        scope.Log($"burst took {clock.Elapsed.TotalSeconds:F1} s; iperf3: {iperf}");
        await Task.Delay(300);

        var gw1 = await ReadPlane(bed.Gateway);
        var peer1 = await ReadPlane(bed.Peer);
        long esp1 = ReadEspCounter(bed.Gateway);
        scope.Log($"after the burst: gw {gw1}, peer {peer1}, ESP packets on the gateway's underlay {esp1}");

        // The burst really went through both data planes as plain ESP.
        Assert.True(burstPing.Received >= BurstPings * 95 / 100, $"flood ping through the tunnel: {burstPing.Summary}");
        Assert.True(esp1 - esp0 >= 2 * burstPing.Received, $"only {esp1 - esp0} ESP (protocol 50) packets crossed the gateway's underlay");
        foreach (var (name, before, after) in new[] { ("gw", gw0, gw1), ("peer", peer0, peer1) })
        {
            Assert.True(after.PacketsIn - before.PacketsIn >= burstPing.Received,
                $"{name}: decrypted {after.PacketsIn - before.PacketsIn} packets in the burst, fewer than the {burstPing.Received} pings answered");
            Assert.True(after.PacketsOut - before.PacketsOut >= burstPing.Received,
                $"{name}: encrypted {after.PacketsOut - before.PacketsOut} packets in the burst, fewer than the {burstPing.Received} pings answered");
        }

        long gwGrowth = gw1.AllocatedBytes - gw0.AllocatedBytes;
        long peerGrowth = peer1.AllocatedBytes - peer0.AllocatedBytes;
        scope.Log($"packet-thread allocation during the burst: gw {gwGrowth} B over {gw1.PacketsIn - gw0.PacketsIn + gw1.PacketsOut - gw0.PacketsOut} packets, " +
                  $"peer {peerGrowth} B over {peer1.PacketsIn - peer0.PacketsIn + peer1.PacketsOut - peer0.PacketsOut} packets");
        Assert.True(gwGrowth <= AllowedGrowthBytes, $"gateway packet threads allocated {gwGrowth} bytes during the burst");
        Assert.True(peerGrowth <= AllowedGrowthBytes, $"peer packet threads allocated {peerGrowth} bytes during the burst");
        Assert.False(gw.HasExited || peer.HasExited, "a concentrator exited");
        scope.Passed();
    }

    /// <summary>Site-to-site over plain ESP: one packet worker, routes for the remote selectors, no NAT-T.</summary>
    private static string SiteYaml(string local, string remote, string localId, string remoteId, string localTs, string remoteTs, string startAction) => $$"""
        # generated by DataPlaneAllocationRootTests
        listen: { addresses: [{{local}}], ike_port: 500, natt_port: 4500 }
        http: { listen: "127.0.0.1:{{HttpPort}}" }
        tunnel: { type: tun, device: ipsec0, mtu: 1400, workers: 1, install_routes: yes, plain_esp: yes }
        connections:
          site:
            version: 2
            local_addrs: [{{local}}]
            remote_addrs: [{{remote}}]
            proposals: [aes256gcm16-prfsha256-ecp256]
            encap: no
            keyingtries: 1
            local: { auth: psk, id: {{localId}} }
            remote: { auth: psk, id: {{remoteId}} }
            children:
              net:
                local_ts: [{{localTs}}]
                remote_ts: [{{remoteTs}}]
                esp_proposals: [aes256gcm16]
                start_action: {{startAction}}
        secrets:
          ike-site: { id: [{{SwanctlConf.PeerId}}, {{SwanctlConf.GatewayId}}], secret: "{{SwanctlConf.Psk}}" }
        """;

    private sealed record PingResult(int Received, string Summary);

    private static async Task<PingResult> Ping(NamespaceTestbed bed, int count, InteropScope scope)
    {
        var r = await bed.Peer.ExecAsync(scope.Remaining(TimeSpan.FromSeconds(25)),
            "ping", "-n", "-q", "-f", "-c", count.ToString(CultureInfo.InvariantCulture), "-w", "20", "-W", "1",
            "-I", NamespaceTestbed.PeerInner, NamespaceTestbed.LanHost);
        string summary = string.Join(" | ", r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.Contains("received") || l.Contains("rtt")));
        var m = ReceivedPattern().Match(r.Stdout);
        int received = m.Success ? int.Parse(m.Groups["n"].Value, CultureInfo.InvariantCulture) : 0;
        scope.Log($"ping -f -c {count}: {summary}");
        return new PingResult(received, summary.Length > 0 ? summary : r.ToString());
    }

    private static async Task<string> Iperf(NamespaceTestbed bed, int seconds, InteropScope scope)
    {
        var r = await bed.Peer.ExecAsync(scope.Remaining(TimeSpan.FromSeconds(seconds + 10)),
            "iperf3", "-c", NamespaceTestbed.LanHost, "-B", NamespaceTestbed.PeerInner, "-u", "-b", "30M", "-l", "1200",
            "-t", seconds.ToString(CultureInfo.InvariantCulture), "--connect-timeout", "3000");
        Assert.True(r.Ok, "iperf3 UDP through the tunnel failed: " + r);
        string summary = string.Join(" | ", r.Stdout.Split('\n').Where(l => l.Contains("receiver") || l.Contains("sender")).Select(l => Regex.Replace(l.Trim(), @"\s+", " ")));
        scope.Log($"iperf3 -u -t {seconds}: {summary}");
        return summary;
    }

    private sealed record PlaneReading(int Installed, long AllocatedBytes, double PacketsIn, double PacketsOut)
    {
        public override string ToString() =>
            $"installed {Installed}, packetThreadAllocatedBytes {AllocatedBytes}, ESP packets in {PacketsIn} out {PacketsOut}";
    }

    /// <summary>/dataplane and the ESP packet counters of /metrics, fetched inside the namespace (plain HTTP over bash's /dev/tcp).</summary>
    private static async Task<PlaneReading> ReadPlane(Netns ns)
    {
        string plane = await HttpGet(ns, "/dataplane");
        using var doc = JsonDocument.Parse(plane);
        var root = doc.RootElement;
        Assert.True(root.TryGetProperty("packetThreadAllocatedBytes", out var allocated), "/dataplane has no packetThreadAllocatedBytes: " + plane);
        Assert.Equal(1, root.GetProperty("workers").GetInt32());
        Assert.StartsWith("OpenSSL 3", root.GetProperty("espCrypto").GetString()); // the EVP transform, not the .NET fallback

        string metrics = await HttpGet(ns, "/metrics");
        double packetsIn = 0, packetsOut = 0;
        foreach (Match m in EspPacketsPattern().Matches(metrics))
        {
            double v = double.Parse(m.Groups["v"].Value, CultureInfo.InvariantCulture);
            if (m.Groups["dir"].Value == "in") packetsIn += v;
            else packetsOut += v;
        }
        return new PlaneReading(root.GetProperty("installed").GetInt32(), allocated.GetInt64(), packetsIn, packetsOut);
    }

    private static async Task<string> HttpGet(Netns ns, string path)
    {
        var r = await ns.ExecAsync(TimeSpan.FromSeconds(10), "bash", "-c",
            $"exec 3<>/dev/tcp/127.0.0.1/{HttpPort} && printf 'GET {path} HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\n\\r\\n' >&3 && cat <&3");
        Assert.True(r.Ok, $"GET {path} in {ns.Name} failed: {r}");
        int body = r.Stdout.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        Assert.True(body > 0 && r.Stdout.StartsWith("HTTP/1.1 200", StringComparison.Ordinal), $"GET {path}: {r.Stdout}");
        return r.Stdout[(body + 4)..];
    }

    /// <summary>Counts IP protocol 50 packets through the gateway namespace's underlay (both directions).</summary>
    private static void InstallEspCounter(Netns ns, string workDir)
    {
        string rules = """
            table inet cit_alloc {
              counter esp_packets { }
              chain input {
                type filter hook input priority 0; policy accept;
                meta l4proto esp counter name "esp_packets"
              }
              chain output {
                type filter hook output priority 0; policy accept;
                meta l4proto esp counter name "esp_packets"
              }
            }
            """;
        string file = Path.Combine(workDir, $"esp-counter-{ns.Name}.nft");
        File.WriteAllText(file, rules + "\n");
        ns.Exec("nft", "-f", file);
    }

    private static long ReadEspCounter(Netns ns)
    {
        var text = ns.Exec("nft", "list", "counter", "inet", "cit_alloc", "esp_packets").Stdout;
        var m = CounterPackets().Match(text);
        Assert.True(m.Success, "nft counter esp: " + text);
        return long.Parse(m.Groups["n"].Value, CultureInfo.InvariantCulture);
    }

    [GeneratedRegex(@"(?<n>\d+) received")]
    private static partial Regex ReceivedPattern();

    [GeneratedRegex(@"^concentrator_esp_packets_total\{(?=[^}]*direction=""(?<dir>in|out)"")[^}]*\} (?<v>[0-9.eE+]+)", RegexOptions.Multiline)]
    private static partial Regex EspPacketsPattern();

    [GeneratedRegex(@"packets (?<n>\d+)")]
    private static partial Regex CounterPackets();
}
