using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Concentrator.Testbed.Interop;
using Xunit.Abstractions;

namespace Concentrator.Tests.Interop;


/// <summary>
/// Issue 8 item 5: ESP abuse costs an established tunnel nothing measurable and allocates nothing per packet.
/// A strongSwan peer (NAT-T encapsulation, so ESP reaches the UDP 4500 workers) pings the LAN host every
/// 10 ms, once quietly and once while its namespace floods the concentrator's 4500 with unknown SPIs,
/// runts, replays of a captured ESP packet and that packet with a fresh sequence number (ICV mismatch).
/// The flood must cost the tunnel no pings (loss at most <see cref="MaxLossPercent"/>), every drop is counted
/// by reason, and the packet threads' allocated bytes (<c>/dataplane</c>) do not grow across the flood.
/// </summary>
[Collection(InteropCollection.Name)]
[Trait("Category", "Root")]
public sealed partial class EspAbuseRootTests(ITestOutputHelper output)
{
    private const int PerKind = 5000;
    private const int Pings = 300;
    private const double MaxLossPercent = 1.0;

    /// <summary>As in <see cref="DataPlaneAllocationRootTests"/>: zero per packet, slack for one rare bounded event.</summary>
    private const long AllowedGrowthBytes = 1024;

    [Fact(Timeout = 120_000)]
    [Trait("Category", "Root")]
    public async Task Esp_flood_costs_the_tunnel_nothing_and_allocates_nothing_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 100);
        var bed = scope.Bed;

        var (_, gateway) = await HostileInputTunnel.UpAsync(scope, yaml => yaml.Replace("mtu: 1400,", "mtu: 1400, workers: 1,"));

        // Warm-up: traffic and a small flood, so every drop path has run its one-time setup (metric series, batches).
        Assert.True((await Ping(bed, 20)).Ok, "warm-up ping failed");
        Assert.True((await Flood(bed, 200)).Ok, "warm-up flood failed");
        await Task.Delay(500);

        var quiet = await Ping(bed, Pings);
        scope.Log("quiet:  " + PingOutput.Summary(quiet) + " " + Rtt(quiet));
        long allocatedBefore = await PacketThreadAllocatedBytes(bed);
        string before = await GatewayMetrics.ScrapeAsync(bed.Gateway);

        var clock = Stopwatch.StartNew();
        var pinging = Ping(bed, Pings);
        var flood = await Flood(bed, PerKind);
        var loaded = await pinging;
        scope.Log($"flood ({clock.Elapsed.TotalSeconds:F1} s): {flood.Stdout.Trim()}");
        scope.Log("during: " + PingOutput.Summary(loaded) + " " + Rtt(loaded));
        Assert.True(flood.Ok, "flood generator failed: " + flood);
        Assert.Contains("esp_bad_icv=" + PerKind, flood.Stdout);
        await Task.Delay(500);
        long allocatedAfter = await PacketThreadAllocatedBytes(bed);
        string after = await GatewayMetrics.ScrapeAsync(bed.Gateway);
        double Delta(string reason) => GatewayMetrics.Sum(after, "concentrator_esp_dropped_packets_total", $"reason=\"{reason}\"") -
                                       GatewayMetrics.Sum(before, "concentrator_esp_dropped_packets_total", $"reason=\"{reason}\"");
        scope.Log($"drops: replay {Delta("replay")}, auth_failed {Delta("auth_failed")}, no_sa {Delta("no_sa")}, malformed {Delta("malformed")}");
        scope.Log($"packet threads allocated {allocatedBefore} -> {allocatedAfter} bytes across {4 * PerKind} hostile packets");

        double loss = 100.0 * (Pings - PingOutput.Received(loaded)) / Pings;
        Assert.True(loss <= MaxLossPercent, $"the tunnel lost {loss:F1}% of its pings under the flood");
        Assert.True(Delta("replay") >= PerKind * 0.9, "replays counted");
        Assert.True(Delta("auth_failed") >= PerKind * 0.9, "ICV failures counted");
        Assert.True(Delta("no_sa") >= PerKind * 0.9, "unknown SPIs counted");
        Assert.True(Delta("malformed") >= PerKind * 0.9, "runts counted");
        Assert.InRange(allocatedAfter - allocatedBefore, 0, AllowedGrowthBytes);
        Assert.False(gateway.HasExited);
        scope.Passed();
    }

    private static Task<CommandResult> Ping(NamespaceTestbed bed, int count) =>
        bed.Peer.ExecAsync(TimeSpan.FromSeconds(30), "ping", "-n", "-q", "-c", count.ToString(CultureInfo.InvariantCulture), "-i", "0.01",
            "-W", "1", "-I", NamespaceTestbed.PeerInner, NamespaceTestbed.LanHost);

    private static Task<CommandResult> Flood(NamespaceTestbed bed, int perKind) =>
        bed.Peer.ExecAsync(TimeSpan.FromSeconds(40), "/usr/bin/python3", HostileInputTunnel.StormScript, NamespaceTestbed.GatewayOuter,
            perKind.ToString(CultureInfo.InvariantCulture), "5", NamespaceTestbed.PeerDevice, "esp");

    private static async Task<long> PacketThreadAllocatedBytes(NamespaceTestbed bed)
    {
        var r = await bed.Gateway.ExecCheckedAsync(TimeSpan.FromSeconds(10), "curl", "-sS", "-f", "--max-time", "5", "http://127.0.0.1:9400/dataplane");
        using var doc = JsonDocument.Parse(r.Stdout);
        return doc.RootElement.GetProperty("packetThreadAllocatedBytes").GetInt64();
    }

    private static string Rtt(CommandResult r) => RttPattern().Match(r.Stdout) is { Success: true } m ? "rtt " + m.Value : "";

    [GeneratedRegex(@"[\d.]+/[\d.]+/[\d.]+/[\d.]+ ms")]
    private static partial Regex RttPattern();
}
