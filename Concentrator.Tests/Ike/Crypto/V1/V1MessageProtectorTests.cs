using System.Security.Cryptography;
using Concentrator.Ike.Crypto;
using Concentrator.Ike.Crypto.V1;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;
using static Concentrator.Tests.Ike.Crypto.Hex;

namespace Concentrator.Tests.Ike.Crypto.V1;

/// <summary>
/// IKEv1 message encryption (RFC 2409 Appendix B): two protectors as the two ends of an SA, each message also
/// decrypted here with AES-CBC and the IV the RFC names, so the chaining is checked apart from the protector.
/// </summary>
public class V1MessageProtectorTests
{
    private static byte[] H1(byte[] key, byte[] data) => HMACSHA1.HashData(key, data);
    private static byte[] H256(byte[] key, byte[] data) => HMACSHA256.HashData(key, data);
    private static byte[] S1(byte[] data) => SHA1.HashData(data);
    private static byte[] S256(byte[] data) => SHA256.HashData(data);

    private static readonly Prf Sha256 = V1KeyDerivation.PrfOf(Phase1Hash.Sha2_256);
    private static readonly byte[] Key = Repeat(0x42, 32);
    private static readonly byte[] Gxi = Repeat(1, 256);
    private static readonly byte[] Gxr = Repeat(2, 256);

    private static IsakmpHeader Header(V1ExchangeType exchange, uint messageId) =>
        new(0x0102030405060708, 0x1112131415161718, V1PayloadType.None, 1, 0, exchange, V1Flags.None, messageId, 0);

    private static V1MessageProtector End() =>
        V1MessageProtector.Create(Phase1Encryption.AesCbc, Key, Sha256, V1KeyDerivation.Phase1Iv(Sha256, Gxi, Gxr, 16));

    private static List<V1Payload> Payloads(byte tag) =>
        [new V1DataPayload(V1PayloadType.Hash, Repeat(tag, 32)), new V1IdPayload(V1IdType.Fqdn, Ascii("peer.example"))];

    private static byte[] Receive(V1MessageProtector end, byte[] datagram)
    {
        Assert.Equal(ParseStatus.Ok, IsakmpCodec.TryDecode(datagram, out var message));
        Assert.Equal(ParseStatus.Ok, end.TryOpen(message!, out var plaintext, out var nextIv));
        var payloads = new List<V1Payload>();
        Assert.Equal(ParseStatus.Ok, IsakmpCodec.TryDecodeChain(message!.Header.NextPayload, plaintext, allowPadding: true, payloads));
        end.Commit(message.Header.MessageId, nextIv);
        return ((V1DataPayload)payloads[0]).Data;
    }

    private static byte[] Body(byte[] datagram) => datagram[V1Constants.HeaderLength..];

    [Fact]
    public void Main_mode_and_quick_mode_messages_chain_their_ivs_as_appendix_b_says()
    {
        using var initiator = End();
        using var responder = End();

        // Main mode 5 and 6: the first IV is hash(g^xi | g^xr); message 6 starts where message 5's ciphertext ended.
        var m5 = initiator.Seal(Header(V1ExchangeType.IdentityProtection, 0), Payloads(5));
        var iv1 = S256([.. Gxi, .. Gxr])[..16];
        using var aes = Aes.Create();
        aes.Key = Key;
        var clear5 = aes.DecryptCbc(Body(m5), iv1, PaddingMode.None);
        Assert.Equal(IsakmpCodec.EncodeChain(Payloads(5)), clear5[..IsakmpCodec.EncodeChain(Payloads(5)).Length]);
        Assert.Equal(Repeat(5, 32), Receive(responder, m5));

        var m6 = responder.Seal(Header(V1ExchangeType.IdentityProtection, 0), Payloads(6));
        var clear6 = aes.DecryptCbc(Body(m6), Body(m5)[^16..], PaddingMode.None);
        Assert.Equal(Repeat(6, 32), clear6[4..36]);
        Assert.Equal(Repeat(6, 32), Receive(initiator, m6));
        initiator.CompletePhase1();
        responder.CompletePhase1();

        // Quick mode: the first IV is hash(last phase 1 block | M-ID); the exchange then chains on its own.
        const uint mid = 0x0badcafe;
        var q1 = initiator.Seal(Header(V1ExchangeType.QuickMode, mid), Payloads(1));
        var qiv = S256([.. Body(m6)[^16..], 0x0b, 0xad, 0xca, 0xfe])[..16];
        Assert.Equal(Repeat(1, 32), aes.DecryptCbc(Body(q1), qiv, PaddingMode.None)[4..36]);
        Assert.Equal(Repeat(1, 32), Receive(responder, q1));
        var q2 = responder.Seal(Header(V1ExchangeType.QuickMode, mid), Payloads(2));
        Assert.Equal(Repeat(2, 32), aes.DecryptCbc(Body(q2), Body(q1)[^16..], PaddingMode.None)[4..36]);
        Assert.Equal(Repeat(2, 32), Receive(initiator, q2));

        // An informational exchange of another M-ID starts from the phase 1 block again, not from the quick mode.
        var info = initiator.Seal(Header(V1ExchangeType.Informational, 7), Payloads(3));
        var infoIv = S256([.. Body(m6)[^16..], 0, 0, 0, 7])[..16];
        Assert.Equal(Repeat(3, 32), aes.DecryptCbc(Body(info), infoIv, PaddingMode.None)[4..36]);
        Assert.Equal(Repeat(3, 32), Receive(responder, info));
    }

    [Fact]
    public void A_forged_message_that_is_not_committed_moves_no_iv()
    {
        using var initiator = End();
        using var responder = End();
        var m5 = initiator.Seal(Header(V1ExchangeType.IdentityProtection, 0), Payloads(5));

        var forged = (byte[])m5.Clone();
        forged[^1] ^= 0xff;
        Assert.Equal(ParseStatus.Ok, IsakmpCodec.TryDecode(forged, out var message));
        Assert.Equal(ParseStatus.Ok, responder.TryOpen(message!, out _, out _));
        // The caller's HASH check failed, so it does not commit; the genuine message still opens.
        Assert.Equal(Repeat(5, 32), Receive(responder, m5));
    }

    [Fact]
    public void Nothing_but_phase_one_before_phase_one_completes()
    {
        using var responder = End();
        using var other = End();
        other.CompletePhase1();
        var quick = other.Seal(Header(V1ExchangeType.QuickMode, 9), Payloads(1));
        Assert.Equal(ParseStatus.Ok, IsakmpCodec.TryDecode(quick, out var message));
        Assert.Equal(ParseStatus.IntegrityCheckFailed, responder.TryOpen(message!, out _, out _));
    }

    [Fact]
    public void Exchange_ivs_are_bounded()
    {
        using var initiator = End();
        using var responder = End();
        initiator.CompletePhase1();
        responder.CompletePhase1();
        var first = initiator.Seal(Header(V1ExchangeType.QuickMode, 1), Payloads(1));
        Receive(responder, first);
        var firstAnswer = responder.Seal(Header(V1ExchangeType.QuickMode, 1), Payloads(2));
        for (uint mid = 2; mid < 2 + V1MessageProtector.MaxExchangeIvs; mid++)
        {
            Receive(responder, initiator.Seal(Header(V1ExchangeType.QuickMode, mid), Payloads(3)));
        }

        // The initiator forgot exchange 1 (more than MaxExchangeIvs since): its IV restarts from the phase 1 block,
        // so the responder's chained answer no longer opens to the same plaintext.
        Assert.Equal(ParseStatus.Ok, IsakmpCodec.TryDecode(firstAnswer, out var message));
        Assert.Equal(ParseStatus.Ok, initiator.TryOpen(message!, out var plaintext, out _));
        Assert.NotEqual(Repeat(2, 32), plaintext[4..36]);
    }

    [Fact]
    public void Unsupported_ciphers_and_key_lengths_are_refused()
    {
        var iv = new byte[16];
        Assert.Throws<NotSupportedException>(() => V1MessageProtector.Create(Phase1Encryption.DesCbc, new byte[8], Sha256, new byte[8]));
        Assert.Throws<NotSupportedException>(() => V1MessageProtector.Create(Phase1Encryption.AesCbc, new byte[20], Sha256, iv));
        using var tdes = V1MessageProtector.Create(Phase1Encryption.TripleDesCbc, Enumerable.Range(1, 24).Select(i => (byte)(i * 37)).ToArray(), Sha256, new byte[8]);
        Assert.Equal(8, tdes.BlockSize);
    }
}
