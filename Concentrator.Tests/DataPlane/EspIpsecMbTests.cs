using System.Buffers.Binary;
using Concentrator.DataPlane.Esp;
using Concentrator.Ipsec;
using Xunit.Abstractions;
using static Concentrator.Tests.DataPlane.EspTestSupport;

namespace Concentrator.Tests.DataPlane;

/// <summary>
/// The intel-ipsec-mb AES-GCM transform (libipsec-mb1, installed by scripts/install-deps.sh and the image; its
/// absence fails these tests): selected for AES-GCM-128/256, the published vectors the OpenSSL transform is held to,
/// differential round trips against OpenSSL both ways, forgeries refused without exceptions, no allocation.
/// </summary>
public class EspIpsecMbTests(ITestOutputHelper output)
{
    private static readonly EspSuite[] GcmSuites = [Gcm128, Gcm256];

    private static EspCipher Create(EspSuite suite, byte[] enc, EspCryptoLibrary library)
    {
        EspCipher cipher = EspCipher.Create(suite, enc, [], library);
        // A silent fallback would make every comparison below test one library against itself.
        Assert.Equal(library == EspCryptoLibrary.IpsecMb ? nameof(IpsecMbAeadEspCipher) : nameof(EvpAeadEspCipher), cipher.GetType().Name);
        return cipher;
    }

    [Fact]
    public void IpsecMb_IsSelectedForAesGcm128And256Only()
    {
        output.WriteLine($"ESP crypto: {EspCrypto.Description}");
        Assert.NotNull(EspCrypto.IpsecMbIfUsable);
        Assert.Matches(@"AES-GCM-128/256: intel-ipsec-mb 1\.[345]\.0 \w+ \(", EspCrypto.Description);
        foreach (EspSuite suite in AllSuites)
        {
            EspCryptoLibrary expected = suite.Encryption == EncrAlgorithm.AesGcm16 && suite.KeyBits is 128 or 256
                ? EspCryptoLibrary.IpsecMb
                : EspCryptoLibrary.OpenSslEvp;
            Assert.Equal(expected, EspCrypto.For(suite.Encryption, suite.KeyBits));
            using EspCipher cipher = EspCipher.Create(suite, Key(EncryptionKeyLength(suite), 1), Key(IntegrityKeyLength(suite), 2));
            Assert.Equal(expected == EspCryptoLibrary.IpsecMb, cipher is IpsecMbAeadEspCipher);
        }
    }

    /// <summary>sizeof(struct gcm_key_data) per header (tags v1.3, v1.4, v1.5); any other version is refused.</summary>
    [Theory]
    [InlineData(0x10300u, 1008)]
    [InlineData(0x10400u, 1264)]
    [InlineData(0x10500u, 1264)]
    [InlineData(0x10200u, null)]
    [InlineData(0x20000u, null)]
    public void KeyDataLength_KnownOnlyForVersionsWhoseLayoutWasRead(uint version, int? expected) =>
        Assert.Equal(expected, Concentrator.DataPlane.Native.LibIpsecMb.KeyDataLengthOf(version));

    [Fact]
    public void Selection_CannotBeTurnedOffOnceMade()
    {
        _ = EspCrypto.Description; // completes the selection
        EspCrypto.ConfigureIpsecMb(true); // the same answer again is harmless
        Assert.Throws<InvalidOperationException>(() => EspCrypto.ConfigureIpsecMb(false));
    }

    /// <summary>McGrew &amp; Viega, GCM spec Appendix B, test cases 2-4 and 14-16, on the AEAD core; flipped tag and AAD refused.</summary>
    [Theory]
    [MemberData(nameof(Ike.Crypto.AeadVectorTests.Gcm), MemberType = typeof(Ike.Crypto.AeadVectorTests))]
    public void AesGcm_SpecVectors_OnIpsecMbCore(string name, string key, string iv96, string plain, string aad, string cipherHex, string tagHex)
    {
        byte[] k = Hex(key);
        var suite = new EspSuite(EncrAlgorithm.AesGcm16, k.Length * 8, IntegAlgorithm.None, DhGroup.None, false);
        using var aead = (AeadEspCipher)Create(suite, [.. k, 0, 0, 0, 0], EspCryptoLibrary.IpsecMb);
        EspOpenSslTests.CoreVector(aead, Hex(iv96), Hex(plain), Hex(aad), Hex(cipherHex), Hex(tagHex), name);
    }

    /// <summary>RFC 4106 ESP packets (draft-mcgrew-gcm-test-01) with 128- and 256-bit keys, sealed and opened exactly.</summary>
    [Fact]
    public void AesGcm_Rfc4106Packets()
    {
        int covered = 0;
        foreach (object[] row in EspVectorTests.McGrewGcm)
        {
            string testCase = (string)row[0];
            byte[] keyBytes = Hex((string)row[1]), nonce = Hex((string)row[4]), plaintext = Hex((string)row[5]), expected = Hex((string)row[6]);
            if (keyBytes.Length == 24)
                continue; // AES-GCM-192 stays on OpenSSL
            string seqHex = (string)row[3];
            uint spi = BinaryPrimitives.ReadUInt32BigEndian(Hex((string)row[2]));
            bool esn = seqHex.Length == 16;
            ulong seq = esn ? BinaryPrimitives.ReadUInt64BigEndian(Hex(seqHex)) : BinaryPrimitives.ReadUInt32BigEndian(Hex(seqHex));
            int padLength = plaintext[^2];
            var suite = new EspSuite(EncrAlgorithm.AesGcm16, keyBytes.Length * 8, IntegAlgorithm.None, DhGroup.None, esn);
            using EspCipher cipher = Create(suite, [.. keyBytes, .. nonce[..4]], EspCryptoLibrary.IpsecMb);
            byte[] payload = plaintext[..^(padLength + 2)];
            var buffer = new byte[expected.Length + 64];
            payload.CopyTo(buffer, cipher.HeaderLength);
            int written = EspPacket.Seal(cipher, spi, seq, esn, nonce[4..], plaintext[^1], buffer, payload.Length);
            Assert.Equal(ToHex(expected), ToHex(buffer.AsSpan(0, written)));

            byte[] received = (byte[])expected.Clone();
            Assert.True(cipher.Open(received, (uint)(seq >> 32), esn), $"case {testCase}");
            Assert.Equal(ToHex(plaintext), ToHex(received.AsSpan(cipher.HeaderLength, plaintext.Length)));
            received = (byte[])expected.Clone();
            received[^1] ^= 1;
            Assert.False(cipher.Open(received, (uint)(seq >> 32), esn), $"case {testCase}: forged ICV accepted");
            covered++;
        }
        Assert.True(covered >= 5, $"only {covered} RFC 4106 packets with 128/256-bit keys");
    }

    /// <summary>
    /// The AEAD core against OpenSSL's: random keys, salts, IVs, AAD of 8 bytes (SPI | seq) and 12 (with ESN), every body
    /// length 0..64 and random ones up to 9000, both directions; the same bytes and tag, each opens the other's output,
    /// and a flipped tag bit is refused by both.
    /// </summary>
    [Theory]
    [InlineData(128)]
    [InlineData(256)]
    public void Differential_CoreAgainstOpenSsl(int keyBits)
    {
        var random = new Random(17 * keyBits);
        var suite = new EspSuite(EncrAlgorithm.AesGcm16, keyBits, IntegAlgorithm.None, DhGroup.None, false);
        for (int round = 0; round < 400; round++)
        {
            byte[] keyMaterial = new byte[keyBits / 8 + 4];
            random.NextBytes(keyMaterial);
            using var imb = (AeadEspCipher)Create(suite, keyMaterial, EspCryptoLibrary.IpsecMb);
            using var evp = (AeadEspCipher)Create(suite, keyMaterial, EspCryptoLibrary.OpenSslEvp);
            int length = round <= 64 ? round : round % 7 == 0 ? 9000 - random.Next(16) : random.Next(65, 9001);
            byte[] nonce = new byte[12], aad = new byte[round % 2 == 0 ? 8 : 12], plain = new byte[length];
            random.NextBytes(nonce);
            random.NextBytes(aad);
            random.NextBytes(plain);

            (AeadEspCipher Seal, AeadEspCipher Open, string Way)[] ways = [(imb, evp, "ipsec-mb -> OpenSSL"), (evp, imb, "OpenSSL -> ipsec-mb")];
            byte[] a = (byte[])plain.Clone(), b = (byte[])plain.Clone(), tagA = new byte[16], tagB = new byte[16];
            imb.SealCore(nonce, aad, a, tagA);
            evp.SealCore(nonce, aad, b, tagB);
            Assert.True(a.AsSpan().SequenceEqual(b) && tagA.AsSpan().SequenceEqual(tagB), $"length {length}, AAD {aad.Length}: sealed bytes differ");
            Assert.True(length == 0 || !a.AsSpan().SequenceEqual(plain), $"length {length}: nothing was encrypted");
            foreach (var (seal, open, way) in ways)
            {
                byte[] body = (byte[])plain.Clone(), tag = new byte[16];
                seal.SealCore(nonce, aad, body, tag);
                byte[] sealedBody = (byte[])body.Clone();
                Assert.True(open.OpenCore(nonce, aad, body, tag), $"{way} length {length}, AAD {aad.Length}: refused");
                Assert.True(body.AsSpan().SequenceEqual(plain), $"{way} length {length}: wrong plaintext");
                tag[random.Next(16)] ^= (byte)(1 << random.Next(8));
                Assert.False(open.OpenCore(nonce, aad, sealedBody, tag), $"{way} length {length}: forged tag accepted");
            }
        }
    }

    /// <summary>
    /// Whole ESP packets against OpenSSL, ESN off and on: random payloads up to 1500 bytes and sequence numbers; each
    /// library opens the other's packet, and both seal the same bytes for the same IV.
    /// </summary>
    [Theory]
    [InlineData(0, false)]
    [InlineData(0, true)]
    [InlineData(1, false)]
    [InlineData(1, true)]
    public void Differential_PacketsAgainstOpenSsl(int suiteIndex, bool esn)
    {
        EspSuite suite = GcmSuites[suiteIndex] with { Esn = esn };
        byte[] enc = Key(EncryptionKeyLength(suite), 0x29);
        using EspCipher imb = Create(suite, enc, EspCryptoLibrary.IpsecMb);
        using EspCipher evp = Create(suite, enc, EspCryptoLibrary.OpenSslEvp);
        EspOpenSslTests.PacketsAgreeBothWays(imb, "ipsec-mb", evp, "OpenSSL", suite, new Random(4303 + suiteIndex * 2 + (esn ? 1 : 0)), 100);
    }

    /// <summary>One flipped bit anywhere, or the ESN high half that never travels: refused without an exception.</summary>
    [Theory]
    [InlineData(0, false)]
    [InlineData(0, true)]
    [InlineData(1, false)]
    [InlineData(1, true)]
    public void Forgery_IsRefusedWithoutException(int suiteIndex, bool esn)
    {
        EspSuite suite = GcmSuites[suiteIndex] with { Esn = esn };
        using EspCipher cipher = Create(suite, Key(EncryptionKeyLength(suite), 0x61), EspCryptoLibrary.IpsecMb);
        const uint seqHigh = 7;
        ulong seq = esn ? ((ulong)seqHigh << 32) | 99 : 99;
        var genuine = new byte[512];
        Ipv4(200).CopyTo(genuine, cipher.HeaderLength);
        int length = EspPacket.Seal(cipher, 0x51, seq, esn, Key(cipher.IvLength, 0x70), 4, genuine, 200);

        int refused = 0;
        for (int index = 0; index < length; index++)
        {
            byte[] forged = genuine.AsSpan(0, length).ToArray();
            forged[index] ^= (byte)(1 << (index % 8));
            Assert.False(cipher.Open(forged, seqHigh, esn), $"{suite}: flip at {index} accepted");
            refused++;
        }
        if (esn)
            Assert.False(cipher.Open(genuine.AsSpan(0, length).ToArray(), seqHigh + 1, esn), "ESN high half not authenticated");
        Assert.Equal(length, refused);
        Assert.True(cipher.Open(genuine.AsSpan(0, length), seqHigh, esn), "genuine packet refused after forgeries");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void SealAndOpen_AllocateNothing(int suiteIndex)
    {
        EspSuite suite = GcmSuites[suiteIndex] with { Esn = true };
        using EspCipher cipher = Create(suite, Key(EncryptionKeyLength(suite), 0x11), EspCryptoLibrary.IpsecMb);
        EspOpenSslTests.AssertSealOpenAllocateNothing(cipher, esn: true);
    }
}
