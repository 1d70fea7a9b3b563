using Prometheus;

namespace Concentrator.Hosting;

/// <summary>
/// The HTTP endpoint on <c>http.listen</c>: <c>/healthz</c> (process alive), <c>/readyz</c>
/// (sockets bound and the actor system running; 503 otherwise) and <c>/metrics</c> (the node's
/// registry in the Prometheus text exposition format).
/// </summary>
public sealed class HealthServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private HealthServer(WebApplication app) => _app = app;

    /// <summary>The bound address(es), e.g. "http://127.0.0.1:9400" (the real port when listening on port 0).</summary>
    public IReadOnlyCollection<string> Urls => _app.Urls.ToList();

    /// <param name="adminToken">The admin API's token (<see cref="Config.HttpConfig.AdminToken"/>, which allows one with a
    /// loopback <paramref name="listen"/> only); null: loopback clients need none.</param>
    public static async Task<HealthServer> StartAsync(string listen, Gateway gateway, ILoggerFactory loggers, string? adminToken = null)
    {
        if (adminToken is not null && !new Config.HttpConfig { Listen = listen }.IsLoopback)
        {
            throw new ArgumentException($"an admin token is only served on a loopback address, not {listen}", nameof(adminToken));
        }
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://{listen}");
        var app = builder.Build();
        app.MapGet("/healthz", () => Results.Text("ok\n"));
        app.MapGet("/readyz", () => gateway.Ready ? Results.Text("ready\n") : Results.Text("not ready\n", statusCode: 503));
        app.MapGet("/dataplane", () => Results.Text(DataPlaneStatus(gateway), "application/json"));
        app.MapMetrics("/metrics", gateway.Metrics.Registry);
        AdminApi.Map(app, gateway, adminToken);
        await app.StartAsync().ConfigureAwait(false);
        Telemetry.Log.HttpListening(loggers.CreateLogger("Concentrator.Http"), listen);
        return new HealthServer(app);
    }

    /// <summary>Data-plane facts for operators and tests: installed SAs, drops by status, packet-thread allocations.</summary>
    private static string DataPlaneStatus(Gateway gateway)
    {
        var plane = gateway.Options.DataPlane;
        var sb = new System.Text.StringBuilder();
        sb.Append("{\"installed\":").Append(plane.InstalledCount);
        sb.Append(",\"espCrypto\":\"").Append(System.Text.Encodings.Web.JavaScriptEncoder.Default.Encode(DataPlane.Esp.EspCrypto.Description)).Append('"');
        if (plane is DataPlane.Linux.LinuxDataPlane linux)
        {
            sb.Append(",\"device\":\"").Append(linux.Device).Append("\",\"workers\":").Append(linux.Workers);
            sb.Append(",\"packetThreadAllocatedBytes\":").Append(linux.PacketThreadAllocatedBytes());
        }
        return sb.Append("}\n").ToString();
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
