using System.Buffers.Binary;
using System.Security.Cryptography;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Crypto;

//                      1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// | Next Payload  |C|  RESERVED   |         Payload Length        |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                     Initialization Vector                     |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ~                    Encrypted IKE Payloads                     ~
// +               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |               |             Padding (0-255 octets)            |
// +-+-+-+-+-+-+-+-+                               +-+-+-+-+-+-+-+-+
// |                                               |  Pad Length   |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ~                    Integrity Checksum Data                    ~
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//                 RFC 7296 §3.14, Encrypted payload

/// <summary>
/// Protects and opens SK payloads (RFC 7296 §3.14, RFC 5282 for AEAD). The initiator sends with
/// SK_ei/SK_ai and receives with SK_er/SK_ar; the responder the reverse.
/// CBC: random IV of one block (16 octets for AES, 8 for 3DES, RFC 2451 §2.3), ICV = truncated HMAC over the message from the IKE header through the
/// Pad Length. AEAD: 8-octet explicit IV from a counter that starts at a random value (it must never
/// repeat under one key, RFC 5282 §3), AAD = IKE header through the SK generic header (RFC 5282 §5.1).
/// SKF fragments (RFC 7383) are protected the same way, each on its own, with the fragment numbers in the AAD / ICV.
/// </summary>
public sealed class IkeMessageProtector : IDisposable
{
    private readonly bool _aead;
    private readonly int _cbcBlockSize;
    private readonly IntegAlgorithm _integrity;
    private readonly int _ivLength;
    private readonly int _icvLength;

    private AeadCipher? _aeadSend;
    private AeadCipher? _aeadReceive;
    private SymmetricAlgorithm? _cbcSend;
    private SymmetricAlgorithm? _cbcReceive;
    private readonly byte[] _integSend;
    private readonly byte[] _integReceive;

    // Next explicit AEAD IV; Interlocked so that concurrent Seal calls can never share one.
    private long _nextIv;
    private bool _disposed;

    /// <exception cref="NotSupportedException">The suite's cipher or integrity algorithm is not supported for IKE.</exception>
    /// <exception cref="ArgumentException">A key has the wrong length for the suite.</exception>
    public IkeMessageProtector(IkeSuite suite, IkeKeys keys, bool weAreInitiator)
    {
        ArgumentNullException.ThrowIfNull(keys);
        if (!Algorithms.IsSupportedForIke(suite.Encryption, suite.KeyBits))
        {
            throw new NotSupportedException($"{suite.Encryption} with {suite.KeyBits}-bit key is not supported for IKE");
        }

        var encSend = weAreInitiator ? keys.SkEi : keys.SkEr;
        var encReceive = weAreInitiator ? keys.SkEr : keys.SkEi;
        int encLength = Algorithms.EncryptionKeyMaterialLength(suite.Encryption, suite.KeyBits);
        if (encSend.Length != encLength || encReceive.Length != encLength)
        {
            throw new ArgumentException($"SK_e must be {encLength} octets for {suite.Encryption}", nameof(keys));
        }

        _aead = Algorithms.IsAead(suite.Encryption);
        if (_aead)
        {
            if (suite.Integrity != IntegAlgorithm.None)
            {
                throw new ArgumentException("an AEAD suite has no integrity algorithm (RFC 5282 §8)", nameof(suite));
            }

            _ivLength = Algorithms.AeadIvLength;
            _icvLength = AeadCipher.TagLength;
            _integSend = [];
            _integReceive = [];
            _aeadSend = new AeadCipher(suite.Encryption, encSend);
            _aeadReceive = new AeadCipher(suite.Encryption, encReceive);
            _nextIv = BinaryPrimitives.ReadInt64BigEndian(RandomNumberGenerator.GetBytes(8));
        }
        else
        {
            if (!Algorithms.IsSupported(suite.Integrity))
            {
                throw new NotSupportedException($"integrity {suite.Integrity} is not supported");
            }

            var aSend = weAreInitiator ? keys.SkAi : keys.SkAr;
            var aReceive = weAreInitiator ? keys.SkAr : keys.SkAi;
            int aLength = Algorithms.IntegrityKeyLength(suite.Integrity);
            if (aSend.Length != aLength || aReceive.Length != aLength)
            {
                throw new ArgumentException($"SK_a must be {aLength} octets for {suite.Integrity}", nameof(keys));
            }

            _integrity = suite.Integrity;
            _cbcBlockSize = Algorithms.CbcBlockLength(suite.Encryption);
            _ivLength = _cbcBlockSize;
            _icvLength = Algorithms.IntegrityIcvLength(suite.Integrity);
            // Own copies: the caller's IkeKeys may be disposed independently of this protector.
            _integSend = aSend.ToArray();
            _integReceive = aReceive.ToArray();
            _cbcSend = CreateCbc(suite.Encryption, encSend);
            _cbcReceive = CreateCbc(suite.Encryption, encReceive);
        }
    }

    /// <summary>Octets an SK payload adds around <paramref name="innerChainLength"/> octets of payloads (generic header, IV, padding, ICV).</summary>
    public int GetOverhead(int innerChainLength) =>
        ProtocolConstants.GenericPayloadHeaderLength + _ivLength + PaddedLength(innerChainLength) - innerChainLength + _icvLength;

    /// <summary>Test seam: the explicit IV the next AEAD Seal uses.</summary>
    internal ulong NextAeadIv
    {
        set => Interlocked.Exchange(ref _nextIv, unchecked((long)value));
    }

    /// <summary>
    /// Octets of inner payload chain one SKF fragment carries when no datagram may hold more than
    /// <paramref name="maxMessageLength"/> octets of IKE message (RFC 7383 §2.5.1): the IKE header, the SKF header with
    /// its fragment numbers, IV and ICV come off, the rest is rounded down to the cipher's block with the Pad Length
    /// octet inside it (strongSwan's arithmetic); at least 1.
    /// </summary>
    public int FragmentContentLength(int maxMessageLength)
    {
        int room = maxMessageLength - ProtocolConstants.IkeHeaderLength - ProtocolConstants.GenericPayloadHeaderLength -
                   EncryptedPayload.FragmentHeaderLength - _ivLength - _icvLength;
        if (!_aead) room = room / _cbcBlockSize * _cbcBlockSize;
        return Math.Max(1, room - 1);
    }

    /// <summary>
    /// Builds the message as one datagram (header | SK{inner}) when it fits <paramref name="maxMessageLength"/> octets,
    /// otherwise as SKF fragments (RFC 7383 §2.5): the inner chain cut into pieces of
    /// <see cref="FragmentContentLength"/> octets, each protected on its own under the message's header (same exchange,
    /// flags and message ID) with Fragment Number and Total Fragments in its AAD / ICV; only the first names the first
    /// inner payload. One entry when not fragmented.
    /// </summary>
    /// <exception cref="InvalidOperationException">The message needs more fragments than a Total Fragments field holds.</exception>
    public byte[][] SealFragments(IkeHeader header, IReadOnlyList<Payload> inner, int maxMessageLength)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ObjectDisposedException.ThrowIf(_disposed, this);

        int chainLength = IkeCodec.GetChainLength(inner);
        if (ProtocolConstants.IkeHeaderLength + GetOverhead(chainLength) + chainLength <= maxMessageLength) return [Seal(header, inner)];

        int content = FragmentContentLength(maxMessageLength);
        int count = (chainLength + content - 1) / content;
        if (count > ushort.MaxValue) throw new InvalidOperationException($"{chainLength} octets need {count} fragments of {content}");
        var chain = new byte[chainLength];
        var plaintext = new byte[PaddedLength(content)];
        try
        {
            IkeCodec.WriteChain(inner, chain);
            var packets = new byte[count][];
            for (int i = 0; i < count; i++)
            {
                int offset = i * content;
                int length = Math.Min(content, chainLength - offset);
                int padded = PaddedLength(length);
                var piece = plaintext.AsSpan(0, padded);
                piece.Clear();
                chain.AsSpan(offset, length).CopyTo(piece);
                piece[^1] = (byte)(padded - 1 - length);
                // RFC 7383 §2.5: only the first fragment names the first inner payload; the others carry 0.
                var first = i == 0 && inner.Count > 0 ? inner[0].Type : PayloadType.None;
                packets[i] = SealChain(header, first, piece, ((ushort)(i + 1), (ushort)count));
            }

            return packets;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(chain);
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }

    /// <summary>
    /// One SKF fragment with any numbers and piece, as <see cref="SealFragments"/> would protect it: tests and the fuzz
    /// targets make fragments no sender of ours would (more than the bound, inconsistent totals, up to 255 octets of
    /// padding with <paramref name="padLength"/>, rounded up to the CBC block) with real keys.
    /// </summary>
    internal byte[] SealFragment(IkeHeader header, PayloadType first, ReadOnlySpan<byte> piece, ushort number, ushort total, int padLength = 0)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int padded = PaddedLength(piece.Length + Math.Clamp(padLength, 0, byte.MaxValue - _cbcBlockSize));
        var plaintext = new byte[padded];
        piece.CopyTo(plaintext);
        plaintext[^1] = (byte)(plaintext.Length - 1 - piece.Length);
        return SealChain(header, first, plaintext, (number, total));
    }

    /// <summary>
    /// Verifies and decrypts one SKF fragment (RFC 7383 §2.6: each fragment is checked before it is kept): on success
    /// <paramref name="content"/> starts with <paramref name="contentLength"/> octets of the inner chain's piece (the
    /// caller zeroes it) and <paramref name="first"/> is the fragment's Next Payload (meaningful in the first only).
    /// </summary>
    public ParseStatus TryOpenFragment(ReadOnlySpan<byte> datagram, EncryptedPayload fragment, out PayloadType first, out byte[] content,
        out int contentLength)
    {
        ArgumentNullException.ThrowIfNull(fragment);
        ObjectDisposedException.ThrowIf(_disposed, this);
        first = PayloadType.None;
        content = [];
        contentLength = 0;
        if (!fragment.IsFragment || fragment.Offset < 0) return ParseStatus.InvalidSyntax;
        return TryOpenChain(datagram, fragment.Offset, out first, out content, out contentLength, isFragment: true);
    }

    /// <summary>Builds header | SK{inner}; header.NextPayload and Length are computed here.</summary>
    /// <exception cref="InvalidOperationException">The message would not fit the 16-bit SK payload length.</exception>
    public byte[] Seal(IkeHeader header, IReadOnlyList<Payload> inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ObjectDisposedException.ThrowIf(_disposed, this);

        int chainLength = IkeCodec.GetChainLength(inner);
        var plaintext = new byte[PaddedLength(chainLength)];
        try
        {
            IkeCodec.WriteChain(inner, plaintext);
            // Padding octets are zero (RFC 7296 §3.14 allows any value); the last octet is the Pad Length.
            plaintext[^1] = (byte)(plaintext.Length - 1 - chainLength);
            return SealChain(header, inner.Count > 0 ? inner[0].Type : PayloadType.None, plaintext, fragment: null);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }

    /// <summary>Verifies and decrypts the message's SK payload and replaces it with the inner payloads.</summary>
    /// <param name="maxPayloads">charon.max_payloads for the decrypted chain.</param>
    public ParseStatus TryOpen(ReadOnlySpan<byte> datagram, IkeMessage message, int maxPayloads = WireLimits.MaxPayloadsPerMessage)
    {
        ArgumentNullException.ThrowIfNull(message);
        ObjectDisposedException.ThrowIf(_disposed, this);

        int index = message.Payloads.FindIndex(p => p is EncryptedPayload);
        if (index < 0) return ParseStatus.BadPayloadSequence;
        var sk = (EncryptedPayload)message.Payloads[index];
        if (sk.Offset < 0) return ParseStatus.InvalidSyntax;

        var status = TryOpenChain(datagram, sk.Offset, out var first, out var plaintext, out int chainLength);
        if (status != ParseStatus.Ok) return status;
        try
        {
            var inner = new List<Payload>();
            // An empty SK payload is a valid message (e.g. a liveness check, RFC 7296 §1.4).
            if (chainLength != 0 || first != PayloadType.None)
            {
                status = IkeCodec.TryDecodeChain(first, plaintext.AsSpan(0, chainLength), inner, out _, maxPayloads);
                if (status != ParseStatus.Ok) return status;
            }

            message.Payloads.RemoveAt(index);
            message.Payloads.InsertRange(index, inner);
            return ParseStatus.Ok;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }

    /// <summary>
    /// Verifies and decrypts the SK payload whose generic header is at <paramref name="skOffset"/> and
    /// which runs to the end of <paramref name="datagram"/>. On success <paramref name="plaintext"/>
    /// starts with <paramref name="chainLength"/> octets of inner payload chain; the caller zeroes it.
    /// Lengths are taken from the datagram's end, so that every header octet is covered by the ICV before
    /// any length field is believed.
    /// </summary>
    internal ParseStatus TryOpenChain(ReadOnlySpan<byte> datagram, int skOffset, out PayloadType first, out byte[] plaintext, out int chainLength,
        bool isFragment = false)
    {
        first = PayloadType.None;
        plaintext = [];
        chainLength = 0;

        if (skOffset < ProtocolConstants.IkeHeaderLength) return ParseStatus.InvalidSyntax;
        if (datagram.Length < skOffset + ProtocolConstants.GenericPayloadHeaderLength) return ParseStatus.Truncated;

        // An SKF's Fragment Number and Total Fragments precede the IV and are covered by the AAD / ICV (RFC 7383 §2.5).
        int ivStart = skOffset + ProtocolConstants.GenericPayloadHeaderLength + (isFragment ? EncryptedPayload.FragmentHeaderLength : 0);
        if (datagram.Length < ivStart) return ParseStatus.Truncated;
        int cipherStart = ivStart + _ivLength;
        int cipherLength = datagram.Length - cipherStart - _icvLength;
        if (cipherLength < (_aead ? 1 : _cbcBlockSize)) return ParseStatus.Truncated;
        if (!_aead && cipherLength % _cbcBlockSize != 0) return ParseStatus.BadLength;

        var iv = datagram.Slice(ivStart, _ivLength);
        var ciphertext = datagram.Slice(cipherStart, cipherLength);
        var icv = datagram[^_icvLength..];
        var plain = new byte[cipherLength];

        if (_aead)
        {
            if (!_aeadReceive!.TryDecrypt(iv, ciphertext, icv, plain, datagram[..ivStart]))
            {
                return ParseStatus.IntegrityCheckFailed;
            }
        }
        else
        {
            // Verify before decrypting (encrypt-then-MAC, RFC 7296 §3.14).
            if (!Integrity.Verify(_integrity, _integReceive, datagram[..^_icvLength], icv))
            {
                return ParseStatus.IntegrityCheckFailed;
            }

            _cbcReceive!.DecryptCbc(ciphertext, iv, plain, PaddingMode.None);
        }

        // Authenticated from here on: inconsistent lengths are the sender's bug, not tampering.
        int skLength = BinaryPrimitives.ReadUInt16BigEndian(datagram[(skOffset + 2)..]);
        uint messageLength = BinaryPrimitives.ReadUInt32BigEndian(datagram[24..]);
        int padLength = plain[^1];
        if (skLength != datagram.Length - skOffset || messageLength != (uint)datagram.Length || padLength + 1 > cipherLength)
        {
            CryptographicOperations.ZeroMemory(plain);
            return ParseStatus.BadLength;
        }

        first = (PayloadType)datagram[skOffset];
        plaintext = plain;
        chainLength = cipherLength - 1 - padLength;
        return ParseStatus.Ok;
    }

    /// <summary>Encrypts a ready plaintext (chain | padding | pad length) into header | SK, or header | SKF with <paramref name="fragment"/>.</summary>
    private byte[] SealChain(IkeHeader header, PayloadType first, ReadOnlySpan<byte> plaintext, (ushort Number, ushort Total)? fragment)
    {
        int fragmentHeader = fragment is null ? 0 : EncryptedPayload.FragmentHeaderLength;
        int skLength = ProtocolConstants.GenericPayloadHeaderLength + fragmentHeader + _ivLength + plaintext.Length + _icvLength;
        if (skLength > ushort.MaxValue)
        {
            throw new InvalidOperationException($"SK payload of {skLength} octets exceeds the 16-bit payload length");
        }

        int total = ProtocolConstants.IkeHeaderLength + skLength;
        var message = new byte[total];
        var type = fragment is null ? PayloadType.Encrypted : PayloadType.EncryptedFragment;
        (header with { NextPayload = type, Length = (uint)total }).Write(message);

        int skOffset = ProtocolConstants.IkeHeaderLength;
        message[skOffset] = (byte)first;
        message[skOffset + 1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(skOffset + 2), (ushort)skLength);
        if (fragment is { } f)
        {
            BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(skOffset + ProtocolConstants.GenericPayloadHeaderLength), f.Number);
            BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(skOffset + ProtocolConstants.GenericPayloadHeaderLength + 2), f.Total);
        }

        int ivStart = skOffset + ProtocolConstants.GenericPayloadHeaderLength + fragmentHeader;
        int cipherStart = ivStart + _ivLength;
        var iv = message.AsSpan(ivStart, _ivLength);
        var ciphertext = message.AsSpan(cipherStart, plaintext.Length);
        var icv = message.AsSpan(cipherStart + plaintext.Length, _icvLength);

        if (_aead)
        {
            ulong counter = unchecked((ulong)Interlocked.Increment(ref _nextIv) - 1);
            BinaryPrimitives.WriteUInt64BigEndian(iv, counter);
            _aeadSend!.Encrypt(iv, plaintext, ciphertext, icv, message.AsSpan(0, ivStart));
        }
        else
        {
            RandomNumberGenerator.Fill(iv);
            _cbcSend!.EncryptCbc(plaintext, iv, ciphertext, PaddingMode.None);
            Integrity.Compute(_integrity, _integSend, message.AsSpan(0, cipherStart + plaintext.Length), icv);
        }

        return message;
    }

    /// <summary>Chain | padding | Pad Length: AEADs need no padding (block size 1, RFC 5282 §3); CBC pads to the block.</summary>
    private int PaddedLength(int chainLength) =>
        _aead ? chainLength + 1 : (chainLength + 1 + _cbcBlockSize - 1) / _cbcBlockSize * _cbcBlockSize;

    /// <summary>
    /// AES or 3DES keyed for CBC. TripleDES refuses a key whose thirds repeat (it would be single DES);
    /// a PRF+ output does that with negligible probability, and the CryptographicException then fails the SA setup.
    /// </summary>
    private static SymmetricAlgorithm CreateCbc(EncrAlgorithm alg, byte[] key)
    {
        SymmetricAlgorithm cipher = alg == EncrAlgorithm.TripleDes ? TripleDES.Create() : Aes.Create();
        cipher.Key = key;
        return cipher;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _aeadSend?.Dispose();
        _aeadReceive?.Dispose();
        _cbcSend?.Dispose();
        _cbcReceive?.Dispose();
        _aeadSend = _aeadReceive = null;
        _cbcSend = _cbcReceive = null;
        CryptographicOperations.ZeroMemory(_integSend);
        CryptographicOperations.ZeroMemory(_integReceive);
    }
}
