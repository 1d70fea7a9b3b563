using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Proposals;
using Concentrator.Simulation;

namespace Concentrator.Cli;

/// <summary>
/// <c>Concentrator loadtest</c>: the demo's peer fleet (<see cref="PeerFleet"/> run by <see cref="LoadTest"/>) against any
/// IKEv2 responder, ours or another. The benchmark suites run the same command.
/// </summary>
public static class LoadtestCommand
{
    public const string Help = """
        Usage: Concentrator loadtest --target ADDR[:PORT] [--peers N] [--rate R] [options]

        Starts N simulated remote-access peers (the initiator behind 'demo') from one UDP socket pair
        and establishes one IKE SA with one Child SA per peer against the responder at ADDR (port 500
        unless given), PSK authentication, or certificates with --ca, --issuer, --issuer-key and
        --peer-key: each peer gets a certificate for its identity (subjectAltName) issued by the
        issuer, over the one peer key, and checks the responder's against the CA. A warm-up round
        (established and deleted) comes first so the figures do not include JIT compilation; every
        SA is deleted with the responder at the end.
        Progress goes to stderr (a bar on a terminal, a line per 10% otherwise); the final table to
        stdout: established, failed by reason, setups/s, p50/p99/max setup latency per round.
        Peer i authenticates as '<id-prefix>i.fleet' and asks for the inner address 10.200.0.0 + i
        (/32) as its traffic selector, the responder's side as --remote-ts; with --vips it requests a
        virtual IP instead (swanctl vips = 0.0.0.0, the address it gets becomes its selector) and the
        table counts distinct addresses and the peers that got last round's address back (each round
        reconnects the same identities; the first round compares with the warm-up). The responder must accept
        many IKE SAs from one source address (strongSwan: block_threshold, cookie_threshold;
        Concentrator: charon.block_threshold, ikesa_limit_per_peer).
        Exit code 0 only when every peer of every round got its tunnel.

        Options:
          --target ADDR[:PORT]   responder (IPv4 or [IPv6]:port; required)
          --peers N              peers per round (1-200000, default 100)
          --rate PER_SECOND      start at most this many new peers per second (default: all at once)
          --window N             at most N peers negotiating at a time (default: no limit)
          --timeout SECONDS      per round (1-3600, default 120)
          --rounds N             measured rounds, SAs deleted between them (1-100, default 1)
          --warmup N             warm-up peers (0-1000, default 10)
          --psk SECRET           pre-shared key (default: the demo's)
          --eap-password SECRET  peers log in by EAP-MSCHAPv2 with their identity and this password
                                 (the responder: remote auth eap-mschapv2 and an eap secret for
                                 the identities, e.g. id "*.fleet"); the responder still
                                 authenticates by the PSK or by its certificate (--ca ...)
          --ca FILE              certificates instead of the PSK: the CA (PEM) the responder's
                                 certificate must chain to
          --issuer FILE          the CA certificate (PEM) that issues the peers' certificates; sent
                                 with them unless it is the --ca root
          --issuer-key FILE      its private key (PEM: PKCS#1, SEC1 or PKCS#8)
          --peer-key FILE        the private key (PEM, RSA or ECDSA) every peer signs with
          --id-prefix P          peer identity prefix (default 'peer-')
          --gateway-id ID        the responder's identity to expect (default gw.demo.concentrator)
          --proposals P          IKE proposal, swanctl keywords (default aes256gcm16-prfsha256-ecp256)
          --esp-proposals P      ESP proposal, swanctl keywords (default aes256gcm16)
          --remote-ts CIDR       the responder's side of every tunnel (default 10.10.0.0/16)
          --bind ADDR            local address (default 127.0.0.1 for a loopback target, else the
                                 first address of the interface routing to the target)
          --vips                 request a virtual IP per peer (the responder's connection needs pools)
          --hold SECONDS         keep the last round's tunnels up this long before deleting them
                                 (0-86400, default 0), e.g. to inspect the responder meanwhile
          --json                 print one JSON object instead of the table
        """;

    public const string DemoSecret = "demo-only-shared-key-not-for-production";

    private static readonly Dictionary<string, bool> Options = new()
    {
        ["target"] = true,
        ["peers"] = true,
        ["rate"] = true,
        ["window"] = true,
        ["timeout"] = true,
        ["rounds"] = true,
        ["warmup"] = true,
        ["psk"] = true,
        ["eap-password"] = true,
        ["ca"] = true,
        ["issuer"] = true,
        ["issuer-key"] = true,
        ["peer-key"] = true,
        ["id-prefix"] = true,
        ["gateway-id"] = true,
        ["proposals"] = true,
        ["esp-proposals"] = true,
        ["remote-ts"] = true,
        ["bind"] = true,
        ["hold"] = true,
        ["vips"] = false,
        ["json"] = false,
    };

    // A round in which no peer came up has NaN percentiles.
    public static readonly JsonSerializerOptions Json = new()
    {
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
    };

    /// <summary>The --json output.</summary>
    public sealed record Output(string Target, string Local, string IkeProposal, string EspProposal, int Peers, int? Rate, int? Window,
        IReadOnlyList<LoadRound> Rounds);

    public static async Task<int> RunAsync(string[] args)
    {
        var cl = CommandLine.Parse(args, Options);
        if (cl.Help)
        {
            Console.WriteLine(Help);
            return 0;
        }

        var target = ParseTarget(cl.Get("target") ?? throw new CliException("loadtest needs --target ADDR[:PORT]"));
        string ike = cl.Get("proposals") ?? "aes256gcm16-prfsha256-ecp256";
        string esp = cl.Get("esp-proposals") ?? "aes256gcm16";
        if (!ProposalParser.TryParseIke(ike, out _, out var ikeError)) throw new CliException($"--proposals: {ikeError}");
        if (!ProposalParser.TryParseEsp(esp, out _, out var espError)) throw new CliException($"--esp-proposals: {espError}");
        string remoteTs = cl.Get("remote-ts") ?? "10.10.0.0/16";
        if (!TrafficSelectorSpec.TryParse(remoteTs, out _, out var tsError)) throw new CliException($"--remote-ts: {tsError}");
        var bind = cl.Get("bind") is { } b
            ? IPAddress.TryParse(b, out var ip) ? ip : throw new CliException($"--bind: '{b}' is not an IP address")
            : LocalAddressFor(target);
        if (bind.AddressFamily != target.AddressFamily) throw new CliException("--bind and --target must be of the same address family");
        var options = new LoadTestOptions
        {
            Peers = cl.GetInt("peers", 100, 1, 200_000),
            Rate = cl.Has("rate") ? cl.GetInt("rate", 0, 1, 1_000_000) : null,
            Window = cl.Has("window") ? cl.GetInt("window", 0, 1, 1_000_000) : null,
            Timeout = TimeSpan.FromSeconds(cl.GetInt("timeout", 120, 1, 3600)),
            Rounds = cl.GetInt("rounds", 1, 1, 100),
            Warmup = cl.GetInt("warmup", 10, 0, 1000),
        };
        int hold = cl.GetInt("hold", 0, 0, 86_400);
        options = options with { Keep = hold > 0 };
        bool json = cl.Has("json");
        var certificates = Certificates(cl);

        await using var fleet = PeerFleet.Start(new FleetOptions
        {
            Psk = Encoding.UTF8.GetBytes(cl.Get("psk") ?? DemoSecret),
            Certificates = certificates,
            EapPassword = cl.Get("eap-password") is { } eap ? Encoding.UTF8.GetBytes(eap) : null,
            IdPrefix = cl.Get("id-prefix") ?? "peer-",
            GatewayId = cl.Get("gateway-id") ?? "gw.demo.concentrator",
            IkeProposal = ike,
            EspProposal = esp,
            RemoteTs = remoteTs,
            BindAddress = bind,
            VirtualIp = cl.Has("vips"),
        });

        var err = Console.Error;
        bool interactive = !Console.IsErrorRedirected;
        err.WriteLine($"Concentrator loadtest: {options.Peers} peers x {options.Rounds} round(s) against {target} from {fleet.Node.IkeEndpoint}" +
                      $"{(options.Rate is { } r ? $", at most {r}/s" : "")}{(options.Window is { } w ? $", window {w}" : "")}; IKE {ike}, ESP {esp}");
        if (certificates is not null)
        {
            fleet.PrepareCertificates(Math.Max(options.Peers, options.Warmup));
            err.WriteLine($"  certificates issued by \"{Identity.FromDistinguishedName(certificates.Issuer.SubjectName.RawData)?.Text}\" " +
                          $"for {Math.Max(options.Peers, options.Warmup)} peers");
        }
        FleetProgress? bar = null;
        var rounds = await LoadTest.RunAsync(fleet, target, options,
            (up, failed, total) => (bar ??= new FleetProgress(total, err, interactive)).Update(up, failed, total),
            line =>
            {
                bar?.Finish();
                bar = null;
                err.WriteLine("  " + line);
            }).ConfigureAwait(false);
        if (hold > 0)
        {
            err.WriteLine($"  holding {rounds[^1].Established} tunnels for {hold} s");
            await Task.Delay(TimeSpan.FromSeconds(hold)).ConfigureAwait(false);
            await fleet.DeleteAllAsync(TimeSpan.FromSeconds(Math.Max(15, options.Peers / 500))).ConfigureAwait(false);
        }

        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(
                new Output(target.ToString(), fleet.Node.IkeEndpoint.ToString(), ike, esp, options.Peers, options.Rate, options.Window, rounds), Json));
        }
        else
        {
            Console.Write(Table(rounds));
        }
        // With --vips every peer must also have its own address.
        return rounds.All(x => x.Established == x.Requested && (!cl.Has("vips") || x.DistinctVirtualIps == x.Requested)) ? 0 : 1;
    }

    /// <summary>The fleet's certificates from --ca, --issuer, --issuer-key and --peer-key (all or none); null for the PSK.</summary>
    private static FleetCertificates? Certificates(CommandLine cl)
    {
        string[] names = ["ca", "issuer", "issuer-key", "peer-key"];
        int given = names.Count(cl.Has);
        if (given == 0) return null;
        if (given < names.Length) throw new CliException("--ca, --issuer, --issuer-key and --peer-key go together");
        X509Certificate2 ca, issuer;
        try
        {
            ca = X509CertificateLoader.LoadCertificateFromFile(cl.Get("ca")!);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new CliException($"--ca: {cl.Get("ca")}: {ex.Message}");
        }
        try
        {
            issuer = X509Certificate2.CreateFromPemFile(cl.Get("issuer")!, cl.Get("issuer-key"));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            throw new CliException($"--issuer, --issuer-key: {ex.Message}");
        }
        return new FleetCertificates(issuer, ReadKey(cl.Get("peer-key")!), [ca]);
    }

    /// <summary>An RSA or ECDSA private key in PEM (PKCS#1, SEC1 or PKCS#8).</summary>
    private static AsymmetricAlgorithm ReadKey(string path)
    {
        string pem;
        try
        {
            pem = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"--peer-key: {path}: {ex.Message}");
        }
        foreach (AsymmetricAlgorithm key in new AsymmetricAlgorithm[] { RSA.Create(), ECDsa.Create() })
        {
            try
            {
                key.ImportFromPem(pem);
                return key;
            }
            catch (Exception ex) when (ex is ArgumentException or CryptographicException)
            {
                key.Dispose();
            }
        }
        throw new CliException($"--peer-key: {path}: no RSA or ECDSA private key in PEM");
    }

    /// <summary>The final table: one row per round, then failures by reason.</summary>
    public static string Table(IReadOnlyList<LoadRound> rounds)
    {
        var sb = new StringBuilder();
        sb.AppendLine();
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"{"round",-6}{"requested",10}{"established",12}{"failed",8}{"setups/s",10}{"p50 ms",9}{"p99 ms",9}{"max ms",9}{"elapsed s",10}{"retransmits",12}"));
        for (int i = 0; i < rounds.Count; i++)
        {
            var r = rounds[i];
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"{i + 1,-6}{r.Requested,10}{r.Established,12}{r.Failed,8}{r.SetupsPerSecond,10:F0}{r.P50Ms,9:F1}{r.P99Ms,9:F1}{r.MaxMs,9:F1}{r.ElapsedSeconds,10:F2}{r.Retransmits,12}"));
        }
        var failures = rounds.SelectMany(r => r.Failures).GroupBy(f => f.Key).ToDictionary(g => g.Key, g => g.Sum(f => f.Value));
        sb.AppendLine(failures.Count == 0 ? "Failed by reason: none" : "Failed by reason: " + LoadTest.FormatFailures(failures));
        for (int i = 0; i < rounds.Count; i++)
        {
            if (rounds[i].VirtualIps == 0) continue;
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"Virtual IPs, round {i + 1}: {rounds[i].DistinctVirtualIps} distinct for {rounds[i].VirtualIps} peers, {rounds[i].SameVirtualIps} got last round's address back"));
        }
        return sb.ToString();
    }

    private static IPEndPoint ParseTarget(string text)
    {
        if (IPEndPoint.TryParse(text, out var ep)) return ep.Port == 0 ? new IPEndPoint(ep.Address, 500) : ep;
        throw new CliException($"--target: '{text}' is not ADDR or ADDR:PORT");
    }

    /// <summary>The source address the kernel would pick for the target (a connected UDP socket sends nothing).</summary>
    private static IPAddress LocalAddressFor(IPEndPoint target)
    {
        if (IPAddress.IsLoopback(target.Address)) return target.Address;
        try
        {
            using var probe = new Socket(target.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            probe.Connect(target);
            return ((IPEndPoint)probe.LocalEndPoint!).Address;
        }
        catch (SocketException ex)
        {
            throw new CliException($"no route to {target.Address}: {ex.Message}");
        }
    }
}
