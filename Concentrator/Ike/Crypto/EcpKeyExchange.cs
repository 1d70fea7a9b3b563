using System.Security.Cryptography;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Crypto;

/// <summary>
/// ECDH over a NIST prime curve (RFC 5903) with .NET ECDiffieHellman. The Key Exchange Data is X | Y,
/// each coordinate left-padded to the field size, without the 0x04 point-format octet (RFC 5903 §7);
/// the shared secret is the x-coordinate of the shared point (RFC 5903 §9). The fallback of
/// <see cref="LibCryptoEcpKeyExchange"/> where libcrypto.so.3 or one of its symbols is missing.
/// </summary>
internal sealed class EcpKeyExchange : IKeyExchange
{
    private readonly ECCurve _curve;
    private readonly int _coordinateLength;
    private ECDiffieHellman? _ecdh;

    public EcpKeyExchange(DhGroup group, ECCurve curve, int coordinateLength, byte[]? privateKey)
    {
        Group = group;
        _curve = curve;
        _coordinateLength = coordinateLength;
        _ecdh = privateKey is null
            ? ECDiffieHellman.Create(curve)
            : ECDiffieHellman.Create(new ECParameters { Curve = curve, D = privateKey });

        var q = _ecdh.ExportParameters(false).Q;
        PublicValue = new byte[2 * coordinateLength];
        q.X!.CopyTo(PublicValue.AsSpan(coordinateLength - q.X!.Length));
        q.Y!.CopyTo(PublicValue.AsSpan(2 * coordinateLength - q.Y!.Length));
    }

    public DhGroup Group { get; }
    public byte[] PublicValue { get; }

    public bool TryDeriveSharedSecret(ReadOnlySpan<byte> peerPublicValue, out byte[] sharedSecret)
    {
        sharedSecret = [];
        var ecdh = _ecdh ?? throw new ObjectDisposedException(nameof(EcpKeyExchange));
        if (peerPublicValue.Length != 2 * _coordinateLength) return false;

        var peerParameters = new ECParameters
        {
            Curve = _curve,
            Q = new ECPoint
            {
                X = peerPublicValue[.._coordinateLength].ToArray(),
                Y = peerPublicValue[_coordinateLength..].ToArray(),
            },
        };

        // RFC 6989 §2.3: the point must lie on the curve. The platform import (OpenSSL
        // EC_KEY_set_public_key_affine_coordinates / EVP_PKEY_fromdata) rejects coordinates >= p and
        // points off the curve with a CryptographicException; the NIST curves have cofactor 1.
        try
        {
            using var peer = ECDiffieHellman.Create(peerParameters);
            using var peerKey = peer.PublicKey;
            sharedSecret = ecdh.DeriveRawSecretAgreement(peerKey);
            return true;
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        _ecdh?.Dispose();
        _ecdh = null;
    }
}
