using System.Buffers.Binary;
using System.Security.Cryptography;
using Concentrator.DataPlane.Native;
using Concentrator.Ipsec;

namespace Concentrator.DataPlane.Esp;

/// <summary>
/// The ESP transform of one SA direction, created once when the SA is installed. Works on a whole
/// ESP packet in place: SPI(4) | seq(4) | IV | ciphertext | ICV, where the IV is already written.
/// An instance is NOT safe for concurrent use: it keeps one native cipher context (an OpenSSL
/// EVP_CIPHER_CTX, or the one inside a .NET AEAD object) whose per-packet state (nonce, AAD, tag) is
/// overwritten by every call; <see cref="EspSa"/> gives each concurrent sender its own instance and
/// the inbound one is used by one receive thread at a time.
/// Only vetted primitives are composed here: OpenSSL's EVP or intel-ipsec-mb's AES-GCM (<see cref="EspCrypto"/>
/// selects once per process) or, where libcrypto is missing, System.Security.Cryptography, which calls the same OpenSSL.
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
        => Create(suite, encryptionKey, integrityKey, EspCrypto.For(suite.Encryption, suite.KeyBits));

    /// <summary>
    /// Creates the transform with the given library; OpenSSL EVP falls back to .NET for a cipher the
    /// process's libcrypto lacks. Tests use this to run both implementations against each other.
    /// </summary>
    internal static EspCipher Create(EspSuite suite, byte[] encryptionKey, byte[] integrityKey, EspCryptoLibrary library)
    {
        ArgumentNullException.ThrowIfNull(encryptionKey);
        IntPtr evp = library == EspCryptoLibrary.OpenSslEvp ? EspCrypto.EvpCipher(suite.Encryption, suite.KeyBits) : IntPtr.Zero;
        switch (suite.Encryption)
        {
            case EncrAlgorithm.AesGcm16:
                RequireNoIntegrity(suite);
                if (suite.KeyBits is not (128 or 192 or 256))
                    throw new NotSupportedException($"AES-GCM key size {suite.KeyBits} is not supported.");
                RequireLength(encryptionKey, suite.KeyBits / 8 + AeadEspCipher.SaltLength, "AES-GCM key material (key | 4-byte salt)");
                if (library == EspCryptoLibrary.IpsecMb)
                {
                    LibIpsecMb.Resolved imb = EspCrypto.IpsecMbIfUsable
                                              ?? throw new PlatformNotSupportedException("intel-ipsec-mb is not usable in this process.");
                    return suite.KeyBits is 128 or 256
                        ? new IpsecMbAeadEspCipher(encryptionKey, suite.KeyBits / 8, imb)
                        : throw new NotSupportedException("intel-ipsec-mb serves AES-GCM-128 and -256 only.");
                }
                return evp != IntPtr.Zero
                    ? new EvpAeadEspCipher(encryptionKey, suite.KeyBits / 8, evp)
                    : new AesGcmEspCipher(encryptionKey, suite.KeyBits / 8);
            case EncrAlgorithm.ChaCha20Poly1305:
                RequireNoIntegrity(suite);
                if (suite.KeyBits is not (0 or 256))
                    throw new NotSupportedException($"ChaCha20-Poly1305 key size {suite.KeyBits} is not supported.");
                RequireLength(encryptionKey, 32 + AeadEspCipher.SaltLength, "ChaCha20-Poly1305 key material (key | 4-byte salt)");
                if (evp != IntPtr.Zero)
                    return new EvpAeadEspCipher(encryptionKey, 32, evp);
                if (!System.Security.Cryptography.ChaCha20Poly1305.IsSupported)
                    throw new PlatformNotSupportedException("ChaCha20-Poly1305 is not available on this platform.");
                return new ChaCha20Poly1305EspCipher(encryptionKey);
            case EncrAlgorithm.AesCbc:
            case EncrAlgorithm.TripleDes:
                int keyLength = suite.Encryption == EncrAlgorithm.TripleDes
                    ? (suite.KeyBits is 0 or 192 ? 24 : throw new NotSupportedException($"3DES key size {suite.KeyBits} is not supported."))
                    : (suite.KeyBits is 128 or 192 or 256 ? suite.KeyBits / 8 : throw new NotSupportedException($"AES-CBC key size {suite.KeyBits} is not supported."));
                RequireLength(encryptionKey, keyLength, $"{suite.Encryption} key");
                ArgumentNullException.ThrowIfNull(integrityKey);
                RequireLength(integrityKey, CbcHmacEspCipher.IntegrityKeyLength(suite.Integrity), "HMAC key");
                int block = Algorithms.CbcBlockLength(suite.Encryption);
                return evp != IntPtr.Zero
                    ? new EvpCbcHmacEspCipher(encryptionKey, integrityKey, suite.Integrity, evp, block)
                    : new DotNetCbcHmacEspCipher(suite.Encryption, encryptionKey, integrityKey, suite.Integrity);
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
    protected const int TagLength = 16;

    private readonly byte[] _salt = new byte[SaltLength];

    protected AeadEspCipher(ReadOnlySpan<byte> keyMaterial, int keyLength)
    {
        keyMaterial.Slice(keyLength, SaltLength).CopyTo(_salt);
    }

    public sealed override int IvLength => 8;
    public sealed override int IcvLength => TagLength;
    public sealed override int Alignment => 4;

    /// <summary>Encrypts <paramref name="body"/> in place and writes the 16-byte tag.</summary>
    protected internal abstract void SealCore(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> aad, Span<byte> body, Span<byte> tag);

    /// <summary>
    /// Verifies <paramref name="tag"/> and decrypts <paramref name="body"/> in place. False on a mismatch
    /// (body then unspecified); never throws on peer input.
    /// </summary>
    protected internal abstract bool OpenCore(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> aad, Span<byte> body, ReadOnlySpan<byte> tag);

    public sealed override void Seal(Span<byte> packet, uint seqHigh, bool esn)
    {
        Span<byte> nonce = stackalloc byte[12];
        Span<byte> aadBuffer = stackalloc byte[12];
        ReadOnlySpan<byte> aad = Prepare(packet, seqHigh, esn, nonce, aadBuffer);
        int encryptedLength = packet.Length - HeaderLength - TagLength;
        SealCore(nonce, aad, packet.Slice(HeaderLength, encryptedLength), packet.Slice(HeaderLength + encryptedLength, TagLength));
    }

    public sealed override bool Open(Span<byte> packet, uint seqHigh, bool esn)
    {
        Span<byte> nonce = stackalloc byte[12];
        Span<byte> aadBuffer = stackalloc byte[12];
        ReadOnlySpan<byte> aad = Prepare(packet, seqHigh, esn, nonce, aadBuffer);
        int encryptedLength = packet.Length - HeaderLength - TagLength;
        return OpenCore(nonce, aad, packet.Slice(HeaderLength, encryptedLength), packet.Slice(HeaderLength + encryptedLength, TagLength));
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

/// <summary>
/// RFC 4106 / RFC 7634 on one OpenSSL EVP context: keyed once here (the key schedule lives in the
/// context, which EVP_CIPHER_CTX_free cleanses), then per packet only nonce, AAD, in-place update and
/// tag. Inbound is a single pass: EVP_CipherFinal_ex returns &lt;= 0 on a bad ICV and Open returns false.
/// The context's direction is set on every call, so one instance may both seal and open (tests do);
/// AES-GCM and ChaCha20-Poly1305 use the same key schedule for both directions.
/// </summary>
internal sealed unsafe class EvpAeadEspCipher : AeadEspCipher
{
    private readonly SafeEvpCipherCtxHandle _ctx;

    public EvpAeadEspCipher(ReadOnlySpan<byte> keyMaterial, int keyLength, IntPtr evpCipher) : base(keyMaterial, keyLength)
    {
        _ctx = LibCrypto.CreateKeyed(evpCipher, keyMaterial.Slice(0, keyLength), encrypt: true, noPadding: false)
               ?? throw new CryptographicException("OpenSSL did not key the ESP AEAD context.");
    }

    // Failure here is the library's, never the packet's (any nonce, AAD and length are valid input).
    protected internal override void SealCore(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> aad, Span<byte> body, Span<byte> tag)
    {
        int written;
        byte* final = stackalloc byte[TagLength];
        fixed (byte* n = nonce, a = aad, b = body, t = tag)
        {
            if (LibCrypto.EVP_CipherInit_ex(_ctx, IntPtr.Zero, IntPtr.Zero, null, n, 1) != 1
                || LibCrypto.EVP_CipherUpdate(_ctx, null, &written, a, aad.Length) != 1
                || (body.Length > 0 && LibCrypto.EVP_CipherUpdate(_ctx, b, &written, b, body.Length) != 1)
                || LibCrypto.EVP_CipherFinal_ex(_ctx, final, &written) != 1
                || LibCrypto.EVP_CIPHER_CTX_ctrl(_ctx, LibCrypto.EVP_CTRL_AEAD_GET_TAG, TagLength, t) != 1)
            {
                throw new CryptographicException("OpenSSL ESP AEAD encryption failed.");
            }
        }
    }

    protected internal override bool OpenCore(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> aad, Span<byte> body, ReadOnlySpan<byte> tag)
    {
        int written;
        byte* final = stackalloc byte[TagLength];
        fixed (byte* n = nonce, a = aad, b = body, t = tag)
        {
            return LibCrypto.EVP_CipherInit_ex(_ctx, IntPtr.Zero, IntPtr.Zero, null, n, 0) == 1
                   && LibCrypto.EVP_CipherUpdate(_ctx, null, &written, a, aad.Length) == 1
                   && (body.Length == 0 || LibCrypto.EVP_CipherUpdate(_ctx, b, &written, b, body.Length) == 1)
                   && LibCrypto.EVP_CIPHER_CTX_ctrl(_ctx, LibCrypto.EVP_CTRL_AEAD_SET_TAG, TagLength, t) == 1
                   && LibCrypto.EVP_CipherFinal_ex(_ctx, final, &written) > 0;
        }
    }

    public override void Dispose()
    {
        _ctx.Dispose();
        base.Dispose();
    }
}

/// <summary>
/// The System.Security.Cryptography fallback. .NET's AesGcm/ChaCha20Poly1305.Decrypt throw
/// AuthenticationTagMismatchException on a bad tag, and a peer (or anyone who sees one SPI and
/// sequence number) decides how often that happens: an exception per forged packet is a cheap
/// amplification attack. Both AEADs encrypt with a keystream that does not depend on the data (GCM:
/// CTR from J0+1; RFC 8439: ChaCha20 from block 1) and authenticate the ciphertext, so Open verifies
/// without the throwing API:
///   pass 1  Encrypt(C) in place -> P      (keystream XOR; its tag, over P, is discarded)
///   pass 2  Encrypt(P) -> scratch = C     (its tag is exactly the tag the sender computed over C)
/// and compares that tag with the received ICV in constant time. Cost: a second cipher pass inbound.
/// </summary>
internal abstract class DotNetAeadEspCipher(ReadOnlySpan<byte> keyMaterial, int keyLength) : AeadEspCipher(keyMaterial, keyLength)
{
    // Largest encrypted part we ever handle; bounded by EspPacket.MaxPacketLength.
    private const int ScratchLength = EspPacket.MaxPacketLength;

    // Per-thread write-only scratch for Open's re-encryption pass; allocated once per thread.
    [ThreadStatic] private static byte[]? t_scratch;

    /// <summary>The library's AEAD encryption; input and output may be the same span.</summary>
    protected abstract void Encrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext, Span<byte> tag, ReadOnlySpan<byte> aad);

    protected internal sealed override void SealCore(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> aad, Span<byte> body, Span<byte> tag)
        => Encrypt(nonce, body, body, tag, aad);

    protected internal sealed override bool OpenCore(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> aad, Span<byte> body, ReadOnlySpan<byte> tag)
    {
        Span<byte> discardedTag = stackalloc byte[TagLength];
        Span<byte> expectedTag = stackalloc byte[TagLength];
        Span<byte> scratch = (t_scratch ??= new byte[ScratchLength]).AsSpan(0, body.Length);
        Encrypt(nonce, body, body, discardedTag, aad);
        Encrypt(nonce, body, scratch, expectedTag, aad);
        return CryptographicOperations.FixedTimeEquals(expectedTag, tag);
    }
}

internal sealed class AesGcmEspCipher : DotNetAeadEspCipher
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

internal sealed class ChaCha20Poly1305EspCipher : DotNetAeadEspCipher
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
/// AES-CBC (RFC 3602: 16-byte random IV) or 3DES-CBC (RFC 2451: 8-byte random IV and block), no cipher
/// padding beyond ESP's, with HMAC-SHA2 (RFC 4868: ICV = HMAC truncated to half the hash) or HMAC-SHA1-96
/// (RFC 2404: 12-byte ICV). The block length is the IV length and the ESP alignment. Encrypt-then-MAC:
/// the ICV covers SPI | seq | IV | ciphertext, and with ESN the high 32 bits appended for the computation only (RFC 4303 §2.2.1,
/// §3.3.2.1). The ESN bytes are written temporarily over the start of the ICV field, so the MAC
/// input stays one contiguous span for the one-shot HMAC. Subclasses supply the CBC pass; the body
/// is a whole number of blocks (checked before Open).
/// </summary>
internal abstract class CbcHmacEspCipher : EspCipher
{
    /// <summary>Largest block (AES); sizes the stack buffer of the final EVP call.</summary>
    protected const int MaxBlockLength = 16;
    private const int MaxHashLength = 64;

    private readonly byte[] _integrityKey;
    private readonly IntegAlgorithm _integrity;
    private readonly int _icvLength;
    private readonly int _blockLength;

    protected CbcHmacEspCipher(byte[] integrityKey, IntegAlgorithm integrity, int blockLength)
    {
        _integrity = integrity;
        _icvLength = Algorithms.IntegrityIcvLength(integrity);
        _blockLength = blockLength;
        _integrityKey = (byte[])integrityKey.Clone();
    }

    public static int IntegrityKeyLength(IntegAlgorithm integrity) => integrity switch
    {
        IntegAlgorithm.HmacSha1_96 => 20,
        IntegAlgorithm.HmacSha2_256_128 => 32,
        IntegAlgorithm.HmacSha2_384_192 => 48,
        IntegAlgorithm.HmacSha2_512_256 => 64,
        _ => throw new NotSupportedException($"ESP integrity {integrity} is not supported with a CBC cipher."),
    };

    public override int IvLength => _blockLength;
    public override int IcvLength => _icvLength;
    public override int Alignment => _blockLength;

    /// <summary>CBC-encrypts <paramref name="body"/> in place.</summary>
    protected abstract void EncryptBody(ReadOnlySpan<byte> iv, Span<byte> body);

    /// <summary>CBC-decrypts <paramref name="body"/> in place; false only if the library fails.</summary>
    protected abstract bool DecryptBody(ReadOnlySpan<byte> iv, Span<byte> body);

    public override void Seal(Span<byte> packet, uint seqHigh, bool esn)
    {
        int authenticatedLength = packet.Length - _icvLength;
        EncryptBody(packet.Slice(EspPacket.HeaderLength, _blockLength), packet.Slice(HeaderLength, authenticatedLength - HeaderLength));

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
        return DecryptBody(packet.Slice(EspPacket.HeaderLength, _blockLength), packet.Slice(HeaderLength, authenticatedLength - HeaderLength));
    }

    private void Mac(Span<byte> packet, int authenticatedLength, uint seqHigh, bool esn, Span<byte> mac)
    {
        int length = authenticatedLength;
        if (esn)
        {
            // Every ICV here is at least 12 bytes, so the 4 ESN bytes fit in the ICV field.
            BinaryPrimitives.WriteUInt32BigEndian(packet.Slice(authenticatedLength, 4), seqHigh);
            length += 4;
        }
        ReadOnlySpan<byte> input = packet.Slice(0, length);
        switch (_integrity)
        {
            case IntegAlgorithm.HmacSha1_96: HMACSHA1.HashData(_integrityKey, input, mac); break;
            case IntegAlgorithm.HmacSha2_256_128: HMACSHA256.HashData(_integrityKey, input, mac); break;
            case IntegAlgorithm.HmacSha2_384_192: HMACSHA384.HashData(_integrityKey, input, mac); break;
            default: HMACSHA512.HashData(_integrityKey, input, mac); break;
        }
    }

    public override void Dispose() => CryptographicOperations.ZeroMemory(_integrityKey);
}

/// <summary>
/// AES-CBC or 3DES-CBC on two OpenSSL EVP contexts keyed once (CBC decryption needs the inverse key schedule, so a
/// context cannot switch direction without rekeying), padding off; per packet only the IV is set.
/// </summary>
internal sealed unsafe class EvpCbcHmacEspCipher : CbcHmacEspCipher
{
    private readonly SafeEvpCipherCtxHandle _encrypt;
    private readonly SafeEvpCipherCtxHandle _decrypt;

    public EvpCbcHmacEspCipher(byte[] encryptionKey, byte[] integrityKey, IntegAlgorithm integrity, IntPtr evpCipher, int blockLength)
        : base(integrityKey, integrity, blockLength)
    {
        _encrypt = LibCrypto.CreateKeyed(evpCipher, encryptionKey, encrypt: true, noPadding: true)
                   ?? throw new CryptographicException("OpenSSL did not key the ESP CBC context.");
        _decrypt = LibCrypto.CreateKeyed(evpCipher, encryptionKey, encrypt: false, noPadding: true)
                   ?? throw new CryptographicException("OpenSSL did not key the ESP CBC context.");
    }

    protected override void EncryptBody(ReadOnlySpan<byte> iv, Span<byte> body)
    {
        if (!Run(_encrypt, iv, body))
            throw new CryptographicException("OpenSSL ESP CBC encryption failed."); // the library's failure, not the packet's
    }

    protected override bool DecryptBody(ReadOnlySpan<byte> iv, Span<byte> body) => Run(_decrypt, iv, body);

    private static bool Run(SafeEvpCipherCtxHandle ctx, ReadOnlySpan<byte> iv, Span<byte> body)
    {
        int updated, finished;
        byte* final = stackalloc byte[MaxBlockLength];
        fixed (byte* v = iv, b = body)
        {
            return LibCrypto.EVP_CipherInit_ex(ctx, IntPtr.Zero, IntPtr.Zero, null, v, LibCrypto.KeepDirection) == 1
                   && LibCrypto.EVP_CipherUpdate(ctx, b, &updated, b, body.Length) == 1
                   && LibCrypto.EVP_CipherFinal_ex(ctx, final, &finished) == 1
                   && updated == body.Length && finished == 0;
        }
    }

    public override void Dispose()
    {
        _encrypt.Dispose();
        _decrypt.Dispose();
        base.Dispose();
    }
}

/// <summary>
/// The System.Security.Cryptography fallback for AES-CBC and 3DES-CBC. On Linux .NET 10's span one-shots
/// allocate a native cipher context object per call (64 bytes). TripleDES refuses a key whose thirds repeat
/// (single DES); a PRF+ output does that with negligible probability and then fails the SA install.
/// </summary>
internal sealed class DotNetCbcHmacEspCipher : CbcHmacEspCipher
{
    private readonly SymmetricAlgorithm _cipher;

    public DotNetCbcHmacEspCipher(EncrAlgorithm encryption, byte[] encryptionKey, byte[] integrityKey, IntegAlgorithm integrity)
        : base(integrityKey, integrity, Algorithms.CbcBlockLength(encryption))
    {
        _cipher = encryption == EncrAlgorithm.TripleDes ? TripleDES.Create() : Aes.Create();
        _cipher.Key = encryptionKey;
    }

    protected override void EncryptBody(ReadOnlySpan<byte> iv, Span<byte> body) => _cipher.EncryptCbc(body, iv, body, PaddingMode.None);

    protected override bool DecryptBody(ReadOnlySpan<byte> iv, Span<byte> body)
    {
        _cipher.DecryptCbc(body, iv, body, PaddingMode.None);
        return true;
    }

    public override void Dispose()
    {
        _cipher.Dispose(); // SymmetricAlgorithm.Dispose clears its key copy
        base.Dispose();
    }
}
