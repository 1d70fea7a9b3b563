namespace Concentrator.Ipsec;

/// <summary>Why an IKE SA ended. Values are metric label values (snake_case names).</summary>
public enum CloseReason
{
    Deleted = 0,
    DeletedByPeer,
    NoProposal,
    AuthFailed,
    TsUnacceptable,
    InvalidKe,
    Timeout,
    InvalidSyntax,
    NoConnection,
    InternalError,
    /// <summary>The peer restarted (INITIAL_CONTACT on a new IKE SA); this one was dropped silently.</summary>
    Replaced,
    /// <summary>The responder kept answering IKE_SA_INIT with a new COOKIE (RFC 7296 §2.6) after every retry.</summary>
    CookieRejected,
    /// <summary>The childless policies (RFC 6023) of the two ends do not meet: a responder refused the IKE_AUTH's shape,
    /// or an initiator with childless force met a responder that did not announce support.</summary>
    ChildlessMismatch,
}
