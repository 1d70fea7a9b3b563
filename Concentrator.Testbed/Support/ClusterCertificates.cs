using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Concentrator.Testbed.Support;

/// <summary>
/// A cluster CA in a directory of the caller's (PEM certificate for <c>cluster.tls.cacerts</c>) that issues node
/// certificates (PKCS#12 with a password file for <c>cluster.tls.certificate</c> and <c>password_file</c>) with a DNS
/// subjectAltName and server and client authentication, as an operator would make them with openssl. ECDSA P-256 keys:
/// quick to generate on a loaded machine. The CA's key lives in memory only.
/// </summary>
public sealed class ClusterCertificates : IDisposable
{
    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid ClientAuth = new("1.3.6.1.5.5.7.3.2");

    private readonly string _dir;
    private readonly X509Certificate2 _ca;

    public ClusterCertificates(string dir, string caName = "concentrator cluster CA")
    {
        _dir = dir;
        Directory.CreateDirectory(dir);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={caName}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        _ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(2));
        CaFile = Path.Combine(dir, $"ca-{Guid.NewGuid():N}.pem");
        File.WriteAllText(CaFile, _ca.ExportCertificatePem() + "\n");
    }

    /// <summary>The CA certificate, PEM.</summary>
    public string CaFile { get; }

    /// <summary>A node certificate issued by this CA: <paramref name="dnsName"/> as subjectAltName and CN.</summary>
    public (string Pkcs12, string PasswordFile) Node(string dnsName)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = NodeRequest(dnsName, key);
        var serial = RandomNumberGenerator.GetBytes(12);
        serial[0] &= 0x7f;
        using var issued = request.Create(_ca, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1), serial);
        using var withKey = issued.CopyWithPrivateKey(key);
        return Write(dnsName, withKey);
    }

    /// <summary>A self-signed node certificate with the same name a node of this CA would carry (no CA trusts it).</summary>
    public (string Pkcs12, string PasswordFile) SelfSigned(string dnsName)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var cert = NodeRequest(dnsName, key).CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        return Write(dnsName, cert);
    }

    /// <summary>The YAML of <c>cluster.tls</c> for a node with <paramref name="node"/>'s certificate accepting <paramref name="remoteId"/>.</summary>
    public string TlsYaml((string Pkcs12, string PasswordFile) node, string remoteId) =>
        $"{{ certificate: \"{node.Pkcs12}\", password_file: \"{node.PasswordFile}\", cacerts: [\"{CaFile}\"], remote_id: \"{remoteId}\" }}";

    private static CertificateRequest NodeRequest(string dnsName, ECDsa key)
    {
        var request = new CertificateRequest($"CN={dnsName}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(dnsName);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([ServerAuth, ClientAuth], false));
        return request;
    }

    private (string Pkcs12, string PasswordFile) Write(string name, X509Certificate2 cert)
    {
        string password = Convert.ToHexString(RandomNumberGenerator.GetBytes(12));
        string file = Path.Combine(_dir, $"{name}-{Guid.NewGuid():N}");
        File.WriteAllBytes(file + ".p12", cert.Export(X509ContentType.Pkcs12, password));
        File.WriteAllText(file + ".password", password + "\n");
        return (file + ".p12", file + ".password");
    }

    public void Dispose() => _ca.Dispose();
}
