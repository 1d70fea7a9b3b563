using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Concentrator.Cli;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.Hosting;
using Concentrator.Simulation;
using Concentrator.Testbed.Interop;
using Concentrator.Testbed.Support;

namespace Concentrator.Benchmarks;


/// <summary>
/// IKE setups per second at saturation (every peer of a round started at once) and p50/p99 setup latency,
/// measured by the demo's <see cref="PeerFleet"/> (our initiator: IKE_SA_INIT + IKE_AUTH with one Child SA,
/// PSK, ECP-256) against (a) the concentrator in-process on loopback, like `demo`; (a') the concentrator
/// process in the gateway namespace; (b) a strongSwan charon responder in the gateway namespace. For (a')
/// and (b) the fleet runs as a child process of this program inside the peer namespace, so both are
/// measured over the same veth with the same client. (a') and (b) are measured with certificates too (RSA-3072 and
/// ECDSA-256, auth pubkey both ways), with the same PKI for both responders.
/// </summary>
public static class HandshakeSuite
{
    /// <summary>The fleet client in the peer namespace is <c>Concentrator loadtest</c>, run through this program.</summary>
    public const string FleetClientCommand = "loadtest";

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

    /// <summary>One measured round of the fleet.</summary>
    public sealed record Round(int Requested, int Established, double SetupsPerSecond, double P50Ms, double P99Ms, string Failures, long Retransmits);

    public static async Task<Report> RunAsync(BenchOptions o)
    {
        int peers = o.Peers ?? (o.Quick ? 30 : 500);
        int rounds = o.Repeats ?? (o.Quick ? 1 : 3);
        var report = new Report("handshake", "IKE setup rate and latency with the peer fleet");
        report.Conditions.Add($"PeerFleet (Concentrator/Simulation, the initiator behind `demo`): {peers} peers per round, all started at once " +
                              $"(saturation), one IKE SA + one Child SA each: IKE {Ike}, ESP {Esp}, PSK, distinct identities peer-N.fleet and " +
                              $"inner /32s, every SA deleted between rounds; a warm-up round of 10 peers first; {rounds} measured round(s), median reported.");
        report.Conditions.Add("setups/s = established / time from the first initiation to the last outcome; latency = per-peer time from " +
                              "initiation to IKE SA up (the fleet's SetupTime); p50/p99 are medians over rounds.");
        report.Conditions.Add("Admission: cookies off on both responders (cookie_threshold = 0, cookie_threshold_ip = 0), the concentrator's half-open cap at its default 5000; charon " +
                              "has them off because charon 5.9's cookie check underflows when its random secret offset lands within " +
                              "10 s of the uptime, and then rejects every cookie until restart (seen on freshly booted CI machines); " +
                              "block_threshold (5 half-open SAs per source IP, default) is raised, because every " +
                              "simulated peer shares one source address; charon logs at level 0 while measuring. charon uses kernel-libipsec " +
                              "(SAs installed in its userspace ESP), encap = yes; the concentrator process runs with tunnel type none (SAs in memory, " +
                              "like the fleet's side) and log level information.");

        report.Conditions.Add("(a-c): as (a), but the responder is one of three cluster members in this process (Akka remoting on loopback); the " +
                              "other two receive every SA's snapshot, so their work (decoding, indexing) runs on the same 2 cores: on separate " +
                              "machines replication would cost the responder less than the ratio shows.");
        var table = report.AddTable("Results", "id", "responder", "where", "peers/round", "established", "setups/s", "p50 ms", "p99 ms", "vs strongSwan (b)",
            "rounds (setups/s)", "initiator retransmits per round");
        var rows = new List<(string Id, string Name, string Where, Round R)>();
        var allRounds = new Dictionary<string, IReadOnlyList<Round>>();

        if (o.Includes("loopback"))
        {
            try
            {
                var list = await LoopbackAsync(peers, rounds);
                allRounds["loopback"] = list;
                var r = MedianRound(list);
                rows.Add(("loopback", "(a) concentrator, in-process", "127.0.0.1, same process as the fleet (as `demo`)", r));
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
                allRounds["cluster"] = list;
                var r = MedianRound(list);
                rows.Add(("cluster", "(a-c) concentrator, in-process, member of a 3-node cluster",
                    "127.0.0.1, same process as the fleet and the two other members", r));
                report.Notes.Add($"(a-c): after each round the two other members held replicas of {string.Join(", ", replicated)} SAs " +
                                 $"(every established SA is snapshotted and written to all members, WriteAll, before the next round starts).");
                if (allRounds.TryGetValue("loopback", out var alone))
                {
                    var ratios = report.AddTable("Cost of replication (same process, same fleet, measured back to back)", "ratio", "value");
                    ratios.Add("setups/s 3-node cluster member / alone: (a-c) / (a)", Stats.F(r.SetupsPerSecond / MedianRound(alone).SetupsPerSecond));
                    ratios.Add("p50 latency (a-c) / (a)", Stats.F(r.P50Ms / MedianRound(alone).P50Ms));
                }
            }
            catch (Exception ex)
            {
                report.NotMeasured("(a-c) cluster member", ex);
            }
        }

        report.Conditions.Add("Rows with -rsa3072 and -ecdsa256: as (a') and (b), but both ends authenticate with certificates (auth pubkey, " +
                              "send_certreq yes, send_cert ifasked) instead of the PSK. One PKI per key type made by strongSwan's pki, used " +
                              "by both responders' rows: a self-signed root CA, the responder's certificate (subjectAltName " + GatewayId + ", " +
                              "serverAuth) issued by it, all keys RSA-3072 or ECDSA P-256; the fleet (loadtest --ca --issuer --issuer-key " +
                              "--peer-key) issues each peer a certificate for its identity from the root, over one shared key of the same " +
                              "type, before the rounds. Per setup each responder verifies one chain and one AUTH signature and makes one; " +
                              "RSA signatures are RFC 7427 PKCS#1 v1.5 with SHA-256 on both responders. Ratios compare rows of the same " +
                              "authentication.");
        foreach (var auth in Auth.All)
        {
            var missing = InteropPrerequisites.Missing(needDotnet: true, needPki: auth.Certificates);
            // One PKI per key type, used by both responders' rows: the same certificates and keys for each.
            string pkiDir = Path.Combine(Path.GetTempPath(), $"concentrator-bench-pki-{Guid.NewGuid():N}"[..40]);
            SwanPki? pki = null;
            try
            {
                foreach (bool swan in new[] { false, true })
                {
                    string id = (swan ? "ns-swan" : "ns-ours") + auth.Suffix;
                    if (!o.Includes(id)) continue;
                    string name = (swan ? "(b) strongSwan charon 5.9" : "(a') concentrator process") + (auth.Certificates ? ", " + auth.Label : "");
                    if (missing.Count > 0)
                    {
                        report.Notes.Add($"{id} NOT MEASURED: prerequisites missing: " + string.Join(", ", missing) +
                                         " (root, network namespaces, strongswan-charon and strongswan-pki are needed; run scripts/install-deps.sh as root).");
                        report.Failed = true;
                        continue;
                    }
                    try
                    {
                        if (auth.Certificates) pki ??= await MakePkiAsync(pkiDir, auth);
                        var list = await InNamespaceAsync(peers, rounds, swan, pki);
                        allRounds[id] = list;
                        rows.Add((id, name, "gateway namespace, fleet in the peer namespace", MedianRound(list)));
                    }
                    catch (Exception ex)
                    {
                        report.NotMeasured(name, ex);
                    }
                }
            }
            finally
            {
                if (Directory.Exists(pkiDir)) Directory.Delete(pkiDir, recursive: true);
            }
        }

        foreach (var (id, name, where, r) in rows)
        {
            var each = allRounds.TryGetValue(id, out var l) ? l : [r];
            // Namespace rows against strongSwan with the same authentication; the in-process rows against its PSK row.
            string swanId = id.StartsWith("ns-", StringComparison.Ordinal) ? "ns-swan" + id["ns-ours".Length..] : "ns-swan";
            double swanRate = rows.FirstOrDefault(x => x.Id == swanId).R?.SetupsPerSecond ?? double.NaN;
            table.Add(id, name, where, r.Requested.ToString(), r.Established.ToString(), Stats.F(r.SetupsPerSecond, 0), Stats.F(r.P50Ms, 1),
                Stats.F(r.P99Ms, 1), id == swanId ? "1.00" : Stats.F(r.SetupsPerSecond / swanRate),
                string.Join(", ", each.Select(x => Stats.F(x.SetupsPerSecond, 0))), string.Join(", ", each.Select(x => x.Retransmits)));
            if (r.Established < r.Requested)
                report.Notes.Add($"{name}: {r.Requested - r.Established} of {r.Requested} peers per round did not come up (median round){(r.Failures.Length > 0 ? ": " + r.Failures : "")}.");
        }
        Table? pairRatios = null;
        foreach (var auth in Auth.All)
        {
            if (!rows.Any(r => r.Id == "ns-ours" + auth.Suffix) || !rows.Any(r => r.Id == "ns-swan" + auth.Suffix)) continue;
            var ours = rows.First(r => r.Id == "ns-ours" + auth.Suffix).R;
            var swan = rows.First(r => r.Id == "ns-swan" + auth.Suffix).R;
            pairRatios ??= report.AddTable("Ratios (same client, same link)", "ratio", "value");
            string with = auth.Certificates ? $", {auth.Label}" : "";
            pairRatios.Add($"setups/s ours/strongSwan: (a') / (b){with}", Stats.F(ours.SetupsPerSecond / swan.SetupsPerSecond));
            pairRatios.Add($"p50 latency ours/strongSwan{with}", Stats.F(ours.P50Ms / swan.P50Ms));
            pairRatios.Add($"p99 latency ours/strongSwan{with}", Stats.F(ours.P99Ms / swan.P99Ms));
        }
        report.Notes.Add("setups/s is bounded by the slowest peer of a round: a few peers whose IKE_SA_INIT or IKE_AUTH was lost or " +
                         "dropped wait for the initiator's retransmission (the first after 4 s, IkeTunables.RetransmitTimeout), which shows as a " +
                         "p99 of seconds and few setups/s; the per-round columns show when that happened.");
        report.Notes.Add("The fleet (initiator) and the responder share the machine's 2 cores: the initiator's own cost (one ECDH and AEAD per " +
                         "peer as well) is part of every figure, equally for both responders.");
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

    // ---- (a') and (b): responder in the gateway namespace, fleet in the peer namespace ----

    /// <summary>The root CA, the responder's certificate and the peers' key, all of <paramref name="auth"/>'s type, made by pki.</summary>
    private static async Task<SwanPki> MakePkiAsync(string dir, Auth auth)
    {
        var pki = new SwanPki(dir);
        Directory.CreateDirectory(pki.Dir);
        await pki.RootAsync("root", "C=CH, O=Bench, CN=Bench Root CA", auth.Type!, auth.Bits);
        await pki.IssueAsync("gw", "root", $"C=CH, O=Bench, CN={GatewayId}", auth.Type!, auth.Bits, san: [GatewayId], flags: ["serverAuth"]);
        await pki.KeyAsync("peer", auth.Type!, auth.Bits);
        return pki;
    }

    /// <summary>One responder in the gateway namespace against the fleet in the peer namespace; certificates from <paramref name="pki"/>, else the PSK.</summary>
    private static async Task<IReadOnlyList<Round>> InNamespaceAsync(int peers, int rounds, bool swan, SwanPki? pki)
    {
        await using var scope = InteropScope.Create(Console.WriteLine);
        var bed = scope.Bed;
        StrongSwan? charon = null;
        ConcentratorProcess? gateway = null;
        try
        {
            if (swan)
            {
                charon = scope.Own(await StrongSwan.StartAsync(bed.Gateway, bed.Dir("charon-gw"), "gateway",
                    extraSettings: "block_threshold = 1000000\ncookie_threshold = 0\ncookie_threshold_ip = 0"));
                await charon.QuietAsync();
                if (pki is not null) charon.AddCredentials([pki.Path("root")], [pki.Path("gw")], [pki.Path("gw", ".key")]);
                await charon.LoadAsync(CharonResponderConf(pki is not null));
            }
            else
            {
                gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator-gw"), ResponderYaml(pki),
                    TimeSpan.FromSeconds(30), logLevel: "information"));
            }

            string self = typeof(HandshakeSuite).Assembly.Location;
            int timeoutSeconds = Math.Max(30, peers / 10);
            Console.WriteLine($"handshake {(swan ? "strongSwan" : "concentrator")} with {(pki is null ? "the PSK" : "certificates")} in {bed.Gateway.Name}: " +
                              $"{peers} peers x {rounds} rounds");
            string[] credentials = pki is null
                ? ["--psk", Secret]
                : ["--ca", pki.Path("root"), "--issuer", pki.Path("root"), "--issuer-key", pki.Path("root", ".key"), "--peer-key", pki.Path("peer", ".key")];
            // `Concentrator loadtest --json`, run through this program (the same code; see Program.Main).
            var r = await bed.Peer.ExecAsync(TimeSpan.FromSeconds((timeoutSeconds + 30) * (rounds + 1) + 30),
                ["dotnet", self, FleetClientCommand, "--target", $"{NamespaceTestbed.GatewayOuter}:500", "--bind", bed.PeerOuter,
                "--peers", peers.ToString(), "--rounds", rounds.ToString(), "--timeout", timeoutSeconds.ToString(),
                .. credentials, "--gateway-id", GatewayId, "--proposals", Ike, "--esp-proposals", Esp, "--json"]);
            Console.Write(r.Stderr);
            string? json = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .LastOrDefault(l => l.StartsWith('{'));
            // Exit code 1 means some peer did not come up: still a measurement.
            if (r.ExitCode is not (0 or 1) || json is null) throw new InvalidOperationException("fleet client failed: " + r);
            var output = JsonSerializer.Deserialize<LoadtestCommand.Output>(json, LoadtestCommand.Json)!;
            var list = output.Rounds.Select(ToRound).ToList();
            if (list.Count == 0) throw new InvalidOperationException("fleet client measured no round");
            scope.Passed();
            return list;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            string diag = charon?.Diagnostics(3000) ?? gateway?.Diagnostics(3000) ?? "";
            throw new InvalidOperationException($"{ex.Message}\n{diag}\n(run files kept in {bed.WorkDir})", ex);
        }
    }

    private static string ResponderYaml(SwanPki? pki) => $$"""
        # generated by Concentrator.Benchmarks (handshake): the demo's gateway on the testbed, IKE only
        listen: { addresses: [{{NamespaceTestbed.GatewayOuter}}], ike_port: 500, natt_port: 4500 }
        http: { listen: "127.0.0.1:9400" }
        tunnel: { type: none }
        charon: { cookie_threshold: 0, cookie_threshold_ip: 0, block_threshold: 0, init_limit_job_load: 0, ikesa_limit_per_peer: 0 }
        connections:
          demo:
            proposals: [{{Ike}}]
            {{(pki is null
                ? $"local: {{ auth: psk, id: {GatewayId} }}\n    remote: {{ auth: psk, id: \"%any\" }}"
                : $"local: {{ auth: pubkey, certs: [{pki.Path("gw")}], id: {GatewayId} }}\n    remote: {{ auth: pubkey, cacerts: [{pki.Path("root")}], id: \"%any\" }}")}}
            children:
              lan:
                local_ts: [10.10.0.0/16]
                remote_ts: [10.200.0.0/16]
                esp_proposals: [{{Esp}}]
        secrets:
          {{(pki is null ? $"bench: {{ secret: \"{Secret}\" }}" : $"private-gw: {{ file: {pki.Path("gw", ".key")} }}")}}
        """;

    private static string CharonResponderConf(bool certificates) => $$"""
        connections {
          fleet {
            version = 2
            local_addrs = {{NamespaceTestbed.GatewayOuter}}
            remote_addrs = %any
            proposals = {{Ike}}
            encap = yes
            mobike = no
            rekey_time = 0
            reauth_time = 0
            dpd_delay = 0
            local {
              auth = {{(certificates ? "pubkey\n          certs = gw.pem" : "psk")}}
              id = {{GatewayId}}
            }
            remote {
              auth = {{(certificates ? "pubkey\n          cacerts = root.pem" : "psk")}}
              id = %any
            }
            children {
              lan {
                local_ts = 10.10.0.0/16
                remote_ts = 10.200.0.0/16
                esp_proposals = {{Esp}}
                rekey_time = 0
                start_action = none
                close_action = none
              }
            }
          }
        }
        secrets {
          ike-fleet {
            secret = "{{Secret}}"
          }
        }
        """;
}
