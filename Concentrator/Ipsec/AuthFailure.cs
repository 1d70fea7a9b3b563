namespace Concentrator.Ipsec;

/// <summary>
/// Why a peer was not authenticated in IKE_AUTH (answered AUTHENTICATION_FAILED as responder; the SA closed as initiator).
/// A closed set: the values are the label values (snake_case names) of concentrator_ike_auth_failures_total.
/// </summary>
public enum AuthFailure
{
    /// <summary>No connection accepts the peer's identities with its AUTH method (psk or pubkey).</summary>
    NoConnection = 0,
    /// <summary>IDi without AUTH (an EAP request, RFC 7296 §2.16): no connection for the peer's identities authenticates by EAP.</summary>
    EapNotSupported,
    /// <summary>An AUTH method, signature algorithm or key type we do not accept (DSS, SHA-1 in RFC 7427 AUTH, Ed25519).</summary>
    UnsupportedMethod,
    /// <summary>No PSK for the identities, or the peer's PSK AUTH value is wrong.</summary>
    PskMismatch,
    /// <summary>The peer sent no certificate and none is pinned for its identity.</summary>
    NoCertificate,
    /// <summary>A CERT payload that is not a parseable X.509 certificate, or too many of them.</summary>
    MalformedCertificate,
    /// <summary>The signature in AUTH does not verify with the certificate's key.</summary>
    BadSignature,
    /// <summary>The identity the peer claims is not in its certificate (subjectAltName or subject DN).</summary>
    IdentityMismatch,
    /// <summary>The chain does not reach a configured CA (remote.cacerts), or the certificate is not a pinned one (remote.certs).</summary>
    Untrusted,
    /// <summary>A certificate of the chain is expired or not yet valid.</summary>
    Expired,
    /// <summary>A certificate of the chain is on a CRL of its issuer.</summary>
    Revoked,
    /// <summary>revocation strict (or ifuri with a CRL distribution point): no current CRL of an issuer in the chain.</summary>
    RevocationUnknown,
    /// <summary>The end entity's key usage or extended key usage does not allow IKE authentication, or a CA in the chain may not sign certificates.</summary>
    KeyUsage,
    /// <summary>
    /// Initiator: the responder answered AUTHENTICATION_FAILED. Responder: the initiator refused our IKE_AUTH response
    /// (our certificate or AUTH) in an INFORMATIONAL with AUTHENTICATION_FAILED.
    /// </summary>
    RefusedByPeer,
    /// <summary>The connection's unique keep found an IKE SA of the same user from another address (strongSwan's
    /// check_uniqueness): the new login is refused, the existing SA kept.</summary>
    UniqueKeep,
    /// <summary>The EAP method refused the peer (wrong password, unknown user, a method it does not speak, a malformed EAP
    /// message), or the peer left the EAP conversation.</summary>
    EapFailed,
    /// <summary>An EAP step did not answer in time (a RADIUS server down) or failed in the host.</summary>
    EapTimeout,
    /// <summary>After EAP-Success, the peer's AUTH made with the MSK does not verify.</summary>
    EapAuthMismatch,
    /// <summary>IKEv1 XAUTH refused the user (wrong password, unknown user, a user xauth_id does not allow, a malformed or
    /// unexpected Transaction message).</summary>
    XauthFailed,
    /// <summary>IKEv1 XAUTH: the client did not answer in time.</summary>
    XauthTimeout,
}
