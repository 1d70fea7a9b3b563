using System.Security.Cryptography;
using Concentrator.Ike.Crypto.V1;
using Concentrator.Ike.Wire.V1;
using static Concentrator.Tests.Ike.Crypto.Hex;

namespace Concentrator.Tests.Ike.Crypto.V1;

/// <summary>
/// The IKEv1 KDF (RFC 2409 §5, Appendix B) against published known answers, and its expansions against HMAC computed
/// step by step here.
/// </summary>
public class V1KeyDerivationTests
{
    private static byte[] H1(byte[] key, byte[] data) => HMACSHA1.HashData(key, data);
    private static byte[] H256(byte[] key, byte[] data) => HMACSHA256.HashData(key, data);
    private static byte[] S1(byte[] data) => SHA1.HashData(data);
    private static byte[] S256(byte[] data) => SHA256.HashData(data);

    // A signature-authentication SHA-1 vector in the layout of NIST CAVP's SP 800-135 IKEv1 KDF component tests
    // (ikev1.zip, https://csrc.nist.gov/projects/cryptographic-algorithm-validation-program/component-testing:
    // CKY_I, CKY_R, Ni, Nr, g^xy -> SKEYID = prf(Ni_b | Nr_b, g^xy), SKEYID_d, SKEYID_a, SKEYID_e). Taken from the
    // public copy in the test suite of the Rust `kdfs` crate (test_tpm_ike1, beside its other NIST SP 800-135
    // vectors, with the CAVP file's intermediate inputs); that copy does not name the CAVP file or COUNT.
    private static readonly byte[] CkyI = B("382e5c8b0a3fa307");
    private static readonly byte[] CkyR = B("ba4b7616700a2413");
    private static readonly byte[] Ni = B("ced5635da6796075");
    private static readonly byte[] Nr = B("6244b427712fb776");
    private static readonly byte[] Gxy = B(
        "2a2e0bbe8da3657a83f3d35826e49e2d38e557e912a1b9e6c30c63577b3eab715466202862027f2c26f3090743555579611771db0b92bef9" +
        "3834432a3a7762fc8a0f4889fd281d6082770d10a40d7bad61e832f041e620d6787e7f62ab2861ddfbe272e0d9d3cdec5f1bbf750e24b8b3" +
        "2d6d714968ad69ce5086c32ad2742ebc");

    [Fact]
    public void Cavp_signature_vector_gives_skeyid_and_its_three_children()
    {
        var prf = V1KeyDerivation.PrfOf(Phase1Hash.Sha1);
        var skeyid = V1KeyDerivation.SkeyidSignature(prf, Ni, Nr, Gxy);
        Assert.Equal(B("dc37ac99de6dcfbd1ee74af7fb36f9b4b0a7829d"), skeyid);

        var (d, a, e) = V1KeyDerivation.DeriveSkeyids(prf, skeyid, Gxy, CkyI, CkyR);
        Assert.Equal(B("486293ed547adb562cefdaf43d3d8457b196f2b6"), d);
        Assert.Equal(B("f4053b5ca07e59bb41b8f401037ca90b72b3917e"), a);
        Assert.Equal(B("49a1d53a80fb77e663552964fbbcb45092021473"), e);
    }

    [Fact]
    public void Cookies_in_the_wrong_order_give_other_keys()
    {
        var prf = V1KeyDerivation.PrfOf(Phase1Hash.Sha1);
        var skeyid = V1KeyDerivation.SkeyidSignature(prf, Ni, Nr, Gxy);
        var (d, _, _) = V1KeyDerivation.DeriveSkeyids(prf, skeyid, Gxy, CkyR, CkyI);
        Assert.NotEqual(B("486293ed547adb562cefdaf43d3d8457b196f2b6"), d);
    }

    [Fact]
    public void Psk_skeyid_is_the_prf_keyed_with_the_secret_over_both_nonces()
    {
        var prf = V1KeyDerivation.PrfOf(Phase1Hash.Sha2_256);
        var psk = Ascii("test-shared-key");
        Assert.Equal(H256(psk, [.. Ni, .. Nr]), V1KeyDerivation.SkeyidPsk(prf, psk, Ni, Nr));
        Assert.NotEqual(V1KeyDerivation.SkeyidPsk(prf, psk, Ni, Nr), V1KeyDerivation.SkeyidPsk(prf, psk, Nr, Ni));
    }

    [Fact]
    public void Appendix_b_expands_a_short_skeyid_e_and_cuts_a_long_one()
    {
        var prf = V1KeyDerivation.PrfOf(Phase1Hash.Sha1);
        var skeyidE = B("49a1d53a80fb77e663552964fbbcb45092021473");
        var k1 = H1(skeyidE, [0]);
        var k2 = H1(skeyidE, k1);
        Assert.Equal([.. k1, .. k2[..12]], V1KeyDerivation.EncryptionKey(prf, skeyidE, 32));
        Assert.Equal(skeyidE[..16], V1KeyDerivation.EncryptionKey(prf, skeyidE, 16));
        var k3 = H1(skeyidE, k2);
        Assert.Equal([.. k1, .. k2, .. k3[..8]], V1KeyDerivation.EncryptionKey(prf, skeyidE, 48));
    }

    [Fact]
    public void Keymat_expands_with_and_without_pfs()
    {
        var prf = V1KeyDerivation.PrfOf(Phase1Hash.Sha2_256);
        var skeyidD = B("486293ed547adb562cefdaf43d3d8457b196f2b6");
        byte[] spi = [0xc0, 1, 2, 3];
        byte[] seed = [(byte)V1ProtocolId.Esp, .. spi, .. Ni, .. Nr];
        var k1 = H256(skeyidD, seed);
        var k2 = H256(skeyidD, [.. k1, .. seed]);
        var k3 = H256(skeyidD, [.. k2, .. seed]);
        Assert.Equal([.. k1, .. k2, .. k3[..16]], V1KeyDerivation.Keymat(prf, skeyidD, [], V1ProtocolId.Esp, spi, Ni, Nr, 80));

        var gqm = Repeat(0x5a, 256);
        var p1 = H256(skeyidD, [.. gqm, .. seed]);
        var p2 = H256(skeyidD, [.. p1, .. gqm, .. seed]);
        Assert.Equal([.. p1, .. p2[..8]], V1KeyDerivation.Keymat(prf, skeyidD, gqm, V1ProtocolId.Esp, spi, Ni, Nr, 40));
    }

    [Fact]
    public void Phase_one_hashes_and_ivs_follow_rfc_2409()
    {
        var prf = V1KeyDerivation.PrfOf(Phase1Hash.Sha1);
        var skeyid = B("dc37ac99de6dcfbd1ee74af7fb36f9b4b0a7829d");
        byte[] gxi = Repeat(1, 128), gxr = Repeat(2, 128), sa = Repeat(3, 40), idii = Repeat(4, 8), idir = Repeat(5, 8);
        Assert.Equal(H1(skeyid, [.. gxi, .. gxr, .. CkyI, .. CkyR, .. sa, .. idii]),
            V1KeyDerivation.HashI(prf, skeyid, gxi, gxr, CkyI, CkyR, sa, idii));
        Assert.Equal(H1(skeyid, [.. gxr, .. gxi, .. CkyR, .. CkyI, .. sa, .. idir]),
            V1KeyDerivation.HashR(prf, skeyid, gxi, gxr, CkyI, CkyR, sa, idir));
        Assert.Equal(S1([.. gxi, .. gxr])[..16], V1KeyDerivation.Phase1Iv(prf, gxi, gxr, 16));
        Assert.Equal(S1([.. Repeat(9, 16), 0x12, 0x34, 0x56, 0x78])[..16], V1KeyDerivation.Phase2Iv(prf, Repeat(9, 16), 0x12345678));
    }

    [Fact]
    public void Quick_mode_hashes_cover_the_message_id_and_nonces()
    {
        var prf = V1KeyDerivation.PrfOf(Phase1Hash.Sha1);
        var a = B("f4053b5ca07e59bb41b8f401037ca90b72b3917e");
        byte[] rest = Repeat(7, 60);
        byte[] mid = [0xde, 0xad, 0xbe, 0xef];
        Assert.Equal(H1(a, [.. mid, .. rest]), V1KeyDerivation.QuickHash1(prf, a, 0xdeadbeef, rest));
        Assert.Equal(H1(a, [.. mid, .. Ni, .. rest]), V1KeyDerivation.QuickHash2(prf, a, 0xdeadbeef, Ni, rest));
        Assert.Equal(H1(a, [0, .. mid, .. Ni, .. Nr]), V1KeyDerivation.QuickHash3(prf, a, 0xdeadbeef, Ni, Nr));
    }

    [Fact]
    public void Md5_and_tiger_are_refused()
    {
        Assert.Throws<NotSupportedException>(() => V1KeyDerivation.PrfOf(Phase1Hash.Md5));
        Assert.Throws<NotSupportedException>(() => V1KeyDerivation.PrfOf(Phase1Hash.Tiger));
    }
}
