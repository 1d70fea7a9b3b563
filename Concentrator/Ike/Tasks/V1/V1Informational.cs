using System.Buffers.Binary;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Tasks.V1;

/// <summary>
/// The payloads of the ISAKMP Informational exchanges we send (RFC 2408 §4.8, RFC 2409 §5.7), after charon's
/// informational, isakmp_delete and quick_delete tasks: our own failures, and our teardown's Deletes. The HASH(1) in
/// front and the encryption are <see cref="V1Hashes"/>' and the SA's (<c>IkeV1Sa.SendInformational</c>).
/// </summary>
public static class V1Informational
{
    /// <summary>
    /// strongSwan's send_notify: our own failure is told with an ISAKMP-level Notification in a new informational, but
    /// never in answer to an informational (two ends answering each other's notifies would never stop).
    /// </summary>
    public static bool AnswersWithNotify(V1ExchangeType failedExchange) => failedExchange != V1ExchangeType.Informational;

    /// <summary>The Notification we send when an exchange of ours fails for <paramref name="reason"/> (RFC 2408 §3.14.1).</summary>
    public static V1NotificationPayload ErrorNotify(CloseReason reason) => new(reason switch
    {
        CloseReason.NoProposal => V1NotifyType.NoProposalChosen,
        CloseReason.AuthFailed => V1NotifyType.AuthenticationFailed,
        CloseReason.TsUnacceptable => V1NotifyType.InvalidIdInformation,
        CloseReason.InvalidKe => V1NotifyType.InvalidKeyInformation,
        _ => V1NotifyType.PayloadMalformed,
    }, V1ProtocolId.Isakmp);

    /// <summary>The ISAKMP SPI of Delete and DPD payloads: both cookies (RFC 2408 §3.15, RFC 3706 §5.3).</summary>
    public static byte[] IsakmpSpi(ulong initiatorCookie, ulong responderCookie)
    {
        var spi = new byte[V1Constants.IsakmpSpiLength];
        BinaryPrimitives.WriteUInt64BigEndian(spi, initiatorCookie);
        BinaryPrimitives.WriteUInt64BigEndian(spi.AsSpan(V1Constants.CookieLength), responderCookie);
        return spi;
    }

    /// <summary>
    /// What we send when we tear an SA down, in charon's order: one informational per Child SA with its inbound SPI (the
    /// SPI the peer sends to), then one that deletes the ISAKMP SA. Each list is one message's payloads.
    /// </summary>
    public static List<List<V1Payload>> TeardownDeletes(ulong initiatorCookie, ulong responderCookie,
        IEnumerable<(V1ProtocolId Protocol, uint InboundSpi)> children)
    {
        var messages = new List<List<V1Payload>>();
        foreach (var (protocol, spi) in children)
        {
            var bytes = new byte[V1Constants.IpsecSpiLength];
            BinaryPrimitives.WriteUInt32BigEndian(bytes, spi);
            messages.Add([new V1DeletePayload(protocol, [bytes])]);
        }
        messages.Add([new V1DeletePayload(V1ProtocolId.Isakmp, [IsakmpSpi(initiatorCookie, responderCookie)])]);
        return messages;
    }
}
