using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Concentrator.Cli;
using Concentrator.Ipsec;
using Concentrator.Simulation;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Support;

namespace Concentrator.Tests.Cli;

/// <summary>Console output is process-wide, so these run one at a time.</summary>
[CollectionDefinition("console", DisableParallelization = true)]
public sealed class ConsoleCollection;

[Collection("console")]
public sealed class CliTests
{
    /// <summary>Runs the CLI in-process with stdout/stderr captured (hence the serial "console" collection).</summary>
    internal static async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        Console.SetOut(stdout);
        Console.SetError(stderr);
        try
        {
            int code = await CliApp.RunAsync(args);
            return (code, stdout.ToString(), stderr.ToString());
        }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldErr);
        }
    }

    [Theory]
    [InlineData("demo")]
    [InlineData("run")]
    [InlineData("sas")]
    [InlineData("initiate")]
    [InlineData("terminate")]
    public async Task Every_command_has_help(string command)
    {
        var (code, output, _) = await Run(command, "--help");
        Assert.Equal(0, code);
        Assert.Contains($"Usage: Concentrator {command}", output);
    }

    [Fact]
    public async Task Top_level_help_lists_the_commands()
    {
        var (code, output, _) = await Run("--help");
        Assert.Equal(0, code);
        Assert.Contains("demo", output);
        Assert.Contains("run", output);
    }

    [Fact]
    public async Task Unknown_command_and_option_are_usage_errors()
    {
        var (code, _, err) = await Run("frobnicate");
        Assert.Equal(2, code);
        Assert.Contains("unknown command 'frobnicate'", err);

        (code, _, err) = await Run("demo", "--peeers", "3");
        Assert.Equal(2, code);
        Assert.Contains("unknown option '--peeers'", err);

        (code, _, err) = await Run("demo", "--peers", "zero");
        Assert.Equal(2, code);
        Assert.Contains("--peers must be a number", err);
    }

    [Fact]
    public async Task Run_with_a_bad_config_names_file_key_and_problem()
    {
        string path = Path.Combine(Path.GetTempPath(), $"conc-bad-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(path, """
            connections:
              a:
                proposals: [aes256gcm16-prfsha256-ecp999]
            """);
        try
        {
            var (code, _, err) = await Run("run", "--config", path);
            Assert.Equal(2, code);
            Assert.Contains(path, err);
            Assert.Contains("connections.a.proposals", err);
            Assert.Contains("ecp999", err);
        }
        finally
        {
            File.Delete(path);
        }

        var (missingCode, _, missingErr) = await Run("run", "--config", "/nonexistent/concentrator.yaml");
        Assert.Equal(2, missingCode);
        Assert.Contains("/nonexistent/concentrator.yaml", missingErr);
    }

    [Fact]
    public async Task Demo_establishes_every_peer_and_prints_its_summary()
    {
        var (code, output, _) = await Run("demo", "--peers", "25", "--timeout", "60");
        Assert.Equal(0, code);
        Assert.Contains("IKE SAs established      25/25", output);
        Assert.Contains("Gateway Child SAs        25 installed", output);
        Assert.Contains("Virtual IPs              25 distinct for 25 peers from 10.200.0.0/16", output);
        Assert.Contains("Handshakes per second", output);
        Assert.Contains("Setup latency p99", output);
        Assert.Contains("Deleted on shutdown      all", output);
    }
}

/// <summary>The real executable: <c>run</c> serves peers, answers /healthz, and on SIGTERM deletes every SA before exiting.</summary>
public sealed class RunProcessTests
{
    [Fact]
    public async Task Run_serves_peers_and_sigterm_deletes_their_sas_before_exit()
    {
        int ikePort = FreePorts.Udp(), nattPort = FreePorts.Udp(), httpPort = FreePorts.Tcp();
        string dir = Directory.CreateTempSubdirectory("conc-run-").FullName;
        string config = Path.Combine(dir, "gw.yaml");
        await File.WriteAllTextAsync(config, TestGateway.ResponderYaml()
            .Replace("ike_port: 0, natt_port: 0", $"ike_port: {ikePort}, natt_port: {nattPort}")
            + $"\nhttp: {{ listen: \"127.0.0.1:{httpPort}\" }}\ntunnel: {{ type: none }}\n");

        var dll = typeof(Concentrator.Hosting.Gateway).Assembly.Location;
        // debug: the per-setup events (1001 established) are debug since issue 17; the test reads them from the log.
        var psi = new ProcessStartInfo("dotnet", $"\"{dll}\" run --config \"{config}\" --log-level debug")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            await Eventually.TrueAsync(async () =>
            {
                try { return (await http.GetStringAsync($"http://127.0.0.1:{httpPort}/healthz")).Trim() == "ok"; }
                catch (HttpRequestException) { return false; }
                catch (TaskCanceledException) { return false; }
            }, "the gateway answers /healthz", seconds: 30);
            Assert.Equal("ready", (await http.GetStringAsync($"http://127.0.0.1:{httpPort}/readyz")).Trim());

            await using var fleet = PeerFleet.Start(new FleetOptions { Psk = "test-shared-key-0123456789"u8.ToArray(), GatewayId = "gw.test" });
            var events = Testbed.Support.EventLog.Attach(fleet.Node.System);
            var result = await fleet.EstablishAsync(new IPEndPoint(IPAddress.Loopback, ikePort), 3, TimeSpan.FromSeconds(20));
            Assert.Equal(3, result.Established);

            Process.Start("kill", $"-TERM {process.Id}")!.WaitForExit();
            Assert.True(process.WaitForExit(20_000), "the gateway exits after SIGTERM");
            Assert.Equal(0, process.ExitCode);

            await Eventually.TrueAsync(() => events.Down.Count(d => d.Reason == CloseReason.DeletedByPeer) == 3,
                "every peer was told its IKE SA is deleted");
            string log = await stdout;
            Assert.Contains("\"EventId\":1001", log);
            Assert.Contains("\"EventId\":4003", log);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            Directory.Delete(dir, recursive: true);
            _ = await stderr;
        }
    }


}

/// <summary>sas / initiate / terminate against an in-process gateway's admin endpoint.</summary>
[Collection("console")]
public sealed class AdminCommandTests
{
    private static Task<(int Code, string Out, string Err)> Run(params string[] args) => CliTests.Run(args);

    [Fact]
    public async Task Sas_lists_tunnels_and_terminate_and_initiate_change_them()
    {
        await using var gateway = TestGateway.Start(TestGateway.ResponderYaml(), name: "gw");
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        await using var http = await Concentrator.Hosting.HealthServer.StartAsync($"127.0.0.1:{port}", gateway.Gateway,
            Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
        string admin = $"http://127.0.0.1:{port}";

        await using var fleet = PeerFleet.Start(new FleetOptions { Psk = "test-shared-key-0123456789"u8.ToArray(), GatewayId = "gw.test" });
        Assert.Equal(2, (await fleet.EstablishAsync(gateway.Endpoint, 2, TimeSpan.FromSeconds(20))).Established);
        await Eventually.TrueAsync(() => gateway.DataPlane.InstalledCount == 2, "two children installed");

        var (code, output, _) = await Run("sas", "--json", "--admin", admin);
        Assert.Equal(0, code);
        var sas = System.Text.Json.JsonSerializer.Deserialize(output, Concentrator.Hosting.AdminJson.Default.ListSaView)!;
        Assert.Equal(2, sas.Count);
        Assert.All(sas, s => Assert.Equal("rw", s.Connection));
        Assert.All(sas, s => Assert.Equal("Established", s.State));
        Assert.All(sas, s => Assert.Equal("lan", s.Children.Single().Name));
        Assert.Contains(sas, s => s.RemoteId == "peer-0.fleet");
        Assert.DoesNotContain("test-shared-key", output);

        (code, output, _) = await Run("sas", "--admin", admin);
        Assert.Equal(0, code);
        Assert.Contains("rw: #", output);
        Assert.Contains("lan: INSTALLED, TUNNEL", output);

        (code, _, _) = await Run("terminate", "--child", "lan", "--admin", admin);
        Assert.Equal(0, code);
        await Eventually.TrueAsync(() => gateway.DataPlane.InstalledCount == 0, "both children deleted");
        Assert.Equal(2, await gateway.Gateway.CountSasAsync());

        (code, output, _) = await Run("initiate", "--child", "lan", "--admin", admin);
        Assert.Equal(0, code);
        Assert.Contains("child lan established under IKE SA #", output);
        Assert.EndsWith("initiate completed successfully\n", output);
        Assert.Equal(1, gateway.DataPlane.InstalledCount); // initiate returned once the child was installed

        (code, _, var err) = await Run("initiate", "--child", "nosuchchild", "--admin", admin);
        Assert.Equal(1, code);
        Assert.Equal("initiate failed: no child named 'nosuchchild' in the configuration\n", err);

        (code, _, _) = await Run("terminate", "--ike", "rw", "--admin", admin);
        Assert.Equal(0, code);
        await Eventually.TrueAsync(async () => await gateway.Gateway.CountSasAsync() == 0, "both IKE SAs deleted");
    }
}
