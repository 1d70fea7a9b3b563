using System.Diagnostics;

namespace Concentrator.Benchmarks;

/// <summary>
/// Samples the CPU time (utime + stime, /proc/PID/stat) of named processes every <see cref="Interval"/> with wall-clock
/// stamps, so the CPU a process spent in a window known only afterwards (a round another process timed and reported) can
/// be read back: the value at a moment is interpolated between the two samples around it. Processes are resolved
/// lazily (a generator that starts later) and again once one has exited (samples of one name may come from successive
/// processes), so a window must lie within one process's life.
/// </summary>
public sealed class CpuSampler : IAsyncDisposable
{
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(20);

    private readonly Dictionary<string, Func<int?>> _resolve = new();
    private readonly Dictionary<string, int?> _pids = new();
    private readonly Dictionary<string, List<(DateTimeOffset At, double Cpu)>> _samples = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly Lock _gate = new();

    public CpuSampler(IReadOnlyDictionary<string, Func<int?>> processes)
    {
        foreach (var (name, resolve) in processes)
        {
            _resolve[name] = resolve;
            _pids[name] = null;
            _samples[name] = new();
        }
        _loop = Task.Run(LoopAsync);
    }

    private async Task LoopAsync()
    {
        var lastResolve = Stopwatch.StartNew();
        while (!_stop.IsCancellationRequested)
        {
            Sample(resolveMissing: lastResolve.Elapsed > TimeSpan.FromMilliseconds(200));
            if (lastResolve.Elapsed > TimeSpan.FromMilliseconds(200)) lastResolve.Restart();
            try
            {
                await Task.Delay(Interval, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Takes one sample now (callers stamp the edges of windows they time themselves).</summary>
    public void Sample(bool resolveMissing = true)
    {
        foreach (var name in _resolve.Keys)
        {
            // Resolving may run a command (ip netns pids): only every 200 ms until found.
            if (_pids[name] is null && resolveMissing) _pids[name] = _resolve[name]();
            if (_pids[name] is not int pid) continue;
            var now = DateTimeOffset.UtcNow;
            double cpu = Profiling.CpuSeconds(pid);
            if (double.IsNaN(cpu))
            {
                // Gone: the next process of that name (the fleet's next run) is resolved afresh.
                _pids[name] = null;
                continue;
            }
            lock (_gate) _samples[name].Add((now, cpu));
        }
    }

    /// <summary>CPU seconds <paramref name="name"/> spent from <paramref name="from"/> to <paramref name="to"/>; NaN without samples around both.</summary>
    public double CpuSeconds(string name, DateTimeOffset from, DateTimeOffset to)
    {
        lock (_gate)
        {
            var s = _samples[name];
            return At(s, to) - At(s, from);
        }
    }

    private static double At(List<(DateTimeOffset At, double Cpu)> s, DateTimeOffset t)
    {
        int i = s.FindIndex(x => x.At >= t);
        if (i <= 0) return double.NaN;
        var (a, b) = (s[i - 1], s[i]);
        double span = (b.At - a.At).TotalSeconds;
        return span <= 0 ? b.Cpu : a.Cpu + (b.Cpu - a.Cpu) * (t - a.At).TotalSeconds / span;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }
}
