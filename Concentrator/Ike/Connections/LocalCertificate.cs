using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Concentrator.Ike.Connections;

/// <summary>swanctl's send_cert: when our CERT payloads go out with a signature AUTH.</summary>
public enum SendCertPolicy
{
    /// <summary>Only when the peer sent a CERTREQ (swanctl's default).</summary>
    IfAsked = 0,
    Always,
    Never,
}

/// <summary>
/// What a local <c>auth: pubkey</c> round signs with, loaded (never paths): the end-entity certificate of local.certs,
/// the CA certificates listed with it (sent as intermediates, in the order given) and the private key of secrets.private*
/// whose public key is the certificate's. The key is used from several SAs at once: OpenSSL-backed RSA and ECDsa take a
/// fresh context per operation.
/// </summary>
public sealed class LocalCertificate
{
    public LocalCertificate(X509Certificate2 certificate, IReadOnlyList<X509Certificate2> intermediates, AsymmetricAlgorithm key)
    {
        if (key is not (RSA or ECDsa)) throw new ArgumentException("only RSA and ECDSA keys sign IKE AUTH", nameof(key));
        Certificate = certificate;
        Intermediates = intermediates;
        Key = key;
        Subject = Identity.FromDistinguishedName(certificate.SubjectName.RawData)
                  ?? throw new ArgumentException("the certificate's subject is not a distinguished name", nameof(certificate));
    }

    public X509Certificate2 Certificate { get; }
    public IReadOnlyList<X509Certificate2> Intermediates { get; }
    public AsymmetricAlgorithm Key { get; }

    /// <summary>The subject DN: our identity when local.id is not set (strongSwan's default).</summary>
    public Identity Subject { get; }
}
