using System.Security.Cryptography;
using Concentrator.Ipsec;
using Org.BouncyCastle.Crypto.Agreement;

namespace Concentrator.Ike.Crypto;

/// <summary>
/// Creates key exchanges: MODP groups 14-16 (RFC 3526) and, for legacy peers, group 2 (RFC 2409 §6.2; weak,
/// enabled per connection in config) with BouncyCastle, ECP groups 19-21 (RFC 5903)
/// with libcrypto's EC_KEY (.NET ECDiffieHellman where libcrypto.so.3 is missing), Curve25519 (RFC 8031) with BouncyCastle.
/// </summary>
public static class KeyExchangeFactory
{
    public static bool IsSupported(DhGroup group) => group is
        DhGroup.Modp1024 or DhGroup.Modp2048 or DhGroup.Modp3072 or DhGroup.Modp4096 or
        DhGroup.Ecp256 or DhGroup.Ecp384 or DhGroup.Ecp521 or
        DhGroup.Curve25519;

    /// <summary>Key Exchange Data length (RFC 3526 modulus size; RFC 5903 §7 X|Y; RFC 8031 §2).</summary>
    public static int PublicValueLength(DhGroup group) => group switch
    {
        DhGroup.Modp1024 => 128,
        DhGroup.Modp2048 => 256,
        DhGroup.Modp3072 => 384,
        DhGroup.Modp4096 => 512,
        DhGroup.Ecp256 => 2 * 32,
        DhGroup.Ecp384 => 2 * 48,
        DhGroup.Ecp521 => 2 * 66,
        DhGroup.Curve25519 => 32,
        _ => throw new NotSupportedException($"DH group {group} is not supported"),
    };

    /// <exception cref="NotSupportedException">The group is not one of <see cref="IsSupported"/>.</exception>
    public static IKeyExchange Create(DhGroup group) => CreateCore(group, null);

    /// <summary>Test seam: a key exchange with a fixed private value (big-endian for MODP/ECP, RFC 7748 encoding for X25519).</summary>
    internal static IKeyExchange CreateWithPrivateKey(DhGroup group, byte[] privateKey)
    {
        ArgumentNullException.ThrowIfNull(privateKey);
        return CreateCore(group, privateKey);
    }

    private static IKeyExchange CreateCore(DhGroup group, byte[]? privateKey) => group switch
    {
        DhGroup.Modp1024 => new ModpKeyExchange(group, DHStandardGroups.rfc2409_1024, privateKey),
        DhGroup.Modp2048 => new ModpKeyExchange(group, DHStandardGroups.rfc3526_2048, privateKey),
        DhGroup.Modp3072 => new ModpKeyExchange(group, DHStandardGroups.rfc3526_3072, privateKey),
        DhGroup.Modp4096 => new ModpKeyExchange(group, DHStandardGroups.rfc3526_4096, privateKey),
        DhGroup.Ecp256 or DhGroup.Ecp384 or DhGroup.Ecp521 when LibCryptoEcpKeyExchange.IsAvailable(group) =>
            new LibCryptoEcpKeyExchange(group, PublicValueLength(group) / 2, privateKey),
        DhGroup.Ecp256 => new EcpKeyExchange(group, ECCurve.NamedCurves.nistP256, 32, privateKey),
        DhGroup.Ecp384 => new EcpKeyExchange(group, ECCurve.NamedCurves.nistP384, 48, privateKey),
        DhGroup.Ecp521 => new EcpKeyExchange(group, ECCurve.NamedCurves.nistP521, 66, privateKey),
        DhGroup.Curve25519 => new X25519KeyExchange(privateKey),
        _ => throw new NotSupportedException($"DH group {group} is not supported"),
    };
}
