using System.Diagnostics;
using System.Net;
using Concentrator.Cli;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.Hosting;
using Concentrator.Simulation;
using Concentrator.Testbed.Interop;
using Concentrator.Testbed.Support;

namespace Concentrator.Benchmarks;


/// <summary>
/// IKE+Child setups (IKE_SA_INIT + IKE_AUTH with one Child SA, PSK, ECP-256, AES-GCM-256): the responder's CPU per setup
/// (the headline), setups/s and p50/p99 setup latency. Responders: (a) the concentrator in-process on loopback, like
/// `demo`; (a') the concentrator process in the gateway namespace; (b) a strongSwan charon responder in the gateway
/// namespace. Generators for (a') and (b), in the peer namespace: the demo's <see cref="PeerFleet"/> (our initiator,
/// `Concentrator loadtest` run as a child process of this program) and a stock charon driven over vici (an independent
/// implementation, <c>HandshakeSuite.Charon.cs</c>). Each namespace session starts a fresh responder and measures its
/// first setups (cold) before the steady rounds. (a') and (b) are measured with certificates too (RSA-3072 and
/// ECDSA-256, auth pubkey both ways, the fleet as generator), with the same PKI for both responders.
/// </summary>
public static partial class HandshakeSuite
{
    /// <summary>The fleet client in the peer namespace is <c>Concentrator loadtest</c>, run through this program.</summary>
    public const string FleetClientCommand = "loadtest";

    /// <summary>Setups of the cold round, the first a freshly started responder serves (issue 17: at most 2x the steady cost).</summary>
    public const int ColdSetups = 50;

    /// <summary>The concentrator responder's log level; charon's file log is at 0 (its IKE_SA and CHILD_SA established lines).</summary>
    public const string ResponderLogLevel = "information";

    private const string GatewayId = "gw.demo.concentrator";
    private const string Secret = "bench-only-shared-key-not-for-production";
    private const string Ike = "aes256gcm16-prfsha256-ecp256";
    private const string Esp = "aes256gcm16";

    /// <summary>
    /// Authentication of a namespace row: the PSK (<see cref="Suffix"/> empty), or certificates of one key type for the
    /// root CA, the responder and the peers (<c>pki --gen --type Type --size Bits</c>).
    /// </summary>
    private sealed record Auth(string Suffix, string Label, string? Type, int Bits)
    {
        public static readonly Auth Psk = new("", "PSK", null, 0);
        public static readonly Auth[] All = [Psk, new("-rsa3072", "RSA-3072 certificates", "rsa", 3072), new("-ecdsa256", "ECDSA-256 certificates", "ecdsa", 256)];
        public bool Certificates => Type is not null;
    }

    /// <summary>
    /// One measured round. Retransmits is -1 where the generator does not count them (charon); the CPU figures are
    /// milliseconds per established setup over the round's window, NaN where not measured (in-process rows).
    /// </summary>
    public sealed record Round(int Requested, int Established, double SetupsPerSecond, double P50Ms, double P99Ms, string Failures, long Retransmits)
    {
        public double ResponderCpuMs { get; init; } = double.NaN;
        public double GeneratorCpuMs { get; init; } = double.NaN;

        /// <summary>Lines the responder logged over the round's window (before its Deletes) per setup.</summary>
        public double LogLinesPerSetup { get; init; } = double.NaN;
    }

    /// <summary>
    /// One fresh responder: its steady rounds, its cold round (first setups after start), its log lines per setup (charon
    /// generator only), and the Child SAs it installed per setup established (1.00 when every setup had its Child SA).
    /// </summary>
    private sealed record Session(IReadOnlyList<Round> Rounds, Round? Cold, double LogLinesPerSetup, double ChildSasPerSetup = double.NaN);

    /// <summary>A row of the results: every round of every session of one configuration.</summary>
    private sealed record Row(string Id, string Name, string Generator, string Where, List<Session> Sessions)
    {
        public IReadOnlyList<Round> Rounds => Sessions.SelectMany(s => s.Rounds).ToList();
        public Round Median => MedianRound(Rounds);
        public double ColdCpuMs => Stats.Median(Sessions.Where(s => s.Cold is not null).Select(s => s.Cold!.ResponderCpuMs));
        public double ColdRatio => ColdCpuMs / Median.ResponderCpuMs;
    }

    public static async Task<Report> RunAsync(BenchOptions o)
    {
        int peers = o.Peers ?? (o.Quick ? 30 : 500);
        int rounds = o.Repeats ?? (o.Quick ? 1 : 3);
        int sessions = o.Quick ? 1 : 2;
        int nsRounds = o.Repeats ?? (o.Quick ? 1 : 2);
        var report = new Report("handshake", "IKE responder CPU per setup, setup rate and latency");
        Describe(report, peers, rounds, sessions, nsRounds);
        var rows = new List<Row>();

        if (o.Includes("loopback"))
        {
            try
            {
                var list = await LoopbackAsync(peers, rounds);
                rows.Add(new("loopback", "(a) concentrator, in-process", "fleet", "127.0.0.1, same process as the fleet (as `demo`)", [new(list, null, double.NaN)]));
            }
            catch (Exception ex)
            {
                report.NotMeasured("(a) loopback", ex);
            }
        }

        if (o.Includes("cluster"))
        {
            try
            {
                var (list, replicated) = await ClusterAsync(peers, rounds);
                var row = new Row("cluster", "(a-c) concentrator, in-process, member of a 3-node cluster", "fleet",
                    "127.0.0.1, same process as the fleet and the two other members", [new(list, null, double.NaN)]);
                rows.Add(row);
                report.Notes.Add($"(a-c): after each round the two other members held replicas of {string.Join(", ", replicated)} SAs " +
                                 $"(every established SA is snapshotted and written to all members, WriteAll, before the next round starts).");
                if (rows.FirstOrDefault(r => r.Id == "loopback") is { } alone)
                {
                    var ratios = report.AddTable("Cost of replication (same process, same fleet, measured back to back)", "ratio", "value");
                    ratios.Add("setups/s 3-node cluster member / alone: (a-c) / (a)", Stats.F(row.Median.SetupsPerSecond / alone.Median.SetupsPerSecond));
                    ratios.Add("p50 latency (a-c) / (a)", Stats.F(row.Median.P50Ms / alone.Median.P50Ms));
                }
            }
            catch (Exception ex)
            {
                report.NotMeasured("(a-c) cluster member", ex);
            }
        }

        foreach (var auth in Auth.All)
        {
            var missing = InteropPrerequisites.Missing(needDotnet: true, needPki: auth.Certificates);
            // One PKI per key type, used by both responders' rows: the same certificates and keys for each.
            string pkiDir = Path.Combine(Path.GetTempPath(), $"concentrator-bench-pki-{Guid.NewGuid():N}"[..40]);
            SwanPki? pki = null;
            try
            {
                // Interleaved: every configuration's first session before any second session, (a') before (b) each time.
                for (int s = 0; s < (auth.Certificates ? 1 : sessions); s++)
                {
                    foreach (bool charonGenerator in auth.Certificates ? new[] { false } : new[] { false, true })
                    {
                        foreach (bool swan in new[] { false, true })
                        {
                            string id = (swan ? "ns-swan" : "ns-ours") + auth.Suffix + (charonGenerator ? "-charon" : "");
                            if (!o.Includes(id)) continue;
                            string name = (swan ? "(b) strongSwan charon 5.9" : "(a') concentrator process") + (auth.Certificates ? ", " + auth.Label : "");
                            if (missing.Count > 0)
                            {
                                if (s == 0)
                                {
                                    report.Notes.Add($"{id} NOT MEASURED: prerequisites missing: " + string.Join(", ", missing) +
                                                     " (root, network namespaces, strongswan-charon and strongswan-pki are needed; run scripts/install-deps.sh as root).");
                                }
                                report.Failed = true;
                                continue;
                            }
                            try
                            {
                                if (auth.Certificates) pki ??= await MakePkiAsync(pkiDir, auth);
                                var session = charonGenerator
                                    ? await CharonSessionAsync(peers, nsRounds, swan, ColdSetups)
                                    : await FleetSessionAsync(peers, auth.Certificates ? rounds : nsRounds, swan, pki, ColdSetups);
                                var row = rows.FirstOrDefault(r => r.Id == id);
                                if (row is null)
                                {
                                    rows.Add(row = new Row(id, name, charonGenerator ? "strongSwan charon 5.9 (vici)" : "fleet (`Concentrator loadtest`)",
                                        "gateway namespace, generator in the peer namespace", []));
                                }
                                row.Sessions.Add(session);
                            }
                            catch (Exception ex)
                            {
                                report.NotMeasured($"{id} session {s + 1}", ex);
                            }
                        }
                    }
                }
            }
            finally
            {
                if (Directory.Exists(pkiDir)) Directory.Delete(pkiDir, recursive: true);
            }
        }

        Tabulate(report, rows);
        return report;
    }

    private static Round MedianRound(IReadOnlyList<Round> rounds)
    {
        var mid = rounds.OrderBy(r => r.SetupsPerSecond).ElementAt(rounds.Count / 2);
        return mid with
        {
            SetupsPerSecond = Stats.Median(rounds.Select(r => r.SetupsPerSecond)),
            P50Ms = Stats.Median(rounds.Select(r => r.P50Ms)),
            P99Ms = Stats.Median(rounds.Select(r => r.P99Ms)),
            ResponderCpuMs = Stats.Median(rounds.Select(r => r.ResponderCpuMs)),
            GeneratorCpuMs = Stats.Median(rounds.Select(r => r.GeneratorCpuMs)),
        };
    }

    // ---- (a) loopback, in-process ----

    private static async Task<IReadOnlyList<Round>> LoopbackAsync(int peers, int rounds)
    {
        var config = ConcentratorConfig.Parse(DemoCommand.GatewayYaml, "<embedded demo config>");
        var plane = new InMemoryDataPlane();
        await using var gateway = Gateway.Start(new GatewayOptions { Config = config, DataPlane = plane });
        await using var fleet = PeerFleet.Start(new FleetOptions { Psk = config.FindSharedKey(GatewayId, "peer-0.fleet")! });
        Console.WriteLine($"handshake loopback: gateway {gateway.IkeEndpoint}, {peers} peers x {rounds} rounds");
        var result = await RoundsAsync(fleet, gateway.IkeEndpoint, peers, rounds, TimeSpan.FromSeconds(Math.Max(30, peers / 10)));
        return result;
    }

    // ---- (a-c) loopback, in-process, the responder one of three cluster members ----

    /// <summary>
    /// As (a), but the responder is a member of a three-node cluster whose other two members run in this process too: every
    /// established SA is snapshotted and written to both (the replication of issue 7). The fleet targets the first member only.
    /// Returns the rounds and, per round, the fewest SAs either other member held a replica of once the round ended.
    /// </summary>
    private static async Task<(IReadOnlyList<Round> Rounds, List<int> Replicated)> ClusterAsync(int peers, int rounds)
    {
        int seedPort = FreePorts.Tcp();
        var members = new List<Gateway>();
        try
        {
            foreach (int port in new[] { seedPort, FreePorts.Tcp(), FreePorts.Tcp() })
            {
                var config = ConcentratorConfig.Parse(DemoCommand.GatewayYaml.Replace(
                    "cluster: { hostname: 127.0.0.1, port: 0 }",
                    $"cluster: {{ hostname: 127.0.0.1, port: {port}, seed_nodes: [akka.tcp://concentrator@127.0.0.1:{seedPort}] }}"), "<cluster bench>");
                members.Add(Gateway.Start(new GatewayOptions { Config = config, DataPlane = new InMemoryDataPlane(), Cluster = config.Cluster }));
            }
            var formed = Stopwatch.StartNew();
            while (!members.All(m => m.Ready && m.ClusterNode!.OtherMembersUp == 2))
            {
                if (formed.Elapsed > TimeSpan.FromSeconds(60)) throw new TimeoutException("the three members did not all see each other Up within 60 s");
                await Task.Delay(200);
            }
            var responder = members[0];
            await using var fleet = PeerFleet.Start(new FleetOptions { Psk = responder.Options.Config.FindSharedKey(GatewayId, "peer-0.fleet")! });
            Console.WriteLine($"handshake cluster: member {responder.IkeEndpoint} of 3 (formed in {formed.ElapsedMilliseconds} ms), {peers} peers x {rounds} rounds");
            var list = new List<Round>();
            var replicated = new List<int>();
            for (int i = 0; i < rounds; i++)
            {
                // Kept after the round, so the replicas can be counted, then deleted as LoadTest does between rounds.
                var round = (await LoadTest.RunAsync(fleet, responder.IkeEndpoint, new LoadTestOptions
                {
                    Peers = peers, Rounds = 1, Timeout = TimeSpan.FromSeconds(Math.Max(30, peers / 10)), Keep = true,
                    Warmup = i == 0 ? new LoadTestOptions().Warmup : 0,
                }, log: line => Console.WriteLine("  " + line))).Single();
                list.Add(ToRound(round));
                var settle = Stopwatch.StartNew();
                int Held() => Math.Min(members[1].Replicas!.Count, members[2].Replicas!.Count);
                while (Held() < round.Established && settle.Elapsed < TimeSpan.FromSeconds(10)) await Task.Delay(100);
                replicated.Add(Held());
                await fleet.DeleteAllAsync(TimeSpan.FromSeconds(Math.Max(15, peers / 500)));
                await Task.Delay(300);
            }
            return (list, replicated);
        }
        finally
        {
            foreach (var m in members) await m.DisposeAsync();
        }
    }

    private static async Task<List<Round>> RoundsAsync(PeerFleet fleet, IPEndPoint target, int peers, int rounds, TimeSpan timeout)
    {
        var list = await LoadTest.RunAsync(fleet, target, new LoadTestOptions { Peers = peers, Rounds = rounds, Timeout = timeout },
            log: line => Console.WriteLine("  " + line));
        return list.Select(ToRound).ToList();
    }

    private static Round ToRound(LoadRound r) => new(r.Requested, r.Established, r.SetupsPerSecond, r.P50Ms, r.P99Ms,
        LoadTest.FormatFailures(r.Failures), r.Retransmits);
}
