using System.Buffers.Binary;
using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Concentrator.Ike.Wire;

namespace Concentrator.Ike.Crypto;

/// <summary>IANA "IKEv2 Hash Algorithms" (RFC 7427 §4), the values of SIGNATURE_HASH_ALGORITHMS.</summary>
public enum SignatureHash : ushort
{
    Sha1 = 1,
    Sha2_256 = 2,
    Sha2_384 = 3,
    Sha2_512 = 4,
    Identity = 5,
}

/// <summary>The outcome of checking a peer's signature AUTH.</summary>
public enum SignatureCheck
{
    Valid = 0,
    /// <summary>The signature does not verify.</summary>
    Invalid,
    /// <summary>A method, algorithm or key we do not accept, or a key that does not fit the method.</summary>
    Unsupported,
}

/// <summary>
/// Signature AUTH data (RFC 7296 §2.15, RFC 7427, RFC 4754): the signed octets are those of <see cref="AuthOctets"/>.
/// Methods: RSA PKCS#1 v1.5 with SHA-1 (1, RFC 7296), ECDSA with P-256/SHA-256, P-384/SHA-384, P-521/SHA-512 and the
/// signature as r|s (9, 10, 11, RFC 4754), and Digital Signature (14, RFC 7427): one length octet, the DER
/// AlgorithmIdentifier, the signature (RSA PKCS#1 v1.5 or RSASSA-PSS with SHA-2, ECDSA with SHA-2 in DER). Only
/// System.Security.Cryptography signs and verifies; this class composes the formats.
/// </summary>
public static class SignatureAuth
{
    /// <summary>Announced in SIGNATURE_HASH_ALGORITHMS and accepted in method 14: SHA-2 only (RFC 8247 §3.2: SHA-1 MUST NOT).</summary>
    public static readonly IReadOnlyList<SignatureHash> Supported = [SignatureHash.Sha2_256, SignatureHash.Sha2_384, SignatureHash.Sha2_512];

    /// <summary>More hash values than any peer has a use for: the rest of a hostile notify is not read.</summary>
    private const int MaxPeerHashes = 32;

    private const string OidRsaPkcs1Sha256 = "1.2.840.113549.1.1.11";
    private const string OidRsaPkcs1Sha384 = "1.2.840.113549.1.1.12";
    private const string OidRsaPkcs1Sha512 = "1.2.840.113549.1.1.13";
    private const string OidRsaPss = "1.2.840.113549.1.1.10";
    private const string OidMgf1 = "1.2.840.113549.1.1.8";
    private const string OidEcdsaSha256 = "1.2.840.10045.4.3.2";
    private const string OidEcdsaSha384 = "1.2.840.10045.4.3.3";
    private const string OidEcdsaSha512 = "1.2.840.10045.4.3.4";
    private const string OidSha256 = "2.16.840.1.101.3.4.2.1";
    private const string OidSha384 = "2.16.840.1.101.3.4.2.2";
    private const string OidSha512 = "2.16.840.1.101.3.4.2.3";
    private const string OidP256 = "1.2.840.10045.3.1.7";
    private const string OidP384 = "1.3.132.0.34";
    private const string OidP521 = "1.3.132.0.35";

    /// <summary>A signature scheme of method 14 (or the one a classic method implies).</summary>
    public readonly record struct Scheme(bool Rsa, HashAlgorithmName Hash, bool Pss)
    {
        /// <summary>strongSwan's names, for logs: RSA_EMSA_PKCS1_SHA2_256, RSA_EMSA_PSS_SHA2_256, ECDSA_WITH_SHA256_DER.</summary>
        public override string ToString() => Rsa
            ? $"RSA_EMSA_{(Pss ? "PSS" : "PKCS1")}_{(Hash == HashAlgorithmName.SHA1 ? "SHA1" : "SHA2_" + Hash.Name![3..])}"
            : $"ECDSA_WITH_{Hash.Name}_DER";
    }

    /// <summary>The SIGNATURE_HASH_ALGORITHMS notify data: 16-bit hash identifiers (RFC 7427 §4).</summary>
    public static byte[] EncodeHashes(IReadOnlyList<SignatureHash> hashes)
    {
        var data = new byte[hashes.Count * 2];
        for (int i = 0; i < hashes.Count; i++) BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(i * 2), (ushort)hashes[i]);
        return data;
    }

    /// <summary>The peer's hash identifiers, at most <see cref="MaxPeerHashes"/>; a trailing odd octet is ignored (strongSwan's reading).</summary>
    public static IReadOnlyList<SignatureHash> DecodeHashes(ReadOnlySpan<byte> data)
    {
        var hashes = new List<SignatureHash>();
        for (int i = 0; i + 1 < data.Length && hashes.Count < MaxPeerHashes; i += 2)
        {
            hashes.Add((SignatureHash)BinaryPrimitives.ReadUInt16BigEndian(data[i..]));
        }
        return hashes;
    }

    /// <summary>
    /// The scheme we sign with, as strongSwan's select_signature_schemes: with RFC 7427 (the peer announced hashes), the
    /// first of the key's schemes whose hash the peer supports (RSA up to 3072 bits SHA-256 first, up to 7680 bits SHA-384
    /// first, else SHA-512; ECDSA the curve's hash first), PSS for RSA when <paramref name="rsaPss"/>; without it the
    /// classic method of the key (RSA: 1 with SHA-1; ECDSA: 9, 10 or 11 by curve), also when no hash is shared. Null: an
    /// ECDSA key on a curve without a classic method and no shared hash.
    /// </summary>
    public static (AuthMethod Method, Scheme Scheme)? Choose(AsymmetricAlgorithm key, IReadOnlyList<SignatureHash> peerHashes, bool rsaPss)
    {
        bool rsa = key is RSA;
        int size = key.KeySize;
        SignatureHash[] order = rsa
            ? size <= 3072 ? [SignatureHash.Sha2_256, SignatureHash.Sha2_384, SignatureHash.Sha2_512]
              : size <= 7680 ? [SignatureHash.Sha2_384, SignatureHash.Sha2_512, SignatureHash.Sha2_256]
              : [SignatureHash.Sha2_512, SignatureHash.Sha2_384, SignatureHash.Sha2_256]
            : size <= 256 ? [SignatureHash.Sha2_256, SignatureHash.Sha2_384, SignatureHash.Sha2_512]
              : size <= 384 ? [SignatureHash.Sha2_384, SignatureHash.Sha2_512, SignatureHash.Sha2_256]
              : [SignatureHash.Sha2_512, SignatureHash.Sha2_384, SignatureHash.Sha2_256];
        foreach (var hash in order)
        {
            if (peerHashes.Contains(hash)) return (AuthMethod.DigitalSignature, new Scheme(rsa, HashName(hash), rsa && rsaPss));
        }
        // No RFC 7427, or no hash in common (strongSwan then fails; the classic method still authenticates).
        if (rsa) return (AuthMethod.RsaDigitalSignature, new Scheme(true, HashAlgorithmName.SHA1, false));
        return CurveOid((ECDsa)key) switch
        {
            OidP256 => (AuthMethod.EcdsaSha256P256, new Scheme(false, HashAlgorithmName.SHA256, false)),
            OidP384 => (AuthMethod.EcdsaSha384P384, new Scheme(false, HashAlgorithmName.SHA384, false)),
            OidP521 => (AuthMethod.EcdsaSha512P521, new Scheme(false, HashAlgorithmName.SHA512, false)),
            _ => null,
        };
    }

    /// <summary>The AUTH payload data for <paramref name="octets"/> signed with our private key, or null when the peer shares no scheme with us.</summary>
    public static (AuthMethod Method, byte[] Data, Scheme Scheme)? Sign(AsymmetricAlgorithm key, IReadOnlyList<SignatureHash> peerHashes, bool rsaPss,
        ReadOnlySpan<byte> octets)
    {
        if (Choose(key, peerHashes, rsaPss) is not var (method, scheme)) return null;
        byte[] signature = key switch
        {
            RSA r => r.SignData(octets, scheme.Hash, scheme.Pss ? RSASignaturePadding.Pss : RSASignaturePadding.Pkcs1),
            ECDsa e => e.SignData(octets, scheme.Hash,
                method == AuthMethod.DigitalSignature ? DSASignatureFormat.Rfc3279DerSequence : DSASignatureFormat.IeeeP1363FixedFieldConcatenation),
            _ => throw new ArgumentException("only RSA and ECDSA keys sign", nameof(key)),
        };
        if (method != AuthMethod.DigitalSignature) return (method, signature, scheme);
        var algorithm = EncodeAlgorithm(scheme);
        return (method, [(byte)algorithm.Length, .. algorithm, .. signature], scheme);
    }

    /// <summary>
    /// Checks the peer's AUTH data with the public key of its certificate. Method 14 names its scheme; the classic methods
    /// imply one and a key (1: RSA with SHA-1; 9/10/11: the matching curve). Never throws on peer input.
    /// </summary>
    public static SignatureCheck Verify(AuthMethod method, ReadOnlySpan<byte> data, X509Certificate2 certificate, ReadOnlySpan<byte> octets,
        out Scheme scheme)
    {
        scheme = default;
        var signature = data;
        string? curve = null;
        switch (method)
        {
            case AuthMethod.RsaDigitalSignature:
                scheme = new Scheme(true, HashAlgorithmName.SHA1, false);
                break;
            case AuthMethod.EcdsaSha256P256:
                (scheme, curve) = (new Scheme(false, HashAlgorithmName.SHA256, false), OidP256);
                break;
            case AuthMethod.EcdsaSha384P384:
                (scheme, curve) = (new Scheme(false, HashAlgorithmName.SHA384, false), OidP384);
                break;
            case AuthMethod.EcdsaSha512P521:
                (scheme, curve) = (new Scheme(false, HashAlgorithmName.SHA512, false), OidP521);
                break;
            case AuthMethod.DigitalSignature:
                if (data.Length < 1 || data.Length < 1 + data[0] || !TryDecodeAlgorithm(data.Slice(1, data[0]), out scheme)) return SignatureCheck.Unsupported;
                signature = data[(1 + data[0])..];
                break;
            default:
                return SignatureCheck.Unsupported;
        }

        try
        {
            if (scheme.Rsa)
            {
                using var rsa = certificate.GetRSAPublicKey();
                if (rsa is null) return SignatureCheck.Unsupported;
                return rsa.VerifyData(octets, signature, scheme.Hash, scheme.Pss ? RSASignaturePadding.Pss : RSASignaturePadding.Pkcs1)
                    ? SignatureCheck.Valid
                    : SignatureCheck.Invalid;
            }
            using var ecdsa = certificate.GetECDsaPublicKey();
            if (ecdsa is null || (curve is not null && CurveOid(ecdsa) != curve)) return SignatureCheck.Unsupported;
            var format = method == AuthMethod.DigitalSignature ? DSASignatureFormat.Rfc3279DerSequence : DSASignatureFormat.IeeeP1363FixedFieldConcatenation;
            return ecdsa.VerifyData(octets, signature, scheme.Hash, format) ? SignatureCheck.Valid : SignatureCheck.Invalid;
        }
        catch (CryptographicException)
        {
            // A key the platform cannot use (an unsupported curve or size) or a signature of the wrong shape.
            return SignatureCheck.Invalid;
        }
    }

    /// <summary>
    /// The DER AlgorithmIdentifier of a method-14 scheme, as strongSwan writes it: RSA PKCS#1 with NULL parameters,
    /// RSASSA-PSS with hash, MGF1 with the same hash and a salt of the hash's length (RFC 7427 A.4.3 as corrected by its
    /// errata: no trailerField), ECDSA without parameters.
    /// </summary>
    public static byte[] EncodeAlgorithm(Scheme scheme)
    {
        var w = new AsnWriter(AsnEncodingRules.DER);
        using (w.PushSequence())
        {
            if (!scheme.Rsa)
            {
                w.WriteObjectIdentifier(scheme.Hash.Name switch { "SHA256" => OidEcdsaSha256, "SHA384" => OidEcdsaSha384, _ => OidEcdsaSha512 });
            }
            else if (!scheme.Pss)
            {
                w.WriteObjectIdentifier(scheme.Hash.Name switch { "SHA256" => OidRsaPkcs1Sha256, "SHA384" => OidRsaPkcs1Sha384, _ => OidRsaPkcs1Sha512 });
                w.WriteNull();
            }
            else
            {
                w.WriteObjectIdentifier(OidRsaPss);
                using (w.PushSequence())
                {
                    using (w.PushSequence(new Asn1Tag(TagClass.ContextSpecific, 0))) WriteHashAlgorithm(w, scheme.Hash);
                    using (w.PushSequence(new Asn1Tag(TagClass.ContextSpecific, 1)))
                    {
                        using (w.PushSequence())
                        {
                            w.WriteObjectIdentifier(OidMgf1);
                            WriteHashAlgorithm(w, scheme.Hash);
                        }
                    }
                    using (w.PushSequence(new Asn1Tag(TagClass.ContextSpecific, 2))) w.WriteInteger(HashLength(scheme.Hash));
                }
            }
        }
        return w.Encode();
    }

    /// <summary>
    /// Reads a method-14 AlgorithmIdentifier: RSA PKCS#1 and ECDSA with SHA-256/384/512 (RSA with or without NULL
    /// parameters), RSASSA-PSS whose hash and MGF1 hash are the same SHA-2 and whose salt is the hash's length (what
    /// .NET verifies, and what strongSwan and RFC 8247 use); SHA-1, other PSS parameters and other algorithms are refused.
    /// </summary>
    public static bool TryDecodeAlgorithm(ReadOnlySpan<byte> der, out Scheme scheme)
    {
        scheme = default;
        try
        {
            var outer = new AsnReader(der.ToArray(), AsnEncodingRules.DER);
            var seq = outer.ReadSequence();
            if (outer.HasData) return false;
            var oid = seq.ReadObjectIdentifier();
            switch (oid)
            {
                case OidRsaPkcs1Sha256 or OidRsaPkcs1Sha384 or OidRsaPkcs1Sha512:
                    if (seq.HasData) seq.ReadNull();
                    if (seq.HasData) return false;
                    scheme = new Scheme(true, oid switch { OidRsaPkcs1Sha256 => HashAlgorithmName.SHA256, OidRsaPkcs1Sha384 => HashAlgorithmName.SHA384, _ => HashAlgorithmName.SHA512 }, false);
                    return true;
                case OidEcdsaSha256 or OidEcdsaSha384 or OidEcdsaSha512:
                    if (seq.HasData) return false;
                    scheme = new Scheme(false, oid switch { OidEcdsaSha256 => HashAlgorithmName.SHA256, OidEcdsaSha384 => HashAlgorithmName.SHA384, _ => HashAlgorithmName.SHA512 }, false);
                    return true;
                case OidRsaPss:
                    return TryDecodePss(seq, out scheme);
                default:
                    return false;
            }
        }
        catch (AsnContentException)
        {
            return false;
        }
    }

    private static bool TryDecodePss(AsnReader seq, out Scheme scheme)
    {
        scheme = default;
        // RSASSA-PSS-params; absent fields default to SHA-1, MGF1-SHA-1 and salt 20, all refused below.
        var p = seq.ReadSequence();
        if (seq.HasData) return false;
        HashAlgorithmName? hash = null, mgfHash = null;
        int? salt = null;
        var tag0 = new Asn1Tag(TagClass.ContextSpecific, 0, isConstructed: true);
        var tag1 = new Asn1Tag(TagClass.ContextSpecific, 1, isConstructed: true);
        var tag2 = new Asn1Tag(TagClass.ContextSpecific, 2, isConstructed: true);
        var tag3 = new Asn1Tag(TagClass.ContextSpecific, 3, isConstructed: true);
        if (p.HasData && p.PeekTag() == tag0) hash = ReadHashAlgorithm(p.ReadSequence(tag0));
        if (p.HasData && p.PeekTag() == tag1)
        {
            var mgf = p.ReadSequence(tag1).ReadSequence();
            if (mgf.ReadObjectIdentifier() != OidMgf1) return false;
            mgfHash = ReadHashAlgorithm(mgf);
            if (mgf.HasData) return false;
        }
        if (p.HasData && p.PeekTag() == tag2)
        {
            var s = p.ReadSequence(tag2);
            if (!s.TryReadInt32(out int value)) return false;
            salt = value;
        }
        if (p.HasData && p.PeekTag() == tag3)
        {
            var t = p.ReadSequence(tag3);
            if (!t.TryReadInt32(out int trailer) || trailer != 1) return false;
        }
        if (p.HasData || hash is not { } h || mgfHash != h || salt != HashLength(h)) return false;
        scheme = new Scheme(true, h, true);
        return true;
    }

    /// <summary>A hash AlgorithmIdentifier inside an explicit tag: SHA-2 with NULL or absent parameters, else null.</summary>
    private static HashAlgorithmName? ReadHashAlgorithm(AsnReader holder)
    {
        var alg = holder.ReadSequence();
        var name = alg.ReadObjectIdentifier() switch
        {
            OidSha256 => HashAlgorithmName.SHA256,
            OidSha384 => HashAlgorithmName.SHA384,
            OidSha512 => HashAlgorithmName.SHA512,
            _ => (HashAlgorithmName?)null,
        };
        if (alg.HasData) alg.ReadNull();
        return alg.HasData || holder.HasData ? null : name;
    }

    private static void WriteHashAlgorithm(AsnWriter w, HashAlgorithmName hash)
    {
        using (w.PushSequence())
        {
            w.WriteObjectIdentifier(hash.Name switch { "SHA256" => OidSha256, "SHA384" => OidSha384, _ => OidSha512 });
            w.WriteNull();
        }
    }

    private static int HashLength(HashAlgorithmName hash) => hash.Name switch { "SHA256" => 32, "SHA384" => 48, "SHA512" => 64, _ => 20 };

    private static HashAlgorithmName HashName(SignatureHash hash) => hash switch
    {
        SignatureHash.Sha2_256 => HashAlgorithmName.SHA256,
        SignatureHash.Sha2_384 => HashAlgorithmName.SHA384,
        _ => HashAlgorithmName.SHA512,
    };

    private static string? CurveOid(ECDsa key)
    {
        var curve = key.ExportParameters(false).Curve;
        return curve.IsNamed ? curve.Oid.Value ?? CurveOidByName(curve.Oid.FriendlyName) : null;
    }

    private static string? CurveOidByName(string? name) => name switch
    {
        "nistP256" or "ECDSA_P256" or "prime256v1" or "secp256r1" => OidP256,
        "nistP384" or "ECDSA_P384" or "secp384r1" => OidP384,
        "nistP521" or "ECDSA_P521" or "secp521r1" => OidP521,
        _ => null,
    };
}
