using Concentrator.Ike.Crypto;
using Concentrator.Ipsec;
using static Concentrator.Tests.Ike.Crypto.Hex;

namespace Concentrator.Tests.Ike.Crypto;

/// <summary>
/// PRF vectors: RFC 4231 §4.2-§4.8 (test cases 1-7), which RFC 4868 §2.7.1 reuses for PRF-HMAC-SHA-256/384/512.
/// Integrity vectors: RFC 4868 §2.7.2.1-§2.7.2.3 (authenticator test cases 1-3, key length = hash length).
/// </summary>
public class PrfAndIntegrityVectorTests
{
    private static readonly byte[] Key0b = Repeat(0x0b, 20);
    private static readonly byte[] KeyAa20 = Repeat(0xaa, 20);
    private static readonly byte[] Key0119 = B("0102030405060708090a0b0c0d0e0f10111213141516171819");
    private static readonly byte[] KeyAa131 = Repeat(0xaa, 131);
    private const string Tc6Data = "Test Using Larger Than Block-Size Key - Hash Key First";
    private const string Tc7Data = "This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.";

    public static TheoryData<string, PrfAlgorithm, string> Rfc4231 => new()
    {
        // RFC 4231 §4.2 test case 1
        { "tc1", PrfAlgorithm.HmacSha2_256, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
        { "tc1", PrfAlgorithm.HmacSha2_384, "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6" },
        { "tc1", PrfAlgorithm.HmacSha2_512, "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854" },
        // RFC 4231 §4.3 test case 2 (key "Jefe")
        { "tc2", PrfAlgorithm.HmacSha2_256, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
        { "tc2", PrfAlgorithm.HmacSha2_384, "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649" },
        { "tc2", PrfAlgorithm.HmacSha2_512, "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737" },
        // RFC 4231 §4.4 test case 3
        { "tc3", PrfAlgorithm.HmacSha2_256, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe" },
        { "tc3", PrfAlgorithm.HmacSha2_384, "88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b2a5ab39dc13814b94e3ab6e101a34f27" },
        { "tc3", PrfAlgorithm.HmacSha2_512, "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb" },
        // RFC 4231 §4.5 test case 4
        { "tc4", PrfAlgorithm.HmacSha2_256, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b" },
        { "tc4", PrfAlgorithm.HmacSha2_384, "3e8a69b7783c25851933ab6290af6ca77a9981480850009cc5577c6e1f573b4e6801dd23c4a7d679ccf8a386c674cffb" },
        { "tc4", PrfAlgorithm.HmacSha2_512, "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3dba91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd" },
        // RFC 4231 §4.6 test case 5: output truncated to 128 bits
        { "tc5", PrfAlgorithm.HmacSha2_256, "a3b6167473100ee06e0c796c2955552b" },
        { "tc5", PrfAlgorithm.HmacSha2_384, "3abf34c3503b2a23a46efc619baef897" },
        { "tc5", PrfAlgorithm.HmacSha2_512, "415fad6271580a531d4179bc891d87a6" },
        // RFC 4231 §4.7 test case 6
        { "tc6", PrfAlgorithm.HmacSha2_256, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
        { "tc6", PrfAlgorithm.HmacSha2_384, "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952" },
        { "tc6", PrfAlgorithm.HmacSha2_512, "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598" },
        // RFC 4231 §4.8 test case 7
        { "tc7", PrfAlgorithm.HmacSha2_256, "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2" },
        { "tc7", PrfAlgorithm.HmacSha2_384, "6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5a678cc31e799176d3860e6110c46523e" },
        { "tc7", PrfAlgorithm.HmacSha2_512, "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58" },
    };

    private static (byte[] Key, byte[] Data) Rfc4231Input(string tc) => tc switch
    {
        "tc1" => (Key0b, Ascii("Hi There")),
        "tc2" => (Ascii("Jefe"), Ascii("what do ya want for nothing?")),
        "tc3" => (KeyAa20, Repeat(0xdd, 50)),
        "tc4" => (Key0119, Repeat(0xcd, 50)),
        "tc5" => (Repeat(0x0c, 20), Ascii("Test With Truncation")),
        "tc6" => (KeyAa131, Ascii(Tc6Data)),
        "tc7" => (KeyAa131, Ascii(Tc7Data)),
        _ => throw new ArgumentOutOfRangeException(nameof(tc)),
    };

    [Theory]
    [MemberData(nameof(Rfc4231))]
    public void Prf_matches_RFC4231(string testCase, PrfAlgorithm alg, string expectedHex)
    {
        var (key, data) = Rfc4231Input(testCase);
        var prf = Prf.Create(alg);
        var output = prf.Compute(key, data);
        var expected = B(expectedHex);
        Assert.Equal(prf.OutputLength, output.Length);
        Assert.Equal(expected, output[..expected.Length]);
    }

    public static TheoryData<IntegAlgorithm, string, string, string> Rfc4868Auth => new()
    {
        // RFC 4868 §2.7.2.1 (HMAC-SHA-256-128), test cases AUTH256-1..3
        { IntegAlgorithm.HmacSha2_256_128, "0b*32", "Hi There", "198a607eb44bfbc69903a0f1cf2bbdc5" },
        { IntegAlgorithm.HmacSha2_256_128, "Jefe*8", "what do ya want for nothing?", "167f928588c5cc2eef8e3093caa0e87c" },
        { IntegAlgorithm.HmacSha2_256_128, "aa*32", "dd*50", "cdcb1220d1ecccea91e53aba3092f962" },
        // RFC 4868 §2.7.2.2 (HMAC-SHA-384-192), AUTH384-1..3
        { IntegAlgorithm.HmacSha2_384_192, "0b*48", "Hi There", "b6a8d5636f5c6a7224f9977dcf7ee6c7fb6d0c48cbdee973" },
        { IntegAlgorithm.HmacSha2_384_192, "Jefe*12", "what do ya want for nothing?", "2c7353974f1842fd66d53c452ca42122b28c0b594cfb184d" },
        { IntegAlgorithm.HmacSha2_384_192, "aa*48", "dd*50", "809f439be00274321d4a538652164b53554a508184a0c316" },
        // RFC 4868 §2.7.2.3 (HMAC-SHA-512-256), AUTH512-1..3
        { IntegAlgorithm.HmacSha2_512_256, "0b*64", "Hi There", "637edc6e01dce7e6742a99451aae82df23da3e92439e590e43e761b33e910fb8" },
        { IntegAlgorithm.HmacSha2_512_256, "Jefe*16", "what do ya want for nothing?", "cb370917ae8a7ce28cfd1d8f4705d6141c173b2a9362c15df235dfb251b15454" },
        { IntegAlgorithm.HmacSha2_512_256, "aa*64", "dd*50", "2ee7acd783624ca9398710f3ee05ae41b9f9b0510c87e49e586cc9bf961733d8" },
    };

    /// <summary>"xx*n" = byte 0xxx n times; "Word*n" = ASCII word repeated n times; anything else = ASCII.</summary>
    internal static byte[] Spec(string s)
    {
        int star = s.IndexOf('*');
        if (star < 0) return Ascii(s);
        string unit = s[..star];
        int n = int.Parse(s[(star + 1)..]);
        return unit.Length == 2 && unit.All(Uri.IsHexDigit)
            ? Repeat(Convert.ToByte(unit, 16), n)
            : Ascii(string.Concat(Enumerable.Repeat(unit, n)));
    }

    [Theory]
    [MemberData(nameof(Rfc4868Auth))]
    public void Integrity_icv_matches_RFC4868(IntegAlgorithm alg, string key, string data, string expectedIcv)
    {
        var k = Spec(key);
        Assert.Equal(Algorithms.IntegrityKeyLength(alg), k.Length);
        var icv = Integrity.Compute(alg, k, Spec(data));
        Assert.Equal(B(expectedIcv), icv);
        Assert.Equal(Algorithms.IntegrityIcvLength(alg), icv.Length);
        Assert.True(Integrity.Verify(alg, k, Spec(data), icv));
        icv[^1] ^= 1;
        Assert.False(Integrity.Verify(alg, k, Spec(data), icv));
    }

    [Fact]
    public void Sizes_match_RFC4868()
    {
        Assert.Equal(32, Prf.Create(PrfAlgorithm.HmacSha2_256).OutputLength);
        Assert.Equal(48, Prf.Create(PrfAlgorithm.HmacSha2_384).OutputLength);
        Assert.Equal(64, Prf.Create(PrfAlgorithm.HmacSha2_512).OutputLength);
        Assert.Equal((32, 16), (Algorithms.IntegrityKeyLength(IntegAlgorithm.HmacSha2_256_128), Algorithms.IntegrityIcvLength(IntegAlgorithm.HmacSha2_256_128)));
        Assert.Equal((48, 24), (Algorithms.IntegrityKeyLength(IntegAlgorithm.HmacSha2_384_192), Algorithms.IntegrityIcvLength(IntegAlgorithm.HmacSha2_384_192)));
        Assert.Equal((64, 32), (Algorithms.IntegrityKeyLength(IntegAlgorithm.HmacSha2_512_256), Algorithms.IntegrityIcvLength(IntegAlgorithm.HmacSha2_512_256)));
        Assert.Throws<NotSupportedException>(() => Prf.Create(PrfAlgorithm.AesXcbc));
    }

    [Fact]
    public void Encryption_keymat_lengths_include_salt()
    {
        Assert.Equal(20, Algorithms.EncryptionKeyMaterialLength(EncrAlgorithm.AesGcm16, 128)); // RFC 4106 §8.1
        Assert.Equal(28, Algorithms.EncryptionKeyMaterialLength(EncrAlgorithm.AesGcm16, 192));
        Assert.Equal(36, Algorithms.EncryptionKeyMaterialLength(EncrAlgorithm.AesGcm16, 256));
        Assert.Equal(36, Algorithms.EncryptionKeyMaterialLength(EncrAlgorithm.ChaCha20Poly1305, 0)); // RFC 7634 §2
        Assert.Equal(36, Algorithms.EncryptionKeyMaterialLength(EncrAlgorithm.ChaCha20Poly1305, 256));
        Assert.Equal(16, Algorithms.EncryptionKeyMaterialLength(EncrAlgorithm.AesCbc, 128));
        Assert.Equal(32, Algorithms.EncryptionKeyMaterialLength(EncrAlgorithm.AesCbc, 256));
        Assert.Throws<ArgumentOutOfRangeException>(() => Algorithms.EncryptionKeyMaterialLength(EncrAlgorithm.AesCbc, 100));
        Assert.True(Algorithms.IsAead(EncrAlgorithm.AesGcm16));
        Assert.False(Algorithms.IsAead(EncrAlgorithm.AesCbc));
    }
}
