using System.Text.Json;
using Concentrator.Cli;
using Concentrator.Simulation;
using Concentrator.Testbed.Interop;

namespace Concentrator.Benchmarks;

/// <summary>(a') and (b): one responder in the gateway namespace, a generator (the fleet or a charon) in the peer namespace.</summary>
public static partial class HandshakeSuite
{
    /// <summary>A started responder: its pid (for CPU), its log's line count and Child SAs installed so far, its diagnostics for failures.</summary>
    private sealed record Responder(int Pid, Func<long> LogLines, Func<int> ChildSas, Func<string> Diagnostics);

    /// <summary>
    /// The responder's Child SAs installed since <paramref name="before"/> per setup; throws when fewer than
    /// <paramref name="atLeast"/>: an initiator counts its IKE SA up even when the responder refused the Child SA
    /// (TS_UNACCEPTABLE, e.g. charon failing to install a route), and such a setup is not an IKE+Child setup.
    /// </summary>
    private static double CheckChildSas(Responder responder, int before, int atLeast, int setups)
    {
        int installed = 0;
        for (int i = 0; i < 20 && (installed = responder.ChildSas() - before) < atLeast; i++) Thread.Sleep(100);
        if (installed < atLeast)
            throw new InvalidOperationException($"the responder installed {installed} Child SAs for {atLeast} established setups: some setups had no Child SA");
        return setups > 0 ? (double)installed / setups : double.NaN;
    }

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

    /// <summary>Starts the concentrator process (TUN data plane, log level information) or charon (file log level 0) in the gateway namespace.</summary>
    private static async Task<Responder> StartResponderAsync(InteropScope scope, bool swan, SwanPki? pki)
    {
        var bed = scope.Bed;
        // kernel-libipsec installs a route per outbound policy from a local address inside the local TS, and refuses the
        // Child SA (TS_UNACCEPTABLE) without one: an address of the LAN range on the gateway's loopback, for both responders.
        bed.Gateway.AddAddress("lo", LanLocal + "/32");
        if (swan)
        {
            var charon = scope.Own(await StrongSwan.StartAsync(bed.Gateway, bed.Dir("charon-gw"), "gateway",
                extraSettings: "block_threshold = 1000000\ncookie_threshold = 0\ncookie_threshold_ip = 0"));
            await charon.QuietAsync();
            if (pki is not null) charon.AddCredentials([pki.Path("root")], [pki.Path("gw")], [pki.Path("gw", ".key")]);
            await charon.LoadAsync(CharonResponderConf(pki is not null));
            var installed = scope.Own(await ChildUpEvents.StartAsync(charon.ViciSocket));
            int pid = bed.Gateway.FindPid((comm, _) => comm == "charon") ?? throw new InvalidOperationException("no charon process in " + bed.Gateway.Name);
            return new Responder(pid, () => CountLines(charon.LogPath), () => installed.Count, () => charon.Diagnostics(3000));
        }
        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator-gw"), ResponderYaml(pki),
            TimeSpan.FromSeconds(30), logLevel: ResponderLogLevel));
        int gwPid = bed.Gateway.FindPid((_, cmdline) => cmdline.Contains("Concentrator.dll", StringComparison.Ordinal))
                    ?? throw new InvalidOperationException("no concentrator process in " + bed.Gateway.Name);
        // Child SAs from the metrics, not the log: the installed event (1003) is debug and the responder logs at information.
        return new Responder(gwPid, () => CountLines(gateway.StdoutPath),
            () => (int)GatewayMetrics.Sum(GatewayMetrics.ScrapeAsync(bed.Gateway).GetAwaiter().GetResult(), "concentrator_child_sas_created_total"),
            () => gateway.Diagnostics(3000));
    }

    /// <summary>The gateway namespace's address inside the LAN range both responders serve (10.10.0.0/16).</summary>
    private const string LanLocal = "10.10.0.1";

    /// <summary>The fleet's warm-up peers before its measured rounds (the cold round has none).</summary>
    private const int FleetWarmup = 10;

    private static long CountLines(string path) =>
        File.Exists(path) ? BackgroundProcess.ReadShared(path).AsSpan().Count('\n') : 0;

    /// <summary>
    /// One session of the fleet against a freshly started responder: a cold round (<paramref name="cold"/> peers, no warm-up,
    /// the responder's first setups), then the measured rounds after the fleet's 10-peer warm-up. The responder's and the
    /// fleet's CPU over each round's window (the fleet reports it) come from a <see cref="CpuSampler"/>.
    /// </summary>
    private static async Task<Session> FleetSessionAsync(int peers, int rounds, bool swan, SwanPki? pki, int cold)
    {
        await using var scope = InteropScope.Create(Console.WriteLine);
        var bed = scope.Bed;
        Responder? responder = null;
        try
        {
            responder = await StartResponderAsync(scope, swan, pki);
            await using var sampler = new CpuSampler(new Dictionary<string, Func<int?>>
            {
                ["responder"] = () => responder.Pid,
                ["generator"] = () => bed.Peer.FindPid((_, cmdline) => cmdline.Contains(" " + FleetClientCommand + " ", StringComparison.Ordinal)),
            });
            Console.WriteLine($"handshake {(swan ? "strongSwan" : "concentrator")} with {(pki is null ? "the PSK" : "certificates")} in {bed.Gateway.Name}, " +
                              $"fleet generator: cold {cold}, then {peers} peers x {rounds} rounds");
            int installedBefore = responder.ChildSas();
            Round? coldRound = null;
            if (cold > 0) coldRound = (await FleetAsync(bed, sampler, cold, 1, warmup: 0, pki)).Single();
            var list = await FleetAsync(bed, sampler, peers, rounds, warmup: FleetWarmup, pki);
            int established = list.Sum(r => r.Established) + (coldRound?.Established ?? 0);
            double childSas = CheckChildSas(responder, installedBefore, established, established + FleetWarmup);
            scope.Passed();
            return new Session(list, coldRound, double.NaN, childSas);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new InvalidOperationException($"{ex.Message}\n{responder?.Diagnostics()}\n(run files kept in {bed.WorkDir})", ex);
        }
    }

    /// <summary>`Concentrator loadtest --json` in the peer namespace, run through this program (the same code; see Program.Main).</summary>
    private static async Task<List<Round>> FleetAsync(NamespaceTestbed bed, CpuSampler sampler, int peers, int rounds, int warmup, SwanPki? pki)
    {
        string self = typeof(HandshakeSuite).Assembly.Location;
        int timeoutSeconds = Math.Max(30, peers / 10);
        string[] credentials = pki is null
            ? ["--psk", Secret]
            : ["--ca", pki.Path("root"), "--issuer", pki.Path("root"), "--issuer-key", pki.Path("root", ".key"), "--peer-key", pki.Path("peer", ".key")];
        var r = await bed.Peer.ExecAsync(TimeSpan.FromSeconds((timeoutSeconds + 30) * (rounds + 1) + 30),
            ["dotnet", self, FleetClientCommand, "--target", $"{NamespaceTestbed.GatewayOuter}:500", "--bind", bed.PeerOuter,
            "--peers", peers.ToString(), "--rounds", rounds.ToString(), "--warmup", warmup.ToString(), "--timeout", timeoutSeconds.ToString(),
            .. credentials, "--gateway-id", GatewayId, "--proposals", Ike, "--esp-proposals", Esp, "--json"]);
        Console.Write(r.Stderr);
        string? json = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .LastOrDefault(l => l.StartsWith('{'));
        // Exit code 1 means some peer did not come up: still a measurement.
        if (r.ExitCode is not (0 or 1) || json is null) throw new InvalidOperationException("fleet client failed: " + r);
        var output = JsonSerializer.Deserialize<LoadtestCommand.Output>(json, LoadtestCommand.Json)!;
        if (output.Rounds.Count == 0 || output.Rounds.Any(x => x.Established == 0))
            throw new InvalidOperationException("fleet client measured no round, or one in which no setup came up: " + r);
        return output.Rounds.Select(x => ToRound(x) with
        {
            ResponderCpuMs = PerSetupMs(sampler.CpuSeconds("responder", x.StartedAt, x.EndedAt), x.Established),
            GeneratorCpuMs = PerSetupMs(sampler.CpuSeconds("generator", x.StartedAt, x.EndedAt), x.Established),
        }).ToList();
    }

    private static double PerSetupMs(double cpuSeconds, int established) => established > 0 ? cpuSeconds * 1000 / established : double.NaN;

    private static string ResponderYaml(SwanPki? pki) => $$"""
        # generated by Concentrator.Benchmarks (handshake): the demo's gateway on the testbed, SAs installed on a TUN
        listen: { addresses: [{{NamespaceTestbed.GatewayOuter}}], ike_port: 500, natt_port: 4500 }
        http: { listen: "127.0.0.1:9400" }
        tunnel: { type: tun, device: ipsec0, mtu: 1400 }
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

    private static string CharonResponderConf(bool certificates) =>
        SwanctlConf.Connections(SwanctlConf.ConnectionBlock("fleet", NamespaceTestbed.GatewayOuter, "%any", Ike,
            (certificates ? "auth = pubkey\ncerts = gw.pem" : "auth = psk") + $"\nid = {GatewayId}",
            (certificates ? "auth = pubkey\ncacerts = root.pem" : "auth = psk") + "\nid = %any",
            "lan", "10.10.0.0/16", "10.200.0.0/16", Esp)) + AnyPeerSecret;

    /// <summary>The PSK for any pair of identities (the responder's remote id is %any; the generator's peers are many).</summary>
    private static readonly string AnyPeerSecret = $$"""
        secrets {
          ike-bench {
            secret = "{{Secret}}"
          }
        }
        """;
}
