namespace Concentrator.Ike.Admission;

/// <summary>Responder admission limits (tunables; names and defaults after strongSwan's charon.* unless noted).</summary>
public sealed record AdmissionOptions
{
    /// <summary>Half-open IKE SAs above which IKE_SA_INIT must carry a valid COOKIE (RFC 7296 §2.6).</summary>
    public int CookieThreshold { get; init; } = 10;

    /// <summary>charon.cookie_threshold_ip: half-open IKE SAs from one source address from which its IKE_SA_INIT must carry a COOKIE.</summary>
    public int CookieThresholdIp { get; init; } = 3;

    /// <summary>Half-open IKE SAs above which new IKE_SA_INIT requests are dropped outright.</summary>
    public int MaxHalfOpen { get; init; } = 5000;

    /// <summary>charon.block_threshold: half-open IKE SAs one source address may have, of those admitted with a valid COOKIE and
    /// of those without one each (see <see cref="SourceAdmission"/>); more IKE_SA_INIT of a full class are dropped.</summary>
    public int BlockThreshold { get; init; } = 5;

    /// <summary>charon.half_open_timeout: a responder IKE SA not established by then is removed.</summary>
    public TimeSpan HalfOpenTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>charon.init_limit_job_load: new IKE_SA_INIT requests that may wait for the supervisor; int.MaxValue: no gate.</summary>
    public int InitJobLoad { get; init; } = 1000;

    /// <summary>New responder IKE SAs (each one Diffie-Hellman computation) per second; 0: unlimited (ours, no charon twin).</summary>
    public int InitRate { get; init; }

    /// <summary>AUTHENTICATION_FAILED from one source within <see cref="AuthFailedBackoff"/> that block it; 0: never.</summary>
    public int AuthFailedThreshold { get; init; } = 5;

    /// <summary>The failure window and the block that follows it.</summary>
    public TimeSpan AuthFailedBackoff { get; init; } = TimeSpan.FromSeconds(60);
}
