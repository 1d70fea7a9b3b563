using System.Net;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.Hosting;
using Concentrator.Testbed.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace Concentrator.Tests.Cluster;

/// <summary>An in-process clustered gateway on 127.0.0.1 with its HTTP endpoint (/readyz, /metrics) on an ephemeral port.</summary>
internal sealed class ClusterTestNode : IAsyncDisposable
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };

    private ClusterTestNode(Gateway gateway, HealthServer http)
    {
        Gateway = gateway;
        HttpServer = http;
        BaseUrl = http.Urls.First();
    }

    public Gateway Gateway { get; }
    public HealthServer HttpServer { get; }
    public string BaseUrl { get; }


    public static string Seed(int port) => $"akka.tcp://concentrator@127.0.0.1:{port}";

    /// <summary><paramref name="gatewayYaml"/>: everything but the <c>cluster:</c> section; <see cref="TestGateway.ResponderYaml"/> by default.</summary>
    /// <param name="leaseSettleTime">GatewayOptions.LeaseSettleTime (virtual IP shares after a membership change).</param>
    public static async Task<ClusterTestNode> StartAsync(string clusterYaml, string name, string? gatewayYaml = null, TimeSpan? leaseSettleTime = null)
    {
        var config = ConcentratorConfig.Parse((gatewayYaml ?? TestGateway.ResponderYaml()) + "\n" + clusterYaml, $"<{name}>");
        var gateway = Gateway.Start(new GatewayOptions
        {
            Config = config,
            DataPlane = new InMemoryDataPlane(),
            Tunables = TestGateway.FastTunables,
            Cluster = config.Cluster,
            LeaseSettleTime = leaseSettleTime,
        });
        var http = await HealthServer.StartAsync("127.0.0.1:0", gateway, NullLoggerFactory.Instance);
        return new ClusterTestNode(gateway, http);
    }

    public async Task<HttpStatusCode> ReadyzAsync()
    {
        using var response = await Http.GetAsync(BaseUrl + "/readyz");
        return response.StatusCode;
    }

    public async Task<Telemetry.MetricsText> ScrapeAsync() => new(await Http.GetStringAsync(BaseUrl + "/metrics"));

    public async ValueTask DisposeAsync()
    {
        await HttpServer.DisposeAsync();
        await Gateway.DisposeAsync();
    }
}
