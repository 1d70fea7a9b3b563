using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Concentrator.Config;
using Concentrator.Hosting;
using Concentrator.Ipsec;
using Concentrator.Testbed.Support;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Logging.Abstractions;

namespace Concentrator.Tests.Hosting;

/// <summary>
/// Who may use the admin API (issue 14, finding 12): loopback clients only, the token over loopback only, and
/// charon.admin_rate per client and after authentication, so that nobody without the token can lock the operator out.
/// </summary>
public sealed class AdminApiTests
{
    private const string Token = "operator-token-0123456789abcdef";

    private static int FreePort()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    /// <summary>An HTTP client whose connections leave from <paramref name="source"/> (a loopback address of its own).</summary>
    private static HttpClient ClientFrom(IPAddress source, string? token)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, cancel) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    socket.Bind(new IPEndPoint(source, 0));
                    await socket.ConnectAsync(context.DnsEndPoint, cancel);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(10) };
        if (token is not null) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    [Fact]
    public async Task Requests_without_the_token_do_not_spend_the_operators_admin_rate()
    {
        await using var gw = TestGateway.Start(TestGateway.ResponderYaml() + "\ncharon: { admin_rate: 2 }\n", name: "admin-auth");
        int port = FreePort();
        await using var http = await HealthServer.StartAsync($"127.0.0.1:{port}", gw.Gateway, NullLoggerFactory.Instance, adminToken: Token);
        string url = $"http://127.0.0.1:{port}/admin/sas";

        using var anonymous = ClientFrom(IPAddress.Loopback, token: null);
        using var guesser = ClientFrom(IPAddress.Loopback, token: "a-wrong-guess");
        int unauthorized = 0, throttled = 0;
        for (int i = 0; i < 40; i++)
        {
            var r = await (i % 2 == 0 ? anonymous : guesser).GetAsync(url);
            if (r.StatusCode == HttpStatusCode.Unauthorized) unauthorized++;
            else if (r.StatusCode == HttpStatusCode.TooManyRequests) throttled++;
            else Assert.Fail($"request {i} without the token got {(int)r.StatusCode}");
        }
        Assert.True(unauthorized >= 2, $"{unauthorized} unauthorized, {throttled} throttled");
        Assert.True(throttled >= 1, $"guessing is throttled too: {unauthorized} unauthorized, {throttled} throttled");

        // The operator, from the same address, still has the whole burst of admin_rate.
        using var operatorClient = ClientFrom(IPAddress.Loopback, Token);
        Assert.Equal(HttpStatusCode.OK, (await operatorClient.GetAsync(url)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await operatorClient.GetAsync(url)).StatusCode);
    }

    [Fact]
    public async Task Admin_rate_is_per_client()
    {
        await using var gw = TestGateway.Start(TestGateway.ResponderYaml() + "\ncharon: { admin_rate: 2 }\n", name: "admin-client");
        int port = FreePort();
        await using var http = await HealthServer.StartAsync($"127.0.0.1:{port}", gw.Gateway, NullLoggerFactory.Instance, adminToken: Token);
        string url = $"http://127.0.0.1:{port}/admin/sas";

        using var busy = ClientFrom(IPAddress.Parse("127.0.0.2"), Token);
        int throttled = 0;
        for (int i = 0; i < 20; i++)
        {
            if ((await busy.GetAsync(url)).StatusCode == HttpStatusCode.TooManyRequests) throttled++;
        }
        Assert.True(throttled >= 1, "the busy client exceeded admin_rate 2 without a 429");
        Assert.Equal(throttled, gw.Gateway.Metrics.Limits.Count(ResourceLimit.AdminRate));

        using var other = ClientFrom(IPAddress.Parse("127.0.0.3"), Token);
        Assert.Equal(HttpStatusCode.OK, (await other.GetAsync(url)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await other.GetAsync(url)).StatusCode);
    }

    [Theory]
    [InlineData("192.0.2.10", null, StatusCodes.Status403Forbidden)]
    [InlineData("192.0.2.10", Token, StatusCodes.Status403Forbidden)]
    [InlineData("2001:db8::1", Token, StatusCodes.Status403Forbidden)]
    [InlineData("::ffff:192.0.2.10", Token, StatusCodes.Status403Forbidden)]
    [InlineData("127.0.0.1", null, StatusCodes.Status401Unauthorized)]
    [InlineData("::1", "wrong", StatusCodes.Status401Unauthorized)]
    [InlineData("::ffff:127.0.0.1", Token, 0)]
    [InlineData("127.0.0.1", Token, 0)]
    public void Only_loopback_clients_with_the_token_are_admitted(string client, string? sent, int expected)
    {
        var limits = new Concentrator.Telemetry.ConcentratorMetrics().Limits;
        using var gate = new AdminGate(Token, 1000, limits);
        var http = new DefaultHttpContext();
        http.Connection.RemoteIpAddress = IPAddress.Parse(client);
        if (sent is not null) http.Request.Headers.Authorization = "Bearer " + sent;
        var result = gate.Admit(http);
        if (expected == 0)
        {
            Assert.Null(result);
        }
        else
        {
            Assert.Equal(expected, Assert.IsAssignableFrom<IStatusCodeHttpResult>(result).StatusCode);
        }
    }

    [Theory]
    [InlineData("0.0.0.0:9400")]
    [InlineData("[::]:9400")]
    [InlineData("192.0.2.1:9400")]
    public void A_token_with_a_listen_address_that_is_not_loopback_is_a_config_error_naming_http_listen(string listen)
    {
        var http = ConcentratorConfig.Parse($"http: {{ listen: \"{listen}\" }}\n", "admin.yaml").Http;
        var e = Assert.Throws<ConfigException>(() => http.AdminToken(name => name == HttpConfig.AdminTokenVariable ? Token : null, "admin.yaml"));
        Assert.Equal("admin.yaml", e.File);
        Assert.Equal("http.listen", e.KeyPath);
        Assert.Contains(HttpConfig.AdminTokenVariable, e.Problem);
        Assert.DoesNotContain(Token, e.Message);

        Assert.Null(http.AdminToken(_ => null, "admin.yaml")); // no token: the address is fine, admin answers loopback clients
        Assert.Null(http.AdminToken(_ => "", "admin.yaml"));
    }

    /// <summary>The real binary, with the token in its own environment only: run stops at once with exit code 2 and a
    /// configuration error naming the file and http.listen, before it binds anything.</summary>
    [Fact]
    public async Task Run_refuses_to_start_with_a_token_and_a_listen_address_that_is_not_loopback()
    {
        string dir = Directory.CreateTempSubdirectory("concentrator-admin-").FullName;
        try
        {
            string config = Path.Combine(dir, "gw.yaml");
            await File.WriteAllTextAsync(config, "http: { listen: \"0.0.0.0:0\" }\ntunnel: { type: none }\nlisten: { addresses: [127.0.0.1], ike_port: 0, natt_port: 0 }\n");
            var psi = new System.Diagnostics.ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "Concentrator"))
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var a in new[] { "run", "--config", config }) psi.ArgumentList.Add(a);
            psi.Environment[HttpConfig.AdminTokenVariable] = Token;
            using var process = System.Diagnostics.Process.Start(psi)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try
            {
                await process.WaitForExitAsync(bound.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail("run did not stop within 60 s: " + await stdout);
            }
            string text = await stdout + await stderr;
            Assert.Equal(2, process.ExitCode);
            Assert.Contains($"{config}: http.listen:", text);
            Assert.Contains(HttpConfig.AdminTokenVariable, text);
            Assert.DoesNotContain(Token, text);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("127.0.0.1:9400")]
    [InlineData("127.0.0.53:9400")]
    [InlineData("[::1]:9400")]
    public void A_token_with_a_loopback_listen_address_is_served(string listen)
    {
        var http = ConcentratorConfig.Parse($"http: {{ listen: \"{listen}\" }}\n", "admin.yaml").Http;
        Assert.Equal(Token, http.AdminToken(name => name == HttpConfig.AdminTokenVariable ? Token : null, "admin.yaml"));
    }
}
