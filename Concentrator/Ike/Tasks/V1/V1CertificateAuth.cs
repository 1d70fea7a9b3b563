using System.Security.Cryptography.X509Certificates;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Crypto;
using Concentrator.Ike.Crypto.V1;
using Concentrator.Ike.Wire;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;
using Concentrator.Telemetry;

namespace Concentrator.Ike.Tasks.V1;

/// <summary>
/// The certificate side of IKEv1 phase 1 (strongSwan's isakmp_cert_pre/isakmp_cert_post and pubkey_v1_authenticator):
/// the signature method our key implies, our SIG, CERT and CR payloads, and the check of a peer's SIG with its
/// certificate. Trust, identity binding and revocation are IKEv2's (<see cref="CertificateAuth"/>, <see cref="PeerTrust"/>,
/// <see cref="CertificateIdentity"/>); only the signature format differs (<see cref="V1SignatureAuth"/>).
/// Main mode: the responder sends CR in message 4 and reads the initiator's in message 3 or 5 (charon sends it in 5);
/// CERT and SIG travel in messages 5 and 6. Aggressive mode: CR in messages 1 and 2, CERT and SIG in 2 and 3.
/// </summary>
internal static class V1CertificateAuth
{
    /// <summary>CR payloads beyond this many are not read (a peer asks for a handful of CAs).</summary>
    public const int MaxPeerRequests = 16;

    /// <summary>The signature method a local pubkey round proposes (strongSwan's phase1 get_auth_method): by its key; null without one.</summary>
    public static Phase1AuthMethod? MethodFor(AuthConfig local) =>
        local.Certificate is { } own ? V1SignatureAuth.MethodFor(own.Key) : null;

    /// <summary>The SIG payload over HASH_I or HASH_R with our certificate's key for <paramref name="method"/>.</summary>
    public static V1DataPayload Sign(AuthConfig local, Phase1AuthMethod method, ReadOnlySpan<byte> hash) =>
        new(V1PayloadType.Signature, V1SignatureAuth.Sign(
            local.Certificate?.Key ?? throw new InvalidOperationException("a signature round without a certificate"), method, hash));

    /// <summary>
    /// CERT payloads (X.509 Signature) for our end entity and then its intermediates, as swanctl's send_cert says: always,
    /// never, or when the peer sent a CR (strongSwan's isakmp_cert_post build_certs).
    /// </summary>
    public static IEnumerable<V1CertPayload> Certificates(ConnectionConfig connection, bool peerRequested)
    {
        if (connection.Local.Certificate is not { } own || connection.SendCert == SendCertPolicy.Never ||
            (connection.SendCert == SendCertPolicy.IfAsked && !peerRequested))
        {
            yield break;
        }
        yield return new V1CertPayload(V1CertEncoding.X509Signature, own.Certificate.RawData);
        foreach (var ca in own.Intermediates) yield return new V1CertPayload(V1CertEncoding.X509Signature, ca.RawData);
    }

    /// <summary>
    /// One CR per CA of the connections' remote pubkey rounds with send_certreq, naming the CA by its DER subject DN
    /// (RFC 2408 §3.10; strongSwan's certreq_payload_create_dn), each DN once.
    /// </summary>
    public static IEnumerable<V1CertPayload> Requests(IEnumerable<ConnectionConfig> connections)
    {
        var seen = new List<byte[]>();
        foreach (var connection in connections)
        {
            if (!connection.SendCertReq || connection.Remote is not { IsPubKey: true, Trust: { } trust }) continue;
            foreach (var ca in trust.CaCertificates)
            {
                var dn = ca.SubjectName.RawData;
                if (seen.Any(known => known.AsSpan().SequenceEqual(dn))) continue;
                seen.Add(dn);
                yield return new V1CertPayload(V1CertEncoding.X509Signature, dn, request: true);
            }
        }
    }

    /// <summary>Whether the payloads carry a CR for X.509 certificates (strongSwan's COND_CERTREQ_SEEN).</summary>
    public static bool Requested(IEnumerable<V1Payload> payloads) =>
        payloads.OfType<V1CertPayload>().Take(MaxPeerRequests)
            .Any(c => c.Type == V1PayloadType.CertificateRequest && c.Encoding == V1CertEncoding.X509Signature);

    /// <summary>
    /// Checks the peer's SIG over <paramref name="hash"/> (its HASH_I or HASH_R): the first X.509 CERT is its end entity
    /// (or, without one, a pinned certificate of remote.certs naming it), which must name <paramref name="peer"/> (the ID
    /// payload's identity) and verify the signature, and the candidate's <see cref="PeerTrust"/> (CAs, CRLs, OCSP,
    /// remote.revocation) must accept it. The first candidate that trusts it wins. OCSP is asked in line, within the
    /// checker's budget. Never throws on peer input.
    /// </summary>
    public static CertificateAuth.Verdict Verify(IReadOnlyList<ConnectionConfig> candidates, IEnumerable<V1Payload> payloads, Identity peer,
        Phase1AuthMethod method, byte[] signature, byte[] hash, ConcentratorMetrics? metrics = null)
    {
        if (!V1SignatureAuth.IsSignature(method)) return new(null, AuthFailure.UnsupportedMethod, $"{method} is not a signature method", null);
        var certificates = payloads.OfType<V1CertPayload>()
            .Where(c => c.Type == V1PayloadType.Certificate && c.Encoding == V1CertEncoding.X509Signature)
            .Select(c => c.Data);
        return CertificateAuth.Verify(candidates, certificates, peer, method.ToString(),
            (X509Certificate2 endEntity) => V1SignatureAuth.Verify(method, signature, endEntity, hash), metrics, mayDefer: false);
    }
}
