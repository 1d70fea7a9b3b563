using System.Diagnostics;
using Akka.Actor;
using Concentrator.Actors;
using Concentrator.Telemetry;

namespace Concentrator.Hosting;

/// <summary>
/// Runs children's updown scripts (swanctl updown) for the <see cref="ChildUpdown"/> events the IKE SA actors publish:
/// off every actor thread, without a shell (the path is executed with the PLUTO_* environment and nothing else of ours),
/// at most <see cref="Concurrency"/> at a time, each killed after <see cref="Timeout"/>, one child's runs in the order of
/// its events (an up finishes before its down starts), at most <see cref="MaxWaiting"/> waiting (beyond that a run is
/// dropped, counted and logged). Output (stdout and stderr) goes to the log, at most <see cref="MaxLines"/> lines per
/// <see cref="LineWindow"/>.
/// </summary>
public sealed class UpdownRunner
{
    public const int Concurrency = 4;
    public const int MaxWaiting = 1024;
    public const int MaxLines = 50;
    public static readonly TimeSpan LineWindow = TimeSpan.FromSeconds(10);

    private readonly ILogger _log;
    private readonly UserMetrics _metrics;
    private readonly SemaphoreSlim _slots = new(Concurrency);
    private readonly object _gate = new();
    private readonly Dictionary<string, Task> _tails = new();
    private int _waiting;
    private long _windowStart = Environment.TickCount64;
    private int _linesInWindow;
    private long _suppressed;

    public UpdownRunner(ILogger log, UserMetrics metrics, TimeSpan? timeout = null)
    {
        _log = log;
        _metrics = metrics;
        Timeout = timeout ?? TimeSpan.FromSeconds(30);
    }

    public TimeSpan Timeout { get; }

    /// <summary>Subscribes a listener to the actor system's <see cref="ChildUpdown"/> events.</summary>
    public void Attach(ActorSystem system)
    {
        var listener = system.ActorOf(Props.Create(() => new Listener(this)), "updown");
        system.EventStream.Subscribe(listener, typeof(ChildUpdown));
    }

    /// <summary>Queues the runs of one event behind the earlier ones of the same child.</summary>
    public void Enqueue(ChildUpdown e)
    {
        lock (_gate)
        {
            if (_waiting >= MaxWaiting)
            {
                _metrics.CountUpdown(e.Up, UpdownOutcome.Dropped);
                Log.UpdownDropped(_log, MaxWaiting, Verb(e), e.Connection, e.Child);
                return;
            }
            _waiting++;
            var previous = _tails.GetValueOrDefault(e.Key) ?? Task.CompletedTask;
            Task next = null!;
            next = previous.ContinueWith(_ => RunAllAsync(e), TaskScheduler.Default).Unwrap().ContinueWith(_ =>
            {
                lock (_gate)
                {
                    _waiting--;
                    if (_tails.TryGetValue(e.Key, out var tail) && tail == next) _tails.Remove(e.Key);
                }
            }, TaskScheduler.Default);
            _tails[e.Key] = next;
        }
    }

    /// <summary>Waits until every queued run finished, at most <paramref name="bound"/> (shutdown, tests).</summary>
    public async Task DrainAsync(TimeSpan bound)
    {
        Task[] tails;
        lock (_gate) tails = _tails.Values.ToArray();
        await Task.WhenAny(Task.WhenAll(tails), Task.Delay(bound)).ConfigureAwait(false);
    }

    private async Task RunAllAsync(ChildUpdown e)
    {
        foreach (var env in e.Invocations) await RunOnceAsync(e, env).ConfigureAwait(false);
    }

    private async Task RunOnceAsync(ChildUpdown e, IReadOnlyList<KeyValuePair<string, string>> env)
    {
        await _slots.WaitAsync().ConfigureAwait(false);
        string verb = env.FirstOrDefault(kv => kv.Key == "PLUTO_VERB").Value ?? Verb(e);
        try
        {
            var start = new ProcessStartInfo(e.Script)
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = true,
                WorkingDirectory = "/",
            };
            // Only strongSwan's variables (and PATH): nothing of this process's own environment reaches the script.
            start.Environment.Clear();
            foreach (var (key, value) in env) start.Environment[key] = value;

            var watch = Stopwatch.StartNew();
            using var process = new Process { StartInfo = start };
            try
            {
                process.Start();
            }
            catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException or IOException)
            {
                _metrics.CountUpdown(e.Up, UpdownOutcome.StartFailed);
                Log.UpdownFailed(_log, e.Script, verb, e.Connection, e.Child, "could not be started", ": " + ex.Message);
                return;
            }
            process.StandardInput.Close();
            var stdout = PumpAsync(process.StandardOutput, e.Script, verb);
            var stderr = PumpAsync(process.StandardError, e.Script, verb);
            using var timeout = new CancellationTokenSource(Timeout);
            try
            {
                await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                try
                {
                    process.Kill(entireProcessTree: true);
                }
                catch (InvalidOperationException)
                {
                    // exited meanwhile
                }
                await process.WaitForExitAsync().ConfigureAwait(false);
                await OutputEndedAsync(stdout, stderr).ConfigureAwait(false);
                _metrics.CountUpdown(e.Up, UpdownOutcome.Timeout, watch.Elapsed);
                Log.UpdownFailed(_log, e.Script, verb, e.Connection, e.Child, "killed", $" after {Timeout.TotalSeconds:F0} s");
                return;
            }
            await OutputEndedAsync(stdout, stderr).ConfigureAwait(false);
            if (process.ExitCode == 0)
            {
                _metrics.CountUpdown(e.Up, UpdownOutcome.Ok, watch.Elapsed);
            }
            else
            {
                _metrics.CountUpdown(e.Up, UpdownOutcome.Failed, watch.Elapsed);
                Log.UpdownFailed(_log, e.Script, verb, e.Connection, e.Child, "failed", $" with exit status {process.ExitCode}");
            }
        }
        finally
        {
            _slots.Release();
        }
    }

    /// <summary>After the script exited, its output for at most <see cref="OutputGrace"/>: a child it left in the background
    /// (<c>cmd &amp;</c>, common in updown scripts) holds the pipes open, and must not keep the run's slot.</summary>
    public static readonly TimeSpan OutputGrace = TimeSpan.FromSeconds(2);

    private static async Task OutputEndedAsync(Task stdout, Task stderr)
    {
        try
        {
            await Task.WhenAll(stdout, stderr).WaitAsync(OutputGrace).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The pumps go on until the background child closes the pipes, without a slot.
        }
    }

    private async Task PumpAsync(StreamReader reader, string script, string verb)
    {
        try
        {
            while (await reader.ReadLineAsync().ConfigureAwait(false) is { } line)
            {
                if (TakeLine(out long suppressed))
                {
                    if (suppressed > 0) Log.UpdownOutputSuppressed(_log, script, suppressed, MaxLines, LineWindow.TotalSeconds);
                    Log.UpdownOutput(_log, script, verb, line.Length > 512 ? line[..512] : line);
                }
            }
        }
        catch (Exception e) when (e is ObjectDisposedException or IOException)
        {
            // The process was disposed while a background child still held the pipe.
        }
    }

    /// <summary>Whether one more output line may be logged in this window; the lines suppressed before it when a new window starts.</summary>
    private bool TakeLine(out long suppressed)
    {
        lock (_gate)
        {
            suppressed = 0;
            long now = Environment.TickCount64;
            if (now - _windowStart >= LineWindow.TotalMilliseconds)
            {
                _windowStart = now;
                _linesInWindow = 0;
                suppressed = _suppressed;
                _suppressed = 0;
            }
            if (_linesInWindow >= MaxLines)
            {
                _suppressed++;
                return false;
            }
            _linesInWindow++;
            return true;
        }
    }

    private static string Verb(ChildUpdown e) => e.Up ? "up" : "down";

    private sealed class Listener : ReceiveActor
    {
        public Listener(UpdownRunner runner) => Receive<ChildUpdown>(runner.Enqueue);
    }
}
