using System.Buffers.Binary;
using System.Security.Cryptography;
using Concentrator.Ike.Crypto;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;
using static Concentrator.Tests.Ike.Crypto.Hex;

namespace Concentrator.Tests.Ike.Crypto;

/// <summary>
/// Seal/open without the payload codec: inner payloads are UnknownPayload/EapPayload (their bodies are
/// written verbatim), and the opened chain is compared as bytes via <c>TryOpenChain</c>.
/// </summary>
public class IkeMessageProtectorTests
{
    public static TheoryData<EncrAlgorithm, int, PrfAlgorithm, IntegAlgorithm> Suites => new()
    {
        { EncrAlgorithm.AesGcm16, 128, PrfAlgorithm.HmacSha2_256, IntegAlgorithm.None },
        { EncrAlgorithm.AesGcm16, 192, PrfAlgorithm.HmacSha2_256, IntegAlgorithm.None },
        { EncrAlgorithm.AesGcm16, 256, PrfAlgorithm.HmacSha2_384, IntegAlgorithm.None },
        { EncrAlgorithm.ChaCha20Poly1305, 0, PrfAlgorithm.HmacSha2_256, IntegAlgorithm.None },
        { EncrAlgorithm.AesCbc, 128, PrfAlgorithm.HmacSha2_256, IntegAlgorithm.HmacSha2_256_128 },
        { EncrAlgorithm.AesCbc, 256, PrfAlgorithm.HmacSha2_384, IntegAlgorithm.HmacSha2_384_192 },
        { EncrAlgorithm.AesCbc, 256, PrfAlgorithm.HmacSha2_512, IntegAlgorithm.HmacSha2_512_256 },
        { EncrAlgorithm.AesCbc, 128, PrfAlgorithm.HmacSha1, IntegAlgorithm.HmacSha1_96 },
        // Weak, for legacy peers with weak_algorithms: 3des-sha1-prfsha1 (RFC 2451 8-octet block and IV).
        { EncrAlgorithm.TripleDes, 192, PrfAlgorithm.HmacSha1, IntegAlgorithm.HmacSha1_96 },
    };

    private static readonly IReadOnlyList<Payload> Inner =
    [
        new UnknownPayload(PayloadType.VendorId, Ascii("concentrator-test-vendor-id")),
        new EapPayload(B("0201000501")),
        new UnknownPayload(PayloadType.Notify, B("00004001 0000000a")),
    ];

    /// <summary>The chain as RFC 7296 §3.2 lays it out: next-payload | flags | length | body per payload.</summary>
    private static readonly byte[] InnerChain =
    [
        (byte)PayloadType.Eap, 0, 0, 4 + 27, .. Ascii("concentrator-test-vendor-id"),
        (byte)PayloadType.Notify, 0, 0, 4 + 5, 0x02, 0x01, 0x00, 0x05, 0x01,
        0, 0, 0, 4 + 8, 0x00, 0x00, 0x40, 0x01, 0x00, 0x00, 0x00, 0x0a,
    ];

    private static IkeHeader Header(bool fromInitiator, bool response = false) => new(
        0x1122334455667788, 0x99aabbccddeeff00, PayloadType.None, 2, 0, ExchangeType.IkeAuth,
        (fromInitiator ? IkeFlags.Initiator : IkeFlags.None) | (response ? IkeFlags.Response : IkeFlags.None), 1, 0);

    private static (IkeMessageProtector Initiator, IkeMessageProtector Responder) Pair(IkeSuite suite)
    {
        var keys = KeyDerivation.DeriveIkeSaKeys(suite, RandomNumberGenerator.GetBytes(32),
            RandomNumberGenerator.GetBytes(32), RandomNumberGenerator.GetBytes(32), 0x1122334455667788, 0x99aabbccddeeff00);
        return (new IkeMessageProtector(suite, keys, weAreInitiator: true), new IkeMessageProtector(suite, keys, weAreInitiator: false));
    }

    private static IkeSuite Suite(EncrAlgorithm enc, int bits, PrfAlgorithm prf, IntegAlgorithm integ) => new(enc, bits, prf, integ, DhGroup.Ecp256);

    [Theory]
    [MemberData(nameof(Suites))]
    public void Seal_then_open_round_trips_in_both_directions(EncrAlgorithm enc, int bits, PrfAlgorithm prf, IntegAlgorithm integ)
    {
        var (initiator, responder) = Pair(Suite(enc, bits, prf, integ));
        using (initiator)
        using (responder)
        {
            foreach (var (sender, receiver, fromInitiator) in new[] { (initiator, responder, true), (responder, initiator, false) })
            {
                var datagram = sender.Seal(Header(fromInitiator, response: !fromInitiator), Inner);

                Assert.Equal(ParseStatus.Ok, IkeHeader.TryParse(datagram, out var header));
                Assert.Equal(PayloadType.Encrypted, header.NextPayload);
                Assert.Equal((uint)datagram.Length, header.Length);
                Assert.Equal((byte)PayloadType.VendorId, datagram[28]); // SK's next payload = first inner type
                Assert.Equal(datagram.Length - 28, BinaryPrimitives.ReadUInt16BigEndian(datagram.AsSpan(30)));
                Assert.Equal(datagram.Length - 28 - InnerChain.Length, sender.GetOverhead(InnerChain.Length));

                Assert.Equal(ParseStatus.Ok, receiver.TryOpenChain(datagram, 28, out var first, out var plain, out int chainLength));
                Assert.Equal(PayloadType.VendorId, first);
                Assert.Equal(InnerChain, plain[..chainLength]);

                // Our own message reflected back must not open with our receive keys.
                Assert.Equal(ParseStatus.IntegrityCheckFailed, sender.TryOpenChain(datagram, 28, out _, out _, out _));
            }
        }
    }

    [Theory]
    [MemberData(nameof(Suites))]
    public void Empty_SK_payload_opens_through_TryOpen(EncrAlgorithm enc, int bits, PrfAlgorithm prf, IntegAlgorithm integ)
    {
        var (initiator, responder) = Pair(Suite(enc, bits, prf, integ));
        using (initiator)
        using (responder)
        {
            var datagram = initiator.Seal(Header(true) with { Exchange = ExchangeType.Informational }, []);
            var message = ParsedShell(datagram);
            Assert.Equal(ParseStatus.Ok, responder.TryOpen(datagram, message));
            Assert.Empty(message.Payloads);
        }
    }

    [Theory]
    [MemberData(nameof(Suites))]
    public void Any_flipped_bit_fails_the_integrity_check(EncrAlgorithm enc, int bits, PrfAlgorithm prf, IntegAlgorithm integ)
    {
        var (initiator, responder) = Pair(Suite(enc, bits, prf, integ));
        using (initiator)
        using (responder)
        {
            var datagram = initiator.Seal(Header(true), Inner);
            for (int i = 0; i < datagram.Length; i++)
            {
                var tampered = (byte[])datagram.Clone();
                tampered[i] ^= (byte)(1 << (i % 8));
                Assert.Equal(ParseStatus.IntegrityCheckFailed, responder.TryOpenChain(tampered, 28, out _, out var plain, out _));
                Assert.Empty(plain);
                var message = ParsedShell(tampered);
                Assert.Equal(ParseStatus.IntegrityCheckFailed, responder.TryOpen(tampered, message));
                Assert.IsType<EncryptedPayload>(Assert.Single(message.Payloads)); // untouched on failure
            }
        }
    }

    [Theory]
    [MemberData(nameof(Suites))]
    public void Truncated_input_is_not_ok_and_never_throws(EncrAlgorithm enc, int bits, PrfAlgorithm prf, IntegAlgorithm integ)
    {
        var (initiator, responder) = Pair(Suite(enc, bits, prf, integ));
        using (initiator)
        using (responder)
        {
            var datagram = initiator.Seal(Header(true), Inner);
            for (int n = 0; n < datagram.Length; n++)
            {
                var cut = datagram[..n];
                Assert.NotEqual(ParseStatus.Ok, responder.TryOpenChain(cut, 28, out _, out _, out _));
                Assert.NotEqual(ParseStatus.Ok, responder.TryOpen(cut, ParsedShell(datagram)));
            }
            Assert.Equal(ParseStatus.Truncated, responder.TryOpenChain(datagram[..31], 28, out _, out _, out _));
            Assert.Equal(ParseStatus.InvalidSyntax, responder.TryOpenChain(datagram, 10, out _, out _, out _));
        }
    }

    [Fact]
    public void Missing_or_unlocated_SK_payload_is_reported()
    {
        var (initiator, responder) = Pair(Suite(EncrAlgorithm.AesGcm16, 128, PrfAlgorithm.HmacSha2_256, IntegAlgorithm.None));
        using (initiator)
        using (responder)
        {
            var datagram = initiator.Seal(Header(true), Inner);
            IkeHeader.TryParse(datagram, out var h);
            Assert.Equal(ParseStatus.BadPayloadSequence, responder.TryOpen(datagram, new IkeMessage(h, [])));
            Assert.Equal(ParseStatus.InvalidSyntax, responder.TryOpen(datagram,
                new IkeMessage(h, [new EncryptedPayload(PayloadType.VendorId, datagram[32..])])));
        }
    }

    [Fact]
    public void Aead_IVs_never_repeat_and_CBC_IVs_are_random()
    {
        var (gcm, gcmPeer) = Pair(Suite(EncrAlgorithm.AesGcm16, 256, PrfAlgorithm.HmacSha2_256, IntegAlgorithm.None));
        var (cbc, cbcPeer) = Pair(Suite(EncrAlgorithm.AesCbc, 256, PrfAlgorithm.HmacSha2_256, IntegAlgorithm.HmacSha2_256_128));
        using (gcm) using (gcmPeer) using (cbc) using (cbcPeer)
        {
            var a = gcm.Seal(Header(true), Inner);
            var b = gcm.Seal(Header(true), Inner);
            ulong ivA = BinaryPrimitives.ReadUInt64BigEndian(a.AsSpan(32));
            ulong ivB = BinaryPrimitives.ReadUInt64BigEndian(b.AsSpan(32));
            Assert.Equal(ivA + 1, ivB);
            Assert.NotEqual(a[40..], b[40..]);

            var c = cbc.Seal(Header(true), Inner);
            var d = cbc.Seal(Header(true), Inner);
            Assert.NotEqual(c.AsSpan(32, 16).ToArray(), d.AsSpan(32, 16).ToArray());
            Assert.Equal(0, (c.Length - 28 - 4 - 16 - 16) % 16); // padded to the AES block
        }
    }

    [Fact]
    public void TripleDes_uses_an_8_octet_random_IV_and_pads_to_8()
    {
        var (des, desPeer) = Pair(Suite(EncrAlgorithm.TripleDes, 192, PrfAlgorithm.HmacSha1, IntegAlgorithm.HmacSha1_96));
        using (des) using (desPeer)
        {
            int chain = IkeCodec.GetChainLength(Inner);
            var c = des.Seal(Header(true), Inner);
            var d = des.Seal(Header(true), Inner);
            Assert.NotEqual(c.AsSpan(32, 8).ToArray(), d.AsSpan(32, 8).ToArray());
            int encrypted = c.Length - 28 - 4 - 8 - 12; // header, SK header, IV, HMAC-SHA1-96 ICV
            Assert.Equal(0, encrypted % 8);
            Assert.InRange(encrypted - chain, 1, 8); // at most one block of padding with its Pad Length, not AES's 16
            Assert.Equal(4 + 8 + encrypted + 12, des.GetOverhead(chain) + chain);
            var opened = ParsedShell(c);
            Assert.Equal(ParseStatus.Ok, desPeer.TryOpen(c, opened));
            Assert.Equal(Inner.Count, opened.Payloads.Count);
        }
    }

    /// <summary>
    /// RFC 7634 Appendix B: an INFORMATIONAL request protected with ChaCha20-Poly1305; key 80..9f, salt a0a1a2a3,
    /// IV 1011121314151617, inner payload a Notify (SET_WINDOW_SIZE 10). Interop vector for Seal and open.
    /// </summary>
    [Fact]
    public void ChaCha20Poly1305_message_matches_RFC7634_appendix_B()
    {
        var keymat = B("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f a0a1a2a3");
        var expected = B(
            "c0c1c2c3c4c5c6c7 d0d1d2d3d4d5d6d7 2e202500 00000009 00000045" + // IKE header
            "29000029" +                                                     // SK generic header
            "1011121314151617" +                                             // IV
            "610394701f8d017f7c12924889" +                                   // ciphertext (13)
            "6b71bfe25236efd7cdc670669063 15b2");                            // ICV (16)
        var suite = new IkeSuite(EncrAlgorithm.ChaCha20Poly1305, 0, PrfAlgorithm.HmacSha2_256, IntegAlgorithm.None, DhGroup.Curve25519);
        using var keys = new IkeKeys { SkEi = (byte[])keymat.Clone(), SkEr = (byte[])keymat.Clone() };
        using var protector = new IkeMessageProtector(suite, keys, weAreInitiator: true);
        protector.NextAeadIv = 0x1011121314151617;

        var header = new IkeHeader(0xc0c1c2c3c4c5c6c7, 0xd0d1d2d3d4d5d6d7, PayloadType.None, 2, 0,
            ExchangeType.Informational, IkeFlags.None, 9, 0);
        var sealedMessage = protector.Seal(header, [new UnknownPayload(PayloadType.Notify, B("00004001 0000000a"))]);
        Assert.Equal(expected, sealedMessage);

        Assert.Equal(ParseStatus.Ok, protector.TryOpenChain(expected, 28, out var first, out var plain, out int chainLength));
        Assert.Equal(PayloadType.Notify, first);
        Assert.Equal(B("0000000c 00004001 0000000a"), plain[..chainLength]);
    }

    [Fact]
    public void Wrong_key_lengths_and_unsupported_suites_are_rejected()
    {
        var gcm = Suite(EncrAlgorithm.AesGcm16, 256, PrfAlgorithm.HmacSha2_256, IntegAlgorithm.None);
        Assert.Throws<ArgumentException>(() => new IkeMessageProtector(gcm, new IkeKeys { SkEi = new byte[32], SkEr = new byte[32] }, true));
        Assert.Throws<NotSupportedException>(() => new IkeMessageProtector(
            Suite(EncrAlgorithm.AesCtr, 128, PrfAlgorithm.HmacSha2_256, IntegAlgorithm.HmacSha2_256_128), new IkeKeys(), true));
    }

    /// <summary>What IkeCodec.TryDecode would produce: the header and the SK payload with its offset.</summary>
    private static IkeMessage ParsedShell(byte[] datagram)
    {
        IkeHeader.TryParse(datagram, out var header);
        var first = datagram.Length > 28 ? (PayloadType)datagram[28] : PayloadType.None;
        var body = datagram.Length > 32 ? datagram[32..] : [];
        return new IkeMessage(header, [new EncryptedPayload(first, body, offset: 28)]);
    }
}
