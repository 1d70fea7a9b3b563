using System.Net;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;
using Concentrator.Telemetry;

namespace Concentrator.Ike.Admission;

/// <summary>What to do with a new IKE_SA_INIT request.</summary>
public enum AdmissionVerdict
{
    /// <summary>Create a responder SA for it.</summary>
    Admit = 0,
    /// <summary>Drop it (counted by reason).</summary>
    Drop,
    /// <summary>Answer it with <see cref="AdmissionDecision.CookieResponse"/> and keep no state (RFC 7296 §2.6).</summary>
    Challenge,
}

public readonly record struct AdmissionDecision(AdmissionVerdict Verdict, byte[]? CookieResponse = null)
{
    public static readonly AdmissionDecision Admitted = new(AdmissionVerdict.Admit);
    public static readonly AdmissionDecision AdmittedProven = new(AdmissionVerdict.Admit) { Proven = true };
    public static readonly AdmissionDecision Dropped = new(AdmissionVerdict.Drop);

    /// <summary>Admitted with a valid COOKIE: the initiator receives at its source address (RFC 7296 §2.6).</summary>
    public bool Proven { get; init; }
}

/// <summary>
/// Whether a new IKE_SA_INIT request may become a responder IKE SA: every check in one fixed order, each refusal
/// counted by reason, none of them leaving state. The AUTHENTICATION_FAILED back-off of the source; the request must be
/// one a responder can answer (it decodes within max_payloads and carries SA, KE and Ni), else it is counted and
/// dropped here instead of making an SA that would wait half_open_timeout for nothing; a COOKIE when cookie_threshold
/// half-open SAs exist or cookie_threshold_ip come from the source (stateless, so spoofed sources cost a hash and a
/// reply, never state); the per-source half-open cap (block_threshold, per class, see <see cref="SourceAdmission"/>);
/// the global half-open cap; ikesa_limit and ikesa_limit_per_peer; last the rate of new responder SAs, so that only
/// requests that would otherwise become an SA spend a token of the DH budget. The COOKIE comes before the caps, as in
/// strongSwan's receiver, so that a source whose address is claimed by a spoofed flood is asked for a cookie instead
/// of being refused. Messages of existing SAs never come here. No actor and no I/O; single-threaded (the supervisor's).
/// </summary>
public sealed partial class AdmissionPolicy
{
    private readonly ConcentratorMetrics _metrics;
    private readonly ResourceLimits _limits;
    private readonly CookieGuard _cookies = new();
    private readonly CookieDemand _demand;
    private readonly InitRateLimiter? _rate;

    public AdmissionPolicy(AdmissionOptions options, ResourceLimits limits, ConcentratorMetrics metrics)
    {
        Options = options;
        _metrics = metrics;
        _limits = limits;
        _demand = new CookieDemand(options);
        _rate = options.InitRate > 0 ? new InitRateLimiter(options.InitRate, Environment.TickCount64) : null;
        Sources = new SourceAdmission(options);
        Quota = new IkeSaQuota(limits, metrics);
    }

    public AdmissionOptions Options { get; }

    /// <summary>Per source address: half-open SAs and the AUTHENTICATION_FAILED back-off.</summary>
    public SourceAdmission Sources { get; }

    /// <summary>IKE SAs in total and per remote address (both roles are counted, only responders refused).</summary>
    public IkeSaQuota Quota { get; }

    /// <summary>The verdict for an initial IKE_SA_INIT (<paramref name="header"/> parsed from <paramref name="datagram"/>)
    /// from <paramref name="remote"/> while <paramref name="halfOpen"/> responder SAs are half-open.</summary>
    public AdmissionDecision Decide(in IkeHeader header, byte[] datagram, IPEndPoint remote, int halfOpen, long nowMs)
    {
        var source = remote.Address;
        if (Sources.IsBlocked(source, nowMs)) return Drop(IkeDropReason.AuthFailedBackoff);
        if (Answerable(header, datagram) is not { } request) return AdmissionDecision.Dropped;

        var nonce = request.Get<NoncePayload>()!.Data;
        bool proven = request.GetNotify(NotifyType.Cookie) is { } cookie && _cookies.Verify(cookie.Data, nonce, source, header.InitiatorSpi);
        if (!proven && _demand.Required(halfOpen, Sources.HalfOpenFrom(source), source, nowMs))
        {
            _metrics.CountDrop(IkeDropReason.CookieRequired);
            _metrics.CountCookieSent();
            return new AdmissionDecision(AdmissionVerdict.Challenge, CookieGuard.BuildResponse(header, _cookies.Compute(nonce, source, header.InitiatorSpi)));
        }

        if (Sources.AtBlockThreshold(source, proven)) return Drop(IkeDropReason.PerSourceLimit);
        if (halfOpen >= Options.MaxHalfOpen) return Drop(IkeDropReason.HalfOpenLimit);
        if (!Quota.TryAdmit(source)) return AdmissionDecision.Dropped;
        if (_rate is not null && !_rate.TryTake(nowMs)) return Drop(IkeDropReason.InitRateLimit);
        return proven ? AdmissionDecision.AdmittedProven : AdmissionDecision.Admitted;
    }

    /// <summary>The request decoded, when a responder can answer it: within max_payloads, and fitting the IKE_SA_INIT
    /// request table (SA, KE, Ni); otherwise null, counted as the SA would count it.</summary>
    private IkeMessage? Answerable(in IkeHeader header, byte[] datagram)
    {
        var status = IkeCodec.TryDecode(datagram, header, out var message, out _, _limits.MaxPayloads);
        if (status != ParseStatus.Ok || message is null)
        {
            _metrics.CountMalformed(status);
            if (status == ParseStatus.TooManyPayloads) _metrics.Limits.Hit(ResourceLimit.MaxPayloads, _limits.MaxPayloads);
            return null;
        }

        if (PayloadRules.Check(ExchangeType.IkeSaInit, isResponse: false, message.Payloads) != ParseStatus.Ok)
        {
            _metrics.CountDrop(IkeDropReason.BadPayloadSequence);
            return null;
        }

        return message;
    }

    private AdmissionDecision Drop(IkeDropReason reason)
    {
        _metrics.CountDrop(reason);
        return AdmissionDecision.Dropped;
    }
}

/// <summary>
/// When IKE_SA_INIT must carry a COOKIE (strongSwan's receiver cookie_required): from cookie_threshold half-open SAs
/// in all or cookie_threshold_ip from the request's source, and for <see cref="CalmDownMs"/> after either was last
/// reached, so that an initiator's retransmissions are not answered once with a COOKIE and once without (its AUTH
/// covers the request it sent). The per-source calm-down is kept in <see cref="Buckets"/> buckets by address hash, as
/// strongSwan does: bounded state whatever the sources, and one targeted address does not switch cookies on for all.
/// Single-threaded (the supervisor's).
/// </summary>
internal sealed class CookieDemand(AdmissionOptions options)
{
    /// <summary>strongSwan's COOKIE_CALMDOWN_DELAY.</summary>
    internal const long CalmDownMs = 10_000;

    /// <summary>strongSwan's COOKIE_CALMDOWN_BUCKETS (a power of two).</summary>
    internal const int Buckets = 32;

    // [0]: the global threshold; [1..Buckets]: per source, by address hash. Null: never reached.
    private readonly long?[] _lastReached = new long?[Buckets + 1];

    public bool Required(int halfOpen, int halfOpenFromSource, IPAddress source, long nowMs) =>
        Reached(0, halfOpen >= options.CookieThreshold, nowMs) ||
        Reached(1 + (source.GetHashCode() & (Buckets - 1)), halfOpenFromSource >= options.CookieThresholdIp, nowMs);

    private bool Reached(int bucket, bool reachedNow, long nowMs)
    {
        if (reachedNow) _lastReached[bucket] = nowMs;
        return reachedNow || nowMs < _lastReached[bucket] + CalmDownMs; // null (never reached) compares false
    }
}
