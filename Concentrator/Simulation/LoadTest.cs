using System.Net;
using Concentrator.Telemetry;

namespace Concentrator.Simulation;

/// <summary>How a fleet is run against a responder: a warm-up, then measured rounds.</summary>
public sealed record LoadTestOptions
{
    public int Peers { get; init; } = 100;
    public int? Rate { get; init; }

    /// <summary>At most this many peers started and not yet up or failed (null: all at once).</summary>
    public int? Window { get; init; }

    /// <summary>Per round, from the first initiation to the last outcome.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(120);

    public int Rounds { get; init; } = 1;

    /// <summary>Peers established and deleted before the first round, so JIT and crypto set-up are not measured.</summary>
    public int Warmup { get; init; } = 10;

    /// <summary>Leave the last round's SAs up (the caller measures them, then disposes the fleet).</summary>
    public bool Keep { get; init; }
}

/// <summary>
/// One measured round. Failures are keyed by <see cref="CloseReason"/> name, plus
/// <see cref="LoadTest.PendingReason"/> for peers still negotiating when the timeout passed. Retransmits counts every
/// IKE retransmission of this process during the round (the initiator's, when no responder shares the process).
/// With virtual IPs: <see cref="VirtualIps"/> peers got one, <see cref="DistinctVirtualIps"/> distinct addresses among
/// them, and <see cref="SameVirtualIps"/> peers got the address they had in the round before (the same identities
/// reconnect each round; the first round compares with the warm-up).
/// </summary>
public sealed record LoadRound(int Requested, int Established, int Failed, IReadOnlyDictionary<string, int> Failures,
    double ElapsedSeconds, double SetupsPerSecond, double P50Ms, double P99Ms, double MaxMs, long Retransmits)
{
    public int VirtualIps { get; init; }
    public int DistinctVirtualIps { get; init; }
    public int SameVirtualIps { get; init; }

    /// <summary>Wall clock at the first initiation and at the last outcome (another process reads a responder's CPU over this window).</summary>
    public DateTimeOffset StartedAt { get; init; }
    public DateTimeOffset EndedAt { get; init; }
}

/// <summary>
/// The one way of running a <see cref="PeerFleet"/> against a responder: used by <c>Concentrator loadtest</c> and the
/// benchmark suites (handshake, scale).
/// </summary>
public static class LoadTest
{
    public const string PendingReason = "PendingAtTimeout";

    /// <summary>Pause after deleting a round's SAs, so the responder has finished its Deletes before the next round.</summary>
    private static readonly TimeSpan SettleAfterDelete = TimeSpan.FromMilliseconds(300);

    public static async Task<IReadOnlyList<LoadRound>> RunAsync(PeerFleet fleet, IPEndPoint target, LoadTestOptions o,
        Action<int, int, int>? progress = null, Action<string>? log = null)
    {
        IReadOnlyDictionary<int, System.Net.IPAddress> previous = new Dictionary<int, System.Net.IPAddress>();
        if (o.Warmup > 0)
        {
            previous = (await fleet.EstablishAsync(target, Math.Min(o.Warmup, o.Peers), o.Timeout, maxPending: o.Window).ConfigureAwait(false)).VirtualIps;
            await fleet.DeleteAllAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }

        var rounds = new List<LoadRound>();
        for (int i = 0; i < o.Rounds; i++)
        {
            if (o.Warmup > 0 || i > 0) await Task.Delay(SettleAfterDelete).ConfigureAwait(false);
            long retransmitsBefore = IkeStats.Retransmits;
            var startedAt = DateTimeOffset.UtcNow;
            var r = await fleet.EstablishAsync(target, o.Peers, o.Timeout, o.Rate, progress, o.Window).ConfigureAwait(false);
            var endedAt = DateTimeOffset.UtcNow;
            var failures = r.Failures.ToDictionary(f => f.Key.ToString(), f => f.Value);
            if (r.Pending > 0) failures[PendingReason] = r.Pending;
            var round = new LoadRound(r.Requested, r.Established, r.Requested - r.Established, failures, r.Elapsed.TotalSeconds,
                r.HandshakesPerSecond, r.Percentile(50), r.Percentile(99), r.MaxMilliseconds, IkeStats.Retransmits - retransmitsBefore)
            {
                VirtualIps = r.VirtualIps.Count,
                DistinctVirtualIps = r.VirtualIps.Values.Distinct().Count(),
                SameVirtualIps = r.VirtualIps.Count(v => previous.TryGetValue(v.Key, out var before) && before.Equals(v.Value)),
                StartedAt = startedAt,
                EndedAt = endedAt,
            };
            previous = r.VirtualIps;
            log?.Invoke($"round {i + 1}: {round.Established}/{round.Requested} up, {round.SetupsPerSecond:F0}/s, p50 {round.P50Ms:F1} ms, " +
                        $"p99 {round.P99Ms:F1} ms, max {round.MaxMs:F1} ms, {round.Retransmits} retransmits" +
                        (round.VirtualIps > 0 ? $", {round.DistinctVirtualIps} distinct virtual IPs, {round.SameVirtualIps} kept their address " : " ") +
                        FormatFailures(round.Failures));
            rounds.Add(round);
            if (i < o.Rounds - 1 || !o.Keep)
            {
                int left = await fleet.DeleteAllAsync(TimeSpan.FromSeconds(Math.Max(15, o.Peers / 500))).ConfigureAwait(false);
                if (left > 0) log?.Invoke($"{left} SAs left after delete");
            }
        }
        return rounds;
    }

    public static string FormatFailures(IReadOnlyDictionary<string, int> failures) =>
        string.Join(", ", failures.OrderByDescending(f => f.Value).Select(f => $"{f.Key}: {f.Value}"));
}
