using System.Net;
using System.Numerics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Concentrator.Testbed.Support;

/// <summary>Key types of <see cref="TestPki"/>.</summary>
public enum TestKey
{
    Rsa2048,
    Rsa3072,
    EcdsaP256,
    EcdsaP384,
}

/// <summary>How <see cref="TestPki.WriteKey"/> writes a private key.</summary>
public enum KeyFormat
{
    /// <summary>PKCS#1 (RSA PRIVATE KEY) or SEC1 (EC PRIVATE KEY), PEM: what strongSwan's pki writes.</summary>
    TraditionalPem,
    Pkcs8Pem,
    EncryptedPkcs8Pem,
    TraditionalDer,
    Pkcs8Der,
    EncryptedPkcs8Der,
}

/// <summary>A certificate with its private key, made by <see cref="TestPki"/>.</summary>
public sealed record Issued(X509Certificate2 Certificate, AsymmetricAlgorithm Key, string Subject);

/// <summary>
/// A PKI made at test time with .NET's CertificateRequest and CertificateRevocationListBuilder, written to a directory of
/// its own (deleted on dispose): CAs, end entities with subjectAltNames, validity and usages as asked, CRLs. For tests and
/// benchmarks only; nothing here is meant for production use. DNs are written as strongSwan writes them ("C=CH, O=Test,
/// CN=x", RDNs in DER order).
/// </summary>
public sealed class TestPki : IDisposable
{
    private long _serial = 0x1000;

    public TestPki(string? directory = null)
    {
        Dir = directory ?? Path.Combine(Path.GetTempPath(), "concentrator-pki-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Dir);
    }

    public string Dir { get; }

    public static AsymmetricAlgorithm NewKey(TestKey kind) => kind switch
    {
        TestKey.Rsa2048 => RSA.Create(2048),
        TestKey.Rsa3072 => RSA.Create(3072),
        TestKey.EcdsaP256 => ECDsa.Create(ECCurve.NamedCurves.nistP256),
        _ => ECDsa.Create(ECCurve.NamedCurves.nistP384),
    };

    /// <summary>A CA: self-signed when <paramref name="issuer"/> is null, else an intermediate.</summary>
    public Issued Ca(string subject, TestKey kind, Issued? issuer = null, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null) =>
        Make(subject, NewKey(kind), issuer, ca: true, notBefore, notAfter, [], [], [], null, null);

    /// <summary>An end entity with the given subjectAltNames, EKU (serverAuth and clientAuth unless given) and key usage.</summary>
    public Issued EndEntity(string subject, TestKey kind, Issued issuer, string[]? dns = null, string[]? emails = null, IPAddress[]? ips = null,
        DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null, string[]? eku = null, X509KeyUsageFlags? keyUsage = null,
        AsymmetricAlgorithm? key = null, X509Extension[]? extensions = null) =>
        Make(subject, key ?? NewKey(kind), issuer, ca: false, notBefore, notAfter, dns ?? [], emails ?? [], ips ?? [], eku, keyUsage, extensions);

    /// <summary>A certificate for <paramref name="key"/> (shared by many end entities in load tests).</summary>
    public Issued EndEntityFor(AsymmetricAlgorithm key, string subject, Issued issuer, string[] dns) =>
        Make(subject, key, issuer, ca: false, null, null, dns, [], [], null, null);

    private Issued Make(string subject, AsymmetricAlgorithm key, Issued? issuer, bool ca, DateTimeOffset? notBefore, DateTimeOffset? notAfter,
        string[] dns, string[] emails, IPAddress[] ips, string[]? eku, X509KeyUsageFlags? keyUsage, X509Extension[]? extensions = null)
    {
        var name = Dn(subject);
        var request = key switch
        {
            RSA rsa => new CertificateRequest(name, rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
            ECDsa ec => new CertificateRequest(name, ec, HashAlgorithmName.SHA256),
            _ => throw new ArgumentException("RSA or ECDSA", nameof(key)),
        };
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(ca, false, 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(
            keyUsage ?? (ca ? X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign : X509KeyUsageFlags.DigitalSignature), critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        if (issuer is not null) request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer.Certificate, true, false));
        if (!ca)
        {
            var oids = new OidCollection();
            foreach (var oid in eku ?? ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]) oids.Add(new Oid(oid));
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(oids, critical: false));
        }
        if (dns.Length + emails.Length + ips.Length > 0)
        {
            var san = new SubjectAlternativeNameBuilder();
            foreach (var d in dns) san.AddDnsName(d);
            foreach (var e in emails) san.AddEmailAddress(e);
            foreach (var ip in ips) san.AddIpAddress(ip);
            request.CertificateExtensions.Add(san.Build());
        }
        foreach (var extension in extensions ?? []) request.CertificateExtensions.Add(extension);
        var from = notBefore ?? DateTimeOffset.UtcNow.AddDays(-1);
        var to = notAfter ?? DateTimeOffset.UtcNow.AddYears(1);
        X509Certificate2 certificate;
        if (issuer is null)
        {
            using var selfSigned = request.CreateSelfSigned(from, to);
            certificate = X509CertificateLoader.LoadCertificate(selfSigned.RawData);
        }
        else
        {
            var serial = BitConverter.GetBytes(Interlocked.Increment(ref _serial));
            Array.Reverse(serial);
            var generator = issuer.Key is RSA issuerRsa
                ? X509SignatureGenerator.CreateForRSA(issuerRsa, RSASignaturePadding.Pkcs1)
                : X509SignatureGenerator.CreateForECDsa((ECDsa)issuer.Key);
            certificate = request.Create(issuer.Certificate.SubjectName, generator, from, to, serial);
        }
        return new Issued(certificate, key, subject);
    }

    /// <summary>A CRL of <paramref name="ca"/> listing <paramref name="revoked"/>; next update in a week unless given.</summary>
    public string WriteCrl(string file, Issued ca, IEnumerable<Issued> revoked, DateTimeOffset? nextUpdate = null, bool pem = true)
    {
        var builder = new CertificateRevocationListBuilder();
        foreach (var r in revoked) builder.AddEntry(r.Certificate, DateTimeOffset.UtcNow.AddHours(-1), X509RevocationReason.KeyCompromise);
        using var withKey = ca.Key is RSA rsa ? ca.Certificate.CopyWithPrivateKey(rsa) : ca.Certificate.CopyWithPrivateKey((ECDsa)ca.Key);
        var crl = builder.Build(withKey, BigInteger.One, nextUpdate ?? DateTimeOffset.UtcNow.AddDays(7), HashAlgorithmName.SHA256,
            ca.Key is RSA ? RSASignaturePadding.Pkcs1 : null, DateTimeOffset.UtcNow.AddHours(-2));
        var path = Path.Combine(Dir, file);
        if (pem) File.WriteAllText(path, PemEncoding.WriteString("X509 CRL", crl) + "\n");
        else File.WriteAllBytes(path, crl);
        return path;
    }

    /// <summary>Writes the certificates (PEM, one after the other, or DER for one) and returns the path.</summary>
    public string WriteCert(string file, bool pem, params Issued[] certificates)
    {
        var path = Path.Combine(Dir, file);
        if (pem) File.WriteAllText(path, string.Concat(certificates.Select(c => c.Certificate.ExportCertificatePem() + "\n")));
        else File.WriteAllBytes(path, certificates.Single().Certificate.RawData);
        return path;
    }

    public string WriteCert(string file, params Issued[] certificates) => WriteCert(file, true, certificates);

    /// <summary>Writes the private key in <paramref name="format"/> (the encrypted ones with <paramref name="passphrase"/>, PBES2 AES-256).</summary>
    public string WriteKey(string file, Issued issued, KeyFormat format = KeyFormat.TraditionalPem, string passphrase = "")
    {
        var key = issued.Key;
        var pbe = new PbeParameters(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, 10_000);
        byte[] traditional = key is RSA rsa ? rsa.ExportRSAPrivateKey() : ((ECDsa)key).ExportECPrivateKey();
        string traditionalLabel = key is RSA ? "RSA PRIVATE KEY" : "EC PRIVATE KEY";
        var path = Path.Combine(Dir, file);
        switch (format)
        {
            case KeyFormat.TraditionalPem: File.WriteAllText(path, PemEncoding.WriteString(traditionalLabel, traditional) + "\n"); break;
            case KeyFormat.Pkcs8Pem: File.WriteAllText(path, key.ExportPkcs8PrivateKeyPem() + "\n"); break;
            case KeyFormat.EncryptedPkcs8Pem: File.WriteAllText(path, key.ExportEncryptedPkcs8PrivateKeyPem(passphrase, pbe) + "\n"); break;
            case KeyFormat.TraditionalDer: File.WriteAllBytes(path, traditional); break;
            case KeyFormat.Pkcs8Der: File.WriteAllBytes(path, key.ExportPkcs8PrivateKey()); break;
            default: File.WriteAllBytes(path, key.ExportEncryptedPkcs8PrivateKey(passphrase, pbe)); break;
        }
        return path;
    }

    /// <summary>A DN written as strongSwan writes it ("C=CH, O=Test, CN=x"), encoded in that order.</summary>
    public static X500DistinguishedName Dn(string text)
    {
        // The builder encodes the RDNs in the reverse order of the calls (.NET's text order is the reverse of DER's).
        var builder = new X500DistinguishedNameBuilder();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Reverse())
        {
            int eq = part.IndexOf('=');
            string attribute = part[..eq].Trim(), value = part[(eq + 1)..].Trim();
            switch (attribute.ToUpperInvariant())
            {
                case "C": builder.AddCountryOrRegion(value); break;
                case "O": builder.AddOrganizationName(value); break;
                case "OU": builder.AddOrganizationalUnitName(value); break;
                case "CN": builder.AddCommonName(value); break;
                case "E": builder.AddEmailAddress(value); break;
                default: throw new ArgumentException($"attribute {attribute} is not used by the tests", nameof(text));
            }
        }
        return builder.Build();
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
            // Left behind in the temp directory; nothing of it is secret beyond the test.
        }
    }
}
