using System.Security.Cryptography;
using Concentrator.Ike.Wire;

namespace Concentrator.Ike.Crypto;

/// <summary>
/// One direction of an IKE AEAD transform: AES-GCM with a 16-octet ICV (RFC 5282 / RFC 4106) or
/// ChaCha20-Poly1305 (RFC 7634). The keying material is key | 4-octet salt; the 12-octet nonce is
/// salt | 8-octet explicit IV (RFC 4106 §4, RFC 7634 §2).
/// </summary>
internal sealed class AeadCipher : IDisposable
{
    public const int TagLength = 16;
    private const int NonceLength = Algorithms.AeadSaltLength + Algorithms.AeadIvLength;

    private readonly byte[] _salt;
    private AesGcm? _gcm;
    private ChaCha20Poly1305? _chacha;

    public AeadCipher(EncrAlgorithm algorithm, ReadOnlySpan<byte> keyMaterial)
    {
        if (keyMaterial.Length <= Algorithms.AeadSaltLength)
        {
            throw new ArgumentException("AEAD keying material must hold key and salt", nameof(keyMaterial));
        }

        var key = keyMaterial[..^Algorithms.AeadSaltLength];
        _salt = keyMaterial[^Algorithms.AeadSaltLength..].ToArray();
        switch (algorithm)
        {
            case EncrAlgorithm.AesGcm16:
                _gcm = new AesGcm(key, TagLength);
                break;
            case EncrAlgorithm.ChaCha20Poly1305:
                _chacha = new ChaCha20Poly1305(key);
                break;
            default:
                throw new NotSupportedException($"AEAD {algorithm} is not supported");
        }
    }

    public void Encrypt(ReadOnlySpan<byte> iv, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext, Span<byte> tag, ReadOnlySpan<byte> associatedData)
    {
        Span<byte> nonce = stackalloc byte[NonceLength];
        BuildNonce(iv, nonce);
        if (_gcm is not null) _gcm.Encrypt(nonce, plaintext, ciphertext, tag, associatedData);
        else (_chacha ?? throw new ObjectDisposedException(nameof(AeadCipher))).Encrypt(nonce, plaintext, ciphertext, tag, associatedData);
    }

    /// <summary>False when the tag does not verify; <paramref name="plaintext"/> is then cleared.</summary>
    public bool TryDecrypt(ReadOnlySpan<byte> iv, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> tag, Span<byte> plaintext, ReadOnlySpan<byte> associatedData)
    {
        Span<byte> nonce = stackalloc byte[NonceLength];
        BuildNonce(iv, nonce);
        try
        {
            if (_gcm is not null) _gcm.Decrypt(nonce, ciphertext, tag, plaintext, associatedData);
            else (_chacha ?? throw new ObjectDisposedException(nameof(AeadCipher))).Decrypt(nonce, ciphertext, tag, plaintext, associatedData);
            return true;
        }
        catch (CryptographicException)
        {
            CryptographicOperations.ZeroMemory(plaintext);
            return false;
        }
    }

    private void BuildNonce(ReadOnlySpan<byte> iv, Span<byte> nonce)
    {
        if (iv.Length != Algorithms.AeadIvLength)
        {
            throw new ArgumentException("AEAD explicit IV is 8 octets", nameof(iv));
        }

        _salt.CopyTo(nonce);
        iv.CopyTo(nonce[Algorithms.AeadSaltLength..]);
    }

    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(_salt);
        _gcm?.Dispose();
        _chacha?.Dispose();
        _gcm = null;
        _chacha = null;
    }
}
