using Concentrator.Ike.Sa;
using Concentrator.Ike.Sa.V1;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Tasks.V1;

/// <summary>
/// A cleartext informational message during phase 1: the peer refusing our proposal or our authentication
/// (RFC 2408 §5: NO-PROPOSAL-CHOSEN, AUTHENTICATION-FAILED, INVALID-...). Unauthenticated, so it ends only a phase 1
/// that is still negotiating (as strongSwan does) and never an established SA; anything else is dropped.
/// </summary>
public sealed class V1Phase1Notify : IV1ExchangeHandler
{
    public static readonly V1Phase1Notify Instance = new();

    public V1ExchangeType Exchange => V1ExchangeType.Informational;

    public void Handle(IkeV1Sa sa, V1Received message)
    {
        if (sa.State is V1Phase1State.Established or V1Phase1State.Deleting or V1Phase1State.Authenticating ||
            message.Find<V1NotificationPayload>() is not { IsError: true } notify)
        {
            sa.Context.Metrics.CountDrop(IkeDropReason.NotAuthenticated);
            return;
        }
        sa.Emit(new PeerAuthFailed(AuthFailure.RefusedByPeer, sa.RemoteId?.Text ?? "", $"peer sent {notify.NotifyType} in phase 1"));
        sa.Fail(notify.NotifyType switch
        {
            V1NotifyType.NoProposalChosen => CloseReason.NoProposal,
            V1NotifyType.AuthenticationFailed or V1NotifyType.InvalidHashInformation or V1NotifyType.InvalidSignature => CloseReason.AuthFailed,
            V1NotifyType.InvalidKeyInformation => CloseReason.InvalidKe,
            _ => CloseReason.InvalidSyntax,
        });
    }

    /// <summary>Sends an error notify in cleartext (phase 1 has no keys yet, or they are in doubt): RFC 2408 §5's answer.</summary>
    public static void Send(IkeV1Sa sa, V1NotifyType type)
    {
        byte[] spi = new byte[V1Constants.IsakmpSpiLength];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(spi, sa.CookieI);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(spi.AsSpan(8), sa.CookieR);
        sa.Send(V1ExchangeType.Informational, sa.NewMessageId(), [new V1NotificationPayload(type, V1ProtocolId.Isakmp, spi)], encrypt: false, request: false);
    }
}
