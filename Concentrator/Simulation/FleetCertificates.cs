using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Concentrator.Ike.Connections;

namespace Concentrator.Simulation;

/// <summary>
/// Certificates for a fleet that authenticates with <c>auth pubkey</c>: peer i gets an end-entity certificate for its
/// identity (subject CN and subjectAltName dNSName, digitalSignature, clientAuth) issued by
/// <see cref="Issuer"/>, all over one shared key (a load generator needs many identities, not many keys); the
/// responder's certificate must chain to <see cref="Trust"/>'s CAs. Certificates are issued once per index and kept.
/// </summary>
public sealed class FleetCertificates
{
    private readonly ConcurrentDictionary<string, LocalCertificate> _issued = new(StringComparer.Ordinal);
    private readonly AsymmetricAlgorithm _peerKey;
    private readonly X509Certificate2 _issuerSent; // without its private key

    /// <param name="issuer">The CA that signs the peers' certificates, with its private key.</param>
    /// <param name="peerKey">The key every peer signs AUTH with (RSA or ECDSA).</param>
    /// <param name="trustedCas">The CAs the responder's certificate must chain to (self-signed roots).</param>
    public FleetCertificates(X509Certificate2 issuer, AsymmetricAlgorithm peerKey, IReadOnlyList<X509Certificate2> trustedCas)
    {
        if (!issuer.HasPrivateKey) throw new ArgumentException("the issuer's private key is needed to issue the peers' certificates", nameof(issuer));
        if (peerKey is not (RSA or ECDsa)) throw new ArgumentException("the peers' key must be RSA or ECDSA", nameof(peerKey));
        Issuer = issuer;
        _issuerSent = X509CertificateLoader.LoadCertificate(issuer.RawData);
        _peerKey = peerKey;
        Trust = new PeerTrust { CaCertificates = trustedCas };
    }

    public X509Certificate2 Issuer { get; }

    /// <summary>What the responder's certificate is checked against.</summary>
    public PeerTrust Trust { get; }

    /// <summary>The certificate of the peer with DNS identity <paramref name="id"/> (the issuer sent with it unless it is a trusted root).</summary>
    public LocalCertificate For(string id) => _issued.GetOrAdd(id, Issue);

    private LocalCertificate Issue(string id)
    {
        var subject = new X500DistinguishedName($"CN={id}");
        var request = _peerKey is RSA rsa
            ? new CertificateRequest(subject, rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            : new CertificateRequest(subject, (ECDsa)_peerKey, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(id);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], critical: false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        var serial = new byte[16];
        RandomNumberGenerator.Fill(serial);
        serial[0] &= 0x7F;
        // Within the issuer's validity (a CA made a moment ago, as strongSwan's pki makes them, starts now).
        var now = DateTimeOffset.UtcNow;
        var issuerFrom = new DateTimeOffset(Issuer.NotBefore.ToUniversalTime());
        var issuerTo = new DateTimeOffset(Issuer.NotAfter.ToUniversalTime());
        var notBefore = now.AddMinutes(-5) > issuerFrom ? now.AddMinutes(-5) : issuerFrom;
        var notAfter = now.AddDays(30) < issuerTo ? now.AddDays(30) : issuerTo;
        using var certificate = request.Create(Issuer, notBefore, notAfter, serial);
        bool issuerIsTrustedRoot = Trust.CaCertificates.Any(c => c.RawData.AsSpan().SequenceEqual(Issuer.RawData));
        return new LocalCertificate(X509CertificateLoader.LoadCertificate(certificate.RawData), issuerIsTrustedRoot ? [] : [_issuerSent], _peerKey);
    }
}
