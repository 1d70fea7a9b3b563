using System.Security.Cryptography;

namespace Concentrator.Ipsec;

/// <summary>
/// Sizes of the negotiated transforms and which of them this implementation supports.
/// Sizes are protocol facts; support is what <see cref="IkeMessageProtector"/> and the ESP data plane
/// can realise with System.Security.Cryptography.
/// </summary>
public static class Algorithms
{
    /// <summary>AES-GCM / ChaCha20-Poly1305 salt (RFC 4106 §8.1, RFC 7634 §2).</summary>
    public const int AeadSaltLength = 4;

    /// <summary>Explicit IV carried in every AEAD-protected message (RFC 5282 §3, RFC 7634 §2).</summary>
    public const int AeadIvLength = 8;

    /// <summary>AES-CCM salt (RFC 4309 §7.1).</summary>
    public const int CcmSaltLength = 3;

    /// <summary>AES-CTR nonce carried in the keying material (RFC 3686 §5.1).</summary>
    public const int CtrNonceLength = 4;

    public static bool IsAead(EncrAlgorithm alg) => alg is
        EncrAlgorithm.AesGcm8 or EncrAlgorithm.AesGcm12 or EncrAlgorithm.AesGcm16 or
        EncrAlgorithm.AesCcm8 or EncrAlgorithm.AesCcm12 or EncrAlgorithm.AesCcm16 or
        EncrAlgorithm.ChaCha20Poly1305;

    /// <summary>Bytes of keying material for the cipher, salt included for AEADs (RFC 4106 §8.1, RFC 7634 §2).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Unknown algorithm or a key size the algorithm does not define.</exception>
    public static int EncryptionKeyMaterialLength(EncrAlgorithm alg, int keyBits) => alg switch
    {
        EncrAlgorithm.Null => 0,
        EncrAlgorithm.AesCbc => AesKeyBytes(keyBits),
        EncrAlgorithm.AesCtr => AesKeyBytes(keyBits) + CtrNonceLength,
        EncrAlgorithm.AesGcm8 or EncrAlgorithm.AesGcm12 or EncrAlgorithm.AesGcm16 => AesKeyBytes(keyBits) + AeadSaltLength,
        EncrAlgorithm.AesCcm8 or EncrAlgorithm.AesCcm12 or EncrAlgorithm.AesCcm16 => AesKeyBytes(keyBits) + CcmSaltLength,
        // RFC 7634 §2: fixed 256-bit key, so the Key Length attribute is absent (0) or 256.
        EncrAlgorithm.ChaCha20Poly1305 when keyBits is 0 or 256 => 32 + AeadSaltLength,
        EncrAlgorithm.TripleDes when keyBits is 0 or 192 => 24,
        _ => throw new ArgumentOutOfRangeException(nameof(alg), $"{alg} with {keyBits}-bit key has no defined key size"),
    };

    /// <summary>Bytes of the cipher key proper, without salt or nonce.</summary>
    public static int CipherKeyLength(EncrAlgorithm alg, int keyBits) => EncryptionKeyMaterialLength(alg, keyBits) - SaltLength(alg);

    /// <summary>Bytes at the end of the encryption keying material that are salt/nonce, not key.</summary>
    public static int SaltLength(EncrAlgorithm alg) => alg switch
    {
        EncrAlgorithm.AesGcm8 or EncrAlgorithm.AesGcm12 or EncrAlgorithm.AesGcm16 or EncrAlgorithm.ChaCha20Poly1305 => AeadSaltLength,
        EncrAlgorithm.AesCcm8 or EncrAlgorithm.AesCcm12 or EncrAlgorithm.AesCcm16 => CcmSaltLength,
        EncrAlgorithm.AesCtr => CtrNonceLength,
        _ => 0,
    };

    /// <summary>ICV bytes of an AEAD (RFC 4106 §3, RFC 4309 §3, RFC 7634 §2); 0 for non-AEAD ciphers.</summary>
    public static int AeadIcvLength(EncrAlgorithm alg) => alg switch
    {
        EncrAlgorithm.AesGcm8 or EncrAlgorithm.AesCcm8 => 8,
        EncrAlgorithm.AesGcm12 or EncrAlgorithm.AesCcm12 => 12,
        EncrAlgorithm.AesGcm16 or EncrAlgorithm.AesCcm16 or EncrAlgorithm.ChaCha20Poly1305 => 16,
        _ => 0,
    };

    /// <summary>Integrity key bytes: the HMAC hash output length (RFC 2404, RFC 4868 §2.1.1).</summary>
    public static int IntegrityKeyLength(IntegAlgorithm alg) => alg switch
    {
        IntegAlgorithm.None => 0,
        IntegAlgorithm.HmacMd5_96 => 16,
        IntegAlgorithm.HmacSha1_96 => 20,
        IntegAlgorithm.AesXcbc96 => 16,
        IntegAlgorithm.HmacSha2_256_128 => 32,
        IntegAlgorithm.HmacSha2_384_192 => 48,
        IntegAlgorithm.HmacSha2_512_256 => 64,
        _ => throw new ArgumentOutOfRangeException(nameof(alg), $"unknown integrity algorithm {alg}"),
    };

    /// <summary>Truncated ICV bytes (RFC 2404, RFC 3566, RFC 4868 §2.3).</summary>
    public static int IntegrityIcvLength(IntegAlgorithm alg) => alg switch
    {
        IntegAlgorithm.None => 0,
        IntegAlgorithm.HmacMd5_96 or IntegAlgorithm.HmacSha1_96 or IntegAlgorithm.AesXcbc96 => 12,
        IntegAlgorithm.HmacSha2_256_128 => 16,
        IntegAlgorithm.HmacSha2_384_192 => 24,
        IntegAlgorithm.HmacSha2_512_256 => 32,
        _ => throw new ArgumentOutOfRangeException(nameof(alg), $"unknown integrity algorithm {alg}"),
    };

    /// <summary>
    /// Ciphers <see cref="IkeMessageProtector"/> can run: AES-CBC, AES-GCM-16, ChaCha20-Poly1305 and, for legacy
    /// peers, 3DES-CBC (RFC 2451; weak, enabled per connection in config).
    /// </summary>
    public static bool IsSupportedForIke(EncrAlgorithm alg, int keyBits) => alg switch
    {
        EncrAlgorithm.AesCbc => keyBits is 128 or 192 or 256,
        EncrAlgorithm.TripleDes => keyBits is 0 or 192,
        EncrAlgorithm.AesGcm16 => keyBits is 128 or 192 or 256 && AesGcm.IsSupported,
        EncrAlgorithm.ChaCha20Poly1305 => keyBits is 0 or 256 && ChaCha20Poly1305.IsSupported,
        _ => false,
    };

    /// <summary>ESP ciphers the data plane realises with the same primitives as IKE.</summary>
    public static bool IsSupportedForEsp(EncrAlgorithm alg, int keyBits) => IsSupportedForIke(alg, keyBits);

    /// <summary>HMAC-SHA2 PRFs (RFC 4868) and, for legacy peers, HMAC-SHA1 (RFC 2104/7296); weak ones are off by default in config.</summary>
    public static bool IsSupported(PrfAlgorithm alg) => alg is
        PrfAlgorithm.HmacSha1 or PrfAlgorithm.HmacSha2_256 or PrfAlgorithm.HmacSha2_384 or PrfAlgorithm.HmacSha2_512;

    /// <summary>HMAC-SHA2 truncated ICVs (RFC 4868) and, for legacy peers, HMAC-SHA1-96 (RFC 2404).</summary>
    public static bool IsSupported(IntegAlgorithm alg) => alg is
        IntegAlgorithm.HmacSha1_96 or IntegAlgorithm.HmacSha2_256_128 or IntegAlgorithm.HmacSha2_384_192 or IntegAlgorithm.HmacSha2_512_256;

    /// <summary>CBC block size, which is also the IV length: 8 for 3DES (RFC 2451 §2.3), 16 for AES (RFC 3602 §2.1).</summary>
    public static int CbcBlockLength(EncrAlgorithm alg) => alg == EncrAlgorithm.TripleDes ? 8 : 16;

    private static int AesKeyBytes(int keyBits) => keyBits is 128 or 192 or 256
        ? keyBits / 8
        : throw new ArgumentOutOfRangeException(nameof(keyBits), $"AES has no {keyBits}-bit key");
}
