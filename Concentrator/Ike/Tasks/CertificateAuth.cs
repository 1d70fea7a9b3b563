using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Crypto;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;
using Concentrator.Telemetry;

namespace Concentrator.Ike.Tasks;

/// <summary>
/// The certificate side of IKE_AUTH for <see cref="IkeAuthTask"/> (strongSwan's ike_cert_pre/ike_cert_post and
/// pubkey_authenticator): our signature AUTH, our CERT and CERTREQ payloads, and the check of a peer's signature AUTH.
/// </summary>
internal static class CertificateAuth
{
    /// <summary>AUTH methods that carry a signature (RFC 7296 §3.8, RFC 7427); DSS (3) is not among them here.</summary>
    public static bool IsSignature(AuthMethod method) => method is AuthMethod.RsaDigitalSignature or AuthMethod.EcdsaSha256P256
        or AuthMethod.EcdsaSha384P384 or AuthMethod.EcdsaSha512P521 or AuthMethod.DigitalSignature;

    /// <summary>
    /// Our AUTH payload over <paramref name="octets"/> (RFC 7296 §2.15) with the local round's certificate key: RFC 7427
    /// with a hash the peer announced, else the classic method; null when the key cannot sign for this peer.
    /// </summary>
    public static AuthPayload? Sign(IkeSa sa, AuthConfig local, byte[] octets) =>
        local.Certificate is { } own && SignatureAuth.Sign(own.Key, sa.PeerSignatureHashes, local.RsaPss, octets) is var (method, data, _)
            ? new AuthPayload(method, data)
            : null;

    /// <summary>
    /// CERT payloads for our end entity and its intermediates after a signature AUTH (never with PSK), as swanctl's
    /// send_cert says: always, never, or if the peer sent a CERTREQ (strongSwan's ike_cert_post).
    /// </summary>
    public static IEnumerable<CertPayload> Certificates(IkeSa sa, ConnectionConfig connection)
    {
        if (connection.Local.Certificate is not { } own || connection.SendCert == SendCertPolicy.Never ||
            (connection.SendCert == SendCertPolicy.IfAsked && !sa.PeerRequestedCertificate))
        {
            yield break;
        }
        yield return new CertPayload(PayloadType.Certificate, CertEncoding.X509Signature, own.Certificate.RawData);
        foreach (var ca in own.Intermediates) yield return new CertPayload(PayloadType.Certificate, CertEncoding.X509Signature, ca.RawData);
    }

    /// <summary>
    /// A CERTREQ naming the CAs of the connections' remote pubkey rounds with send_certreq (RFC 7296 §3.7: the SHA-1 of
    /// each CA's SubjectPublicKeyInfo, concatenated); null when none has any.
    /// </summary>
    public static CertPayload? Request(IEnumerable<ConnectionConfig> connections)
    {
        var ids = new List<byte[]>();
        foreach (var connection in connections)
        {
            if (!connection.SendCertReq || connection.Remote is not { IsPubKey: true, Trust: { } trust }) continue;
            foreach (var id in trust.CaKeyIds)
            {
                if (!ids.Any(known => known.AsSpan().SequenceEqual(id))) ids.Add(id);
            }
        }
        return ids.Count == 0 ? null : new CertPayload(PayloadType.CertificateRequest, CertEncoding.X509Signature, ids.SelectMany(i => i).ToArray());
    }

    /// <summary>Whether the message carries a CERTREQ for X.509 certificates (strongSwan's COND_CERTREQ_SEEN).</summary>
    public static bool Requests(IkeMessage message) =>
        message.GetAll<CertPayload>().Any(c => c.Type == PayloadType.CertificateRequest && c.Encoding == CertEncoding.X509Signature);

    /// <summary>
    /// The outcome of <see cref="Verify"/>: the connection that trusts the peer, or why none does; <paramref name="Unverified"/>
    /// when trusted although OCSP gave no answer that decides (<see cref="TrustVerdict.Unverified"/>); <paramref name="Pending"/>
    /// when OCSP requests must be made first (<paramref name="Fetch"/>).
    /// </summary>
    public readonly record struct Verdict(ConnectionConfig? Connection, AuthFailure Failure, string Detail, string? Subject, string? Unverified = null,
        OcspFetch? Fetch = null)
    {
        public bool Pending => Fetch is not null;
    }

    /// <summary>
    /// Checks the peer's signature AUTH against <paramref name="candidates"/>, best first: the end entity is the first
    /// X.509 CERT payload (RFC 7296 §3.6), or without one a pinned certificate (remote.certs) that names the peer; it must
    /// name <paramref name="peer"/> (<see cref="CertificateIdentity"/>), its key must verify the AUTH over
    /// <paramref name="octets"/>, and the candidate's <see cref="PeerTrust"/> must accept it. The first candidate that
    /// trusts it wins; otherwise the first candidate's reason is reported. Peer bytes never throw out of here.
    /// </summary>
    /// <remarks>With <paramref name="mayDefer"/>, no OCSP request is made here: the verdict is pending with the requests.</remarks>
    public static Verdict Verify(IReadOnlyList<ConnectionConfig> candidates, IkeMessage message, Identity peer, AuthPayload auth, byte[] octets,
        ConcentratorMetrics? metrics = null, bool mayDefer = false) =>
        Verify(candidates,
            message.GetAll<CertPayload>().Where(c => c.Type == PayloadType.Certificate && c.Encoding == CertEncoding.X509Signature).Select(c => c.Data),
            peer, auth.Method.ToString(), endEntity => SignatureAuth.Verify(auth.Method, auth.Data, endEntity, octets, out _), metrics, mayDefer);

    /// <summary>
    /// <see cref="Verify(IReadOnlyList{ConnectionConfig}, IkeMessage, Identity, AuthPayload, byte[], ConcentratorMetrics?, bool)"/>
    /// for any IKE version: <paramref name="x509Certificates"/> are the DER certificates the peer sent (end entity first),
    /// <paramref name="checkSignature"/> checks the peer's signature with a certificate's key, <paramref name="method"/>
    /// names it for the log.
    /// </summary>
    internal static Verdict Verify(IReadOnlyList<ConnectionConfig> candidates, IEnumerable<byte[]> x509Certificates, Identity peer, string method,
        Func<X509Certificate2, SignatureCheck> checkSignature, ConcentratorMetrics? metrics, bool mayDefer)
    {
        var received = new List<X509Certificate2>();
        try
        {
            int count = 0;
            foreach (var der in x509Certificates)
            {
                if (++count > PeerTrust.MaxPeerCertificates)
                {
                    return new(null, AuthFailure.MalformedCertificate, $"more than {PeerTrust.MaxPeerCertificates} certificates", null);
                }
                try
                {
                    received.Add(X509CertificateLoader.LoadCertificate(der));
                }
                catch (CryptographicException)
                {
                    return new(null, AuthFailure.MalformedCertificate, $"CERT payload {count} is not an X.509 certificate", null);
                }
            }
            return VerifyWith(candidates, received, peer, method, checkSignature, metrics, mayDefer);
        }
        finally
        {
            foreach (var c in received) c.Dispose();
        }
    }

    private static Verdict VerifyWith(IReadOnlyList<ConnectionConfig> candidates, List<X509Certificate2> received, Identity peer,
        string method, Func<X509Certificate2, SignatureCheck> checkSignature, ConcentratorMetrics? metrics, bool mayDefer)
    {
        Verdict? first = null;
        var checkedSignatures = new Dictionary<X509Certificate2, SignatureCheck>(ReferenceEqualityComparer.Instance);
        var now = DateTime.UtcNow;
        foreach (var candidate in candidates)
        {
            var trust = candidate.Remote.Trust;
            var endEntity = received.Count > 0 ? received[0] : trust?.PinnedCertificates.FirstOrDefault(p => CertificateIdentity.Binds(p, peer));
            Verdict verdict;
            if (trust is null || endEntity is null)
            {
                verdict = new(null, AuthFailure.NoCertificate, "no CERT payload and no certificate of remote.certs names the peer", null);
            }
            else if (!CertificateIdentity.Binds(endEntity, peer))
            {
                verdict = new(null, AuthFailure.IdentityMismatch, $"not in the certificate {CertificateIdentity.Describe(endEntity)}", null);
            }
            else
            {
                if (!checkedSignatures.TryGetValue(endEntity, out var signature))
                {
                    signature = checkSignature(endEntity);
                    checkedSignatures[endEntity] = signature;
                }
                string subject = CertificateIdentity.Describe(endEntity);
                if (signature != SignatureCheck.Valid)
                {
                    verdict = signature == SignatureCheck.Invalid
                        ? new(null, AuthFailure.BadSignature, $"{method} signature does not verify with {subject}", subject)
                        : new(null, AuthFailure.UnsupportedMethod, $"{method} with this algorithm or key is not accepted ({subject})", subject);
                }
                else
                {
                    var defer = mayDefer && trust.Ocsp is not null ? new List<(byte[], byte[], bool)>() : null;
                    var result = trust.Check(endEntity, received, now, metrics, defer);
                    if (result.Pending) return new(null, default, result.Detail, subject, Fetch: new OcspFetch(trust.Ocsp!, defer!));
                    if (result.Trusted) return new(candidate, default, result.Detail, subject, result.Unverified);
                    verdict = new(null, result.Failure!.Value, $"{subject}: {result.Detail}", subject);
                }
            }
            first ??= verdict;
        }
        return first ?? new(null, AuthFailure.NoConnection, "no connection", null);
    }
}
