using System.Net;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Admission;

/// <summary>
/// Bounds the initial IKE_SA_INIT requests waiting in the supervisor's mailbox (strongSwan's
/// charon.init_limit_job_load). Checked on the receive thread before the datagram is enqueued, so a flood can
/// put at most <c>limit</c> requests ahead of a message for an established SA; everything else bypasses it.
/// Thread-safe: one counter, entered by the receive loops and left by the supervisor.
/// </summary>
public sealed class InitGate(int limit)
{
    private int _pending;

    public int Pending => Volatile.Read(ref _pending);

    /// <summary>A new IKE_SA_INIT request (RFC 7296 §3.1: responder SPI zero, initiator flag, not a response, message ID zero).</summary>
    public static bool IsInitialInitRequest(in IkeHeader header) =>
        header.Exchange == ExchangeType.IkeSaInit && header.FromInitiator && !header.IsResponse &&
        header.ResponderSpi == 0 && header.MessageId == 0;

    /// <summary>False when the datagram is a new IKE_SA_INIT and <c>limit</c> of them are already queued.</summary>
    public bool TryEnter(in IkeHeader header)
    {
        return !IsInitialInitRequest(header) || TryEnterInitial();
    }

    /// <summary>False when <c>limit</c> first messages of new SAs (IKE_SA_INIT, or IKEv1's first main or aggressive mode
    /// message) are already queued; the caller knows the datagram is one.</summary>
    public bool TryEnterInitial()
    {
        if (Interlocked.Increment(ref _pending) <= limit) return true;
        Interlocked.Decrement(ref _pending);
        return false;
    }

    /// <summary>The supervisor took one entered IKE_SA_INIT out of its mailbox.</summary>
    public void Leave()
    {
        if (Interlocked.Decrement(ref _pending) < 0) Interlocked.Exchange(ref _pending, 0);
    }
}

/// <summary>
/// Token bucket of new responder IKE SAs (each costs a Diffie-Hellman computation at once and an AUTH check
/// next): at most <c>rate</c> a second, bursts of one second's worth. Single-threaded (the supervisor's).
/// </summary>
public sealed class InitRateLimiter
{
    private readonly double _rate;
    private double _tokens;
    private long _last;

    public InitRateLimiter(int ratePerSecond, long nowMs)
    {
        _rate = ratePerSecond;
        _tokens = ratePerSecond;
        _last = nowMs;
    }

    public bool TryTake(long nowMs)
    {
        _tokens = Math.Min(_rate, _tokens + (nowMs - _last) * _rate / 1000.0);
        _last = nowMs;
        if (_tokens < 1) return false;
        _tokens -= 1;
        return true;
    }
}

/// <summary>
/// Per source address: half-open IKE SAs (charon.block_threshold) and AUTHENTICATION_FAILED back-off.
/// Single-threaded (the supervisor's). The failure table is bounded: when full, new sources are not tracked
/// (their half-open count is still bounded by block_threshold and the global caps).
/// </summary>
/// <remarks>
/// Half-open SAs admitted with a valid COOKIE (proven: the initiator receives at that address) and those admitted
/// without one are counted apart, each class held to block_threshold. Spoofed requests claiming an address can only
/// ever hold its unproven share (and only up to cookie_threshold_ip, from where the address must return cookies), so
/// they never use up what the real hosts behind it (one NAT, many users) need; strongSwan counts both together.
/// </remarks>
public sealed class SourceAdmission(AdmissionOptions options)
{
    /// <summary>Sources tracked for authentication failures at once; a bound on memory, not a tunable a peer can grow.</summary>
    public const int MaxTrackedSources = 16384;

    private readonly Dictionary<IPAddress, (int Unproven, int Proven)> _halfOpen = new();
    private readonly Dictionary<IPAddress, Failures> _failures = new();

    public int TrackedFailureSources => _failures.Count;

    /// <summary>The source has block_threshold half-open SAs of the class a request of it would join.</summary>
    public bool AtBlockThreshold(IPAddress source, bool proven) =>
        _halfOpen.TryGetValue(source, out var n) && (proven ? n.Proven : n.Unproven) >= options.BlockThreshold;

    public void AddHalfOpen(IPAddress source, bool proven)
    {
        var n = _halfOpen.GetValueOrDefault(source);
        _halfOpen[source] = proven ? n with { Proven = n.Proven + 1 } : n with { Unproven = n.Unproven + 1 };
    }

    public void RemoveHalfOpen(IPAddress source, bool proven)
    {
        if (!_halfOpen.TryGetValue(source, out var n)) return;
        n = proven ? n with { Proven = Math.Max(0, n.Proven - 1) } : n with { Unproven = Math.Max(0, n.Unproven - 1) };
        if (n is (0, 0)) _halfOpen.Remove(source);
        else _halfOpen[source] = n;
    }

    /// <summary>Half-open SAs from <paramref name="source"/>, both classes.</summary>
    public int HalfOpenFrom(IPAddress source) => _halfOpen.TryGetValue(source, out var n) ? n.Unproven + n.Proven : 0;

    /// <summary>True while <paramref name="source"/> is backing off after too many authentication failures.</summary>
    public bool IsBlocked(IPAddress source, long nowMs) =>
        _failures.TryGetValue(source, out var f) && f.BlockedUntil > nowMs;

    /// <summary>
    /// Counts one AUTHENTICATION_FAILED from <paramref name="source"/>; failures older than the back-off window are
    /// forgotten. Returns true when this failure starts a block.
    /// </summary>
    public bool CountAuthFailure(IPAddress source, long nowMs)
    {
        if (options.AuthFailedThreshold <= 0) return false;
        long window = (long)options.AuthFailedBackoff.TotalMilliseconds;
        if (!_failures.TryGetValue(source, out var f))
        {
            if (_failures.Count >= MaxTrackedSources) Sweep(nowMs);
            if (_failures.Count >= MaxTrackedSources) return false;
            f = new Failures { WindowStart = nowMs };
            _failures[source] = f;
        }
        if (nowMs - f.WindowStart > window)
        {
            f.WindowStart = nowMs;
            f.Count = 0;
        }
        if (++f.Count < options.AuthFailedThreshold || f.BlockedUntil > nowMs) return false;
        f.BlockedUntil = nowMs + window;
        f.Count = 0;
        f.WindowStart = nowMs;
        return true;
    }

    /// <summary>Forgets sources whose window and block have both run out.</summary>
    public void Sweep(long nowMs)
    {
        long window = (long)options.AuthFailedBackoff.TotalMilliseconds;
        List<IPAddress>? stale = null;
        foreach (var (source, f) in _failures)
        {
            if (f.BlockedUntil <= nowMs && nowMs - f.WindowStart > window) (stale ??= new()).Add(source);
        }
        if (stale is null) return;
        foreach (var source in stale) _failures.Remove(source);
    }

    private sealed class Failures
    {
        public int Count;
        public long WindowStart;
        public long BlockedUntil;
    }
}
