using System.Buffers.Binary;
using Concentrator.DataPlane.Esp;
using Concentrator.Ipsec;
using Xunit.Abstractions;
using static Concentrator.Tests.DataPlane.EspTestSupport;

namespace Concentrator.Tests.DataPlane;

/// <summary>
/// The OpenSSL EVP ESP transform: published vectors through both libraries, differential round trips
/// against the System.Security.Cryptography fallback, forgeries refused without exceptions, and no
/// allocation per packet.
/// </summary>
public class EspOpenSslTests(ITestOutputHelper output)
{
    private static readonly EspCryptoLibrary[] Libraries = [EspCryptoLibrary.OpenSslEvp, EspCryptoLibrary.DotNet];

    private static EspCipher Create(EspSuite suite, byte[] enc, byte[] integ, EspCryptoLibrary library)
    {
        EspCipher cipher = EspCipher.Create(suite, enc, integ, library);
        // A silent fallback would make every "OpenSSL" assertion below test .NET twice.
        string expected = library == EspCryptoLibrary.OpenSslEvp ? "Evp" : "";
        if (expected.Length > 0)
            Assert.StartsWith(expected, cipher.GetType().Name);
        else
            Assert.DoesNotContain("Evp", cipher.GetType().Name);
        return cipher;
    }

    [Fact]
    public void OpenSsl_IsSelectedForEverySuite()
    {
        output.WriteLine($"ESP crypto: {EspCrypto.Description}");
        Assert.StartsWith("OpenSSL 3", EspCrypto.Description);
        Assert.DoesNotContain("System.Security.Cryptography", EspCrypto.Description);
        // AES-GCM-128/256 go to intel-ipsec-mb (EspIpsecMbTests); everything else is OpenSSL's.
        foreach (EspSuite suite in AllSuites.Except([Gcm128, Gcm256]))
        {
            Assert.Equal(EspCryptoLibrary.OpenSslEvp, EspCrypto.For(suite.Encryption, suite.KeyBits));
            using EspCipher cipher = EspCipher.Create(suite, Key(EncryptionKeyLength(suite), 1), Key(IntegrityKeyLength(suite), 2));
            Assert.StartsWith("Evp", cipher.GetType().Name);
        }
    }

    /// <summary>
    /// McGrew &amp; Viega, GCM spec Appendix B, test cases 2-4 and 14-16 (the IKE AEAD tests' vectors) on the
    /// AEAD core with a whole 96-bit nonce and arbitrary AAD, then a flipped tag bit refused.
    /// </summary>
    [Theory]
    [MemberData(nameof(Ike.Crypto.AeadVectorTests.Gcm), MemberType = typeof(Ike.Crypto.AeadVectorTests))]
    public void AesGcm_SpecVectors_OnEvpCore(string name, string key, string iv96, string plain, string aad, string cipherHex, string tagHex)
    {
        byte[] k = Hex(key);
        var suite = new EspSuite(EncrAlgorithm.AesGcm16, k.Length * 8, IntegAlgorithm.None, DhGroup.None, false);
        using var aead = (AeadEspCipher)Create(suite, [.. k, 0, 0, 0, 0], [], EspCryptoLibrary.OpenSslEvp);
        CoreVector(aead, Hex(iv96), Hex(plain), Hex(aad), Hex(cipherHex), Hex(tagHex), name);
    }

    /// <summary>RFC 8439 §2.8.2 (AEAD_CHACHA20_POLY1305 example) on the AEAD core of both libraries.</summary>
    [Theory]
    [InlineData(EspCryptoLibrary.OpenSslEvp)]
    [InlineData(EspCryptoLibrary.DotNet)]
    public void ChaCha20Poly1305_Rfc8439_2_8_2(EspCryptoLibrary library)
    {
        byte[] key = Hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
        byte[] plain = System.Text.Encoding.ASCII.GetBytes(
            "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.");
        byte[] cipher = Hex(
            "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b" +
            "1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc" +
            "3ff4def08e4b7a9de576d26586cec64b6116");
        using var aead = (AeadEspCipher)Create(ChaCha, [.. key, 0, 0, 0, 0], [], library);
        CoreVector(aead, Hex("070000004041424344454647"), plain, Hex("50515253c0c1c2c3c4c5c6c7"), cipher,
            Hex("1ae10b594f09e26a7e902ecbd0600691"), library.ToString());
    }

    internal static void CoreVector(AeadEspCipher aead, byte[] nonce, byte[] plain, byte[] aad, byte[] expectedCipher, byte[] expectedTag, string name)
    {
        byte[] body = (byte[])plain.Clone();
        var tag = new byte[16];
        aead.SealCore(nonce, aad, body, tag);
        Assert.Equal(ToHex(expectedCipher), ToHex(body));
        Assert.Equal(ToHex(expectedTag), ToHex(tag));

        Assert.True(aead.OpenCore(nonce, aad, body, tag), name);
        Assert.Equal(ToHex(plain), ToHex(body));

        byte[] forged = (byte[])expectedCipher.Clone();
        byte[] badTag = (byte[])expectedTag.Clone();
        badTag[15] ^= 0x80;
        Assert.False(aead.OpenCore(nonce, aad, forged, badTag), $"{name}: forged tag accepted");
        if (aad.Length > 0)
        {
            byte[] badAad = (byte[])aad.Clone();
            badAad[0] ^= 1;
            forged = (byte[])expectedCipher.Clone();
            Assert.False(aead.OpenCore(nonce, badAad, forged, expectedTag), $"{name}: forged AAD accepted");
        }
        // The context is usable again right after a refusal.
        forged = (byte[])expectedCipher.Clone();
        Assert.True(aead.OpenCore(nonce, aad, forged, expectedTag));
        Assert.Equal(ToHex(plain), ToHex(forged));
    }

    /// <summary>
    /// RFC 4106 ESP packets (draft-mcgrew-gcm-test-01, the rows of <see cref="EspVectorTests.McGrewGcm"/>) sealed
    /// and opened by both libraries: nonce = salt | explicit IV, AAD = SPI | seq [| ESN] exactly as on the wire.
    /// </summary>
    [Theory]
    [MemberData(nameof(EspVectorTests.McGrewGcm), MemberType = typeof(EspVectorTests))]
    public void AesGcm_Rfc4106Packets_BothLibraries(string testCase, string key, string spiHex, string seqHex, string nonceHex, string plaintextHex, string packetHex)
    {
        byte[] keyBytes = Hex(key), nonce = Hex(nonceHex), plaintext = Hex(plaintextHex), expected = Hex(packetHex);
        uint spi = BinaryPrimitives.ReadUInt32BigEndian(Hex(spiHex));
        bool esn = seqHex.Length == 16;
        ulong seq = esn ? BinaryPrimitives.ReadUInt64BigEndian(Hex(seqHex)) : BinaryPrimitives.ReadUInt32BigEndian(Hex(seqHex));
        int padLength = plaintext[^2];
        var suite = new EspSuite(EncrAlgorithm.AesGcm16, keyBytes.Length * 8, IntegAlgorithm.None, DhGroup.None, esn);
        foreach (EspCryptoLibrary library in Libraries)
        {
            using EspCipher cipher = Create(suite, [.. keyBytes, .. nonce[..4]], [], library);
            byte[] payload = plaintext[..^(padLength + 2)];
            var buffer = new byte[expected.Length + 64];
            payload.CopyTo(buffer, cipher.HeaderLength);
            int written = EspPacket.Seal(cipher, spi, seq, esn, nonce[4..], plaintext[^1], buffer, payload.Length);
            Assert.Equal(ToHex(expected), ToHex(buffer.AsSpan(0, written)));

            byte[] received = (byte[])expected.Clone();
            Assert.True(cipher.Open(received, (uint)(seq >> 32), esn), $"case {testCase} {library}");
            Assert.Equal(ToHex(plaintext), ToHex(received.AsSpan(cipher.HeaderLength, plaintext.Length)));
        }
    }

    /// <summary>RFC 7634 Appendix A: salt a0a1a2a3 | IV 1011121314151617 as the nonce, SPI | seq as AAD, both libraries.</summary>
    [Theory]
    [InlineData(EspCryptoLibrary.OpenSslEvp)]
    [InlineData(EspCryptoLibrary.DotNet)]
    public void ChaCha20Poly1305_Rfc7634AppendixA(EspCryptoLibrary library)
    {
        byte[] inner = Hex(
            "45000054a6f200004001e778c6336405c000020508005b7a3a080000553bec10000736270809" +
            "0a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637");
        byte[] expected = Hex(
            "01020304 00000005 1011121314151617" +
            "24039428b97f417e3c13753a4f05087b67c352e6a7fab1b982d466ef407ae5c614ee8099d52844eb61aa95dfab4c02f7" +
            "2aa71e7c4c4f64c9befe2facc638e8f3cbec163fac469b502773f6fb94e664da9165b82829f641e0" +
            "76aaa8266b7fb0f7b11b369907e1ad43");
        using EspCipher cipher = Create(ChaCha, Hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f a0a1a2a3"), [], library);
        var buffer = new byte[256];
        inner.CopyTo(buffer, cipher.HeaderLength);
        int written = EspPacket.Seal(cipher, 0x01020304, 5, false, Hex("1011121314151617"), EspPacket.NextHeaderIpv4, buffer, inner.Length);
        Assert.Equal(ToHex(expected), ToHex(buffer.AsSpan(0, written)));
        Assert.True(cipher.Open(buffer.AsSpan(0, written), 0, false));
        Assert.Equal(ToHex(inner), ToHex(buffer.AsSpan(cipher.HeaderLength, inner.Length)));
    }

    /// <summary>
    /// 3DES-CBC with HMAC-SHA1-96 (RFC 2451, RFC 2404) in both libraries: the body is NIST CAVP TCBCMMT3 [ENCRYPT]
    /// COUNT 1 (two blocks, 8-octet IV) and the ICV is the leftmost 12 octets of HMAC-SHA1 over SPI | seq | IV |
    /// ciphertext (RFC 4303 §3.3.2.1), computed here independently.
    /// </summary>
    [Theory]
    [InlineData(EspCryptoLibrary.OpenSslEvp)]
    [InlineData(EspCryptoLibrary.DotNet)]
    public void TripleDesSha1_NistMmtBody_Rfc2404Icv(EspCryptoLibrary library)
    {
        byte[] integ = Key(20, 0x42);
        using EspCipher cipher = Create(TripleDesSha1, Hex("37ae5ebf46dff2dc0754b94f31cbb3855e7fd36dc870bfae"), integ, library);
        Assert.Equal(8, cipher.IvLength);
        Assert.Equal(8, cipher.Alignment);
        Assert.Equal(12, cipher.IcvLength);
        byte[] packet = [.. Hex("01020304 00000005 3d1de3cc132e3b65 84401f78fe6c10876d8ea23094ea5309"), .. new byte[12]];
        cipher.Seal(packet, 0, false);
        Assert.Equal("7b1f7c7e3b1c948ebd04a75ffba7d2f5", ToHex(packet.AsSpan(16, 16)));
        byte[] mac = System.Security.Cryptography.HMACSHA1.HashData(integ, packet.AsSpan(0, 32));
        Assert.Equal(ToHex(mac.AsSpan(0, 12)), ToHex(packet.AsSpan(32, 12)));
        Assert.True(cipher.Open(packet, 0, false));
        Assert.Equal("84401f78fe6c10876d8ea23094ea5309", ToHex(packet.AsSpan(16, 16)));
    }

    /// <summary>
    /// Random payload sizes and sequence numbers: OpenSSL seals what .NET opens and the reverse, and both
    /// produce the same bytes for the same IV (the transform is deterministic given key, IV and sequence).
    /// </summary>
    [Theory]
    [MemberData(nameof(SuitesAndEsn), MemberType = typeof(EspTestSupport))]
    public void Differential_OpenSslAndDotNet_AgreeBothWays(int suiteIndex, bool esn)
    {
        EspSuite suite = AllSuites[suiteIndex] with { Esn = esn };
        byte[] enc = Key(EncryptionKeyLength(suite), 0x21), integ = Key(IntegrityKeyLength(suite), 0x43);
        using EspCipher evp = Create(suite, enc, integ, EspCryptoLibrary.OpenSslEvp);
        using EspCipher net = Create(suite, enc, integ, EspCryptoLibrary.DotNet);
        PacketsAgreeBothWays(evp, "OpenSSL", net, ".NET", suite, new Random(4106 + suiteIndex * 2 + (esn ? 1 : 0)), 60);
    }

    /// <summary>
    /// Random payloads (0, 1, 2, then up to 1500 bytes) and sequence numbers: <paramref name="x"/> and <paramref name="y"/>
    /// seal the same bytes for the same IV, and each opens the other's packet back to the payload.
    /// </summary>
    internal static void PacketsAgreeBothWays(EspCipher x, string xName, EspCipher y, string yName, EspSuite suite, Random random, int rounds)
    {
        bool esn = suite.Esn;
        var iv = new byte[x.IvLength];
        var a = new byte[2048];
        var b = new byte[2048];
        for (int round = 0; round < rounds; round++)
        {
            int payload = round < 3 ? round : random.Next(1, 1500);
            ulong seq = esn ? (ulong)random.NextInt64(1, long.MaxValue) : (uint)random.Next(1, int.MaxValue);
            random.NextBytes(iv);
            random.NextBytes(a.AsSpan(x.HeaderLength, payload));
            a.AsSpan(x.HeaderLength, payload).CopyTo(b.AsSpan(y.HeaderLength));
            byte[] original = a.AsSpan(x.HeaderLength, payload).ToArray();

            int la = EspPacket.Seal(x, 0x0badf00d, seq, esn, iv, 4, a, payload);
            int lb = EspPacket.Seal(y, 0x0badf00d, seq, esn, iv, 4, b, payload);
            Assert.Equal(la, lb);
            Assert.True(a.AsSpan(0, la).SequenceEqual(b.AsSpan(0, lb)), $"{suite} payload {payload}: sealed packets differ");

            Assert.True(y.Open(a.AsSpan(0, la), (uint)(seq >> 32), esn), $"{suite} payload {payload}: {yName} refused {xName}'s packet");
            Assert.True(x.Open(b.AsSpan(0, lb), (uint)(seq >> 32), esn), $"{suite} payload {payload}: {xName} refused {yName}'s packet");
            Assert.Equal(ToHex(original), ToHex(a.AsSpan(x.HeaderLength, payload)));
            Assert.Equal(ToHex(original), ToHex(b.AsSpan(y.HeaderLength, payload)));
        }
    }

    /// <summary>
    /// One flipped bit anywhere (SPI, sequence, IV, ciphertext, padding, ICV) or in the ESN high half that never
    /// travels: Open returns false and throws nothing, and the next genuine packet still opens.
    /// </summary>
    [Theory]
    [MemberData(nameof(SuitesAndEsn), MemberType = typeof(EspTestSupport))]
    public void Forgery_IsRefusedWithoutException(int suiteIndex, bool esn)
    {
        EspSuite suite = AllSuites[suiteIndex] with { Esn = esn };
        using EspCipher cipher = Create(suite, Key(EncryptionKeyLength(suite), 0x61), Key(IntegrityKeyLength(suite), 0x62), EspCryptoLibrary.OpenSslEvp);
        const uint seqHigh = 7;
        ulong seq = esn ? ((ulong)seqHigh << 32) | 99 : 99;
        var genuine = new byte[512];
        Ipv4(200).CopyTo(genuine, cipher.HeaderLength);
        int length = EspPacket.Seal(cipher, 0x51, seq, esn, Key(cipher.IvLength, 0x70), 4, genuine, 200);

        int refused = 0;
        for (int index = 0; index < length; index += 3)
        {
            for (int bit = 0; bit < 8; bit += 7)
            {
                byte[] forged = genuine.AsSpan(0, length).ToArray();
                forged[index] ^= (byte)(1 << bit);
                Assert.False(cipher.Open(forged, seqHigh, esn), $"{suite}: flip of bit {bit} at {index} accepted");
                refused++;
            }
        }
        byte[] last = genuine.AsSpan(0, length).ToArray();
        last[^1] ^= 0x01; // always the last ICV byte
        Assert.False(cipher.Open(last, seqHigh, esn));
        if (esn)
        {
            Assert.False(cipher.Open(genuine.AsSpan(0, length).ToArray(), seqHigh + 1, esn), "ESN high half not authenticated");
            Assert.False(cipher.Open(genuine.AsSpan(0, length).ToArray(), seqHigh ^ 0x80000000, esn), "ESN top bit not authenticated");
        }
        Assert.True(refused > 40);
        Assert.True(cipher.Open(genuine.AsSpan(0, length), seqHigh, esn), "genuine packet refused after forgeries");
    }

    /// <summary>Seal and Open on the OpenSSL transform allocate nothing once warm, for every suite, ESN on and off.</summary>
    [Theory]
    [MemberData(nameof(SuitesAndEsn), MemberType = typeof(EspTestSupport))]
    public void SealAndOpen_AllocateNothing(int suiteIndex, bool esn)
    {
        EspSuite suite = AllSuites[suiteIndex] with { Esn = esn };
        using EspCipher cipher = Create(suite, Key(EncryptionKeyLength(suite), 0x11), Key(IntegrityKeyLength(suite), 0x12), EspCryptoLibrary.OpenSslEvp);
        long allocated = AssertSealOpenAllocateNothing(cipher, esn);
        output.WriteLine($"{suite}: {allocated} bytes over 5000 seal+open+forged-open");
    }

    /// <summary>5000 seal + open + forged open after a warm-up: every genuine packet opens, no forgery does, nothing allocated.</summary>
    internal static long AssertSealOpenAllocateNothing(EspCipher cipher, bool esn)
    {
        var packet = new byte[2048];
        int length = EspPacket.SealedLength(cipher, 1400);
        long Run(int count, out int failures)
        {
            failures = 0;
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < count; i++)
            {
                cipher.Seal(packet.AsSpan(0, length), 3, esn);
                if (!cipher.Open(packet.AsSpan(0, length), 3, esn))
                    failures++;
                packet[length - 1] ^= 1; // and a forged one
                if (cipher.Open(packet.AsSpan(0, length), 3, esn))
                    failures++;
            }
            return GC.GetAllocatedBytesForCurrentThread() - before;
        }
        Run(200, out int warmFailures);
        long allocated = Run(5000, out int failures);
        Assert.Equal(0, warmFailures);
        Assert.Equal(0, failures);
        Assert.Equal(0L, allocated);
        return allocated;
    }
}
