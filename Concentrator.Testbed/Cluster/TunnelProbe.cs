using System.Globalization;
using System.Text.RegularExpressions;
using Concentrator.Testbed.Interop;

namespace Concentrator.Testbed.Cluster;

/// <summary>
/// Continuous ICMP echo through one tunnel: <c>ping -D -i INTERVAL</c> from the tunnel's inner address to the service address
/// every node owns, its replies (sequence number, receive time) parsed from a line-buffered log. Bounded by ping's own deadline
/// and stopped with the namespace. A probe can be stopped and started again; each run is kept.
/// </summary>
public sealed partial class TunnelProbe
{
    private readonly Netns _ns;
    private readonly string _dir;
    private readonly List<BackgroundProcess> _runs = new();
    private BackgroundProcess? _current;

    public TunnelProbe(string name, Netns ns, string source, string target, string dir, TimeSpan interval)
    {
        Name = name;
        _ns = ns;
        Source = source;
        Target = target;
        _dir = dir;
        Interval = interval;
    }

    public string Name { get; }
    public string Source { get; }
    public string Target { get; }
    public TimeSpan Interval { get; }

    /// <summary>A reply: ICMP sequence number and the time it arrived (Unix seconds, ping's -D stamp).</summary>
    public readonly record struct Reply(int Seq, double At);

    /// <summary>One echo request: when it was sent (estimated, Unix seconds) and when its reply came, if it did.</summary>
    public readonly record struct Probe(int Seq, double SentAt, double? RepliedAt);

    public void Start(TimeSpan deadline)
    {
        if (_current is not null) throw new InvalidOperationException($"probe {Name} already running");
        string file = Path.Combine(_dir, $"ping-{Name}-{_runs.Count + 1}");
        _current = _ns.Start(
            ["stdbuf", "-oL", "ping", "-D", "-O", "-n", "-i", Interval.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture),
             "-w", ((int)deadline.TotalSeconds).ToString(CultureInfo.InvariantCulture), "-W", "1", "-I", Source, Target],
            file + ".txt", file + ".stderr", termGrace: TimeSpan.FromSeconds(2));
        _runs.Add(_current);
    }

    public async Task StopAsync()
    {
        if (_current is null) return;
        var p = _current;
        _current = null;
        await _ns.StopAsync(p).ConfigureAwait(false);
    }

    /// <summary>Replies of one run (the last when <paramref name="run"/> is -1), in sequence order.</summary>
    public IReadOnlyList<Reply> Replies(int run = -1) =>
        Probes(run).Where(p => p.RepliedAt is not null).Select(p => new Reply(p.Seq, p.RepliedAt!.Value)).ToList();

    public int Runs => _runs.Count;

    /// <summary>
    /// Every request of one run (the last when <paramref name="run"/> is -1). With -O ping reports "no answer yet for icmp_seq=N"
    /// when it sends N+1 before N's reply came (a late reply still counts), so every request but the last leaves a line: a request
    /// was sent one interval before its "no answer yet" line, or else within one interval before its reply (taken as the earliest).
    /// </summary>
    public IReadOnlyList<Probe> Probes(int run = -1)
    {
        if (_runs.Count == 0) return [];
        return Parse(_runs[run < 0 ? _runs.Count + run : run].ReadStdout(), Interval);
    }

    /// <summary>The requests of one run of <c>ping -D -O</c> from its output.</summary>
    public static IReadOnlyList<Probe> Parse(string text, TimeSpan interval)
    {
        var sent = new Dictionary<int, double>();
        var replied = new Dictionary<int, double>();
        foreach (Match m in ReplyPattern().Matches(text))
        {
            int seq = int.Parse(m.Groups["seq"].Value, CultureInfo.InvariantCulture);
            double at = double.Parse(m.Groups["at"].Value, CultureInfo.InvariantCulture);
            replied.TryAdd(seq, at);
            // Without a "no answer yet" line the reply came within one interval of the request.
            double from = at - interval.TotalSeconds;
            sent[seq] = sent.TryGetValue(seq, out var s) ? Math.Min(s, from) : from;
        }
        foreach (Match m in NoAnswerPattern().Matches(text))
        {
            int seq = int.Parse(m.Groups["seq"].Value, CultureInfo.InvariantCulture);
            double at = double.Parse(m.Groups["at"].Value, CultureInfo.InvariantCulture) - interval.TotalSeconds;
            sent[seq] = sent.TryGetValue(seq, out var s) ? Math.Min(s, at) : at;
        }
        return sent.OrderBy(kv => kv.Key)
            .Select(kv => new Probe(kv.Key, kv.Value, replied.TryGetValue(kv.Key, out var r) ? r : null)).ToList();
    }

    /// <summary>Requests sent within [from, to] (Unix seconds).</summary>
    public static int SentBetween(IReadOnlyList<Probe> probes, double from, double to) =>
        probes.Count(p => p.SentAt >= from && p.SentAt <= to);

    /// <summary>Requests sent within [from, to] (Unix seconds) that were never answered.</summary>
    public static int LostBetween(IReadOnlyList<Probe> probes, double from, double to) =>
        probes.Count(p => p.SentAt >= from && p.SentAt <= to && p.RepliedAt is null);

    /// <summary>
    /// The interruption of a tunnel whose node died at <paramref name="deadAt"/> (Unix seconds): from the last reply before the
    /// first answered request sent after that moment to that answer, or any longer gap between replies up to
    /// <paramref name="until"/>. Replies to requests sent before the death do not end it. Null when no request sent after it was answered.
    /// </summary>
    public static double? InterruptionAfter(IReadOnlyList<Probe> probes, double deadAt, double until)
    {
        double? back = null;
        foreach (var p in probes)
        {
            if (p.SentAt > deadAt && p.RepliedAt is { } r && (back is null || r < back)) back = r;
        }
        if (back is not { } first) return null;
        var replies = probes.Where(p => p.RepliedAt is not null).Select(p => p.RepliedAt!.Value).Order().ToList();
        double lastBefore = deadAt;
        foreach (var r in replies)
        {
            if (r < first) lastBefore = r;
        }
        double worst = first - lastBefore;
        for (int i = 1; i < replies.Count; i++)
        {
            if (replies[i - 1] >= first && replies[i] <= until) worst = Math.Max(worst, replies[i] - replies[i - 1]);
        }
        return worst;
    }

    /// <summary>The longest interval between consecutive replies.</summary>
    public static double LongestGap(IReadOnlyList<Reply> replies)
    {
        double worst = 0;
        for (int i = 1; i < replies.Count; i++) worst = Math.Max(worst, replies[i].At - replies[i - 1].At);
        return worst;
    }

    // "[1764240000.123456] 64 bytes from 10.96.0.1: icmp_seq=5 ttl=64 time=0.321 ms"
    [GeneratedRegex(@"^\[(?<at>\d+\.\d+)\] \d+ bytes from [0-9.]+: icmp_seq=(?<seq>\d+)", RegexOptions.Multiline)]
    private static partial Regex ReplyPattern();

    // "[1764240000.123456] no answer yet for icmp_seq=6"
    [GeneratedRegex(@"^\[(?<at>\d+\.\d+)\] no answer yet for icmp_seq=(?<seq>\d+)", RegexOptions.Multiline)]
    private static partial Regex NoAnswerPattern();
}
