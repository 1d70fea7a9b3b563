using System.Security.Cryptography;
using Concentrator.Ike.Crypto;
using Concentrator.Ipsec;
using static Concentrator.Tests.Ike.Crypto.Hex;

namespace Concentrator.Tests.Ike.Crypto;

/// <summary>
/// The weak algorithms a connection can enable with weak_algorithms, against published vectors:
/// PRF-HMAC-SHA1 on RFC 2202 §3 test cases 1-7, HMAC-SHA1-96 (RFC 2404 §3: the leftmost 96 bits, RFC 2202 test
/// case 5 gives the truncated value), 3DES-CBC on NIST CAVP TDES MMT (TCBCMMT3) encrypt counts 0 and 1.
/// </summary>
public class WeakAlgorithmVectorTests
{
    public static TheoryData<int, string> Rfc2202Sha1 => new()
    {
        { 1, "b617318655057264e28bc0b6fb378c8ef146be00" },
        { 2, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79" },
        { 3, "125d7342b9ac11cd91a39af48aa17b4f63f175d3" },
        { 4, "4c9007f4026250c6bc8414f9bf50c86c2d7235da" },
        { 5, "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04" },
        { 6, "aa4ae5e15272d00e95705637ce8a3b55ed402112" },
        { 7, "e8e99d0f45237d786d6bbaa7965c7808bbff1a91" },
    };

    private static (byte[] Key, byte[] Data) Rfc2202Input(int tc) => tc switch
    {
        1 => (Repeat(0x0b, 20), Ascii("Hi There")),
        2 => (Ascii("Jefe"), Ascii("what do ya want for nothing?")),
        3 => (Repeat(0xaa, 20), Repeat(0xdd, 50)),
        4 => (B("0102030405060708090a0b0c0d0e0f10111213141516171819"), Repeat(0xcd, 50)),
        5 => (Repeat(0x0c, 20), Ascii("Test With Truncation")),
        6 => (Repeat(0xaa, 80), Ascii("Test Using Larger Than Block-Size Key - Hash Key First")),
        7 => (Repeat(0xaa, 80), Ascii("Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data")),
        _ => throw new ArgumentOutOfRangeException(nameof(tc)),
    };

    [Theory]
    [MemberData(nameof(Rfc2202Sha1))]
    public void PrfHmacSha1_matches_RFC2202(int testCase, string digest)
    {
        var (key, data) = Rfc2202Input(testCase);
        var prf = Prf.Create(PrfAlgorithm.HmacSha1);
        Assert.Equal(20, prf.OutputLength);
        Assert.Equal(B(digest), prf.Compute(key, data));
    }

    [Theory]
    [MemberData(nameof(Rfc2202Sha1))]
    public void HmacSha1_96_is_the_leftmost_96_bits(int testCase, string digest)
    {
        var (key, data) = Rfc2202Input(testCase);
        Assert.Equal(12, Algorithms.IntegrityIcvLength(IntegAlgorithm.HmacSha1_96));
        Assert.Equal(20, Algorithms.IntegrityKeyLength(IntegAlgorithm.HmacSha1_96));
        var icv = Integrity.Compute(IntegAlgorithm.HmacSha1_96, key, data);
        Assert.Equal(B(digest)[..12], icv);
        Assert.True(Integrity.Verify(IntegAlgorithm.HmacSha1_96, key, data, icv));
        icv[11] ^= 1;
        Assert.False(Integrity.Verify(IntegAlgorithm.HmacSha1_96, key, data, icv));
        Assert.False(Integrity.Verify(IntegAlgorithm.HmacSha1_96, key, data, B(digest))); // the untruncated HMAC is not an ICV
    }

    [Fact]
    public void HmacSha1_96_matches_RFC2202_test_case_5_digest_96()
    {
        var (key, data) = Rfc2202Input(5);
        Assert.Equal(B("4c1a03424b55e07fe7f27be1"), Integrity.Compute(IntegAlgorithm.HmacSha1_96, key, data));
    }

    /// <summary>NIST CAVP TCBCMMT3.rsp, [ENCRYPT] COUNT 0 and 1 (three independent keys).</summary>
    public static TheoryData<string, string, string, string> TdesCbcMmt3 => new()
    {
        { "627f460e08104a1043cd265d5840eaf1313edf97df2a8a8c", "8e29f75ea77e5475", "326a494cd33fe756", "b22b8d66de970692" },
        { "37ae5ebf46dff2dc0754b94f31cbb3855e7fd36dc870bfae", "3d1de3cc132e3b65",
          "84401f78fe6c10876d8ea23094ea5309", "7b1f7c7e3b1c948ebd04a75ffba7d2f5" },
    };

    [Theory]
    [MemberData(nameof(TdesCbcMmt3))]
    public void TripleDesCbc_matches_NIST_MMT(string key, string iv, string plain, string cipher)
    {
        Assert.Equal(24, Algorithms.EncryptionKeyMaterialLength(EncrAlgorithm.TripleDes, 192));
        Assert.Equal(8, Algorithms.CbcBlockLength(EncrAlgorithm.TripleDes));
        Assert.True(Algorithms.IsSupportedForIke(EncrAlgorithm.TripleDes, 192));
        using var tdes = TripleDES.Create();
        tdes.Key = B(key);
        Assert.Equal(B(cipher), tdes.EncryptCbc(B(plain), B(iv), PaddingMode.None));
        Assert.Equal(B(plain), tdes.DecryptCbc(B(cipher), B(iv), PaddingMode.None));
    }

    [Fact]
    public void Broken_algorithms_stay_unimplemented()
    {
        Assert.False(Algorithms.IsSupportedForIke(EncrAlgorithm.Des, 64));
        Assert.False(Algorithms.IsSupported(IntegAlgorithm.HmacMd5_96));
        Assert.False(Algorithms.IsSupported(PrfAlgorithm.HmacMd5));
        Assert.False(KeyExchangeFactory.IsSupported(DhGroup.Modp768));
    }
}
