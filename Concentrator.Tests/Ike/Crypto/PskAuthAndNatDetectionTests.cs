using System.Net;
using System.Security.Cryptography;
using Concentrator.Ike.Crypto;
using Concentrator.Ipsec;
using static Concentrator.Tests.Ike.Crypto.Hex;

namespace Concentrator.Tests.Ike.Crypto;

public class PskAuthAndNatDetectionTests
{
    private static readonly byte[] Psk = Ascii("correct horse battery staple");
    private static readonly byte[] Message1 = B("1122334455667788 0000000000000000 21202208 00000000 00000030") .Concat(Repeat(0xab, 20)).ToArray();
    private static readonly byte[] NonceR = Repeat(0x5c, 32);
    private static readonly byte[] SkPi = Repeat(0x3e, 32);
    private static readonly byte[] IdBody = B("02000000").Concat(Ascii("vpn.example.org")).ToArray(); // ID_FQDN | RESERVED | data

    /// <summary>RFC 7296 §2.15, recomputed directly with HMACSHA256.</summary>
    [Fact]
    public void Psk_auth_matches_an_independent_HMACSHA256_computation()
    {
        var padKey = HMACSHA256.HashData(Psk, Ascii("Key Pad for IKEv2"));
        var macedId = HMACSHA256.HashData(SkPi, IdBody);
        var expected = HMACSHA256.HashData(padKey, (byte[])[.. Message1, .. NonceR, .. macedId]);

        var auth = PskAuth.Compute(PrfAlgorithm.HmacSha2_256, Psk, Message1, NonceR, SkPi, IdBody);
        Assert.Equal(expected, auth);
        Assert.True(PskAuth.Verify(PrfAlgorithm.HmacSha2_256, Psk, Message1, NonceR, SkPi, IdBody, expected));
    }

    [Fact]
    public void Psk_auth_verify_rejects_other_inputs()
    {
        var auth = PskAuth.Compute(PrfAlgorithm.HmacSha2_384, Psk, Message1, NonceR, SkPi, IdBody);
        Assert.Equal(48, auth.Length);
        Assert.False(PskAuth.Verify(PrfAlgorithm.HmacSha2_384, Ascii("wrong"), Message1, NonceR, SkPi, IdBody, auth));
        Assert.False(PskAuth.Verify(PrfAlgorithm.HmacSha2_384, Psk, Message1, Repeat(0x5d, 32), SkPi, IdBody, auth));
        Assert.False(PskAuth.Verify(PrfAlgorithm.HmacSha2_384, Psk, Message1, NonceR, SkPi, Ascii("other-id"), auth));
        Assert.False(PskAuth.Verify(PrfAlgorithm.HmacSha2_384, Psk, Message1, NonceR, SkPi, IdBody, auth[..^1]));
        Assert.False(PskAuth.Verify(PrfAlgorithm.HmacSha2_384, Psk, Message1, NonceR, SkPi, IdBody, []));
        Assert.True(PskAuth.Verify(PrfAlgorithm.HmacSha2_384, Psk, Message1, NonceR, SkPi, IdBody, auth));
    }

    /// <summary>RFC 7296 §2.23: SHA-1(SPIi | SPIr | IP | Port).</summary>
    [Fact]
    public void Nat_detection_hash_is_sha1_of_spis_address_and_port()
    {
        var v4 = NatDetection.Hash(0x0102030405060708, 0, new IPEndPoint(IPAddress.Parse("192.0.2.1"), 500));
        Assert.Equal(SHA1.HashData(B("0102030405060708 0000000000000000 c0000201 01f4")), v4);
        Assert.Equal(20, v4.Length);

        var v6 = NatDetection.Hash(1, 2, new IPEndPoint(IPAddress.Parse("2001:db8::1"), 4500));
        Assert.Equal(SHA1.HashData(B("0000000000000001 0000000000000002 20010db8000000000000000000000001 1194")), v6);

        var mapped = NatDetection.Hash(0x0102030405060708, 0, new IPEndPoint(IPAddress.Parse("::ffff:192.0.2.1"), 500));
        Assert.Equal(v4, mapped);
    }
}
