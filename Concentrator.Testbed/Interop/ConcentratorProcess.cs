using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace Concentrator.Testbed.Interop;

/// <summary>One line of the concentrator's JSON console log.</summary>
public sealed record LogEvent(int EventId, string Level, string Category, string Message, string Raw);

/// <summary>
/// The built concentrator (<c>dotnet Concentrator.dll run --config FILE</c>) in a namespace, stdout/stderr
/// in files of the run's directory. Dispose sends SIGTERM (the gateway deletes its SAs with their peers,
/// bounded by --shutdown-timeout), then SIGKILL after a bound.
/// </summary>
public sealed class ConcentratorProcess : IAsyncDisposable
{
    public const int IkeSaEstablished = 1001;
    public const int IkeSaClosed = 1002;
    public const int ChildSaInstalled = 1003;
    public const int ChildSaRemoved = 1004;
    public const int ActorFailed = 2001;
    public const int InitRefused = 2002;
    public const int Listening = 4001;
    public const int HttpListening = 4004;

    private readonly Netns _ns;
    private BackgroundProcess? _process;

    private ConcentratorProcess(Netns ns, string dir)
    {
        _ns = ns;
        Dir = dir;
    }

    public string Dir { get; }
    public string ConfigPath => Path.Combine(Dir, "concentrator.yaml");
    public string StdoutPath => Path.Combine(Dir, "concentrator.stdout.jsonl");
    public string StderrPath => Path.Combine(Dir, "concentrator.stderr");

    /// <summary>Names another Concentrator.dll to run (the benchmarks' published gateway).</summary>
    public const string AssemblyVariable = "CONCENTRATOR_DLL";

    /// <summary>The Concentrator.dll next to the running tests or benchmarks (their project reference copies it to their output),
    /// unless <see cref="AssemblyVariable"/> names another.</summary>
    public static string AssemblyPath =>
        Environment.GetEnvironmentVariable(AssemblyVariable) is { Length: > 0 } path ? path : typeof(Concentrator.Hosting.Gateway).Assembly.Location;

    /// <summary>Starts the concentrator with <paramref name="yaml"/> and waits (bounded) for its Listening event.</summary>
    /// <param name="environment">Variables set for the process on top of the harness's (e.g. the benchmarks' perf map switches).</param>
    public static async Task<ConcentratorProcess> StartAsync(Netns ns, string dir, string yaml, TimeSpan? readyTimeout = null,
        string logLevel = "debug", int shutdownTimeoutSeconds = 3, IReadOnlyDictionary<string, string>? environment = null)
    {
        var c = new ConcentratorProcess(ns, dir);
        Directory.CreateDirectory(dir);
        await File.WriteAllTextAsync(c.ConfigPath, yaml).ConfigureAwait(false);
        var env = new Dictionary<string, string>
        {
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
            ["DOTNET_NOLOGO"] = "1",
            ["DOTNET_gcServer"] = "0",
        };
        if (environment is not null)
        {
            foreach (var (k, v) in environment) env[k] = v;
        }
        c._process = ns.Start(
            ["dotnet", AssemblyPath, "run", "--config", c.ConfigPath, "--log-level", logLevel,
             "--shutdown-timeout", shutdownTimeoutSeconds.ToString()],
            c.StdoutPath, c.StderrPath, env, TimeSpan.FromSeconds(shutdownTimeoutSeconds + 5));
        try
        {
            if (!await c.WaitForEventAsync(Listening, readyTimeout ?? TimeSpan.FromSeconds(20)).ConfigureAwait(false))
            {
                throw new TimeoutException("the concentrator did not log Listening (4001) in time\n" + c.Diagnostics());
            }
            // IKE is served before the HTTP endpoint starts: a test that scrapes /metrics or asks the admin API at once
            // must not race it.
            if (!await c.WaitForEventAsync(HttpListening, readyTimeout ?? TimeSpan.FromSeconds(20)).ConfigureAwait(false))
            {
                throw new TimeoutException("the concentrator did not log its HTTP endpoint (4004) in time\n" + c.Diagnostics());
            }
        }
        catch
        {
            await c.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return c;
    }

    public bool HasExited => _process?.HasExited ?? true;

    /// <summary>Every JSON log line so far; lines that are not JSON are returned with EventId -1.</summary>
    public IReadOnlyList<LogEvent> Events()
    {
        var list = new List<LogEvent>();
        foreach (var line in BackgroundProcess.ReadShared(StdoutPath).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            list.Add(ParseLine(line.Trim()));
        }
        return list;
    }

    public static LogEvent ParseLine(string line)
    {
        try
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            int id = root.TryGetProperty("EventId", out var e) && e.TryGetInt32(out var n) ? n : 0;
            return new LogEvent(id, Str(root, "LogLevel"), Str(root, "Category"), Str(root, "Message"), line);
        }
        catch (JsonException)
        {
            return new LogEvent(-1, "", "", line, line);
        }

        static string Str(JsonElement root, string name) =>
            root.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() ?? "" : "";
    }

    public IReadOnlyList<LogEvent> EventsWithId(int id) => Events().Where(e => e.EventId == id).ToList();

    /// <summary>Polls the log (bounded) until an event with <paramref name="id"/> appears; false on timeout or exit.</summary>
    public async Task<bool> WaitForEventAsync(int id, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (Events().Any(e => e.EventId == id)) return true;
            if (HasExited) return Events().Any(e => e.EventId == id);
            await Task.Delay(100).ConfigureAwait(false);
        }
        return false;
    }

    public string Diagnostics(int maxChars = 12000)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"===== concentrator ({Dir}) {(_process is { HasExited: true } ? $"exited {_process.ExitCode}" : "running")}");
        string log = BackgroundProcess.ReadShared(StdoutPath);
        sb.AppendLine(log.Length <= maxChars ? log : "...\n" + log[^maxChars..]);
        string err = BackgroundProcess.ReadShared(StderrPath);
        if (err.Length > 0) sb.AppendLine("----- stderr\n" + (err.Length <= 4000 ? err : err[^4000..]));
        return sb.ToString();
    }

    /// <summary>SIGTERM (the gateway deletes its SAs), then SIGKILL after the bound.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            var p = _process;
            _process = null;
            await _ns.StopAsync(p).ConfigureAwait(false);
        }
    }
}
