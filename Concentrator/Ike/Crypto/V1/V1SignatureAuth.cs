using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Concentrator.Ipsec;
using Concentrator.Ike.Wire.V1;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Crypto.Digests;
using Org.BouncyCastle.Crypto.Encodings;
using Org.BouncyCastle.Crypto.Engines;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;
using Org.BouncyCastle.Math;

namespace Concentrator.Ike.Crypto.V1;

/// <summary>
/// IKEv1 signature authentication (RFC 2409 §5.1, RFC 4754 §4 for ECDSA): the SIG payload is a signature over
/// HASH_I or HASH_R itself, never over the hash of it. RSA (method 3) is PKCS#1 v1.5 type 1 padding of the raw HASH
/// without a DigestInfo (strongSwan's SIGN_RSA_EMSA_PKCS1_NULL), composed of BouncyCastle's PKCS#1 encoding and RSA
/// engine behind a null digest, since .NET's RSA signs only DigestInfo-wrapped hashes. ECDSA (9/10/11) is
/// .NET's ECDSA over the HASH as given, r|s each of the curve's length (strongSwan's SIGN_ECDSA_WITH_NULL); its HASH
/// is computed with the HMAC of the method's hash, not the negotiated one (RFC 4754 §4, strongSwan's prf_auth).
/// </summary>
public static class V1SignatureAuth
{
    private const string OidP256 = "1.2.840.10045.3.1.7";
    private const string OidP384 = "1.3.132.0.34";
    private const string OidP521 = "1.3.132.0.35";

    /// <summary>The signature methods this class signs and checks.</summary>
    public static bool IsSignature(Phase1AuthMethod method) => method is Phase1AuthMethod.RsaSignature or Phase1AuthMethod.EcdsaSha256
        or Phase1AuthMethod.EcdsaSha384 or Phase1AuthMethod.EcdsaSha512;

    /// <summary>The method our key signs with: RSA 3, ECDSA by curve 9/10/11; null for another key or curve.</summary>
    public static Phase1AuthMethod? MethodFor(AsymmetricAlgorithm key) => key switch
    {
        RSA => Phase1AuthMethod.RsaSignature,
        ECDsa e => CurveOid(e) switch
        {
            OidP256 => Phase1AuthMethod.EcdsaSha256,
            OidP384 => Phase1AuthMethod.EcdsaSha384,
            OidP521 => Phase1AuthMethod.EcdsaSha512,
            _ => null,
        },
        _ => null,
    };

    /// <summary>
    /// The PRF HASH_I/HASH_R are computed with (keyed with SKEYID): for ECDSA the HMAC of the method's hash (RFC 4754 §4:
    /// "the hash algorithm ... is the one the method names"; strongSwan's keymat_v1 prf_auth), else the negotiated PRF.
    /// </summary>
    public static Prf AuthPrf(Phase1AuthMethod method, Prf negotiated) => method switch
    {
        Phase1AuthMethod.EcdsaSha256 => Prf.Create(PrfAlgorithm.HmacSha2_256),
        Phase1AuthMethod.EcdsaSha384 => Prf.Create(PrfAlgorithm.HmacSha2_384),
        Phase1AuthMethod.EcdsaSha512 => Prf.Create(PrfAlgorithm.HmacSha2_512),
        _ => negotiated,
    };

    /// <summary>The SIG payload data: <paramref name="hash"/> (HASH_I or HASH_R) signed with our private key for <paramref name="method"/>.</summary>
    public static byte[] Sign(AsymmetricAlgorithm key, Phase1AuthMethod method, ReadOnlySpan<byte> hash)
    {
        if (MethodFor(key) != method) throw new ArgumentException($"the key does not sign {method}", nameof(key));
        if (key is ECDsa ecdsa) return ecdsa.SignHash(hash, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        var p = ((RSA)key).ExportParameters(includePrivateParameters: true);
        try
        {
            var signer = NullRsaSigner();
            signer.Init(true, new RsaPrivateCrtKeyParameters(Big(p.Modulus!), Big(p.Exponent!), Big(p.D!), Big(p.P!), Big(p.Q!),
                Big(p.DP!), Big(p.DQ!), Big(p.InverseQ!)));
            signer.BlockUpdate(hash);
            return signer.GenerateSignature();
        }
        finally
        {
            CryptographicOperations.ZeroMemory(p.D);
            CryptographicOperations.ZeroMemory(p.P);
            CryptographicOperations.ZeroMemory(p.Q);
            CryptographicOperations.ZeroMemory(p.DP);
            CryptographicOperations.ZeroMemory(p.DQ);
            CryptographicOperations.ZeroMemory(p.InverseQ);
        }
    }

    /// <summary>
    /// Checks the peer's SIG data over <paramref name="hash"/> with the public key of <paramref name="certificate"/>:
    /// method 3 needs an RSA key, 9/10/11 an ECDSA key on P-256/P-384/P-521 respectively. Never throws on peer input.
    /// </summary>
    public static SignatureCheck Verify(Phase1AuthMethod method, ReadOnlySpan<byte> signature, X509Certificate2 certificate, ReadOnlySpan<byte> hash)
    {
        if (!IsSignature(method)) return SignatureCheck.Unsupported;
        try
        {
            if (method == Phase1AuthMethod.RsaSignature)
            {
                using var rsa = certificate.GetRSAPublicKey();
                if (rsa is null) return SignatureCheck.Unsupported;
                var p = rsa.ExportParameters(false);
                var signer = NullRsaSigner();
                signer.Init(false, new RsaKeyParameters(false, Big(p.Modulus!), Big(p.Exponent!)));
                signer.BlockUpdate(hash);
                return signer.VerifySignature(signature.ToArray()) ? SignatureCheck.Valid : SignatureCheck.Invalid;
            }
            using var ecdsa = certificate.GetECDsaPublicKey();
            if (ecdsa is null || MethodFor(ecdsa) != method) return SignatureCheck.Unsupported;
            return ecdsa.VerifyHash(hash, signature, DSASignatureFormat.IeeeP1363FixedFieldConcatenation) ? SignatureCheck.Valid : SignatureCheck.Invalid;
        }
        catch (Exception e) when (e is CryptographicException or CryptoException or ArgumentException)
        {
            // A key the platform cannot use, or a signature of the wrong shape.
            return SignatureCheck.Invalid;
        }
    }

    /// <summary>PKCS#1 v1.5 signature padding (block type 1) of the data as given: a null digest passes HASH through.</summary>
    private static GenericSigner NullRsaSigner() => new(new Pkcs1Encoding(new RsaBlindedEngine()), new NullDigest());

    private static BigInteger Big(byte[] unsigned) => new(1, unsigned);

    private static string? CurveOid(ECDsa key)
    {
        var curve = key.ExportParameters(false).Curve;
        if (!curve.IsNamed) return null;
        return curve.Oid.Value ?? curve.Oid.FriendlyName switch
        {
            "nistP256" or "ECDSA_P256" or "prime256v1" or "secp256r1" => OidP256,
            "nistP384" or "ECDSA_P384" or "secp384r1" => OidP384,
            "nistP521" or "ECDSA_P521" or "secp521r1" => OidP521,
            _ => null,
        };
    }
}
