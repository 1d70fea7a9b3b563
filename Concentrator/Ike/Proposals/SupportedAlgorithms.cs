using Concentrator.Ipsec;

namespace Concentrator.Ike.Proposals;

/// <summary>
/// What this build can negotiate. Keywords for other algorithms parse (so strongSwan configs load)
/// but are never offered or selected. The crypto layer implements exactly this set; keep them in step.
/// The weak set (<see cref="WeakAlgorithms"/>) is implemented too but usable only where the caller says so:
/// in a proposal the operator wrote, which the config loader accepts only with <c>weak_algorithms: yes</c>.
/// </summary>
public static class SupportedAlgorithms
{
    // AES-GCM with a 16-octet ICV (RFC 4106), AES-CBC (RFC 3602), ChaCha20-Poly1305 (RFC 7634).
    private static readonly (EncrAlgorithm Alg, int KeyBits)[] Encryption =
    [
        (EncrAlgorithm.AesGcm16, 128), (EncrAlgorithm.AesGcm16, 192), (EncrAlgorithm.AesGcm16, 256),
        (EncrAlgorithm.AesCbc, 128), (EncrAlgorithm.AesCbc, 192), (EncrAlgorithm.AesCbc, 256),
        (EncrAlgorithm.ChaCha20Poly1305, 256),
    ];

    private static readonly PrfAlgorithm[] Prfs =
        [PrfAlgorithm.HmacSha2_256, PrfAlgorithm.HmacSha2_384, PrfAlgorithm.HmacSha2_512];

    private static readonly IntegAlgorithm[] Integrity =
        [IntegAlgorithm.HmacSha2_256_128, IntegAlgorithm.HmacSha2_384_192, IntegAlgorithm.HmacSha2_512_256];

    private static readonly DhGroup[] Groups =
    [
        DhGroup.Modp2048, DhGroup.Modp3072, DhGroup.Modp4096,
        DhGroup.Ecp256, DhGroup.Ecp384, DhGroup.Ecp521, DhGroup.Curve25519,
    ];

    // RFC 2451 3DES-CBC, RFC 2404 HMAC-SHA1-96, RFC 2104 PRF-HMAC-SHA1, RFC 2409 §6.2 MODP-1024 (group 2).
    private static readonly EncryptionChoice WeakEncryption = new(EncrAlgorithm.TripleDes, 192);

    public static bool IsSupported(EncryptionChoice choice, bool weakAllowed) => IsSupported(choice) || (weakAllowed && choice == WeakEncryption);
    public static bool IsSupported(PrfAlgorithm prf, bool weakAllowed) => IsSupported(prf) || (weakAllowed && prf == PrfAlgorithm.HmacSha1);
    public static bool IsSupported(IntegAlgorithm integ, bool weakAllowed) => IsSupported(integ) || (weakAllowed && integ == IntegAlgorithm.HmacSha1_96);
    public static bool IsSupported(DhGroup group, bool weakAllowed) => IsSupported(group) || (weakAllowed && group == DhGroup.Modp1024);

    public static bool IsSupported(EncryptionChoice choice) => Array.IndexOf(Encryption, (choice.Algorithm, choice.KeyBits)) >= 0;
    public static bool IsSupported(PrfAlgorithm prf) => Array.IndexOf(Prfs, prf) >= 0;
    public static bool IsSupported(IntegAlgorithm integ) => Array.IndexOf(Integrity, integ) >= 0;
    public static bool IsSupported(DhGroup group) => Array.IndexOf(Groups, group) >= 0;

    /// <summary>Combined-mode ciphers: no separate integrity transform (RFC 5282 §8).</summary>
    public static bool IsAead(EncrAlgorithm alg) => alg is EncrAlgorithm.AesGcm8 or EncrAlgorithm.AesGcm12
        or EncrAlgorithm.AesGcm16 or EncrAlgorithm.AesCcm8 or EncrAlgorithm.AesCcm12 or EncrAlgorithm.AesCcm16
        or EncrAlgorithm.ChaCha20Poly1305;

    /// <summary>Variable-key-size ciphers that need the Key Length attribute (RFC 7296 §3.3.5).</summary>
    public static bool HasKeyLengthAttribute(EncrAlgorithm alg) => alg is EncrAlgorithm.AesCbc or EncrAlgorithm.AesCtr
        or EncrAlgorithm.AesGcm8 or EncrAlgorithm.AesGcm12 or EncrAlgorithm.AesGcm16
        or EncrAlgorithm.AesCcm8 or EncrAlgorithm.AesCcm12 or EncrAlgorithm.AesCcm16;

    /// <summary>Key size of ciphers without a Key Length attribute.</summary>
    public static int FixedKeyBits(EncrAlgorithm alg) => alg switch
    {
        EncrAlgorithm.ChaCha20Poly1305 => 256,
        EncrAlgorithm.TripleDes => 192,
        EncrAlgorithm.Des => 64,
        _ => 0,
    };
}
