using System.Security.Cryptography;
using System.Text;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Wire.V1;

namespace Concentrator.Ike.Tasks.V1;

/// <summary>Where the gateway's XAUTH exchange stands (<see cref="XauthServer"/>); a state is left only along the arrows of
/// <see cref="XauthServer"/>'s table.</summary>
public enum XauthState
{
    /// <summary>Phase 1 authenticated; no request sent yet.</summary>
    Idle = 0,
    /// <summary>CFG_REQUEST for user name and password sent; waiting for the client's CFG_REPLY.</summary>
    RequestSent,
    /// <summary>CFG_REPLY received; the host checks the credentials (secrets, RADIUS) and calls <see cref="XauthServer.Verified"/>.</summary>
    Verifying,
    /// <summary>CFG_SET with XAUTH-STATUS sent; waiting for the client's CFG_ACK.</summary>
    StatusSent,
    /// <summary>XAUTH-STATUS 1 acknowledged: the user is authenticated; quick mode and Mode Config may follow.</summary>
    Succeeded,
    /// <summary>Refused, malformed or timed out: the phase 1 SA is deleted.</summary>
    Failed,
}

/// <summary>Why XAUTH failed (a log line and a counter reason; never the password).</summary>
public enum XauthFailure
{
    /// <summary>The password does not match, or no secret exists for the user.</summary>
    WrongPassword = 0,
    /// <summary>CFG_REPLY without a user name or password, with one twice, of the wrong form or too long.</summary>
    MalformedReply,
    /// <summary>The user name is not the remote round's xauth_id.</summary>
    UserNotAllowed,
    /// <summary>The client sent a message that is not the one the state expects (a CFG_REPLY before our request, no CFG_ACK).</summary>
    UnexpectedMessage,
    /// <summary>No answer within <see cref="XauthServer.Timeout"/>.</summary>
    Timeout,
    /// <summary>The verifier could not answer (RADIUS down).</summary>
    VerifierUnavailable,
}

/// <summary>User name and password of a CFG_REPLY, for the verifier. The host zeroes <see cref="Password"/> after use.</summary>
public sealed record XauthCredentials(Identity User, byte[] Password);

/// <summary>
/// The gateway's side of XAUTH (draft-beaulieu-ike-xauth-02 §4, as strongSwan's sa/ikev1/tasks/xauth.c with xauth-generic):
/// after phase 1 authenticated the client's device, the gateway, whatever its phase 1 role, sends a Transaction exchange
/// CFG_REQUEST (XAUTH-TYPE generic, XAUTH-USER-NAME, XAUTH-USER-PASSWORD), reads the user's CFG_REPLY, sends CFG_SET with
/// XAUTH-STATUS 1 or 0, and takes the client's CFG_ACK. One password attempt per phase 1 SA, as strongSwan (a wrong one
/// ends the SA; the client reconnects); the whole exchange must finish within <see cref="Timeout"/>. Pure: the host seals
/// and sends the payloads, runs the verifier, and deletes the SA on <see cref="XauthState.Failed"/>.
/// </summary>
public sealed class XauthServer
{
    /// <summary>Longest user name taken (RADIUS User-Name's 253 octets, RFC 2865 §5.1).</summary>
    public const int MaxUserNameLength = 253;

    /// <summary>Longest password taken (RADIUS User-Password's 128 octets, RFC 2865 §5.2).</summary>
    public const int MaxPasswordLength = 128;

    /// <summary>From our CFG_REQUEST to the client's CFG_ACK: a user types the password (strongSwan's half-open timeout is 30 s;
    /// a person at a prompt needs more, Cisco's default XAUTH timeout is 60 s).</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    private static readonly (XauthState From, XauthState To)[] Transitions =
    [
        (XauthState.Idle, XauthState.RequestSent),
        (XauthState.RequestSent, XauthState.Verifying),
        (XauthState.Verifying, XauthState.StatusSent),
        (XauthState.RequestSent, XauthState.StatusSent),
        (XauthState.StatusSent, XauthState.Succeeded),
        (XauthState.Idle, XauthState.Failed),
        (XauthState.RequestSent, XauthState.Failed),
        (XauthState.Verifying, XauthState.Failed),
        (XauthState.StatusSent, XauthState.Failed),
    ];

    private readonly Identity? _allowedUser;
    private readonly Identity _ikeIdentity;
    private long _deadline;
    private bool _accepted;

    /// <param name="ikeIdentity">The client's phase 1 identity: the user when it sends an empty user name (strongSwan's).</param>
    /// <param name="allowedUser">The remote round's xauth_id: the user name must match it (null or %any: any user).</param>
    /// <param name="identifier">The Attribute payloads' identifier of this exchange (draft-dukes §3.2).</param>
    public XauthServer(Identity ikeIdentity, Identity? allowedUser, ushort identifier)
    {
        _ikeIdentity = ikeIdentity;
        _allowedUser = allowedUser is { IsAny: false } ? allowedUser : null;
        Identifier = identifier;
    }

    public XauthState State { get; private set; }
    public ushort Identifier { get; }
    public XauthFailure? Failure { get; private set; }

    /// <summary>The authenticated user (after <see cref="XauthState.Verifying"/>): the identity leases and quick mode key by.</summary>
    public Identity? User { get; private set; }

    /// <summary>Monotonic milliseconds; tests step it.</summary>
    public Func<long> Clock { get; init; } = () => Environment.TickCount64;

    /// <summary>The CFG_REQUEST that starts XAUTH.</summary>
    public AttributePayload BuildRequest()
    {
        Move(XauthState.RequestSent);
        _deadline = Clock() + (long)Timeout.TotalMilliseconds;
        return new AttributePayload(CfgMessageType.Request, Identifier,
        [
            DataAttribute.OfBasic((ushort)CfgAttributeType.XauthType, 0),
            DataAttribute.OfVariable((ushort)CfgAttributeType.XauthUserName, []),
            DataAttribute.OfVariable((ushort)CfgAttributeType.XauthUserPassword, []),
        ]);
    }

    /// <summary>
    /// The client's CFG_REPLY: the credentials to verify (state <see cref="XauthState.Verifying"/>); or null, either with
    /// state <see cref="XauthState.StatusSent"/> (a malformed reply or a user not allowed: the host sends
    /// <see cref="BuildStatus"/>, XAUTH-STATUS 0, as strongSwan does), or <see cref="XauthState.Failed"/> (not a CFG_REPLY,
    /// or none was expected: the host deletes the SA), or, once XAUTH is finished, unchanged (a late duplicate: ignored).
    /// </summary>
    public XauthCredentials? ProcessReply(AttributePayload reply)
    {
        if (State != XauthState.RequestSent || reply.MessageType != CfgMessageType.Reply) return Fail(XauthFailure.UnexpectedMessage);
        byte[]? user = null, password = null;
        foreach (var a in reply.Attributes)
        {
            ref byte[]? slot = ref user;
            if (a.Type == (ushort)CfgAttributeType.XauthUserPassword) slot = ref password;
            else if (a.Type != (ushort)CfgAttributeType.XauthUserName) continue;
            if (a.Basic || slot is not null) return Refuse(XauthFailure.MalformedReply);
            slot = a.Value;
        }
        if (user is null || password is null || user.Length > MaxUserNameLength || password.Length > MaxPasswordLength + 1)
        {
            return Refuse(XauthFailure.MalformedReply);
        }
        var identity = _ikeIdentity;
        if (user.Length > 0)
        {
            string text;
            try
            {
                text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(user);
            }
            catch (DecoderFallbackException)
            {
                return Refuse(XauthFailure.MalformedReply);
            }
            if (text.Any(char.IsControl) || !Identity.TryParse(text, out var parsed, out _)) return Refuse(XauthFailure.MalformedReply);
            identity = parsed!;
        }
        if (_allowedUser is not null && _allowedUser.Match(identity) == IdMatch.None) return Refuse(XauthFailure.UserNotAllowed);
        // Clients that send the password NUL terminated (Android, strongSwan's xauth-generic removes it too).
        int length = password.Length > 0 && password[^1] == 0 ? password.Length - 1 : password.Length;
        if (length > MaxPasswordLength) return Refuse(XauthFailure.MalformedReply);
        var copy = password.AsSpan(0, length).ToArray();
        CryptographicOperations.ZeroMemory(password);
        User = identity;
        Move(XauthState.Verifying);
        return new XauthCredentials(identity, copy);
    }

    /// <summary>The verifier's answer: the CFG_SET with XAUTH-STATUS 1 (accepted) or 0.</summary>
    public AttributePayload Verified(bool accepted, XauthFailure refusal = XauthFailure.WrongPassword)
    {
        if (State != XauthState.Verifying) throw new InvalidOperationException($"XAUTH verified in state {State}");
        _accepted = accepted;
        if (!accepted) Failure = refusal;
        Move(XauthState.StatusSent);
        return BuildStatus();
    }

    /// <summary>The CFG_SET telling the client the outcome: XAUTH-STATUS 1 only after an accepted password.</summary>
    public AttributePayload BuildStatus() =>
        new(CfgMessageType.Set, Identifier, [DataAttribute.OfBasic((ushort)CfgAttributeType.XauthStatus, (ushort)(_accepted ? 1 : 0))]);

    /// <summary>
    /// The client's CFG_ACK of our status: <see cref="XauthState.Succeeded"/> when the status was 1, else
    /// <see cref="XauthState.Failed"/> (the wrong password, acknowledged). Any other message fails XAUTH.
    /// </summary>
    public XauthState ProcessAck(AttributePayload ack)
    {
        if (State != XauthState.StatusSent || ack.MessageType != CfgMessageType.Ack)
        {
            Fail(XauthFailure.UnexpectedMessage);
            return State;
        }
        if (!_accepted)
        {
            Move(XauthState.Failed);
            return State;
        }
        Move(XauthState.Succeeded);
        return State;
    }

    /// <summary>Fails a pending exchange past its deadline (the host's timer); true when it did.</summary>
    public bool CheckTimeout()
    {
        if (State is not (XauthState.RequestSent or XauthState.Verifying or XauthState.StatusSent) || Clock() < _deadline) return false;
        Fail(XauthFailure.Timeout);
        return true;
    }

    /// <summary>Ends the exchange as failed (the verifier could not answer, the SA is going); no-op once finished.</summary>
    public void Abort(XauthFailure why)
    {
        if (State is not (XauthState.Succeeded or XauthState.Failed)) Fail(why);
    }

    private XauthCredentials? Refuse(XauthFailure why)
    {
        Failure = why;
        _accepted = false;
        Move(XauthState.StatusSent);
        return null;
    }

    private XauthCredentials? Fail(XauthFailure why)
    {
        if (State is XauthState.Succeeded or XauthState.Failed) return null;
        Failure ??= why;
        Move(XauthState.Failed);
        return null;
    }

    private void Move(XauthState to)
    {
        if (Array.IndexOf(Transitions, (State, to)) < 0) throw new InvalidOperationException($"XAUTH state {State} -> {to}");
        State = to;
    }
}

/// <summary>
/// xauth-generic's check (strongSwan's plugins/xauth_generic): the password against the user's secret of swanctl's
/// <c>secrets.xauth&lt;suffix&gt;</c> and <c>secrets.eap&lt;suffix&gt;</c> sections (both are strongSwan's SHARED_EAP),
/// selected for our identity and the user as an EAP password is.
/// </summary>
public static class XauthSecrets
{
    /// <summary>True when a secret exists for the user and equals the password (compared in constant time); the secret's copy is zeroed.</summary>
    public static bool Verify(IConnectionResolver resolver, Identity local, XauthCredentials credentials)
    {
        var secret = resolver.FindEapSecret(local, credentials.User);
        if (secret is null) return false;
        try
        {
            return CryptographicOperations.FixedTimeEquals(secret, credentials.Password);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(secret);
        }
    }
}
