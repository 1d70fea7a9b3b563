using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Concentrator.Config;
using Concentrator.Hosting;

namespace Concentrator.Cli;

/// <summary>
/// Operator commands that talk to a running gateway's admin endpoint (<see cref="AdminApi"/>):
/// <c>sas [--user ID]</c>, <c>list-conns</c>, <c>initiate --child NAME</c>,
/// <c>terminate --ike NAME | --child NAME | --user ID | --ike-id N | --vip ADDR</c>.
/// </summary>
public static partial class AdminCommands
{
    public const string SasHelp = """
        Usage: Concentrator sas [--user ID] [--json] [--admin URL | --config FILE]

        Lists the IKE SAs of the running gateway with their Child SAs: unique id (#N), state, role,
        peer, user, virtual IPs, algorithms, SPIs, traffic selectors and byte/packet counters.
        In a cluster: this node's SAs only (run it on each node).

        Options:
          --user ID       only the SAs of this user (the EAP identity, else the peer's IKE identity);
                          none: an error and exit status 1
          --json          machine-readable output
          --admin URL     the gateway's HTTP endpoint (default http://127.0.0.1:9400)
          --config FILE   take the endpoint from http.listen of this config
        Set CONCENTRATOR_ADMIN_TOKEN when the gateway requires a token.
        """;

    public const string InitiateHelp = """
        Usage: Concentrator initiate --child NAME [--timeout S] [--admin URL | --config FILE]

        Negotiates the named child: under the existing IKE SA of its connection (CREATE_CHILD_SA),
        or with a new IKE SA to the connection's remote_addrs, and waits for the outcome as swanctl
        --initiate does: "initiate completed successfully" (exit 0) once the Child SA is installed,
        "initiate failed: REASON" (exit 1) when the IKE SA failed or closed, or after --timeout S
        seconds (1-300, default 60; swanctl's 0, wait forever, is not offered). In a cluster: from this node.
        """;

    public const string TerminateHelp = """
        Usage: Concentrator terminate (--ike CONNECTION | --child NAME | --user ID | --ike-id N | --vip ADDR)
                                      [--timeout S] [--admin URL | --config FILE]

        Deletes SAs with their peers:
          --ike CONNECTION  every IKE SA of a connection (and its Child SAs)
          --child NAME      every Child SA of a child
          --user ID         every IKE SA of one user (the EAP identity, else the IKE identity)
          --ike-id N        one IKE SA by its unique id (the #N that sas shows)
          --vip ADDR        the IKE SA holding this virtual IP
        Exactly one selector. Waits until the SAs are gone (the peer answered the Delete, or our
        retransmissions ended), at most --timeout S seconds (1-300, default 60), then prints
        "terminate completed successfully" (exit 0) or "terminate failed: REASON" (exit 1).
        Nothing matching, or a malformed value: an error and exit status 1.
        In a cluster: the SAs this node holds (a user's SAs on other nodes stay; run it on each node).
        """;

    public const string ListConnsHelp = """
        Usage: Concentrator list-conns [--json] [--admin URL | --config FILE]

        Lists the loaded connections as swanctl --list-conns does: addresses, unique policy,
        proposals, pools, the local and remote authentication rounds (method, identity,
        certificate or CAs) and the children with their traffic selectors and updown script.
        Never a secret. In a cluster: this node's configuration (every node loads its own).
        """;

    public const string ReloadHelp = """
        Usage: Concentrator reload [--admin URL | --config FILE]

        Re-reads the configuration file the running gateway was started with (as SIGHUP does;
        swanctl --load-all). Connections, secrets, pools, certificates, CAs and CRLs are added,
        changed or removed for new SAs; SAs of changed connections keep running on the settings
        they were made with until they rekey or reauthenticate; IKE SAs of removed connections are
        deleted with their peers. A file that does not load, or a change to a key of listen, http,
        tunnel, charon or cluster (those need a restart), changes nothing and exits 1.
        """;

    private static readonly Dictionary<string, bool> Options = new()
    {
        ["json"] = false,
        ["admin"] = true,
        ["config"] = true,
        ["child"] = true,
        ["ike"] = true,
        ["user"] = true,
        ["ike-id"] = true,
        ["vip"] = true,
        ["timeout"] = true,
        ["reauth"] = false,
    };

    public static async Task<int> RunAsync(string command, string[] args)
    {
        var cl = CommandLine.Parse(args, Options);
        if (cl.Help)
        {
            Console.WriteLine(command switch
            {
                "sas" => SasHelp, "initiate" => InitiateHelp, "list-conns" => ListConnsHelp, "reload" => ReloadHelp, "rekey" => RekeyHelp,
                "stats" => StatsHelp, _ => TerminateHelp,
            });
            return 0;
        }
        int wait = command is "initiate" or "terminate" or "rekey" ? cl.GetInt("timeout", DefaultWaitSeconds, 1, AdminApi.MaxWaitSeconds) : 0;
        if (command is "initiate" or "rekey" && cl.Get("child") is { } name && (name.Length > AdminApi.MaxArgumentLength || name.Any(char.IsControl)))
        {
            throw new CliException($"--child: not a valid name (at most {AdminApi.MaxArgumentLength} printable characters)");
        }
        if (cl.Has("reauth") && command != "rekey") throw new CliException("--reauth belongs to rekey");

        // A waiting command's request lasts its --timeout; the endpoint answers by then (504 when the time ran out).
        using var http = new HttpClient { BaseAddress = new Uri(Endpoint(cl)), Timeout = TimeSpan.FromSeconds(15 + wait) };
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
                    string path = cl.Get("user") is { } user ? $"admin/sas?user={Uri.EscapeDataString(User(user))}" : "admin/sas";
                    using var response = await http.GetAsync(path);
                    string json = await response.Content.ReadAsStringAsync();
                    if (!response.IsSuccessStatusCode) return Failed(response, json);
                    Console.Write(cl.Has("json") ? json + "\n" : Render(JsonSerializer.Deserialize(json, AdminJson.Default.ListSaView)!));
                    return 0;
                }
                case "reload":
                    return await Reload(http);
                case "list-conns":
                {
                    using var response = await http.GetAsync("admin/conns");
                    string json = await response.Content.ReadAsStringAsync();
                    if (!response.IsSuccessStatusCode) return Failed(response, json);
                    Console.Write(cl.Has("json") ? json + "\n" : RenderConns(JsonSerializer.Deserialize(json, AdminJson.Default.ListConnView)!));
                    return 0;
                }
                case "initiate":
                {
                    string child = cl.Get("child") ?? throw new CliException("initiate needs --child NAME");
                    return await Outcome(http, "initiate", $"admin/initiate?child={Uri.EscapeDataString(child)}&timeout={wait}");
                }
                case "rekey":
                    return await Outcome(http, "rekey", $"admin/rekey?{RekeyQuery(cl)}&timeout={wait}");
                case "stats":
                    return await Stats(http, cl.Has("json"));
                default:
                    return await Outcome(http, "terminate", $"admin/terminate?{TerminateQuery(cl)}&timeout={wait}");
            }
        }
        catch (HttpRequestException ex)
        {
            throw new CliException($"cannot reach the gateway at {http.BaseAddress}: {ex.Message}");
        }
    }

    private static async Task<int> Reload(HttpClient http)
    {
        using var response = await http.PostAsync("admin/reload", null);
        string body = await response.Content.ReadAsStringAsync();
        var result = response.Content.Headers.ContentType?.MediaType == "application/json"
            ? JsonSerializer.Deserialize(body, AdminJson.Default.ReloadResult)
            : null;
        Console.WriteLine(result?.Message ?? $"{(int)response.StatusCode} {response.ReasonPhrase}");
        return result is { Ok: true } ? 0 : 1;
    }

    /// <summary>The one selector of terminate as a query; a malformed value is refused here already (the endpoint checks again).</summary>
    public static string TerminateQuery(CommandLine cl)
    {
        var given = new[] { "ike", "child", "user", "ike-id", "vip" }.Where(o => cl.Get(o) is not null).ToList();
        if (given.Count != 1) throw new CliException("terminate needs exactly one of --ike CONNECTION, --child NAME, --user ID, --ike-id N, --vip ADDR");
        string option = given[0], value = cl.Get(option)!;
        switch (option)
        {
            case "ike-id":
                return $"ike_id={UniqueId(value)}";
            case "vip":
                if (!System.Net.IPAddress.TryParse(value, out var vip)) throw new CliException($"--vip: '{value}' is not an IP address");
                return $"vip={Uri.EscapeDataString(vip.ToString())}";
            case "user":
                return $"user={Uri.EscapeDataString(User(value))}";
            default:
                return $"{option}={Uri.EscapeDataString(value)}";
        }
    }

    /// <summary>--ike-id: the #N of sas, refused here already when it is not one.</summary>
    private static long UniqueId(string value) => AdminApi.UniqueIdError(value, out long id) is null
        ? id
        : throw new CliException($"--ike-id: '{value}' is not a unique id (a positive number, the #N of sas)");

    private static string User(string user) => user.Length is > 0 and <= AdminApi.MaxArgumentLength && !user.Any(char.IsControl)
        ? user
        : throw new CliException($"--user: not a valid identity (1 to {AdminApi.MaxArgumentLength} printable characters)");

    private static int Failed(HttpResponseMessage response, string body)
    {
        var result = response.Content.Headers.ContentType?.MediaType == "application/json" ? TryResult(body) : null;
        Console.Error.WriteLine($"Concentrator: {result?.Message ?? $"{(int)response.StatusCode} {response.ReasonPhrase}"}");
        return 1;
    }

    private static AdminResult? TryResult(string body)
    {
        try
        {
            return JsonSerializer.Deserialize(body, AdminJson.Default.AdminResult);
        }
        catch (JsonException)
        {
            return null;
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
            sb.AppendLine($"{sa.Connection}: #{sa.UniqueId}, {sa.State.ToUpperInvariant()}, IKEv2, {sa.Spi}, {sa.Role}");
            if (sa.LocalId.Length > 0) sb.AppendLine($"  local  [{sa.LocalId}]");
            // As swanctl --list-sas: the EAP identity after the IKE identity (the user, when there is one).
            sb.AppendLine($"  remote {sa.Remote} [{sa.RemoteId}]{(sa.EapId is { } eap ? $" EAP: '{eap}'" : "")}");
            if (sa.VirtualIps is { Count: > 0 } vips) sb.AppendLine($"  {(sa.Role == "initiator" ? "local" : "remote")} virtual IP {string.Join(' ', vips)}");
            sb.AppendLine($"  {sa.Proposal}");
            if (sa.RemoteCertificate is { } certificate) sb.AppendLine($"  remote certificate {certificate}");
            if (sa.EstablishedSeconds is { } established)
                sb.AppendLine($"  established {established}s ago{In("rekeying", sa.RekeySeconds)}{In("reauth", sa.ReauthSeconds)}{In("expires", sa.ExpiresSeconds)}");
            foreach (var c in sa.Children)
            {
                sb.AppendLine($"  {c.Name}: {c.State}, {c.Mode.ToUpperInvariant()}{(c.Encap ? "-in-UDP" : "")}, ESP:{c.Suite}");
                sb.AppendLine($"    installed {c.InstalledSeconds}s ago{In("rekeying", c.RekeySeconds)}{In("expires", c.ExpiresSeconds)}");
                sb.AppendLine($"    in  {c.InboundSpi}, {c.BytesIn} bytes, {c.PacketsIn} packets");
                sb.AppendLine($"    out {c.OutboundSpi}, {c.BytesOut} bytes, {c.PacketsOut} packets");
                sb.AppendLine($"    local  {string.Join(' ', c.LocalTs)}");
                sb.AppendLine($"    remote {string.Join(' ', c.RemoteTs)}");
                if (c.IfIdIn != 0 || c.IfIdOut != 0) sb.AppendLine($"    if_id in {c.IfIdIn}, out {c.IfIdOut}");
            }
        }
        return sb.ToString();
    }

    /// <summary>swanctl's ", rekeying in 3540s"; nothing when no such timer runs.</summary>
    private static string In(string what, long? seconds) => seconds is { } s ? $", {what} in {s}s" : "";

    /// <summary>swanctl --list-conns style text.</summary>
    public static string RenderConns(IReadOnlyList<ConnView> conns)
    {
        var sb = new StringBuilder();
        if (conns.Count == 0) sb.AppendLine("no connections");
        foreach (var c in conns)
        {
            sb.AppendLine($"{c.Name}: IKEv2, unique {c.Unique}, childless {c.Childless}");
            sb.AppendLine($"  local:  {string.Join(' ', c.LocalAddrs)}");
            sb.AppendLine($"  remote: {string.Join(' ', c.RemoteAddrs)}");
            if (c.Proposals.Count > 0) sb.AppendLine($"  proposals: {string.Join(", ", c.Proposals)}");
            if (c.Pools.Count > 0) sb.AppendLine($"  pools: {string.Join(", ", c.Pools)}");
            Rounds(sb, "local", c.Local);
            Rounds(sb, "remote", c.Remote);
            foreach (var ch in c.Children)
            {
                sb.AppendLine($"  {ch.Name}: {ch.Mode.ToUpperInvariant()}");
                if (ch.EspProposals.Count > 0) sb.AppendLine($"    esp_proposals: {string.Join(", ", ch.EspProposals)}");
                sb.AppendLine($"    local:  {string.Join(' ', ch.LocalTs)}");
                sb.AppendLine($"    remote: {string.Join(' ', ch.RemoteTs)}");
                if (ch.Updown is { } updown) sb.AppendLine($"    updown: {updown}");
                if (ch.IfIdIn != 0 || ch.IfIdOut != 0) sb.AppendLine($"    if_id_in: {ch.IfIdIn}, if_id_out: {ch.IfIdOut}");
            }
        }
        return sb.ToString();
    }

    private static void Rounds(StringBuilder sb, string side, IReadOnlyList<AuthView> rounds)
    {
        for (int i = 0; i < rounds.Count; i++)
        {
            var r = rounds[i];
            sb.AppendLine($"  {side} {r.Auth} authentication:");
            sb.AppendLine($"    id: {r.Id}");
            foreach (var cert in r.Certs) sb.AppendLine($"    certs: {cert}");
            foreach (var ca in r.CaCerts) sb.AppendLine($"    cacerts: {ca}");
        }
    }
}
