using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Concentrator.Tests.Cli;

/// <summary><c>probe --url</c>, the chart's helm test, against a loopback server answering a fixed status.</summary>
[Collection("console")]
public sealed class ProbeCommandTests
{
    /// <summary>Answers every connection with <paramref name="status"/> (a raw HTTP/1.1 response) until disposed.</summary>
    private sealed class FixedServer : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;

        public FixedServer(string status, string? location = null)
        {
            _listener.Start();
            _loop = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    using var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    var stream = client.GetStream();
                    var buffer = new byte[4096];
                    await stream.ReadAsync(buffer, _stop.Token);
                    var head = $"HTTP/1.1 {status}\r\nContent-Length: 2\r\nConnection: close\r\n{(location is null ? "" : $"Location: {location}\r\n")}\r\nok";
                    await stream.WriteAsync(Encoding.ASCII.GetBytes(head), _stop.Token);
                }
            });
        }

        public string Url(string path) => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}{path}";

        public async ValueTask DisposeAsync()
        {
            _stop.Cancel();
            _listener.Stop();
            try { await _loop; } catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException) { }
            _stop.Dispose();
        }
    }

    [Theory]
    [InlineData("200 OK", 0)]
    [InlineData("204 No Content", 0)]
    [InlineData("503 Service Unavailable", 1)]
    [InlineData("404 Not Found", 1)]
    public async Task Exit_status_follows_the_answer(string status, int expected)
    {
        await using var server = new FixedServer(status);
        var (code, output, err) = await CliTests.Run("probe", "--url", server.Url("/readyz"));
        Assert.True(code == expected, output + err);
        Assert.Contains($"/readyz: {status[..3]}", output);
    }

    [Fact]
    public async Task A_redirect_is_not_followed_and_fails()
    {
        await using var ok = new FixedServer("200 OK");
        await using var redirect = new FixedServer("302 Found", ok.Url("/readyz"));
        var (code, output, _) = await CliTests.Run("probe", "--url", redirect.Url("/readyz"));
        Assert.Equal(1, code);
        Assert.Contains(": 302", output);
    }

    [Fact]
    public async Task An_unreachable_endpoint_fails_within_the_timeout()
    {
        int port;
        using (var l = new TcpListener(IPAddress.Loopback, 0)) { l.Start(); port = ((IPEndPoint)l.LocalEndpoint).Port; }
        var (code, _, err) = await CliTests.Run("probe", "--url", $"http://127.0.0.1:{port}/readyz", "--timeout", "2");
        Assert.Equal(1, code);
        Assert.Contains("127.0.0.1", err);
    }

    [Theory]
    [InlineData("--url", "file:///etc/passwd")]
    [InlineData("--url", "readyz")]
    [InlineData("--url", "http://user:pw@127.0.0.1/readyz")]
    [InlineData("--timeout", "5")]
    [InlineData("--url", "http://127.0.0.1/readyz", "--timeout", "0")]
    public async Task Bad_arguments_are_usage_errors(params string[] args)
    {
        var (code, _, err) = await CliTests.Run(["probe", .. args]);
        Assert.Equal(2, code);
        Assert.Contains("Concentrator:", err);
    }

    [Fact]
    public async Task Help_names_the_options()
    {
        var (code, output, _) = await CliTests.Run("probe", "--help");
        Assert.Equal(0, code);
        Assert.Contains("Usage: Concentrator probe --url URL", output);
    }
}
