using Concentrator.Ipsec;

namespace Concentrator.Ike.Crypto;

/// <summary>The octets every AUTH method signs or MACs (RFC 7296 §2.15).</summary>
public static class AuthOctets
{
    /// <summary>
    /// RealMessage | Nonce of the peer | prf(SK_p, RestOfIDPayload): the initiator's own IKE_SA_INIT request, the
    /// responder's nonce and SK_pi over the body of IDi; the responder's response, the initiator's nonce and SK_pr over IDr.
    /// </summary>
    public static byte[] Build(PrfAlgorithm prf, ReadOnlySpan<byte> signedMessage, ReadOnlySpan<byte> peerNonce, ReadOnlySpan<byte> skP,
        ReadOnlySpan<byte> idBody)
    {
        var p = Prf.Create(prf);
        var octets = new byte[signedMessage.Length + peerNonce.Length + p.OutputLength];
        signedMessage.CopyTo(octets);
        peerNonce.CopyTo(octets.AsSpan(signedMessage.Length));
        p.Compute(skP, idBody, octets.AsSpan(signedMessage.Length + peerNonce.Length));
        return octets;
    }
}
