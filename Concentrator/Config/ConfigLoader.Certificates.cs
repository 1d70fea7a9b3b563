using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Crypto;

namespace Concentrator.Config;

/// <summary>
/// Certificate credentials in swanctl's names: <c>local.certs</c> (our end entity and the CA certificates sent with it),
/// <c>remote.cacerts</c>, <c>remote.certs</c> (pinned), <c>remote.revocation</c>, private keys under
/// <c>secrets.private&lt;suffix&gt;</c> (also rsa, ecdsa, pkcs8: <c>file</c> and the passphrase as <c>secret</c>), the
/// top-level <c>crls</c> list, and (ConfigLoader.Authorities) the OCSP responders of <c>authorities</c>. Files are read once here, PEM or DER, relative to the file that names them; the records
/// below hold loaded certificates and keys, never paths.
/// </summary>
internal static partial class ConfigLoader
{
    private const int MaxCredentialFileBytes = 1 << 20;
    private const int MinRsaBits = 2048;
    private const string CrlsKey = "crls";
    private static readonly string[] PrivateKeyPrefixes = ["private", "rsa", "ecdsa", "pkcs8"];
    private static readonly string[] LocalAuthKeys = ["auth", "id", "eap_id", "certs"];
    private static readonly string[] RemoteAuthKeys = ["auth", "id", "eap_id", "certs", "cacerts", "revocation"];

    /// <summary>A private key of secrets.private&lt;suffix&gt; (or rsa, ecdsa, pkcs8), loaded.</summary>
    private sealed record PrivateKeyEntry(string Name, AsymmetricAlgorithm Key, string File);

    /// <summary>What pubkey rounds draw on: the private keys of secrets, the CRLs of the top-level crls, the OCSP responders of authorities.</summary>
    private sealed record Credentials(IReadOnlyList<PrivateKeyEntry> Keys, IReadOnlyList<RevocationList> Crls, OcspChecker Ocsp);

    private static bool IsPrivateKeySecret(string name) => PrivateKeyPrefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal));

    private static PrivateKeyEntry ReadPrivateKey(string name, YamlSection m)
    {
        foreach (var key in m.Keys.Where(k => k != "file" && k != "secret"))
        {
            throw m.Fail(key, $"a private key secret ({string.Join(", ", PrivateKeyPrefixes)}<suffix>) takes only file and secret (its passphrase)");
        }
        var file = m.Scalar("file") ?? throw m.Fail("file", "missing (the private key file, PEM or DER)");
        Func<string, ConfigException> fail = problem => m.Fail("file", problem);
        var bytes = ReadCredentialFile(fail, ResolveCredentialFile(fail, m.Source, file));
        try
        {
            return new PrivateKeyEntry(name, ReadKey(m, bytes, m.Scalar("secret")), file);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bytes);
        }
    }

    /// <summary>PKCS#1 (RSA PRIVATE KEY), SEC1 (EC PRIVATE KEY), PKCS#8 and encrypted PKCS#8, PEM or DER.</summary>
    private static AsymmetricAlgorithm ReadKey(YamlSection m, byte[] bytes, string? passphrase)
    {
        bool pem = bytes.AsSpan().IndexOf("-----BEGIN"u8) >= 0;
        bool encrypted = pem ? bytes.AsSpan().IndexOf("ENCRYPTED PRIVATE KEY"u8) >= 0 : LooksEncryptedPkcs8(bytes);
        if (pem && bytes.AsSpan().IndexOf("Proc-Type: 4,ENCRYPTED"u8) >= 0)
        {
            throw m.Fail("file", "legacy OpenSSL-encrypted PEM is not supported: convert it to encrypted PKCS#8 (openssl pkcs8 -topk8 -v2 aes256)");
        }
        if (encrypted && passphrase is null) throw m.Fail("file", "the key is encrypted: give its passphrase as secret");
        if (!encrypted && passphrase is not null) throw m.Fail("secret", "the key is not encrypted, so it has no passphrase");

        var chars = pem ? Encoding.ASCII.GetChars(bytes) : [];
        try
        {
            foreach (var create in new Func<AsymmetricAlgorithm>[] { RSA.Create, ECDsa.Create })
            {
                var key = create();
                try
                {
                    Import(key, pem, chars, bytes, passphrase);
                    if (key is RSA && key.KeySize < MinRsaBits) throw m.Fail("file", $"RSA key of {key.KeySize} bits: at least {MinRsaBits} (RFC 8247)");
                    return key;
                }
                catch (Exception e) when (e is CryptographicException or ArgumentException)
                {
                    key.Dispose();
                }
            }
        }
        finally
        {
            Array.Clear(chars);
        }
        throw m.Fail("file", encrypted
            ? "not an RSA or ECDSA key this passphrase decrypts"
            : "not an RSA or ECDSA private key (PKCS#1, SEC1 or PKCS#8, PEM or DER)");
    }

    private static void Import(AsymmetricAlgorithm key, bool pem, char[] chars, byte[] der, string? passphrase)
    {
        if (pem)
        {
            if (passphrase is null) key.ImportFromPem(chars);
            else key.ImportFromEncryptedPem(chars, passphrase);
            return;
        }
        if (passphrase is not null)
        {
            key.ImportEncryptedPkcs8PrivateKey(passphrase, der, out _);
            return;
        }
        try
        {
            key.ImportPkcs8PrivateKey(der, out _);
        }
        catch (CryptographicException)
        {
            if (key is RSA rsa) rsa.ImportRSAPrivateKey(der, out _);
            else ((ECDsa)key).ImportECPrivateKey(der, out _);
        }
    }

    /// <summary>EncryptedPrivateKeyInfo starts with SEQUENCE { SEQUENCE { OID of a PBE scheme: 1.2.840.113549.1.5.x or .1.12.1.x } }.</summary>
    private static bool LooksEncryptedPkcs8(byte[] der)
    {
        ReadOnlySpan<byte> pkcs5 = [0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x05];
        ReadOnlySpan<byte> pkcs12 = [0x06, 0x0A, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x0C, 0x01];
        var head = der.AsSpan(0, Math.Min(der.Length, 16));
        return head.IndexOf(pkcs5) >= 0 || head.IndexOf(pkcs12) >= 0;
    }

    /// <summary>Every certificate of the files of a list (a PEM file may hold several).</summary>
    private static List<X509Certificate2> ReadCertificates(YamlSection m, string key)
    {
        var result = new List<X509Certificate2>();
        foreach (var item in m.List(key) ?? [])
        {
            Func<string, ConfigException> fail = problem => m.Fail(item, problem);
            var bytes = ReadCredentialFile(fail, ResolveCredentialFile(fail, m.Source, item.Value));
            try
            {
                var certificates = CertificateFile.Decode(bytes);
                if (certificates.Count == 0) throw m.Fail(item, $"'{item.Value}' holds no PEM CERTIFICATE");
                result.AddRange(certificates);
            }
            catch (CryptographicException e)
            {
                throw m.Fail(item, $"'{item.Value}' is not an X.509 certificate (PEM or DER): {e.Message}");
            }
        }
        if (m.List(key) is { Count: 0 }) throw m.Fail(key, "needs at least one certificate file");
        return result;
    }

    /// <summary>The top-level crls: CRL files, PEM or DER, each applied to the certificates its issuer signed.</summary>
    private static List<RevocationList> ReadCrls(YamlSection root)
    {
        var result = new List<RevocationList>();
        foreach (var item in root.List(CrlsKey) ?? [])
        {
            Func<string, ConfigException> fail = problem => root.Fail(item, problem);
            var path = ResolveCredentialFile(fail, root.Source, item.Value);
            if (!RevocationList.TryLoad(ReadCredentialFile(fail, path), Path.GetFileName(path), out var crl, out var error))
            {
                throw root.Fail(item, $"'{item.Value}': {error}");
            }
            result.Add(crl!);
        }
        return result;
    }

    /// <summary>A CRL whose issuer is a configured CA must carry that CA's signature (a wrong file is an error at load).</summary>
    private static void CheckCrlIssuers(YamlSection root, IReadOnlyList<RevocationList> crls, IEnumerable<ConnectionConfig> connections)
    {
        var cas = connections.SelectMany(c => c.Remote.Trust?.CaCertificates ?? []).ToList();
        var items = root.List(CrlsKey) ?? [];
        for (int i = 0; i < crls.Count; i++)
        {
            var named = cas.Where(ca => ca.SubjectName.RawData.AsSpan().SequenceEqual(crls[i].IssuerDer)).ToList();
            if (named.Count > 0 && !named.Any(crls[i].IsIssuedBy))
            {
                throw root.Fail(items[i], $"'{items[i].Value}': its signature does not verify with the CA \"{named[0].Subject}\" of remote.cacerts");
            }
        }
    }

    private static AuthConfig ReadLocalPubKey(YamlSection m, string id, bool rsaPss, Credentials credentials)
    {
        if (m.List("certs") is null) throw m.Fail("certs", "auth pubkey needs certs (our certificate, and the intermediate CAs to send with it)");
        var certs = ReadCertificates(m, "certs");
        var endEntities = certs.Where(c => !IsCa(c)).ToList();
        if (endEntities.Count != 1)
        {
            throw m.Fail("certs", endEntities.Count == 0
                ? "no end-entity certificate (all are CAs)"
                : $"{endEntities.Count} end-entity certificates; one per local round is supported (the others listed must be CAs)");
        }
        var own = endEntities[0];
        var spki = own.PublicKey.ExportSubjectPublicKeyInfo();
        var key = credentials.Keys.FirstOrDefault(k => k.Key.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(spki))
                  ?? throw m.Fail("certs", $"no private key in secrets (private<suffix>: {{ file, secret }}) matches the certificate {CertificateIdentity.Describe(own)}");
        if (rsaPss && key.Key is not RSA) throw m.Fail("auth", "rsa/pss needs an RSA key");
        if (PeerTrust.UsageProblem(own) is { } usage) throw m.Fail("certs", $"the certificate {CertificateIdentity.Describe(own)} cannot authenticate IKE: {usage}");
        var config = new AuthConfig
        {
            Auth = AuthConfig.PubKey,
            Id = id,
            RsaPss = rsaPss,
            Certificate = new LocalCertificate(own, certs.Where(IsCa).ToList(), key.Key),
        };
        if (!CertificateIdentity.Binds(own, config.Identity))
        {
            throw m.Fail("id", $"'{id}' is not in the certificate {CertificateIdentity.Describe(own)} (subjectAltName or subject DN)");
        }
        return config;
    }

    private static AuthConfig ReadRemotePubKey(YamlSection m, string id, Credentials credentials)
    {
        var cacerts = m.List("cacerts") is null ? [] : ReadCertificates(m, "cacerts");
        var pinned = m.List("certs") is null ? [] : ReadCertificates(m, "certs");
        if (cacerts.Count == 0 && pinned.Count == 0) throw m.Fail("auth", "auth pubkey needs cacerts (the CAs to trust) or certs (the peer certificates to pin)");
        foreach (var ca in cacerts.Where(c => !IsCa(c)))
        {
            throw m.Fail("cacerts", $"{CertificateIdentity.Describe(ca)} is not a CA certificate (basicConstraints CA)");
        }
        if (cacerts.Count > 0 && !cacerts.Any(c => c.SubjectName.RawData.AsSpan().SequenceEqual(c.IssuerName.RawData)))
        {
            throw m.Fail("cacerts", "needs the root CA (a self-signed certificate); intermediate CAs may be listed with it");
        }
        var revocation = m.Choice("revocation", ["relaxed", "strict", "ifuri"]) switch
        {
            "strict" => RevocationPolicy.Strict,
            "ifuri" => RevocationPolicy.IfUri,
            _ => RevocationPolicy.Relaxed,
        };
        return new AuthConfig
        {
            Auth = AuthConfig.PubKey,
            Id = id,
            Trust = new PeerTrust
            {
                CaCertificates = cacerts, PinnedCertificates = pinned, RevocationLists = credentials.Crls, Revocation = revocation, Ocsp = credentials.Ocsp,
            },
        };
    }

    private static bool IsCa(X509Certificate2 certificate) =>
        certificate.Extensions.OfType<X509BasicConstraintsExtension>().Any(b => b.CertificateAuthority);

    /// <summary>An absolute path, or one relative to the directory of the file that names it (<paramref name="source"/>).</summary>
    private static string ResolveCredentialFile(Func<string, ConfigException> fail, string source, string text)
    {
        string path;
        try
        {
            path = Path.GetFullPath(text.Trim(), DirectoryOf(source));
        }
        catch (ArgumentException)
        {
            throw fail($"'{text}' is not a valid path");
        }
        return File.Exists(path) ? path : throw fail($"file '{text}' not found ({path})");
    }

    /// <summary>The whole file, bounded (a path may name a device or a huge file by mistake).</summary>
    private static byte[] ReadCredentialFile(Func<string, ConfigException> fail, string path)
    {
        var buffer = new byte[MaxCredentialFileBytes + 1];
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read);
            int length = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
            if (length > MaxCredentialFileBytes) throw fail($"'{path}' is larger than {MaxCredentialFileBytes} bytes");
            return buffer.AsSpan(0, length).ToArray();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw fail($"cannot read '{path}': {e.Message}");
        }
        finally
        {
            CryptographicOperations.ZeroMemory(buffer);
        }
    }
}
