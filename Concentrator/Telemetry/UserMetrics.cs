using Prometheus;

namespace Concentrator.Telemetry;

/// <summary>What a unique policy did to a duplicate IKE SA (or to the new login), a label of
/// <c>concentrator_ike_unique_duplicates_total</c>.</summary>
public enum UniqueOutcome
{
    /// <summary>The peer's INITIAL_CONTACT: the duplicate closed without a Delete (RFC 7296 §2.4).</summary>
    InitialContact = 0,
    /// <summary>replace (or keep, for duplicates past the first): the duplicate deleted with its peer.</summary>
    Deleted,
    /// <summary>replace, the new login from the duplicate's own address (a suspected reauthentication): deleted 10 s later.</summary>
    DeletedAfterReauth,
    /// <summary>keep: the new login refused (AUTHENTICATION_FAILED), the duplicate kept.</summary>
    Refused,
}

/// <summary>How an updown script run ended, a label of <c>concentrator_updown_runs_total</c>.</summary>
public enum UpdownOutcome
{
    /// <summary>Exit status 0.</summary>
    Ok = 0,
    /// <summary>A non-zero exit status.</summary>
    Failed,
    /// <summary>Still running at the timeout: killed.</summary>
    Timeout,
    /// <summary>Could not be started (removed or made non-executable after the config was loaded).</summary>
    StartFailed,
    /// <summary>More runs waiting than the queue bound: not run.</summary>
    Dropped,
}

/// <summary>
/// The families of running many users: unique policies and updown scripts. Labels are closed sets (policy names,
/// outcomes, up/down), never a user, peer or SPI.
/// </summary>
public sealed class UserMetrics
{
    /// <summary>Label values of the policy label: the unique policies that act on duplicates.</summary>
    public static readonly string[] Policies = ["no", "keep", "replace"];

    /// <summary>Label values indexed by <see cref="UniqueOutcome"/>.</summary>
    public static readonly string[] UniqueOutcomes = ["initial_contact", "deleted", "deleted_after_reauth", "refused"];

    /// <summary>Label values indexed by <see cref="UpdownOutcome"/>.</summary>
    public static readonly string[] UpdownOutcomes = ["ok", "failed", "timeout", "start_failed", "dropped"];

    private readonly Counter.Child[,] _unique;
    private readonly Counter.Child[,] _updown;
    private readonly Histogram _updownSeconds;

    public UserMetrics(IMetricFactory f)
    {
        var unique = f.CreateCounter("concentrator_ike_unique_duplicates_total",
            "Duplicate IKE SAs of a user (same local identity and user) acted on by the connection's unique policy (or the peer's " +
            "INITIAL_CONTACT), and new logins unique keep refused, by policy and outcome.", ["policy", "outcome"]);
        _unique = new Counter.Child[Policies.Length, UniqueOutcomes.Length];
        for (int p = 0; p < Policies.Length; p++)
        {
            for (int o = 0; o < UniqueOutcomes.Length; o++) _unique[p, o] = unique.WithLabels(Policies[p], UniqueOutcomes[o]);
        }
        var updown = f.CreateCounter("concentrator_updown_runs_total", "updown script runs on Child SA up and down, by event and outcome.",
            ["event", "outcome"]);
        _updown = new Counter.Child[2, UpdownOutcomes.Length];
        for (int e = 0; e < 2; e++)
        {
            for (int o = 0; o < UpdownOutcomes.Length; o++) _updown[e, o] = updown.WithLabels(e == 0 ? "up" : "down", UpdownOutcomes[o]);
        }
        _updownSeconds = f.CreateHistogram("concentrator_updown_run_seconds", "Duration of updown script runs that were started.",
            new HistogramConfiguration { Buckets = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30] });
    }

    /// <param name="policy">The connection's unique policy by name; "never" counts nothing (it acts on no duplicate).</param>
    public void CountUnique(string policy, UniqueOutcome outcome)
    {
        int p = Array.IndexOf(Policies, policy);
        if (p >= 0) _unique[p, (int)outcome].Inc();
    }

    public double UniqueCount(string policy, UniqueOutcome outcome) => _unique[Array.IndexOf(Policies, policy), (int)outcome].Value;

    public void CountUpdown(bool up, UpdownOutcome outcome, TimeSpan? duration = null)
    {
        _updown[up ? 0 : 1, (int)outcome].Inc();
        if (duration is { } d) _updownSeconds.Observe(d.TotalSeconds);
    }

    public double UpdownCount(bool up, UpdownOutcome outcome) => _updown[up ? 0 : 1, (int)outcome].Value;
}
