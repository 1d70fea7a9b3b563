using Concentrator.Ipsec;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Security;

namespace Concentrator.Ike.Crypto;

/// <summary>
/// Curve25519 key exchange (RFC 8031) with BouncyCastle's X25519 (RFC 7748). RFC 8031 §2.3 / RFC 7748 §6.1:
/// an all-zero shared secret (peer sent a low-order point) is rejected.
/// </summary>
internal sealed class X25519KeyExchange : IKeyExchange
{
    private const int Length = 32; // RFC 7748 §5: u-coordinates and scalars are 32 octets
    private X25519PrivateKeyParameters? _private;

    public X25519KeyExchange(byte[]? privateKey)
    {
        _private = privateKey is null
            ? new X25519PrivateKeyParameters(new SecureRandom())
            : new X25519PrivateKeyParameters(privateKey);
        PublicValue = _private.GeneratePublicKey().GetEncoded();
    }

    public DhGroup Group => DhGroup.Curve25519;
    public byte[] PublicValue { get; }

    public bool TryDeriveSharedSecret(ReadOnlySpan<byte> peerPublicValue, out byte[] sharedSecret)
    {
        sharedSecret = [];
        var priv = _private ?? throw new ObjectDisposedException(nameof(X25519KeyExchange));
        if (peerPublicValue.Length != Length) return false;

        var secret = new byte[Length];
        try
        {
            // BouncyCastle throws when the result is all zero; the explicit check below keeps the
            // guarantee independent of that behaviour.
            priv.GenerateSecret(new X25519PublicKeyParameters(peerPublicValue), secret);
        }
        catch (InvalidOperationException)
        {
            return false;
        }

        if (IsAllZero(secret)) return false;
        sharedSecret = secret;
        return true;
    }

    private static bool IsAllZero(ReadOnlySpan<byte> value)
    {
        int acc = 0;
        foreach (byte b in value) acc |= b;
        return acc == 0;
    }

    /// <summary>BouncyCastle keeps the scalar internally and offers no wipe; dropping the reference is all we can do.</summary>
    public void Dispose() => _private = null;
}
