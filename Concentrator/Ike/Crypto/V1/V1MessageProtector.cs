using System.Security.Cryptography;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Crypto.V1;

/// <summary>
/// Encryption of IKEv1 messages after the key exchange (RFC 2409 Appendix B, RFC 2408 §3.1 E flag): CBC with the
/// Appendix B key, System.Security.Cryptography's AES or 3DES with no padding of its own (IKEv1 has no integrity check
/// on the ciphertext; the HASH payloads inside authenticate).
/// IVs: phase 1 starts at hash(g^xi | g^xr) and each message's last ciphertext block is the next message's IV, in
/// both directions; once phase 1 ends (<see cref="CompletePhase1"/>) every other exchange starts at
/// hash(last phase 1 block | M-ID) and chains within its message ID the same way.
/// A received message moves no IV until its HASH is verified and the caller <see cref="Commit"/>s it: a forged
/// ciphertext decrypts to garbage whose HASH fails, and leaves the SA as it was.
/// </summary>
public sealed class V1MessageProtector : IDisposable
{
    /// <summary>Exchanges whose IV is kept at once (strongSwan keeps a few as well): the oldest is forgotten beyond it.</summary>
    public const int MaxExchangeIvs = 8;

    private readonly SymmetricAlgorithm _cipher;
    private readonly Prf _prf;
    private byte[] _phase1Iv;
    private byte[]? _lastPhase1Block;
    private readonly Dictionary<uint, byte[]> _exchangeIvs = [];
    private readonly List<uint> _exchangeOrder = [];

    private V1MessageProtector(SymmetricAlgorithm cipher, Prf prf, byte[] phase1Iv)
    {
        _cipher = cipher;
        _prf = prf;
        _phase1Iv = phase1Iv;
    }

    /// <summary>A protector for AES-CBC (16, 24 or 32 octet keys) or 3DES-CBC (24 octets); the key is copied.</summary>
    public static V1MessageProtector Create(Phase1Encryption encryption, ReadOnlySpan<byte> key, Prf prf, ReadOnlySpan<byte> phase1Iv)
    {
        SymmetricAlgorithm cipher = encryption switch
        {
            Phase1Encryption.AesCbc when key.Length is 16 or 24 or 32 => Aes.Create(),
            Phase1Encryption.TripleDesCbc when key.Length == 24 => TripleDES.Create(),
            _ => throw new NotSupportedException($"IKEv1 cipher {encryption} with a {key.Length}-octet key is not supported"),
        };
        byte[] copy = key.ToArray();
        cipher.Key = copy;
        CryptographicOperations.ZeroMemory(copy);
        if (phase1Iv.Length != cipher.BlockSize / 8) throw new ArgumentException("The phase 1 IV must be one cipher block.", nameof(phase1Iv));
        return new V1MessageProtector(cipher, prf, phase1Iv.ToArray());
    }

    public int BlockSize => _cipher.BlockSize / 8;

    /// <summary>True once phase 1 has ended and other exchanges may be protected.</summary>
    public bool Phase1Complete => _lastPhase1Block is not null;

    /// <summary>
    /// Encrypts <paramref name="payloads"/> under <paramref name="header"/> (its E flag set, Next Payload and Length
    /// filled in) and moves the exchange's IV to the last ciphertext block: our own messages need no verification.
    /// The plaintext is padded with zeros to whole blocks (RFC 2408 §3.1: the Length covers the padding).
    /// </summary>
    public byte[] Seal(IsakmpHeader header, IReadOnlyList<V1Payload> payloads)
    {
        if (payloads.Count == 0) throw new ArgumentException("An encrypted message carries at least one payload.", nameof(payloads));
        byte[] chain = IsakmpCodec.EncodeChain(payloads);
        int padded = (chain.Length + BlockSize - 1) / BlockSize * BlockSize;
        var plaintext = new byte[padded];
        chain.CopyTo(plaintext, 0);
        byte[] iv = CurrentIv(header.MessageId);
        byte[] ciphertext = _cipher.EncryptCbc(plaintext, iv, PaddingMode.None);
        CryptographicOperations.ZeroMemory(plaintext);
        CryptographicOperations.ZeroMemory(chain);

        var datagram = new byte[V1Constants.HeaderLength + ciphertext.Length];
        (header with { NextPayload = payloads[0].Type, Flags = header.Flags | V1Flags.Encryption, Length = (uint)datagram.Length }).Write(datagram);
        ciphertext.CopyTo(datagram, V1Constants.HeaderLength);
        Store(header.MessageId, ciphertext.AsSpan(ciphertext.Length - BlockSize).ToArray());
        return datagram;
    }

    /// <summary>
    /// Decrypts a received message's body with its exchange's current IV. Changes nothing: on success the caller
    /// parses the plaintext (<see cref="IsakmpCodec.TryDecodeChain"/> with padding allowed), verifies its HASH and then
    /// calls <see cref="Commit"/> with <paramref name="nextIv"/>.
    /// </summary>
    public ParseStatus TryOpen(IsakmpMessage message, out byte[] plaintext, out byte[] nextIv)
    {
        plaintext = [];
        nextIv = [];
        var body = message.EncryptedBody;
        if (!message.Header.Encrypted || body.Length == 0 || body.Length % BlockSize != 0) return ParseStatus.BadLength;
        if (message.Header.MessageId != 0 && !Phase1Complete) return ParseStatus.IntegrityCheckFailed;
        plaintext = _cipher.DecryptCbc(body, CurrentIv(message.Header.MessageId), PaddingMode.None);
        nextIv = body.AsSpan(body.Length - BlockSize).ToArray();
        return ParseStatus.Ok;
    }

    /// <summary>Moves an exchange's IV after its received message was verified (see <see cref="TryOpen"/>).</summary>
    public void Commit(uint messageId, byte[] nextIv)
    {
        if (nextIv.Length != BlockSize) throw new ArgumentException("An IV is one cipher block.", nameof(nextIv));
        Store(messageId, nextIv);
    }

    /// <summary>
    /// Ends phase 1: its last CBC block (the IV phase 1 would use next) seeds every later exchange's IV (Appendix B).
    /// Called once, after the last phase 1 message was sent or verified.
    /// </summary>
    public void CompletePhase1()
    {
        if (Phase1Complete) throw new InvalidOperationException("Phase 1 already completed.");
        _lastPhase1Block = _phase1Iv;
    }

    /// <summary>Forgets an exchange's IV once the exchange is over.</summary>
    public void EndExchange(uint messageId)
    {
        _exchangeOrder.Remove(messageId);
        if (_exchangeIvs.Remove(messageId, out var iv)) CryptographicOperations.ZeroMemory(iv);
    }

    private byte[] CurrentIv(uint messageId)
    {
        if (messageId == 0 && !Phase1Complete) return _phase1Iv;
        if (!Phase1Complete) throw new InvalidOperationException("No exchange but phase 1 before phase 1 completes.");
        return _exchangeIvs.TryGetValue(messageId, out var iv) ? iv : V1KeyDerivation.Phase2Iv(_prf, _lastPhase1Block, messageId);
    }

    private void Store(uint messageId, byte[] iv)
    {
        if (messageId == 0 && !Phase1Complete)
        {
            _phase1Iv = iv;
            return;
        }

        if (!_exchangeIvs.ContainsKey(messageId))
        {
            while (_exchangeOrder.Count >= MaxExchangeIvs) EndExchange(_exchangeOrder[0]);
            _exchangeOrder.Add(messageId);
        }

        _exchangeIvs[messageId] = iv;
    }

    /// <summary>Zeroes the key and every IV; the SA is gone.</summary>
    public void Dispose()
    {
        // SymmetricAlgorithm.Dispose zeroes its own copy of the key.
        _cipher.Dispose();
        CryptographicOperations.ZeroMemory(_phase1Iv);
        if (_lastPhase1Block is not null) CryptographicOperations.ZeroMemory(_lastPhase1Block);
        foreach (var iv in _exchangeIvs.Values) CryptographicOperations.ZeroMemory(iv);
        _exchangeIvs.Clear();
    }
}
