using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Concentrator.Ike.Crypto;
using Concentrator.Ike.Crypto.V1;
using Concentrator.Ipsec;
using Concentrator.Ike.Wire.V1;
using Concentrator.Testbed.Interop;
using Concentrator.Testbed.Support;

namespace Concentrator.Tests.Ike.Crypto.V1;

/// <summary>
/// IKEv1 SIG (RFC 2409 §5.1, RFC 4754): RSA is PKCS#1 v1.5 over the raw HASH (no DigestInfo), ECDSA is r|s over the
/// HASH. Witnesses: .NET's own DigestInfo signature (PKCS#1 v1.5 is deterministic), OpenSSL's command line (pkeyutl
/// signs and verifies the data as given), and BouncyCastle's ECDSA.
/// </summary>
public sealed class V1SignatureAuthTests
{
    private static readonly byte[] Hash20 = SHA1.HashData("HASH_I stand-in, HMAC-SHA1 length"u8);
    private static readonly byte[] Hash32 = SHA256.HashData("HASH_R stand-in"u8);

    /// <summary>
    /// With the DigestInfo of SHA-256 put in front by hand, our null-digest PKCS#1 signature must be .NET's SHA-256
    /// PKCS#1 v1.5 signature byte for byte: the padding we compose is exactly type 1 and nothing else is added.
    /// </summary>
    [Fact]
    public void Rsa_null_padding_is_pkcs1_v15_type1_exactly()
    {
        using var rsa = RSA.Create(2048);
        byte[] digestInfo = [.. Convert.FromHexString("3031300d060960864801650304020105000420"), .. Hash32];
        var ours = V1SignatureAuth.Sign(rsa, Phase1AuthMethod.RsaSignature, digestInfo);
        Assert.Equal(rsa.SignHash(Hash32, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1), ours);
        // Without the DigestInfo (what IKEv1 signs) it is a different signature that .NET's DigestInfo check refuses.
        var raw = V1SignatureAuth.Sign(rsa, Phase1AuthMethod.RsaSignature, Hash32);
        Assert.NotEqual(ours, raw);
        Assert.False(rsa.VerifyHash(Hash32, raw, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
    }

    [Theory]
    [InlineData(20)]
    [InlineData(32)]
    public void Rsa_signature_round_trips_and_a_changed_bit_fails(int length)
    {
        using var rsa = RSA.Create(2048);
        using var cert = SelfSigned(rsa);
        var hash = length == 20 ? Hash20 : Hash32;
        var sig = V1SignatureAuth.Sign(rsa, Phase1AuthMethod.RsaSignature, hash);
        Assert.Equal(256, sig.Length);
        Assert.Equal(SignatureCheck.Valid, V1SignatureAuth.Verify(Phase1AuthMethod.RsaSignature, sig, cert, hash));
        sig[^1] ^= 1;
        Assert.Equal(SignatureCheck.Invalid, V1SignatureAuth.Verify(Phase1AuthMethod.RsaSignature, sig, cert, hash));
        sig[^1] ^= 1;
        hash = [.. hash];
        hash[0] ^= 0x80;
        Assert.Equal(SignatureCheck.Invalid, V1SignatureAuth.Verify(Phase1AuthMethod.RsaSignature, sig, cert, hash));
    }

    public static TheoryData<string, Phase1AuthMethod, int, int> Curves => new()
    {
        { "nistP256", Phase1AuthMethod.EcdsaSha256, 64, 32 },
        { "nistP384", Phase1AuthMethod.EcdsaSha384, 96, 48 },
        { "nistP521", Phase1AuthMethod.EcdsaSha512, 132, 64 },
    };

    /// <summary>r|s of the curve's length; BouncyCastle's ECDSA verifies ours and we verify BouncyCastle's.</summary>
    [Theory]
    [MemberData(nameof(Curves))]
    public void Ecdsa_is_fixed_length_r_s_and_agrees_with_bouncycastle(string curve, Phase1AuthMethod method, int length, int hashLength)
    {
        using var ec = ECDsa.Create(ECCurve.CreateFromFriendlyName(curve));
        using var cert = SelfSigned(ec);
        Assert.Equal(method, V1SignatureAuth.MethodFor(ec));
        var hash = V1SignatureAuth.AuthPrf(method, V1KeyDerivation.PrfOf(Phase1Hash.Sha1)).Compute("SKEYID"u8, "g^xi | g^xr | ..."u8);
        Assert.Equal(hashLength, hash.Length);
        var sig = V1SignatureAuth.Sign(ec, method, hash);
        Assert.Equal(length, sig.Length);

        var p = ec.ExportParameters(true);
        var domain = Org.BouncyCastle.Asn1.X9.ECNamedCurveTable.GetByName(curve switch { "nistP256" => "P-256", "nistP384" => "P-384", _ => "P-521" });
        var parameters = new Org.BouncyCastle.Crypto.Parameters.ECDomainParameters(domain);
        var q = domain.Curve.CreatePoint(new Org.BouncyCastle.Math.BigInteger(1, p.Q.X), new Org.BouncyCastle.Math.BigInteger(1, p.Q.Y));
        var bc = new Org.BouncyCastle.Crypto.Signers.ECDsaSigner();
        bc.Init(false, new Org.BouncyCastle.Crypto.Parameters.ECPublicKeyParameters(q, parameters));
        int half = length / 2;
        Assert.True(bc.VerifySignature(hash, new Org.BouncyCastle.Math.BigInteger(1, sig[..half]), new Org.BouncyCastle.Math.BigInteger(1, sig[half..])));
        Assert.False(bc.VerifySignature([.. hash[..^1], (byte)(hash[^1] ^ 1)], new Org.BouncyCastle.Math.BigInteger(1, sig[..half]),
            new Org.BouncyCastle.Math.BigInteger(1, sig[half..])));

        var signer = new Org.BouncyCastle.Crypto.Signers.ECDsaSigner();
        signer.Init(true, new Org.BouncyCastle.Crypto.Parameters.ECPrivateKeyParameters(new Org.BouncyCastle.Math.BigInteger(1, p.D), parameters));
        var rs = signer.GenerateSignature(hash);
        byte[] theirs = [.. rs[0].ToByteArrayUnsigned().PadLeft(half), .. rs[1].ToByteArrayUnsigned().PadLeft(half)];
        Assert.Equal(SignatureCheck.Valid, V1SignatureAuth.Verify(method, theirs, cert, hash));
        theirs[3] ^= 4;
        Assert.Equal(SignatureCheck.Invalid, V1SignatureAuth.Verify(method, theirs, cert, hash));
    }

    /// <summary>A key that does not fit the method is Unsupported; hostile shapes are Invalid, never an exception.</summary>
    [Fact]
    public void Mismatched_keys_and_hostile_signatures_are_refused_without_throwing()
    {
        using var rsa = RSA.Create(2048);
        using var p256 = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var rsaCert = SelfSigned(rsa);
        using var ecCert = SelfSigned(p256);
        var ecSig = V1SignatureAuth.Sign(p256, Phase1AuthMethod.EcdsaSha256, Hash32);
        Assert.Equal(SignatureCheck.Unsupported, V1SignatureAuth.Verify(Phase1AuthMethod.EcdsaSha384, ecSig, ecCert, Hash32));
        Assert.Equal(SignatureCheck.Unsupported, V1SignatureAuth.Verify(Phase1AuthMethod.RsaSignature, ecSig, ecCert, Hash32));
        Assert.Equal(SignatureCheck.Unsupported, V1SignatureAuth.Verify(Phase1AuthMethod.EcdsaSha256, ecSig, rsaCert, Hash32));
        Assert.Equal(SignatureCheck.Unsupported, V1SignatureAuth.Verify(Phase1AuthMethod.PreSharedKey, ecSig, ecCert, Hash32));
        foreach (var hostile in new[] { Array.Empty<byte>(), new byte[1], new byte[255], new byte[257], Enumerable.Repeat((byte)0xff, 256).ToArray() })
        {
            Assert.Equal(SignatureCheck.Invalid, V1SignatureAuth.Verify(Phase1AuthMethod.RsaSignature, hostile, rsaCert, Hash32));
            Assert.Equal(SignatureCheck.Invalid, V1SignatureAuth.Verify(Phase1AuthMethod.EcdsaSha256, hostile, ecCert, Hash32));
        }
        Assert.Throws<ArgumentException>(() => V1SignatureAuth.Sign(p256, Phase1AuthMethod.RsaSignature, Hash32));
    }

    /// <summary>ECDSA's HASH uses the method's HMAC (strongSwan's prf_auth); RSA keeps the negotiated PRF.</summary>
    [Fact]
    public void Auth_prf_follows_the_ecdsa_method()
    {
        var sha1 = V1KeyDerivation.PrfOf(Phase1Hash.Sha1);
        Assert.Same(sha1, V1SignatureAuth.AuthPrf(Phase1AuthMethod.RsaSignature, sha1));
        Assert.Equal(PrfAlgorithm.HmacSha2_256, V1SignatureAuth.AuthPrf(Phase1AuthMethod.EcdsaSha256, sha1).Algorithm);
        Assert.Equal(PrfAlgorithm.HmacSha2_384, V1SignatureAuth.AuthPrf(Phase1AuthMethod.EcdsaSha384, sha1).Algorithm);
        Assert.Equal(PrfAlgorithm.HmacSha2_512, V1SignatureAuth.AuthPrf(Phase1AuthMethod.EcdsaSha512, sha1).Algorithm);
    }

    /// <summary>
    /// OpenSSL's pkeyutl signs the data as given (no digest set: RSA PKCS#1 type 1 without DigestInfo, which is what
    /// strongSwan's openssl plugin does for SIGN_RSA_EMSA_PKCS1_NULL): its RSA signature is ours byte for byte, and it
    /// verifies our ECDSA signature (DER-wrapped) while we verify its.
    /// </summary>
    [Fact]
    public async Task Openssl_pkeyutl_agrees()
    {
        if (!Command.Exists("openssl"))
        {
            Assert.False(InteropPrerequisites.InCi, "openssl is missing (scripts/install-deps.sh)");
            return;
        }
        using var pki = new TestPki();
        using var rsa = RSA.Create(2048);
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        using var ecCert = SelfSigned(ec);
        using var rsaCert = SelfSigned(rsa);
        await File.WriteAllTextAsync(Path.Combine(pki.Dir, "rsa.key"), rsa.ExportPkcs8PrivateKeyPem());
        await File.WriteAllTextAsync(Path.Combine(pki.Dir, "ec.key"), ec.ExportPkcs8PrivateKeyPem());
        await File.WriteAllTextAsync(Path.Combine(pki.Dir, "ec.pub"), ec.ExportSubjectPublicKeyInfoPem());
        var hash = V1SignatureAuth.AuthPrf(Phase1AuthMethod.EcdsaSha384, V1KeyDerivation.PrfOf(Phase1Hash.Sha1)).Compute("k"u8, "d"u8);
        await File.WriteAllBytesAsync(Path.Combine(pki.Dir, "hash20"), Hash20);
        await File.WriteAllBytesAsync(Path.Combine(pki.Dir, "hash48"), hash);

        var opensslRsa = await Pkeyutl(pki.Dir, "-sign", "-inkey", "rsa.key", "-in", "hash20", "-out", "rsa.sig");
        Assert.Equal(opensslRsa, V1SignatureAuth.Sign(rsa, Phase1AuthMethod.RsaSignature, Hash20));
        Assert.Equal(SignatureCheck.Valid, V1SignatureAuth.Verify(Phase1AuthMethod.RsaSignature, opensslRsa, rsaCert, Hash20));

        var ours = V1SignatureAuth.Sign(ec, Phase1AuthMethod.EcdsaSha384, hash);
        await File.WriteAllBytesAsync(Path.Combine(pki.Dir, "ours.der"), Der(ours));
        var verify = await Command.RunAsync("openssl", ["pkeyutl", "-verify", "-pubin", "-inkey", Path.Combine(pki.Dir, "ec.pub"),
            "-in", Path.Combine(pki.Dir, "hash48"), "-sigfile", Path.Combine(pki.Dir, "ours.der")], TimeSpan.FromSeconds(20));
        Assert.True(verify.Ok && verify.Stdout.Contains("Signature Verified Successfully", StringComparison.Ordinal), verify.ToString());
        ours[0] ^= 1;
        await File.WriteAllBytesAsync(Path.Combine(pki.Dir, "ours.der"), Der(ours));
        verify = await Command.RunAsync("openssl", ["pkeyutl", "-verify", "-pubin", "-inkey", Path.Combine(pki.Dir, "ec.pub"),
            "-in", Path.Combine(pki.Dir, "hash48"), "-sigfile", Path.Combine(pki.Dir, "ours.der")], TimeSpan.FromSeconds(20));
        Assert.False(verify.Ok && verify.Stdout.Contains("Signature Verified Successfully", StringComparison.Ordinal));

        var theirs = await Pkeyutl(pki.Dir, "-sign", "-inkey", "ec.key", "-in", "hash48", "-out", "ec.sig");
        Assert.Equal(SignatureCheck.Valid, V1SignatureAuth.Verify(Phase1AuthMethod.EcdsaSha384,
            ec.ConvertDerToIeee(theirs), ecCert, hash));
    }

    private static async Task<byte[]> Pkeyutl(string dir, params string[] args)
    {
        var full = args.Select((a, i) => i > 0 && args[i - 1] is "-inkey" or "-in" or "-out" ? Path.Combine(dir, a) : a).ToArray();
        var r = await Command.RunAsync("openssl", ["pkeyutl", .. full], TimeSpan.FromSeconds(20));
        Assert.True(r.Ok, r.ToString());
        return await File.ReadAllBytesAsync(full[Array.IndexOf(args, "-out") + 1]);
    }

    private static byte[] Der(byte[] rs)
    {
        int half = rs.Length / 2;
        var w = new AsnWriter(AsnEncodingRules.DER);
        using (w.PushSequence())
        {
            w.WriteIntegerUnsigned(rs[..half]);
            w.WriteIntegerUnsigned(rs[half..]);
        }
        return w.Encode();
    }

    internal static X509Certificate2 SelfSigned(AsymmetricAlgorithm key)
    {
        var request = key is RSA rsa
            ? new CertificateRequest("CN=v1sig", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            : new CertificateRequest("CN=v1sig", (ECDsa)key, HashAlgorithmName.SHA256);
        using var withKey = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadCertificate(withKey.RawData);
    }
}

internal static class PadExtensions
{
    public static byte[] PadLeft(this byte[] value, int length) => value.Length >= length ? value : [.. new byte[length - value.Length], .. value];
}

internal static class EcdsaDer
{
    /// <summary>DER ECDSA-Sig-Value (RFC 3279) to r|s of the key's length.</summary>
    public static byte[] ConvertDerToIeee(this ECDsa key, byte[] der)
    {
        var reader = new AsnReader(der, AsnEncodingRules.DER).ReadSequence();
        int half = (key.KeySize + 7) / 8;
        var r = reader.ReadIntegerBytes().ToArray().SkipWhile(b => b == 0).ToArray().PadLeft(half);
        var s = reader.ReadIntegerBytes().ToArray().SkipWhile(b => b == 0).ToArray().PadLeft(half);
        return [.. r, .. s];
    }
}
