using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Concentrator.Testbed.Interop;

namespace Concentrator.Benchmarks;


/// <summary>
/// One way of carrying the peer's inner address to the LAN host through the interop testbed. <c>Start</c>
/// brings the tunnel up (processes it starts are owned by the scope, disposed in reverse) and returns the daemons'
/// pids (none for plain routing). <c>Delta</c>: what its YAML changes on both ends, for the report.
/// </summary>
public sealed record TunnelConfig(string Id, string Name, bool Nat, string Transport,
    Func<InteropScope, TunnelStart, Task<Daemons>> Start, string Delta = "none");

/// <summary>The IPsec daemons of a tunnel: the gateway's and the peer's (concentrator or charon); null where there is none.</summary>
public sealed record Daemons(int? Gateway, int? Peer);

/// <summary>
/// Options of one tunnel start. <c>PerfMap</c>: the concentrators write /tmp/perf-PID.map for perf. <c>IperfServers</c>:
/// iperf3 servers on the LAN host, on consecutive ports from <see cref="BenchTestbed.IperfPort"/> (one per client process).
/// </summary>
public sealed record TunnelStart(bool PerfMap = false, int IperfServers = 1);

/// <summary>
/// One iperf3 TCP run: goodput, bytes received by the server(s), CPU seconds (utime+stime) of the gateway and peer daemons
/// during the run (NaN without one), and the machine's busy share of all cores (/proc/stat) over the run.
/// </summary>
public sealed record TcpRun(double Gbps, double Bytes, double GatewayCpuSeconds, double PeerCpuSeconds, double MachineBusy)
{
    public double GatewayCpuPerGb => Bytes > 0 ? GatewayCpuSeconds / (Bytes / 1e9) : double.NaN;
    public double PeerCpuPerGb => Bytes > 0 ? PeerCpuSeconds / (Bytes / 1e9) : double.NaN;
    public double BothCpuPerGb => GatewayCpuPerGb + PeerCpuPerGb;
}

/// <summary>One iperf3 UDP run at an offered rate: what the sender sent, what the server received, and the loss it counted.</summary>
public sealed record UdpRun(double OfferedMbps, double SentMbps, double ReceivedMbps, double LossPercent, long Packets, double Seconds)
{
    public double ReceivedPps => Seconds > 0 ? Packets * (1 - LossPercent / 100) / Seconds : double.NaN;
}

/// <summary>The result of a bounded rate search: the best run under the loss bound (null when none was) and every probe.</summary>
public sealed record UdpMaxRate(UdpRun? Best, IReadOnlyList<UdpRun> Probes, bool SenderBound);

/// <summary>
/// The namespace testbed with one <see cref="TunnelConfig"/> up and an iperf3 server on the LAN host: the
/// shared setup of the throughput and latency suites, in an <see cref="InteropScope"/> (logging to the console).
/// Every namespace and process is torn down on dispose; the run's files are kept unless <see cref="MarkPassed"/> was called.
/// </summary>
public sealed class BenchTestbed : IAsyncDisposable
{
    public const string Ike = "aes256gcm16-prfsha256-ecp256";
    public const string Esp = "aes256gcm16";
    public const int IperfPort = 5201;

    /// <summary>
    /// iperf3 UDP payload: 1372 bytes + 8 UDP + 20 IP = 1400-byte inner packets, the tunnels' MTU, so no
    /// configuration fragments (a 1400-byte payload would be two fragments through a 1400-byte TUN).
    /// </summary>
    public const int UdpPayload = 1372;
    public const int UdpInnerPacket = UdpPayload + 28;

    /// <summary>
    /// iperf3 UDP socket buffers (`-w`, both ends; the default 208 KiB overflows at the LAN host's socket in bursts that
    /// plain routing delivers, which would measure the receiving iperf3, not the path).
    /// </summary>
    public const string UdpSocketBuffer = "4M";

    /// <summary>The loss bound of the UDP rate search (issue 6: "the highest rate with &lt; 1% loss").</summary>
    public const double MaxLossPercent = 1.0;

    public static readonly TunnelConfig Ours = Concentrators("ours", "(a) concentrator ↔ concentrator", "plain ESP (IP proto 50)");
    public static readonly TunnelConfig OursEncap = Concentrators("ours-encap", "(a-encap) concentrator ↔ concentrator, encap: yes and udp_gro on both ends",
        "ESP-in-UDP 4500 (forced, no NAT: libipsec's transport)", tunnel: "udp_gro: yes", encap: true);
    public static readonly TunnelConfig OursNoOffload = Concentrators("ours-nooffload", "(a-encap-) as (a-encap), every tunnel offload off on both ends",
        "ESP-in-UDP 4500 (forced, no NAT)", tunnel: "gro: no, tso: no, udp_gso: no", encap: true);
    public static readonly TunnelConfig OursNat = Concentrators("ours-nat", "(a') concentrator ↔ concentrator through a NAT router",
        "ESP-in-UDP 4500 (real NAT, one extra router hop)", nat: true);
    public static readonly TunnelConfig Swan = new("swan", "(b) strongSwan ↔ strongSwan", false, "ESP-in-UDP 4500 (libipsec, encap = yes)", StartSwanAsync);
    public static readonly TunnelConfig SwanOurs = new("swan-ours", "(c) strongSwan peer ↔ concentrator gateway", false,
        "ESP-in-UDP 4500 (charon's encap = yes)", StartSwanToOursAsync);
    public static readonly TunnelConfig Plain = new("plain", "(d) plain routing, no IPsec (ceiling)", false, "none", StartPlainAsync);

    private readonly InteropScope _scope;

    private BenchTestbed(TunnelConfig config, InteropScope scope)
    {
        Config = config;
        _scope = scope;
    }

    public TunnelConfig Config { get; }
    public NamespaceTestbed Bed => _scope.Bed;

    /// <summary>The gateway daemon (concentrator or charon); null for plain routing.</summary>
    public int? GatewayPid => _daemons.Gateway;

    /// <summary>The peer daemon (concentrator or charon); null for plain routing.</summary>
    public int? PeerPid => _daemons.Peer;

    private Daemons _daemons = new(null, null);
    private readonly List<BackgroundProcess> _iperfServers = new();

    /// <summary>The iperf3 server on <see cref="IperfPort"/>.</summary>
    public BackgroundProcess IperfServer => _iperfServers[0];

    /// <summary>Builds the testbed, brings <paramref name="config"/> up, checks the path and starts the iperf3 server(s).</summary>
    public static async Task<BenchTestbed> StartAsync(TunnelConfig config, TunnelStart? start = null)
    {
        start ??= new TunnelStart();
        var t = new BenchTestbed(config, InteropScope.Create(Console.WriteLine, config.Nat));
        try
        {
            t._daemons = await config.Start(t._scope, start);
            await CheckPathAsync(t.Bed);
            for (int i = 0; i < start.IperfServers; i++)
            {
                t._iperfServers.Add(t.Bed.Lan.Start(["iperf3", "-s", "-B", NamespaceTestbed.LanHost, "-p", (IperfPort + i).ToString()],
                    Path.Combine(t.Bed.WorkDir, $"iperf3-server-{i}.stdout"), Path.Combine(t.Bed.WorkDir, $"iperf3-server-{i}.stderr")));
            }
            await Task.Delay(300);
            return t;
        }
        catch (Exception ex)
        {
            await t.DisposeAsync();
            throw t.Failure(ex);
        }
    }

    /// <summary>The run succeeded: its files are deleted on dispose.</summary>
    public void MarkPassed() => _scope.Passed();

    /// <summary>
    /// Stops (SIGSTOP) or continues (SIGCONT) both daemons, so that a testbed kept up for a later run takes no CPU from the
    /// one measured now (an idle concentrator's timers and thread pool cost a few % of a core). Both ends pause together:
    /// neither sees the other silent, and their timers (DPD, rekeys hours away) only run late.
    /// </summary>
    public void Pause(bool paused)
    {
        foreach (var pid in new[] { GatewayPid, PeerPid })
        {
            if (pid is int p) Command.Check("kill", paused ? "-STOP" : "-CONT", p.ToString(CultureInfo.InvariantCulture));
        }
    }

    /// <summary>Wraps a failure with where the run's files were kept.</summary>
    public Exception Failure(Exception ex) => new InvalidOperationException($"{ex.Message} (run files kept in {Bed.WorkDir})", ex);

    public ValueTask DisposeAsync() => _scope.DisposeAsync();

    // ---- traffic ----

    /// <summary>
    /// iperf3 TCP upload (peer's inner address → LAN host) by <paramref name="clients"/> client processes started together,
    /// one stream each, each against its own server port (iperf3 3.12 is single-threaded: <c>-P</c> would put every stream
    /// on one core). Goodput is the bytes every server received over the longest server-side duration; CPU of both
    /// daemons and of the machine over the whole run.
    /// </summary>
    public async Task<TcpRun> TcpAsync(int clients, int seconds)
    {
        if (clients > _iperfServers.Count) throw new ArgumentOutOfRangeException(nameof(clients), $"{clients} clients but {_iperfServers.Count} iperf3 server(s)");
        double gatewayBefore = Profiling.CpuSeconds(GatewayPid), peerBefore = Profiling.CpuSeconds(PeerPid);
        var machineBefore = Profiling.MachineCpu();
        var results = await Task.WhenAll(Enumerable.Range(0, clients).Select(i => Bed.Peer.ExecAsync(TimeSpan.FromSeconds(seconds + 20),
            "iperf3", "-c", NamespaceTestbed.LanHost, "-B", NamespaceTestbed.PeerInner, "-p", (IperfPort + i).ToString(), "-t", seconds.ToString(),
            "-J", "--connect-timeout", "5000")));
        double gatewayAfter = Profiling.CpuSeconds(GatewayPid), peerAfter = Profiling.CpuSeconds(PeerPid);
        var machineAfter = Profiling.MachineCpu();
        double bytes = 0, duration = 0;
        for (int i = 0; i < results.Length; i++)
        {
            var received = IperfEnd(results[i], _iperfServers[i]).GetProperty("sum_received");
            bytes += received.GetProperty("bytes").GetDouble();
            duration = Math.Max(duration, received.GetProperty("seconds").GetDouble());
        }
        if (bytes <= 0 || duration <= 0) throw new InvalidOperationException("iperf3 moved no data: " + results[0].Stdout[..Math.Min(2000, results[0].Stdout.Length)]);
        double busy = (machineAfter.Busy - machineBefore.Busy) / (machineAfter.Total - machineBefore.Total);
        return new TcpRun(bytes * 8 / duration / 1e9, bytes, gatewayAfter - gatewayBefore, peerAfter - peerBefore, busy);
    }

    /// <summary>iperf3 UDP upload of <see cref="UdpInnerPacket"/>-byte inner packets offered at <paramref name="mbps"/>.</summary>
    public async Task<UdpRun> UdpAsync(double mbps, int seconds)
    {
        var r = await Bed.Peer.ExecAsync(TimeSpan.FromSeconds(seconds + 20), UdpClientArgv(mbps, seconds));
        return ParseUdp(mbps, r);
    }

    private string[] UdpClientArgv(double mbps, int seconds) =>
    [
        "iperf3", "-c", NamespaceTestbed.LanHost, "-B", NamespaceTestbed.PeerInner, "-p", IperfPort.ToString(), "-u", "-l", UdpPayload.ToString(), "-w", UdpSocketBuffer,
        "-b", Math.Max(1, Math.Round(mbps)).ToString(CultureInfo.InvariantCulture) + "M", "-t", seconds.ToString(), "-J", "--connect-timeout", "5000",
    ];

    private UdpRun ParseUdp(double mbps, CommandResult r)
    {
        var end = IperfEnd(r);
        var sent = end.GetProperty("sum_sent");
        var received = end.GetProperty("sum_received");
        long packets = received.GetProperty("packets").GetInt64();
        if (packets <= 0) throw new InvalidOperationException("iperf3 UDP sent no datagrams: " + r.Stdout[..Math.Min(2000, r.Stdout.Length)]);
        return new UdpRun(mbps, sent.GetProperty("bits_per_second").GetDouble() / 1e6, received.GetProperty("bits_per_second").GetDouble() / 1e6,
            received.GetProperty("lost_percent").GetDouble(), packets, received.GetProperty("seconds").GetDouble());
    }

    private JsonElement IperfEnd(CommandResult r) => IperfEnd(r, IperfServer);

    private static JsonElement IperfEnd(CommandResult r, BackgroundProcess server)
    {
        if (!r.Ok) throw new InvalidOperationException($"iperf3 failed: {r}\nserver: {server.ReadStderr()}");
        using var doc = JsonDocument.Parse(r.Stdout);
        var root = doc.RootElement;
        if (root.TryGetProperty("error", out var error)) throw new InvalidOperationException("iperf3: " + error.GetString());
        return root.GetProperty("end").Clone();
    }

    /// <summary>
    /// The highest offered UDP rate with less than <see cref="MaxLossPercent"/> loss, in at most <paramref name="maxProbes"/>
    /// runs of <paramref name="seconds"/>: from <paramref name="startMbps"/>, doubling while runs pass; once a run fails, the
    /// next probe is 95% of what it delivered (a congested tunnel delivers about its capacity), then bisection between the
    /// best passing and the lowest failing rate until they are within 10%. A passing run whose sender fell 10% short of
    /// the offered rate ends the search: iperf3 itself is the bound (reported as sender-bound).
    /// </summary>
    public async Task<UdpMaxRate> MaxUdpRateAsync(double startMbps, int seconds, int maxProbes)
    {
        var probes = new List<UdpRun>();
        UdpRun? best = null;
        double lo = 0, hi = double.PositiveInfinity, target = Math.Max(10, startMbps);
        bool senderBound = false;
        for (int i = 0; i < maxProbes; i++)
        {
            var run = await UdpAsync(target, seconds);
            probes.Add(run);
            Console.WriteLine($"    UDP -b {Stats.F(target, 0)}M: sent {Stats.F(run.SentMbps, 0)}, received {Stats.F(run.ReceivedMbps, 0)} Mbit/s, loss {Stats.F(run.LossPercent, 2)}%");
            if (run.LossPercent < MaxLossPercent)
            {
                if (best is null || run.ReceivedMbps > best.ReceivedMbps) best = run;
                lo = Math.Max(lo, target);
                if (run.SentMbps < 0.9 * target)
                {
                    senderBound = true;
                    break;
                }
                target = double.IsPositiveInfinity(hi) ? target * 2 : (lo + hi) / 2;
            }
            else
            {
                hi = Math.Min(hi, target);
                double guess = Math.Max(10, 0.95 * run.ReceivedMbps);
                target = best is null && guess < hi ? guess : (lo + hi) / 2;
            }
            if (!double.IsPositiveInfinity(hi) && lo > 0 && (hi - lo) / hi < 0.1) break;
        }
        return new UdpMaxRate(best, probes, senderBound);
    }

    /// <summary>
    /// <paramref name="count"/> echo requests every <paramref name="interval"/> s from the peer's inner address to the
    /// LAN host; the round-trip times in ms of those answered and the number sent.
    /// </summary>
    public async Task<(double[] RttMs, int Sent)> PingAsync(int count, double interval)
    {
        var r = await Bed.Peer.ExecAsync(TimeSpan.FromSeconds(count * interval + 15), "ping", "-n", "-c", count.ToString(),
            "-i", interval.ToString(CultureInfo.InvariantCulture), "-W", "1", "-I", NamespaceTestbed.PeerInner, NamespaceTestbed.LanHost);
        var rtts = PingOutput.RoundTripsMs(r);
        if (rtts.Length == 0) throw new InvalidOperationException("ping: no replies: " + r);
        return (rtts, count);
    }

    /// <summary>A bounded ping from the peer's inner address to the LAN host: the path works before measuring.</summary>
    private static async Task CheckPathAsync(NamespaceTestbed bed)
    {
        CommandResult? last = null;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            last = await bed.Peer.ExecAsync(TimeSpan.FromSeconds(8), "ping", "-n", "-c", "2", "-i", "0.2", "-W", "2", "-I", NamespaceTestbed.PeerInner, NamespaceTestbed.LanHost);
            if (last.Ok) return;
            await Task.Delay(300);
        }
        throw new InvalidOperationException("no path from the peer's inner address to the LAN host: " + last);
    }

    // ---- configurations ----

    /// <summary>
    /// Two concentrators, the peer initiating: the one way every concentrator ↔ concentrator row is made. <paramref name="tunnel"/>
    /// (entries of the tunnel section, "gro: no") and <paramref name="encap"/> apply to both ends; a row that differs only
    /// in YAML is one more call of this.
    /// </summary>
    public static TunnelConfig Concentrators(string id, string name, string transport, string tunnel = "", bool encap = false, bool nat = false)
    {
        var delta = new List<string>();
        if (tunnel.Length > 0) delta.Add($"tunnel: {{ {tunnel} }}");
        if (encap) delta.Add("encap: yes");
        return new TunnelConfig(id, name, nat, transport, (scope, start) => StartOursAsync(scope, start, tunnel, encap),
            delta.Count == 0 ? "none" : string.Join(", ", delta) + " (both ends)");
    }

    private static Task<Daemons> StartPlainAsync(InteropScope scope, TunnelStart start)
    {
        var bed = scope.Bed;
        bed.Peer.AddRoute(NamespaceTestbed.LanSubnet, NamespaceTestbed.GatewayOuter);
        bed.Gateway.AddRoute(NamespaceTestbed.PeerInnerSubnet, bed.PeerOuter);
        return Task.FromResult(new Daemons(null, null));
    }

    private static async Task<Daemons> StartOursAsync(InteropScope scope, TunnelStart start, string tunnel, bool encap)
    {
        var bed = scope.Bed;
        var gateway = scope.Own(await StartGatewayConcentratorAsync(bed, start, tunnel, encap));
        var peer = scope.Own(await ConcentratorProcess.StartAsync(bed.Peer, bed.Dir("concentrator-peer"),
            ConcentratorYaml.Connection(bed.PeerOuter, NamespaceTestbed.GatewayOuter, SwanctlConf.PeerId, SwanctlConf.GatewayId, Ike, Esp,
                NamespaceTestbed.PeerInner + "/32", NamespaceTestbed.LanSubnet, startAction: "start", name: "gw", child: "net", encap: encap, tunnelKeys: tunnel),
            TimeSpan.FromSeconds(30), logLevel: LogLevel, environment: start.PerfMap ? Profiling.PerfMapEnvironment : null));
        if (!await peer.WaitForEventAsync(ConcentratorProcess.ChildSaInstalled, TimeSpan.FromSeconds(20))
            || !await gateway.WaitForEventAsync(ConcentratorProcess.ChildSaInstalled, TimeSpan.FromSeconds(5)))
        {
            throw new InvalidOperationException("the concentrators did not install the Child SA\n" + peer.Diagnostics(3000) + "\n" + gateway.Diagnostics(3000));
        }
        return new Daemons(ConcentratorPid(bed.Gateway), ConcentratorPid(bed.Peer));
    }

    private static async Task<Daemons> StartSwanAsync(InteropScope scope, TunnelStart start)
    {
        var bed = scope.Bed;
        var gw = scope.Own(await StrongSwan.StartAsync(bed.Gateway, bed.Dir("charon-gw"), "gateway"));
        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer"));
        await gw.QuietAsync();
        await peer.QuietAsync();
        await gw.LoadAsync(SwanctlConf.Connection("peer", NamespaceTestbed.GatewayOuter, "%any", SwanctlConf.GatewayId, SwanctlConf.PeerId,
            Ike, "net", NamespaceTestbed.LanSubnet, NamespaceTestbed.PeerInnerSubnet, Esp));
        await InitiateFromCharonAsync(bed, peer);
        if (await gw.WaitInstalledAsync("peer", "net", TimeSpan.FromSeconds(10)) is null)
            throw new InvalidOperationException("gateway charon: no INSTALLED child\n" + gw.Diagnostics(3000));
        return new Daemons(CharonPid(bed.Gateway), CharonPid(bed.Peer));
    }

    private static async Task<Daemons> StartSwanToOursAsync(InteropScope scope, TunnelStart start)
    {
        var bed = scope.Bed;
        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer"));
        await peer.QuietAsync();
        var gateway = scope.Own(await StartGatewayConcentratorAsync(bed, start, tunnel: "", encap: false));
        await InitiateFromCharonAsync(bed, peer);
        if (!await gateway.WaitForEventAsync(ConcentratorProcess.ChildSaInstalled, TimeSpan.FromSeconds(5)))
            throw new InvalidOperationException("the concentrator did not install the Child SA\n" + gateway.Diagnostics(3000));
        return new Daemons(ConcentratorPid(bed.Gateway), CharonPid(bed.Peer));
    }

    /// <summary>The concentrators' log level in every row (the report's conditions name it).</summary>
    public const string LogLevel = "debug";

    /// <summary>The gateway concentrator: responder for the peer's inner subnet.</summary>
    private static Task<ConcentratorProcess> StartGatewayConcentratorAsync(NamespaceTestbed bed, TunnelStart start, string tunnel, bool encap) =>
        ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator-gw"),
            ConcentratorYaml.Connection(NamespaceTestbed.GatewayOuter, "%any", SwanctlConf.GatewayId, SwanctlConf.PeerId, Ike, Esp,
                NamespaceTestbed.LanSubnet, NamespaceTestbed.PeerInnerSubnet, encap: encap, tunnelKeys: tunnel),
            TimeSpan.FromSeconds(30), logLevel: LogLevel, environment: start.PerfMap ? Profiling.PerfMapEnvironment : null);

    private static async Task InitiateFromCharonAsync(NamespaceTestbed bed, StrongSwan peer)
    {
        await peer.LoadAsync(SwanctlConf.Connection("gw", bed.PeerOuter, NamespaceTestbed.GatewayOuter, SwanctlConf.PeerId, SwanctlConf.GatewayId,
            Ike, "net", NamespaceTestbed.PeerInner + "/32", NamespaceTestbed.LanSubnet, Esp));
        var init = await peer.InitiateAsync("gw", "net", timeoutSeconds: 20);
        if (!init.Ok) throw new InvalidOperationException("swanctl --initiate failed: " + init);
        if (await peer.WaitInstalledAsync("gw", "net", TimeSpan.FromSeconds(10)) is null)
            throw new InvalidOperationException("peer charon: no INSTALLED child\n" + peer.Diagnostics(3000));
    }

    private static int? ConcentratorPid(Netns ns) => ns.FindPid((_, cmdline) => cmdline.Contains("Concentrator.dll", StringComparison.Ordinal));

    private static int? CharonPid(Netns ns) => ns.FindPid((comm, _) => comm == "charon");
}
