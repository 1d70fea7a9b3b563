using Concentrator.Testbed.Interop;

namespace Concentrator.Benchmarks;

/// <summary>
/// iperf3 through the interop testbed (<see cref="BenchTestbed"/>: peer ↔ gateway ↔ LAN host, namespaces only): TCP with
/// 1 and 4 client processes and the highest UDP rate with &lt; 1% loss, for the concentrator on both ends (plain ESP, forced
/// ESP-in-UDP, and the rows of <see cref="Variants"/>), strongSwan (kernel-libipsec) on both ends, a strongSwan peer against
/// the concentrator gateway, and plain routing as the ceiling. Every configuration's testbed is up for the whole run
/// (namespaces of their own, so identical addresses never meet); only one carries traffic at a time, and each round runs
/// every configuration once (a, b, c, a, b, c …). CPU is measured at both IPsec ends. <c>--profile</c> samples both
/// daemons of <see cref="Profiled"/> with perf during their last 1-stream run.
/// </summary>
public static partial class ThroughputSuite
{
    /// <summary>
    /// The configurations in round and table order. A concentrator ↔ concentrator row that differs only in YAML is one
    /// <see cref="BenchTestbed.Concentrators"/> entry here (its tunnel keys and encap go to both ends and into the report).
    /// </summary>
    private static readonly TunnelConfig[] Variants =
    [
        BenchTestbed.Ours, BenchTestbed.OursEncap, BenchTestbed.OursNoOffload, BenchTestbed.OursNat, BenchTestbed.Swan, BenchTestbed.SwanOurs, BenchTestbed.Plain,
    ];

    /// <summary>Client processes per run: one stream each.</summary>
    private static readonly int[] Streams = [1, 4];

    /// <summary>How long a testbed's continued daemons run their late timers before it is measured.</summary>
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(1);

    /// <summary>An untimed 1-client run per configuration before the rounds: JIT tiering and the first TCP connection's cold start.</summary>
    private const int WarmUpSeconds = 2;

    /// <summary>Rows whose gateway and peer daemons --profile samples.</summary>
    private static readonly string[] Profiled = ["ours", "swan-ours"];

    /// <summary>perf.data files of --profile: kept for `perf report` after the run, outside the repository (they are large).</summary>
    private static readonly string ProfileDataDir = Path.Combine(Path.GetTempPath(), "concentrator-bench-profiles");

    /// <summary>Every TCP run of one configuration and client count, in round order (index i is round i).</summary>
    private sealed class Runs : Dictionary<(string Id, int Streams), List<TcpRun>>
    {
        public double Median(string id, int streams, Func<TcpRun, double> metric) =>
            TryGetValue((id, streams), out var list) ? Stats.Median(list.Select(metric)) : double.NaN;

        /// <summary>The same round's runs of two rows divided, round by round.</summary>
        public double[] PerRound((string Id, int Streams) a, (string Id, int Streams) b, Func<TcpRun, double> metric) =>
            TryGetValue(a, out var x) && TryGetValue(b, out var y) ? x.Zip(y, (p, q) => metric(p) / metric(q)).ToArray() : [];
    }

    public static async Task<Report> RunAsync(BenchOptions o)
    {
        int seconds = o.Seconds ?? (o.Quick ? 2 : 10);
        int repeats = o.Repeats ?? (o.Quick ? 1 : 3);
        int udpSeconds = Math.Min(seconds, 3);
        int udpProbes = o.Quick ? 3 : 8;
        var report = new Report("throughput", "IPsec throughput through the namespace testbed (iperf3 TCP and UDP)");
        AddConditions(report, o, seconds, repeats, udpSeconds, udpProbes);

        var missing = InteropPrerequisites.Missing(needDotnet: true).ToList();
        if (!Command.Exists("iperf3")) missing.Add("iperf3");
        if (o.Profile && !Command.Exists("perf")) missing.Add("perf (linux-perf)");
        if (missing.Count > 0)
        {
            report.Failed = true;
            report.Notes.Add("NOT MEASURED: prerequisites missing: " + string.Join(", ", missing) + " (run scripts/install-deps.sh as root).");
            return report;
        }

        var runs = new Runs();
        var udp = new Dictionary<string, UdpMaxRate>();
        var beds = new List<BenchTestbed>();
        var failed = new HashSet<string>();
        double idleCpu = 0, measured = 0;
        try
        {
            foreach (var v in Variants.Where(v => o.Includes(v.Id)))
            {
                Console.WriteLine($"throughput {v.Id}: starting {v.Name}");
                try
                {
                    beds.Add(await BenchTestbed.StartAsync(v, new TunnelStart(PerfMap: o.Profile && Profiled.Contains(v.Id), IperfServers: Streams.Max())));
                }
                catch (Exception ex)
                {
                    report.NotMeasured(v.Name, ex);
                }
            }

            report.Notes.Add(await IdleCpuAsync(beds, Math.Min(seconds, 5)));
            foreach (var bed in beds) bed.Pause(true);
            foreach (var bed in beds) await AloneAsync(bed, bed.Config.Name, () => bed.TcpAsync(1, WarmUpSeconds));
            for (int round = 0; round < repeats; round++)
            {
                foreach (int p in Streams)
                {
                    foreach (var bed in beds.Where(b => !failed.Contains(b.Config.Id)))
                    {
                        var v = bed.Config;
                        var run = await AloneAsync(bed, v.Name, async () =>
                        {
                            var others = beds.Where(b => b != bed).ToList();
                            double othersBefore = DaemonCpu(others);
                            bool profile = o.Profile && p == 1 && round == repeats - 1 && Profiled.Contains(v.Id);
                            var r = profile ? await ProfiledRunAsync(bed, seconds, o, report) : await bed.TcpAsync(p, seconds);
                            idleCpu += DaemonCpu(others) - othersBefore;
                            measured += seconds;
                            return r;
                        });
                        if (run is null) continue;
                        if (!runs.TryGetValue((v.Id, p), out var list)) runs[(v.Id, p)] = list = new List<TcpRun>();
                        list.Add(run);
                        Console.WriteLine($"  round {round + 1} {v.Id} {p} client(s): {Stats.F(run.Gbps)} Gbit/s, CPU s/GB gateway {Stats.F(run.GatewayCpuPerGb)} " +
                                          $"peer {Stats.F(run.PeerCpuPerGb)}, machine busy {Stats.F(100 * run.MachineBusy, 0)}%");
                    }
                }
            }

            foreach (var bed in beds.Where(b => !failed.Contains(b.Config.Id)))
            {
                Console.WriteLine($"throughput {bed.Config.Id}: UDP max rate");
                var rate = await AloneAsync(bed, bed.Config.Name + " (UDP)",
                    () => bed.MaxUdpRateAsync(runs.Median(bed.Config.Id, 1, r => r.Gbps) * 1000, udpSeconds, udpProbes));
                if (rate is null) continue;
                udp[bed.Config.Id] = rate;
                bed.MarkPassed();
            }
        }
        finally
        {
            for (int i = beds.Count - 1; i >= 0; i--)
            {
                try { beds[i].Pause(false); } catch (InvalidOperationException) { /* gone: disposal continues */ }
                await beds[i].DisposeAsync();
            }
        }

        // Runs work on one testbed alone: its daemons continued (and given Settle to run their late timers), every other
        // testbed's stopped. A failure is reported and takes the configuration out of the later runs.
        async Task<T?> AloneAsync<T>(BenchTestbed bed, string what, Func<Task<T>> work) where T : class
        {
            try
            {
                bed.Pause(false);
                await Task.Delay(Settle);
                return await work();
            }
            catch (Exception ex)
            {
                failed.Add(bed.Config.Id);
                report.NotMeasured(what, bed.Failure(ex));
                return null;
            }
            finally
            {
                try { bed.Pause(true); } catch (InvalidOperationException) { /* a daemon is gone: the failure is already reported */ }
            }
        }

        if (measured > 0 && beds.Count > 1)
        {
            report.Notes.Add($"Testbeds kept up, their daemons stopped: during the {Stats.F(measured, 0)} s of TCP runs the other configurations' daemons used " +
                             $"{Stats.F(idleCpu, 2)} CPU s in total ({Stats.F(100 * idleCpu / measured, 2)}% of one core).");
        }
        AddTcpTables(report, runs);
        AddUdpTable(report, udp);
        AddRatioTables(report, runs);
        return report;
    }

    /// <summary>Each daemon's CPU with every testbed up and none carrying traffic, as a share of one core over <paramref name="seconds"/>.</summary>
    private static async Task<string> IdleCpuAsync(List<BenchTestbed> beds, int seconds)
    {
        var pids = beds.SelectMany(b => new[] { (b.Config.Id, End: "gateway", Pid: b.GatewayPid), (b.Config.Id, End: "peer", Pid: b.PeerPid) })
            .Where(d => d.Pid is not null).ToList();
        var before = pids.Select(d => Profiling.CpuSeconds(d.Pid)).ToArray();
        await Task.Delay(TimeSpan.FromSeconds(seconds));
        var idle = pids.Select((d, i) => $"{d.Id} {d.End} {Stats.F(100 * (Profiling.CpuSeconds(d.Pid) - before[i]) / seconds, 1)}%");
        return $"Idle daemons, all testbeds up and no traffic ({seconds} s, % of one core): {string.Join(", ", idle)}.";
    }

    /// <summary>utime+stime of every daemon of <paramref name="beds"/> (those that have one).</summary>
    private static double DaemonCpu(IEnumerable<BenchTestbed> beds) =>
        beds.SelectMany(b => new[] { b.GatewayPid, b.PeerPid }).Where(pid => pid is not null).Select(Profiling.CpuSeconds).Where(c => !double.IsNaN(c)).Sum();

    /// <summary>A 1-client run with perf recording the gateway and the peer daemon for its length; summaries written next to the results.</summary>
    private static async Task<TcpRun> ProfiledRunAsync(BenchTestbed bed, int seconds, BenchOptions o, Report report)
    {
        Directory.CreateDirectory(ProfileDataDir);
        var ends = new List<(string End, int Pid, string Data, Task<CommandResult> Record)>();
        foreach (var (end, pid) in new[] { ("gateway", bed.GatewayPid), ("peer", bed.PeerPid) })
        {
            if (pid is not int p) continue;
            string data = Path.Combine(ProfileDataDir, $"throughput-{bed.Config.Id}-{end}.perf.data");
            ends.Add((end, p, data, Profiling.PerfRecordAsync(p, seconds, data)));
        }
        var run = await bed.TcpAsync(1, seconds);
        string dir = Path.GetDirectoryName(Path.GetFullPath(o.OutPath))!;
        Directory.CreateDirectory(dir);
        foreach (var (end, pid, data, record) in ends)
        {
            var rec = await record;
            string map = $"/tmp/perf-{pid}.map";
            string summary = rec.Ok ? $"perf data: {data}{(File.Exists(map) ? $" (symbols of JIT code: {map})" : "")}\n\n" + await Profiling.PerfSummaryAsync(data)
                : "perf record failed: " + rec;
            string file = Path.Combine(dir, $"profile-throughput-{bed.Config.Id}-{end}.txt");
            await File.WriteAllTextAsync(file, $"# perf profile of the {end} daemon, throughput {bed.Config.Id} 1-stream TCP " +
                                               $"({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC)\n\n" + summary);
            report.Notes.Add($"Profile of the {bed.Config.Id} {end}: {Path.GetFileName(file)}.");
        }
        return run;
    }
}
