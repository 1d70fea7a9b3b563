using Concentrator.Ike.Sa;
using Concentrator.Ipsec;

namespace Concentrator.Hosting;

/// <summary>
/// Algorithms and Child SA states in the words of strongSwan's <c>swanctl --list-sas</c> (its libstrongswan enum names:
/// encryption_algorithm_names, integrity_algorithm_names, pseudo_random_function_names, key_exchange_method_names,
/// child_sa_state_names), so that an operator reads the same on both ends of a tunnel. One table per transform type.
/// </summary>
public static class SwanctlNames
{
    public static string Encryption(EncrAlgorithm a) => a switch
    {
        EncrAlgorithm.Des => "DES_CBC",
        EncrAlgorithm.TripleDes => "3DES_CBC",
        EncrAlgorithm.Null => "NULL",
        EncrAlgorithm.AesCbc => "AES_CBC",
        EncrAlgorithm.AesCtr => "AES_CTR",
        EncrAlgorithm.AesCcm8 => "AES_CCM_8",
        EncrAlgorithm.AesCcm12 => "AES_CCM_12",
        EncrAlgorithm.AesCcm16 => "AES_CCM_16",
        EncrAlgorithm.AesGcm8 => "AES_GCM_8",
        EncrAlgorithm.AesGcm12 => "AES_GCM_12",
        EncrAlgorithm.AesGcm16 => "AES_GCM_16",
        EncrAlgorithm.ChaCha20Poly1305 => "CHACHA20_POLY1305",
        _ => $"UNKNOWN_{(ushort)a}",
    };

    public static string Integrity(IntegAlgorithm a) => a switch
    {
        IntegAlgorithm.HmacMd5_96 => "HMAC_MD5_96",
        IntegAlgorithm.HmacSha1_96 => "HMAC_SHA1_96",
        IntegAlgorithm.AesXcbc96 => "AES_XCBC_96",
        IntegAlgorithm.HmacSha2_256_128 => "HMAC_SHA2_256_128",
        IntegAlgorithm.HmacSha2_384_192 => "HMAC_SHA2_384_192",
        IntegAlgorithm.HmacSha2_512_256 => "HMAC_SHA2_512_256",
        _ => $"UNKNOWN_{(ushort)a}",
    };

    public static string Prf(PrfAlgorithm a) => a switch
    {
        PrfAlgorithm.HmacMd5 => "PRF_HMAC_MD5",
        PrfAlgorithm.HmacSha1 => "PRF_HMAC_SHA1",
        PrfAlgorithm.AesXcbc => "PRF_AES128_XCBC",
        PrfAlgorithm.HmacSha2_256 => "PRF_HMAC_SHA2_256",
        PrfAlgorithm.HmacSha2_384 => "PRF_HMAC_SHA2_384",
        PrfAlgorithm.HmacSha2_512 => "PRF_HMAC_SHA2_512",
        PrfAlgorithm.AesCmac => "PRF_AES128_CMAC",
        _ => $"UNKNOWN_{(ushort)a}",
    };

    public static string Group(DhGroup g) => g switch
    {
        DhGroup.Modp768 => "MODP_768",
        DhGroup.Modp1024 => "MODP_1024",
        DhGroup.Modp1536 => "MODP_1536",
        DhGroup.Modp2048 => "MODP_2048",
        DhGroup.Modp3072 => "MODP_3072",
        DhGroup.Modp4096 => "MODP_4096",
        DhGroup.Modp6144 => "MODP_6144",
        DhGroup.Modp8192 => "MODP_8192",
        DhGroup.Ecp256 => "ECP_256",
        DhGroup.Ecp384 => "ECP_384",
        DhGroup.Ecp521 => "ECP_521",
        DhGroup.Curve25519 => "CURVE_25519",
        DhGroup.Curve448 => "CURVE_448",
        _ => $"UNKNOWN_{(ushort)g}",
    };

    /// <summary>The IKE SA's line: <c>AES_CBC-256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/ECP_256</c>; an AEAD has no
    /// integrity algorithm (<c>AES_GCM_16-256/PRF_HMAC_SHA2_384/CURVE_25519</c>). swanctl prints a key size only for
    /// ciphers that have a variable one; ours all do but 3DES, DES and NULL.</summary>
    public static string Ike(IkeSuite s) =>
        Cipher(s.Encryption, s.KeyBits)
        + (s.Integrity == IntegAlgorithm.None ? "" : "/" + Integrity(s.Integrity))
        + "/" + Prf(s.Prf) + "/" + Group(s.Group);

    /// <summary>A Child SA's algorithms after swanctl's <c>ESP:</c>: <c>AES_GCM_16-256</c>, <c>AES_CBC-128/HMAC_SHA2_256_128</c>,
    /// then <c>/MODP_2048</c> with PFS and <c>/ESN</c> with extended sequence numbers.</summary>
    public static string Esp(EspSuite s) =>
        Cipher(s.Encryption, s.KeyBits)
        + (s.Integrity == IntegAlgorithm.None ? "" : "/" + Integrity(s.Integrity))
        + (s.Group == DhGroup.None ? "" : "/" + Group(s.Group))
        + (s.Esn ? "/ESN" : "");

    private static string Cipher(EncrAlgorithm a, int keyBits) =>
        a is EncrAlgorithm.TripleDes or EncrAlgorithm.Des or EncrAlgorithm.Null || keyBits <= 0 ? Encryption(a) : $"{Encryption(a)}-{keyBits}";

    /// <summary>
    /// strongSwan's child_sa_state_t for our <see cref="ChildSaTable"/> entry: our Delete in flight is DELETING, our rekey
    /// in flight REKEYING, a child a rekey replaced (or the loser of a collision, RFC 7296 §2.8.1) REKEYED; installed
    /// otherwise, including a rekey responder's successor that sends once its predecessor is gone.
    /// </summary>
    public static string ChildState(ChildSaPhase phase, bool rekeying, bool deleting) =>
        deleting ? "DELETING"
        : phase is ChildSaPhase.Rekeyed or ChildSaPhase.Redundant ? "REKEYED"
        : rekeying ? "REKEYING"
        : "INSTALLED";
}
