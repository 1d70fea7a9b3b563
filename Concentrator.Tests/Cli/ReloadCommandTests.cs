using System.Diagnostics;
using System.Net;
using Concentrator.Simulation;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Support;
using Concentrator.Tests.Telemetry;
using Microsoft.Extensions.Logging.Abstractions;

namespace Concentrator.Tests.Cli;

/// <summary><c>Concentrator reload</c> against an in-process gateway's admin endpoint, and SIGHUP to the real executable.</summary>
[Collection("console")]
public sealed class ReloadCommandTests
{
    private const string OldKey = "test-shared-key-0123456789";
    private const string NewKey = "rotated-shared-key-9876543210";

    private static Task<(int Code, string Out, string Err)> Run(params string[] args) => CliTests.Run(args);

    [Fact(Timeout = 60_000)]
    public async Task Reload_applies_the_file_exits_1_when_refused_or_invalid_and_needs_the_token()
    {
        string dir = Directory.CreateTempSubdirectory("reload-cli-").FullName;
        string path = Path.Combine(dir, "gw.yaml");
        try
        {
            await File.WriteAllTextAsync(path, TestGateway.ResponderYaml());
            await using var gateway = TestGateway.StartFile(path, "reload-cli");
            int port = FreePorts.Tcp();
            await using var http = await Concentrator.Hosting.HealthServer.StartAsync($"127.0.0.1:{port}", gateway.Gateway,
                NullLoggerFactory.Instance, adminToken: null);
            string admin = $"http://127.0.0.1:{port}";

            await File.WriteAllTextAsync(path, TestGateway.ResponderYaml(psk: NewKey).Replace("  rw:\n", "  rw2:\n    proposals: [aes256gcm16-prfsha256-ecp256]\n    remote: { auth: psk, id: \"*.other.test\" }\n  rw:\n"));
            var (code, output, err) = await Run("reload", "--admin", admin);
            Assert.True(code == 0, output + err);
            Assert.Contains($"reloaded {path}: connections added rw2; pools unchanged; 1 secrets", output);

            await File.WriteAllTextAsync(path, TestGateway.ResponderYaml() + "\ncharon: { retransmit_tries: 7 }\n");
            (code, output, _) = await Run("reload", "--admin", admin);
            Assert.Equal(1, code);
            Assert.Contains("not reloaded: charon.retransmit_tries changed; it needs a restart", output);

            await File.WriteAllTextAsync(path, "connections: [");
            (code, output, _) = await Run("reload", "--admin", admin);
            Assert.Equal(1, code);
            Assert.Contains($"not reloaded, the running configuration is kept: {path}", output);
            Assert.Contains("invalid YAML", output);
            Assert.NotNull(gateway.Gateway.Config.Connections.GetValueOrDefault("rw2"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task The_reload_endpoint_is_token_gated_like_the_others()
    {
        await using var gateway = TestGateway.Start(TestGateway.ResponderYaml(), name: "reload-token");
        int port = FreePorts.Tcp();
        await using var http = await Concentrator.Hosting.HealthServer.StartAsync($"127.0.0.1:{port}", gateway.Gateway,
            NullLoggerFactory.Instance, adminToken: "operator-token-0123456789");
        using var client = new HttpClient();
        var response = await client.PostAsync($"http://127.0.0.1:{port}/admin/reload", null);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(0, await ReloadsAsync(gateway, "applied") + await ReloadsAsync(gateway, "invalid") + await ReloadsAsync(gateway, "refused"));
    }

    private static async Task<double> ReloadsAsync(TestGateway gateway, string outcome)
    {
        using var stream = new MemoryStream();
        await gateway.Gateway.Metrics.Registry.CollectAndExportAsTextAsync(stream);
        return new MetricsText(System.Text.Encoding.UTF8.GetString(stream.ToArray())).Sum("concentrator_config_reloads_total", ("outcome", outcome));
    }

    /// <summary>The real process: SIGHUP re-reads its file (a rotated PSK serves the next peer), a broken file is refused
    /// and the process keeps serving; the outcome is read from /metrics and the JSON log.</summary>
    [Fact(Timeout = 120_000)]
    public async Task Sighup_reloads_the_running_process_config_file()
    {
        int ikePort = FreePorts.Udp(), nattPort = FreePorts.Udp(), httpPort = FreePorts.Tcp();
        string dir = Directory.CreateTempSubdirectory("conc-hup-").FullName;
        string config = Path.Combine(dir, "gw.yaml");
        string Yaml(string psk) => TestGateway.ResponderYaml(psk: psk)
            .Replace("ike_port: 0, natt_port: 0", $"ike_port: {ikePort}, natt_port: {nattPort}")
            + $"\nhttp: {{ listen: \"127.0.0.1:{httpPort}\" }}\ntunnel: {{ type: none }}\n";
        await File.WriteAllTextAsync(config, Yaml(OldKey));

        var psi = new ProcessStartInfo("dotnet", $"\"{typeof(Concentrator.Hosting.Gateway).Assembly.Location}\" run --config \"{config}\"")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        async Task<double> Reloads(string outcome)
        {
            try
            {
                var text = await http.GetStringAsync($"http://127.0.0.1:{httpPort}/metrics");
                return new MetricsText(text).Sum("concentrator_config_reloads_total", ("outcome", outcome));
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                return -1;
            }
        }
        var gatewayEndpoint = new IPEndPoint(IPAddress.Loopback, ikePort);
        try
        {
            await Eventually.TrueAsync(async () => await Reloads("applied") == 0, "the gateway serves /metrics", seconds: 30);
            await using (var early = PeerFleet.Start(new FleetOptions { Psk = System.Text.Encoding.UTF8.GetBytes(NewKey), GatewayId = "gw.test" }))
            {
                Assert.Equal(0, (await early.EstablishAsync(gatewayEndpoint, 1, TimeSpan.FromSeconds(5))).Established);
            }

            await File.WriteAllTextAsync(config, Yaml(NewKey));
            Process.Start("kill", $"-HUP {process.Id}")!.WaitForExit();
            await Eventually.TrueAsync(async () => await Reloads("applied") == 1, "SIGHUP applied the file", seconds: 20);
            await using (var fleet = PeerFleet.Start(new FleetOptions { Psk = System.Text.Encoding.UTF8.GetBytes(NewKey), GatewayId = "gw.test" }))
            {
                Assert.Equal(1, (await fleet.EstablishAsync(gatewayEndpoint, 1, TimeSpan.FromSeconds(20))).Established);
            }

            await File.WriteAllTextAsync(config, Yaml(OldKey) + "bogus: 1\n");
            Process.Start("kill", $"-HUP {process.Id}")!.WaitForExit();
            await Eventually.TrueAsync(async () => await Reloads("invalid") == 1, "SIGHUP with a broken file is counted as invalid", seconds: 20);
            Assert.False(process.HasExited);

            Process.Start("kill", $"-TERM {process.Id}")!.WaitForExit();
            Assert.True(process.WaitForExit(20_000), "the gateway exits after SIGTERM");
            string log = await stdout;
            Assert.Contains("\"EventId\":4504", log);
            Assert.Contains("\"EventId\":4500", log);
            Assert.Contains("\"EventId\":4502", log);
            Assert.Contains("unknown key \\u0027bogus\\u0027", log);
            Assert.DoesNotContain(NewKey, log);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            Directory.Delete(dir, recursive: true);
            _ = await stderr;
        }
    }
}
