using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Concentrator.Testbed.Interop;

/// <summary>
/// What root interop tests (and the namespace benchmarks) need. The tests' policy on a missing piece (fail under
/// CI=true, elsewhere write the reason and return) is <c>InteropPrerequisites.Check</c> in Concentrator.Tests/Interop/InteropXunit.cs.
/// </summary>
public static class InteropPrerequisites
{
    private static readonly string[] Tools = ["ip", "nft", "tshark", "swanctl", "ping", "unshare", "sysctl", "mount"];
    private static readonly string[] CharonPlugins = ["kernel-libipsec", "kernel-netlink", "socket-default", "vici", "openssl", "curve25519", "chapoly"];

    public static bool InCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <param name="needPki">strongSwan's pki tool (strongswan-pki), for tests that make certificates with it.</param>
    public static IReadOnlyList<string> Missing(bool needDotnet, bool needPki = false)
    {
        var missing = new List<string>();
        if (!Environment.IsPrivilegedProcess) missing.Add("root (network namespaces)");
        foreach (var t in Tools)
        {
            if (!Command.Exists(t)) missing.Add(t);
        }
        if (!File.Exists(StrongSwan.CharonPath)) missing.Add(StrongSwan.CharonPath + " (strongswan-charon)");
        foreach (var p in CharonPlugins)
        {
            if (!File.Exists(Path.Combine(StrongSwan.PluginDir, $"libstrongswan-{p}.so"))) missing.Add($"charon plugin {p}");
        }
        if (!File.Exists("/dev/net/tun")) missing.Add("/dev/net/tun (kernel-libipsec)");
        if (needDotnet && !Command.Exists("dotnet")) missing.Add("dotnet");
        if (needPki && !Command.Exists(SwanPki.Tool)) missing.Add("pki (strongswan-pki)");
        return missing;
    }
}

/// <summary>
/// One test's world: the testbed, what runs in it, a time budget, and diagnostics. Dispose stops
/// everything in reverse order and tears the namespaces down; a failing test prints every component's
/// diagnostics and keeps the run directory, a passing one deletes it. Lines go to the log the scope was
/// created with (a test's output: <c>InteropScope.Create(ITestOutputHelper, ...)</c> in Concentrator.Tests).
/// </summary>
public sealed class InteropScope : IAsyncDisposable
{
    private readonly Action<string> _log;
    private readonly List<IAsyncDisposable> _owned = new();
    private readonly List<(string Name, Func<string> Read)> _diagnostics = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private bool _passed;

    private InteropScope(Action<string> log, NamespaceTestbed bed, TimeSpan budget)
    {
        _log = log;
        Bed = bed;
        Budget = budget;
    }

    public NamespaceTestbed Bed { get; }
    public TimeSpan Budget { get; }

    /// <summary>What is left of the budget, never less than one second (each wait stays bounded).</summary>
    public TimeSpan Remaining(TimeSpan cap)
    {
        var left = Budget - _clock.Elapsed;
        if (left < TimeSpan.FromSeconds(1)) left = TimeSpan.FromSeconds(1);
        return left < cap ? left : cap;
    }

    public static InteropScope Create(Action<string> log, bool withNatRouter = false, double budgetSeconds = 50, bool ipv6 = false)
    {
        var bed = NamespaceTestbed.Create(withNatRouter, ipv6);
        log($"testbed {bed.Id} in {bed.WorkDir}");
        return new InteropScope(log, bed, TimeSpan.FromSeconds(budgetSeconds));
    }

    public T Own<T>(T item) where T : IAsyncDisposable
    {
        _owned.Add(item);
        return item;
    }

    public void AddDiagnostics(string name, Func<string> read) => _diagnostics.Add((name, read));

    public void Log(string line) => _log($"[{_clock.Elapsed.TotalSeconds,6:F1}s] {line}");

    /// <summary>Marks the test as passed: its run directory is deleted on dispose.</summary>
    public void Passed() => _passed = true;

    public async ValueTask DisposeAsync()
    {
        if (!_passed)
        {
            foreach (var (name, read) in _diagnostics)
            {
                try { _log($"##### {name}\n{read()}"); } catch (Exception ex) { _log($"##### {name}: {ex.Message}"); }
            }
            _log($"run files kept in {Bed.WorkDir}");
        }

        for (int i = _owned.Count - 1; i >= 0; i--)
        {
            try { await _owned[i].DisposeAsync().ConfigureAwait(false); } catch (Exception ex) { _log($"teardown: {ex.Message}"); }
        }
        await Bed.DisposeAsync().ConfigureAwait(false);
        // INTEROP_KEEP=1 keeps the configs and logs of passing runs too.
        if (_passed && Environment.GetEnvironmentVariable("INTEROP_KEEP") != "1") Bed.DeleteWorkDir();
        else if (_passed) _log($"run files kept in {Bed.WorkDir} (INTEROP_KEEP=1)");
        _log($"torn down after {_clock.Elapsed.TotalSeconds:F1} s");
    }
}

/// <summary>What crosses the gateway's underlay link: nft counters and a short tshark capture.</summary>
public static partial class Underlay
{
    /// <summary>
    /// Counters for ESP-in-UDP (UDP 4500 whose first payload word, the SPI, is non-zero: RFC 3948) and
    /// IKE on 4500 (non-ESP marker, zero word) in both directions of <paramref name="ns"/>.
    /// </summary>
    public static void InstallEspCounters(Netns ns, string workDir)
    {
        string rules = """
            table inet cit_count {
              counter esp_in { }
              counter esp_out { }
              counter ike4500_in { }
              counter ike4500_out { }
              chain input {
                type filter hook input priority 0; policy accept;
                udp dport 4500 @th,64,32 != 0 counter name "esp_in"
                udp dport 4500 @th,64,32 == 0 counter name "ike4500_in"
              }
              chain output {
                type filter hook output priority 0; policy accept;
                udp sport 4500 @th,64,32 != 0 counter name "esp_out"
                udp sport 4500 @th,64,32 == 0 counter name "ike4500_out"
              }
            }
            """;
        string file = Path.Combine(workDir, $"counters-{ns.Name}.nft");
        File.WriteAllText(file, rules + "\n");
        ns.Exec("nft", "-f", file);
    }

    public static IReadOnlyDictionary<string, long> ReadCounters(Netns ns)
    {
        var text = ns.Exec("nft", "list", "counters", "table", "inet", "cit_count").Stdout;
        var result = new Dictionary<string, long>();
        foreach (Match m in CounterPattern().Matches(text)) result[m.Groups["name"].Value] = long.Parse(m.Groups["packets"].Value);
        return result;
    }

    [GeneratedRegex(@"counter (?<name>\w+) \{\s*packets (?<packets>\d+) bytes \d+")]
    private static partial Regex CounterPattern();

    /// <summary>A bounded tshark capture of UDP 4500 on one device; returns the ESP SPIs seen (lowercase hex, 8 digits).</summary>
    public sealed class Capture : IAsyncDisposable
    {
        private readonly Netns _ns;
        private readonly BackgroundProcess _process;

        private Capture(Netns ns, BackgroundProcess process)
        {
            _ns = ns;
            _process = process;
        }

        public static async Task<Capture> StartAsync(Netns ns, string device, string workDir, int seconds, int maxPackets)
        {
            string name = $"tshark-{ns.Name}-{device}";
            var p = ns.Start(
                ["tshark", "-n", "-l", "-i", device, "-f", "udp port 4500", "-a", $"duration:{seconds}", "-c", maxPackets.ToString(),
                 "-T", "fields", "-E", "separator=,", "-e", "ip.src", "-e", "ip.dst", "-e", "udp.srcport", "-e", "udp.dstport", "-e", "esp.spi"],
                Path.Combine(workDir, name + ".txt"), Path.Combine(workDir, name + ".stderr"),
                new Dictionary<string, string> { ["HOME"] = workDir }, TimeSpan.FromSeconds(3));
            var c = new Capture(ns, p);
            await PacketCapture.WaitUntilCapturingAsync(p, device, c.DisposeAsync).ConfigureAwait(false);
            return c;
        }

        /// <summary>
        /// Ends the capture: waits at most <paramref name="linger"/> for it to end by itself (packet count),
        /// then SIGTERMs it (tshark prints line-buffered, nothing is lost); returns its lines.
        /// </summary>
        public async Task<IReadOnlyList<string>> FinishAsync(TimeSpan linger)
        {
            await _process.WaitForExitAsync(linger).ConfigureAwait(false);
            await _ns.StopAsync(_process).ConfigureAwait(false);
            return _process.ReadStdout().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        }

        public static IReadOnlyList<string> Spis(IEnumerable<string> lines) =>
            lines.Select(l => l.Split(',').LastOrDefault() ?? "")
                .Where(s => s.Length > 0)
                .Select(NormalizeSpi)
                .Distinct()
                .ToList();

        public ValueTask DisposeAsync() => new(_ns.StopAsync(_process));
    }

    /// <summary>SPIs are hex everywhere here (charon's raw output, tshark's esp.spi, the concentrator's log):
    /// "0xC1A2B3C4" and "c1a2b3c4" both become "c1a2b3c4"; "02456124" stays hex.</summary>
    public static string NormalizeSpi(string spi)
    {
        spi = spi.Trim().ToLowerInvariant();
        if (spi.StartsWith("0x", StringComparison.Ordinal)) spi = spi[2..];
        return spi.PadLeft(8, '0');
    }
}

/// <summary>swanctl.conf text for the tests' connections.</summary>
public static class SwanctlConf
{
    public const string Psk = "interop-psk-0123456789abcdef";
    public const string PeerId = "peer.interop.test";
    public const string GatewayId = "gw.interop.test";

    /// <summary>One connection with one child and its PSK (<see cref="Psk"/> unless given), keyed to the two identities.</summary>
    public static string Connection(string name, string localAddrs, string remoteAddrs, string localId, string remoteId,
        string proposals, string child, string localTs, string remoteTs, string espProposals, bool encap = true, string psk = Psk) =>
        Connections(ConnectionBlock(name, localAddrs, remoteAddrs, proposals, $"auth = psk\nid = {localId}", $"auth = psk\nid = {remoteId}",
            child, localTs, remoteTs, espProposals, encap)) + PskSecret(name, localId, remoteId, psk);

    /// <summary>The secrets section holding <paramref name="psk"/> for the two identities.</summary>
    public static string PskSecret(string name, string localId, string remoteId, string psk = Psk) => $$"""
        secrets {
          ike-{{name}} {
            id-1 = {{localId}}
            id-2 = {{remoteId}}
            secret = "{{psk}}"
          }
        }
        """;

    /// <summary>A swanctl.conf connections section holding <paramref name="connections"/> (from <see cref="ConnectionBlock"/>).</summary>
    public static string Connections(params string[] connections) => "connections {\n" + string.Join("\n", connections) + "\n}\n";

    /// <summary>
    /// One connection (for <see cref="Connections"/>) authenticated by certificates both ways: ours is
    /// <paramref name="certificate"/> (in x509/, its key in private/, see <see cref="StrongSwan.AddCredentials"/>), the
    /// peer's must chain to <paramref name="caCertificate"/> (in x509ca/).
    /// </summary>
    public static string CertConnection(string name, string localAddrs, string remoteAddrs, string localId, string remoteId, string certificate,
        string caCertificate, string proposals, string child, string localTs, string remoteTs, string espProposals) =>
        ConnectionBlock(name, localAddrs, remoteAddrs, proposals, $"auth = pubkey\ncerts = {certificate}\nid = {localId}",
            $"auth = pubkey\ncacerts = {caCertificate}\nid = {remoteId}", child, localTs, remoteTs, espProposals, extra: "send_certreq = yes");

    /// <summary>
    /// One connection block with one child, for <see cref="Connections"/>: no rekeying, reauthentication, DPD or MOBIKE, one
    /// keying try; <paramref name="local"/> and <paramref name="remote"/> are the lines of its local and remote sections,
    /// <paramref name="extra"/> more connection lines (e.g. vips = 0.0.0.0). A null <paramref name="localTs"/> leaves the
    /// child's side dynamic (a virtual IP when the connection asks for one).
    /// </summary>
    public static string ConnectionBlock(string name, string localAddrs, string remoteAddrs, string proposals, string local, string remote,
        string child, string? localTs, string remoteTs, string espProposals, bool encap = true, string extra = "") => $$"""
          {{name}} {
            version = 2
            local_addrs = {{localAddrs}}
            remote_addrs = {{remoteAddrs}}
            proposals = {{proposals}}
            encap = {{(encap ? "yes" : "no")}}
            mobike = no
            rekey_time = 0
            reauth_time = 0
            dpd_delay = 0
            keyingtries = 1
            {{extra}}
            local {
              {{local}}
            }
            remote {
              {{remote}}
            }
            children {
              {{child}} {
                {{(localTs is null ? "" : "local_ts = " + localTs)}}
                remote_ts = {{remoteTs}}
                esp_proposals = {{espProposals}}
                rekey_time = 0
                start_action = none
                close_action = none
                dpd_action = clear
              }
            }
          }
        """;
}
