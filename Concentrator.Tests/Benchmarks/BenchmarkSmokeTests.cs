using System.Globalization;
using Concentrator.Testbed.Interop;
using Concentrator.Tests.Interop;
using Concentrator.Tests.Support;
using Xunit.Abstractions;

namespace Concentrator.Tests.Benchmarks;

/// <summary>
/// Smoke runs of the benchmark suites (Concentrator.Benchmarks, run as a process; it shares the namespace
/// harness, Concentrator.Testbed, with these tests). Each suite runs with --quick and tiny sizes; the tests assert that
/// the results file was written with one row per configuration and sane (positive) numbers. They never
/// assert a performance threshold: the machine is shared and the numbers are noisy.
/// </summary>
[Collection(InteropCollection.Name)]
public sealed class BenchmarkSmokeTests(ITestOutputHelper output)
{
    [Fact(Timeout = 240_000)]
    public async Task Esp_suite_quick_writes_a_row_per_cipher_and_size()
    {
        var table = await BenchmarkRunner.RunAsync(output, "esp", ["--sizes", "64,1400", "--repeats", "1"], TimeSpan.FromMinutes(3));
        var rows = table.Rows;
        int ciphers = System.Security.Cryptography.ChaCha20Poly1305.IsSupported ? 3 : 2;
        Assert.Equal(ciphers * 2, rows.Count);
        Assert.Equal(new[] { "AES-GCM-128", "AES-GCM-256", "ChaCha20-Poly1305" }[..ciphers], rows.Select(r => r["cipher"]).Distinct().ToArray());
        foreach (var r in rows)
        {
            Assert.Contains(r["inner bytes"], new[] { "64", "1400" });
            foreach (var column in new[] { "ESP packets/s", "ESP Gbit/s", "raw AEAD packets/s", "raw AEAD Gbit/s", "ESP / raw", "raw .NET packets/s", "ESP / raw .NET" })
                Assert.True(BenchmarkRunner.Number(r[column]) > 0, $"{r["cipher"]} {r["inner bytes"]}: {column} = {r[column]}");
            Assert.True(BenchmarkRunner.Number(r["ESP alloc B/packet"]) >= 0, "allocation column missing");
        }
    }

    [Fact(Timeout = 240_000)]
    public async Task Handshake_suite_quick_loopback_writes_a_row()
    {
        var table = await BenchmarkRunner.RunAsync(output, "handshake", ["--only", "loopback", "--peers", "10"], TimeSpan.FromMinutes(3));
        var row = Assert.Single(table.Rows);
        Assert.Equal("loopback", row["id"]);
        Assert.Equal("10", row["established"]);
        foreach (var column in new[] { "setups/s", "p50 ms", "p99 ms" })
            Assert.True(BenchmarkRunner.Number(row[column]) > 0, $"{column} = {row[column]}");
    }

    [Fact(Timeout = 300_000)]
    public async Task Scale_suite_quick_writes_a_row_per_tunnel_count()
    {
        var table = await BenchmarkRunner.RunAsync(output, "scale", ["--sizes", "64"], TimeSpan.FromMinutes(4));
        Assert.Equal(["200", "500"], table.Rows.Select(r => r["tunnels"]).ToArray());
        foreach (var r in table.Rows)
        {
            Assert.Equal(r["tunnels"], r["established"]);
            foreach (var column in new[] { "time to establish s", "setups/s", "with N / empty", "managed KiB/tunnel", "ESP N/1 (64 B, spread)" })
                Assert.True(BenchmarkRunner.Number(r[column]) > 0, $"{r["tunnels"]}: {column} = {r[column]}");
            // RSS may even shrink between the two readings (the GC decommits), so only its presence is checked.
            Assert.False(double.IsNaN(BenchmarkRunner.Number(r["RSS KiB/tunnel"])), $"{r["tunnels"]}: RSS KiB/tunnel = {r["RSS KiB/tunnel"]}");
            Assert.False(double.IsNaN(BenchmarkRunner.Number(r["RSS KiB/tunnel on 16 cores"])), $"{r["tunnels"]}: 16 cores = {r["RSS KiB/tunnel on 16 cores"]}");
        }
    }
}

/// <summary>The suites that need root and namespaces: throughput (iperf3 through the testbed) and the namespace handshakes.</summary>
[Collection(InteropCollection.Name)]
[Trait("Category", "Root")]
public sealed class BenchmarkRootSmokeTests(ITestOutputHelper output)
{
    [Fact(Timeout = 480_000)]
    [Trait("Category", "Root")]
    public async Task Throughput_suite_quick_writes_a_row_per_configuration_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        if (!Command.Exists("iperf3"))
        {
            if (InteropPrerequisites.InCi) Assert.Fail("iperf3 missing (run scripts/install-deps.sh as root)");
            output.WriteLine("NOT RUN: iperf3 missing");
            return;
        }

        var table = await BenchmarkRunner.RunAsync(output, "throughput", ["--seconds", "1", "--repeats", "1"], TimeSpan.FromMinutes(7));
        string[] ids = ["ours", "ours-encap", "ours-nooffload", "ours-nat", "swan", "swan-ours", "plain"];
        Assert.Equal(ids.SelectMany(id => new[] { (id, "1"), (id, "4") }).ToArray(),
            table.Rows.Select(r => (r["id"], r["streams"])).ToArray());
        foreach (var r in table.Rows)
        {
            string row = $"{r["id"]} {r["streams"]} client(s)";
            Assert.True(BenchmarkRunner.Number(r["Gbit/s"]) > 0, $"{row}: Gbit/s = {r["Gbit/s"]}");
            Assert.InRange(BenchmarkRunner.Number(r["machine busy %"]), 1, 100);
            if (r["id"] == "plain")
            {
                Assert.Equal(["n/a", "n/a", "n/a"], new[] { r["gateway CPU s/GB"], r["peer CPU s/GB"], r["both ends CPU s/GB"] });
                continue;
            }
            double gateway = BenchmarkRunner.Number(r["gateway CPU s/GB"]), peer = BenchmarkRunner.Number(r["peer CPU s/GB"]);
            Assert.True(gateway > 0 && peer > 0, $"{row}: CPU s/GB gateway {r["gateway CPU s/GB"]}, peer {r["peer CPU s/GB"]}");
            // One round: the median of the sums is the sum (each cell rounded to 0.01).
            Assert.InRange(BenchmarkRunner.Number(r["both ends CPU s/GB"]), gateway + peer - 0.011, gateway + peer + 0.011);
        }
        Assert.Equal("none", table.Rows.First(r => r["id"] == "ours")["YAML delta"]);
        Assert.Equal("tunnel: { udp_gro: yes }, encap: yes (both ends)", table.Rows.First(r => r["id"] == "ours-encap")["YAML delta"]);
        Assert.Equal("tunnel: { gro: no, tso: no, udp_gso: no }, encap: yes (both ends)", table.Rows.First(r => r["id"] == "ours-nooffload")["YAML delta"]);
        Assert.StartsWith("ESP-in-UDP 4500", table.Rows.First(r => r["id"] == "ours-encap")["ESP transport"]);

        var scaling = BenchmarkRunner.Parse(table.Markdown, "## 4 clients against 1");
        Assert.Equal(ids, scaling.Rows.Select(r => r["id"]).ToArray());
        foreach (var r in scaling.Rows)
        {
            double one = BenchmarkRunner.Number(r["1 client"]), four = BenchmarkRunner.Number(r["4 clients"]);
            // Cells are rounded to 0.01: the ratio lies within what the rounded rates allow.
            Assert.InRange(BenchmarkRunner.Number(r["4/1"]), (four - 0.005) / (one + 0.005) - 0.005, (four + 0.005) / (one - 0.005) + 0.005);
        }

        var ratios = BenchmarkRunner.Parse(table.Markdown, "## Ratios");
        foreach (string ratio in new[] { "Gbit/s, ours/strongSwan: (a) / (b)", "Gbit/s, ours/strongSwan on the same transport: (a-encap) / (b)",
                     "both ends CPU per GB, ours/strongSwan: (a) / (b)", "both ends CPU per GB, ours/strongSwan on the same transport: (a-encap) / (b)" })
        {
            var r = Assert.Single(ratios.Rows, r => r["ratio"] == ratio);
            Assert.True(BenchmarkRunner.Number(r["1 stream"]) > 0 && BenchmarkRunner.Number(r["4 streams"]) > 0, $"{ratio}: {r["1 stream"]}, {r["4 streams"]}");
        }

        // Every target measured, and its verdict follows from the measured value and the threshold.
        var targets = BenchmarkRunner.Parse(table.Markdown, "## Targets");
        Assert.Equal(6, targets.Rows.Count);
        Assert.Equal(["ours", "ours-encap", "ours", "ours-encap", "ours", "ours-encap"], targets.Rows.Select(r => r["row"]).ToArray());
        foreach (var r in targets.Rows)
        {
            double measured = BenchmarkRunner.Number(r["measured"]);
            Assert.True(measured > 0, $"{r["target"]} {r["row"]}: measured {r["measured"]}");
            bool atLeast = r["threshold"].StartsWith('≥');
            double threshold = BenchmarkRunner.Number(r["threshold"][1..].Trim());
            Assert.Contains(threshold, new[] { 10, 0.1, 1.6 });
            if (Math.Abs(measured - threshold) < 0.006) continue; // the rounded cell cannot tell
            Assert.Equal((atLeast ? measured >= threshold : measured <= threshold) ? "met" : "missed", r["verdict"]);
        }

        var udp = BenchmarkRunner.Parse(table.Markdown, "## UDP max rate");
        Assert.Equal(ids, udp.Rows.Select(r => r["id"]).ToArray());
        foreach (var r in udp.Rows)
        {
            Assert.NotEqual("", r["probes (offered Mbit/s: loss %)"]);
            if (r["offered Mbit/s"] == "none < 1% loss") continue;
            double gbps = BenchmarkRunner.Number(r["Gbit/s"]), kpps = BenchmarkRunner.Number(r["kpps"]);
            Assert.True(gbps > 0 && kpps > 0, $"{r["id"]}: UDP {r["Gbit/s"]} Gbit/s, {r["kpps"]} kpps");
            Assert.True(BenchmarkRunner.Number(r["loss %"]) < 1, $"{r["id"]}: best UDP rate lost {r["loss %"]}%");
            // iperf3 counts 1372-byte payloads: the packet rate and the bit rate describe the same datagrams.
            double expectedKpps = gbps * 1e9 / (1372 * 8) / 1000;
            Assert.InRange(kpps, expectedKpps * 0.9, expectedKpps * 1.1);
        }
        Assert.NotEqual("none < 1% loss", udp.Rows.Single(r => r["id"] == "plain")["offered Mbit/s"]);
    }

    [Fact(Timeout = 360_000)]
    [Trait("Category", "Root")]
    public async Task Handshake_suite_quick_namespaces_measures_responder_cpu_with_both_generators_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        string[] ids = ["ns-ours-charon", "ns-swan-charon", "ns-ours", "ns-swan"];
        // 50 setups per round: charon's CPU over a round of 10 can stay below one 10 ms clock tick of /proc/PID/stat.
        var table = await BenchmarkRunner.RunAsync(output, "handshake", ["--only", string.Join(',', ids), "--peers", "50"], TimeSpan.FromMinutes(5));
        Assert.Equal(ids, table.Rows.Select(r => r["id"]).ToArray());
        foreach (var r in table.Rows)
        {
            Assert.Equal("50", r["established"]);
            Assert.Equal(r["id"].EndsWith("-charon") ? "strongSwan charon 5.9 (vici)" : "fleet (`Concentrator loadtest`)", r["generator"]);
            // Every setup had its Child SA installed by the responder (not only an IKE SA the initiator counted).
            Assert.Equal("1.00", r["responder Child SAs/setup"]);
            foreach (var column in new[] { "responder CPU ms/setup", "generator CPU ms/setup", "cold: first 50, responder CPU ms/setup" })
            {
                // Measured (a number, not n/a); positive for the concentrator, which spends more than a clock tick per round.
                double v = BenchmarkRunner.Number(r[column]);
                Assert.True(r["id"].StartsWith("ns-ours") ? v > 0 : v >= 0, $"{r["id"]}: {column} = {r[column]}");
            }
            foreach (var column in new[] { "setups/s", "p99 ms" })
                Assert.True(BenchmarkRunner.Number(r[column]) > 0, $"{r["id"]}: {column} = {r[column]}");
            // charon at level 0 writes its established lines per setup; the concentrator's per-setup events are debug.
            if (r["id"].EndsWith("-charon"))
                Assert.True(r["id"].StartsWith("ns-swan") ? BenchmarkRunner.Number(r["responder log lines/setup"]) > 0 : BenchmarkRunner.Number(r["responder log lines/setup"]) >= 0,
                    $"{r["id"]}: log lines/setup = {r["responder log lines/setup"]}");
        }

        var headline = BenchmarkRunner.Parse(table.Markdown, "## Headline");
        Assert.Equal(["strongSwan charon initiator", "fleet initiator"], headline.Rows.Select(r => r["generator"]).ToArray());
        foreach (var r in headline.Rows)
        {
            Assert.True(BenchmarkRunner.Number(r["(a') concentrator"]) > 0, $"{r["generator"]}: ours = {r["(a') concentrator"]}");
            Assert.True(BenchmarkRunner.Number(r["(b) strongSwan"]) >= 0, $"{r["generator"]}: strongSwan = {r["(b) strongSwan"]}");
        }
        var targets = BenchmarkRunner.Parse(table.Markdown, "## Targets");
        Assert.Equal(4, targets.Rows.Count);
        foreach (var r in targets.Rows.Where(r => r["target"].StartsWith("cold start", StringComparison.Ordinal)))
        {
            Assert.True(BenchmarkRunner.Number(r["measured"]) > 0, $"{r["target"]}: {r["measured"]}");
            Assert.Contains(r["met"], new[] { "met", "missed" });
        }
    }

    [Fact(Timeout = 420_000)]
    [Trait("Category", "Root")]
    public async Task Handshake_suite_quick_certificate_rows_measure_both_responders_with_the_same_pki_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true, needPki: true)) return;
        string[] ids = ["ns-ours-rsa3072", "ns-swan-rsa3072", "ns-ours-ecdsa256", "ns-swan-ecdsa256"];
        var table = await BenchmarkRunner.RunAsync(output, "handshake", ["--only", string.Join(',', ids), "--peers", "10"], TimeSpan.FromMinutes(6));
        Assert.Equal(ids, table.Rows.Select(r => r["id"]).ToArray());
        foreach (var r in table.Rows)
        {
            Assert.Equal("10", r["established"]);
            Assert.True(BenchmarkRunner.Number(r["setups/s"]) > 0, $"{r["id"]}: setups/s = {r["setups/s"]}");
            Assert.Contains("certificates", r["responder"]);
            Assert.True(BenchmarkRunner.Number(r["responder CPU ms/setup"]) > 0, $"{r["id"]}: responder CPU = {r["responder CPU ms/setup"]}");
            Assert.Equal("1.00", r["responder Child SAs/setup"]);
        }
        var ratios = BenchmarkRunner.Parse(table.Markdown, "## Ratios (same generator, same link)");
        Assert.Contains(ratios.Rows, r => r["ratio"] == "setups/s ours/strongSwan: (a') / (b), RSA-3072 certificates" && BenchmarkRunner.Number(r["value"]) > 0);
        Assert.Contains(ratios.Rows, r => r["ratio"] == "setups/s ours/strongSwan: (a') / (b), ECDSA-256 certificates" && BenchmarkRunner.Number(r["value"]) > 0);
    }
}

/// <summary>Runs the built Concentrator.Benchmarks (same configuration as this test assembly) and reads its Results table.</summary>
internal static class BenchmarkRunner
{
    public sealed record ResultTable(IReadOnlyList<IReadOnlyDictionary<string, string>> Rows)
    {
        /// <summary>The whole results file, for suites with more than one table.</summary>
        public string Markdown { get; init; } = "";
    }

    public static async Task<ResultTable> RunAsync(ITestOutputHelper output, string suite, string[] extra, TimeSpan timeout)
    {
        string dll = await LocateAsync(output);
        string outFile = Path.Combine(Path.GetTempPath(), $"bench-smoke-{suite}-{Environment.ProcessId}-{Guid.NewGuid():N}.md");
        try
        {
            var r = await Command.RunAsync("dotnet", [dll, suite, "--quick", "--out", outFile, .. extra], timeout,
                new Dictionary<string, string> { ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1", ["DOTNET_NOLOGO"] = "1" });
            output.WriteLine(r.ToString());
            Assert.True(r.Ok, $"benchmark {suite} failed: {r}");
            Assert.True(File.Exists(outFile), "results file not written: " + outFile);
            string markdown = await File.ReadAllTextAsync(outFile);
            output.WriteLine(markdown);
            Assert.Contains("| cores |", markdown);
            Assert.Contains("| CPU |", markdown);
            Assert.Contains("| kernel |", markdown);
            Assert.Contains("| .NET |", markdown);
            return Parse(markdown) with { Markdown = markdown };
        }
        finally
        {
            File.Delete(outFile);
        }
    }

    /// <summary>The first table under a heading starting with <paramref name="heading"/>, as rows keyed by column header.</summary>
    public static ResultTable Parse(string markdown, string heading = "## Results")
    {
        var lines = markdown.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        int at = lines.FindIndex(l => l.StartsWith(heading, StringComparison.Ordinal));
        Assert.True(at >= 0, $"no '{heading}' table in:\n" + markdown);
        var tableLines = lines.Skip(at + 1).SkipWhile(l => !l.StartsWith('|')).TakeWhile(l => l.StartsWith('|')).ToList();
        Assert.True(tableLines.Count >= 2, "Results table has no header:\n" + markdown);
        static string[] Cells(string line) => line.Trim().Trim('|').Split('|').Select(c => c.Trim()).ToArray();
        var header = Cells(tableLines[0]);
        var rows = new List<IReadOnlyDictionary<string, string>>();
        foreach (var line in tableLines.Skip(2))
        {
            var cells = Cells(line);
            Assert.Equal(header.Length, cells.Length);
            rows.Add(header.Zip(cells).ToDictionary(p => p.First, p => p.Second));
        }
        return new ResultTable(rows);
    }

    /// <summary>A table number ("1,234", "0.52"); NaN for "n/a".</summary>
    public static double Number(string cell) =>
        double.TryParse(cell.Replace(",", ""), NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v : double.NaN;

    /// <summary>Concentrator.Benchmarks.dll of this build configuration; built (bounded) when missing.</summary>
    private static async Task<string> LocateAsync(ITestOutputHelper output)
    {
        var baseDir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string framework = baseDir.Name;                 // net10.0
        string configuration = baseDir.Parent!.Name;     // Release / Debug
        string project = Path.Combine(Repository.Root, "Concentrator.Benchmarks");
        string dll = Path.Combine(project, "bin", configuration, framework, "Concentrator.Benchmarks.dll");
        if (!File.Exists(dll))
        {
            output.WriteLine($"{dll} missing: building Concentrator.Benchmarks ({configuration})");
            var build = await Command.RunAsync("dotnet", ["build", project, "-c", configuration, "-nologo", "-v", "quiet"], TimeSpan.FromMinutes(5));
            Assert.True(build.Ok, "building Concentrator.Benchmarks failed: " + build);
        }
        return dll;
    }
}
