using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Concentrator.Ike.Crypto;

/// <summary>Certificate files as swanctl reads them: PEM (every CERTIFICATE block of the file) or one DER certificate.</summary>
public static class CertificateFile
{
    /// <summary>
    /// The certificates of a file's bytes: each PEM CERTIFICATE block (none when the PEM holds other blocks only), or the
    /// one DER certificate.
    /// </summary>
    /// <exception cref="CryptographicException">Malformed PEM, or bytes that are no DER certificate.</exception>
    public static X509Certificate2Collection Decode(byte[] bytes)
    {
        var certificates = new X509Certificate2Collection();
        if (bytes.AsSpan().IndexOf("-----BEGIN"u8) >= 0) certificates.ImportFromPem(Encoding.ASCII.GetString(bytes));
        else certificates.Add(X509CertificateLoader.LoadCertificate(bytes));
        return certificates;
    }
}
