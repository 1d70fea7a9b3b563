using System.Buffers.Binary;
using System.Security.Cryptography;
using Concentrator.DataPlane.Esp;
using Concentrator.Ipsec;
using static Concentrator.Tests.DataPlane.EspTestSupport;

namespace Concentrator.Tests.DataPlane;

/// <summary>Published ESP vectors, and an independent composition check for CBC + HMAC.</summary>
public class EspVectorTests
{
    /// <summary>
    /// draft-mcgrew-gcm-test-01 §4 (AES-GCM in ESP, RFC 4106). Fields as published: key, SPI,
    /// sequence number (8 bytes = ESN with a 12-byte AAD), nonce = salt | IV, plaintext = payload |
    /// padding | pad length | next header, and the complete ESP packet. The draft's next header is
    /// mostly 1, so these go through the pipeline's seal/open stages with an explicit next header.
    /// </summary>
    public static TheoryData<string, string, string, string, string, string, string> McGrewGcm => new()
    {
        { "1", "4c80cdefbb5d10da906ac73c3613a634", "00004321", "8765432100000000", "2e443b684956ed7e3b244cfe",
          "45000048699a000080114db7c0a80102c0a801010a9bf15638d301000001000000000000045f736970045f75647003736970" +
          "0963796265726369747902646b000021000101020201",
          "00004321000000004956ed7e3b244cfefecf537e729d5b07dc30df528dd22b768d1b98736696a6fd348509fa13ceac34cfa2436f14a3f3cf" +
          "65925bf1f4a13c5d15b21e1884f5ff6247aeabb786b93bce61bc17d768fd9732459018148f6cbe722fd04796562dfdb4" },
        { "2", "feffe9928665731c6d6a8f9467308308", "0000a5f8", "0000000a", "cafebabefacedbaddecaf888",
          "4500003e698f000080114dccc0a80102c0a801010a980035002a2343b2d001000001000000000000037369700963796265726369747902646b00000100010001",
          "0000a5f80000000afacedbaddecaf888deb22cd9b07c72c16e3a65beeb8df304a5a5897d33ae530f1ba76d5d114d2a5c3de81827c10e9a4f" +
          "51330d0eec416642cfbb85a5b47e48a4ec3b9ba95d918bd183b70d3aa8bc6ee4c309e9d85a41ad4a" },
        { "3", "abbccddef00112233445566778899aababbccddef00112233445566778899aab", "4a2cbfe3", "00000002", "112233440102030405060708",
          "4500003069a6400080062690c0a801029389155e0a9e008b2dc57ee0000000007002400020bf0000020405b40101040201020201",
          "4a2cbfe3000000020102030405060708ff425c9b724599df7a3bcd510194e00d6a78107f1b0b1cbf06efae9d65a5d763748a637985771d34" +
          "7f0545659f14e99def842d8eb335f4eecfdbf831824b4c4915956c96" },
        { "4", "00000000000000000000000000000000", "00000000", "00000001", "000000000000000000000000",
          "4500003c99c500008001cb7a40679318010101010800075c020044006162636465666768696a6b6c6d6e6f70717273747576776162636465666768690102" +
          "0201",
          "00000000000000010000000000000000" + "4688daf2f973a392732909c331d56d60f694abaa414b5e7ff5fdcdfff5e9a284456476492719ffb6" +
          "4de7d9dca1e1d894bc3bd57873ed4d181d19d4d5c8c18af3f821d496eeb096e98ad2b69e4799c71d" },
        { "5", "3de09874b388e6491988d0c3607eae1f", "42f67e3f", "1010101010101010", "57690e434e280000a2fca1a3",
          "4500003c99c300008001cb7c40679318010101010800085c020043006162636465666768696a6b6c6d6e6f70717273747576776162636465666768690102" +
          "0201",
          "42f67e3f101010104e280000a2fca1a3fba2caa4853cf9f0f22cb10d86dd83b0fec75691cf1a04b00d1138ec9c35791765acbd8701ad7984" +
          "5bf9fe3fba487bc91755e6662b4c8d0d1f5e22739530320ae0d731cc978ecafaeae88f00e80d6e48" },
        { "6", "3de09874b388e6491988d0c3607eae1f", "42f67e3f", "1010101010101010", "57690e434e280000a2fca1a3",
          "4500001c42a200008001441f406793b6e00000020a00f5ff01020201",
          "42f67e3f101010104e280000a2fca1a3fba2ca845e5df9f0f22c3e6e86dd831e1fc65792cd1af9130e1379ed369f071f35e034be95f112e4e7d05d35" },
        { "7", "feffe9928665731c6d6a8f9467308308feffe9928665731c", "0000a5f8", "0000000a", "cafebabefacedbaddecaf888",
          "45000028a4ad4000400678800a01038f0a010612802306b8cb712602dd6bb03e501016d075680001",
          "0000a5f80000000afacedbaddecaf888a5b1f8066029aea40e598b8122de02420938b3ab33f828e687b8858b5bfbdbd0315b27452144cc77" +
          "95457b9652037f5318027b5b4cd7a636" },
        { "8", "abbccddef00112233445566778899aab", "00000100", "0000000000000001", "decaf888cafedebaceface74",
          "4500004933ba00007f119106c3fb1d10c2b1d326c02831ce0035dd7b800302d500004e20001e8c18d75b81dc91baa0476b91b924b280389d92c963ba" +
          "c046ec959b6266c04722b14923010101",
          "0000010000000001cafedebaceface7418a6fd42f72cbf4ab2a2ea901f73d814e3e7f243d95412e1c349c1d2fbec168f9190feebaf2cb019" +
          "84e65863965d7472b79da345e0e780191f0d2f0e0f496c226f2127b27db35724e7845d68651f57e65f354f75ff17015769623436" },
        { "9", "abbccddef00112233445566778899aababbccddef00112233445566778899aab", "17405e67", "156f3126dd0db99b", "73616c74616e640169766563",
          "45080028732c00004006e9f90a0106120a01038f06b88023dd6bafbecb71260250101f646d540001",
          "17405e67dd0db99b616e640169766563f2d69ecdbd5a0d5b8d5ef38bad4da58d1f278fde98ef67549d524a3018d9a57ff4d3a31ce673119e" +
          "451626c2415771e3b7eebca614c89b35" },
        { "10", "3de09874b388e6491988d0c3607eae1f", "42f67e3f", "1010101010101010", "57690e434e280000a2fca1a3",
          "45000049333e00007f119182c3fb1d10c2b1d326c02831ce0035cb458003025b000001e0001e8c18d65759d52284a0352c71475c8880391c764d6e5e" +
          "e0496b325ae270c03899493915010101",
          "42f67e3f101010104e280000a2fca1a3fba2cad12fc1f9f00d3cebf305410db83d7784b607323d220f24b0a97d54182800cadb0f68d99ef0" +
          "e0c0c89ae9bea8884e52d65bc1afd0740f742444747b5b39ab533163aad4550ee5160975cdb608c5769189609763b8e18caa81e2" },
        { "11", "abbccddef00112233445566778899aababbccddef00112233445566778899aab", "17405e67", "156f3126dd0db99b", "73616c74616e640169766563",
          "636973636f0172756c6573017468650" + "16e6574776501646566696e6501746865746563686e6f6c6f6769657301746861" +
          "7477696c6c01646566696e65746f6d6f72726f7701020201",
          "17405e67dd0db99b616e640169766563d4b7ed86a1777f2ea13d6973d324c69e7b43f826fb56831226508bebd2dceb18d0a6df10e5487df0" +
          "74113e14c641024e3e6773d91a62ee429b043a10e3efe6b012a49363412364f8c0cac587f249e56b11e24f30e44ccc76" },
        { "12", "7d773d00c144c525ac619d18c84a3f47", "335467ae", "ffffffff", "d966426743457e9182443bc6",
          "01020201",
          "335467aeffffffff43457e9182443bc6437f866bcb3f699fe9b0822bac961c4504bef270" },
        { "13", "abbccddef00112233445566778899aab", "00000100", "0000000000000001", "decaf888cafedebaceface74",
          "746f016265016f72016e6f7401746f0162650001",
          "0000010000000001cafedebaceface7429c9fc69a197d038ccdd14e2ddfcaa054333216441250352430" + "3ed3c6c5f283843af8c3e" },
        { "14", "6c6567616c697a656d6172696a75616e61616e64646f69746265666f72656961", "796b6963", "ffffffffffffffff", "7475726e333021696765746d",
          "45000030da3a00008001df3bc0a80005c0a800010800c6cd020007006162636465666768696a6b6c6d6e6f707172737401020201",
          "796b6963ffffffff333021696765746df97ab2aa356d8edce17644ac8c78e25dd24dedbb29ebf1b64a274b39b49c3a864cd3d78ca4ae68a3" +
          "2b42458fb57dbe821dcc63b9d0937ba2945f669368661a329fb4c053" },
    };

    [Theory]
    [MemberData(nameof(McGrewGcm))]
    public void AesGcm_McGrewVectors_SealAndOpenExactly(string testCase, string key, string spiHex, string seqHex, string nonceHex, string plaintextHex, string packetHex)
    {
        byte[] keyBytes = Hex(key);
        byte[] nonce = Hex(nonceHex);
        byte[] plaintext = Hex(plaintextHex);
        byte[] expected = Hex(packetHex);
        uint spi = BinaryPrimitives.ReadUInt32BigEndian(Hex(spiHex));
        bool esn = seqHex.Length == 16; // the draft's 8-byte sequence numbers come with a 12-byte AAD
        ulong seq = esn ? BinaryPrimitives.ReadUInt64BigEndian(Hex(seqHex)) : BinaryPrimitives.ReadUInt32BigEndian(Hex(seqHex));
        byte[] keyMaterial = [.. keyBytes, .. nonce[..4]]; // key | salt (RFC 4106 §8.1)
        byte[] iv = nonce[4..];
        int padLength = plaintext[^2];
        byte nextHeader = plaintext[^1];
        byte[] payload = plaintext[..^(padLength + 2)];

        var suite = new EspSuite(EncrAlgorithm.AesGcm16, keyBytes.Length * 8, IntegAlgorithm.None, DhGroup.None, esn);
        using EspCipher cipher = EspCipher.Create(suite, keyMaterial, []);

        // Seal: exact bytes, including our minimal 1,2,3.. padding matching the draft's.
        var buffer = new byte[expected.Length + 64];
        payload.CopyTo(buffer, cipher.HeaderLength);
        int written = EspPacket.Seal(cipher, spi, seq, esn, iv, nextHeader, buffer, payload.Length);
        Assert.Equal(ToHex(expected), ToHex(buffer.AsSpan(0, written)));

        // Open: recovers payload, padding, next header.
        byte[] received = (byte[])expected.Clone();
        Assert.True(cipher.Open(received, (uint)(seq >> 32), esn), $"case {testCase}: ICV");
        Assert.Equal(EspStatus.Ok, EspPacket.ParseTrailer(cipher, received, out int payloadLength, out byte nh));
        Assert.Equal(nextHeader, nh);
        Assert.Equal(ToHex(payload), ToHex(received.AsSpan(cipher.HeaderLength, payloadLength)));

        // Any flipped bit (header, IV, ciphertext or tag) fails authentication.
        foreach (int index in new[] { 0, 5, 9, expected.Length / 2, expected.Length - 1 })
        {
            byte[] forged = (byte[])expected.Clone();
            forged[index] ^= 0x01;
            Assert.False(cipher.Open(forged, (uint)(seq >> 32), esn), $"case {testCase}: bit flip at {index} accepted");
        }
        // With ESN the high half (never sent) is authenticated too.
        if (esn)
            Assert.False(cipher.Open((byte[])expected.Clone(), (uint)(seq >> 32) + 1, esn));
    }

    /// <summary>
    /// The same vectors through the whole inbound path of an installed SA: authentication passes
    /// (the draft's next header 1 is then refused as not tunnel mode) and the sequence number is consumed.
    /// </summary>
    /// <summary>Case 4 uses SPI 0, which no SA can have (RFC 4303 §2.1).</summary>
    public static IEnumerable<object[]> McGrewGcmInstallable => McGrewGcm.Where(row => (string)row[2] != "00000000");

    [Theory]
    [MemberData(nameof(McGrewGcmInstallable))]
    public void AesGcm_McGrewVectors_ThroughInstalledSa(string testCase, string key, string spiHex, string seqHex, string nonceHex, string plaintextHex, string packetHex)
    {
        _ = plaintextHex;
        uint spi = BinaryPrimitives.ReadUInt32BigEndian(Hex(spiHex));
        bool esn = seqHex.Length == 16;
        ulong seq = esn ? BinaryPrimitives.ReadUInt64BigEndian(Hex(seqHex)) : BinaryPrimitives.ReadUInt32BigEndian(Hex(seqHex));
        byte[] keyBytes = Hex(key);
        byte[] keyMaterial = [.. keyBytes, .. Hex(nonceHex)[..4]];
        var suite = new EspSuite(EncrAlgorithm.AesGcm16, keyBytes.Length * 8, IntegAlgorithm.None, DhGroup.None, esn);
        using var plane = new Concentrator.DataPlane.InMemoryDataPlane();
        plane.AddSa(Install(suite, spi, 0x1000, keyMaterial, [], Key(keyMaterial.Length, 9), []));
        Assert.True(plane.TryGetSa(spi, out EspSa sa));
        if (esn && seq > 1)
            sa.Window.Update(seq - 1); // earlier traffic: lets the receiver infer the high half

        byte[] packet = Hex(packetHex);
        Assert.Equal(EspStatus.BadNextHeader, plane.Decapsulate(packet, out _));
        Assert.Equal(seq, sa.Window.Top);
        Assert.Equal(EspStatus.Replay, plane.Decapsulate(Hex(packetHex), out _));
        Assert.NotEmpty(testCase);
    }

    /// <summary>
    /// RFC 7634 Appendix A (ChaCha20-Poly1305 ESP example): SPI 0x01020304, sequence 5, IV
    /// 0x1011121314151617, salt a0a1a2a3, an ICMP echo over IPv4 (next header 4). Runs the full
    /// outbound path of an installed SA (IV fixed by the test hook) and the full inbound path.
    /// </summary>
    [Fact]
    public void ChaCha20Poly1305_Rfc7634AppendixA_ThroughInstalledSa()
    {
        byte[] keyMaterial = Hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f a0a1a2a3");
        byte[] inner = Hex(
            "45000054a6f200004001e778c6336405c000020508005b7a3a080000553bec10000736270809" +
            "0a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637");
        byte[] expected = Hex(
            "01020304 00000005 1011121314151617" +
            "24039428b97f417e3c13753a4f05087b67c352e6a7fab1b982d466ef407ae5c614ee8099d52844eb61aa95dfab4c02f7" +
            "2aa71e7c4c4f64c9befe2facc638e8f3cbec163fac469b502773f6fb94e664da9165b82829f641e0" +
            "76aaa8266b7fb0f7b11b369907e1ad43");

        using var sender = new Concentrator.DataPlane.InMemoryDataPlane();
        sender.AddSa(Install(ChaCha, 0x0a0b0c0d, 0x01020304, Key(36, 1), [], (byte[])keyMaterial.Clone(), []));
        Assert.True(sender.TryGetSa(0x0a0b0c0d, out EspSa outSa));
        outSa.FixedIvForTest = Hex("1011121314151617");
        outSa.SetLastOutboundSequenceForTest(4);
        var buffer = new byte[256];
        Assert.Equal(EspStatus.Ok, sender.Encapsulate(0x0a0b0c0d, inner, buffer, out int written));
        Assert.Equal(ToHex(expected), ToHex(buffer.AsSpan(0, written)));

        using var receiver = new Concentrator.DataPlane.InMemoryDataPlane();
        receiver.AddSa(Install(ChaCha, 0x01020304, 0x0a0b0c0d, (byte[])keyMaterial.Clone(), [], Key(36, 2), []));
        byte[] packet = (byte[])expected.Clone();
        Assert.Equal(EspStatus.Ok, receiver.Decapsulate(packet, out Range range));
        Assert.Equal(ToHex(inner), ToHex(packet.AsSpan()[range]));
        Assert.Equal(EspStatus.Replay, receiver.Decapsulate((byte[])expected.Clone(), out _));
    }

    /// <summary>
    /// AES-CBC + HMAC-SHA2: the expected packet is composed independently here with Aes.EncryptCbc
    /// and HMACSHA*.HashData, which fixes the composition order (encrypt-then-MAC over
    /// SPI | seq | IV | ciphertext [| seq-high]) and the RFC 4868 truncation.
    /// </summary>
    [Theory]
    [InlineData(128, IntegAlgorithm.HmacSha2_256_128, false)]
    [InlineData(128, IntegAlgorithm.HmacSha2_256_128, true)]
    [InlineData(256, IntegAlgorithm.HmacSha2_384_192, false)]
    [InlineData(256, IntegAlgorithm.HmacSha2_384_192, true)]
    [InlineData(256, IntegAlgorithm.HmacSha2_512_256, false)]
    [InlineData(256, IntegAlgorithm.HmacSha2_512_256, true)]
    public void AesCbcHmac_MatchesIndependentComposition(int keyBits, IntegAlgorithm integrity, bool esn)
    {
        var suite = new EspSuite(EncrAlgorithm.AesCbc, keyBits, integrity, DhGroup.None, esn);
        byte[] encKey = Key(keyBits / 8, 0x5a);
        byte[] integKey = Key(IntegrityKeyLength(suite), 0xa5);
        byte[] iv = Key(16, 0x77);
        byte[] inner = Ipv4(61);
        const uint spi = 0x12345678;
        ulong seq = esn ? 0x0000000500000009UL : 9UL;

        using var sender = new Concentrator.DataPlane.InMemoryDataPlane();
        sender.AddSa(Install(suite with { }, 0x777, spi, Key(encKey.Length, 1), Key(integKey.Length, 2), (byte[])encKey.Clone(), (byte[])integKey.Clone()));
        Assert.True(sender.TryGetSa(0x777, out EspSa sa));
        sa.FixedIvForTest = iv;
        sa.SetLastOutboundSequenceForTest(seq - 1);
        var buffer = new byte[256];
        Assert.Equal(EspStatus.Ok, sender.Encapsulate(0x777, inner, buffer, out int written));

        // Independent composition.
        int padLength = 16 - (inner.Length + 2) % 16; // 61 + 2 = 63 -> 1 byte of padding
        byte[] plain = [.. inner, .. Enumerable.Range(1, padLength).Select(i => (byte)i), (byte)padLength, 4];
        using var aes = Aes.Create();
        aes.Key = encKey;
        byte[] cipherText = aes.EncryptCbc(plain, iv, PaddingMode.None);
        byte[] header = new byte[8];
        BinaryPrimitives.WriteUInt32BigEndian(header, spi);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4), (uint)seq);
        byte[] macInput = [.. header, .. iv, .. cipherText];
        if (esn)
            macInput = [.. macInput, .. BitConverter.GetBytes(BinaryPrimitives.ReverseEndianness((uint)(seq >> 32)))];
        byte[] mac = integrity switch
        {
            IntegAlgorithm.HmacSha2_256_128 => HMACSHA256.HashData(integKey, macInput),
            IntegAlgorithm.HmacSha2_384_192 => HMACSHA384.HashData(integKey, macInput),
            _ => HMACSHA512.HashData(integKey, macInput),
        };
        byte[] expected = [.. header, .. iv, .. cipherText, .. mac.AsSpan(0, mac.Length / 2)];
        Assert.Equal(ToHex(expected), ToHex(buffer.AsSpan(0, written)));

        // And the receiving side opens it.
        using var receiver = new Concentrator.DataPlane.InMemoryDataPlane();
        receiver.AddSa(Install(suite, spi, 0x777, (byte[])encKey.Clone(), (byte[])integKey.Clone(), Key(encKey.Length, 3), Key(integKey.Length, 4)));
        Assert.True(receiver.TryGetSa(spi, out EspSa rsa));
        if (esn)
            rsa.Window.Update(seq - 1);
        byte[] packet = (byte[])expected.Clone();
        Assert.Equal(EspStatus.Ok, receiver.Decapsulate(packet, out Range range));
        Assert.Equal(ToHex(inner), ToHex(packet.AsSpan()[range]));
    }
}
