using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Concentrator.Cli;
using Concentrator.Tests.Cli;
using Concentrator.Hosting;
using Concentrator.Ipsec;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace Concentrator.Tests.Hosting;

/// <summary>
/// The per-user operator commands (issue 16): sas --user, terminate --user | --ike-id | --vip, list-conns, over the admin
/// endpoint of a responder with one tunnel up; every malformed or unknown value refused with a clear error and a
/// non-zero exit, before any SA is touched.
/// The CLI runs in process with its console captured, hence the serial "console" collection.
/// </summary>
[Collection("console")]
public sealed class AdminUserCommandsTests
{
    private static int FreePort()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    private sealed class Rig : IAsyncDisposable
    {
        public required TestGateway Responder { get; init; }
        public required TestGateway Initiator { get; init; }
        public required IAsyncDisposable Http { get; init; }
        public required string Url { get; init; }
        public HttpClient Client { get; } = new() { Timeout = TimeSpan.FromSeconds(10) };

        public async ValueTask DisposeAsync()
        {
            Client.Dispose();
            await Http.DisposeAsync();
            await Initiator.DisposeAsync();
            await Responder.DisposeAsync();
        }
    }

    private static async Task<Rig> UpAsync(string name)
    {
        var responder = TestGateway.Start(TestGateway.ResponderYaml(), name: name + "-resp");
        var initiator = TestGateway.Start(TestGateway.InitiatorYaml(), name: name + "-init");
        int port = FreePort();
        var http = await HealthServer.StartAsync($"127.0.0.1:{port}", responder.Gateway, NullLoggerFactory.Instance);
        initiator.Initiate("site", responder.Endpoint);
        await Eventually.TrueAsync(() => responder.DataPlane.InstalledCount == 1, "the tunnel is up");
        return new Rig { Responder = responder, Initiator = initiator, Http = http, Url = $"http://127.0.0.1:{port}/" };
    }

    private static async Task<(HttpStatusCode Status, string Body)> Send(Rig rig, HttpMethod method, string path)
    {
        using var response = await rig.Client.SendAsync(new HttpRequestMessage(method, rig.Url + path));
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static string Message(string body) => JsonSerializer.Deserialize(body, AdminJson.Default.AdminResult)!.Message;

    [Fact]
    public async Task Sas_by_user_lists_that_users_sa_with_its_unique_id_and_refuses_unknown_or_malformed_users()
    {
        await using var rig = await UpAsync("sas-user");

        var (status, body) = await Send(rig, HttpMethod.Get, "admin/sas?user=site.test");
        Assert.Equal(HttpStatusCode.OK, status);
        var sa = Assert.Single(JsonSerializer.Deserialize(body, AdminJson.Default.ListSaView)!);
        Assert.Equal("site.test", sa.User);
        Assert.Equal("gw.test", sa.LocalId);
        Assert.True(sa.UniqueId > 0);
        Assert.Contains($"rw: #{sa.UniqueId}, ", AdminCommands.Render([sa]));

        (status, body) = await Send(rig, HttpMethod.Get, "admin/sas?user=nobody.test");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Contains("no IKE SA of user 'nobody.test'", Message(body));

        (status, body) = await Send(rig, HttpMethod.Get, "admin/sas?user=a%01b");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        (status, _) = await Send(rig, HttpMethod.Get, "admin/sas?user=" + new string('x', AdminApi.MaxArgumentLength + 1));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        (status, _) = await Send(rig, HttpMethod.Get, "admin/sas?peer=1");
        Assert.Equal(HttpStatusCode.BadRequest, status);

        // The CLI: an unknown user is an error with exit status 1.
        var (code, _, err) = await CliTests.Run("sas", "--user", "nobody.test", "--admin", rig.Url);
        Assert.Equal(1, code);
        Assert.Contains("no IKE SA of user 'nobody.test' on this node", err);
        (code, var text, _) = await CliTests.Run("sas", "--user", "site.test", "--admin", rig.Url);
        Assert.Equal(0, code);
        Assert.Contains($"rw: #{sa.UniqueId}, ESTABLISHED, IKEv2, {sa.Spi}, responder", text);
        Assert.Contains("remote 127.0.0.1", text);
    }

    [Theory]
    [InlineData("admin/terminate?ike_id=abc", HttpStatusCode.BadRequest, "is not a unique id")]
    [InlineData("admin/terminate?ike_id=-1", HttpStatusCode.BadRequest, "is not a unique id")]
    [InlineData("admin/terminate?ike_id=0", HttpStatusCode.BadRequest, "is not a unique id")]
    [InlineData("admin/terminate?ike_id=99999999999999999999999", HttpStatusCode.BadRequest, "is not a unique id")]
    [InlineData("admin/terminate?vip=10.0.0.256", HttpStatusCode.BadRequest, "is not an IP address")]
    [InlineData("admin/terminate?vip=", HttpStatusCode.BadRequest, "one non-empty value")]
    [InlineData("admin/terminate?user=a&user=b", HttpStatusCode.BadRequest, "one non-empty value")]
    [InlineData("admin/terminate?user=site.test&ike_id=1", HttpStatusCode.BadRequest, "exactly one of")]
    [InlineData("admin/terminate", HttpStatusCode.BadRequest, "exactly one of")]
    [InlineData("admin/terminate?spi=1", HttpStatusCode.BadRequest, "unknown parameter 'spi'")]
    [InlineData("admin/terminate?user=nobody.test", HttpStatusCode.NotFound, "no IKE SA of user 'nobody.test'")]
    [InlineData("admin/terminate?ike_id=4242", HttpStatusCode.NotFound, "no IKE SA #4242")]
    [InlineData("admin/terminate?vip=10.99.0.1", HttpStatusCode.NotFound, "no IKE SA holds virtual IP 10.99.0.1")]
    public async Task Terminate_refuses_bad_or_unmatched_selectors_and_deletes_nothing(string path, HttpStatusCode expected, string message)
    {
        await using var rig = await UpAsync("term-bad");
        var (status, body) = await Send(rig, HttpMethod.Post, path);
        Assert.Equal(expected, status);
        Assert.Contains(message, Message(body));
        await Task.Delay(200);
        Assert.Empty(rig.Initiator.Events.Down);
        Assert.Equal(1, rig.Responder.DataPlane.InstalledCount);
    }

    [Theory]
    [InlineData("user")]
    [InlineData("ike-id")]
    public async Task Terminate_by_user_or_unique_id_deletes_that_sa_with_its_peer(string selector)
    {
        await using var rig = await UpAsync("term-" + selector);
        var sa = Assert.Single(await AdminApi.ListAsync(rig.Responder.Gateway));
        string value = selector == "user" ? sa.User : sa.UniqueId.ToString(System.Globalization.CultureInfo.InvariantCulture);

        var (code, text, _) = await CliTests.Run("terminate", "--" + selector, value, "--admin", rig.Url);
        Assert.Equal(0, code);
        Assert.Contains("deleting 1 SA(s)", text);
        await Eventually.TrueAsync(() => rig.Initiator.Events.Down.Count == 1, "the peer was told");
        Assert.Equal(CloseReason.DeletedByPeer, rig.Initiator.Events.Down.Single().Reason);
        await Eventually.TrueAsync(() => rig.Responder.DataPlane.InstalledCount == 0, "the child left the data plane");
    }

    [Theory]
    [InlineData("--ike-id", "x")]
    [InlineData("--ike-id", "0")]
    [InlineData("--vip", "not-an-address")]
    [InlineData("--user", "a\u0001")]
    public async Task Terminate_cli_refuses_malformed_values_without_asking_the_gateway(string option, string value)
    {
        // No gateway listens at this endpoint: a refusal here comes from the CLI's own check.
        var (code, _, err) = await CliTests.Run("terminate", option, value, "--admin", $"http://127.0.0.1:{FreePort()}/");
        Assert.Equal(2, code);
        Assert.Contains(option, err);
    }

    [Fact]
    public async Task Terminate_cli_needs_exactly_one_selector()
    {
        var (code, _, err) = await CliTests.Run("terminate", "--user", "a", "--ike-id", "1", "--admin", $"http://127.0.0.1:{FreePort()}/");
        Assert.Equal(2, code);
        Assert.Contains("exactly one of", err);
    }

    [Theory]
    [InlineData("list-conns", "In a cluster: this node's configuration")]
    [InlineData("sas", "In a cluster: this node's SAs only")]
    [InlineData("terminate", "In a cluster: the SAs this node holds")]
    public async Task Help_says_the_scope_in_a_cluster(string command, string scope)
    {
        var (code, text, _) = await CliTests.Run(command, "--help");
        Assert.Equal(0, code);
        Assert.Contains($"Usage: Concentrator {command}", text);
        Assert.Contains(scope, text);
    }

    [Fact]
    public async Task List_conns_shows_rounds_children_and_selectors_and_no_secret()
    {
        await using var rig = await UpAsync("conns");
        var (status, body) = await Send(rig, HttpMethod.Get, "admin/conns");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.DoesNotContain("test-shared-key", body);
        var conn = Assert.Single(JsonSerializer.Deserialize(body, AdminJson.Default.ListConnView)!);
        Assert.Equal("rw", conn.Name);
        Assert.Equal("no", conn.Unique);
        Assert.Equal(("psk", "gw.test"), (conn.Local.Single().Auth, conn.Local.Single().Id));
        Assert.Equal("%any", conn.Remote.Single().Id);
        var child = Assert.Single(conn.Children);
        Assert.Equal("lan", child.Name);
        Assert.Equal(["10.10.0.0/16"], child.LocalTs);
        Assert.Equal(["10.200.0.0/16"], child.RemoteTs);

        string text = AdminCommands.RenderConns([conn]);
        Assert.Contains("rw: IKEv2, unique no", text);
        Assert.Contains("  local psk authentication:", text);
        Assert.Contains("    remote: 10.200.0.0/16", text);
        var (code, listed, _) = await CliTests.Run("list-conns", "--admin", rig.Url);
        Assert.Equal(0, code);
        Assert.Contains("  lan: TUNNEL", listed);
    }
}
