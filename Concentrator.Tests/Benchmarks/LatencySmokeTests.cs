using Concentrator.Testbed.Interop;
using Concentrator.Tests.Interop;
using Xunit.Abstractions;

namespace Concentrator.Tests.Benchmarks;

/// <summary>Smoke run of the latency suite (ping through the namespace testbed, idle and under a UDP load): no thresholds.</summary>
[Collection(InteropCollection.Name)]
[Trait("Category", "Root")]
public sealed class LatencySmokeTests(ITestOutputHelper output)
{
    [Fact(Timeout = 300_000)]
    [Trait("Category", "Root")]
    public async Task Latency_suite_quick_writes_idle_and_loaded_rows_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        foreach (var tool in new[] { "iperf3", "ping" })
        {
            if (Command.Exists(tool)) continue;
            if (InteropPrerequisites.InCi) Assert.Fail($"{tool} missing (run scripts/install-deps.sh as root)");
            output.WriteLine($"NOT RUN: {tool} missing");
            return;
        }

        var table = await BenchmarkRunner.RunAsync(output, "latency", [], TimeSpan.FromMinutes(4));
        string[] ids = ["ours", "swan", "plain"];
        Assert.Equal(ids.SelectMany(id => new[] { (id, "idle"), (id, "50% of UDP max") }).ToArray(),
            table.Rows.Select(r => (r["id"], r["load"])).ToArray());
        foreach (var r in table.Rows)
        {
            string row = $"{r["id"]} {r["load"]}";
            double p50 = BenchmarkRunner.Number(r["p50 ms"]), p99 = BenchmarkRunner.Number(r["p99 ms"]), max = BenchmarkRunner.Number(r["max ms"]);
            Assert.True(p50 > 0 && p50 <= p99 && p99 <= max, $"{row}: p50 {r["p50 ms"]}, p99 {r["p99 ms"]}, max {r["max ms"]}");
            Assert.Equal("50", r["samples"]);
            Assert.InRange(BenchmarkRunner.Number(r["ping loss %"]), 0, 100);
            bool loaded = r["load"] != "idle";
            Assert.True(loaded ? BenchmarkRunner.Number(r["load Mbit/s"]) > 0 : r["load Mbit/s"] == "0", $"{row}: load {r["load Mbit/s"]} Mbit/s");
            // Added latency is the row minus plain routing's at the same load: a number (it may be negative on a noisy machine).
            Assert.False(double.IsNaN(BenchmarkRunner.Number(r["added p50 ms"])), $"{row}: added p50 = {r["added p50 ms"]}");
            if (r["id"] == "plain") Assert.Equal("0.000", r["added p50 ms"]);
        }
        var ratios = BenchmarkRunner.Parse(table.Markdown, "## Ratios");
        Assert.Equal(["added p50", "added p99", "load offered, ours/strongSwan (Mbit/s)"], ratios.Rows.Select(r => r["figure"]).ToArray());
    }
}
