using Concentrator.Testbed.Interop;

namespace Concentrator.Benchmarks;

/// <summary>
/// Round-trip time through the namespace testbed (<see cref="BenchTestbed"/>, the throughput suite's setup): ping from
/// the peer's inner address to the LAN host at idle and while iperf3 UDP runs at half the highest rate with &lt; 1% loss
/// found in the same testbed, for the concentrator on both ends, strongSwan (kernel-libipsec) on both ends and plain
/// routing; "added" is a configuration's figure minus plain routing's at the same load.
/// </summary>
public static class LatencySuite
{
    private static readonly TunnelConfig[] Variants = [BenchTestbed.Ours, BenchTestbed.Swan, BenchTestbed.Plain];

    private const double PingInterval = 0.01;

    /// <summary>The load is started this long before the pings, so they see it at its steady rate.</summary>
    private static readonly TimeSpan LoadLead = TimeSpan.FromSeconds(1);

    /// <summary>One ping run's percentiles (ms) and loss.</summary>
    private sealed record PingRun(double P50, double P99, double Max, double LossPercent);

    /// <summary>A row: the medians of the runs' percentiles, the largest max, the load offered and what it lost.</summary>
    private sealed record Row(double P50, double P99, double Max, double LossPercent, double LoadMbps, double LoadLossPercent, int Samples);

    public static async Task<Report> RunAsync(BenchOptions o)
    {
        int count = o.Quick ? 50 : 500;
        int repeats = o.Repeats ?? (o.Quick ? 1 : 3);
        int probeSeconds = o.Seconds ?? (o.Quick ? 1 : 2);
        int probes = o.Quick ? 4 : 7;
        const double startMbps = 1000;
        int loadSeconds = (int)Math.Ceiling(count * PingInterval + LoadLead.TotalSeconds + 2);

        var report = new Report("latency", "Round-trip time through the namespace testbed (ping, idle and under load)");
        report.Conditions.Add("Topology (Concentrator.Testbed/Interop/Testbed.cs), tunnels and ciphers as in the throughput suite (BenchTestbed): peer " +
                              "(10.99.1.2, inner 10.99.10.1) ─veth─ gateway ─veth─ LAN host 10.99.2.2; IKE " + BenchTestbed.Ike + ", ESP " +
                              BenchTestbed.Esp + "; every namespace created and torn down by this run.");
        report.Conditions.Add($"RTT: `ping -i {PingInterval} -c {count} -I 10.99.10.1 10.99.2.2` in the peer namespace (the echo request and reply both " +
                              $"cross the tunnel and the gateway); per run p50/p99 (nearest rank) and max of the replies' times; {repeats} run(s) per row, " +
                              "the median of the runs' p50 and p99 and the largest max reported.");
        report.Conditions.Add($"Loaded: iperf3 UDP (`-u -l {BenchTestbed.UdpPayload}`, {BenchTestbed.UdpInnerPacket}-byte inner packets, `-w {BenchTestbed.UdpSocketBuffer}`) from the peer's inner " +
                              "address to the LAN host at 50% of the highest offered rate with < 1% loss found in the same testbed just before " +
                              $"(the throughput suite's bounded search: {probeSeconds} s per probe, at most {probes} probes from {startMbps} Mbit/s); " +
                              $"the pings start {LoadLead.TotalSeconds} s into a {loadSeconds} s load.");
        report.Conditions.Add("Added = the configuration's figure minus plain routing's in the same load column (plain routing's load is 50% of its own, " +
                              "much higher, peak). Ratios ours/strongSwan are of the added figures.");
        report.Conditions.Add("All namespaces share the machine's cores: under load both IPsec ends, iperf3 and ping compete for the same CPUs, so " +
                              "the loaded figures include scheduling delay, the same for every configuration.");

        var missing = InteropPrerequisites.Missing(needDotnet: true).ToList();
        if (!Command.Exists("iperf3")) missing.Add("iperf3");
        if (!Command.Exists("ping")) missing.Add("ping (iputils-ping)");
        if (missing.Count > 0)
        {
            report.Failed = true;
            report.Notes.Add("NOT MEASURED: prerequisites missing: " + string.Join(", ", missing) + " (run scripts/install-deps.sh as root).");
            return report;
        }

        var rows = new Dictionary<(string Id, bool Loaded), Row>();
        foreach (var v in Variants)
        {
            if (!o.Includes(v.Id)) continue;
            Console.WriteLine($"latency {v.Id}: {v.Name}");
            try
            {
                var (idle, loaded, note) = await MeasureVariantAsync(v, count, repeats, probeSeconds, probes, startMbps, loadSeconds);
                if (note is not null) report.Notes.Add(note);
                rows[(v.Id, false)] = idle;
                rows[(v.Id, true)] = loaded;
                Console.WriteLine($"  idle p50 {Stats.F(idle.P50, 3)} p99 {Stats.F(idle.P99, 3)} ms; at {Stats.F(loaded.LoadMbps, 0)} Mbit/s " +
                                  $"p50 {Stats.F(loaded.P50, 3)} p99 {Stats.F(loaded.P99, 3)} ms");
            }
            catch (Exception ex)
            {
                report.NotMeasured(v.Name, ex);
            }
        }

        double Added(string id, bool loaded, Func<Row, double> f) =>
            rows.TryGetValue((id, loaded), out var r) && rows.TryGetValue(("plain", loaded), out var p) ? f(r) - f(p) : double.NaN;

        var table = report.AddTable("Results (ms)", "id", "configuration", "load", "load Mbit/s", "p50 ms", "p99 ms", "max ms",
            "added p50 ms", "added p99 ms", "ping loss %", "load loss %", "samples");
        foreach (var v in Variants)
        {
            foreach (bool loaded in new[] { false, true })
            {
                if (!rows.TryGetValue((v.Id, loaded), out var r)) continue;
                table.Add(v.Id, v.Name, loaded ? "50% of UDP max" : "idle", loaded ? Stats.F(r.LoadMbps, 0) : "0",
                    Stats.F(r.P50, 3), Stats.F(r.P99, 3), Stats.F(r.Max, 3),
                    v.Id == "plain" ? "0.000" : Stats.F(Added(v.Id, loaded, x => x.P50), 3),
                    v.Id == "plain" ? "0.000" : Stats.F(Added(v.Id, loaded, x => x.P99), 3),
                    Stats.F(r.LossPercent, 1), loaded ? Stats.F(r.LoadLossPercent, 2) : "n/a", r.Samples.ToString());
            }
        }

        var ratios = report.AddTable("Ratios (added RTT, ours/strongSwan: (a) / (b))", "figure", "idle", "50% of UDP max");
        ratios.Add("added p50", Stats.F(Added("ours", false, r => r.P50) / Added("swan", false, r => r.P50)),
            Stats.F(Added("ours", true, r => r.P50) / Added("swan", true, r => r.P50)));
        ratios.Add("added p99", Stats.F(Added("ours", false, r => r.P99) / Added("swan", false, r => r.P99)),
            Stats.F(Added("ours", true, r => r.P99) / Added("swan", true, r => r.P99)));
        ratios.Add("load offered, ours/strongSwan (Mbit/s)", "n/a",
            Stats.F((rows.TryGetValue(("ours", true), out var ol) ? ol.LoadMbps : double.NaN)
                    / (rows.TryGetValue(("swan", true), out var sl) ? sl.LoadMbps : double.NaN)));
        return report;
    }

    private static async Task<(Row Idle, Row Loaded, string? Note)> MeasureVariantAsync(TunnelConfig v, int count, int repeats, int probeSeconds, int probes,
        double startMbps, int loadSeconds)
    {
        await using var bed = await BenchTestbed.StartAsync(v);
        try
        {
            var idle = new List<PingRun>();
            for (int r = 0; r < repeats; r++) idle.Add(await PingRunAsync(bed, count));

            var max = await bed.MaxUdpRateAsync(startMbps, probeSeconds, probes);
            double loadMbps;
            string? note = null;
            if (max.Best is not null)
            {
                loadMbps = Math.Min(max.Best.OfferedMbps, max.Best.SentMbps) / 2;
            }
            else
            {
                // Every probe lost >= 1% (a starved shared machine): half of the most any probe delivered still loads
                // the tunnel at about half its capacity, which is what the loaded column is for.
                var most = max.Probes.MaxBy(p => p.ReceivedMbps)!;
                loadMbps = most.ReceivedMbps / 2;
                note = $"{v.Name}: no probe stayed under 1% loss ({string.Join(", ", max.Probes.Select(p => $"{Stats.F(p.OfferedMbps, 0)} Mbit/s: " +
                       $"{Stats.F(p.LossPercent, 1)}%"))}); the load is half the most a probe delivered ({Stats.F(most.ReceivedMbps, 0)} Mbit/s).";
            }

            var loaded = new List<PingRun>();
            var loadLoss = new List<double>();
            for (int r = 0; r < repeats; r++)
            {
                var load = bed.UdpAsync(loadMbps, loadSeconds);
                await Task.Delay(LoadLead);
                loaded.Add(await PingRunAsync(bed, count));
                loadLoss.Add((await load).LossPercent);
            }
            bed.MarkPassed();
            return (Summarise(idle, 0, double.NaN, count), Summarise(loaded, loadMbps, Stats.Median(loadLoss), count), note);
        }
        catch (Exception ex)
        {
            throw bed.Failure(ex);
        }
    }

    private static async Task<PingRun> PingRunAsync(BenchTestbed bed, int count)
    {
        var (rtts, sent) = await bed.PingAsync(count, PingInterval);
        Array.Sort(rtts);
        return new PingRun(Percentile(rtts, 50), Percentile(rtts, 99), rtts[^1], 100.0 * (sent - rtts.Length) / sent);
    }

    private static Row Summarise(List<PingRun> runs, double loadMbps, double loadLoss, int count) =>
        new(Stats.Median(runs.Select(r => r.P50)), Stats.Median(runs.Select(r => r.P99)), runs.Max(r => r.Max),
            Stats.Median(runs.Select(r => r.LossPercent)), loadMbps, loadLoss, runs.Count * count);

    /// <summary>Nearest-rank percentile of an ascending, non-empty array.</summary>
    private static double Percentile(double[] sorted, double p) =>
        sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];
}
