using System.Net;
using Concentrator.Ike.Wire.V1;

namespace Concentrator.Ike.Tasks.V1;

/// <summary>What the NAT-OA payloads of a quick mode message say.</summary>
public enum V1NatOaCheck
{
    /// <summary>None sent (tunnel mode, or no NAT-T).</summary>
    Absent = 0,
    Ok,
    /// <summary>More than two, or of different address families: the message is refused.</summary>
    Malformed,
}

/// <summary>
/// The NAT traversal pieces of IKEv1 that are not phase 1's detection: keepalives (RFC 3948 §2.3) and NAT-OA in quick
/// mode (RFC 3947 §5.2), as charon does them.
/// </summary>
public static class V1NatT
{
    /// <summary>
    /// The NAT-T keepalive period of a phase 1 SA: charon.keep_alive, but only when phase 1 found us behind a NAT (our
    /// NAT-D hash did not match, RFC 3947 §3.2) and floated to 4500; the peer drops the one 0xFF octet (RFC 3948 §2.2).
    /// Null: no keepalives.
    /// </summary>
    public static TimeSpan? KeepaliveInterval(bool natT, bool behindNat, TimeSpan? keepAlive) =>
        natT && behindNat && keepAlive is { } interval && interval > TimeSpan.Zero ? interval : null;

    /// <summary>RFC 3947 §5.2: NAT-OA is sent for UDP-encapsulated transport mode only.</summary>
    public static bool NatOaRequired(bool udpEncapsulated, bool transportMode) => udpEncapsulated && transportMode;

    /// <summary>
    /// The two NAT-OA payloads charon sends in quick mode messages 1 and 2: first the initiator's address, then the
    /// responder's, each as this end sees it (the message's source and destination). <paramref name="draft"/>: the peer
    /// negotiated the NAT-T drafts (payload type 131).
    /// </summary>
    public static NatOaPayload[] BuildNatOa(IPAddress initiator, IPAddress responder, bool draft) =>
        [new NatOaPayload(initiator.GetAddressBytes(), draft), new NatOaPayload(responder.GetAddressBytes(), draft)];

    /// <summary>
    /// The original addresses a peer's quick mode message carries: at most two NAT-OA payloads (RFC 3947 §5.2; the drafts
    /// sent one, the initiator's) of one address family, the first the initiator's. charon reads none of them; they
    /// matter only for a transport mode checksum fix-up.
    /// </summary>
    public static V1NatOaCheck ReadNatOa(IReadOnlyList<V1Payload> payloads, out IPAddress? initiator, out IPAddress? responder)
    {
        initiator = responder = null;
        NatOaPayload? first = null, second = null;
        foreach (var p in payloads)
        {
            if (p is not NatOaPayload oa) continue;
            if (first is null) first = oa;
            else if (second is null) second = oa;
            else return V1NatOaCheck.Malformed;
        }
        if (first is null) return V1NatOaCheck.Absent;
        if (second is not null && second.Address.Length != first.Address.Length) return V1NatOaCheck.Malformed;
        initiator = new IPAddress(first.Address);
        responder = second is null ? null : new IPAddress(second.Address);
        return V1NatOaCheck.Ok;
    }
}
