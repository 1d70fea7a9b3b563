using System.Security.Cryptography;
using Concentrator.Ike.Connections;

namespace Concentrator.Ike.Sa;

/// <summary>The EAP side of an IKE SA (RFC 7296 §2.16): the session the host runs the steps of, their answers, and what
/// the login left (user, RADIUS decisions, method, the unique check) for the tasks, the metrics and the listings.</summary>
public sealed partial class IkeSa
{
    /// <summary>The identity the peer proved by EAP (RFC 7296 §2.16); null when it authenticated without EAP.</summary>
    public Identity? EapIdentity { get; internal set; }

    /// <summary>Who this SA belongs to, as strongSwan's unique policy and swanctl's listings see it: the EAP identity when
    /// the peer logged in by EAP, else its IKE identity.</summary>
    public Identity? User => EapIdentity ?? RemoteId;

    /// <summary>The host's answer to <see cref="CheckUniqueness"/>: IKE_AUTH is answered now, refused when
    /// <paramref name="refused"/> (unique keep found a duplicate).</summary>
    public void ResumeUniqueCheck(bool refused)
    {
        UniqueRefused = refused;
        TaskManager.ResumeDeferred();
    }

    /// <summary>Null until the host answered <see cref="CheckUniqueness"/> for this SA's IKE_AUTH; then whether it refused.</summary>
    internal bool? UniqueRefused { get; private set; }

    /// <summary>
    /// What the EAP method decided for the user once it succeeded (RADIUS Framed-IP-Address and Class), without the
    /// MSK or the last message; <see cref="Tasks.IkeConfigTask"/> reads it. Null when the peer did not log in by EAP.
    /// </summary>
    public Eap.EapResult? EapOutcome { get; internal set; }

    /// <summary>Responder: how the peer logged in (psk, pubkey, or its EAP method): the method label of the logins and
    /// users-online metrics. Null for an initiator SA.</summary>
    public string? LoginMethod { get; internal set; }

    /// <summary>Initiator: our EAP client of the IKE_AUTH in progress (its password hash and MSK); disposed when it ends or the SA does.</summary>
    internal IDisposable? EapClient { get; set; }

    /// <summary>The EAP conversation of this responder's IKE_AUTH (RFC 7296 §2.16); disposed when it ends or the SA does.</summary>
    internal Eap.IEapSession? EapSession { get; set; }

    // The answer of the EAP step the host ran (RunEap), held until the deferred IKE_AUTH request runs again; null with
    // _eapAnswered: the step did not answer in time.
    private Eap.EapResult? _eapResult;
    private bool _eapAnswered;

    /// <summary>
    /// Answers the IKE_AUTH request that waits for an EAP step (<see cref="RunEap"/>) with its result; null: the step
    /// failed or did not answer in time. Ignored (the MSK zeroed) when the SA no longer waits for it.
    /// </summary>
    public void ResumeEap(Eap.EapResult? result)
    {
        _eapResult = result;
        _eapAnswered = true;
        TaskManager.ResumeDeferred();
        ZeroPendingEap();
    }

    /// <summary>The EAP step's answer for the task that asked for it: (false, _) when none came back for this request.</summary>
    internal (bool Answered, Eap.EapResult? Result) TakeEapResult()
    {
        var taken = (_eapAnswered, _eapResult);
        _eapResult = null;
        _eapAnswered = false;
        return taken;
    }

    private void ZeroPendingEap()
    {
        if (_eapResult?.Msk is { } msk) CryptographicOperations.ZeroMemory(msk);
        _eapResult = null;
        _eapAnswered = false;
    }

    /// <summary>The SA ends: the session disposed (its secrets zeroed), an unclaimed MSK zeroed.</summary>
    private void EndEap()
    {
        ZeroPendingEap();
        EapSession?.Dispose();
        EapSession = null;
        EapClient?.Dispose();
        EapClient = null;
    }
}
