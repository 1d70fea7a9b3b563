using System.Security.Cryptography;
using Concentrator.Ike.Crypto.V1;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;
using static Concentrator.Tests.Ike.Crypto.Hex;

namespace Concentrator.Tests.Ike.Crypto.V1;

/// <summary>
/// Quick mode KEYMAT per direction (RFC 2409 §5.5) split into the data plane's keys, against the expansion computed
/// here block by block with .NET's HMAC: K1 = prf(SKEYID_d, [g^xy |] 3 | SPI | Ni_b | Nr_b), K2 = prf(SKEYID_d, K1 | ...).
/// </summary>
public class V1ChildKeysTests
{
    private static readonly byte[] SkeyidD = B("0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20");
    private static readonly byte[] Ni = B("a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4");
    private static readonly byte[] Nr = B("c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4");
    private const uint SpiI = 0xc0000001, SpiR = 0xd0000002;

    private static byte[] Keymat(Func<byte[], byte[], byte[]> hmac, byte[] key, byte[] gxy, uint spi, int length)
    {
        byte[] seed = [.. gxy, 3, (byte)(spi >> 24), (byte)(spi >> 16), (byte)(spi >> 8), (byte)spi, .. Ni, .. Nr];
        var k1 = hmac(key, seed);
        var k2 = hmac(key, [.. k1, .. seed]);
        var k3 = hmac(key, [.. k2, .. seed]);
        byte[] all = [.. k1, .. k2, .. k3];
        return all[..length];
    }

    [Fact]
    public void Aes128_cbc_with_sha256_splits_16_octets_of_cipher_key_then_32_of_integrity_key_per_direction()
    {
        var suite = new EspSuite(EncrAlgorithm.AesCbc, 128, IntegAlgorithm.HmacSha2_256_128, DhGroup.None, false);
        using var keys = V1ChildKeys.Derive(V1KeyDerivation.PrfOf(Phase1Hash.Sha2_256), SkeyidD, suite, [], SpiI, SpiR, Ni, Nr);
        var toResponder = Keymat(HMACSHA256.HashData, SkeyidD, [], SpiR, 48);
        var toInitiator = Keymat(HMACSHA256.HashData, SkeyidD, [], SpiI, 48);
        Assert.Equal(toResponder[..16], keys.EncrInitiator);
        Assert.Equal(toResponder[16..], keys.IntegInitiator);
        Assert.Equal(toInitiator[..16], keys.EncrResponder);
        Assert.Equal(toInitiator[16..], keys.IntegResponder);
    }

    [Fact]
    public void Aes256_gcm16_with_pfs_takes_key_and_four_octet_salt_and_no_integrity_key()
    {
        byte[] gqmxy = B("99887766554433221100ffeeddccbbaa99887766554433221100ffeeddccbbaa");
        var suite = new EspSuite(EncrAlgorithm.AesGcm16, 256, IntegAlgorithm.None, DhGroup.Modp2048, false);
        using var keys = V1ChildKeys.Derive(V1KeyDerivation.PrfOf(Phase1Hash.Sha1), SkeyidD, suite, gqmxy, SpiI, SpiR, Ni, Nr);
        // 36 octets with 20-octet SHA-1 blocks: K1 and the first 16 of K2
        Assert.Equal(Keymat(HMACSHA1.HashData, SkeyidD, gqmxy, SpiR, 36), keys.EncrInitiator);
        Assert.Equal(Keymat(HMACSHA1.HashData, SkeyidD, gqmxy, SpiI, 36), keys.EncrResponder);
        Assert.Empty(keys.IntegInitiator);
        Assert.Empty(keys.IntegResponder);
        Assert.NotEqual(keys.EncrInitiator, V1ChildKeys.Derive(V1KeyDerivation.PrfOf(Phase1Hash.Sha1), SkeyidD, suite, [], SpiI, SpiR, Ni, Nr).EncrInitiator);
    }

    [Fact]
    public void Dispose_zeroes_every_key()
    {
        var suite = new EspSuite(EncrAlgorithm.AesCbc, 256, IntegAlgorithm.HmacSha1_96, DhGroup.None, false);
        var keys = V1ChildKeys.Derive(V1KeyDerivation.PrfOf(Phase1Hash.Sha1), SkeyidD, suite, [], SpiI, SpiR, Ni, Nr);
        Assert.Equal((32, 20), (keys.EncrInitiator.Length, keys.IntegResponder.Length));
        keys.Dispose();
        Assert.All(new[] { keys.EncrInitiator, keys.IntegInitiator, keys.EncrResponder, keys.IntegResponder }, k => Assert.All(k, b => Assert.Equal(0, b)));
    }
}
