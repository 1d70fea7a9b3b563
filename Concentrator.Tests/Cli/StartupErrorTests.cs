using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Concentrator.Testbed.Interop;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Interop;
using Xunit.Abstractions;

namespace Concentrator.Tests.Cli;

/// <summary>
/// Issue 18: every start-up error of <c>run</c> is one line on stderr, never a stack trace, with exit status 2 for the
/// configuration and 1 for the environment (never 134, the status of an unhandled exception). The real executable.
/// </summary>
public sealed class StartupErrorTests
{
    internal static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    internal static string Yaml(int ikePort, int nattPort, int httpPort, string local = "{ auth: psk, id: gw.test }", string tunnel = "{ type: none }") => $$"""
        listen: { addresses: [127.0.0.1], ike_port: {{ikePort}}, natt_port: {{nattPort}} }
        http: { listen: "127.0.0.1:{{httpPort}}" }
        tunnel: {{tunnel}}
        connections:
          rw:
            proposals: [aes256gcm16-prfsha256-ecp256]
            local: {{local}}
            remote: { auth: psk, id: "%any" }
            children:
              lan:
                local_ts: [10.10.0.0/16]
                remote_ts: [10.200.0.0/16]
        secrets:
          rw: { secret: "test-shared-key-0123456789" }
        """;

    /// <summary>The one line, and nothing of a stack trace or an unhandled exception's report.</summary>
    internal static string OneLine(string stderr)
    {
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"one line on stderr, got {lines.Length}:\n{stderr}");
        Assert.DoesNotContain("   at ", stderr);
        Assert.DoesNotContain("Unhandled exception", stderr);
        Assert.StartsWith("Concentrator: ", lines[0]);
        return lines[0];
    }

    private static async Task<(int Code, string Err)> RunAsync(string yaml)
    {
        string dir = Directory.CreateTempSubdirectory("conc-startup-").FullName;
        try
        {
            string config = Path.Combine(dir, "gw.yaml");
            await File.WriteAllTextAsync(config, yaml);
            var dll = typeof(Concentrator.Hosting.Gateway).Assembly.Location;
            var psi = new ProcessStartInfo("dotnet", ["exec", dll, "run", "--config", config, "--shutdown-timeout", "1"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var process = Process.Start(psi)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var cancel = new CancellationTokenSource(Bound);
            try
            {
                await process.WaitForExitAsync(cancel.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail($"run did not exit within {Bound.TotalSeconds} s");
            }
            _ = await stdout;
            return (process.ExitCode, await stderr);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Ike_port_in_use_is_one_line_naming_the_address_and_exit_1()
    {
        int ikePort = FreePorts.Udp(), nattPort = FreePorts.Udp(), httpPort = FreePorts.Tcp();
        using var holder = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        holder.Bind(new IPEndPoint(IPAddress.Loopback, ikePort));

        var (code, err) = await RunAsync(Yaml(ikePort, nattPort, httpPort));
        string line = OneLine(err);
        Assert.Equal(1, code);
        Assert.Contains($"cannot bind UDP 127.0.0.1:{ikePort}: address already in use", line);
        Assert.Contains("see listen in", line);
    }

    [Fact]
    public async Task Natt_port_in_use_is_one_line_naming_the_port_and_exit_1()
    {
        int ikePort = FreePorts.Udp(), nattPort = FreePorts.Udp(), httpPort = FreePorts.Tcp();
        using var holder = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        holder.Bind(new IPEndPoint(IPAddress.Loopback, nattPort));

        var (code, err) = await RunAsync(Yaml(ikePort, nattPort, httpPort));
        Assert.Equal(1, code);
        Assert.Contains($"cannot bind UDP 127.0.0.1:{nattPort}: address already in use", OneLine(err));
    }

    [Fact]
    public async Task Http_port_in_use_is_one_line_naming_http_listen_and_exit_1()
    {
        int ikePort = FreePorts.Udp(), nattPort = FreePorts.Udp(), httpPort = FreePorts.Tcp();
        var holder = new TcpListener(IPAddress.Loopback, httpPort);
        holder.Start();
        try
        {
            var (code, err) = await RunAsync(Yaml(ikePort, nattPort, httpPort));
            Assert.Equal(1, code);
            Assert.Contains($"cannot serve HTTP on 127.0.0.1:{httpPort} (http.listen in ", OneLine(err));
            Assert.Contains("address already in use", err);
        }
        finally
        {
            holder.Stop();
        }
    }

    [Fact]
    public async Task Missing_certificate_file_is_one_configuration_line_naming_the_file_and_exit_2()
    {
        string missing = $"/nonexistent-{Guid.NewGuid():N}/gw.pem";
        var (code, err) = await RunAsync(Yaml(FreePorts.Udp(), FreePorts.Udp(), FreePorts.Tcp(), local: $"{{ auth: pubkey, certs: [{missing}] }}"));
        string line = OneLine(err);
        Assert.Equal(2, code);
        Assert.Contains("configuration error", line);
        Assert.Contains("connections.rw.local.certs[0]", line);
        Assert.Contains(missing, line);
    }
}

/// <summary>
/// The privileged start-up errors: the process as an unprivileged uid without capabilities (setpriv) in a namespace of
/// its own with the kernel's default <c>net.ipv4.ip_unprivileged_port_start</c> of 1024.
/// </summary>
[Collection(InteropCollection.Name)]
[Trait("Category", "Root")]
public sealed class StartupErrorRootTests(ITestOutputHelper output)
{
    private async Task<CommandResult> RunUnprivilegedAsync(string yaml)
    {
        string dir = Directory.CreateTempSubdirectory("conc-startup-root-").FullName;
        var id = $"{NamespaceTestbed.Prefix}{Environment.ProcessId}x{Convert.ToHexString(RandomNumberGenerator.GetBytes(3)).ToLowerInvariant()}";
        await using var ns = Netns.Create($"{id}-su");
        try
        {
            ns.Up("lo");
            ns.Sysctl("net.ipv4.ip_unprivileged_port_start", "1024");
            string config = Path.Combine(dir, "gw.yaml");
            await File.WriteAllTextAsync(config, yaml);
            File.SetUnixFileMode(dir, (UnixFileMode)Convert.ToInt32("755", 8));
            File.SetUnixFileMode(config, (UnixFileMode)Convert.ToInt32("644", 8));
            var dll = typeof(Concentrator.Hosting.Gateway).Assembly.Location;
            string dotnet = Environment.ProcessPath is { } host && Path.GetFileNameWithoutExtension(host) == "dotnet" ? host : "dotnet";
            var result = await ns.ExecAsync(StartupErrorTests.Bound,
                "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
                "env", "HOME=/tmp", "DOTNET_CLI_TELEMETRY_OPTOUT=1", dotnet, "exec", dll, "run", "--config", config, "--shutdown-timeout", "1");
            output.WriteLine(result.ToString());
            Assert.False(result.TimedOut, "run did not exit");
            return result;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Port_500_without_cap_net_bind_service_is_one_line_and_exit_1_Root()
    {
        if (!InteropPrerequisites.CheckRoot(output, "ip", "setpriv", "sysctl")) return;
        var result = await RunUnprivilegedAsync(StartupErrorTests.Yaml(500, 4500, 9400));
        string line = StartupErrorTests.OneLine(result.Stderr);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("cannot bind UDP 127.0.0.1:500: permission denied", line);
        Assert.Contains("CAP_NET_BIND_SERVICE", line);
    }

    [Fact]
    public async Task Tun_without_cap_net_admin_is_one_line_and_exit_1_Root()
    {
        if (!InteropPrerequisites.CheckRoot(output, "ip", "setpriv", "sysctl")) return;
        var result = await RunUnprivilegedAsync(StartupErrorTests.Yaml(15500, 15501, 9400, tunnel: "{ type: tun, device: ipsec0, workers: 1 }"));
        string line = StartupErrorTests.OneLine(result.Stderr);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("cannot start the TUN data plane", line);
        Assert.Contains("CAP_NET_ADMIN", line);
    }
}
