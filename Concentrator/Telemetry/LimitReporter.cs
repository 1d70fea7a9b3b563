using Concentrator.Ipsec;
using Prometheus;

namespace Concentrator.Telemetry;

/// <summary>
/// The one way a hit resource bound is reported: counted in <c>concentrator_limit_hits_total{limit}</c>
/// (label = the config key, a closed set) and logged at most once per <see cref="Interval"/> per bound,
/// with the number of hits since the previous line, so a flood costs one log line per interval.
/// Thread-safe and lock-free (the data plane's trap path calls it).
/// </summary>
public sealed class LimitReporter
{
    public static readonly string[] Keys =
        ["max_packet", "max_payloads", "ikesa_limit", "ikesa_limit_per_peer", "child_sa_limit", "acquire_queue", "admin_rate", "fragment_memory"];

    private readonly Counter.Child[] _hits;
    private readonly long[] _lastLogged = new long[Keys.Length];
    private readonly long[] _unreported = new long[Keys.Length];
    private volatile ILogger? _log;

    public LimitReporter(IMetricFactory factory, TimeSpan? interval = null)
    {
        Interval = interval ?? TimeSpan.FromSeconds(10);
        var hits = factory.CreateCounter("concentrator_limit_hits_total",
            "Requests, packets or SAs refused because a configured resource bound (charon.<limit>) was reached.", ["limit"]);
        _hits = Keys.Select(k => hits.WithLabels(k)).ToArray();
    }

    public TimeSpan Interval { get; }

    /// <summary>Until a logger is attached, hits are only counted.</summary>
    public void AttachLogger(ILogger log) => _log = log;

    public double Count(ResourceLimit limit) => _hits[(int)limit].Value;

    /// <param name="bound">The configured value that was reached (for the log line).</param>
    public void Hit(ResourceLimit limit, long bound)
    {
        int i = (int)limit;
        _hits[i].Inc();
        Interlocked.Increment(ref _unreported[i]);
        if (_log is not { } log) return;
        // Environment.TickCount64 counts from boot, so 0 safely means "never logged".
        long now = Environment.TickCount64, last = Volatile.Read(ref _lastLogged[i]);
        if (last != 0 && now - last < (long)Interval.TotalMilliseconds) return;
        if (Interlocked.CompareExchange(ref _lastLogged[i], now, last) != last) return;
        long hits = Interlocked.Exchange(ref _unreported[i], 0);
        Log.LimitReached(log, Keys[i], bound, hits, Interval.TotalSeconds);
    }
}
