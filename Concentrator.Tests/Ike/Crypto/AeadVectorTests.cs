using System.Security.Cryptography;
using Concentrator.Ike.Crypto;
using Concentrator.Ipsec;
using static Concentrator.Tests.Ike.Crypto.Hex;

namespace Concentrator.Tests.Ike.Crypto;

/// <summary>
/// AEAD vectors run through <see cref="AeadCipher"/>, the composition the protector uses: keying material
/// = key | salt, nonce = salt | explicit IV. A 96-bit vector IV is therefore split as salt (first 4) | IV (last 8).
/// </summary>
public class AeadVectorTests
{
    private const string GcmP64 =
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
    private const string GcmP60 =
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
    private const string GcmA = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
    private const string K128 = "feffe9928665731c6d6a8f9467308308";
    private const string K256 = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
    private const string Iv = "cafebabefacedbaddecaf888";

    /// <summary>McGrew &amp; Viega, "The Galois/Counter Mode of Operation (GCM)", Appendix B, test cases 2-4 and 14-16.</summary>
    public static TheoryData<string, string, string, string, string, string, string> Gcm => new()
    {
        { "TC2", "00000000000000000000000000000000", "000000000000000000000000", "00000000000000000000000000000000", "",
          "0388dace60b6a392f328c2b971b2fe78", "ab6e47d42cec13bdf53a67b21257bddf" },
        { "TC3", K128, Iv, GcmP64, "",
          "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
          "4d5c2af327cd64a62cf35abd2ba6fab4" },
        { "TC4", K128, Iv, GcmP60, GcmA,
          "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
          "5bc94fbc3221a5db94fae95ae7121a47" },
        { "TC14", "0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000", "00000000000000000000000000000000", "",
          "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919" },
        { "TC15", K256, Iv, GcmP64, "",
          "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
          "b094dac5d93471bdec1a502270e3cc6c" },
        { "TC16", K256, Iv, GcmP60, GcmA,
          "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
          "76fc6ece0f4e1768cddf8853bb2d551b" },
    };

    [Theory]
    [MemberData(nameof(Gcm))]
    public void AesGcm16_matches_GCM_spec(string name, string key, string iv96, string plain, string aad, string cipher, string tag)
    {
        _ = name;
        var ivBytes = B(iv96);
        using var aead = new AeadCipher(EncrAlgorithm.AesGcm16, [.. B(key), .. ivBytes[..4]]);
        RoundTrip(aead, ivBytes[4..], B(plain), B(aad), B(cipher), B(tag));
    }

    /// <summary>RFC 8439 (formerly RFC 7539) §2.8.2: nonce 07000000 4041424344454647 = salt | IV (RFC 7634 §2).</summary>
    [Fact]
    public void ChaCha20Poly1305_matches_RFC8439_2_8_2()
    {
        var key = B("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
        var salt = B("07000000");
        var iv = B("4041424344454647");
        var aad = B("50515253c0c1c2c3c4c5c6c7");
        var plain = Ascii("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.");
        var cipher = B(
            "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b" +
            "1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc" +
            "3ff4def08e4b7a9de576d26586cec64b6116");
        var tag = B("1ae10b594f09e26a7e902ecbd0600691");
        using var aead = new AeadCipher(EncrAlgorithm.ChaCha20Poly1305, [.. key, .. salt]);
        RoundTrip(aead, iv, plain, aad, cipher, tag);
    }

    private static void RoundTrip(AeadCipher aead, byte[] iv, byte[] plain, byte[] aad, byte[] expectedCipher, byte[] expectedTag)
    {
        var c = new byte[plain.Length];
        var t = new byte[16];
        aead.Encrypt(iv, plain, c, t, aad);
        Assert.Equal(expectedCipher, c);
        Assert.Equal(expectedTag, t);

        var p = new byte[c.Length];
        Assert.True(aead.TryDecrypt(iv, c, t, p, aad));
        Assert.Equal(plain, p);

        t[0] ^= 1;
        Assert.False(aead.TryDecrypt(iv, c, t, p, aad));
        Assert.All(p, b => Assert.Equal(0, b));
    }

    [Fact]
    public void AesCbc_without_padding_round_trips()
    {
        // The CBC path is .NET's Aes.EncryptCbc with PaddingMode.None; NIST SP 800-38A F.2.1 block 1 pins it.
        using var aes = Aes.Create();
        aes.Key = B("2b7e151628aed2a6abf7158809cf4f3c");
        var c = aes.EncryptCbc(B("6bc1bee22e409f96e93d7e117393172a"), B("000102030405060708090a0b0c0d0e0f"), PaddingMode.None);
        Assert.Equal(B("7649abac8119b246cee98e9b12e9197d"), c);
    }
}
