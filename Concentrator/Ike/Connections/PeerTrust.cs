using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Concentrator.Ike.Crypto;
using Concentrator.Ipsec;
using Concentrator.Telemetry;

namespace Concentrator.Ike.Connections;

/// <summary>swanctl's remote.revocation: what a missing or stale CRL, or an OCSP check without a good or revoked answer, means.</summary>
public enum RevocationPolicy
{
    /// <summary>
    /// A certificate on a CRL or that OCSP says is revoked fails; without a current CRL or OCSP answer it passes
    /// (swanctl's default). Only the responders of <c>authorities</c> are asked, never a certificate's AIA.
    /// </summary>
    Relaxed = 0,
    /// <summary>Every certificate of the chain below the root needs a current CRL of its issuer or a good OCSP answer.</summary>
    Strict,
    /// <summary>As strict, for certificates that name a CRL distribution point or have an OCSP responder (configured or AIA).</summary>
    IfUri,
}

/// <summary>
/// The outcome of <see cref="PeerTrust.Check"/>: no failure, or why and a line for the log. <paramref name="Unverified"/>:
/// trusted although an OCSP responder gave no good or revoked answer (remote.revocation relaxed), for a warning.
/// </summary>
/// <paramref name="Pending"/>: undecided until the OCSP requests the caller's defer list holds are made.
public readonly record struct TrustVerdict(AuthFailure? Failure, string Detail, string? Unverified = null, bool Pending = false)
{
    public bool Trusted => Failure is null && !Pending;
}

/// <summary>
/// What a remote <c>auth: pubkey</c> round accepts, loaded: the CA certificates of remote.cacerts (the self-signed ones
/// are the only trust anchors; never the operating system's store), the pinned certificates of remote.certs, the CRLs of
/// the top-level <c>crls</c> and remote.revocation. Thread-safe and read-only once loaded.
/// </summary>
public sealed class PeerTrust
{
    /// <summary>CERT payloads beyond this many are not read (a chain this deep is no remote-access client's).</summary>
    public const int MaxPeerCertificates = 8;

    private static readonly string[] IkeUsages =
    [
        "1.3.6.1.5.5.7.3.1", // serverAuth
        "1.3.6.1.5.5.7.3.2", // clientAuth
        "1.3.6.1.5.5.7.3.17", // id-kp-ipsecIKE (RFC 4945)
        "2.5.29.37.0", // anyExtendedKeyUsage
        "1.3.6.1.5.5.8.2.2", // iKEIntermediate (Windows)
    ];

    private readonly Lazy<IReadOnlyList<byte[]>> _caKeyIds;

    public PeerTrust() => _caKeyIds = new(() => CaCertificates.Select(c => SHA1.HashData(c.PublicKey.ExportSubjectPublicKeyInfo())).ToList());

    public IReadOnlyList<X509Certificate2> CaCertificates { get; init; } = [];
    public IReadOnlyList<X509Certificate2> PinnedCertificates { get; init; } = [];
    public IReadOnlyList<RevocationList> RevocationLists { get; init; } = [];
    public RevocationPolicy Revocation { get; init; }

    /// <summary>The OCSP responders of the top-level <c>authorities</c> and of AIA (one checker per loaded config); null asks none.</summary>
    public OcspChecker? Ocsp { get; init; }

    /// <summary>The CA key identifiers a CERTREQ carries: SHA-1 of each CA's SubjectPublicKeyInfo (RFC 7296 §3.7).</summary>
    public IReadOnlyList<byte[]> CaKeyIds => _caKeyIds.Value;

    /// <summary>
    /// Whether <paramref name="endEntity"/> may authenticate a peer: a pinned certificate when remote.certs is set; valid
    /// now; key usage (when present) with digitalSignature or nonRepudiation and extended key usage (when present) with
    /// serverAuth, clientAuth, ipsecIKE, iKEIntermediate or any; with remote.cacerts a chain to one of their self-signed
    /// CAs through the configured and <paramref name="peerCertificates"/> CA certificates (X509Chain with custom root
    /// trust, no downloads), every certificate valid, the CAs allowed to sign, none on its issuer's CRL or revoked by OCSP.
    /// OCSP requests and cache hits are counted in <paramref name="metrics"/>. With <paramref name="defer"/>, an OCSP
    /// request is not made here: it is added to the list and the verdict is pending.
    /// </summary>
    public TrustVerdict Check(X509Certificate2 endEntity, IReadOnlyList<X509Certificate2> peerCertificates, DateTime nowUtc,
        ConcentratorMetrics? metrics = null, List<(byte[] Certificate, byte[] Issuer, bool UseAia)>? defer = null)
    {
        if (PinnedCertificates.Count > 0 && !PinnedCertificates.Any(p => p.RawData.AsSpan().SequenceEqual(endEntity.RawData)))
        {
            return new(AuthFailure.Untrusted, "not one of the certificates of remote.certs");
        }
        if (nowUtc < endEntity.NotBefore.ToUniversalTime() || nowUtc > endEntity.NotAfter.ToUniversalTime())
        {
            return new(AuthFailure.Expired, $"valid {endEntity.NotBefore.ToUniversalTime():u} to {endEntity.NotAfter.ToUniversalTime():u}");
        }
        if (UsageProblem(endEntity) is { } usage) return new(AuthFailure.KeyUsage, usage);
        if (CaCertificates.Count == 0) return new(null, "pinned");

        using var chain = new X509Chain();
        var policy = chain.ChainPolicy;
        policy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        policy.RevocationMode = X509RevocationMode.NoCheck;
        policy.DisableCertificateDownloads = true;
        policy.VerificationTime = nowUtc;
        policy.VerificationTimeIgnored = false;
        foreach (var ca in CaCertificates)
        {
            (IsSelfSigned(ca) ? policy.CustomTrustStore : policy.ExtraStore).Add(ca);
        }
        foreach (var c in peerCertificates)
        {
            if (!ReferenceEquals(c, endEntity)) policy.ExtraStore.Add(c);
        }
        try
        {
            bool built = chain.Build(endEntity);
            var elements = chain.ChainElements.Select(e => e.Certificate).ToList();
            try
            {
                if (!built) return ChainFailure(chain);
                return CheckRevocation(elements, nowUtc, metrics, defer);
            }
            finally
            {
                foreach (var e in elements)
                {
                    if (!ReferenceEquals(e, endEntity)) e.Dispose();
                }
            }
        }
        catch (CryptographicException e)
        {
            return new(AuthFailure.Untrusted, "chain not built: " + e.Message);
        }
    }

    /// <summary>
    /// Local CRLs first (a listed certificate fails without a request), then OCSP where a responder applies: revoked
    /// fails, good counts as current; anything else leaves the status unknown for remote.revocation to judge. The
    /// certificate's AIA responder is asked only under strict and ifuri.
    /// </summary>
    private TrustVerdict CheckRevocation(IReadOnlyList<X509Certificate2> chain, DateTime nowUtc, ConcentratorMetrics? metrics,
        List<(byte[] Certificate, byte[] Issuer, bool UseAia)>? defer)
    {
        bool pending = false;
        bool useAia = Revocation != RevocationPolicy.Relaxed;
        long deadline = Ocsp?.StartBudget() ?? 0;
        string? unverified = null;
        for (int i = 0; i + 1 < chain.Count; i++)
        {
            var cert = chain[i];
            var issuer = chain[i + 1];
            bool current = false;
            foreach (var crl in RevocationLists)
            {
                if (!crl.IsIssuedBy(issuer)) continue;
                if (crl.RevokedAt(cert) is { } when)
                {
                    return new(AuthFailure.Revoked, $"serial {cert.SerialNumber} of \"{cert.Subject}\" revoked {when:u} ({crl.Source})");
                }
                current |= crl.NextUpdateUtc is not { } next || next >= nowUtc;
            }
            string ocspDetail = "";
            bool hasResponder = false;
            if (Ocsp is not null && Ocsp.Check(cert, issuer, useAia, nowUtc, metrics, deadline, defer) is { } answer)
            {
                hasResponder = true;
                if (answer.Pending)
                {
                    pending = true;
                    continue;
                }
                if (answer.Outcome == OcspOutcome.Revoked)
                {
                    return new(AuthFailure.Revoked, $"serial {cert.SerialNumber} of \"{cert.Subject}\" revoked by OCSP ({answer.Detail})");
                }
                current |= answer.Outcome == OcspOutcome.Good;
                ocspDetail = $"; OCSP {answer.Outcome}: {answer.Detail}";
            }
            bool needed = Revocation == RevocationPolicy.Strict ||
                          (Revocation == RevocationPolicy.IfUri && (hasResponder || RevocationList.HasDistributionPoint(cert)));
            if (needed && !current)
            {
                return new(AuthFailure.RevocationUnknown, $"no current CRL or good OCSP answer of \"{issuer.Subject}\" for \"{cert.Subject}\" (revocation {Revocation}){ocspDetail}");
            }
            // A current CRL of the issuer settles the status an OCSP responder could not.
            if (hasResponder && !current) unverified ??= $"\"{cert.Subject}\": {ocspDetail[2..]}";
        }
        if (pending) return new(null, "OCSP requests to make", Pending: true);
        return new(null, $"chain of {chain.Count} to \"{chain[^1].Subject}\"", unverified);
    }

    private static TrustVerdict ChainFailure(X509Chain chain)
    {
        var flags = chain.ChainStatus.Aggregate(X509ChainStatusFlags.NoError, (f, s) => f | s.Status);
        string detail = string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct());
        const X509ChainStatusFlags usage = X509ChainStatusFlags.InvalidBasicConstraints | X509ChainStatusFlags.NotValidForUsage;
        const X509ChainStatusFlags time = X509ChainStatusFlags.NotTimeValid;
        var rest = flags & ~(usage | time | X509ChainStatusFlags.NotTimeNested);
        if (rest != X509ChainStatusFlags.NoError) return new(AuthFailure.Untrusted, $"{rest}: {detail}");
        if ((flags & usage) != 0) return new(AuthFailure.KeyUsage, $"{flags & usage}: {detail}");
        return new(AuthFailure.Expired, $"{flags}: {detail}");
    }

    /// <summary>Why the end entity's key usage or extended key usage forbids IKE authentication; null when it allows it.</summary>
    public static string? UsageProblem(X509Certificate2 certificate)
    {
        foreach (var extension in certificate.Extensions)
        {
            if (extension is X509KeyUsageExtension ku &&
                (ku.KeyUsages & (X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.NonRepudiation)) == 0)
            {
                return $"key usage {ku.KeyUsages} has no digitalSignature";
            }
            if (extension is X509EnhancedKeyUsageExtension eku)
            {
                var oids = eku.EnhancedKeyUsages.Cast<Oid>().Select(o => o.Value).ToList();
                if (!oids.Any(o => IkeUsages.Contains(o)))
                {
                    return $"extended key usage {string.Join(", ", oids)} has none of serverAuth, clientAuth, ipsecIKE, iKEIntermediate, any";
                }
            }
        }
        return null;
    }

    private static bool IsSelfSigned(X509Certificate2 certificate) => certificate.SubjectName.RawData.AsSpan().SequenceEqual(certificate.IssuerName.RawData);
}
