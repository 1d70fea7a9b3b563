namespace Concentrator.Cli;

/// <summary>
/// <c>probe --url URL</c>: one HTTP GET, exit 0 on a 2xx answer. The chart's <c>helm test</c> pod runs it from the
/// concentrator image against every pod's <c>/readyz</c>, so the test needs no second image with curl in it.
/// </summary>
public static class ProbeCommand
{
    public const string Help = """
        Usage: Concentrator probe --url URL [--timeout SECONDS]

        Sends one GET to URL (http or https, e.g. http://gw-concentrator-0.gw-concentrator-cluster:9400/readyz)
        and prints the status. Exit status 0 for a 2xx answer, 1 for any other answer, a timeout or an
        unreachable host, 2 for a usage error. Redirects are not followed and the body is not read.

        Options:
          --url URL          the endpoint (required)
          --timeout SECONDS  give up after this long (default 5, 1 to 60)
        """;

    private static readonly Dictionary<string, bool> Options = new() { ["url"] = true, ["timeout"] = true };

    public static async Task<int> RunAsync(string[] args)
    {
        var cl = CommandLine.Parse(args, Options);
        if (cl.Help)
        {
            Console.WriteLine(Help);
            return 0;
        }
        var text = cl.Get("url") ?? throw new CliException("probe needs --url URL");
        if (!Uri.TryCreate(text, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https") || url.UserInfo.Length > 0)
        {
            throw new CliException($"--url must be an absolute http or https URL without user info, got '{text}'");
        }
        int timeout = cl.GetInt("timeout", 5, 1, 60);

        using var handler = new SocketsHttpHandler { AllowAutoRedirect = false, UseProxy = false };
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(timeout) };
        try
        {
            using var response = await http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead).ConfigureAwait(false);
            int status = (int)response.StatusCode;
            Console.WriteLine($"{url}: {status}");
            return status is >= 200 and < 300 ? 0 : 1;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            Console.Error.WriteLine($"{url}: {(ex is TaskCanceledException ? $"no answer within {timeout} s" : ex.Message)}");
            return 1;
        }
    }
}
