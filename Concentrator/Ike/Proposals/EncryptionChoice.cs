using Concentrator.Ike.Wire;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Proposals;

/// <summary>
/// One encryption algorithm with its key size in bits (without salt). AES variants carry
/// 128/192/256 and put it in the Key Length attribute; fixed-size ciphers carry their fixed size
/// (ChaCha20-Poly1305 256, 3DES 192, DES 64, NULL 0) and have no attribute on the wire.
/// </summary>
public readonly record struct EncryptionChoice(EncrAlgorithm Algorithm, int KeyBits)
{
    /// <summary>Value of the RFC 7296 §3.3.5 Key Length attribute, 0 when the cipher has none.</summary>
    public ushort WireKeyLength => SupportedAlgorithms.HasKeyLengthAttribute(Algorithm) ? (ushort)KeyBits : (ushort)0;

    public bool IsAead => SupportedAlgorithms.IsAead(Algorithm);

    /// <summary>Maps a received ENCR transform back to a choice; false for a malformed key length.</summary>
    public static bool TryFromWire(Transform transform, out EncryptionChoice choice)
    {
        var alg = (EncrAlgorithm)transform.Id;
        if (SupportedAlgorithms.HasKeyLengthAttribute(alg))
        {
            choice = new EncryptionChoice(alg, transform.KeyLength);
            return transform.KeyLength is 128 or 192 or 256;
        }
        choice = new EncryptionChoice(alg, SupportedAlgorithms.FixedKeyBits(alg));
        return transform.KeyLength == 0;
    }

    public Transform ToWire() => new(TransformType.Encryption, (ushort)Algorithm, WireKeyLength);

    public override string ToString() => ProposalKeywords.Name(this);
}
