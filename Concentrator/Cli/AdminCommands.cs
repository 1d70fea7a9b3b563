using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Concentrator.Config;
using Concentrator.Hosting;

namespace Concentrator.Cli;

/// <summary>
/// Operator commands that talk to a running gateway's admin endpoint (<see cref="AdminApi"/>):
/// <c>sas</c>, <c>initiate --child NAME</c>, <c>terminate --ike NAME | --child NAME</c>.
/// </summary>
public static class AdminCommands
{
    public const string SasHelp = """
        Usage: Concentrator sas [--json] [--admin URL | --config FILE]

        Lists the IKE SAs of the running gateway with their Child SAs: state, role, peer, virtual
        IPs, algorithms, SPIs, traffic selectors and byte/packet counters.

        Options:
          --json          machine-readable output
          --admin URL     the gateway's HTTP endpoint (default http://127.0.0.1:9400)
          --config FILE   take the endpoint from http.listen of this config
        Set CONCENTRATOR_ADMIN_TOKEN when the gateway requires a token.
        """;

    public const string InitiateHelp = """
        Usage: Concentrator initiate --child NAME [--admin URL | --config FILE]

        Negotiates the named child: under the existing IKE SA of its connection (CREATE_CHILD_SA),
        or with a new IKE SA to the connection's remote_addrs.
        """;

    public const string TerminateHelp = """
        Usage: Concentrator terminate (--ike CONNECTION | --child NAME) [--admin URL | --config FILE]

        Deletes, with the peer, every IKE SA of a connection (and its Child SAs) or every Child SA
        of a child.
        """;

    private static readonly Dictionary<string, bool> Options = new()
    {
        ["json"] = false,
        ["admin"] = true,
        ["config"] = true,
        ["child"] = true,
        ["ike"] = true,
    };

    public static async Task<int> RunAsync(string command, string[] args)
    {
        var cl = CommandLine.Parse(args, Options);
        if (cl.Help)
        {
            Console.WriteLine(command switch { "sas" => SasHelp, "initiate" => InitiateHelp, _ => TerminateHelp });
            return 0;
        }

        using var http = new HttpClient { BaseAddress = new Uri(Endpoint(cl)), Timeout = TimeSpan.FromSeconds(15) };
        if (Environment.GetEnvironmentVariable(HttpConfig.AdminTokenVariable) is { Length: > 0 } token)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        try
        {
            switch (command)
            {
                case "sas":
                {
                    string json = await http.GetStringAsync("admin/sas");
                    Console.Write(cl.Has("json") ? json + "\n" : Render(JsonSerializer.Deserialize(json, AdminJson.Default.ListSaView)!));
                    return 0;
                }
                case "initiate":
                {
                    string child = cl.Get("child") ?? throw new CliException("initiate needs --child NAME");
                    return await Post(http, $"admin/initiate?child={Uri.EscapeDataString(child)}");
                }
                default:
                {
                    string query = cl.Get("ike") is { } ike ? $"ike={Uri.EscapeDataString(ike)}"
                        : cl.Get("child") is { } c ? $"child={Uri.EscapeDataString(c)}"
                        : throw new CliException("terminate needs --ike CONNECTION or --child NAME");
                    return await Post(http, $"admin/terminate?{query}");
                }
            }
        }
        catch (HttpRequestException ex)
        {
            throw new CliException($"cannot reach the gateway at {http.BaseAddress}: {ex.Message}");
        }
    }

    private static async Task<int> Post(HttpClient http, string path)
    {
        using var response = await http.PostAsync(path, null);
        string body = await response.Content.ReadAsStringAsync();
        var result = response.Content.Headers.ContentType?.MediaType == "application/json"
            ? JsonSerializer.Deserialize(body, AdminJson.Default.AdminResult)
            : null;
        Console.WriteLine(result?.Message ?? $"{(int)response.StatusCode} {response.ReasonPhrase}");
        return response.IsSuccessStatusCode ? 0 : 1;
    }

    private static string Endpoint(CommandLine cl)
    {
        if (cl.Get("admin") is { } admin) return admin.EndsWith('/') ? admin : admin + "/";
        string listen = cl.Get("config") is { } path ? ConcentratorConfig.Load(path).Http.Listen : new HttpConfig().Listen;
        return $"http://{listen}/";
    }

    /// <summary>swanctl --list-sas style text.</summary>
    public static string Render(IReadOnlyList<SaView> sas)
    {
        var sb = new StringBuilder();
        if (sas.Count == 0) sb.AppendLine("no IKE SAs");
        foreach (var sa in sas)
        {
            sb.AppendLine($"{sa.Connection}: #{sa.Spi}, {sa.State}, IKEv2, {sa.Role}");
            // As swanctl --list-sas: the EAP identity after the IKE identity.
            sb.AppendLine($"  remote {sa.Remote} [{sa.RemoteId}]{(sa.EapId is { } eap ? $" EAP: '{eap}'" : "")}");
            if (sa.VirtualIps is { Count: > 0 } vips) sb.AppendLine($"  {(sa.Role == "initiator" ? "local" : "remote")} virtual IP {string.Join(' ', vips)}");
            sb.AppendLine($"  {sa.Proposal}");
            if (sa.RemoteCertificate is { } certificate) sb.AppendLine($"  remote certificate {certificate}");
            sb.AppendLine($"  established {sa.AgeSeconds:F0}s ago");
            foreach (var c in sa.Children)
            {
                sb.AppendLine($"  {c.Name}: INSTALLED, TUNNEL, {c.Suite}");
                sb.AppendLine($"    in  {c.InboundSpi}, {c.BytesIn} bytes, {c.PacketsIn} packets");
                sb.AppendLine($"    out {c.OutboundSpi}, {c.BytesOut} bytes, {c.PacketsOut} packets");
                sb.AppendLine($"    local  {string.Join(' ', c.LocalTs)}");
                sb.AppendLine($"    remote {string.Join(' ', c.RemoteTs)}");
            }
        }
        return sb.ToString();
    }
}
