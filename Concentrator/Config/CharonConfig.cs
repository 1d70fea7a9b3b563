using Concentrator.Actors;
using Concentrator.Ike.Exchanges;

namespace Concentrator.Config;

/// <summary>
/// Daemon-wide settings under <c>charon:</c>, named as in strongswan.conf's <c>charon.*</c> section so an admin can
/// carry them across. Tunables, not protocol facts; the defaults are strongSwan's unless a comment says otherwise.
/// </summary>
public sealed class CharonConfig
{
    public const int MaxRetransmitTries = 20;

    /// <summary><c>retransmit_timeout</c>: first retransmission delay.</summary>
    public TimeSpan RetransmitTimeout { get; init; } = TimeSpan.FromSeconds(4);

    /// <summary><c>retransmit_base</c>: each further delay is the previous one times this.</summary>
    public double RetransmitBase { get; init; } = 1.8;

    /// <summary><c>retransmit_tries</c>: retransmissions before the exchange (and its IKE SA) is given up.</summary>
    public int RetransmitTries { get; init; } = 5;

    /// <summary><c>cookie_threshold</c>: half-open IKE SAs from which IKE_SA_INIT must carry a COOKIE; 0 disables cookies.</summary>
    public int CookieThreshold { get; init; } = 10;

    /// <summary><c>init_limit_half_open</c>: half-open IKE SAs from which new IKE_SA_INIT requests are dropped
    /// (strongSwan's default is 0, unlimited; ours bounds memory).</summary>
    public int InitLimitHalfOpen { get; init; } = 5000;

    public IkeTunables ToTunables() => new()
    {
        RetransmitTimeout = RetransmitTimeout,
        RetransmitBase = RetransmitBase,
        RetransmitTries = RetransmitTries,
    };

    public AdmissionOptions ToAdmission() => new()
    {
        CookieThreshold = CookieThreshold == 0 ? int.MaxValue : CookieThreshold,
        MaxHalfOpen = InitLimitHalfOpen == 0 ? int.MaxValue : InitLimitHalfOpen,
    };
}
