using System.Collections.Concurrent;
using System.Diagnostics;
using Concentrator.Testbed.Interop;

namespace Concentrator.Benchmarks;

/// <summary>
/// The independent generator: a stock charon (kernel-libipsec, the harness's build) in the peer namespace initiates
/// IKE+Child setups against either responder. Debian's strongSwan 5.9.8 packages do not build the load-tester plugin,
/// so the generator is driven over vici: one connection per peer (identity peer-N.swan, inner /32 10.200.x.y, the LAN range 10.10.0.0/16), each
/// `initiate` a distinct IKE SA; completion is charon's child-updown event (the Child SA installed in libipsec).
/// </summary>
public static partial class HandshakeSuite
{
    /// <summary>At most this many setups initiated and not yet up: the generator's pacing (the fleet's rounds start every peer at once).</summary>
    public const int CharonWindow = 100;

    /// <summary>
    /// The generator's settings: the first retransmission after 4 s like the fleet's (the harness's 1 s would resend to a
    /// responder that is merely busy and count its duplicates against it). A later key of strongswan.conf replaces the
    /// harness's earlier one (settings_kv_add).
    /// </summary>
    private const string GeneratorSettings = "retransmit_timeout = 4.0\nretransmit_tries = 2";

    /// <summary>
    /// One session of the charon generator against a freshly started responder: <paramref name="cold"/> setups first (the
    /// responder's first after its start), then <paramref name="rounds"/> rounds of <paramref name="peers"/>; every round's
    /// SAs are deleted (terminate, the generator sends the Deletes) before the next.
    /// </summary>
    private static async Task<Session> CharonSessionAsync(int peers, int rounds, bool swan, int cold)
    {
        await using var scope = InteropScope.Create(Console.WriteLine);
        var bed = scope.Bed;
        Responder? responder = null;
        StrongSwan? generator = null;
        try
        {
            responder = await StartResponderAsync(scope, swan, pki: null);
            generator = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-generator"), "generator", extraSettings: GeneratorSettings));
            await generator.QuietAsync();
            int count = Math.Max(peers, cold);
            // kernel-libipsec installs a route per outbound policy from a local address inside the local TS (else the
            // Child SA fails): each peer's inner address on the peer namespace's loopback.
            // The batch goes through a stdin pipe: `ip -batch FILE` reopens stdin on the file, and when the caller's stdin was
            // closed its netlink socket got fd 0 and was replaced by the file ("Socket operation on non-socket").
            string batch = string.Join('\n', Enumerable.Range(0, count).Select(i => $"address add {InnerAddress(i)}/32 dev lo")) + "\n";
            await Command.CheckAsync("ip", ["-n", bed.Peer.Name, "-batch", "-"], TimeSpan.FromSeconds(30), stdin: batch);
            await generator.LoadAsync(GeneratorConf(bed.PeerOuter, count));
            int generatorPid = bed.Peer.FindPid((comm, _) => comm == "charon") ?? throw new InvalidOperationException("no generator charon");
            await using var sampler = new CpuSampler(new Dictionary<string, Func<int?>>
            {
                ["responder"] = () => responder.Pid,
                ["generator"] = () => generatorPid,
            });
            await using var control = await ViciClient.ConnectAsync(generator.ViciSocket);
            await using var events = await ChildUpEvents.StartAsync(generator.ViciSocket);
            var up = events.FirstUp;
            int installedBefore = responder.ChildSas();
            Console.WriteLine($"handshake {(swan ? "strongSwan" : "concentrator")} in {bed.Gateway.Name}, charon generator: cold {cold}, " +
                              $"then {peers} peers x {rounds} rounds, window {CharonWindow}");
            Round? coldRound = cold > 0 ? await CharonRoundAsync(control, up, sampler, responder, cold, Math.Min(cold, CharonWindow)) : null;
            var list = new List<Round>();
            for (int i = 0; i < rounds; i++)
            {
                var r = await CharonRoundAsync(control, up, sampler, responder, peers, CharonWindow);
                list.Add(r);
                Console.WriteLine($"  round {i + 1}: {r.Established}/{r.Requested} up, {Stats.F(r.SetupsPerSecond, 0)}/s, p50 {Stats.F(r.P50Ms, 1)} ms, " +
                                  $"p99 {Stats.F(r.P99Ms, 1)} ms, responder {Stats.F(r.ResponderCpuMs)} ms CPU/setup, generator {Stats.F(r.GeneratorCpuMs)}");
            }
            // A round with setups missing keeps the run's files (charon logs) for diagnosis.
            if (list.Append(coldRound).All(r => r is null || r.Established == r.Requested)) scope.Passed();
            int established = list.Sum(r => r.Established) + (coldRound?.Established ?? 0);
            return new Session(list, coldRound, Stats.Median(list.Select(r => r.LogLinesPerSetup)),
                CheckChildSas(responder, installedBefore, established, established));
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new InvalidOperationException($"{ex.Message}\n{responder?.Diagnostics()}\n{generator?.Diagnostics(3000)}\n(run files kept in {bed.WorkDir})", ex);
        }
    }

    /// <summary>
    /// Initiates connections p0..p(n-1) with at most <paramref name="window"/> not yet up, until all are up or the round's
    /// timeout passes; the responder's and the generator's CPU over the window from the first initiation to the last
    /// child-updown. Then terminates them all and waits (bounded) until the generator holds no IKE SA.
    /// </summary>
    private static async Task<Round> CharonRoundAsync(ViciClient control, ConcurrentDictionary<string, DateTimeOffset> up, CpuSampler sampler,
        Responder responder, int n, int window)
    {
        up.Clear();
        var timeout = TimeSpan.FromSeconds(Math.Max(30, n / 10));
        var initiatedAt = new DateTimeOffset[n];
        int initiated = 0, refused = 0;
        long linesBefore = responder.LogLines();
        sampler.Sample();
        var start = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        while (up.Count + refused < n && clock.Elapsed < timeout)
        {
            while (initiated < n && initiated - up.Count - refused < window)
            {
                initiatedAt[initiated] = DateTimeOffset.UtcNow;
                var answer = await control.RequestAsync("initiate", new Dictionary<string, string>
                {
                    ["ike"] = ConnName(initiated), ["child"] = "lan", ["timeout"] = "-1", ["init-limits"] = "no",
                });
                if (answer.GetValueOrDefault("success") != "yes") refused++;
                initiated++;
            }
            await Task.Delay(2);
        }
        var end = up.IsEmpty ? DateTimeOffset.UtcNow : up.Values.Max();
        sampler.Sample();
        long lines = responder.LogLines() - linesBefore;
        var latencies = Enumerable.Range(0, initiated).Where(i => up.ContainsKey(ConnName(i)))
            .Select(i => (up[ConnName(i)] - initiatedAt[i]).TotalMilliseconds).Order().ToArray();
        int established = latencies.Length;
        if (established == 0) throw new InvalidOperationException($"none of {n} setups came up ({refused} refused by the generator)");
        double seconds = (end - start).TotalSeconds;
        string failures = established == n ? "" : $"{refused} refused by the generator, {n - established - refused} not up within {timeout.TotalSeconds} s";
        var round = new Round(n, established, seconds > 0 ? established / seconds : double.NaN, Percentile(latencies, 50), Percentile(latencies, 99), failures, -1)
        {
            ResponderCpuMs = PerSetupMs(sampler.CpuSeconds("responder", start, end), established),
            GeneratorCpuMs = PerSetupMs(sampler.CpuSeconds("generator", start, end), established),
            LogLinesPerSetup = (double)lines / established,
        };

        for (int i = 0; i < initiated; i++)
            await control.RequestAsync("terminate", new Dictionary<string, string> { ["ike"] = ConnName(i), ["timeout"] = "-1" });
        var drain = Stopwatch.StartNew();
        while (drain.Elapsed < TimeSpan.FromSeconds(30))
        {
            var stats = await control.RequestAsync("stats");
            if (stats.GetValueOrDefault("ikesas.total") == "0") break;
            await Task.Delay(100);
        }
        // The responder has answered every Delete once the generator holds none; a pause for its own bookkeeping.
        await Task.Delay(300);
        return round;
    }

    private static string ConnName(int i) => "p" + i;

    /// <summary>Peer i's inner address (its local TS, a /32; the remote TS is the LAN range, as the fleet's).</summary>
    private static string InnerAddress(int i) => $"10.200.{i / 250}.{i % 250 + 1}";

    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p / 100 * sorted.Length) - 1)];

    /// <summary>One connection per peer: its own identity and inner /32, the responder's identity, proposals and PSK.</summary>
    private static string GeneratorConf(string peerOuter, int count) =>
        SwanctlConf.Connections(Enumerable.Range(0, count).Select(i => SwanctlConf.ConnectionBlock(ConnName(i), peerOuter,
            NamespaceTestbed.GatewayOuter, Ike, $"auth = psk\nid = peer-{i}.swan", $"auth = psk\nid = {GatewayId}", "lan",
            InnerAddress(i) + "/32", "10.10.0.0/16", Esp)).ToArray()) + AnyPeerSecret;
}
