using System.Globalization;
using System.Text.RegularExpressions;
using Concentrator.Tests.Interop;

namespace Concentrator.Tests.Cluster;

/// <summary>
/// Continuous ICMP echo through one tunnel: <c>ping -D -i INTERVAL</c> from the tunnel's inner address to the service address
/// every node owns, its replies (sequence number, receive time) parsed from a line-buffered log. Bounded by ping's own deadline
/// and stopped with the namespace. A probe can be stopped and started again; each run is kept.
/// </summary>
internal sealed partial class TunnelProbe
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

    /// <summary>Replies of one run (the last when <paramref name="run"/> is -1), in sequence order, duplicates dropped.</summary>
    public IReadOnlyList<Reply> Replies(int run = -1)
    {
        if (_runs.Count == 0) return [];
        var p = _runs[run < 0 ? _runs.Count + run : run];
        var seen = new Dictionary<int, double>();
        foreach (Match m in ReplyPattern().Matches(p.ReadStdout()))
        {
            int seq = int.Parse(m.Groups["seq"].Value, CultureInfo.InvariantCulture);
            double at = double.Parse(m.Groups["at"].Value, CultureInfo.InvariantCulture);
            seen.TryAdd(seq, at);
        }
        return seen.OrderBy(kv => kv.Key).Select(kv => new Reply(kv.Key, kv.Value)).ToList();
    }

    public int Runs => _runs.Count;

    /// <summary>
    /// Every request of one run (the last when <paramref name="run"/> is -1). With -O ping reports "no answer yet for icmp_seq=N"
    /// when it sends N+1 before N's reply came (a late reply still counts), so every request but the last leaves a line: a request
    /// was sent one interval before its "no answer yet" line, or at the latest when its reply arrived.
    /// </summary>
    public IReadOnlyList<Probe> Probes(int run = -1)
    {
        if (_runs.Count == 0) return [];
        var p = _runs[run < 0 ? _runs.Count + run : run];
        var sent = new Dictionary<int, double>();
        var replied = new Dictionary<int, double>();
        string text = p.ReadStdout();
        foreach (Match m in ReplyPattern().Matches(text))
        {
            int seq = int.Parse(m.Groups["seq"].Value, CultureInfo.InvariantCulture);
            double at = double.Parse(m.Groups["at"].Value, CultureInfo.InvariantCulture);
            replied.TryAdd(seq, at);
            sent[seq] = sent.TryGetValue(seq, out var s) ? Math.Min(s, at) : at;
        }
        foreach (Match m in NoAnswerPattern().Matches(text))
        {
            int seq = int.Parse(m.Groups["seq"].Value, CultureInfo.InvariantCulture);
            double at = double.Parse(m.Groups["at"].Value, CultureInfo.InvariantCulture) - Interval.TotalSeconds;
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

    /// <summary>The longest time without a reply around <paramref name="at"/> (Unix seconds): from the last reply at or before it
    /// to the first after it, widened to any longer gap that ends within <paramref name="window"/> after it. Null when no reply
    /// came after <paramref name="at"/> at all.</summary>
    public static double? InterruptionAround(IReadOnlyList<Reply> replies, double at, double window)
    {
        double? worst = null;
        for (int i = 1; i < replies.Count; i++)
        {
            if (replies[i].At <= at || replies[i - 1].At > at + window) continue;
            double gap = replies[i].At - replies[i - 1].At;
            if (worst is null || gap > worst) worst = gap;
        }
        if (worst is null && replies.Count > 0 && replies[0].At > at) worst = replies[0].At - at;
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
