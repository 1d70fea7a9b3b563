using System.Net;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.Hosting;
using Concentrator.Ipsec;
using Concentrator.Simulation;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Concentrator.Tests.Telemetry;

/// <summary>
/// A concentrator as an operator runs it: gateway with its HTTP endpoint (/metrics, /healthz, /readyz)
/// on an ephemeral port, a simulated remote-access fleet (each peer with a virtual IP from the gateway's pool), and optionally a second gateway that the
/// first one reaches with a configured site-to-site child (start_action start).
/// </summary>
internal sealed class ObservedNode : IAsyncDisposable
{
    public const string Psk = "observability-test-key-0123456789";
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private int _nextPeer;
    private int _nextPacket;

    private ObservedNode(Gateway gateway, InMemoryDataPlane plane, HealthServer http, PeerFleet fleet, Gateway? site)
    {
        Gateway = gateway;
        Plane = plane;
        Server = http;
        Fleet = fleet;
        Site = site;
        BaseUrl = http.Urls.First().TrimEnd('/');
    }

    public Gateway Gateway { get; }
    public InMemoryDataPlane Plane { get; }
    public HealthServer Server { get; }
    public PeerFleet Fleet { get; }
    public Gateway? Site { get; }
    public string BaseUrl { get; }
    public int HttpPort => new Uri(BaseUrl).Port;

    public static string GatewayYaml(int? sitePort) => $$"""
        listen: { addresses: [127.0.0.1], ike_port: 0, natt_port: 0 }
        http: { listen: "127.0.0.1:0" }
        charon:
          block_threshold: 0  # the fleet's peers share one source address
          # A RADIUS server no connection uses: its series exist for the dashboards' RADIUS panels.
          plugins: { eap-radius: { servers: { r1: { address: 127.0.0.1, secret: observed-node, auth_port: 9, acct_port: 9 } } } }
        pools:
          rw-pool: { addrs: 10.200.0.0/16, dns: [10.10.0.53] }
        connections:
          rw:
            proposals: [aes256gcm16-prfsha256-ecp256]
            pools: [rw-pool]
            local: { auth: psk, id: gw.obs }
            remote: { auth: psk, id: "%any" }
            children:
              lan:
                local_ts: [10.10.0.0/16]
                remote_ts: [dynamic]
                esp_proposals: [aes256gcm16]
        {{(sitePort is { } port ? $$"""
          obs-site:
            remote_addrs: [127.0.0.1]
            remote_port: {{port}}
            proposals: [aes256gcm16-prfsha256-ecp256]
            local: { auth: psk, id: gw-site.obs }
            remote: { auth: psk, id: branch.obs }
            children:
              net:
                local_ts: [10.50.0.0/24]
                remote_ts: [10.60.0.0/24]
                esp_proposals: [aes256gcm16]
                start_action: start
        """ : "")}}
        secrets:
          all: { secret: "{{Psk}}" }
        """;

    /// <summary>The branch side of the observed site-to-site tunnel (also used by the secrets-exposure test).</summary>
    public const string BranchYaml = $$"""
        listen: { addresses: [127.0.0.1], ike_port: 0, natt_port: 0 }
        connections:
          obs-hq:
            proposals: [aes256gcm16-prfsha256-ecp256]
            local: { auth: psk, id: branch.obs }
            remote: { auth: psk, id: gw-site.obs }
            children:
              net:
                local_ts: [10.60.0.0/24]
                remote_ts: [10.50.0.0/24]
                esp_proposals: [aes256gcm16]
        secrets:
          all: { secret: "{{Psk}}" }
        """;

    public static async Task<ObservedNode> StartAsync(bool withSite = false, ILoggerFactory? loggers = null, string name = "obs")
    {
        Gateway? site = null;
        if (withSite)
        {
            site = Gateway.Start(new GatewayOptions
            {
                Config = ConcentratorConfig.Parse(BranchYaml, "<branch>"),
                DataPlane = new InMemoryDataPlane(),
                Tunables = TestGateway.FastTunables,
                SystemName = name + "-branch",
            });
        }

        var config = ConcentratorConfig.Parse(GatewayYaml(site?.IkeEndpoint.Port), $"<{name}>");
        var plane = new InMemoryDataPlane();
        var gateway = Gateway.Start(new GatewayOptions
        {
            Config = config,
            DataPlane = plane,
            Tunables = TestGateway.FastTunables,
            SystemName = name,
            Loggers = loggers ?? Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance,
        });
        var http = await HealthServer.StartAsync(config.Http.Listen, gateway, gateway.Options.Loggers);
        var fleet = PeerFleet.Start(new FleetOptions { Psk = System.Text.Encoding.UTF8.GetBytes(Psk), GatewayId = "gw.obs", VirtualIp = true });
        gateway.StartConfiguredConnections();
        return new ObservedNode(gateway, plane, http, fleet, site);
    }

    /// <summary>Starts <paramref name="count"/> new peers and waits until each one is up; returns how many came up.</summary>
    public async Task<int> EstablishAsync(int count)
    {
        int before = Fleet.Established;
        for (int i = 0; i < count; i++) Fleet.Node.Initiate(Fleet.PeerConnection(Interlocked.Increment(ref _nextPeer)), Gateway.IkeEndpoint);
        await Eventually.TrueAsync(() => Fleet.Established + Fleet.Failed >= before + count, $"{count} peers finished negotiating", 30);
        await Eventually.TrueAsync(() => Fleet.DataPlane.InstalledCount == Fleet.Established &&
            RemoteAccessChildren() == Fleet.Established, "both sides installed every fleet child", 15);
        return Fleet.Established - before;
    }

    /// <summary>
    /// Sends <paramref name="packets"/> ESP packets from the fleet's SAs (round robin) to the gateway's
    /// data plane; every one must decrypt. Returns the wire bytes, as the gateway counts them.
    /// </summary>
    public long PushEsp(int packets, Action<byte[]>? keepWire = null)
    {
        var spis = Fleet.DataPlane.InstalledSpis().ToArray();
        if (spis.Length == 0) throw new InvalidOperationException("no fleet SA to send from");
        long bytes = 0;
        var wire = new byte[2048];
        for (int i = 0; i < packets; i++)
        {
            int n = Interlocked.Increment(ref _nextPacket);
            uint spi = spis[n % spis.Length];
            Assert.True(Fleet.DataPlane.TryGetSa(spi, out var sa));
            // The peer's side of its child is its virtual IP.
            var inner = Packets.Ipv4Udp(sa.LocalTs[0].StartAddress, IPAddress.Parse("10.10.0.1"), 64 + n % 200, (byte)n);
            var status = Fleet.DataPlane.Encapsulate(spi, inner, wire, out int written);
            Assert.Equal(EspStatus.Ok, status);
            keepWire?.Invoke(wire.AsSpan(0, written).ToArray());
            Assert.Equal(EspStatus.Ok, Plane.Decapsulate(wire.AsSpan(0, written), out _));
            bytes += written;
        }
        return bytes;
    }

    /// <summary>Child SAs of the remote-access connection installed in the gateway's data plane.</summary>
    public int RemoteAccessChildren() => Plane.InstalledSpis().Count(s => Plane.TryGetSa(s, out var sa) && sa.Connection == "rw");

    public Task<string> ScrapeAsync() => Http.GetStringAsync(BaseUrl + "/metrics");

    public Task<HttpResponseMessage> GetAsync(string path) => Http.GetAsync(BaseUrl + path);

    public async ValueTask DisposeAsync()
    {
        await Fleet.DisposeAsync();
        await Server.DisposeAsync();
        await Gateway.DisposeAsync();
        if (Site is not null) await Site.DisposeAsync();
        Plane.Dispose();
    }
}
