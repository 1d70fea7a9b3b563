using System.Security.Cryptography;
using Concentrator.Ike.Crypto;
using Concentrator.Ipsec;
using static Concentrator.Tests.Ike.Crypto.Hex;

namespace Concentrator.Tests.Ike.Crypto;

public class KeyDerivationTests
{
    public static TheoryData<EncrAlgorithm, int, PrfAlgorithm, IntegAlgorithm> Suites => new()
    {
        { EncrAlgorithm.AesGcm16, 128, PrfAlgorithm.HmacSha2_256, IntegAlgorithm.None },
        { EncrAlgorithm.AesGcm16, 192, PrfAlgorithm.HmacSha2_384, IntegAlgorithm.None },
        { EncrAlgorithm.AesGcm16, 256, PrfAlgorithm.HmacSha2_512, IntegAlgorithm.None },
        { EncrAlgorithm.ChaCha20Poly1305, 0, PrfAlgorithm.HmacSha2_256, IntegAlgorithm.None },
        { EncrAlgorithm.AesCbc, 128, PrfAlgorithm.HmacSha2_256, IntegAlgorithm.HmacSha2_256_128 },
        { EncrAlgorithm.AesCbc, 256, PrfAlgorithm.HmacSha2_384, IntegAlgorithm.HmacSha2_384_192 },
        { EncrAlgorithm.AesCbc, 256, PrfAlgorithm.HmacSha2_512, IntegAlgorithm.HmacSha2_512_256 },
        { EncrAlgorithm.AesCbc, 128, PrfAlgorithm.HmacSha1, IntegAlgorithm.HmacSha1_96 },
    };

    [Theory]
    [MemberData(nameof(Suites))]
    public void Ike_key_lengths_follow_the_suite(EncrAlgorithm enc, int bits, PrfAlgorithm prf, IntegAlgorithm integ)
    {
        var suite = new IkeSuite(enc, bits, prf, integ, DhGroup.Ecp256);
        using var keys = KeyDerivation.DeriveIkeSaKeys(suite, RandomNumberGenerator.GetBytes(32),
            RandomNumberGenerator.GetBytes(32), RandomNumberGenerator.GetBytes(32), 1, 2);
        int prfLen = Prf.Create(prf).OutputLength;
        int aLen = integ == IntegAlgorithm.None ? 0 : Algorithms.IntegrityKeyLength(integ);
        int eLen = Algorithms.EncryptionKeyMaterialLength(enc, bits);
        Assert.Equal(prfLen, keys.SkD.Length);
        Assert.Equal(aLen, keys.SkAi.Length);
        Assert.Equal(aLen, keys.SkAr.Length);
        Assert.Equal(eLen, keys.SkEi.Length);
        Assert.Equal(eLen, keys.SkEr.Length);
        Assert.Equal(prfLen, keys.SkPi.Length);
        Assert.Equal(prfLen, keys.SkPr.Length);
        if (Algorithms.IsAead(enc))
        {
            Assert.Empty(keys.SkAi); // RFC 5282 §8: no integrity keys for AEADs
            Assert.Equal(bits == 0 ? 36 : bits / 8 + 4, eLen); // salt included
        }
        Assert.NotEqual(keys.SkEi, keys.SkEr);
        Assert.NotEqual(keys.SkPi, keys.SkPr);
    }

    [Theory]
    [InlineData(DhGroup.Modp2048)]
    [InlineData(DhGroup.Ecp256)]
    [InlineData(DhGroup.Ecp384)]
    [InlineData(DhGroup.Curve25519)]
    public void Both_sides_derive_identical_keys_from_independent_key_pairs(DhGroup group)
    {
        var suite = new IkeSuite(EncrAlgorithm.AesGcm16, 256, PrfAlgorithm.HmacSha2_384, IntegAlgorithm.None, group);
        var ni = RandomNumberGenerator.GetBytes(32);
        var nr = RandomNumberGenerator.GetBytes(48);
        ulong spii = 0x0102030405060708, spir = 0xa1a2a3a4a5a6a7a8;

        using var initiator = KeyExchangeFactory.Create(group);
        using var responder = KeyExchangeFactory.Create(group);
        Assert.True(initiator.TryDeriveSharedSecret(responder.PublicValue, out var gi));
        Assert.True(responder.TryDeriveSharedSecret(initiator.PublicValue, out var gr));

        using var ki = KeyDerivation.DeriveIkeSaKeys(suite, gi, ni, nr, spii, spir);
        using var kr = KeyDerivation.DeriveIkeSaKeys(suite, gr, ni, nr, spii, spir);
        AssertSame(ki, kr);

        // Any input that differs changes every key.
        using var swapped = KeyDerivation.DeriveIkeSaKeys(suite, gi, nr, ni, spii, spir);
        using var otherSpi = KeyDerivation.DeriveIkeSaKeys(suite, gi, ni, nr, spii, spir + 1);
        Assert.NotEqual(ki.SkD, swapped.SkD);
        Assert.NotEqual(ki.SkD, otherSpi.SkD);
        Assert.Equal(ki.SkD, KeyDerivation.DeriveIkeSaKeys(suite, gi, ni, nr, spii, spir).SkD);
    }

    /// <summary>
    /// Recomputes §2.13/§2.14 by hand with HMACSHA256 for one suite, so the split order
    /// SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr and the seed Ni | Nr | SPIi | SPIr are pinned.
    /// </summary>
    [Fact]
    public void Ike_keys_match_an_independent_computation_of_RFC7296_2_14()
    {
        var suite = new IkeSuite(EncrAlgorithm.AesCbc, 128, PrfAlgorithm.HmacSha2_256, IntegAlgorithm.HmacSha2_256_128, DhGroup.Ecp256);
        var g = B("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
        var ni = Repeat(0x11, 16);
        var nr = Repeat(0x22, 16);
        var spis = B("0102030405060708 1112131415161718");

        var skeyseed = HMACSHA256.HashData((byte[])[.. ni, .. nr], g);
        var s = (byte[])[.. ni, .. nr, .. spis];
        var stream = new List<byte>();
        byte[] t = [];
        for (byte n = 1; stream.Count < 32 + 2 * 32 + 2 * 16 + 2 * 32; n++)
        {
            t = HMACSHA256.HashData(skeyseed, (byte[])[.. t, .. s, n]);
            stream.AddRange(t);
        }
        var k = stream.ToArray();

        using var keys = KeyDerivation.DeriveIkeSaKeys(suite, g, ni, nr, 0x0102030405060708, 0x1112131415161718);
        Assert.Equal(k[0..32], keys.SkD);
        Assert.Equal(k[32..64], keys.SkAi);
        Assert.Equal(k[64..96], keys.SkAr);
        Assert.Equal(k[96..112], keys.SkEi);
        Assert.Equal(k[112..128], keys.SkEr);
        Assert.Equal(k[128..160], keys.SkPi);
        Assert.Equal(k[160..192], keys.SkPr);
    }

    // NIST CAVP SP 800-135 IKEv2 KDF vector (HMAC-SHA-256), as reproduced in NSS
    // gtests/common/testvectors/ike-sha256-vectors.h (tests 6, 7, 8): g^ir -> SKEYSEED -> DKM, and the rekey SKEYSEED.
    private const string CavpNi = "3f302be1abcb28e1";
    private const string CavpNr = "8c332ee006064c9b";
    private const ulong CavpSpii = 0x40dac39e1e1a8640;
    private const ulong CavpSpir = 0x8619a1cf9a6e4c07;
    private const string CavpGir = "0f4d257d7a58fc4545c7d7a88119eee5d5c9690c5b4c989171d3abbfd99d1d29";
    private const string CavpDkm =
        "0b137d669b0947d7d026d593f0305ad401ff0c471357d695778a9c7f4b4869ece98aca531" +
        "188d16041b3bb936d2dbb3b4993a6e768a809160de45d0283f273a6cdf6854379e31be72b" +
        "8d3d1fa990cf9c5b015ca9f918a7df6253c958114a09d4e1c19bdcd4db14b29d98db1a74a" +
        "d405c588662c14a04d0d36aa4ab55e90f8986d12d4aad";
    private const string CavpGirNew = "25f3b12d6f282739256e39bf54eda53b60ffcf379bb7bcc90c27b4c4c578616c";
    private const string CavpSkeyseedRekey = "2d63f6debc92048b4fef3889c4c99ca67d6496e0fac14a2bca9a2d6566ff2398";

    [Fact]
    public void Ike_keys_match_NIST_CAVP_IKEv2_KDF_vector()
    {
        // SKEYSEED = prf(Ni | Nr, g^ir) = 5f00d1bd... and DKM = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr), 132 octets.
        // With AES-CBC-128 / HMAC-SHA-256-128 the keys SK_d | SK_ai | SK_ar | SK_ei | SK_er fill octets 0..127.
        var suite = new IkeSuite(EncrAlgorithm.AesCbc, 128, PrfAlgorithm.HmacSha2_256, IntegAlgorithm.HmacSha2_256_128, DhGroup.Modp2048);
        var dkm = B(CavpDkm);
        Assert.Equal(132, dkm.Length);

        using var keys = KeyDerivation.DeriveIkeSaKeys(suite, B(CavpGir), B(CavpNi), B(CavpNr), CavpSpii, CavpSpir);
        Assert.Equal(dkm[0..32], keys.SkD);
        Assert.Equal(dkm[32..64], keys.SkAi);
        Assert.Equal(dkm[64..96], keys.SkAr);
        Assert.Equal(dkm[96..112], keys.SkEi);
        Assert.Equal(dkm[112..128], keys.SkEr);
        Assert.Equal(dkm[128..132], keys.SkPi[..4]);

        Assert.Equal(B("5f00d1bd2c58ec224b1e6b71fa0f19a1faa7a193952c444411b47c1a9d8ba6fe"),
            Prf.Create(PrfAlgorithm.HmacSha2_256).Compute(B(CavpNi + CavpNr), B(CavpGir)));
    }

    [Fact]
    public void Rekeyed_ike_keys_match_NIST_CAVP_rekey_SKEYSEED()
    {
        // SKEYSEED(rekey) = prf(SK_d, g^ir(new) | Ni | Nr) = 2d63f6de...; the new SK_d is the first block of
        // prf+(SKEYSEED(rekey), Ni | Nr | SPIi | SPIr).
        var suite = new IkeSuite(EncrAlgorithm.AesGcm16, 256, PrfAlgorithm.HmacSha2_256, IntegAlgorithm.None, DhGroup.Modp2048);
        var oldSkD = B(CavpDkm)[..32];
        using var keys = KeyDerivation.DeriveRekeyedIkeSaKeys(suite, PrfAlgorithm.HmacSha2_256, oldSkD, B(CavpGirNew),
            B(CavpNi), B(CavpNr), CavpSpii, CavpSpir);
        var expectedSkD = HMACSHA256.HashData(B(CavpSkeyseedRekey), B(CavpNi + CavpNr + "40dac39e1e1a8640" + "8619a1cf9a6e4c07" + "01"));
        Assert.Equal(expectedSkD, keys.SkD);
    }

    [Fact]
    public void PrfPlus_is_T1_T2_chained_and_truncated()
    {
        var prf = Prf.Create(PrfAlgorithm.HmacSha2_256);
        var key = Repeat(0x0b, 32);
        var seed = Ascii("seed");
        var t1 = HMACSHA256.HashData(key, (byte[])[.. seed, 1]);
        var t2 = HMACSHA256.HashData(key, (byte[])[.. t1, .. seed, 2]);
        var t3 = HMACSHA256.HashData(key, (byte[])[.. t2, .. seed, 3]);
        Assert.Equal((byte[])[.. t1, .. t2, .. t3[..7]], KeyDerivation.PrfPlus(prf, key, seed, 71));
        Assert.Equal(t1[..5], KeyDerivation.PrfPlus(prf, key, seed, 5));
        Assert.Empty(KeyDerivation.PrfPlus(prf, key, seed, 0));
        Assert.Equal(255 * 32, KeyDerivation.PrfPlus(prf, key, seed, 255 * 32).Length);
        Assert.Throws<ArgumentOutOfRangeException>(() => KeyDerivation.PrfPlus(prf, key, seed, 255 * 32 + 1));
    }

    [Fact]
    public void Rekeyed_ike_sa_uses_old_SK_d_and_old_prf()
    {
        var newSuite = new IkeSuite(EncrAlgorithm.AesGcm16, 128, PrfAlgorithm.HmacSha2_256, IntegAlgorithm.None, DhGroup.Curve25519);
        var oldSkD = Repeat(0x5a, 48);
        var g = Repeat(0x33, 32);
        var ni = Repeat(0x44, 32);
        var nr = Repeat(0x55, 32);

        // RFC 7296 §2.18: SKEYSEED = prf_old(SK_d(old), g^ir(new) | Ni | Nr); then §2.14 with the new PRF.
        var skeyseed = HMACSHA384.HashData(oldSkD, (byte[])[.. g, .. ni, .. nr]);
        var expectedSkD = HMACSHA256.HashData(skeyseed, (byte[])[.. ni, .. nr, .. B("00000000000000aa00000000000000bb"), 1]);

        using var keys = KeyDerivation.DeriveRekeyedIkeSaKeys(newSuite, PrfAlgorithm.HmacSha2_384, oldSkD, g, ni, nr, 0xaa, 0xbb);
        Assert.Equal(expectedSkD, keys.SkD);
        Assert.Equal(20, keys.SkEi.Length);

        using var initial = KeyDerivation.DeriveIkeSaKeys(newSuite, g, ni, nr, 0xaa, 0xbb);
        Assert.NotEqual(initial.SkD, keys.SkD);
    }

    [Fact]
    public void Child_keys_split_in_RFC7296_2_17_order_and_differ_per_direction()
    {
        var skD = Repeat(0x77, 32);
        var ni = Repeat(0x01, 32);
        var nr = Repeat(0x02, 32);
        var esp = new EspSuite(EncrAlgorithm.AesCbc, 128, IntegAlgorithm.HmacSha2_256_128, DhGroup.None, false);

        using var keys = KeyDerivation.DeriveChildSaKeys(PrfAlgorithm.HmacSha2_256, skD, esp, [], ni, nr);
        var keymat = KeyDerivation.PrfPlus(Prf.Create(PrfAlgorithm.HmacSha2_256), skD, [.. ni, .. nr], 2 * (16 + 32));
        Assert.Equal(keymat[0..16], keys.EncrInitiator);
        Assert.Equal(keymat[16..48], keys.IntegInitiator);
        Assert.Equal(keymat[48..64], keys.EncrResponder);
        Assert.Equal(keymat[64..96], keys.IntegResponder);
        Assert.NotEqual(keys.EncrInitiator, keys.EncrResponder);
        Assert.NotEqual(keys.IntegInitiator, keys.IntegResponder);

        // With PFS, g^ir (new) is prepended to the nonces.
        var g = Repeat(0x99, 32);
        using var pfs = KeyDerivation.DeriveChildSaKeys(PrfAlgorithm.HmacSha2_256, skD, esp with { Group = DhGroup.Curve25519 }, g, ni, nr);
        var pfsKeymat = KeyDerivation.PrfPlus(Prf.Create(PrfAlgorithm.HmacSha2_256), skD, [.. g, .. ni, .. nr], 96);
        Assert.Equal(pfsKeymat[0..16], pfs.EncrInitiator);
        Assert.NotEqual(keys.EncrInitiator, pfs.EncrInitiator);

        // AEAD: salt included, no integrity keys.
        using var gcm = KeyDerivation.DeriveChildSaKeys(PrfAlgorithm.HmacSha2_256, skD,
            new EspSuite(EncrAlgorithm.AesGcm16, 256, IntegAlgorithm.None, DhGroup.None, true), [], ni, nr);
        Assert.Equal(36, gcm.EncrInitiator.Length);
        Assert.Equal(36, gcm.EncrResponder.Length);
        Assert.Empty(gcm.IntegInitiator);
        Assert.Empty(gcm.IntegResponder);
        Assert.NotEqual(gcm.EncrInitiator, gcm.EncrResponder);
    }

    [Fact]
    public void Dispose_zeroes_every_key()
    {
        var suite = new IkeSuite(EncrAlgorithm.AesCbc, 256, PrfAlgorithm.HmacSha2_256, IntegAlgorithm.HmacSha2_256_128, DhGroup.Ecp256);
        var keys = KeyDerivation.DeriveIkeSaKeys(suite, Repeat(1, 32), Repeat(2, 32), Repeat(3, 32), 1, 2);
        keys.Dispose();
        foreach (var k in new[] { keys.SkD, keys.SkAi, keys.SkAr, keys.SkEi, keys.SkEr, keys.SkPi, keys.SkPr })
        {
            Assert.NotEmpty(k);
            Assert.All(k, b => Assert.Equal(0, b));
        }

        var child = KeyDerivation.DeriveChildSaKeys(PrfAlgorithm.HmacSha2_256, Repeat(7, 32),
            new EspSuite(EncrAlgorithm.AesCbc, 128, IntegAlgorithm.HmacSha2_256_128, DhGroup.None, false), [], Repeat(2, 32), Repeat(3, 32));
        child.Dispose();
        foreach (var k in new[] { child.EncrInitiator, child.IntegInitiator, child.EncrResponder, child.IntegResponder })
        {
            Assert.All(k, b => Assert.Equal(0, b));
        }
    }

    [Fact]
    public void Invalid_suites_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => KeyDerivation.DeriveIkeSaKeys(
            new IkeSuite(EncrAlgorithm.AesGcm16, 128, PrfAlgorithm.HmacSha2_256, IntegAlgorithm.HmacSha2_256_128, DhGroup.Ecp256), [1], [2], [3], 1, 2));
        Assert.Throws<ArgumentException>(() => KeyDerivation.DeriveIkeSaKeys(
            new IkeSuite(EncrAlgorithm.AesCbc, 128, PrfAlgorithm.HmacSha2_256, IntegAlgorithm.None, DhGroup.Ecp256), [1], [2], [3], 1, 2));
        Assert.Throws<NotSupportedException>(() => KeyDerivation.DeriveIkeSaKeys(
            new IkeSuite(EncrAlgorithm.AesCbc, 128, PrfAlgorithm.AesXcbc, IntegAlgorithm.HmacSha2_256_128, DhGroup.Ecp256), [1], [2], [3], 1, 2));
    }

    private static void AssertSame(IkeKeys a, IkeKeys b)
    {
        Assert.Equal(a.SkD, b.SkD);
        Assert.Equal(a.SkAi, b.SkAi);
        Assert.Equal(a.SkAr, b.SkAr);
        Assert.Equal(a.SkEi, b.SkEi);
        Assert.Equal(a.SkEr, b.SkEr);
        Assert.Equal(a.SkPi, b.SkPi);
        Assert.Equal(a.SkPr, b.SkPr);
    }
}
