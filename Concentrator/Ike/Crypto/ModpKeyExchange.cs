using Concentrator.Ipsec;
using Org.BouncyCastle.Crypto.Agreement;
using Org.BouncyCastle.Crypto.Generators;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Math;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.Utilities;

namespace Concentrator.Ike.Crypto;

/// <summary>
/// Finite-field DH over a RFC 3526 (or RFC 2409) MODP group, composed from BouncyCastle. Values on the wire are
/// big-endian and left-padded to the modulus length (RFC 7296 §3.4); so is g^ir (§2.14).
/// </summary>
internal sealed class ModpKeyExchange : IKeyExchange
{
    private readonly DHParameters _parameters;
    private readonly int _length;
    private DHPrivateKeyParameters? _private;

    public ModpKeyExchange(DhGroup group, DHParameters parameters, byte[]? privateKey)
    {
        Group = group;
        _parameters = parameters;
        _length = (parameters.P.BitLength + 7) / 8;

        BigInteger y;
        if (privateKey is null)
        {
            var generator = new DHKeyPairGenerator();
            generator.Init(new DHKeyGenerationParameters(new SecureRandom(), parameters));
            var pair = generator.GenerateKeyPair();
            _private = (DHPrivateKeyParameters)pair.Private;
            y = ((DHPublicKeyParameters)pair.Public).Y;
        }
        else
        {
            _private = new DHPrivateKeyParameters(new BigInteger(1, privateKey), parameters);
            y = parameters.G.ModPow(_private.X, parameters.P);
        }

        PublicValue = BigIntegers.AsUnsignedByteArray(_length, y);
    }

    public DhGroup Group { get; }
    public byte[] PublicValue { get; }

    public bool TryDeriveSharedSecret(ReadOnlySpan<byte> peerPublicValue, out byte[] sharedSecret)
    {
        sharedSecret = [];
        var priv = _private ?? throw new ObjectDisposedException(nameof(ModpKeyExchange));
        if (peerPublicValue.Length != _length) return false;

        // RFC 6989 §2.1: 1 < y < p-1; DHPublicKeyParameters enforces the same range, checked here first
        // so that no exception is the normal path for a bad peer.
        var y = new BigInteger(1, peerPublicValue.ToArray());
        var p = _parameters.P;
        if (y.CompareTo(BigInteger.One) <= 0 || y.CompareTo(p.Subtract(BigInteger.One)) >= 0) return false;

        try
        {
            var agreement = new DHBasicAgreement();
            agreement.Init(priv);
            var z = agreement.CalculateAgreement(new DHPublicKeyParameters(y, _parameters));
            sharedSecret = BigIntegers.AsUnsignedByteArray(_length, z);
            return true;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>BouncyCastle BigIntegers are immutable and cannot be wiped; dropping the reference is all we can do.</summary>
    public void Dispose() => _private = null;
}
