using System.Text;
using System.Text.Json;
using Concentrator.Hosting;

namespace Concentrator.Cli;

/// <summary>The commands that wait for their outcome (initiate, terminate, rekey) and stats, in swanctl's words.</summary>
public static partial class AdminCommands
{
    /// <summary>How long initiate, terminate and rekey wait by default. swanctl waits forever (its --timeout 0); ours is
    /// bounded: an IKE SA that cannot be reached has ended its retransmissions (strongSwan's budget) well before.</summary>
    public const int DefaultWaitSeconds = 60;

    public const string RekeyHelp = """
        Usage: Concentrator rekey (--child NAME | --ike CONNECTION | --ike-id N) [--reauth] [--timeout S]
                                  [--admin URL | --config FILE]

        Rekeys SAs on the running gateway now (swanctl --rekey) and waits until each has its successor:
          --child NAME      every installed Child SA of a child (CREATE_CHILD_SA; new SPIs on both ends)
          --ike CONNECTION  every established IKE SA of a connection
          --ike-id N        one IKE SA by its unique id (the #N that sas shows)
          --reauth          reauthenticate the IKE SAs instead (a new IKE SA with every child, make-before-break)
          --timeout S       wait at most S seconds (1-300, default 60)
        Prints "rekey completed successfully" and exits 0, or "rekey failed: REASON" and exits 1 (nothing matching,
        an SA that closed meanwhile, or the time ran out). In a cluster: the SAs this node holds.
        """;

    public const string StatsHelp = """
        Usage: Concentrator stats [--json] [--admin URL | --config FILE]

        Shows the running gateway's numbers as swanctl --stats does: version and runtime, start time and uptime,
        IKE SAs (total and half-open), installed Child SAs, data plane workers and threads, memory (managed heap
        and resident set), listen addresses, data plane and cluster members Up. This node's only.
        """;

    /// <summary>The selector of rekey as a query; a malformed value is refused here already (the endpoint checks again).</summary>
    public static string RekeyQuery(CommandLine cl)
    {
        var given = new[] { "child", "ike", "ike-id" }.Where(o => cl.Get(o) is not null).ToList();
        if (given.Count != 1) throw new CliException("rekey needs exactly one of --child NAME, --ike CONNECTION, --ike-id N");
        string option = given[0], value = cl.Get(option)!;
        if (cl.Has("reauth") && option == "child") throw new CliException("--reauth reauthenticates IKE SAs: use it with --ike or --ike-id");
        string reauth = cl.Has("reauth") ? "&reauth=yes" : "";
        if (option == "ike-id") return $"ike_id={UniqueId(value)}{reauth}";
        return $"{option}={Uri.EscapeDataString(value)}{reauth}";
    }

    /// <summary>
    /// swanctl's last line of initiate and terminate: the endpoint's account of what happened, then "COMMAND completed
    /// successfully" (stdout, exit 0) or "COMMAND failed: REASON" (stderr, exit 1; nothing matched, the SA closed, or the
    /// time ran out).
    /// </summary>
    private static async Task<int> Outcome(HttpClient http, string command, string path)
    {
        using var response = await http.PostAsync(path, null);
        string body = await response.Content.ReadAsStringAsync();
        var result = response.Content.Headers.ContentType?.MediaType == "application/json" ? TryResult(body) : null;
        if (response.IsSuccessStatusCode && result is { Ok: true })
        {
            Console.WriteLine(result.Message);
            Console.WriteLine($"{command} completed successfully");
            return 0;
        }
        Console.Error.WriteLine($"{command} failed: {result?.Message ?? $"{(int)response.StatusCode} {response.ReasonPhrase}"}");
        return 1;
    }

    private static async Task<int> Stats(HttpClient http, bool json)
    {
        using var response = await http.GetAsync("admin/stats");
        string body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode) return Failed(response, body);
        Console.Write(json ? body + "\n" : RenderStats(JsonSerializer.Deserialize(body, AdminJson.Default.StatsView)!));
        return 0;
    }

    /// <summary>swanctl --stats style text.</summary>
    public static string RenderStats(StatsView s)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"uptime: {Uptime(s.UptimeSeconds)}, since {s.StartedUtc:MMM dd HH:mm:ss yyyy} UTC");
        sb.AppendLine($"version: Concentrator {s.Version}, {s.Runtime}");
        sb.AppendLine($"worker threads: {s.Threads} total, data plane workers: {s.Workers}");
        sb.AppendLine($"IKE_SAs: {s.IkeSas} total, {s.HalfOpen} half-open");
        sb.AppendLine($"CHILD_SAs: {s.ChildSas} installed");
        sb.AppendLine($"memory: managed heap {s.ManagedHeapBytes} bytes, resident {s.RssBytes} bytes");
        sb.AppendLine($"listening: {string.Join(", ", s.ListenAddresses)}");
        sb.AppendLine($"data plane: {s.DataPlane}");
        sb.AppendLine($"cluster members up: {s.ClusterMembers}");
        return sb.ToString();
    }

    /// <summary>swanctl's "2 days, 01:02:03" (charon: "%V" of the uptime).</summary>
    private static string Uptime(long seconds)
    {
        var t = TimeSpan.FromSeconds(Math.Max(0, seconds));
        string clock = $"{t.Hours:D2}:{t.Minutes:D2}:{t.Seconds:D2}";
        return t.Days > 0 ? $"{t.Days} day{(t.Days == 1 ? "" : "s")}, {clock}" : clock;
    }
}
