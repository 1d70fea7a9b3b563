using Concentrator.Testbed.Interop;

namespace Concentrator.Benchmarks;

/// <summary>
/// iperf3 through the interop testbed (<see cref="BenchTestbed"/>: peer ↔ gateway ↔ LAN host, namespaces only, torn
/// down after every configuration): TCP with 1 and 4 streams and the highest UDP rate with &lt; 1% loss, for the
/// concentrator on both ends, strongSwan (kernel-libipsec) on both ends, a strongSwan peer against the concentrator
/// gateway, and plain routing as the ceiling. The client runs in the peer namespace bound to the peer's inner address,
/// the server on the LAN host. <c>--profile</c> samples the gateway concentrator with perf during its 1-stream runs.
/// </summary>
public static class ThroughputSuite
{
    private static readonly TunnelConfig[] Variants = [BenchTestbed.Ours, BenchTestbed.OursNoGro, BenchTestbed.OursNat, BenchTestbed.Swan, BenchTestbed.SwanOurs, BenchTestbed.SwanOursNoOffload, BenchTestbed.Plain];

    /// <summary>perf.data files of --profile: kept for `perf report` after the run, outside the repository (they are large).</summary>
    private static readonly string ProfileDataDir = Path.Combine(Path.GetTempPath(), "concentrator-bench-profiles");

    private sealed record VariantResult(List<(int Streams, List<TcpRun> Runs)> Tcp, UdpMaxRate? Udp, string? Profile);

    public static async Task<Report> RunAsync(BenchOptions o)
    {
        int seconds = o.Seconds ?? (o.Quick ? 2 : 10);
        int repeats = o.Repeats ?? (o.Quick ? 1 : 3);
        int udpSeconds = Math.Min(seconds, 3);
        int udpProbes = o.Quick ? 3 : 8;
        int[] streams = [1, 4];
        var report = new Report("throughput", "IPsec throughput through the namespace testbed (iperf3 TCP and UDP)");
        report.Conditions.Add("Topology (Concentrator.Testbed/Interop/Testbed.cs): peer (10.99.1.2, inner 10.99.10.1) ─veth─ gateway (10.99.1.1 | 10.99.2.1) " +
                              "─veth─ LAN host 10.99.2.2; every namespace created and torn down by this run.");
        report.Conditions.Add($"iperf3 TCP client in the peer namespace (`-B 10.99.10.1`), server on the LAN host; upload direction (the gateway " +
                              $"decrypts the data and encrypts the ACKs); {seconds} s per run, {repeats} run(s) per row, median reported; 1 stream and 4 streams (`-P 4`).");
        report.Conditions.Add($"UDP max rate: iperf3 `-u -l {BenchTestbed.UdpPayload}` ({BenchTestbed.UdpInnerPacket}-byte inner IP packets, the tunnels' MTU, " +
                              $"so nothing fragments; `-w {BenchTestbed.UdpSocketBuffer}` socket buffers), same direction; a bounded search on `-b` ({udpSeconds} s per probe, at most {udpProbes} probes, " +
                              "starting at the configuration's 1-stream TCP figure; doubling while a probe passes, after a failing probe 95% of what it " +
                              "delivered, then bisection to within 10%) for the highest offered rate with < 1% loss as counted by the iperf3 server. " +
                              "Reported: the received rate of the best passing probe (Gbit/s and kpps of inner packets) and its loss; one search per configuration.");
        report.Conditions.Add($"IKE {BenchTestbed.Ike}, ESP {BenchTestbed.Esp} (AES-GCM-256) everywhere; PSK. Concentrator: `run` with tunnel type tun (MTU 1400, one worker per core), " +
                              "log level information. strongSwan 5.9 charon with kernel-libipsec (userspace ESP on a TUN, MTU 1400), which only speaks " +
                              "UDP-encapsulated ESP (encap = yes); its harness log levels are lowered to 0 before measuring.");
        report.Conditions.Add("All namespaces share the machine's cores: both IPsec ends, the iperf3 client and server and the kernel's forwarding compete " +
                              "for the same CPUs, so these are whole-system figures, not per-gateway capacity.");
        report.Conditions.Add("Gateway CPU s/GB: utime+stime of the gateway daemon (/proc/PID/stat) during the run divided by the GB (1e9 bytes) " +
                              "received by the iperf3 server. Plain routing has no gateway process (kernel forwarding in softirq): n/a.");
        if (o.Profile)
        {
            report.Conditions.Add("--profile: the gateway concentrator runs with DOTNET_PerfMapEnabled=1 (and W^X off) and is sampled by `perf record -g -F 999 -p PID` " +
                                  "during its last 1-stream TCP run (JIT tiering has settled by then); the summaries are written next to this file. The perf map and sampling cost a little throughput.");
        }

        var missing = InteropPrerequisites.Missing(needDotnet: true).ToList();
        if (!Command.Exists("iperf3")) missing.Add("iperf3");
        if (o.Profile && !Command.Exists("perf")) missing.Add("perf (linux-perf)");
        if (missing.Count > 0)
        {
            report.Failed = true;
            report.Notes.Add("NOT MEASURED: prerequisites missing: " + string.Join(", ", missing) + " (run scripts/install-deps.sh as root).");
            return report;
        }

        report.Notes.Add("Forced NAT-T between two concentrators without a NAT (`encap: yes` on the peer, which EncapInteropTests prove) " +
                         "has no row yet. Row (a') gets ESP-in-UDP through a real masquerading router namespace instead (one more hop and " +
                         "conntrack: compare it with care).");

        var results = new Dictionary<(string, int), (double Gbps, double CpuPerGb, List<double> All)>();
        var udp = new Dictionary<string, UdpMaxRate>();
        foreach (var v in Variants)
        {
            if (!o.Includes(v.Id)) continue;
            Console.WriteLine($"throughput {v.Id}: {v.Name}");
            try
            {
                bool profile = o.Profile && v.Id is "ours" or "swan-ours";
                var measured = await MeasureVariantAsync(v, streams, seconds, repeats, udpSeconds, udpProbes, profile);
                foreach (var (p, list) in measured.Tcp)
                {
                    double gbps = Stats.Median(list.Select(r => r.Gbps));
                    double cpu = Stats.Median(list.Select(r => r.Bytes > 0 ? r.CpuSeconds / (r.Bytes / 1e9) : double.NaN));
                    results[(v.Id, p)] = (gbps, cpu, list.Select(r => r.Gbps).ToList());
                    Console.WriteLine($"  -P {p}: {Stats.F(gbps)} Gbit/s median of [{string.Join(", ", list.Select(r => Stats.F(r.Gbps)))}], gateway {Stats.F(cpu)} CPU s/GB");
                }
                if (measured.Udp is not null) udp[v.Id] = measured.Udp;
                if (measured.Profile is not null)
                {
                    string dir = Path.GetDirectoryName(Path.GetFullPath(o.OutPath))!;
                    Directory.CreateDirectory(dir);
                    string file = Path.Combine(dir, $"profile-throughput-{v.Id}.txt");
                    await File.WriteAllTextAsync(file, $"# perf profile of the gateway concentrator, throughput {v.Id} 1-stream TCP ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC)\n\n" + measured.Profile);
                    report.Notes.Add($"Profile of the {v.Id} gateway: {Path.GetFileName(file)}.");
                }
            }
            catch (Exception ex)
            {
                report.NotMeasured(v.Name, ex);
            }
        }

        var table = report.AddTable("Results (median Gbit/s of iperf3 goodput)", "id", "configuration", "ESP transport", "streams",
            "Gbit/s", "runs (Gbit/s)", "gateway CPU s/GB", "vs strongSwan (b)", "vs ceiling (d)");
        foreach (var v in Variants)
        {
            foreach (int p in streams)
            {
                if (!results.TryGetValue((v.Id, p), out var r)) continue;
                double swan = results.TryGetValue(("swan", p), out var s) ? s.Gbps : double.NaN;
                double ceiling = results.TryGetValue(("plain", p), out var c) ? c.Gbps : double.NaN;
                table.Add(v.Id, v.Name, v.Transport, p.ToString(), Stats.F(r.Gbps), string.Join(", ", r.All.Select(x => Stats.F(x))),
                    Stats.F(r.CpuPerGb), v.Id == "swan" ? "1.00" : Stats.F(r.Gbps / swan), v.Id == "plain" ? "1.00" : Stats.F(r.Gbps / ceiling));
            }
        }

        AddUdpTable(report, udp);

        var ratios = report.AddTable("Ratios", "ratio", "1 stream", "4 streams");
        void Ratio(string name, string a, string b) =>
            ratios.Add(name, Stats.F(Get(a, 1) / Get(b, 1)), Stats.F(Get(a, 4) / Get(b, 4)));
        double Get(string id, int p) => results.TryGetValue((id, p), out var r) ? r.Gbps : double.NaN;
        Ratio("ours/strongSwan: (a) / (b)", "ours", "swan");
        Ratio("ours/ceiling: (a) / (d)", "ours", "plain");
        Ratio("strongSwan/ceiling: (b) / (d)", "swan", "plain");
        Ratio("mixed/strongSwan: (c) / (b) (same ESP-in-UDP, our gateway)", "swan-ours", "swan");
        Ratio("NAT-T/plain ESP: (a') / (a)", "ours-nat", "ours");
        Ratio("tunnel.gro on/off: (a) / (a-)", "ours", "ours-nogro");
        double Cpu(string id, int p) => results.TryGetValue((id, p), out var r) ? r.CpuPerGb : double.NaN;
        void CpuRatio(string name, string a, string b) =>
            ratios.Add(name, Stats.F(Cpu(a, 1) / Cpu(b, 1)), Stats.F(Cpu(a, 4) / Cpu(b, 4)));
        CpuRatio("gateway CPU per GB, ours/strongSwan: (a) / (b)", "ours", "swan");
        CpuRatio("gateway CPU per GB, tunnel.gro on/off: (a) / (a-)", "ours", "ours-nogro");
        CpuRatio("gateway CPU per GB, ours/strongSwan with the same peer: (c) / (b)", "swan-ours", "swan");
        return report;
    }

    private static void AddUdpTable(Report report, Dictionary<string, UdpMaxRate> udp)
    {
        var table = report.AddTable($"UDP max rate (< {Stats.F(BenchTestbed.MaxLossPercent, 0)}% loss, {BenchTestbed.UdpInnerPacket}-byte inner packets)",
            "id", "configuration", "Gbit/s", "kpps", "loss %", "offered Mbit/s", "probes (offered Mbit/s: loss %)", "vs strongSwan (b)", "vs ceiling (d)");
        double Gbps(string id) => udp.TryGetValue(id, out var u) && u.Best is not null ? u.Best.ReceivedMbps / 1000 : double.NaN;
        foreach (var v in Variants)
        {
            if (!udp.TryGetValue(v.Id, out var u)) continue;
            var b = u.Best;
            string probes = string.Join(", ", u.Probes.Select(p => $"{Stats.F(p.OfferedMbps, 0)}: {Stats.F(p.LossPercent, 1)}"));
            if (u.SenderBound) probes += " (iperf3 sender-bound)";
            table.Add(v.Id, v.Name, Stats.F(Gbps(v.Id)), b is null ? "n/a" : Stats.F(b.ReceivedPps / 1000, 1), b is null ? "n/a" : Stats.F(b.LossPercent, 2),
                b is null ? "none < 1% loss" : Stats.F(b.OfferedMbps, 0), probes,
                v.Id == "swan" ? "1.00" : Stats.F(Gbps(v.Id) / Gbps("swan")), v.Id == "plain" ? "1.00" : Stats.F(Gbps(v.Id) / Gbps("plain")));
        }
    }

    private static async Task<VariantResult> MeasureVariantAsync(TunnelConfig v, int[] streams, int seconds, int repeats, int udpSeconds, int udpProbes, bool profile)
    {
        await using var bed = await BenchTestbed.StartAsync(v, new TunnelStart(PerfMap: profile));
        try
        {
            string? summary = null;
            var tcp = new List<(int, List<TcpRun>)>();
            foreach (int p in streams)
            {
                var runs = new List<TcpRun>();
                for (int r = 0; r < repeats; r++)
                {
                    if (profile && p == 1 && r == repeats - 1 && bed.GatewayPid is int pid)
                    {
                        string data = Path.Combine(ProfileDataDir, $"throughput-{v.Id}.perf.data");
                        Directory.CreateDirectory(ProfileDataDir);
                        var record = Profiling.PerfRecordAsync(pid, seconds, data);
                        runs.Add(await bed.TcpAsync(p, seconds));
                        var rec = await record;
                        summary = rec.Ok ? $"perf data: {data} (symbols of JIT code: /tmp/perf-{pid}.map)\n\n" + await Profiling.PerfSummaryAsync(data)
                            : "perf record failed: " + rec;
                    }
                    else
                    {
                        runs.Add(await bed.TcpAsync(p, seconds));
                    }
                }
                tcp.Add((p, runs));
            }
            double tcpMbps = Stats.Median(tcp[0].Item2.Select(r => r.Gbps)) * 1000;
            var udp = await bed.MaxUdpRateAsync(tcpMbps, udpSeconds, udpProbes);
            bed.MarkPassed();
            return new VariantResult(tcp, udp, summary);
        }
        catch (Exception ex)
        {
            throw bed.Failure(ex);
        }
    }
}
