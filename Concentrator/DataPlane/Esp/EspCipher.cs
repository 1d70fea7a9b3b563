using System.Buffers.Binary;
using System.Security.Cryptography;
using Concentrator.Ike.Crypto;
using Concentrator.Ike.Wire;

namespace Concentrator.DataPlane.Esp;

/// <summary>
/// The ESP transform of one SA direction, created once when the SA is installed. Works on a whole
/// ESP packet in place: SPI(4) | seq(4) | IV | ciphertext | ICV, where the IV is already written.
/// An instance is NOT safe for concurrent use (the .NET AEAD objects keep one native context);
/// <see cref="EspSa"/> gives each concurrent sender its own instance.
/// Only vetted primitives from System.Security.Cryptography are composed here.
/// </summary>
public abstract class EspCipher : IDisposable
{
    /// <summary>Bytes of explicit IV in every packet.</summary>
    public abstract int IvLength { get; }

    /// <summary>Bytes of ICV at the end of every packet.</summary>
    public abstract int IcvLength { get; }

    /// <summary>The encrypted part (payload | padding | pad length | next header) is a multiple of this.</summary>
    public abstract int Alignment { get; }

    /// <summary>Offset of the encrypted part in the packet.</summary>
    public int HeaderLength => EspPacket.HeaderLength + IvLength;

    /// <summary>
    /// Encrypts packet[HeaderLength .. Length-IcvLength) in place and writes the ICV.
    /// <paramref name="seqHigh"/> is used only with ESN (RFC 4303 §2.2.1: never transmitted).
    /// </summary>
    public abstract void Seal(Span<byte> packet, uint seqHigh, bool esn);

    /// <summary>
    /// Verifies the ICV and decrypts in place. Returns false on an ICV mismatch; the encrypted part
    /// then holds unspecified bytes and the packet must be dropped.
    /// </summary>
    public abstract bool Open(Span<byte> packet, uint seqHigh, bool esn);

    public abstract void Dispose();

    /// <summary>Creates the transform for a negotiated suite. Control-plane only (allocates, may throw).</summary>
    public static EspCipher Create(EspSuite suite, byte[] encryptionKey, byte[] integrityKey)
    {
        ArgumentNullException.ThrowIfNull(encryptionKey);
        switch (suite.Encryption)
        {
            case EncrAlgorithm.AesGcm16:
                RequireNoIntegrity(suite);
                if (suite.KeyBits is not (128 or 192 or 256))
                    throw new NotSupportedException($"AES-GCM key size {suite.KeyBits} is not supported.");
                RequireLength(encryptionKey, suite.KeyBits / 8 + AeadEspCipher.SaltLength, "AES-GCM key material (key | 4-byte salt)");
                return new AesGcmEspCipher(encryptionKey, suite.KeyBits / 8);
            case EncrAlgorithm.ChaCha20Poly1305:
                RequireNoIntegrity(suite);
                if (suite.KeyBits is not (0 or 256))
                    throw new NotSupportedException($"ChaCha20-Poly1305 key size {suite.KeyBits} is not supported.");
                if (!System.Security.Cryptography.ChaCha20Poly1305.IsSupported)
                    throw new PlatformNotSupportedException("ChaCha20-Poly1305 is not available on this platform.");
                RequireLength(encryptionKey, 32 + AeadEspCipher.SaltLength, "ChaCha20-Poly1305 key material (key | 4-byte salt)");
                return new ChaCha20Poly1305EspCipher(encryptionKey);
            case EncrAlgorithm.AesCbc:
                if (suite.KeyBits is not (128 or 192 or 256))
                    throw new NotSupportedException($"AES-CBC key size {suite.KeyBits} is not supported.");
                RequireLength(encryptionKey, suite.KeyBits / 8, "AES-CBC key");
                ArgumentNullException.ThrowIfNull(integrityKey);
                RequireLength(integrityKey, CbcHmacEspCipher.IntegrityKeyLength(suite.Integrity), "HMAC key");
                return new CbcHmacEspCipher(encryptionKey, integrityKey, suite.Integrity);
            default:
                throw new NotSupportedException($"ESP encryption {suite.Encryption} is not supported.");
        }
    }

    private static void RequireNoIntegrity(EspSuite suite)
    {
        if (suite.Integrity != IntegAlgorithm.None)
            throw new NotSupportedException("An AEAD ESP suite must not carry a separate integrity algorithm (RFC 4106 §8.1).");
    }

    private static void RequireLength(byte[] key, int expected, string what)
    {
        if (key.Length != expected)
            throw new ArgumentException($"{what} must be {expected} bytes, got {key.Length}.");
    }
}

/// <summary>
/// AEAD in ESP (RFC 4106 AES-GCM, RFC 7634 ChaCha20-Poly1305): key material = key | 4-byte salt,
/// 8-byte explicit IV, nonce = salt | IV, AAD = SPI | seq (8 bytes) or SPI | seq-high | seq-low
/// (12 bytes) with ESN (RFC 4106 §5, RFC 7634 §2.1), 16-byte ICV, 4-byte alignment.
/// </summary>
internal abstract class AeadEspCipher : EspCipher
{
    public const int SaltLength = 4;
    private const int TagLength = 16;

    // Largest encrypted part we ever handle; bounded by EspPacket.MaxPacketLength.
    private const int ScratchLength = EspPacket.MaxPacketLength;

    // Per-thread write-only scratch for Open's re-encryption pass; allocated once per thread.
    [ThreadStatic] private static byte[]? t_scratch;

    private readonly byte[] _salt = new byte[SaltLength];

    protected AeadEspCipher(ReadOnlySpan<byte> keyMaterial, int keyLength)
    {
        keyMaterial.Slice(keyLength, SaltLength).CopyTo(_salt);
    }

    public sealed override int IvLength => 8;
    public sealed override int IcvLength => TagLength;
    public sealed override int Alignment => 4;

    /// <summary>The library's AEAD encryption; input and output may be the same span.</summary>
    protected abstract void Encrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext, Span<byte> tag, ReadOnlySpan<byte> aad);

    public sealed override void Seal(Span<byte> packet, uint seqHigh, bool esn)
    {
        Span<byte> nonce = stackalloc byte[12];
        Span<byte> aadBuffer = stackalloc byte[12];
        ReadOnlySpan<byte> aad = Prepare(packet, seqHigh, esn, nonce, aadBuffer);
        int encryptedLength = packet.Length - HeaderLength - TagLength;
        Span<byte> body = packet.Slice(HeaderLength, encryptedLength);
        Encrypt(nonce, body, body, packet.Slice(HeaderLength + encryptedLength, TagLength), aad);
    }

    // .NET's AesGcm/ChaCha20Poly1305.Decrypt throw AuthenticationTagMismatchException on a bad tag,
    // and a peer (or anyone who sees one SPI and sequence number) decides how often that happens:
    // an exception per forged packet is a cheap amplification attack. Both AEADs encrypt with a
    // keystream that does not depend on the data (GCM: CTR from J0+1; RFC 8439: ChaCha20 from
    // block 1) and authenticate the ciphertext, so we verify without the throwing API:
    //   pass 1  Encrypt(C) in place -> P      (keystream XOR; its tag, over P, is discarded)
    //   pass 2  Encrypt(P) -> scratch = C     (its tag is exactly the tag the sender computed over C)
    // and compare that tag with the received ICV in constant time. P is released to the caller
    // only when they match. Cost: a second cipher pass on inbound; no allocation, no exception.
    public sealed override bool Open(Span<byte> packet, uint seqHigh, bool esn)
    {
        Span<byte> nonce = stackalloc byte[12];
        Span<byte> aadBuffer = stackalloc byte[12];
        Span<byte> discardedTag = stackalloc byte[TagLength];
        Span<byte> expectedTag = stackalloc byte[TagLength];
        ReadOnlySpan<byte> aad = Prepare(packet, seqHigh, esn, nonce, aadBuffer);
        int encryptedLength = packet.Length - HeaderLength - TagLength;
        Span<byte> body = packet.Slice(HeaderLength, encryptedLength);
        Span<byte> scratch = (t_scratch ??= new byte[ScratchLength]).AsSpan(0, encryptedLength);

        Encrypt(nonce, body, body, discardedTag, aad);
        Encrypt(nonce, body, scratch, expectedTag, aad);
        return CryptographicOperations.FixedTimeEquals(expectedTag, packet.Slice(HeaderLength + encryptedLength, TagLength));
    }

    private ReadOnlySpan<byte> Prepare(ReadOnlySpan<byte> packet, uint seqHigh, bool esn, Span<byte> nonce, Span<byte> aadBuffer)
    {
        _salt.CopyTo(nonce);
        packet.Slice(EspPacket.HeaderLength, 8).CopyTo(nonce.Slice(SaltLength));
        if (!esn)
            return packet.Slice(0, EspPacket.HeaderLength);
        packet.Slice(0, 4).CopyTo(aadBuffer);
        BinaryPrimitives.WriteUInt32BigEndian(aadBuffer.Slice(4), seqHigh);
        packet.Slice(4, 4).CopyTo(aadBuffer.Slice(8));
        return aadBuffer;
    }

    public override void Dispose() => CryptographicOperations.ZeroMemory(_salt);
}

internal sealed class AesGcmEspCipher : AeadEspCipher
{
    private readonly AesGcm _aead;

    public AesGcmEspCipher(ReadOnlySpan<byte> keyMaterial, int keyLength) : base(keyMaterial, keyLength)
    {
        _aead = new AesGcm(keyMaterial.Slice(0, keyLength), tagSizeInBytes: 16);
    }

    protected override void Encrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext, Span<byte> tag, ReadOnlySpan<byte> aad)
        => _aead.Encrypt(nonce, plaintext, ciphertext, tag, aad);

    public override void Dispose()
    {
        _aead.Dispose();
        base.Dispose();
    }
}

internal sealed class ChaCha20Poly1305EspCipher : AeadEspCipher
{
    private readonly ChaCha20Poly1305 _aead;

    public ChaCha20Poly1305EspCipher(ReadOnlySpan<byte> keyMaterial) : base(keyMaterial, 32)
    {
        _aead = new ChaCha20Poly1305(keyMaterial.Slice(0, 32));
    }

    protected override void Encrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext, Span<byte> tag, ReadOnlySpan<byte> aad)
        => _aead.Encrypt(nonce, plaintext, ciphertext, tag, aad);

    public override void Dispose()
    {
        _aead.Dispose();
        base.Dispose();
    }
}

/// <summary>
/// AES-CBC (RFC 3602: 16-byte random IV, no cipher padding beyond ESP's) with HMAC-SHA2 (RFC 4868:
/// ICV = HMAC truncated to half the hash). Encrypt-then-MAC: the ICV covers SPI | seq | IV |
/// ciphertext, and with ESN the high 32 bits appended for the computation only (RFC 4303 §2.2.1,
/// §3.3.2.1). The ESN bytes are written temporarily over the start of the ICV field, so the MAC
/// input stays one contiguous span for the one-shot HMAC.
/// </summary>
internal sealed class CbcHmacEspCipher : EspCipher
{
    private const int BlockLength = 16;
    private const int MaxHashLength = 64;

    private readonly Aes _aes;
    private readonly byte[] _integrityKey;
    private readonly IntegAlgorithm _integrity;
    private readonly int _icvLength;

    public CbcHmacEspCipher(byte[] encryptionKey, byte[] integrityKey, IntegAlgorithm integrity)
    {
        _integrity = integrity;
        _icvLength = IcvLengthOf(integrity);
        _integrityKey = (byte[])integrityKey.Clone();
        _aes = Aes.Create();
        _aes.Key = encryptionKey;
    }

    public static int IntegrityKeyLength(IntegAlgorithm integrity) => integrity switch
    {
        IntegAlgorithm.HmacSha2_256_128 => 32,
        IntegAlgorithm.HmacSha2_384_192 => 48,
        IntegAlgorithm.HmacSha2_512_256 => 64,
        _ => throw new NotSupportedException($"ESP integrity {integrity} is not supported with AES-CBC."),
    };

    private static int IcvLengthOf(IntegAlgorithm integrity) => IntegrityKeyLength(integrity) / 2;

    public override int IvLength => BlockLength;
    public override int IcvLength => _icvLength;
    public override int Alignment => BlockLength;

    public override void Seal(Span<byte> packet, uint seqHigh, bool esn)
    {
        int authenticatedLength = packet.Length - _icvLength;
        Span<byte> body = packet.Slice(HeaderLength, authenticatedLength - HeaderLength);
        _aes.EncryptCbc(body, packet.Slice(EspPacket.HeaderLength, BlockLength), body, PaddingMode.None);

        Span<byte> mac = stackalloc byte[MaxHashLength];
        Mac(packet, authenticatedLength, seqHigh, esn, mac);
        mac.Slice(0, _icvLength).CopyTo(packet.Slice(authenticatedLength));
    }

    public override bool Open(Span<byte> packet, uint seqHigh, bool esn)
    {
        int authenticatedLength = packet.Length - _icvLength;
        Span<byte> received = stackalloc byte[MaxHashLength / 2];
        Span<byte> mac = stackalloc byte[MaxHashLength];
        packet.Slice(authenticatedLength, _icvLength).CopyTo(received);
        Mac(packet, authenticatedLength, seqHigh, esn, mac);
        if (!CryptographicOperations.FixedTimeEquals(mac.Slice(0, _icvLength), received.Slice(0, _icvLength)))
            return false;

        Span<byte> body = packet.Slice(HeaderLength, authenticatedLength - HeaderLength);
        _aes.DecryptCbc(body, packet.Slice(EspPacket.HeaderLength, BlockLength), body, PaddingMode.None);
        return true;
    }

    private void Mac(Span<byte> packet, int authenticatedLength, uint seqHigh, bool esn, Span<byte> mac)
    {
        int length = authenticatedLength;
        if (esn)
        {
            // Every ICV here is at least 16 bytes, so the 4 ESN bytes fit in the ICV field.
            BinaryPrimitives.WriteUInt32BigEndian(packet.Slice(authenticatedLength, 4), seqHigh);
            length += 4;
        }
        ReadOnlySpan<byte> input = packet.Slice(0, length);
        switch (_integrity)
        {
            case IntegAlgorithm.HmacSha2_256_128: HMACSHA256.HashData(_integrityKey, input, mac); break;
            case IntegAlgorithm.HmacSha2_384_192: HMACSHA384.HashData(_integrityKey, input, mac); break;
            default: HMACSHA512.HashData(_integrityKey, input, mac); break;
        }
    }

    public override void Dispose()
    {
        _aes.Dispose(); // SymmetricAlgorithm.Dispose clears its key copy
        CryptographicOperations.ZeroMemory(_integrityKey);
    }
}
