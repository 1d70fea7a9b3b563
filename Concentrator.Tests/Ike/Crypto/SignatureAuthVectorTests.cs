using System.Diagnostics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Concentrator.Ike.Crypto;
using Concentrator.Ike.Wire;
using Concentrator.Testbed.Interop;
using Concentrator.Testbed.Support;
using static Concentrator.Tests.Ike.Crypto.Hex;

namespace Concentrator.Tests.Ike.Crypto;

/// <summary>
/// Signature AUTH (RFC 7296 §2.15, RFC 7427, RFC 4754) against published encodings and vectors, and against OpenSSL's
/// command line as an independent implementation of the signatures.
/// </summary>
public sealed class SignatureAuthVectorTests
{
    private static readonly byte[] Octets = Ascii("IKE_SA_INIT | Nonce | prf(SK_p, IDx') stands in here");

    // ---- RFC 7427 Appendix A: AlgorithmIdentifiers (as strongSwan's test_signature_params.c carries them) ----

    public static TheoryData<string, string, bool, bool> Accepted => new()
    {
        // A.1: sha256WithRSAEncryption, sha384..., sha512... (NULL parameters).
        { "300d06092a864886f70d01010b0500", "SHA256", true, false },
        { "300d06092a864886f70d01010c0500", "SHA384", true, false },
        { "300d06092a864886f70d01010d0500", "SHA512", true, false },
        // A.3: ecdsa-with-SHA256/384/512 (no parameters).
        { "300a06082a8648ce3d040302", "SHA256", false, false },
        { "300a06082a8648ce3d040303", "SHA384", false, false },
        { "300a06082a8648ce3d040304", "SHA512", false, false },
        // A.4.3: RSASSA-PSS with SHA-256, MGF1-SHA-256, salt 32, trailerField 1 written out.
        { "3046 06092a864886f70d01010a 3039 a00f300d0609608648016503040201 0500 a11c301a06092a864886f70d010108300d0609608648016503040201 0500 a203020120 a303020101",
          "SHA256", true, true },
        // A.4.3 as corrected by its errata (no trailerField): what strongSwan and we send.
        { "3041 06092a864886f70d01010a 3034 a00f300d0609608648016503040201 0500 a11c301a06092a864886f70d010108300d0609608648016503040201 0500 a203020120",
          "SHA256", true, true },
        // SHA-512 from strongSwan's tests.
        { "3041 06092a864886f70d01010a 3034 a00f300d0609608648016503040203 0500 a11c301a06092a864886f70d010108300d0609608648016503040203 0500 a203020140",
          "SHA512", true, true },
    };

    [Theory]
    [MemberData(nameof(Accepted))]
    public void Rfc7427_algorithm_identifiers_decode(string hex, string hash, bool rsa, bool pss)
    {
        Assert.True(SignatureAuth.TryDecodeAlgorithm(B(hex), out var scheme));
        Assert.Equal(new SignatureAuth.Scheme(rsa, new HashAlgorithmName(hash), pss), scheme);
    }

    /// <summary>What we send is byte for byte the RFC's (the errata's, for PSS).</summary>
    [Theory]
    [InlineData("300d06092a864886f70d01010b0500", "SHA256", true, false)]
    [InlineData("300d06092a864886f70d01010d0500", "SHA512", true, false)]
    [InlineData("300a06082a8648ce3d040302", "SHA256", false, false)]
    [InlineData("300a06082a8648ce3d040303", "SHA384", false, false)]
    [InlineData("3041 06092a864886f70d01010a 3034 a00f300d0609608648016503040201 0500 a11c301a06092a864886f70d010108300d0609608648016503040201 0500 a203020120",
        "SHA256", true, true)]
    public void Our_algorithm_identifiers_are_the_published_ones(string hex, string hash, bool rsa, bool pss)
    {
        Assert.Equal(B(hex), SignatureAuth.EncodeAlgorithm(new SignatureAuth.Scheme(rsa, new HashAlgorithmName(hash), pss)));
    }

    /// <summary>SHA-1 (RFC 8247: MUST NOT in method 14), PSS defaults (SHA-1), a salt .NET cannot verify, other algorithms, junk.</summary>
    [Theory]
    [InlineData("300d06092a864886f70d0101050500")] // A.1 sha1WithRSAEncryption
    [InlineData("300906072a8648ce3d0401")] // ecdsa-with-SHA1
    [InlineData("300d06092a864886f70d01010a3000")] // A.4.1 RSASSA-PSS, empty parameters (SHA-1)
    [InlineData("303e06092a864886f70d01010a3031a00b300906052b0e03021a0500a118301606092a864886f70d010108300906052b0e03021a0500a203020114a303020101")] // A.4.2
    [InlineData("3041 06092a864886f70d01010a 3034 a00f300d0609608648016503040201 0500 a11c301a06092a864886f70d010108300d0609608648016503040201 0500 a203020100")] // salt 0
    [InlineData("301e06092a864886f70d01010a3011a00f300d06096086480165030402010500")] // only the hash: MGF1-SHA-1 by default
    [InlineData("300506032b6570")] // Ed25519 (not built)
    [InlineData("300d06092a864886f70d01010b050000")] // trailing octet
    [InlineData("30")]
    [InlineData("")]
    public void Other_algorithm_identifiers_are_refused_without_throwing(string hex)
    {
        Assert.False(SignatureAuth.TryDecodeAlgorithm(B(hex), out _));
    }

    // ---- RFC 7427 §4: SIGNATURE_HASH_ALGORITHMS ----

    [Fact]
    public void The_hash_notify_is_16_bit_identifiers()
    {
        Assert.Equal(B("0002 0003 0004"), SignatureAuth.EncodeHashes(SignatureAuth.Supported));
        Assert.Equal([SignatureHash.Sha1, SignatureHash.Sha2_256, SignatureHash.Identity, (SignatureHash)0x1234],
            SignatureAuth.DecodeHashes(B("0001 0002 0005 1234 99")));
        Assert.Equal(32, SignatureAuth.DecodeHashes(new byte[4000]).Count);
    }

    [Fact]
    public void The_scheme_follows_the_key_and_the_peers_hashes_as_strongswan_chooses()
    {
        using var rsa = RSA.Create(2048);
        using var p256 = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        SignatureHash[] all = [SignatureHash.Sha2_512, SignatureHash.Sha2_384, SignatureHash.Sha2_256];

        Assert.Equal((AuthMethod.DigitalSignature, new SignatureAuth.Scheme(true, HashAlgorithmName.SHA256, false)), SignatureAuth.Choose(rsa, all, false));
        Assert.Equal((AuthMethod.DigitalSignature, new SignatureAuth.Scheme(true, HashAlgorithmName.SHA256, true)), SignatureAuth.Choose(rsa, all, true));
        Assert.Equal((AuthMethod.DigitalSignature, new SignatureAuth.Scheme(true, HashAlgorithmName.SHA512, false)),
            SignatureAuth.Choose(rsa, [SignatureHash.Sha2_512], false));
        Assert.Equal((AuthMethod.DigitalSignature, new SignatureAuth.Scheme(false, HashAlgorithmName.SHA384, false)), SignatureAuth.Choose(p384, all, false));
        // Without RFC 7427, or without a hash in common, the classic methods (RFC 7296, RFC 4754).
        Assert.Equal((AuthMethod.RsaDigitalSignature, new SignatureAuth.Scheme(true, HashAlgorithmName.SHA1, false)), SignatureAuth.Choose(rsa, [], true));
        Assert.Equal(AuthMethod.RsaDigitalSignature, SignatureAuth.Choose(rsa, [SignatureHash.Sha1], false)!.Value.Method);
        Assert.Equal(AuthMethod.EcdsaSha256P256, SignatureAuth.Choose(p256, [], false)!.Value.Method);
        Assert.Equal(AuthMethod.EcdsaSha384P384, SignatureAuth.Choose(p384, [SignatureHash.Identity], false)!.Value.Method);
    }

    // ---- RFC 6979 A.2.5: a published P-256/SHA-256 signature checked through method 9 (r | s, RFC 4754 §7) ----

    [Fact]
    public void A_published_p256_signature_verifies_as_method_9_and_as_method_14()
    {
        var parameters = new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            D = B("C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721"),
            Q = new ECPoint
            {
                X = B("60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6"),
                Y = B("7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299"),
            },
        };
        using var key = ECDsa.Create(parameters);
        using var cert = SelfSigned(key);
        var r = B("EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716");
        var s = B("F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8");
        var message = Ascii("sample");

        Assert.Equal(SignatureCheck.Valid, SignatureAuth.Verify(AuthMethod.EcdsaSha256P256, [.. r, .. s], cert, message, out _));
        var der = Der(r, s);
        var algorithm = B("300a06082a8648ce3d040302");
        Assert.Equal(SignatureCheck.Valid, SignatureAuth.Verify(AuthMethod.DigitalSignature, [(byte)algorithm.Length, .. algorithm, .. der], cert, message, out var scheme));
        Assert.Equal(new SignatureAuth.Scheme(false, HashAlgorithmName.SHA256, false), scheme);

        s[^1] ^= 1;
        Assert.Equal(SignatureCheck.Invalid, SignatureAuth.Verify(AuthMethod.EcdsaSha256P256, [.. r, .. s], cert, message, out _));
        // Method 10 names P-384: this P-256 key does not fit it.
        Assert.Equal(SignatureCheck.Unsupported, SignatureAuth.Verify(AuthMethod.EcdsaSha384P384, [.. r, .. s], cert, message, out _));
    }

    [Theory]
    [InlineData(TestKey.Rsa2048, false)]
    [InlineData(TestKey.Rsa2048, true)]
    [InlineData(TestKey.EcdsaP256, false)]
    [InlineData(TestKey.EcdsaP384, false)]
    public void Signatures_round_trip_and_refuse_other_octets_keys_and_methods(TestKey kind, bool pss)
    {
        using var key = TestPki.NewKey(kind);
        using var cert = SelfSigned(key);
        using var otherKey = TestPki.NewKey(kind);
        using var otherCert = SelfSigned(otherKey);
        foreach (var hashes in new[] { SignatureAuth.Supported, [] })
        {
            var (method, data, _) = SignatureAuth.Sign(key, hashes, pss, Octets)!.Value;
            Assert.Equal(hashes.Count > 0, method == AuthMethod.DigitalSignature);
            Assert.Equal(SignatureCheck.Valid, SignatureAuth.Verify(method, data, cert, Octets, out _));
            Assert.Equal(SignatureCheck.Invalid, SignatureAuth.Verify(method, data, cert, [.. Octets, 0], out _));
            Assert.Equal(SignatureCheck.Invalid, SignatureAuth.Verify(method, data, otherCert, Octets, out _));
            Assert.Equal(SignatureCheck.Unsupported, SignatureAuth.Verify(AuthMethod.DssDigitalSignature, data, cert, Octets, out _));
            Assert.Equal(SignatureCheck.Unsupported, SignatureAuth.Verify(AuthMethod.SharedKeyMic, data, cert, Octets, out _));
        }
        // A length octet that points past the data, and an empty AUTH, are refused, not thrown.
        Assert.Equal(SignatureCheck.Unsupported, SignatureAuth.Verify(AuthMethod.DigitalSignature, [0xff, 0x30], cert, Octets, out _));
        Assert.Equal(SignatureCheck.Unsupported, SignatureAuth.Verify(AuthMethod.DigitalSignature, [], cert, Octets, out _));
        Assert.NotEqual(SignatureCheck.Valid, SignatureAuth.Verify(AuthMethod.RsaDigitalSignature, [1, 2, 3], cert, Octets, out _));
    }

    // ---- OpenSSL's command line as the independent implementation ----

    /// <summary>
    /// RSA PKCS#1 v1.5 is deterministic: our method 1 (SHA-1) and method 14 (SHA-256) signatures are OpenSSL's, byte for
    /// byte; RSASSA-PSS and ECDSA (randomized) signatures of ours verify with OpenSSL, and OpenSSL's with us.
    /// </summary>
    [Fact]
    public async Task Openssl_agrees_with_our_signatures()
    {
        if (!Command.Exists("openssl"))
        {
            Assert.False(InteropPrerequisitesInCi(), "openssl is missing (scripts/install-deps.sh)");
            return;
        }
        using var pki = new TestPki();
        using var rsa = RSA.Create(2048);
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var rsaCert = SelfSigned(rsa);
        using var ecCert = SelfSigned(ec);
        var data = Path.Combine(pki.Dir, "octets");
        await File.WriteAllBytesAsync(data, Octets);
        await File.WriteAllTextAsync(Path.Combine(pki.Dir, "rsa.key"), rsa.ExportPkcs8PrivateKeyPem());
        await File.WriteAllTextAsync(Path.Combine(pki.Dir, "rsa.pub"), rsa.ExportSubjectPublicKeyInfoPem());
        await File.WriteAllTextAsync(Path.Combine(pki.Dir, "ec.key"), ec.ExportPkcs8PrivateKeyPem());
        await File.WriteAllTextAsync(Path.Combine(pki.Dir, "ec.pub"), ec.ExportSubjectPublicKeyInfoPem());

        // Method 1: PKCS#1 v1.5 with SHA-1, equal to OpenSSL's.
        var (method, auth, _) = SignatureAuth.Sign(rsa, [], false, Octets)!.Value;
        Assert.Equal(AuthMethod.RsaDigitalSignature, method);
        Assert.Equal(await OpensslSign(pki.Dir, "-sha1", "rsa.key"), auth);

        // Method 14 with SHA-256: length, AlgorithmIdentifier, then OpenSSL's signature.
        (method, auth, _) = SignatureAuth.Sign(rsa, SignatureAuth.Supported, false, Octets)!.Value;
        var expected = await OpensslSign(pki.Dir, "-sha256", "rsa.key");
        Assert.Equal([15, .. B("300d06092a864886f70d01010b0500"), .. expected], auth);

        // PSS (salt = hash length) and ECDSA: ours verify with OpenSSL.
        (_, auth, _) = SignatureAuth.Sign(rsa, SignatureAuth.Supported, true, Octets)!.Value;
        Assert.True(await OpensslVerify(pki.Dir, auth[(1 + auth[0])..], "-sha256", "rsa.pub", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"));
        (_, auth, _) = SignatureAuth.Sign(ec, SignatureAuth.Supported, false, Octets)!.Value;
        Assert.True(await OpensslVerify(pki.Dir, auth[(1 + auth[0])..], "-sha256", "ec.pub"));
        Assert.False(await OpensslVerify(pki.Dir, [.. auth[(1 + auth[0])..^1], (byte)(auth[^1] ^ 1)], "-sha256", "ec.pub"));

        // OpenSSL's PSS and ECDSA signatures verify with us.
        var pss = await OpensslSign(pki.Dir, "-sha256", "rsa.key", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32");
        var pssAlgorithm = SignatureAuth.EncodeAlgorithm(new SignatureAuth.Scheme(true, HashAlgorithmName.SHA256, true));
        Assert.Equal(SignatureCheck.Valid, SignatureAuth.Verify(AuthMethod.DigitalSignature, [(byte)pssAlgorithm.Length, .. pssAlgorithm, .. pss], rsaCert, Octets, out _));
        var ecdsa = await OpensslSign(pki.Dir, "-sha256", "ec.key");
        Assert.Equal(SignatureCheck.Valid, SignatureAuth.Verify(AuthMethod.DigitalSignature, [12, .. B("300a06082a8648ce3d040302"), .. ecdsa], ecCert, Octets, out _));
    }

    private static bool InteropPrerequisitesInCi() => InteropPrerequisites.InCi;

    private static async Task<byte[]> OpensslSign(string dir, string hash, string key, params string[] options)
    {
        var sig = Path.Combine(dir, "openssl.sig");
        var r = await Command.RunAsync("openssl", ["dgst", hash, "-sign", Path.Combine(dir, key), .. options, "-out", sig, Path.Combine(dir, "octets")], TimeSpan.FromSeconds(20));
        Assert.True(r.Ok, r.ToString());
        return await File.ReadAllBytesAsync(sig);
    }

    private static async Task<bool> OpensslVerify(string dir, byte[] signature, string hash, string pub, params string[] options)
    {
        var sig = Path.Combine(dir, "ours.sig");
        await File.WriteAllBytesAsync(sig, signature);
        var r = await Command.RunAsync("openssl", ["dgst", hash, "-verify", Path.Combine(dir, pub), .. options, "-signature", sig, Path.Combine(dir, "octets")],
            TimeSpan.FromSeconds(20));
        return r.Ok && r.Stdout.Contains("Verified OK", StringComparison.Ordinal);
    }

    private static X509Certificate2 SelfSigned(AsymmetricAlgorithm key)
    {
        var request = key is RSA rsa
            ? new CertificateRequest("CN=vector", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            : new CertificateRequest("CN=vector", (ECDsa)key, HashAlgorithmName.SHA256);
        using var withKey = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadCertificate(withKey.RawData);
    }

    /// <summary>ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } (RFC 3279), for method 14.</summary>
    private static byte[] Der(byte[] r, byte[] s)
    {
        var w = new System.Formats.Asn1.AsnWriter(System.Formats.Asn1.AsnEncodingRules.DER);
        using (w.PushSequence())
        {
            w.WriteIntegerUnsigned(r);
            w.WriteIntegerUnsigned(s);
        }
        return w.Encode();
    }
}
