using System.Globalization;
using System.Security.Cryptography;
using Concentrator.Testbed.Interop;
using Concentrator.Tests.Interop;
using Xunit.Abstractions;

namespace Concentrator.Tests.Helm;


/// <summary>
/// The privilege models of the chart and the Dockerfile, on the real binary, in a namespace with
/// ip_unprivileged_port_start=0 (the chart's pod sysctl), started as the runtime would start the container:
/// - the chart: uid 0 under no_new_privs (allowPrivilegeEscalation: false) with a bounding set of NET_ADMIN and
///   NET_RAW only (drop ALL, add both). It creates the TUN device, binds UDP 500 and 4500 and opens the ESP
///   socket, holding exactly those two capabilities.
/// - plain Docker: the apphost's file capabilities, as an unprivileged uid; under no_new_privs they are ignored
///   and TUN creation fails; without NET_ADMIN in the bounding set exec fails.
/// </summary>
[Collection(InteropCollection.Name)]
[Trait("Category", "Root")]
public sealed class ImagePrivilegesRootTests(ITestOutputHelper output)
{
    private const string Unprivileged = "65534";
    private const int DataPlaneStarted = 3002;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private const string Config = """
        listen: { addresses: [127.0.0.1], ike_port: 500, natt_port: 4500 }
        http: { listen: "127.0.0.1:9400" }
        tunnel: { type: tun, device: ipsec0, mtu: 1400, workers: 1, plain_esp: true }
        connections:
          rw:
            remote_addrs: ["%any"]
            local: { auth: psk, id: vpn.example.net }
            remote: { auth: psk, id: "%any" }
            children: { net: { local_ts: [10.0.0.0/8] } }
        secrets: { ike-a: { secret: not-a-real-key } }
        """;

    /// <summary>setpriv as the kubelet would start the container: uid/gid, no groups, no inheritable caps.</summary>
    private static string[] AsPod(string apphost, string configPath, string bounding, bool noNewPrivs, string uid = Unprivileged) =>
    [
        "setpriv", .. noNewPrivs ? new[] { "--no-new-privs" } : [],
        $"--reuid={uid}", $"--regid={Unprivileged}", "--clear-groups", "--inh-caps=-all", $"--bounding-set=-all,{bounding}",
        "env", "HOME=/tmp", "DOTNET_CLI_TELEMETRY_OPTOUT=1", "DOTNET_gcServer=0",
        apphost, "run", "--config", configPath, "--shutdown-timeout", "1",
    ];

    /// <summary>The chart's securityContext (issue 14, finding 12): uid 0, no_new_privs, only NET_ADMIN and NET_RAW.</summary>
    [Fact]
    public async Task Chart_privileges_uid0_without_privilege_escalation_run_the_tun_data_plane_Root()
    {
        if (!InteropPrerequisites.CheckRoot(output, "ip", "setcap", "setpriv", "sysctl")) return;
        var dir = Directory.CreateTempSubdirectory("concentrator-caps-").FullName;
        var id = $"{NamespaceTestbed.Prefix}{Environment.ProcessId}x{Convert.ToHexString(RandomNumberGenerator.GetBytes(3)).ToLowerInvariant()}";
        await using var ns = Netns.Create($"{id}-cap");
        try
        {
            var (apphost, configPath) = PublishCopy(dir);
            Command.Check("setcap", "cap_net_admin,cap_net_raw+ep", apphost); // as in the image: harmless for uid 0
            ns.Sysctl("net.ipv4.ip_unprivileged_port_start", "0");

            var process = ns.Start(AsPod(apphost, configPath, "+net_admin,+net_raw", noNewPrivs: true, uid: "0"),
                Path.Combine(dir, "out.jsonl"), Path.Combine(dir, "err.txt"), termGrace: TimeSpan.FromSeconds(5));
            var log = await WaitStartedAsync(process, dir);
            output.WriteLine(log);
            Assert.False(process.HasExited, "the concentrator exited under the chart's privileges");
            Assert.Contains($"\"EventId\":{DataPlaneStarted},", log);
            Assert.Contains($"\"EventId\":{ConcentratorProcess.Listening},", log);

            var status = File.ReadAllLines($"/proc/{process.Pid}/status");
            Assert.Contains(status, l => l.StartsWith("Uid:", StringComparison.Ordinal) && l.Split('\t', StringSplitOptions.RemoveEmptyEntries).Skip(1).All(u => u == "0"));
            Assert.Contains(status, l => l.StartsWith("NoNewPrivs:", StringComparison.Ordinal) && l.EndsWith("1", StringComparison.Ordinal));
            foreach (var set in new[] { "CapEff:", "CapPrm:", "CapBnd:" })
            {
                var bits = ulong.Parse(status.Single(l => l.StartsWith(set, StringComparison.Ordinal))[set.Length..].Trim(), NumberStyles.HexNumber);
                Assert.True(((1UL << 12) | (1UL << 13)) == bits, $"{set} {bits:x}: CAP_NET_ADMIN and CAP_NET_RAW and nothing else");
            }
            Assert.Contains("ipsec0", ns.Ip("-br", "link", "show", "ipsec0").Stdout);
            var sockets = (await ns.ExecCheckedAsync(Bound, "ss", "-lunp")).Stdout;
            Assert.Contains("127.0.0.1:500 ", sockets);
            Assert.Contains("127.0.0.1:4500 ", sockets);
            await ns.StopAsync(process);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The application as published: the apphost beside its assemblies (a copy, so the build output never
    /// carries capabilities), readable by the unprivileged uid, and the config.</summary>
    private static (string Apphost, string ConfigPath) PublishCopy(string dir)
    {
        foreach (var file in Directory.GetFiles(AppContext.BaseDirectory))
        {
            File.Copy(file, Path.Combine(dir, Path.GetFileName(file)));
        }
        var apphost = Path.Combine(dir, "Concentrator");
        Assert.True(File.Exists(apphost), "the Concentrator apphost is not in the test output");
        var configPath = Path.Combine(dir, "concentrator.yaml");
        File.WriteAllText(configPath, Config);
        File.SetUnixFileMode(dir, (UnixFileMode)Convert.ToInt32("755", 8));
        Command.Check("chmod", "-R", "a+rX", dir);
        return (apphost, configPath);
    }

    /// <summary>The JSON log once the process logged both Listening and the data plane's start (or exited, or <see cref="Bound"/> passed).</summary>
    private static async Task<string> WaitStartedAsync(BackgroundProcess process, string dir)
    {
        var deadline = DateTime.UtcNow + Bound;
        string log = "";
        while (DateTime.UtcNow < deadline && !process.HasExited &&
               !(log.Contains($"\"EventId\":{ConcentratorProcess.Listening},", StringComparison.Ordinal) &&
                 log.Contains($"\"EventId\":{DataPlaneStarted},", StringComparison.Ordinal)))
        {
            await Task.Delay(200);
            log = BackgroundProcess.ReadShared(Path.Combine(dir, "out.jsonl"));
        }
        return log + BackgroundProcess.ReadShared(Path.Combine(dir, "err.txt"));
    }

    [Fact]
    public async Task NonRoot_apphost_with_file_capabilities_runs_the_tun_data_plane_Root()
    {
        if (!InteropPrerequisites.CheckRoot(output, "ip", "setcap", "setpriv", "sysctl")) return;
        var dir = Directory.CreateTempSubdirectory("concentrator-caps-").FullName;
        var id = $"{NamespaceTestbed.Prefix}{Environment.ProcessId}x{Convert.ToHexString(RandomNumberGenerator.GetBytes(3)).ToLowerInvariant()}";
        await using var ns = Netns.Create($"{id}-cap");
        try
        {
            var (apphost, configPath) = PublishCopy(dir);
            Command.Check("setcap", "cap_net_admin,cap_net_raw+ep", apphost);
            ns.Sysctl("net.ipv4.ip_unprivileged_port_start", "0");

            var process = ns.Start(AsPod(apphost, configPath, "+net_admin,+net_raw", noNewPrivs: false),
                Path.Combine(dir, "out.jsonl"), Path.Combine(dir, "err.txt"), termGrace: TimeSpan.FromSeconds(5));
            var log = await WaitStartedAsync(process, dir);
            output.WriteLine(log);
            Assert.False(process.HasExited, "the unprivileged concentrator exited");
            Assert.Contains($"\"EventId\":{DataPlaneStarted},", log);
            Assert.Contains($"\"EventId\":{ConcentratorProcess.Listening},", log);

            // ip netns exec and setpriv exec in place: the pid is the concentrator itself.
            var status = File.ReadAllLines($"/proc/{process.Pid}/status");
            Assert.Contains(status, l => l.StartsWith("Uid:", StringComparison.Ordinal) && l.Split('\t', StringSplitOptions.RemoveEmptyEntries).Skip(1).All(u => u == Unprivileged));
            var effective = ulong.Parse(status.Single(l => l.StartsWith("CapEff:", StringComparison.Ordinal))[7..].Trim(), NumberStyles.HexNumber);
            Assert.Equal((1UL << 12) | (1UL << 13), effective); // CAP_NET_ADMIN, CAP_NET_RAW and nothing else
            Assert.Contains("ipsec0", ns.Ip("-br", "link", "show", "ipsec0").Stdout);
            var sockets = (await ns.ExecCheckedAsync(Bound, "ss", "-lunp")).Stdout;
            Assert.Contains("127.0.0.1:500 ", sockets);
            Assert.Contains("127.0.0.1:4500 ", sockets);
            await ns.StopAsync(process);

            // allowPrivilegeEscalation: false sets no_new_privs: file capabilities are not granted.
            var nnp = await ns.ExecAsync(Bound, AsPod(apphost, configPath, "+net_admin,+net_raw", noNewPrivs: true));
            output.WriteLine(nnp.ToString());
            Assert.Equal(1, nnp.ExitCode); // a start-up error of the environment, not of the configuration (issue 18)
            Assert.Contains("TUNSETIFF ipsec0: Operation not permitted", nnp.Stdout + nnp.Stderr);

            // A pod that does not add NET_ADMIN: the kernel refuses to exec a binary whose file
            // capabilities exceed the bounding set.
            var bounded = await ns.ExecAsync(Bound, AsPod(apphost, configPath, "+net_raw", noNewPrivs: false));
            output.WriteLine(bounded.ToString());
            Assert.NotEqual(0, bounded.ExitCode);
            Assert.Contains("Operation not permitted", bounded.Stdout + bounded.Stderr);
            Assert.DoesNotContain($"\"EventId\":{DataPlaneStarted},", bounded.Stdout);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
