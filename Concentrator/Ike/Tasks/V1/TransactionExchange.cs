using System.Buffers.Binary;
using System.Security.Cryptography;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Sa.V1;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Tasks.V1;

/// <summary>What happened in the gateway's remote access round, for the host's log (never a password).</summary>
public sealed record V1RemoteAccessEvent(V1RemoteAccessKind Kind, string User, string Detail) : IkeEffect;

public enum V1RemoteAccessKind
{
    XauthStarted = 0,
    XauthSucceeded,
    ModeConfigAssigned,
    ModeConfigNoAddress,
    Dropped,
}

/// <summary>
/// The Transaction exchange (type 6, draft-dukes-ike-mode-cfg §3.1) on the gateway: <c>HDR*, HASH, ATTR</c> both ways,
/// HASH = prf(SKEYID_a, M-ID | ATTR) as the informational HASH (strongSwan's keymat_v1), each request/answer pair under
/// its own message ID. Carries <see cref="XauthServer"/> (we start it right after main mode authenticated a connection
/// with an XAUTH round; the SA stays Authenticating, so no quick mode runs, until the user's CFG_ACK of XAUTH-STATUS 1)
/// and <see cref="ModeConfigServer"/> (the client's CFG_REQUEST once established; with <c>pull: no</c> our CFG_SET after
/// XAUTH). A failed XAUTH closes the SA (counted as a login failure of method xauth); anything unexpected is counted and
/// dropped, never answered.
/// </summary>
public sealed class TransactionExchange : IV1ExchangeHandler
{
    public static readonly TransactionExchange Instance = new();

    /// <summary>What an exchange we started waits for (kept in <see cref="IkeV1Sa.Exchanges"/> by its message ID).</summary>
    private enum Pending
    {
        XauthReply = 0,
        XauthAck,
        ModeConfigAck,
    }

    private sealed record Started(Pending Waits);

    public V1ExchangeType Exchange => V1ExchangeType.Transaction;

    /// <summary>Main mode authenticated the client: with an XAUTH round, XAUTH starts and the SA waits for it.</summary>
    internal static bool StartAfterPhase1(IkeV1Sa sa)
    {
        if (sa.IsInitiator || sa.Connection is not { RemoteXauth: { } round }) return false;
        sa.Move(V1Phase1State.Authenticating);
        var xauth = new XauthServer(sa.RemoteId ?? Identity.AnyIdentity, round.XauthId, Identifier());
        sa.Xauth = xauth;
        Start(sa, Pending.XauthReply, xauth.BuildRequest());
        sa.Emit(new V1RemoteAccessEvent(V1RemoteAccessKind.XauthStarted, "", ""));
        return true;
    }

    public void Handle(IkeV1Sa sa, V1Received message)
    {
        if (sa.State is not (V1Phase1State.Authenticating or V1Phase1State.Established) || !message.Protected ||
            message.Payloads.Count != 2 || message.Payloads[1] is not AttributePayload attributes)
        {
            Drop(sa, IkeDropReason.BadPayloadSequence, "not HASH and one Attribute payload in an established or authenticating SA");
            return;
        }
        if (!V1Hashes.VerifyHash1(sa, message))
        {
            Drop(sa, IkeDropReason.IntegrityCheckFailed, "HASH does not verify");
            return;
        }
        uint mid = message.MessageId;
        if (sa.Exchanges.TryGet<Started>(mid, out var started))
        {
            sa.CommitReceived(message);
            sa.CancelRequest();
            sa.Exchanges.Remove(mid);
            sa.Protector!.EndExchange(mid);
            Answered(sa, started.Waits, attributes);
            return;
        }
        if (sa.MessageIdUsed(mid))
        {
            Drop(sa, IkeDropReason.InvalidMessageId, "message ID of a finished exchange");
            return;
        }
        if (attributes.MessageType != CfgMessageType.Request || sa.IsInitiator || sa.State != V1Phase1State.Established ||
            sa.ModeConfig?.State == ModeConfigState.SetSent)
        {
            // A reply, set or ack nobody asked for; Mode Config before XAUTH succeeded (or while our push is pending); or a
            // request to our initiator (we are no XAUTH or Mode Config client).
            Drop(sa, IkeDropReason.UnexpectedExchange, $"CFG type {attributes.MessageType} not expected in {sa.State}");
            return;
        }
        sa.CommitReceived(message);
        var modeConfig = sa.ModeConfig ??= NewModeConfig(sa);
        bool first = modeConfig.State == ModeConfigState.Idle;
        var reply = modeConfig.ProcessRequest(attributes)!;
        sa.Send(V1ExchangeType.Transaction, mid, V1Hashes.WithHash1(sa, mid, [reply]), encrypt: true, request: false);
        sa.Protector!.EndExchange(mid);
        if (first) Assigned(sa, "pull");
    }

    private static void Answered(IkeV1Sa sa, Pending waits, AttributePayload attributes)
    {
        var xauth = sa.Xauth;
        switch (waits)
        {
            case Pending.XauthReply when xauth is not null:
                var credentials = xauth.ProcessReply(attributes);
                if (credentials is not null)
                {
                    bool ok;
                    try
                    {
                        ok = XauthSecrets.Verify(sa.Context.Resolver, V1Identities.Local(sa, sa.Connection!), credentials);
                    }
                    finally
                    {
                        CryptographicOperations.ZeroMemory(credentials.Password);
                    }
                    Start(sa, Pending.XauthAck, xauth.Verified(ok));
                }
                else if (xauth.State == XauthState.StatusSent)
                {
                    Start(sa, Pending.XauthAck, xauth.BuildStatus());
                }
                else
                {
                    XauthEnded(sa, xauth);
                }
                break;
            case Pending.XauthAck when xauth is not null:
                xauth.ProcessAck(attributes);
                XauthEnded(sa, xauth);
                break;
            case Pending.ModeConfigAck when sa.ModeConfig is { } modeConfig:
                if (!modeConfig.ProcessAck(attributes)) Drop(sa, IkeDropReason.UnexpectedExchange, $"CFG type {attributes.MessageType} instead of the ACK of our push");
                break;
            default:
                Drop(sa, IkeDropReason.UnexpectedExchange, "an answer to no exchange of ours");
                break;
        }
    }

    /// <summary>XAUTH finished: success establishes the SA (and pushes Mode Config with <c>pull: no</c>); failure closes it.</summary>
    private static void XauthEnded(IkeV1Sa sa, XauthServer xauth)
    {
        if (xauth.State == XauthState.Succeeded)
        {
            sa.XauthUser = xauth.User;
            sa.Context.Metrics.CountLogin(AuthConfig.Xauth, null);
            sa.Emit(new V1RemoteAccessEvent(V1RemoteAccessKind.XauthSucceeded, xauth.User?.Text ?? "", ""));
            sa.Establish(sa.Suite.ToString());
            if (!sa.Connection!.Pull && sa.Connection.Pools.Count > 0)
            {
                var modeConfig = sa.ModeConfig = NewModeConfig(sa);
                Start(sa, Pending.ModeConfigAck, modeConfig.BuildSet(Identifier()));
                Assigned(sa, "push");
            }
            return;
        }
        if (xauth.State != XauthState.Failed) return;
        Report(sa, xauth);
        sa.Fail(CloseReason.AuthFailed);
    }

    /// <summary>The retransmissions of an XAUTH message gave up, or XAUTH passed its deadline: counted (the SA then closes as Timeout).</summary>
    internal static void TimedOut(IkeV1Sa sa)
    {
        if (sa.Xauth is not { } xauth || xauth.State == XauthState.Succeeded) return;
        xauth.Abort(XauthFailure.Timeout);
        Report(sa, xauth);
    }

    /// <summary>A failed XAUTH counted once, as a login failure of method xauth, and logged by the host (PeerAuthFailed).</summary>
    private static void Report(IkeV1Sa sa, XauthServer xauth)
    {
        if (sa.XauthReported) return;
        sa.XauthReported = true;
        var reason = xauth.Failure == XauthFailure.Timeout ? AuthFailure.XauthTimeout : AuthFailure.XauthFailed;
        sa.Context.Metrics.CountAuthFailure(false, reason);
        sa.Context.Metrics.CountLogin(AuthConfig.Xauth, reason);
        sa.Emit(new PeerAuthFailed(reason, xauth.User?.Text ?? sa.RemoteId?.Text ?? "", $"XAUTH: {xauth.Failure}"));
    }

    private static ModeConfigServer NewModeConfig(IkeV1Sa sa) =>
        new(sa.Context.Pools, sa.Connection!.Pools, sa.VirtualIps, sa.LeaseIdentity ?? Identity.AnyIdentity, sa.RemoteEndpoint);

    private static void Assigned(IkeV1Sa sa, string mode)
    {
        var user = sa.LeaseIdentity?.Text ?? "";
        sa.Emit(sa.VirtualIps.Failed
            ? new V1RemoteAccessEvent(V1RemoteAccessKind.ModeConfigNoAddress, user, string.Join(",", sa.Connection!.Pools))
            : new V1RemoteAccessEvent(V1RemoteAccessKind.ModeConfigAssigned, user, $"{string.Join(",", sa.VirtualIps.All)} by {mode}"));
    }

    /// <summary>Our request in a new Transaction exchange, retransmitted until its answer.</summary>
    private static void Start(IkeV1Sa sa, Pending waits, AttributePayload attributes)
    {
        uint mid = sa.NewMessageId();
        sa.Exchanges.Set(mid, new Started(waits));
        sa.Send(V1ExchangeType.Transaction, mid, V1Hashes.WithHash1(sa, mid, [attributes]), encrypt: true, request: true);
    }

    private static void Drop(IkeV1Sa sa, IkeDropReason reason, string why)
    {
        sa.Context.Metrics.CountDrop(reason);
        sa.Emit(new V1RemoteAccessEvent(V1RemoteAccessKind.Dropped, "", why));
    }

    private static ushort Identifier() => BinaryPrimitives.ReadUInt16BigEndian(RandomNumberGenerator.GetBytes(2));
}

/// <summary>The registration of the Transaction exchange (v1core's slot).</summary>
public static partial class V1Exchanges
{
    static partial void AddTransaction(Registry registry) => registry.Add(TransactionExchange.Instance);
}

/// <summary>v1core's hook after main mode authenticated the peer: the XAUTH round of a connection that has one.</summary>
public sealed partial class MainMode
{
    static partial void ContinueAfterAuthentication(IkeV1Sa sa, ref bool continued) => continued = TransactionExchange.StartAfterPhase1(sa);
}

/// <summary>We announce XAUTH (its Vendor ID) on connections with an XAUTH round, as strongSwan does.</summary>
public static partial class V1VendorIds
{
    static partial void AnnounceXauth(IkeV1Sa sa, ref bool announce) => announce = sa.Connection?.RemoteXauth is not null;
}
