using System.Buffers.Binary;
using System.Diagnostics;
using System.Diagnostics.Tracing;
using System.Globalization;
using System.Net;
using System.Text;
using Concentrator.DataPlane;
using Concentrator.DataPlane.Esp;
using Concentrator.DataPlane.Linux;
using Concentrator.Ipsec;
using Concentrator.Simulation;
using Concentrator.Testbed.Interop;
using Concentrator.Testbed.Support;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Tracing;

namespace Concentrator.Benchmarks;

/// <summary>
/// Many concurrent tunnels on one node. The gateway is a separate <c>Concentrator run</c> process (tunnel type none,
/// loopback), so its memory is measured alone: RSS from /proc/PID/status and the managed heap as the GC reports it at the
/// end of a full blocking GC induced from outside through the runtime's diagnostic port (an EventPipe session with the
/// GCHeapCollect keyword, as dotnet-gcdump does), each minus the same figures of the
/// same process before its first tunnel. The peer fleet runs in this process. ESP with N SAs installed is measured on the
/// data plane's own lookup and ESP code in this process afterwards (see <see cref="MeasureEsp"/>).
/// </summary>
public static partial class ScaleSuite
{
    private const string GatewayId = "gw.scale.concentrator";
    private const string Secret = "bench-only-shared-key-not-for-production";
    private const string Ike = "aes256gcm16-prfsha256-ecp256";
    private const string Esp = "aes256gcm16";

    /// <summary>Peers negotiating at once: enough to keep both cores busy, few enough that none waits 4 s for a retransmission.</summary>
    private const int Window = 200;

    /// <summary>The targets of issue 17 (3 and 4): setups/s with N up vs on an empty gateway, RSS per tunnel (on 2 and on
    /// 16 cores), ESP spread over N SAs vs one SA.</summary>
    private const double TargetSetupRatio = 0.8;
    private const double TargetBytesPerTunnel = 12 * 1024;
    private const double TargetEspRatio = 0.6;

    /// <summary>The probe fleet's peers are numbered from here (ids and inner addresses apart from the main fleet's).</summary>
    private const int ProbeFirstIndex = 1_000_000;

    public static async Task<Report> RunAsync(BenchOptions o)
    {
        int[] sizes = o.Tunnels ?? (o.Quick ? [200, 500] : [20_000]);
        int repeats = o.Repeats ?? (o.Quick ? 1 : 5);
        int probe = o.Peers ?? (o.Quick ? 50 : 2000);
        int probeRounds = o.Quick ? 1 : 3;
        _ = LaneBytes.Value; // measured before any SA exists, so freed memory of earlier SAs does not hide it
        int[] espSizes = o.Sizes ?? [1400, 64];
        var espWindow = TimeSpan.FromSeconds(o.Quick ? 0.05 : 0.3);

        var report = new Report("scale", "Concurrent tunnels on one node: memory per tunnel, time to establish, ESP with N SAs");
        report.Conditions.Add($"Gateway: `Concentrator run` as its own process (`dotnet Concentrator.dll`, workstation concurrent GC as shipped, " +
                              $"log level warning), `tunnel: {{ type: none }}` (SAs in the in-memory data plane, keyed and ready for ESP: " +
                              $"one inbound and one outbound OpenSSL EVP context per Child SA, more outbound ones only under contention), listening on 127.0.0.1, one connection: IKE {Ike}, ESP {Esp}, PSK, " +
                              "remote_ts 10.192.0.0/10. A fresh gateway process per size.");
        report.Conditions.Add("Admission raised for the run because every simulated peer shares the source address 127.0.0.1: " +
                              "`charon: { cookie_threshold: 0, cookie_threshold_ip: 0, block_threshold: 0, init_limit_job_load: 0, ikesa_limit: 0, ikesa_limit_per_peer: 0 }` " +
                              "(cookies off, no per-source half-open cap, no queue cap, no total or per-address IKE SA cap; the defaults are " +
                              "5 half-open per source, 1000 IKE SAs per address and 100000 in total).");
        report.Conditions.Add($"Peers: the demo's `PeerFleet` through `LoadTest` (the code of `Concentrator loadtest`) in the benchmark process, " +
                              $"one IKE SA + one Child SA per peer, distinct identities and inner /32s, at most {Window} negotiating at once, " +
                              $"a warm-up of two rounds of {Math.Max(10, probe)} established and deleted first (the gateway's JIT tiering settles before the baseline). Time to establish = first initiation to last peer up.");
        report.Conditions.Add($"Setup rate with N up: a second fleet in the benchmark process (its own node, ids and inner addresses) " +
                              $"establishes {probe} peers (window {Window}) and deletes them, {probeRounds} rounds, median setups/s: once " +
                              "on the empty gateway (after the warm-up) and once with the N tunnels up. `with N / empty` is the ratio.");
        report.Conditions.Add("Memory per tunnel = (figure with N tunnels − figure of the same process before its first tunnel) / N, both after " +
                              "2 s idle and a full blocking GC induced through the diagnostic port (an EventPipe session with the runtime's " +
                              "GCHeapCollect keyword, as dotnet-gcdump does; checked: a gen-2 GCStart event was seen). Managed = the heap size " +
                              "that GC reports in its GCHeapStats event (generations 0-2, large and pinned object heaps: live objects after " +
                              "a full collection); RSS = VmRSS of /proc/PID/status (managed heap as committed by the GC, native " +
                              "OpenSSL contexts, thread stacks, code). The baseline already holds the warm-up's code and caches.");
        report.Conditions.Add($"ESP with N SAs: two `InMemoryDataPlane`s (gateway and peers) with N Child SAs each, AES-GCM-256, and the outbound " +
                              "`SelectorTable` of `LinuxDataPlane` holding each SA under its peer's /32. One thread, per packet: write the " +
                              "destination of the chosen peer into the inner packet, selector lookup (most specific prefix) -> EspSa, seal " +
                              "(`EspPipeline.Seal`), then `Decapsulate` on the other plane (SPI lookup among N, replay window, ICV, " +
                              "trailer). Configurations: `1 SA` (one SA installed), `N SAs, one hot` (N installed, every packet to the same " +
                              "SA), `N SAs, spread` (N installed, consecutive packets to SAs a large prime stride apart, so every packet " +
                              "touches another SA's state, cold in cache at 100k). Packets per CPU-second of the thread " +
                              $"(`CLOCK_THREAD_CPUTIME_ID`), {repeats} repetitions of {espWindow.TotalSeconds:0.##} s per configuration in " +
                              "turn, medians; ratios are medians of per-repetition ratios. Inner packets of " +
                              string.Join(" and ", espSizes) + " bytes. The TUN and UDP socket I/O of `LinuxDataPlane` is not part of it: " +
                              "it does not depend on the number of SAs.");

        var table = report.AddTable("Results", "tunnels", "established", "time to establish s", "setups/s", "probe setups/s (empty / with N)",
            "with N / empty", "managed MiB (0 / N)", "RSS MiB (0 / N)", "managed KiB/tunnel", "RSS KiB/tunnel",
            $"RSS KiB/tunnel on {SixteenCores} cores", $"ESP N/1 ({espSizes[0]} B, spread)");
        var targets = report.AddTable("Targets (issue 17)", "tunnels", "measure", "measured", "threshold", "result");
        var esp = report.AddTable("ESP with N SAs installed vs one", "tunnels", "inner bytes", "1 SA pkt/s", "N SAs one hot pkt/s",
            "N SAs spread pkt/s", "one hot / 1", "spread / 1", "ESP alloc B/packet");

        foreach (int n in sizes)
        {
            Scale? s = null;
            try
            {
                if (o.Includes("tunnels")) s = await MeasureTunnelsAsync(n, probe, probeRounds, report);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                report.NotMeasured($"{n} tunnels", ex);
            }
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);

            var espRows = new List<EspResult>();
            foreach (int size in o.Includes("esp") ? espSizes : [])
            {
                var r = MeasureEsp(n, size, repeats, espWindow);
                espRows.Add(r);
                Console.WriteLine($"scale esp {n} SAs {size} B: 1 SA {Stats.N(r.One)} | one hot {Stats.N(r.Hot)} | spread {Stats.N(r.Spread)} pkt/s | " +
                                  $"hot/1 {Stats.F(r.HotRatio)} spread/1 {Stats.F(r.SpreadRatio)} | {Stats.F(r.AllocPerPacket, 3)} B/pkt");
                if (r.Failures > 0)
                {
                    report.Failed = true;
                    report.Notes.Add($"ESP {n} SAs {size} B: {r.Failures} packets failed the round trip.");
                }
                esp.Add(n.ToString(CultureInfo.InvariantCulture), size.ToString(CultureInfo.InvariantCulture), Stats.N(r.One), Stats.N(r.Hot),
                    Stats.N(r.Spread), Stats.F(r.HotRatio), Stats.F(r.SpreadRatio), Stats.F(r.AllocPerPacket, 3));
            }
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);

            if (s is null) continue;
            double managedPer = (s.HeapN - s.Heap0) / (double)s.Established, rssPer = (s.RssN - s.Rss0) / (double)s.Established;
            double rss16 = rssPer + PerCoreBytesPerTunnel(SixteenCores);
            double ratio = espRows.Count > 0 ? espRows[0].SpreadRatio : double.NaN;
            double setupRatio = s.RateFull / s.RateEmpty;
            string tunnels = n.ToString(CultureInfo.InvariantCulture);
            table.Add(tunnels, s.Established.ToString(CultureInfo.InvariantCulture), Stats.F(s.Seconds, 1),
                Stats.F(s.Established / s.Seconds, 0), $"{Stats.F(s.RateEmpty, 0)} / {Stats.F(s.RateFull, 0)}", Stats.F(setupRatio),
                $"{Stats.F(s.Heap0 / 1048576.0, 0)} / {Stats.F(s.HeapN / 1048576.0, 0)}",
                $"{Stats.F(s.Rss0 / 1048576.0, 0)} / {Stats.F(s.RssN / 1048576.0, 0)}", Stats.F(managedPer / 1024, 2), Stats.F(rssPer / 1024, 2),
                Stats.F(rss16 / 1024, 2), Stats.F(ratio));
            Target(targets, tunnels, "setups/s with N up / empty", setupRatio, TargetSetupRatio, higherIsBetter: true);
            Target(targets, tunnels, $"RSS KiB per tunnel ({Environment.ProcessorCount} cores)", rssPer / 1024, TargetBytesPerTunnel / 1024, higherIsBetter: false);
            Target(targets, tunnels, $"RSS KiB per tunnel ({SixteenCores} cores, computed)", rss16 / 1024, TargetBytesPerTunnel / 1024, higherIsBetter: false);
            Target(targets, tunnels, $"ESP spread / 1 SA ({espSizes[0]} B)", ratio, TargetEspRatio, higherIsBetter: true);
            if (s.Established < n)
                report.Notes.Add($"{n} tunnels: only {s.Established} came up ({s.Failures}); memory per tunnel is divided by the tunnels up.");
        }
        report.Notes.Add($"RSS per tunnel on {SixteenCores} cores = the measured figure + what the data plane allocates per core and SA " +
                         $"up front beyond this machine's {Environment.ProcessorCount} cores ({Stats.F(PerCoreBytesPerTunnel(SixteenCores), 0)} B: " +
                         $"{EspSa.LanesAtInstall(SixteenCores)} outbound cipher lanes at install instead of {EspSa.LanesAtInstall(Environment.ProcessorCount)}, " +
                         $"{Stats.F(LaneBytes.Value, 0)} B each, measured in this process over 20,000 keyed contexts).");
        report.Notes.Add($"Per-tunnel budget, native part: each Child SA holds {1 + EspSa.LanesAtInstall(Environment.ProcessorCount)} keyed OpenSSL " +
                         $"contexts at install (one inbound, one outbound lane), {Stats.F((1 + EspSa.LanesAtInstall(Environment.ProcessorCount)) * LaneBytes.Value / 1024, 2)} KiB; " +
                         "the rest of RSS per tunnel is the managed figure (actors, mailboxes, timers, IKE and Child SA state) and the GC's retention.");
        report.Notes.Add("`--only tunnels` or `--only esp` runs one half of the suite.");
        report.Notes.Add("RSS per tunnel is the figure the 12 KiB target is about (what the node pays); the managed figure is the part in the " +
                         ".NET heap (actors, IKE SA state, Child SA objects). RSS also moves with the GC's own retention (gen0 budget, " +
                         "free regions not yet decommitted), which is why small N give noisy per-tunnel figures.");
        return report;
    }


    private const int SixteenCores = 16;

    /// <summary>
    /// Bytes per tunnel the node allocates per core beyond this machine's core count, on <paramref name="cores"/>: the
    /// Child SA's outbound cipher lanes created at install (<see cref="EspSa.LanesAtInstall"/>) times what one lane costs.
    /// </summary>
    private static double PerCoreBytesPerTunnel(int cores) =>
        (EspSa.LanesAtInstall(cores) - EspSa.LanesAtInstall(Environment.ProcessorCount)) * LaneBytes.Value;

    /// <summary>RSS + managed bytes of one outbound lane (an AES-GCM-256 EVP context keyed, and its lane object), over 20,000.</summary>
    private static readonly Lazy<double> LaneBytes = new(() =>
    {
        const int Count = 20_000;
        byte[] key = new byte[36];
        var ciphers = new EspCipher[Count];
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        long rss0 = ReadRss(Environment.ProcessId), heap0 = GC.GetTotalMemory(true);
        for (int i = 0; i < Count; i++) ciphers[i] = EspCipher.Create(Gcm256, key, []);
        long rss1 = ReadRss(Environment.ProcessId), heap1 = GC.GetTotalMemory(true);
        foreach (var c in ciphers) c.Dispose();
        // The managed part is in RSS too once touched; the larger of the two deltas is the lane's cost.
        return Math.Max(rss1 - rss0, heap1 - heap0) / (double)Count + 48; // + the OutboundLane object
    });

    private static void Target(Table t, string size, string measure, double measured, double threshold, bool higherIsBetter) =>
        t.Add(size, measure, Stats.F(measured), $"{(higherIsBetter ? "≥" : "≤")} {Stats.F(threshold)}",
            double.IsNaN(measured) ? "not measured" : (higherIsBetter ? measured >= threshold : measured <= threshold) ? "met" : "missed");

    private sealed record Scale(int Established, string Failures, double Seconds, long Heap0, long HeapN, long Rss0, long RssN,
        double RateEmpty, double RateFull);

    // ---- tunnels: gateway process + fleet ----

    private static async Task<Scale> MeasureTunnelsAsync(int n, int probe, int probeRounds, Report report)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"concentrator-scale-{Environment.ProcessId}-{n}");
        Directory.CreateDirectory(dir);
        int ike = FreePorts.Udp(), natt = FreePorts.Udp(), http = FreePorts.Tcp();
        await using var gateway = await GatewayProcess.StartAsync(dir, ike, natt, http);
        var target = new IPEndPoint(IPAddress.Loopback, ike);
        Console.WriteLine($"scale {n}: gateway pid {gateway.Pid} on {target}, metrics on 127.0.0.1:{http}");

        var peers = new FleetOptions
        {
            Psk = Encoding.UTF8.GetBytes(Secret),
            GatewayId = GatewayId,
            IkeProposal = Ike,
            EspProposal = Esp,
            IdPrefix = "scale-",
        };
        await using var fleet = PeerFleet.Start(peers);

        // The warm-up runs before the baseline, so both figures include the code and caches it loads: as many setups as two
        // probe rounds, or the empty gateway is measured while its JIT tiering still climbs (round 1 < 2 < 3).
        await LoadTest.RunAsync(fleet, target, new LoadTestOptions { Peers = Math.Max(10, probe), Rounds = 2, Warmup = 0, Window = Window,
            Timeout = TimeSpan.FromSeconds(60 + probe / 20) });
        await using var prober = PeerFleet.Start(peers with { IdPrefix = "probe-", FirstIndex = ProbeFirstIndex });
        double rateEmpty = await ProbeAsync(prober, target, probe, probeRounds, n, "empty", report);
        var zero = await gateway.MemoryAfterGcAsync();
        Console.WriteLine($"scale {n}: baseline managed {zero.Heap / 1048576.0:F1} MiB, RSS {zero.Rss / 1048576.0:F1} MiB");

        var rounds = await LoadTest.RunAsync(fleet, target,
            new LoadTestOptions { Peers = n, Warmup = 0, Window = Window, Keep = true, Timeout = TimeSpan.FromSeconds(120 + n / 50) },
            new FleetProgress(n).Update, line => Console.WriteLine($"scale {n}: {line}"));
        var round = rounds[0];
        var metrics = await gateway.ScrapeAsync();
        int gatewayChildren = (int)GatewayMetrics.Sum(metrics, "concentrator_child_sas");
        int gatewayEstablished = (int)GatewayMetrics.Sum(metrics, "concentrator_ike_sas", "state=\"established\"");
        Console.WriteLine($"scale {n}: gateway has {gatewayEstablished} IKE SAs established, {gatewayChildren} Child SAs installed");
        if (gatewayChildren != round.Established || gatewayEstablished != round.Established)
            report.Notes.Add($"{n} tunnels: the fleet counted {round.Established} up, the gateway {gatewayEstablished} IKE SAs and {gatewayChildren} Child SAs.");

        var full = await gateway.MemoryAfterGcAsync();
        Console.WriteLine($"scale {n}: managed {full.Heap / 1048576.0:F1} MiB, RSS {full.Rss / 1048576.0:F1} MiB");
        double rateFull = await ProbeAsync(prober, target, probe, probeRounds, n, $"with {round.Established} up", report);
        if (!zero.GcInduced || !full.GcInduced)
            report.Notes.Add($"{n} tunnels: no gen-2 GC was seen after the induction (managed figures may include garbage).");
        Directory.Delete(dir, recursive: true);
        return new Scale(Math.Min(gatewayChildren, round.Established), LoadTest.FormatFailures(round.Failures), round.ElapsedSeconds,
            zero.Heap, full.Heap, zero.Rss, full.Rss, rateEmpty, rateFull);
    }

    /// <summary>Median setups/s of <paramref name="rounds"/> rounds of <paramref name="peers"/> probe peers (each round deleted after).</summary>
    private static async Task<double> ProbeAsync(PeerFleet prober, IPEndPoint target, int peers, int rounds, int n, string when, Report report)
    {
        var results = await LoadTest.RunAsync(prober, target,
            new LoadTestOptions { Peers = peers, Warmup = 10, Rounds = rounds, Window = Window, Timeout = TimeSpan.FromSeconds(60 + peers / 20) },
            log: line => Console.WriteLine($"scale {n} probe {when}: {line}"));
        if (results.Any(r => r.Established < r.Requested))
            report.Notes.Add($"{n} tunnels, probe {when}: " + string.Join("; ", results.Select(r => $"{r.Established}/{r.Requested} up {LoadTest.FormatFailures(r.Failures)}")));
        return Stats.Median(results.Select(r => r.SetupsPerSecond));
    }

    /// <summary>Progress on stdout, a line every 10% (the benchmark's output is usually a log).</summary>
    private sealed class FleetProgress(int total)
    {
        private int _lastDecile = -1;

        public void Update(int up, int failed, int _)
        {
            int decile = total == 0 ? 10 : (up + failed) * 10 / total;
            if (decile == _lastDecile) return;
            _lastDecile = decile;
            Console.WriteLine($"  {up}/{total} up, {failed} failed");
        }
    }

    private sealed record Memory(long Heap, long Rss, bool GcInduced);

    /// <summary><c>dotnet Concentrator.dll run</c> on loopback; disposing stops it (SIGTERM, then SIGKILL).</summary>
    private sealed class GatewayProcess : IAsyncDisposable
    {
        private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(30) };
        private readonly BackgroundProcess _process;
        private readonly string _metricsUrl;

        private GatewayProcess(BackgroundProcess process, int http)
        {
            _process = process;
            _metricsUrl = $"http://127.0.0.1:{http}/metrics";
        }

        public int Pid => _process.Pid;

        public static async Task<GatewayProcess> StartAsync(string dir, int ike, int natt, int http)
        {
            string config = Path.Combine(dir, "concentrator.yaml");
            await File.WriteAllTextAsync(config, $$"""
                # generated by Concentrator.Benchmarks (scale): many tunnels from one source address
                listen: { addresses: [127.0.0.1], ike_port: {{ike}}, natt_port: {{natt}} }
                http: { listen: "127.0.0.1:{{http}}" }
                tunnel: { type: none }
                cluster: { hostname: 127.0.0.1, port: 0 }
                charon: { cookie_threshold: 0, cookie_threshold_ip: 0, block_threshold: 0, init_limit_job_load: 0, ikesa_limit: 0, ikesa_limit_per_peer: 0 }
                connections:
                  scale:
                    proposals: [{{Ike}}]
                    local: { auth: psk, id: {{GatewayId}} }
                    remote: { auth: psk, id: "%any" }
                    children:
                      lan:
                        local_ts: [10.10.0.0/16]
                        remote_ts: [10.192.0.0/10]
                        esp_proposals: [{{Esp}}]
                secrets:
                  bench: { secret: "{{Secret}}" }
                """);
            var env = new Dictionary<string, string> { ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1", ["DOTNET_NOLOGO"] = "1" };
            var p = BackgroundProcess.Start("dotnet",
                [typeof(Concentrator.Hosting.Gateway).Assembly.Location, "run", "--config", config, "--log-level", "warning", "--shutdown-timeout", "2"],
                Path.Combine(dir, "stdout.jsonl"), Path.Combine(dir, "stderr.txt"), env, TimeSpan.FromSeconds(10));
            var g = new GatewayProcess(p, http);
            var clock = Stopwatch.StartNew();
            while (true)
            {
                if (p.HasExited)
                    throw new InvalidOperationException($"the gateway exited {p.ExitCode}: {BackgroundProcess.ReadShared(p.StdoutPath)} {BackgroundProcess.ReadShared(p.StderrPath)}");
                try
                {
                    using var r = await Http.GetAsync($"http://127.0.0.1:{http}/readyz");
                    if (r.IsSuccessStatusCode) return g;
                }
                catch (HttpRequestException)
                {
                }
                if (clock.Elapsed > TimeSpan.FromSeconds(60))
                {
                    await g.DisposeAsync();
                    throw new TimeoutException("the gateway was not ready within 60 s");
                }
                await Task.Delay(200);
            }
        }

        public Task<string> ScrapeAsync() => Http.GetStringAsync(_metricsUrl);

        /// <summary>2 s idle, then a full GC induced through the diagnostic port: the heap it left and the RSS after it.</summary>
        public async Task<Memory> MemoryAfterGcAsync()
        {
            await Task.Delay(2000);
            var (heap, full) = await Task.Run(() => InduceGc(Pid));
            return new Memory(heap, ReadRss(Pid), full);
        }

        public async ValueTask DisposeAsync() => await _process.DisposeAsync();
    }

    /// <summary>
    /// A blocking gen-2 GC in another .NET process: enabling the runtime provider's GCHeapCollect keyword on an EventPipe
    /// session makes the runtime collect (how dotnet-gcdump snapshots a heap). Returns the heap size the GC itself reports
    /// at the end of the last collection seen (GCHeapStats: generations 0-2, large and pinned object heaps) and whether a
    /// gen-2 collection was seen. (The process's <c>dotnet_total_memory_bytes</c>, GC.GetTotalMemory, is not used: on
    /// .NET 10 it read negative right after such a GC.)
    /// </summary>
    private static (long Heap, bool FullGc) InduceGc(int pid)
    {
        const long GcKeyword = 0x1, GcHeapCollectKeyword = 0x800000;
        var client = new DiagnosticsClient(pid);
        using var session = client.StartEventPipeSession(
            [new EventPipeProvider("Microsoft-Windows-DotNETRuntime", EventLevel.Informational, GcKeyword | GcHeapCollectKeyword)],
            requestRundown: false, circularBufferMB: 16);
        long heap = -1;
        bool full = false;
        using var source = new EventPipeEventSource(session.EventStream);
        source.Clr.GCStart += e =>
        {
            if (e.Depth == 2) full = true;
        };
        source.Clr.GCHeapStats += e =>
            heap = e.GenerationSize0 + e.GenerationSize1 + e.GenerationSize2 + e.GenerationSize3 + e.GenerationSize4;
        var processing = Task.Run(() =>
        {
            try
            {
                source.Process();
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException)
            {
            }
        });
        var clock = Stopwatch.StartNew();
        while ((heap < 0 || !full) && clock.Elapsed < TimeSpan.FromSeconds(20)) Thread.Sleep(100);
        session.Stop();
        processing.Wait(TimeSpan.FromSeconds(10));
        if (heap < 0) throw new InvalidOperationException($"no GCHeapStats event from pid {pid} within 20 s");
        return (heap, full);
    }

    private static long ReadRss(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        }
        throw new InvalidOperationException($"no VmRSS in /proc/{pid}/status");
    }

    // ---- ESP with N SAs installed ----

    private sealed record EspResult(double One, double Hot, double Spread, double HotRatio, double SpreadRatio, double AllocPerPacket, long Failures);

    private static readonly EspSuite Gcm256 = new(EncrAlgorithm.AesGcm16, 256, IntegAlgorithm.None, DhGroup.None, false);

    /// <summary>Two planes with <paramref name="n"/> SAs each and the gateway's outbound selector table over them.</summary>
    private sealed class Planes : IDisposable
    {
        public readonly InMemoryDataPlane Gateway = new();
        public readonly InMemoryDataPlane Peers = new();
        public readonly SelectorTable<EspSa> Outbound = new();
        public readonly uint[] Destination;

        public Planes(int n)
        {
            Destination = new uint[n];
            var local = new[] { Ts(0x0A0A_0000, 0x0A0A_FFFF) }; // 10.10.0.0/16
            for (int i = 0; i < n; i++)
            {
                uint gatewaySpi = 0x1000_0000u + (uint)i, peerSpi = 0x2000_0000u + (uint)i;
                uint inner = FleetOptions.InnerBase + (uint)i;
                Destination[i] = inner;
                byte[] up = Key(i, 0x11), down = Key(i, 0x33);
                var remote = new[] { Ts(inner, inner) };
                Gateway.AddSa(Install(gatewaySpi, peerSpi, (byte[])up.Clone(), (byte[])down.Clone(), local, remote));
                Peers.AddSa(Install(peerSpi, gatewaySpi, (byte[])down.Clone(), (byte[])up.Clone(), remote, local));
                Gateway.TryGetSa(gatewaySpi, out var sa);
                Outbound.Add(local, remote, sa);
            }
        }

        private static TrafficSelector Ts(uint start, uint end) => new(TsType.Ipv4AddressRange, 0, 0, 65535, Ip(start), Ip(end));

        private static IPAddress Ip(uint a) => new([(byte)(a >> 24), (byte)(a >> 16), (byte)(a >> 8), (byte)a]);

        private static byte[] Key(int i, byte seed)
        {
            var key = new byte[36]; // AES-256 key | 4-byte salt (RFC 4106)
            for (int k = 0; k < key.Length; k++) key[k] = (byte)(seed + k * 7 + i);
            BinaryPrimitives.WriteInt32BigEndian(key, i);
            return key;
        }

        private static ChildSaInstall Install(uint inbound, uint outbound, byte[] inKey, byte[] outKey,
            IReadOnlyList<TrafficSelector> localTs, IReadOnlyList<TrafficSelector> remoteTs) => new(
            inbound, outbound, Gcm256, inKey, [], outKey, [], localTs, remoteTs,
            new IPEndPoint(IPAddress.Parse("192.0.2.1"), 4500), new IPEndPoint(IPAddress.Parse("198.51.100.7"), 4500),
            EspTransport.UdpEncapsulated, 128, "bench", "esp");

        public void Dispose()
        {
            Gateway.Dispose();
            Peers.Dispose();
        }
    }

    /// <summary>
    /// Packets per CPU-second through selector lookup + seal on the gateway plane and SPI lookup + open on the peer plane,
    /// with 1 SA installed, with <paramref name="n"/> installed and one hot, and with <paramref name="n"/> spread.
    /// </summary>
    private static EspResult MeasureEsp(int n, int size, int repeats, TimeSpan window)
    {
        using var one = new Planes(1);
        using var many = new Planes(n);
        byte[] inner = TrafficPump.BuildPacket(IPAddress.Parse("10.10.0.1"), IPAddress.Parse("10.200.0.0"), size);
        byte[] wire = new byte[size + 256];
        int stride = Stride(n);
        long failures = 0;
        int cursor = 0;
        EspLoop(one, 1, 1, inner, wire, window, ref cursor, ref failures);
        EspLoop(many, 1, n, inner, wire, window, ref cursor, ref failures);
        EspLoop(many, stride, n, inner, wire, window, ref cursor, ref failures);

        var ones = new List<double>();
        var hots = new List<double>();
        var spreads = new List<double>();
        var hotRatios = new List<double>();
        var spreadRatios = new List<double>();
        long allocated = 0, packets = 0;
        for (int r = 0; r < repeats; r++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            var (n1, t1) = EspLoop(one, 1, 1, inner, wire, window, ref cursor, ref failures);
            int hotCursor = 0;
            var (nh, th) = EspLoop(many, 0, n, inner, wire, window, ref hotCursor, ref failures);
            var (ns, ts) = EspLoop(many, stride, n, inner, wire, window, ref cursor, ref failures);
            allocated += GC.GetAllocatedBytesForCurrentThread() - before;
            packets += n1 + nh + ns;
            ones.Add(n1 / t1);
            hots.Add(nh / th);
            spreads.Add(ns / ts);
            hotRatios.Add(hots[^1] / ones[^1]);
            spreadRatios.Add(spreads[^1] / ones[^1]);
        }
        return new EspResult(Stats.Median(ones), Stats.Median(hots), Stats.Median(spreads), Stats.Median(hotRatios), Stats.Median(spreadRatios),
            packets == 0 ? double.NaN : (double)allocated / packets, failures);
    }

    /// <summary>A step coprime with <paramref name="n"/> and far from 1, so consecutive packets hit SAs allocated far apart.</summary>
    private static int Stride(int n)
    {
        if (n <= 2) return 1;
        int s = (int)Math.Min(n - 1, 7919L);
        while (GreatestCommonDivisor(s, n) != 1) s--;
        return s;
    }

    private static int GreatestCommonDivisor(int a, int b)
    {
        while (b != 0) (a, b) = (b, a % b);
        return a;
    }

    /// <summary>
    /// One window of the loop. <paramref name="step"/> 0 keeps <paramref name="cursor"/> on one SA; otherwise it advances by
    /// <paramref name="step"/> modulo <paramref name="n"/> per packet. No allocation, locks or exceptions per packet.
    /// </summary>
    private static (long Packets, double Seconds) EspLoop(Planes planes, int step, int n, byte[] inner, byte[] wire, TimeSpan duration,
        ref int cursor, ref long failures)
    {
        long count = 0;
        int c = cursor % n;
        long deadline = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        double cpuStart = EspBenchmark.ThreadCpu.Seconds();
        do
        {
            for (int i = 0; i < 64; i++)
            {
                BinaryPrimitives.WriteUInt32BigEndian(inner.AsSpan(16), planes.Destination[c]);
                if (!planes.Outbound.TryLookup(inner, out EspSa? sa))
                {
                    failures++;
                }
                else
                {
                    EspStatus status = EspPipeline.Seal(sa, inner, wire, out int written);
                    if (status != EspStatus.Ok || planes.Peers.Decapsulate(wire.AsSpan(0, written), out _) != EspStatus.Ok)
                        failures++;
                }
                c += step;
                if (c >= n) c -= n;
            }
            count += 64;
        }
        while (Stopwatch.GetTimestamp() < deadline);
        cursor = c;
        return (count, EspBenchmark.ThreadCpu.Seconds() - cpuStart);
    }
}
