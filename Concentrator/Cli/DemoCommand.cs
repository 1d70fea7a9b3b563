using System.Diagnostics;
using System.Text;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.Hosting;
using Concentrator.Simulation;
using Concentrator.Telemetry;

namespace Concentrator.Cli;

/// <summary>
/// <c>Concentrator demo</c>: the main job on an embedded default. One gateway on 127.0.0.1 with an
/// embedded config, N simulated peers (our own initiator) establishing IKE and Child SAs against it,
/// then a summary. No root, no config file, ephemeral ports.
/// </summary>
public static class DemoCommand
{
    public const string Help = """
        Usage: Concentrator demo [--peers N] [--timeout SECONDS] [--rate PER_SECOND] [--traffic-seconds S]

        Starts a single-node concentrator on 127.0.0.1 (ephemeral ports) with the embedded
        configuration below, starts N simulated remote peers, establishes one IKE SA and one
        Child SA per peer, each with a virtual IP from the pool (CFG_REQUEST in IKE_AUTH, the
        address is the peer's side of its tunnel), and prints established/failed counts, distinct
        virtual IPs, handshakes per second and
        p50/p99 setup latency. A warm-up round of 10 peers (established and deleted) comes first
        so the figures do not include JIT compilation. Then it pushes ESP through every tunnel in
        both directions between the peers' and the gateway's in-memory data planes (no TUN, no
        root) and reports Gbit/s and packets per second. Exit code 0 only when every peer got its
        tunnel and every packet arrived.

        Options:
          --peers N            number of simulated peers (1-50000, default 100)
          --timeout SECONDS    give up after this long (1-3600, default 120)
          --rate PER_SECOND    start at most this many new peers per second (default: all at once)
          --traffic-seconds S  how long to push ESP through the tunnels (0-600, default 2; 0 skips it)

        Embedded gateway configuration:
        """;

    /// <summary>The embedded default gateway configuration (swanctl names; PSK for the demo only).</summary>
    public const string GatewayYaml = """
        listen: { addresses: [127.0.0.1], ike_port: 0, natt_port: 0 }
        # every simulated peer shares 127.0.0.1 and all start at once: no per-source, per-address or queued-request cap
        charon: { block_threshold: 0, init_limit_job_load: 0, ikesa_limit_per_peer: 0 }
        cluster: { hostname: 127.0.0.1, port: 0 }   # a one-node cluster; the peer fleet is not a member
        pools:
          demo-pool: { addrs: 10.200.0.0/16, dns: [10.10.0.53] }
        connections:
          demo:
            proposals: [aes256gcm16-prfsha256-ecp256]
            pools: [demo-pool]              # every peer asks for a virtual IP (vips = 0.0.0.0)
            local: { auth: psk, id: gw.demo.concentrator }
            remote: { auth: psk, id: "%any" }
            children:
              lan:
                local_ts: [10.10.0.0/16]
                remote_ts: [dynamic]        # the peer's virtual IP
                esp_proposals: [aes256gcm16]
        secrets:
          demo: { secret: "demo-only-shared-key-not-for-production" }
        """;

    private static readonly Dictionary<string, bool> Options = new()
    {
        ["peers"] = true,
        ["timeout"] = true,
        ["rate"] = true,
        ["traffic-seconds"] = true,
    };

    public static async Task<int> RunAsync(string[] args)
    {
        var cl = CommandLine.Parse(args, Options);
        if (cl.Help)
        {
            Console.WriteLine(Help);
            Console.WriteLine(Indent(GatewayYaml));
            return 0;
        }

        int peers = cl.GetInt("peers", 100, 1, 50000);
        int timeout = cl.GetInt("timeout", 120, 1, 3600);
        int? rate = cl.Has("rate") ? cl.GetInt("rate", 0, 1, 1_000_000) : null;
        int trafficSeconds = cl.GetInt("traffic-seconds", 2, 0, 600);

        var config = ConcentratorConfig.Parse(GatewayYaml, "<embedded demo config>");
        var gatewayPlane = new InMemoryDataPlane();
        await using var gateway = Gateway.Start(new GatewayOptions { Config = config, DataPlane = gatewayPlane, Cluster = config.Cluster });
        await using var fleet = PeerFleet.Start(new FleetOptions
        {
            Psk = config.FindSharedKey("gw.demo.concentrator", "peer-0.fleet")!,
            VirtualIp = true,
        });

        Console.WriteLine($"Concentrator demo: gateway on {gateway.IkeEndpoint}, {peers} simulated peers on {fleet.Node.IkeEndpoint}");
        Console.WriteLine("  IKEv2 PSK, IKE aes256gcm16-prfsha256-ecp256, ESP aes256gcm16, tunnel mode");
        // Warm-up: JIT and crypto initialisation would otherwise dominate the first handshakes.
        await fleet.EstablishAsync(gateway.IkeEndpoint, Math.Min(10, peers), TimeSpan.FromSeconds(timeout));
        await fleet.DeleteAllAsync(TimeSpan.FromSeconds(10));
        await WaitAsync(async () => await gateway.CountSasAsync() == 0, TimeSpan.FromSeconds(5));
        long cookiesBefore = IkeStats.CookiesSent, retransmitsBefore = IkeStats.Retransmits;

        var bar = new FleetProgress(peers, Console.Out, !Console.IsOutputRedirected);
        var result = await fleet.EstablishAsync(gateway.IkeEndpoint, peers, TimeSpan.FromSeconds(timeout), rate, bar.Update);
        bar.Finish();

        TrafficResult? traffic = null;
        if (trafficSeconds > 0 && result.Established > 0)
        {
            Console.WriteLine($"  pushing ESP through {result.Established} tunnels for {trafficSeconds} s ...");
            traffic = TrafficPump.Run(fleet.DataPlane, gatewayPlane, TimeSpan.FromSeconds(trafficSeconds));
        }

        int gatewaySas = await gateway.CountSasAsync();
        int gatewayChildren = gatewayPlane.InstalledCount;
        var deleteClock = Stopwatch.StartNew();
        int left = await fleet.DeleteAllAsync(TimeSpan.FromSeconds(10));
        var deleteTime = deleteClock.Elapsed;
        await WaitAsync(async () => await gateway.CountSasAsync() == 0, TimeSpan.FromSeconds(5));
        int gatewayAfter = await gateway.CountSasAsync();

        var sb = new StringBuilder();
        sb.AppendLine();
        sb.AppendLine("Summary");
        sb.AppendLine($"  IKE SAs established      {result.Established}/{result.Requested}");
        sb.AppendLine($"  Failed                   {result.Requested - result.Established}{FormatFailures(result)}");
        sb.AppendLine($"  Gateway IKE SAs up       {gatewaySas}");
        sb.AppendLine($"  Gateway Child SAs        {gatewayChildren} installed in the data plane");
        int distinct = result.VirtualIps.Values.Distinct().Count();
        sb.AppendLine($"  Virtual IPs              {distinct} distinct for {result.VirtualIps.Count} peers from {config.Pools["demo-pool"].Addrs}");
        sb.AppendLine($"  Elapsed                  {result.Elapsed.TotalSeconds:F2} s");
        sb.AppendLine($"  Handshakes per second    {result.HandshakesPerSecond:F0}");
        sb.AppendLine($"  Setup latency p50        {result.Percentile(50):F1} ms");
        sb.AppendLine($"  Setup latency p99        {result.Percentile(99):F1} ms");
        sb.AppendLine($"  COOKIE challenges sent   {IkeStats.CookiesSent - cookiesBefore}");
        sb.AppendLine($"  Retransmissions          {IkeStats.Retransmits - retransmitsBefore}");
        if (traffic is not null)
        {
            sb.AppendLine($"  ESP throughput           {traffic.GigabitsPerSecond:F2} Gbit/s of {traffic.PacketSize}-byte inner packets, both directions, {traffic.Workers} workers (in memory, no NIC)");
            sb.AppendLine($"  ESP packets per second   {traffic.PacketsPerSecond:F0} ({traffic.Packets} packets, {traffic.Failures} failed)");
        }
        sb.AppendLine($"  Deleted on shutdown      {(left == 0 && gatewayAfter == 0 ? "all" : $"{left} peer / {gatewayAfter} gateway SAs left")} in {deleteTime.TotalMilliseconds:F0} ms");
        sb.AppendLine($"  Machine                  {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}");
        Console.Write(sb.ToString());
        return result.Established == result.Requested && gatewayChildren == result.Requested && distinct == result.Requested &&
               traffic is not { Failures: > 0 } ? 0 : 1;
    }

    private static string FormatFailures(FleetResult r) =>
        r.Failures.Count == 0 ? "" : " (" + string.Join(", ", r.Failures.Select(f => $"{f.Key}: {f.Value}")) + ")";

    private static string Indent(string text) => string.Join('\n', text.Split('\n').Select(l => "  " + l));

    private static async Task WaitAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout && !await condition()) await Task.Delay(50);
    }
}
