namespace Concentrator.Ipsec;

/// <summary>
/// What came of one MOBIKE address update (RFC 4555 §3.5), the closed label set of
/// concentrator_ike_mobike_updates_total{outcome}: the first five as responder (the peer's UPDATE_SA_ADDRESSES), the
/// rest as original initiator (ours).
/// </summary>
public enum MobikeOutcome
{
    /// <summary>The SA and every Child SA moved to the request's source.</summary>
    Moved = 0,
    /// <summary>The request came from the address the SA uses already (NAT detection recomputed, nothing moved).</summary>
    Unchanged,
    /// <summary>Ignored: the peer did not negotiate MOBIKE in IKE_AUTH, or our connection has mobike = no (§3.1).</summary>
    NotNegotiated,
    /// <summary>NO_NATS_ALLOWED named other addresses than the IP header's: answered UNEXPECTED_NAT_DETECTED (§3.9).</summary>
    NatRefused,
    /// <summary>COOKIE2 not 8 to 64 octets, or NO_NATS_ALLOWED not 12 or 36: nothing moved, the response carries no COOKIE2.</summary>
    Malformed,
    /// <summary>We sent UPDATE_SA_ADDRESSES (our address or our NAT's mapping changed).</summary>
    Sent,
    /// <summary>Its response came back with our COOKIE2.</summary>
    Confirmed,
    /// <summary>The response's COOKIE2 was not ours: the IKE SA was closed (§3.7).</summary>
    CookieMismatch,
    /// <summary>The responder answered UNACCEPTABLE_ADDRESSES or UNEXPECTED_NAT_DETECTED; the SA keeps its addresses.</summary>
    Refused,
}
