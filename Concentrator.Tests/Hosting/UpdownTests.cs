using Akka.Actor;
using Concentrator.Actors;
using Concentrator.Config;
using Concentrator.Ipsec;
using Concentrator.Telemetry;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Support;
using System.Net;

namespace Concentrator.Tests.Hosting;

/// <summary>
/// swanctl updown: the loader refuses a missing or non-executable script by key; a responder runs a test-written script
/// (which appends its environment to a file) with strongSwan's PLUTO_* variables on child up and down, once per child
/// (a rekey is not a new up), in order, never with key material or the gateway's own environment.
/// </summary>
public sealed class UpdownTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("updown-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private UpdownRecorder? _recorder;

    private string Script(string body = "", bool executable = true) => (_recorder = new UpdownRecorder(_dir, body, executable)).Script;

    private List<Dictionary<string, string>> Runs() => _recorder!.Runs();

    private static string Responder(string script) =>
        TestGateway.ResponderYaml().Replace("        esp_proposals: [aes256gcm16]", $"        esp_proposals: [aes256gcm16]\n        updown: {script}");

    [Fact]
    public void Loader_refuses_a_missing_or_non_executable_script_naming_the_key()
    {
        var missing = Assert.Throws<ConfigException>(() => ConcentratorConfig.Parse(Responder(Path.Combine(_dir, "nope.sh")), "<t>"));
        Assert.Equal("connections.rw.children.lan.updown", missing.KeyPath);
        Assert.Contains("not found", missing.Problem);

        var notExecutable = Assert.Throws<ConfigException>(() => ConcentratorConfig.Parse(Responder(Script(executable: false)), "<t>"));
        Assert.Equal("connections.rw.children.lan.updown", notExecutable.KeyPath);
        Assert.Contains("not executable", notExecutable.Problem);

        Assert.Equal(Script(), ConcentratorConfig.Parse(Responder(Script()), "<t>").Connections["rw"].Children["lan"].Updown);
    }

    [Fact]
    public async Task Child_up_and_down_run_the_script_with_strongswans_environment()
    {
        Environment.SetEnvironmentVariable("CONCENTRATOR_UPDOWN_SECRET_PROBE", "must-not-leak");
        await using var responder = TestGateway.Start(Responder(Script()), name: "resp");
        await using var initiator = TestGateway.Start(TestGateway.InitiatorYaml(), name: "init");
        initiator.Initiate("site", responder.Endpoint);
        await Eventually.TrueAsync(() => Runs().Count == 1, "the up ran");

        var up = Runs()[0];
        var sa = (await Concentrator.Hosting.AdminApi.ListAsync(responder.Gateway)).Single();
        Assert.Equal("up-client", up["PLUTO_VERB"]);
        Assert.Equal("1.1", up["PLUTO_VERSION"]);
        Assert.Equal("lan", up["PLUTO_CONNECTION"]);
        Assert.Equal(sa.UniqueId.ToString(System.Globalization.CultureInfo.InvariantCulture), up["PLUTO_UNIQUEID"]);
        Assert.Equal("esp", up["PLUTO_PROTO"]);
        Assert.Equal("127.0.0.1", up["PLUTO_ME"]);
        Assert.Equal("gw.test", up["PLUTO_MY_ID"]);
        Assert.Equal("10.10.0.0/16", up["PLUTO_MY_CLIENT"]);
        Assert.Equal("0", up["PLUTO_MY_PORT"]);
        Assert.Equal("0", up["PLUTO_MY_PROTOCOL"]);
        Assert.Equal("127.0.0.1", up["PLUTO_PEER"]);
        Assert.Equal("site.test", up["PLUTO_PEER_ID"]);
        Assert.Equal("10.200.1.0/24", up["PLUTO_PEER_CLIENT"]);
        Assert.Equal("0", up["PLUTO_PEER_PORT"]);
        Assert.Equal("0", up["PLUTO_PEER_PROTOCOL"]);
        Assert.True(uint.Parse(up["PLUTO_REQID"], System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.False(up.ContainsKey("PLUTO_XAUTH_ID")); // no EAP
        Assert.False(up.ContainsKey("CONCENTRATOR_UPDOWN_SECRET_PROBE"));
        Assert.DoesNotContain(up.Keys, k => k.Contains("KEY", StringComparison.OrdinalIgnoreCase) || k.Contains("SECRET", StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain(up.Values, v => v.Contains("test-shared-key", StringComparison.Ordinal));

        // A rekey of the child is not a new up, nor its predecessor's removal a down.
        var info = await ChildOf(responder);
        var actor = (await responder.Gateway.Supervisor.Ask<List<Akka.Actor.IActorRef>>(IkeSaSupervisor.GetSas.Instance, TimeSpan.FromSeconds(5))).Single();
        actor.Tell(new IkeSaActor.RekeyChildSa(info));
        await Eventually.TrueAsync(async () => (await ChildOf(responder)) != info, "the child was rekeyed");
        await Task.Delay(500);
        Assert.Single(Runs());

        actor.Tell(IkeSaActor.DeleteIkeSa.Instance);
        await Eventually.TrueAsync(() => Runs().Count == 2, "the down ran");
        var down = Runs()[1];
        Assert.Equal("down-client", down["PLUTO_VERB"]);
        Assert.Equal(up["PLUTO_REQID"], down["PLUTO_REQID"]);
        Assert.Equal(up["PLUTO_PEER_CLIENT"], down["PLUTO_PEER_CLIENT"]);
        await Eventually.TrueAsync(() => responder.Gateway.Metrics.Users.UpdownCount(up: false, UpdownOutcome.Ok) == 1, "counted");
        Assert.Equal(1, responder.Gateway.Metrics.Users.UpdownCount(up: true, UpdownOutcome.Ok));
    }

    private static async Task<uint> ChildOf(TestGateway gw)
    {
        var sas = await Concentrator.Hosting.AdminApi.ListAsync(gw.Gateway);
        return sas.Count == 1 && sas[0].Children.Count >= 1
            ? uint.Parse(sas[0].Children.OrderBy(c => c.InboundSpi).Last().InboundSpi, System.Globalization.NumberStyles.HexNumber)
            : 0;
    }

    [Fact]
    public async Task A_failing_or_hanging_script_is_counted_and_killed_and_a_child_keeps_its_order()
    {
        var metrics = new ConcentratorMetrics();
        var runner = new Concentrator.Hosting.UpdownRunner(Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, metrics.Users,
            timeout: TimeSpan.FromMilliseconds(500));
        string order = Path.Combine(_dir, "order.log");
        string script = Path.Combine(_dir, "slow.sh");
        File.WriteAllText(script, $"#!/bin/sh\n[ \"$PLUTO_VERB\" = up-client ] && sleep 0.3\necho \"$PLUTO_VERB\" >> '{order}'\n[ \"$PLUTO_VERB\" = down-client ] && exit 3\nexit 0\n");
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        string hang = Path.Combine(_dir, "hang.sh");
        File.WriteAllText(hang, "#!/bin/sh\nsleep 30\n");
        File.SetUnixFileMode(hang, UnixFileMode.UserRead | UnixFileMode.UserExecute);

        IReadOnlyList<KeyValuePair<string, string>> Env(string verb) => [new("PLUTO_VERB", verb)];
        runner.Enqueue(new ChildUpdown(script, true, "k", "c", "ch", [Env("up-client")]));
        runner.Enqueue(new ChildUpdown(script, false, "k", "c", "ch", [Env("down-client")]));
        runner.Enqueue(new ChildUpdown(hang, true, "h", "c", "ch", [Env("up-client")]));
        await runner.DrainAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(["up-client", "down-client"], File.ReadAllLines(order));
        Assert.Equal(1, metrics.Users.UpdownCount(up: true, UpdownOutcome.Ok));
        Assert.Equal(1, metrics.Users.UpdownCount(up: false, UpdownOutcome.Failed));
        Assert.Equal(1, metrics.Users.UpdownCount(up: true, UpdownOutcome.Timeout));
    }

    [Fact]
    public async Task A_script_that_leaves_a_child_in_the_background_frees_its_slot_once_it_exits()
    {
        var metrics = new ConcentratorMetrics();
        var runner = new Concentrator.Hosting.UpdownRunner(Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, metrics.Users);
        string script = Path.Combine(_dir, "background.sh");
        // The background sleep inherits stdout and stderr: they stay open after the script exits with 0.
        string pids = Path.Combine(_dir, "background.pids");
        File.WriteAllText(script, $"#!/bin/sh\nsleep 20 &\necho $! >> '{pids}'\necho started\nexit 0\n");
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        try
        {
            for (int i = 0; i < Concentrator.Hosting.UpdownRunner.Concurrency + 1; i++)
            {
                runner.Enqueue(new ChildUpdown(script, true, $"k{i}", "c", "ch", [[new("PLUTO_VERB", "up-client")]]));
            }
            var clock = System.Diagnostics.Stopwatch.StartNew();
            await runner.DrainAsync(TimeSpan.FromSeconds(15));
            Assert.Equal(Concentrator.Hosting.UpdownRunner.Concurrency + 1, metrics.Users.UpdownCount(up: true, UpdownOutcome.Ok));
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(12), $"five runs took {clock.Elapsed.TotalSeconds:0.0} s: the background child kept the slots");
        }
        finally
        {
            foreach (var pid in File.Exists(pids) ? File.ReadAllLines(pids) : [])
            {
                try
                {
                    System.Diagnostics.Process.GetProcessById(int.Parse(pid, System.Globalization.CultureInfo.InvariantCulture)).Kill();
                }
                catch (ArgumentException)
                {
                    // gone already
                }
            }
        }
    }

    [Theory]
    [InlineData("10.10.0.0", "10.10.255.255", "10.10.0.0/16")]
    [InlineData("10.10.1.7", "10.10.1.7", "10.10.1.7/32")]
    [InlineData("10.10.0.1", "10.10.0.6", "10.10.0.0/29")]
    [InlineData("0.0.0.0", "255.255.255.255", "0.0.0.0/0")]
    [InlineData("fd00::", "fd00::ffff", "fd00::/112")]
    public void Client_is_the_smallest_subnet_holding_the_selector(string start, string end, string expected) =>
        Assert.Equal(expected, UpdownEnvironment.Subnet(new TrafficSelector(start.Contains(':') ? TsType.Ipv6AddressRange : TsType.Ipv4AddressRange,
            0, 0, 65535, IPAddress.Parse(start), IPAddress.Parse(end))));
}
