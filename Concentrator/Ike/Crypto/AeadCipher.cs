using System.Security.Cryptography;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Crypto;

/// <summary>
/// One direction of an IKE AEAD transform: AES-GCM with a 16-octet ICV (RFC 5282 / RFC 4106) or
/// ChaCha20-Poly1305 (RFC 7634). The keying material is key | 4-octet salt; the 12-octet nonce is
/// salt | 8-octet explicit IV (RFC 4106 §4, RFC 7634 §2).
/// The primitive is keyed per message rather than held: an established IKE SA sends a message every few
/// minutes at most, while a held AesGcm/ChaCha20Poly1305 keeps a native OpenSSL cipher context per
/// direction for the SA's whole life (2.2 KiB of RSS per tunnel, about a tenth, in the scale benchmark).
/// </summary>
internal sealed class AeadCipher : IDisposable
{
    public const int TagLength = 16;
    private const int NonceLength = Algorithms.AeadSaltLength + Algorithms.AeadIvLength;

    private readonly EncrAlgorithm _algorithm;
    private readonly byte[] _key;
    private readonly byte[] _salt;
    private bool _disposed;

    public AeadCipher(EncrAlgorithm algorithm, ReadOnlySpan<byte> keyMaterial)
    {
        if (keyMaterial.Length <= Algorithms.AeadSaltLength)
        {
            throw new ArgumentException("AEAD keying material must hold key and salt", nameof(keyMaterial));
        }

        if (algorithm is not (EncrAlgorithm.AesGcm16 or EncrAlgorithm.ChaCha20Poly1305))
        {
            throw new NotSupportedException($"AEAD {algorithm} is not supported");
        }

        _algorithm = algorithm;
        _key = keyMaterial[..^Algorithms.AeadSaltLength].ToArray();
        _salt = keyMaterial[^Algorithms.AeadSaltLength..].ToArray();
        // Fails now, not at the first message, on a key length the primitive refuses.
        Encrypt(stackalloc byte[Algorithms.AeadIvLength], [], [], stackalloc byte[TagLength], []);
    }

    public void Encrypt(ReadOnlySpan<byte> iv, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext, Span<byte> tag, ReadOnlySpan<byte> associatedData)
    {
        Span<byte> nonce = stackalloc byte[NonceLength];
        BuildNonce(iv, nonce);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_algorithm == EncrAlgorithm.AesGcm16)
        {
            using var gcm = new AesGcm(_key, TagLength);
            gcm.Encrypt(nonce, plaintext, ciphertext, tag, associatedData);
        }
        else
        {
            using var chacha = new ChaCha20Poly1305(_key);
            chacha.Encrypt(nonce, plaintext, ciphertext, tag, associatedData);
        }
    }

    /// <summary>False when the tag does not verify; <paramref name="plaintext"/> is then cleared.</summary>
    public bool TryDecrypt(ReadOnlySpan<byte> iv, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> tag, Span<byte> plaintext, ReadOnlySpan<byte> associatedData)
    {
        Span<byte> nonce = stackalloc byte[NonceLength];
        BuildNonce(iv, nonce);
        ObjectDisposedException.ThrowIf(_disposed, this);
        try
        {
            if (_algorithm == EncrAlgorithm.AesGcm16)
            {
                using var gcm = new AesGcm(_key, TagLength);
                gcm.Decrypt(nonce, ciphertext, tag, plaintext, associatedData);
            }
            else
            {
                using var chacha = new ChaCha20Poly1305(_key);
                chacha.Decrypt(nonce, ciphertext, tag, plaintext, associatedData);
            }
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
        _disposed = true;
        CryptographicOperations.ZeroMemory(_key);
        CryptographicOperations.ZeroMemory(_salt);
    }
}
