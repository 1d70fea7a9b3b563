namespace Concentrator.Ipsec;

/// <summary>
/// What one OCSP check of a certificate with one responder came to (RFC 6960), the closed label set of
/// concentrator_ocsp_requests_total{outcome} (answers from the cache are counted apart). Only good and revoked decide; the rest leave the certificate's status unknown
/// and remote.revocation decides.
/// </summary>
public enum OcspOutcome
{
    /// <summary>The responder says good, in a response that passed every check.</summary>
    Good = 0,
    /// <summary>The responder says revoked.</summary>
    Revoked,
    /// <summary>The responder does not know the certificate.</summary>
    Unknown,
    /// <summary>No response within the timeout, a connection refused, an HTTP error or a response over the size bound.</summary>
    Unreachable,
    /// <summary>Not a parseable OCSP response, or none of its answers is for our certificate.</summary>
    Malformed,
    /// <summary>An OCSPResponse status other than successful (malformedRequest, tryLater, unauthorized...).</summary>
    ResponderError,
    /// <summary>Signed neither by the issuer nor by a delegated responder certificate the issuer signed with id-kp-OCSPSigning.</summary>
    BadSignature,
    /// <summary>thisUpdate in the future or nextUpdate past (beyond the clock skew allowed).</summary>
    Stale,
    /// <summary>The response carries a nonce that is not the one we sent.</summary>
    NonceMismatch,
    /// <summary>Not asked: the responder was unreachable within the last 30 s (no request sent, no time spent).</summary>
    ResponderDown,
    /// <summary>Not asked: other requests of the same chain used up its one timeout (3 s) for OCSP.</summary>
    OutOfTime,
}
