using Concentrator.Ike.Connections;
using Concentrator.Ike.Sa.V1;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Tasks.V1;

/// <summary>
/// What an aggressive mode first message may start: the connection (one with <c>aggressive: yes</c> for the address
/// pair whose remote identity matches the cleartext IDii and one of whose suites the offer contains), the suite, the
/// peer's identity and ID body; or, with <see cref="Connection"/> null, why not.
/// </summary>
public sealed record AggressiveFirst(ConnectionConfig? Connection, (V1Proposal Proposal, V1Transform Transform, V1Suite Suite)? Chosen,
    Identity? PeerId, byte[] PeerIdBody, V1SaPayload? Offer, string Why);

/// <summary>
/// The decision on an aggressive mode first message, made before any state exists (the supervisor asks it before it
/// creates a responder SA; the SA asks it again for the same answer). Refused: a message without exactly one SA, KE,
/// nonce and ID, an ID that names no peer, no IKEv1 connection with <c>aggressive: yes</c> for the address pair, none
/// whose remote identity matches, none whose proposals fit. strongSwan's responder answers such a message with
/// AUTHENTICATION-FAILED in a cleartext informational (aggressive_mode.c, after select_config fails); we send nothing:
/// a refusal keeps no state and reflects nothing towards an unauthenticated source, and the initiator times out.
/// </summary>
public static class AggressiveGate
{
    public static AggressiveFirst Check(byte[] datagram, IReadOnlyList<ConnectionConfig> candidates, int maxPayloads)
    {
        var status = IsakmpCodec.TryDecode(datagram, out var message, maxPayloads);
        if (status != ParseStatus.Ok || message is null || message.Header.Encrypted) return Refused($"malformed first message ({status})");
        return Check(message.Payloads, candidates);
    }

    public static AggressiveFirst Check(IReadOnlyList<V1Payload> payloads, IReadOnlyList<ConnectionConfig> candidates)
    {
        var offers = payloads.OfType<V1SaPayload>().ToList();
        var ids = payloads.OfType<V1IdPayload>().ToList();
        int kes = payloads.Count(p => p.Type == V1PayloadType.KeyExchange);
        int nonces = payloads.Count(p => p.Type == V1PayloadType.Nonce);
        if (offers.Count != 1 || ids.Count != 1 || kes != 1 || nonces != 1) return Refused("not one each of SA, KE, nonce and ID");
        if (V1Identities.FromPayload(ids[0]) is not { } peer) return Refused("the ID names no peer");
        var aggressive = candidates.Where(c => c.Version == 1 && c.Aggressive).ToList();
        if (aggressive.Count == 0) return Refused("no IKEv1 connection with aggressive: yes for this address pair");
        bool identityMatched = false;
        foreach (var conn in aggressive.OrderByDescending(c => c.Remote.Identity.Match(peer)))
        {
            if (conn.Remote.Identity.Match(peer) == IdMatch.None) continue;
            identityMatched = true;
            if (V1Phase1Proposals.Select(offers[0], conn) is { } chosen)
            {
                return new AggressiveFirst(conn, chosen, peer, V1Identities.Body(ids[0]), offers[0], "");
            }
        }
        return Refused(identityMatched
            ? $"no proposal fits an aggressive connection for {peer.Text}"
            : $"no aggressive connection accepts identity {peer.Text}");
    }

    private static AggressiveFirst Refused(string why) => new(null, null, null, [], null, why);
}
