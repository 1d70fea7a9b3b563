using System.Net;
using Concentrator.Ike.Connections;

namespace Concentrator.Ike.Eap;

/// <summary>
/// One EAP conversation of one IKE SA with the gateway as authenticator (RFC 7296 §2.16, RFC 3748 §2): served here
/// (eap-mschapv2 against the configured secrets) or passed through to RADIUS (eap-radius). The IKE SA stays a pure state
/// machine: it hands each step to its host, which awaits it off the SA's thread and resumes the SA with the result.
/// A session is used by one SA at a time, never concurrently; <see cref="IDisposable.Dispose"/> zeroes what it keeps.
/// </summary>
public interface IEapSession : IDisposable
{
    /// <summary>The method as configured (remote.auth: eap-mschapv2, eap-radius, ...): a metrics label.</summary>
    string Method { get; }

    /// <summary>The first EAP request: EAP-Identity, or the method's first request when <paramref name="eapId"/> is
    /// already known (remote.eap_id not %any: strongSwan then uses the IKE identity).</summary>
    ValueTask<EapResult> StartAsync(Identity ikeIdentity, Identity? eapId, CancellationToken cancellationToken);

    /// <summary>The peer's next EAP message (one whole EAP packet, RFC 3748 §4).</summary>
    ValueTask<EapResult> ProcessAsync(ReadOnlyMemory<byte> eapResponse, CancellationToken cancellationToken);
}

/// <summary>What the gateway does next in an EAP conversation.</summary>
public enum EapResultKind
{
    /// <summary>Send <see cref="EapResult.Message"/> (an EAP Request) and wait for the peer's response.</summary>
    Continue = 0,
    /// <summary>Send <see cref="EapResult.Message"/> (EAP-Success); the final AUTH is computed from <see cref="EapResult.Msk"/>.</summary>
    Success,
    /// <summary>Send <see cref="EapResult.Message"/> (EAP-Failure) when present; the IKE SA fails authentication.</summary>
    Failure,
}

/// <summary>
/// One step's outcome. On success: the MSK (RFC 5247; null for methods without keys, where AUTH uses SK_p as RFC 7296
/// §2.16 says), the EAP identity the peer proved, and what a RADIUS server decided for it (Framed-IP-Address, Class).
/// The receiver owns <see cref="Msk"/> and zeroes it once AUTH is verified.
/// </summary>
public sealed record EapResult(EapResultKind Kind, byte[]? Message)
{
    public byte[]? Msk { get; init; }
    public Identity? EapIdentity { get; init; }
    /// <summary>Failure: why, for the log and the per-reason auth-failure counter (never the secret or the response).</summary>
    public string? FailureDetail { get; init; }
    /// <summary>RADIUS Framed-IP-Address (RFC 2865 §5.8): the virtual IP this user gets instead of a pool lease.</summary>
    public IPAddress? FramedAddress { get; init; }
    /// <summary>RADIUS Class values (RFC 2865 §5.25) as text: a group; one naming a pool of the connection picks that pool.</summary>
    public IReadOnlyList<string> Groups { get; init; } = [];
}

/// <summary>
/// The IKE SA an EAP conversation authenticates: what a RADIUS server is told about the login's "port" (strongSwan's
/// NAS-IP-Address, Called-Station-Id, Calling-Station-Id) and the key RADIUS accounting finds the login by.
/// </summary>
public sealed record EapPeer(ulong IkeSpi, IPEndPoint Local, IPEndPoint Remote);

/// <summary>Makes the session for a connection's remote round that authenticates by EAP; null when it cannot serve the
/// round's method (the loader rejects such a configuration, so this is an internal error).</summary>
public interface IEapSessionFactory
{
    IEapSession? Create(ConnectionConfig connection, AuthConfig remote);

    /// <summary>As above for a known IKE SA; methods that need no peer details (served locally) ignore it.</summary>
    IEapSession? Create(ConnectionConfig connection, AuthConfig remote, EapPeer peer) => Create(connection, remote);
}
