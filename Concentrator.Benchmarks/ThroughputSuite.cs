using System.Diagnostics;
using System.Text.Json;
using Concentrator.Tests.Interop;

namespace Concentrator.Benchmarks;

/// <summary>
/// iperf3 TCP through the interop testbed (peer ↔ gateway ↔ LAN host, namespaces only, torn down after
/// every configuration): the concentrator on both ends, strongSwan (kernel-libipsec) on both ends, a
/// strongSwan peer against the concentrator gateway, and plain routing as the ceiling. The client runs in
/// the peer namespace bound to the peer's inner address, the server on the LAN host.
/// </summary>
public static class ThroughputSuite
{
    private const string Ike = "aes256gcm16-prfsha256-ecp256";
    private const string Esp = "aes256gcm16";
    private const int IperfPort = 5201;

    private sealed record Variant(string Id, string Name, bool Nat, string Transport, Func<Testbed, List<IAsyncDisposable>, Task<Func<int?>>> Start);

    private sealed record Run(double Gbps, double Bytes, double CpuSeconds);

    private static readonly Variant[] Variants =
    [
        new("ours", "(a) concentrator ↔ concentrator", false, "plain ESP (IP proto 50)", StartOursAsync),
        new("ours-nat", "(a') concentrator ↔ concentrator through a NAT router", true, "ESP-in-UDP 4500 (real NAT, one extra router hop)", StartOursAsync),
        new("swan", "(b) strongSwan ↔ strongSwan", false, "ESP-in-UDP 4500 (libipsec, encap = yes)", StartSwanAsync),
        new("swan-ours", "(c) strongSwan peer ↔ concentrator gateway", false, "ESP-in-UDP 4500 (charon's encap = yes)", StartSwanToOursAsync),
        new("plain", "(d) plain routing, no IPsec (ceiling)", false, "none", StartPlainAsync),
    ];

    public static async Task<Report> RunAsync(BenchOptions o)
    {
        int seconds = o.Seconds ?? (o.Quick ? 2 : 10);
        int repeats = o.Repeats ?? (o.Quick ? 1 : 3);
        int[] streams = [1, 4];
        var report = new Report("throughput", "IPsec throughput through the namespace testbed (iperf3 TCP)");
        report.Conditions.Add("Topology (Concentrator.Tests/Interop/Testbed.cs): peer (10.99.1.2, inner 10.99.10.1) ─veth─ gateway (10.99.1.1 | 10.99.2.1) " +
                              "─veth─ LAN host 10.99.2.2; every namespace created and torn down by this run.");
        report.Conditions.Add($"iperf3 TCP client in the peer namespace (`-B 10.99.10.1`), server on the LAN host; upload direction (the gateway " +
                              $"decrypts the data and encrypts the ACKs); {seconds} s per run, {repeats} run(s) per row, median reported; 1 stream and 4 streams (`-P 4`).");
        report.Conditions.Add($"IKE {Ike}, ESP {Esp} (AES-GCM-256) everywhere; PSK. Concentrator: `run` with tunnel type tun (MTU 1400, one worker per core), " +
                              "log level information. strongSwan 5.9 charon with kernel-libipsec (userspace ESP on a TUN, MTU 1400), which only speaks " +
                              "UDP-encapsulated ESP (encap = yes); its harness log levels are lowered to 0 before measuring.");
        report.Conditions.Add("All namespaces share the machine's cores: both IPsec ends, the iperf3 client and server and the kernel's forwarding compete " +
                              "for the same CPUs, so these are whole-system figures, not per-gateway capacity.");
        report.Conditions.Add("Gateway CPU s/GB: utime+stime of the gateway daemon (/proc/PID/stat) during the run divided by the GB (1e9 bytes) " +
                              "received by the iperf3 server. Plain routing has no gateway process (kernel forwarding in softirq): n/a.");

        var missing = InteropPrerequisites.Missing(needDotnet: true).ToList();
        if (!Command.Exists("iperf3")) missing.Add("iperf3");
        if (missing.Count > 0)
        {
            report.Failed = true;
            report.Notes.Add("NOT MEASURED: prerequisites missing: " + string.Join(", ", missing) + " (run scripts/install-deps.sh as root).");
            return report;
        }

        report.Notes.Add("Forced NAT-T between two concentrators (`encap: yes` on the peer) is not measured: the config key is parsed " +
                         "(ConnectionConfig.Encap) but nothing uses it yet, so NAT-T only happens when a NAT is detected. Row (a') gets " +
                         "ESP-in-UDP through a real masquerading router namespace instead (one more hop and conntrack: compare it with care).");

        var results = new Dictionary<(string, int), (double Gbps, double CpuPerGb, List<double> All)>();
        foreach (var v in Variants)
        {
            if (!o.Includes(v.Id)) continue;
            Console.WriteLine($"throughput {v.Id}: {v.Name}");
            try
            {
                var runs = await MeasureVariantAsync(v, streams, seconds, repeats);
                foreach (var (p, list) in runs)
                {
                    double gbps = Stats.Median(list.Select(r => r.Gbps));
                    double cpu = Stats.Median(list.Select(r => r.Bytes > 0 ? r.CpuSeconds / (r.Bytes / 1e9) : double.NaN));
                    results[(v.Id, p)] = (gbps, cpu, list.Select(r => r.Gbps).ToList());
                    Console.WriteLine($"  -P {p}: {Stats.F(gbps)} Gbit/s median of [{string.Join(", ", list.Select(r => Stats.F(r.Gbps)))}], gateway {Stats.F(cpu)} CPU s/GB");
                }
            }
            catch (Exception ex)
            {
                report.Failed = true;
                string msg = ex.Message.Length > 1500 ? ex.Message[..1500] + " ..." : ex.Message;
                report.Notes.Add($"{v.Name}: NOT MEASURED, {ex.GetType().Name}: {msg.Replace('\n', ' ')}");
                Console.WriteLine($"  failed: {ex}");
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

        var ratios = report.AddTable("Ratios", "ratio", "1 stream", "4 streams");
        void Ratio(string name, string a, string b) =>
            ratios.Add(name, Stats.F(Get(a, 1) / Get(b, 1)), Stats.F(Get(a, 4) / Get(b, 4)));
        double Get(string id, int p) => results.TryGetValue((id, p), out var r) ? r.Gbps : double.NaN;
        Ratio("ours/strongSwan: (a) / (b)", "ours", "swan");
        Ratio("ours/ceiling: (a) / (d)", "ours", "plain");
        Ratio("strongSwan/ceiling: (b) / (d)", "swan", "plain");
        Ratio("mixed/strongSwan: (c) / (b) (same ESP-in-UDP, our gateway)", "swan-ours", "swan");
        Ratio("NAT-T/plain ESP: (a') / (a)", "ours-nat", "ours");
        double cpuOurs = results.TryGetValue(("ours", 1), out var co) ? co.CpuPerGb : double.NaN;
        double cpuSwan = results.TryGetValue(("swan", 1), out var cs) ? cs.CpuPerGb : double.NaN;
        double cpuMixed = results.TryGetValue(("swan-ours", 1), out var cm) ? cm.CpuPerGb : double.NaN;
        ratios.Add("gateway CPU per GB, ours/strongSwan: (a) / (b)", Stats.F(cpuOurs / cpuSwan),
            Stats.F((results.TryGetValue(("ours", 4), out var co4) ? co4.CpuPerGb : double.NaN)
                    / (results.TryGetValue(("swan", 4), out var cs4) ? cs4.CpuPerGb : double.NaN)));
        ratios.Add("gateway CPU per GB, ours/strongSwan with the same peer: (c) / (b)", Stats.F(cpuMixed / cpuSwan),
            Stats.F((results.TryGetValue(("swan-ours", 4), out var cm4) ? cm4.CpuPerGb : double.NaN)
                    / (results.TryGetValue(("swan", 4), out var cs4b) ? cs4b.CpuPerGb : double.NaN)));
        return report;
    }

    private static async Task<List<(int Streams, List<Run> Runs)>> MeasureVariantAsync(Variant v, int[] streams, int seconds, int repeats)
    {
        var bed = Testbed.Create(v.Nat);
        var owned = new List<IAsyncDisposable>();
        try
        {
            var gatewayPid = await v.Start(bed, owned);
            await CheckPathAsync(bed);

            var server = bed.Lan.Start(["iperf3", "-s", "-B", Testbed.LanHost, "-p", IperfPort.ToString()],
                Path.Combine(bed.WorkDir, "iperf3-server.stdout"), Path.Combine(bed.WorkDir, "iperf3-server.stderr"));
            await Task.Delay(300);

            var result = new List<(int, List<Run>)>();
            foreach (int p in streams)
            {
                var runs = new List<Run>();
                for (int r = 0; r < repeats; r++) runs.Add(await IperfAsync(bed, p, seconds, gatewayPid(), server));
                result.Add((p, runs));
            }
            bed.DeleteWorkDir();
            return result;
        }
        catch (Exception ex)
        {
            throw new InvalidOperationException($"{ex.Message} (run files kept in {bed.WorkDir})", ex);
        }
        finally
        {
            for (int i = owned.Count - 1; i >= 0; i--)
            {
                try { await owned[i].DisposeAsync(); } catch (Exception) { /* teardown continues */ }
            }
            await bed.DisposeAsync();
        }
    }

    private static async Task<Run> IperfAsync(Testbed bed, int streams, int seconds, int? gatewayPid, BackgroundProcess server)
    {
        double cpuBefore = NamespaceTools.CpuSeconds(gatewayPid);
        var r = await bed.Peer.ExecAsync(TimeSpan.FromSeconds(seconds + 20),
            "iperf3", "-c", Testbed.LanHost, "-B", Testbed.PeerInner, "-p", IperfPort.ToString(), "-t", seconds.ToString(),
            "-P", streams.ToString(), "-J", "--connect-timeout", "5000");
        double cpuAfter = NamespaceTools.CpuSeconds(gatewayPid);
        if (!r.Ok) throw new InvalidOperationException($"iperf3 failed: {r}\nserver: {server.ReadStderr()}");
        using var doc = JsonDocument.Parse(r.Stdout);
        var root = doc.RootElement;
        if (root.TryGetProperty("error", out var error)) throw new InvalidOperationException("iperf3: " + error.GetString());
        var received = root.GetProperty("end").GetProperty("sum_received");
        double bps = received.GetProperty("bits_per_second").GetDouble();
        double bytes = received.GetProperty("bytes").GetDouble();
        if (bps <= 0) throw new InvalidOperationException("iperf3 moved no data: " + r.Stdout[..Math.Min(2000, r.Stdout.Length)]);
        return new Run(bps / 1e9, bytes, cpuAfter - cpuBefore);
    }

    /// <summary>A bounded ping from the peer's inner address to the LAN host: the path works before iperf3 starts.</summary>
    private static async Task CheckPathAsync(Testbed bed)
    {
        CommandResult? last = null;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            last = await bed.Peer.ExecAsync(TimeSpan.FromSeconds(8), "ping", "-n", "-c", "2", "-i", "0.2", "-W", "2", "-I", Testbed.PeerInner, Testbed.LanHost);
            if (last.Ok) return;
            await Task.Delay(300);
        }
        throw new InvalidOperationException("no path from the peer's inner address to the LAN host: " + last);
    }

    // ---- configurations ----

    private static Task<Func<int?>> StartPlainAsync(Testbed bed, List<IAsyncDisposable> owned)
    {
        bed.Peer.AddRoute(Testbed.LanSubnet, Testbed.GatewayOuter);
        bed.Gateway.AddRoute(Testbed.PeerInnerSubnet, bed.PeerOuter);
        return Task.FromResult<Func<int?>>(() => null);
    }

    private static async Task<Func<int?>> StartOursAsync(Testbed bed, List<IAsyncDisposable> owned)
    {
        var gateway = await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator-gw"),
            ConcentratorInteropTests.ResponderYaml(Ike, Esp), TimeSpan.FromSeconds(30), logLevel: "information");
        owned.Add(gateway);
        var peer = await ConcentratorProcess.StartAsync(bed.Peer, bed.Dir("concentrator-peer"), PeerYaml(bed.PeerOuter),
            TimeSpan.FromSeconds(30), logLevel: "information");
        owned.Add(peer);
        if (!await peer.WaitForEventAsync(ConcentratorProcess.ChildSaInstalled, TimeSpan.FromSeconds(20))
            || !await gateway.WaitForEventAsync(ConcentratorProcess.ChildSaInstalled, TimeSpan.FromSeconds(5)))
        {
            throw new InvalidOperationException("the concentrators did not install the Child SA\n" + peer.Diagnostics(3000) + "\n" + gateway.Diagnostics(3000));
        }
        return GatewayConcentratorPid(bed);
    }

    private static async Task<Func<int?>> StartSwanAsync(Testbed bed, List<IAsyncDisposable> owned)
    {
        var gw = await StrongSwan.StartAsync(bed.Gateway, bed.Dir("charon-gw"), "gateway");
        owned.Add(gw);
        var peer = await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer");
        owned.Add(peer);
        await NamespaceTools.QuietAsync(gw);
        await NamespaceTools.QuietAsync(peer);
        await gw.LoadAsync(SwanctlConf.Connection("peer", Testbed.GatewayOuter, "%any", SwanctlConf.GatewayId, SwanctlConf.PeerId,
            Ike, "net", Testbed.LanSubnet, Testbed.PeerInnerSubnet, Esp));
        await InitiateFromCharonAsync(bed, peer);
        if (await gw.WaitInstalledAsync("peer", "net", TimeSpan.FromSeconds(10)) is null)
            throw new InvalidOperationException("gateway charon: no INSTALLED child\n" + gw.Diagnostics(3000));
        int? pid = NamespaceTools.FindPid(bed.Gateway, (comm, _) => comm == "charon");
        return () => pid;
    }

    private static async Task<Func<int?>> StartSwanToOursAsync(Testbed bed, List<IAsyncDisposable> owned)
    {
        var peer = await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer");
        owned.Add(peer);
        await NamespaceTools.QuietAsync(peer);
        var gateway = await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator-gw"),
            ConcentratorInteropTests.ResponderYaml(Ike, Esp), TimeSpan.FromSeconds(30), logLevel: "information");
        owned.Add(gateway);
        await InitiateFromCharonAsync(bed, peer);
        if (!await gateway.WaitForEventAsync(ConcentratorProcess.ChildSaInstalled, TimeSpan.FromSeconds(5)))
            throw new InvalidOperationException("the concentrator did not install the Child SA\n" + gateway.Diagnostics(3000));
        return GatewayConcentratorPid(bed);
    }

    private static async Task InitiateFromCharonAsync(Testbed bed, StrongSwan peer)
    {
        await peer.LoadAsync(SwanctlConf.Connection("gw", bed.PeerOuter, Testbed.GatewayOuter, SwanctlConf.PeerId, SwanctlConf.GatewayId,
            Ike, "net", Testbed.PeerInner + "/32", Testbed.LanSubnet, Esp));
        var init = await peer.InitiateAsync("gw", "net", timeoutSeconds: 20);
        if (!init.Ok) throw new InvalidOperationException("swanctl --initiate failed: " + init);
        if (await peer.WaitInstalledAsync("gw", "net", TimeSpan.FromSeconds(10)) is null)
            throw new InvalidOperationException("peer charon: no INSTALLED child\n" + peer.Diagnostics(3000));
    }

    private static Func<int?> GatewayConcentratorPid(Testbed bed)
    {
        int? pid = NamespaceTools.FindPid(bed.Gateway, (_, cmdline) => cmdline.Contains("Concentrator.dll", StringComparison.Ordinal));
        return () => pid;
    }

    /// <summary>The peer-side concentrator: initiator at start, site-to-site for its inner /32 to the LAN.</summary>
    public static string PeerYaml(string peerOuter) => $$"""
        # generated by Concentrator.Benchmarks (throughput): the peer end of a site-to-site tunnel
        listen: { addresses: [{{peerOuter}}], ike_port: 500, natt_port: 4500 }
        http: { listen: "127.0.0.1:9400" }
        tunnel: { type: tun, device: ipsec0, mtu: 1400 }
        connections:
          gw:
            version: 2
            local_addrs: [{{peerOuter}}]
            remote_addrs: [{{Testbed.GatewayOuter}}]
            proposals: [{{Ike}}]
            local: { auth: psk, id: {{SwanctlConf.PeerId}} }
            remote: { auth: psk, id: {{SwanctlConf.GatewayId}} }
            children:
              net:
                local_ts: [{{Testbed.PeerInner}}/32]
                remote_ts: [{{Testbed.LanSubnet}}]
                esp_proposals: [{{Esp}}]
                start_action: start
        secrets:
          ike-bench: { id: [{{SwanctlConf.PeerId}}, {{SwanctlConf.GatewayId}}], secret: "{{SwanctlConf.Psk}}" }
        """;
}
