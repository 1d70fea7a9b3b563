using System.Collections.Concurrent;
using System.Security.Cryptography.X509Certificates;
using Org.BouncyCastle.Math;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.X509;

namespace Concentrator.Ike.Crypto;

/// <summary>
/// One X.509 CRL (RFC 5280 §5) from a file, PEM or DER. .NET has no CRL reader, so BouncyCastle parses the list and checks
/// its signature; nothing else of BouncyCastle is used. A CRL is trusted only once its signature verifies with the key
/// of the certificate it is checked against as issuer (its subject must equal the CRL's issuer); each verdict is kept
/// per issuer certificate. Thread-safe: SAs check their peers in parallel.
/// </summary>
public sealed class RevocationList
{
    private const string CrlDistributionPointsOid = "2.5.29.31";

    private readonly X509Crl _crl;
    private readonly ConcurrentDictionary<string, bool> _verifiedBy = new(StringComparer.Ordinal);

    private RevocationList(X509Crl crl, string source)
    {
        _crl = crl;
        Source = source;
        IssuerDer = crl.CertificateList.TbsCertList.Issuer.GetEncoded(Org.BouncyCastle.Asn1.Asn1Encodable.Der);
    }

    /// <summary>Where it was loaded from (file name), for logs.</summary>
    public string Source { get; }

    /// <summary>The DER issuer name, compared with a CA certificate's subject.</summary>
    public byte[] IssuerDer { get; }

    public DateTime ThisUpdateUtc => _crl.ThisUpdate.ToUniversalTime();

    /// <summary>Null when the CRL gives no next update.</summary>
    public DateTime? NextUpdateUtc => _crl.NextUpdate?.ToUniversalTime();

    /// <summary>Parses a CRL; false (with the reason) for anything that is not exactly one.</summary>
    public static bool TryLoad(byte[] bytes, string source, out RevocationList? list, out string? error)
    {
        list = null;
        error = null;
        try
        {
            var crl = new X509CrlParser().ReadCrl(bytes);
            if (crl is null)
            {
                error = "no CRL in the file (PEM 'X509 CRL' or DER)";
                return false;
            }
            list = new RevocationList(crl, source);
            return true;
        }
        catch (Exception e) when (e is IOException or Org.BouncyCastle.Security.Certificates.CrlException or ArgumentException or InvalidCastException
                                      or Org.BouncyCastle.Asn1.Asn1Exception or FormatException)
        {
            error = $"not a CRL: {e.Message}";
            return false;
        }
    }

    /// <summary>True when <paramref name="issuer"/> is this CRL's issuer and its key verifies the CRL's signature.</summary>
    public bool IsIssuedBy(X509Certificate2 issuer) =>
        issuer.SubjectName.RawData.AsSpan().SequenceEqual(IssuerDer) &&
        _verifiedBy.GetOrAdd(issuer.Thumbprint, static (_, state) => state.Self.Verify(state.Issuer), (Self: this, Issuer: issuer));

    /// <summary>The revocation date of <paramref name="certificate"/> when this CRL lists its serial number, else null.</summary>
    public DateTime? RevokedAt(X509Certificate2 certificate)
    {
        var serial = new BigInteger(1, certificate.SerialNumberBytes.ToArray());
        return _crl.GetRevokedCertificate(serial)?.RevocationDate.ToUniversalTime();
    }

    /// <summary>Whether the certificate names a CRL distribution point (revocation ifuri asks for a CRL then).</summary>
    public static bool HasDistributionPoint(X509Certificate2 certificate) => certificate.Extensions[CrlDistributionPointsOid] is not null;

    private bool Verify(X509Certificate2 issuer)
    {
        try
        {
            var key = new X509CertificateParser().ReadCertificate(issuer.RawData).GetPublicKey();
            _crl.Verify(key);
            return true;
        }
        catch (Exception e) when (e is GeneralSecurityException or InvalidKeyException or SignatureException
                                      or Org.BouncyCastle.Security.Certificates.CrlException or ArgumentException or InvalidOperationException)
        {
            return false;
        }
    }
}
