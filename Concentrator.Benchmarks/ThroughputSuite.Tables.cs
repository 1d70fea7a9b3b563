namespace Concentrator.Benchmarks;

/// <summary>The throughput report: conditions, the TCP, UDP, ratio and target tables.</summary>
public static partial class ThroughputSuite
{
    /// <summary>Issue 17's targets: 1-stream goodput and both ends' CPU per GB against strongSwan ↔ strongSwan, and 4 clients against 1.</summary>
    public const double SpeedTarget = 10, CpuTarget = 0.1, ScalingTarget = 1.6;

    /// <summary>The rows the targets are measured on (concentrator ↔ concentrator on either transport) and the reference.</summary>
    private static readonly string[] TargetRows = ["ours", "ours-encap"];
    private const string Reference = "swan";

    private static void AddConditions(Report report, BenchOptions o, int seconds, int repeats, int udpSeconds, int udpProbes)
    {
        report.Conditions.Add("Topology (Concentrator.Testbed/Interop/NamespaceTestbed.cs): peer (10.99.1.2, inner 10.99.10.1) ─veth─ gateway (10.99.1.1 | 10.99.2.1) " +
                              "─veth─ LAN host 10.99.2.2. Each configuration has a testbed of its own (own namespaces, so the same addresses never meet), " +
                              "all brought up before the first run and kept up to the end. Only one carries traffic at a time; the others' daemons are stopped " +
                              $"(SIGSTOP, both ends together; an idle concentrator's timers cost a few % of a core, see the notes) and continued {Settle.TotalSeconds:0} s " +
                              "before their own run, the UDP searches likewise.");
        report.Conditions.Add($"Interleaved: {repeats} round(s); each round runs every configuration once with 1 client, then every configuration once with " +
                              $"{Streams.Max()} clients, in the table's order, after one untimed {WarmUpSeconds} s 1-client run per configuration. {seconds} s per run; the median of the rounds is reported, ratios are medians' ratios " +
                              "(\"per round\": the same round's runs paired).");
        report.Conditions.Add("TCP: iperf3 3.12 client processes in the peer namespace (`-B 10.99.10.1`), each one stream against its own iperf3 server process " +
                              $"(ports {BenchTestbed.IperfPort}..{BenchTestbed.IperfPort + Streams.Max() - 1}) on the LAN host, started together (no `-P`: iperf3 3.12 " +
                              "runs every stream of a process on one thread). Upload: the gateway decrypts the data and encrypts the ACKs, the peer the reverse. " +
                              "Goodput: the bytes all servers received over the longest server-side duration.");
        report.Conditions.Add($"UDP max rate: iperf3 `-u -l {BenchTestbed.UdpPayload}` ({BenchTestbed.UdpInnerPacket}-byte inner IP packets, the tunnels' MTU, " +
                              $"so nothing fragments; `-w {BenchTestbed.UdpSocketBuffer}` socket buffers), one client, same direction; after the TCP rounds, one " +
                              $"configuration after the other (each alone, as above); a bounded search on `-b` ({udpSeconds} s per probe, at most {udpProbes} probes, " +
                              "starting at the configuration's 1-stream TCP figure; doubling while a probe passes, after a failing probe 95% of what it " +
                              "delivered, then bisection to within 10%) for the highest offered rate with < 1% loss as counted by the iperf3 server. " +
                              "Reported: the received rate of the best passing probe (Gbit/s and kpps of inner packets) and its loss.");
        report.Conditions.Add($"IKE {BenchTestbed.Ike}, ESP {BenchTestbed.Esp} (AES-GCM-256) everywhere; PSK. Concentrator: `run` with tunnel type tun (MTU 1400, " +
                              $"one worker per core, plain_esp yes, other tunnel keys at their defaults unless the row's YAML delta says otherwise), log level " +
                              $"{BenchTestbed.LogLevel}, on both ends where both are ours (the peer initiates). strongSwan 5.9 charon with kernel-libipsec (userspace " +
                              "ESP on a TUN, MTU 1400), which only speaks UDP-encapsulated ESP (encap = yes); its harness log levels are lowered to 0 before measuring.");
        report.Conditions.Add("All namespaces share the machine's cores: both IPsec ends, the iperf3 clients and servers and the kernel's forwarding compete " +
                              "for the same CPUs, so these are whole-system figures, not per-gateway capacity.");
        report.Conditions.Add("CPU s/GB: utime+stime (/proc/PID/stat) of the gateway daemon and of the peer daemon (concentrator or charon) over the run, " +
                              "divided by the GB (1e9 bytes) the iperf3 servers received; both ends is their sum. Kernel work a daemon's syscalls do (TUN " +
                              "writes forwarding the packet, socket sends) is its stime; softirq work the kernel does elsewhere is nobody's. Plain routing " +
                              "has no daemon: n/a. Machine busy: the share of all cores not idle over the run (/proc/stat), whoever used them: context only.");
        if (o.Profile)
        {
            report.Conditions.Add($"--profile: the concentrators of {string.Join(", ", Profiled)} run with DOTNET_PerfMapEnabled=1 (and W^X off); the gateway " +
                                  "and the peer daemon are each sampled by `perf record -g -F 999 -p PID` during the last round's 1-client run (JIT tiering has " +
                                  "settled by then); the summaries are written next to this file. The perf map and sampling cost a little throughput.");
        }
    }

    private static void AddTcpTables(Report report, Runs runs)
    {
        var table = report.AddTable("Results (median Gbit/s of iperf3 goodput)", "id", "configuration", "ESP transport", "YAML delta", "streams",
            "Gbit/s", "runs (Gbit/s)", "gateway CPU s/GB", "peer CPU s/GB", "both ends CPU s/GB", "machine busy %", "vs strongSwan (b)", "vs ceiling (d)");
        foreach (var v in Variants)
        {
            foreach (int p in Streams)
            {
                if (!runs.TryGetValue((v.Id, p), out var list)) continue;
                double gbps = runs.Median(v.Id, p, r => r.Gbps);
                table.Add(v.Id, v.Name, v.Transport, v.Delta, p.ToString(), Stats.F(gbps), string.Join(", ", list.Select(r => Stats.F(r.Gbps))),
                    Stats.F(runs.Median(v.Id, p, r => r.GatewayCpuPerGb)), Stats.F(runs.Median(v.Id, p, r => r.PeerCpuPerGb)),
                    Stats.F(runs.Median(v.Id, p, r => r.BothCpuPerGb)), Stats.F(runs.Median(v.Id, p, r => 100 * r.MachineBusy), 0),
                    Stats.F(gbps / runs.Median(Reference, p, r => r.Gbps)), Stats.F(gbps / runs.Median("plain", p, r => r.Gbps)));
            }
        }

        int many = Streams.Max();
        var scaling = report.AddTable($"{many} clients against 1 (median Gbit/s)", "id", "configuration", "1 client", $"{many} clients", $"{many}/1", "per round");
        foreach (var v in Variants)
        {
            double one = runs.Median(v.Id, 1, r => r.Gbps), four = runs.Median(v.Id, many, r => r.Gbps);
            if (double.IsNaN(one) && double.IsNaN(four)) continue;
            scaling.Add(v.Id, v.Name, Stats.F(one), Stats.F(four), Stats.F(four / one), PerRound(runs.PerRound((v.Id, many), (v.Id, 1), r => r.Gbps)));
        }
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
                v.Id == Reference ? "1.00" : Stats.F(Gbps(v.Id) / Gbps(Reference)), v.Id == "plain" ? "1.00" : Stats.F(Gbps(v.Id) / Gbps("plain")));
        }
    }

    private static string PerRound(double[] values) => values.Length == 0 ? "n/a" : string.Join(", ", values.Select(x => Stats.F(x)));

    private static void AddRatioTables(Report report, Runs runs)
    {
        int many = Streams.Max();
        var ratios = report.AddTable("Ratios", "ratio", "1 stream", $"{many} streams", "per round (1 stream)");
        void Ratio(string name, string a, string b, Func<TcpRun, double> metric)
        {
            double one = runs.Median(a, 1, metric) / runs.Median(b, 1, metric), more = runs.Median(a, many, metric) / runs.Median(b, many, metric);
            if (double.IsNaN(one) && double.IsNaN(more)) return; // a row left out by --only or not measured
            ratios.Add(name, Stats.F(one), Stats.F(more), PerRound(runs.PerRound((a, 1), (b, 1), metric)));
        }
        Func<TcpRun, double> gbps = r => r.Gbps, both = r => r.BothCpuPerGb, gateway = r => r.GatewayCpuPerGb, peer = r => r.PeerCpuPerGb;
        Ratio("Gbit/s, ours/strongSwan: (a) / (b)", "ours", Reference, gbps);
        Ratio("Gbit/s, ours/strongSwan on the same transport: (a-encap) / (b)", "ours-encap", Reference, gbps);
        Ratio("both ends CPU per GB, ours/strongSwan: (a) / (b)", "ours", Reference, both);
        Ratio("both ends CPU per GB, ours/strongSwan on the same transport: (a-encap) / (b)", "ours-encap", Reference, both);
        Ratio("Gbit/s, ours/ceiling: (a) / (d)", "ours", "plain", gbps);
        Ratio("Gbit/s, strongSwan/ceiling: (b) / (d)", Reference, "plain", gbps);
        Ratio("Gbit/s, mixed/strongSwan: (c) / (b) (same ESP-in-UDP, our gateway)", "swan-ours", Reference, gbps);
        Ratio("Gbit/s, forced ESP-in-UDP/plain ESP: (a-encap) / (a)", "ours-encap", "ours", gbps);
        Ratio("Gbit/s, NAT-T through a router/plain ESP: (a') / (a)", "ours-nat", "ours", gbps);
        Ratio("Gbit/s, tunnel offloads on/off: (a-encap) / (a-encap-)", "ours-encap", "ours-nooffload", gbps);
        Ratio("gateway CPU per GB, ours/strongSwan: (a) / (b)", "ours", Reference, gateway);
        Ratio("peer CPU per GB, ours/strongSwan: (a) / (b)", "ours", Reference, peer);
        Ratio("gateway CPU per GB, ours/strongSwan with the same peer: (c) / (b)", "swan-ours", Reference, gateway);
        Ratio("both ends CPU per GB, tunnel offloads on/off: (a-encap) / (a-encap-)", "ours-encap", "ours-nooffload", both);

        var targets = report.AddTable("Targets (issue 17)", "target", "row", "measured", "threshold", "verdict", "per round");
        void Target(string name, string id, double value, bool atLeast, double threshold, double[] perRound) =>
            targets.Add(name, id, Stats.F(value), (atLeast ? "≥ " : "≤ ") + Stats.F(threshold),
                double.IsNaN(value) ? "not measured" : (atLeast ? value >= threshold : value <= threshold) ? "met" : "missed", PerRound(perRound));
        foreach (string id in TargetRows)
        {
            Target("1 stream Gbit/s / strongSwan ↔ strongSwan (b)", id, runs.Median(id, 1, gbps) / runs.Median(Reference, 1, gbps), true, SpeedTarget,
                runs.PerRound((id, 1), (Reference, 1), gbps));
        }
        foreach (string id in TargetRows)
        {
            Target("1 stream both ends CPU s/GB / strongSwan's (b)", id, runs.Median(id, 1, both) / runs.Median(Reference, 1, both), false, CpuTarget,
                runs.PerRound((id, 1), (Reference, 1), both));
        }
        foreach (string id in TargetRows)
        {
            Target($"{many} clients Gbit/s / 1 client", id, runs.Median(id, many, gbps) / runs.Median(id, 1, gbps), true, ScalingTarget,
                runs.PerRound((id, many), (id, 1), gbps));
        }
    }
}
