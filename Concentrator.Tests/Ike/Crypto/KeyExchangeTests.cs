using System.Numerics;
using Concentrator.Ike.Crypto;
using Concentrator.Ipsec;
using static Concentrator.Tests.Ike.Crypto.Hex;

namespace Concentrator.Tests.Ike.Crypto;

public class KeyExchangeTests
{
    // RFC 5903 §8.1, 256-bit Random ECP Group.
    private const string P256I = "C88F01F5 10D9AC3F 70A292DA A2316DE5 44E9AAB8 AFE84049 C62A9C57 862D1433";
    private const string P256Gix = "DAD0B653 94221CF9 B051E1FE CA5787D0 98DFE637 FC90B9EF 945D0C37 72581180";
    private const string P256Giy = "5271A046 1CDB8252 D61F1C45 6FA3E59A B1F45B33 ACCF5F58 389E0577 B8990BB3";
    private const string P256R = "C6EF9C5D 78AE012A 011164AC B397CE20 88685D8F 06BF9BE0 B283AB46 476BEE53";
    private const string P256Grx = "D12DFB52 89C8D4F8 1208B702 70398C34 2296970A 0BCCB74C 736FC755 4494BF63";
    private const string P256Gry = "56FBF3CA 366CC23E 8157854C 13C58D6A AC23F046 ADA30F83 53E74F33 039872AB";
    private const string P256Girx = "D6840F6B 42F6EDAF D13116E0 E1256520 2FEF8E9E CE7DCE03 812464D0 4B9442DE";

    // RFC 5903 §8.2, 384-bit Random ECP Group.
    private const string P384I = "099F3C70 34D4A2C6 99884D73 A375A67F 7624EF7C 6B3C0F16 0647B674 14DCE655 E35B5380 41E649EE 3FAEF896 783AB194";
    private const string P384Gix = "667842D7 D180AC2C DE6F74F3 7551F557 55C7645C 20EF73E3 1634FE72 B4C55EE6 DE3AC808 ACB4BDB4 C88732AE E95F41AA";
    private const string P384Giy = "9482ED1F C0EEB9CA FC498462 5CCFC23F 65032149 E0E144AD A0241815 35A0F38E EB9FCFF3 C2C947DA E69B4C63 4573A81C";
    private const string P384R = "41CB0779 B4BDB85D 47846725 FBEC3C94 30FAB46C C8DC5060 855CC9BD A0AA2942 E0308312 916B8ED2 960E4BD5 5A7448FC";
    private const string P384Grx = "E558DBEF 53EECDE3 D3FCCFC1 AEA08A89 A987475D 12FD950D 83CFA417 32BC509D 0D1AC43A 0336DEF9 6FDA41D0 774A3571";
    private const string P384Gry = "DCFBEC7A ACF31964 72169E83 8430367F 66EEBE3C 6E70C416 DD5F0C68 759DD1FF F83FA401 42209DFF 5EAAD96D B9E6386C";
    private const string P384Girx = "11187331 C279962D 93D60424 3FD592CB 9D0A926F 422E4718 7521287E 7156C5C4 D6031355 69B9E9D0 9CF5D4A2 70F59746";

    public static TheoryData<DhGroup, string, string, string, string, string, string, string> Rfc5903 => new()
    {
        { DhGroup.Ecp256, P256I, P256Gix, P256Giy, P256R, P256Grx, P256Gry, P256Girx },
        { DhGroup.Ecp384, P384I, P384Gix, P384Giy, P384R, P384Grx, P384Gry, P384Girx },
    };

    [Theory]
    [MemberData(nameof(Rfc5903))]
    public void Ecp_matches_RFC5903(DhGroup group, string i, string gix, string giy, string r, string grx, string gry, string girx)
    {
        using var initiator = KeyExchangeFactory.CreateWithPrivateKey(group, B(i));
        using var responder = KeyExchangeFactory.CreateWithPrivateKey(group, B(r));
        var gi = B(gix + giy);
        var gr = B(grx + gry);

        // RFC 5903 §7: the KE data is x | y without a point-format octet.
        Assert.Equal(gi, initiator.PublicValue);
        Assert.Equal(gr, responder.PublicValue);
        Assert.Equal(KeyExchangeFactory.PublicValueLength(group), gi.Length);

        Assert.True(initiator.TryDeriveSharedSecret(gr, out var si));
        Assert.True(responder.TryDeriveSharedSecret(gi, out var sr));
        Assert.Equal(B(girx), si); // RFC 5903 §9: the shared secret is the x-coordinate only
        Assert.Equal(B(girx), sr);
    }

    // RFC 7748 §6.1.
    private const string AlicePriv = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
    private const string AlicePub = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
    private const string BobPriv = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
    private const string BobPub = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
    private const string X25519Shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

    [Fact]
    public void X25519_matches_RFC7748()
    {
        using var alice = KeyExchangeFactory.CreateWithPrivateKey(DhGroup.Curve25519, B(AlicePriv));
        using var bob = KeyExchangeFactory.CreateWithPrivateKey(DhGroup.Curve25519, B(BobPriv));
        Assert.Equal(B(AlicePub), alice.PublicValue);
        Assert.Equal(B(BobPub), bob.PublicValue);
        Assert.True(alice.TryDeriveSharedSecret(bob.PublicValue, out var k1));
        Assert.True(bob.TryDeriveSharedSecret(alice.PublicValue, out var k2));
        Assert.Equal(B(X25519Shared), k1);
        Assert.Equal(B(X25519Shared), k2);
    }

    public static TheoryData<DhGroup> Groups => new()
    {
        DhGroup.Modp1024, DhGroup.Modp2048, DhGroup.Modp3072, DhGroup.Modp4096,
        DhGroup.Ecp256, DhGroup.Ecp384, DhGroup.Ecp521, DhGroup.Curve25519,
    };

    [Theory]
    [MemberData(nameof(Groups))]
    public void Independent_key_pairs_agree(DhGroup group)
    {
        Assert.True(KeyExchangeFactory.IsSupported(group));
        using var a = KeyExchangeFactory.Create(group);
        using var b = KeyExchangeFactory.Create(group);
        Assert.Equal(group, a.Group);
        Assert.Equal(KeyExchangeFactory.PublicValueLength(group), a.PublicValue.Length);
        Assert.Equal(KeyExchangeFactory.PublicValueLength(group), b.PublicValue.Length);
        Assert.NotEqual(a.PublicValue, b.PublicValue);
        Assert.True(a.TryDeriveSharedSecret(b.PublicValue, out var sa));
        Assert.True(b.TryDeriveSharedSecret(a.PublicValue, out var sb));
        Assert.Equal(sa, sb);
        Assert.NotEmpty(sa);
    }

    [Theory]
    [MemberData(nameof(Groups))]
    public void Wrong_length_is_rejected_without_exception(DhGroup group)
    {
        using var kx = KeyExchangeFactory.Create(group);
        using var peer = KeyExchangeFactory.Create(group);
        var good = peer.PublicValue;
        Assert.False(kx.TryDeriveSharedSecret([], out _));
        Assert.False(kx.TryDeriveSharedSecret(good[..^1], out _));
        Assert.False(kx.TryDeriveSharedSecret([.. good, 0], out _));
        Assert.False(kx.TryDeriveSharedSecret([0x04, .. good], out _)); // SEC1 prefix is not IKE encoding
    }

    public static TheoryData<DhGroup, string> ModpPrimes => new()
    {
        // RFC 2409 §6.2, 1024-bit MODP group 2 (weak; for legacy peers with weak_algorithms).
        { DhGroup.Modp1024,
          "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD" +
          "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED" +
          "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF" },
        // RFC 3526 §3, 2048-bit MODP group 14.
        { DhGroup.Modp2048,
          "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD" +
          "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED" +
          "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F" +
          "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B" +
          "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510" +
          "15728E5A8AACAA68FFFFFFFFFFFFFFFF" },
    };

    [Theory]
    [MemberData(nameof(ModpPrimes))]
    public void Modp_rejects_RFC6989_invalid_values(DhGroup group, string primeHex)
    {
        using var kx = KeyExchangeFactory.Create(group);
        int len = KeyExchangeFactory.PublicValueLength(group);
        var p = new BigInteger(B(primeHex), isUnsigned: true, isBigEndian: true);
        byte[] Encode(BigInteger v)
        {
            var raw = v.ToByteArray(isUnsigned: true, isBigEndian: true);
            var r = new byte[len];
            raw.CopyTo(r, len - raw.Length);
            return r;
        }

        // RFC 6989 §2.1: 1 < y < p-1.
        Assert.False(kx.TryDeriveSharedSecret(Encode(0), out _));
        Assert.False(kx.TryDeriveSharedSecret(Encode(1), out _));
        Assert.False(kx.TryDeriveSharedSecret(Encode(p - 1), out _));
        Assert.False(kx.TryDeriveSharedSecret(Encode(p), out _));
        Assert.False(kx.TryDeriveSharedSecret(Encode(p + 5), out _));
        Assert.False(kx.TryDeriveSharedSecret(Repeat(0xff, len), out _));
        // g = 2 itself is a valid (left-padded, short) value.
        Assert.True(kx.TryDeriveSharedSecret(Encode(2), out var s2));
        Assert.Equal(len, s2.Length);
        // p-2 is in range but is a quadratic non-residue (p = 7 mod 8), i.e. outside the prime-order subgroup
        // that every honest g^x lies in; BouncyCastle's group check (RFC 6989 §2.2 style) rejects it.
        Assert.False(kx.TryDeriveSharedSecret(Encode(p - 2), out _));
    }

    [Theory]
    [InlineData(DhGroup.Ecp256)]
    [InlineData(DhGroup.Ecp384)]
    [InlineData(DhGroup.Ecp521)]
    public void Ecp_rejects_points_not_on_the_curve(DhGroup group)
    {
        using var kx = KeyExchangeFactory.Create(group);
        using var peer = KeyExchangeFactory.Create(group);
        int len = KeyExchangeFactory.PublicValueLength(group);

        var offCurve = (byte[])peer.PublicValue.Clone();
        offCurve[^1] ^= 0x01; // y changed: (x, y') is not on the curve
        Assert.False(kx.TryDeriveSharedSecret(offCurve, out _));

        Assert.False(kx.TryDeriveSharedSecret(new byte[len], out _)); // (0,0): not a curve point (no encoding of infinity)
        Assert.False(kx.TryDeriveSharedSecret(Repeat(0xff, len), out _)); // coordinates >= p
    }

    [Theory]
    [InlineData(DhGroup.Ecp256)]
    [InlineData(DhGroup.Ecp384)]
    [InlineData(DhGroup.Ecp521)]
    public void Ecp_on_linux_is_libcrypto_and_agrees_with_the_dotnet_fallback(DhGroup group)
    {
        // The ECP tests above test whichever the factory makes; on Linux that must be the libcrypto one.
        using var made = KeyExchangeFactory.Create(group);
        Assert.Equal(OperatingSystem.IsLinux(), made is LibCryptoEcpKeyExchange);
        if (!OperatingSystem.IsLinux()) return;

        var (curve, length) = group switch
        {
            DhGroup.Ecp256 => (System.Security.Cryptography.ECCurve.NamedCurves.nistP256, 32),
            DhGroup.Ecp384 => (System.Security.Cryptography.ECCurve.NamedCurves.nistP384, 48),
            _ => (System.Security.Cryptography.ECCurve.NamedCurves.nistP521, 66),
        };
        using var dotnet = new EcpKeyExchange(group, curve, length, null);
        using var native = new LibCryptoEcpKeyExchange(group, length, null);
        Assert.True(dotnet.TryDeriveSharedSecret(native.PublicValue, out var s1));
        Assert.True(native.TryDeriveSharedSecret(dotnet.PublicValue, out var s2));
        Assert.Equal(s1, s2);
        Assert.Equal(length, s2.Length);

        // y with one bit flipped: (x, y') is not on the curve.
        var offCurve = (byte[])dotnet.PublicValue.Clone();
        offCurve[length] ^= 0x40;
        Assert.False(native.TryDeriveSharedSecret(offCurve, out var refused));
        Assert.Empty(refused);
        // After a refusal the key still derives (libcrypto's error queue was left clean for .NET's next call).
        Assert.True(native.TryDeriveSharedSecret(dotnet.PublicValue, out var again));
        Assert.Equal(s2, again);
        using var ecdsa = System.Security.Cryptography.ECDsa.Create(curve);
        Assert.NotEmpty(ecdsa.SignData([1, 2, 3], System.Security.Cryptography.HashAlgorithmName.SHA256));
    }

    [Fact]
    public void Ecp_rejects_RFC5903_point_with_a_flipped_coordinate_bit()
    {
        using var kx = KeyExchangeFactory.CreateWithPrivateKey(DhGroup.Ecp256, B(P256I));
        var gr = B(P256Grx + P256Gry);
        gr[5] ^= 0x80;
        Assert.False(kx.TryDeriveSharedSecret(gr, out _));
    }

    [Theory]
    // RFC 7748 §6.1 / RFC 8031 §2.3: u = 0 and u = 1 are small-order; the result would be all zero.
    [InlineData("0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("0100000000000000000000000000000000000000000000000000000000000000")]
    public void X25519_rejects_low_order_points(string point)
    {
        using var kx = KeyExchangeFactory.Create(DhGroup.Curve25519);
        Assert.False(kx.TryDeriveSharedSecret(B(point), out var secret));
        Assert.Empty(secret);
    }

    [Fact]
    public void Unsupported_groups_are_reported()
    {
        Assert.False(KeyExchangeFactory.IsSupported(DhGroup.Modp768)); // broken: never implemented
        Assert.False(KeyExchangeFactory.IsSupported(DhGroup.Curve448));
        Assert.Throws<NotSupportedException>(() => KeyExchangeFactory.Create(DhGroup.Modp768));
    }
}
