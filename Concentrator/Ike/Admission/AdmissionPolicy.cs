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
    public static readonly AdmissionDecision Dropped = new(AdmissionVerdict.Drop);
}

/// <summary>
/// Whether a new IKE_SA_INIT request may become a responder IKE SA: every check in one fixed order, cheapest first,
/// each refusal counted by reason. The AUTHENTICATION_FAILED back-off of the source; the global half-open cap; the
/// per-source half-open cap (block_threshold); a COOKIE above cookie_threshold (stateless, so spoofed sources cost a
/// hash and a reply, never state); ikesa_limit and ikesa_limit_per_peer; last the rate of new responder SAs, so that
/// only requests that would otherwise become an SA spend a token of the DH budget. Messages of existing SAs never come
/// here. No actor and no I/O; single-threaded (the supervisor's).
/// </summary>
public sealed class AdmissionPolicy
{
    private readonly ConcentratorMetrics _metrics;
    private readonly CookieGuard _cookies = new();
    private readonly InitRateLimiter? _rate;

    public AdmissionPolicy(AdmissionOptions options, ResourceLimits limits, ConcentratorMetrics metrics)
    {
        Options = options;
        _metrics = metrics;
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
        if (halfOpen >= Options.MaxHalfOpen) return Drop(IkeDropReason.HalfOpenLimit);
        if (Sources.AtBlockThreshold(source)) return Drop(IkeDropReason.PerSourceLimit);
        if (halfOpen >= Options.CookieThreshold && CheckCookie(header, datagram, source) is { } refused) return refused;
        if (!Quota.TryAdmit(source)) return AdmissionDecision.Dropped;
        if (_rate is not null && !_rate.TryTake(nowMs)) return Drop(IkeDropReason.InitRateLimit);
        return AdmissionDecision.Admitted;
    }

    /// <summary>Stateless COOKIE check; null when the request carries a valid one, else the refusal (a challenge, or a
    /// drop of a request without a nonce).</summary>
    private AdmissionDecision? CheckCookie(in IkeHeader header, byte[] datagram, IPAddress source)
    {
        if (IkeCodec.TryDecode(datagram, header, out var message, out _) != ParseStatus.Ok || message!.Get<NoncePayload>() is not { } nonce)
        {
            _metrics.CountMalformed(ParseStatus.InvalidSyntax);
            return AdmissionDecision.Dropped;
        }

        if (message.GetNotify(NotifyType.Cookie) is { } cookie && _cookies.Verify(cookie.Data, nonce.Data, source, header.InitiatorSpi))
        {
            return null;
        }

        _metrics.CountDrop(IkeDropReason.CookieRequired);
        _metrics.CountCookieSent();
        var response = CookieGuard.BuildResponse(header, _cookies.Compute(nonce.Data, source, header.InitiatorSpi));
        return new AdmissionDecision(AdmissionVerdict.Challenge, response);
    }

    private AdmissionDecision Drop(IkeDropReason reason)
    {
        _metrics.CountDrop(reason);
        return AdmissionDecision.Dropped;
    }
}
