using System.Buffers.Binary;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;
using static Concentrator.Tests.Ike.Wire.WireSamples;

namespace Concentrator.Tests.Ike.Wire;

public class IkeCodecTests
{
    [Fact]
    public void Decodes_HandBuiltIkeSaInit()
    {
        var datagram = IkeSaInit;
        Assert.Equal(212, datagram.Length);
        Assert.Equal(ParseStatus.Ok, IkeCodec.TryDecode(datagram, out var m));

        var h = m!.Header;
        Assert.Equal(Spii, h.InitiatorSpi);
        Assert.Equal(0UL, h.ResponderSpi);
        Assert.Equal(ExchangeType.IkeSaInit, h.Exchange);
        Assert.Equal(PayloadType.SecurityAssociation, h.NextPayload);
        Assert.True(h.FromInitiator);
        Assert.False(h.IsResponse);
        Assert.Equal(0u, h.MessageId);
        Assert.Equal(212u, h.Length);

        Assert.Equal([PayloadType.SecurityAssociation, PayloadType.KeyExchange, PayloadType.Nonce, PayloadType.Notify],
            m.Payloads.Select(p => p.Type));

        var proposal = Assert.Single(m.Get<SaPayload>()!.Proposals);
        Assert.Equal(1, proposal.Number);
        Assert.Equal(ProtocolId.Ike, proposal.Protocol);
        Assert.Empty(proposal.Spi);
        Assert.Equal(
        [
            new Transform(TransformType.Encryption, (ushort)EncrAlgorithm.AesCbc, 256),
            new Transform(TransformType.Prf, (ushort)PrfAlgorithm.HmacSha2_256),
            new Transform(TransformType.Integrity, (ushort)IntegAlgorithm.HmacSha2_256_128),
            new Transform(TransformType.DiffieHellman, (ushort)DhGroup.Ecp256),
        ], proposal.Transforms);

        var ke = m.Get<KePayload>()!;
        Assert.Equal(DhGroup.Ecp256, ke.Group);
        Assert.Equal(Enumerable.Range(0, 64).Select(i => (byte)i), ke.Data);
        Assert.Equal(Enumerable.Range(0xA0, 32).Select(i => (byte)i), m.Get<NoncePayload>()!.Data);
        var nat = m.GetNotify(NotifyType.NatDetectionSourceIp)!;
        Assert.Equal(Enumerable.Range(0xE0, 20).Select(i => (byte)i), nat.Data);
        Assert.Empty(nat.Spi);
        Assert.Null(m.GetErrorNotify());

        Assert.Equal(ParseStatus.Ok, PayloadRules.Check(h.Exchange, h.IsResponse, m.Payloads));
        // Re-encoding yields the very same octets.
        Assert.Equal(datagram, IkeCodec.Encode(h, m.Payloads));
    }

    [Fact]
    public void Encode_FillsHeader_AndLinksChain()
    {
        var payloads = new List<Payload> { IkeSa(), Ke(), Nonce() };
        var bytes = IkeCodec.Encode(Header(ExchangeType.IkeSaInit) with { NextPayload = PayloadType.Eap, Length = 999 }, payloads);
        Assert.Equal(28 + IkeCodec.GetChainLength(payloads), bytes.Length);
        Assert.Equal((byte)PayloadType.SecurityAssociation, bytes[16]);
        Assert.Equal(0x20, bytes[17]);
        Assert.Equal((uint)bytes.Length, BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(24)));

        int sa = 28, ke = sa + 4 + payloads[0].BodyLength, nonce = ke + 4 + payloads[1].BodyLength;
        Assert.Equal((byte)PayloadType.KeyExchange, bytes[sa]);
        Assert.Equal((byte)PayloadType.Nonce, bytes[ke]);
        Assert.Equal((byte)PayloadType.None, bytes[nonce]);
        Assert.Equal(4 + payloads[2].BodyLength, BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(nonce + 2)));
        Assert.Equal(0, bytes[sa + 1] | bytes[ke + 1] | bytes[nonce + 1]); // critical bit clear

        var empty = IkeCodec.Encode(Header(ExchangeType.Informational), []);
        Assert.Equal(28, empty.Length);
        Assert.Equal(0, empty[16]);
        Assert.Equal(ParseStatus.Ok, IkeCodec.TryDecode(empty, out var m));
        Assert.Empty(m!.Payloads);
    }

    [Fact]
    public void Message_RoundTrip_AllPayloadTypes()
    {
        var payloads = AllPayloads();
        var header = Header(ExchangeType.IkeAuth, IkeFlags.Response, 7);
        var bytes = IkeCodec.Encode(header, payloads);
        Assert.Equal(ParseStatus.Ok, IkeCodec.TryDecode(bytes, out var m));
        Assert.Equal(header with { NextPayload = payloads[0].Type, Length = (uint)bytes.Length }, m!.Header);
        Assert.Equal(payloads.Select(p => p.Type), m.Payloads.Select(p => p.Type));
        Assert.Equal(payloads.Select(p => p.GetType()), m.Payloads.Select(p => p.GetType()));
        Assert.Equal(bytes, IkeCodec.Encode(m.Header, m.Payloads));

        var unknown = Assert.IsType<UnknownPayload>(m.Payloads[^1]);
        Assert.Equal((PayloadType)200, unknown.Type);
        Assert.Equal([9, 9, 9], unknown.Body);
        Assert.False(unknown.Critical);
        var ts = (TsPayload)m.Payloads.Single(p => p.Type == PayloadType.TsInitiator);
        Assert.Equal(TsI().Selectors, ts.Selectors);
        var del = m.GetAll<DeletePayload>().ToList();
        Assert.Equal(ProtocolId.Esp, del[0].Protocol);
        Assert.Equal(DeleteEsp().Spis, del[0].Spis);
        Assert.Equal(ProtocolId.Ike, del[1].Protocol);
    }

    [Fact]
    public void Chain_RoundTrip_ThroughWriteChain()
    {
        var payloads = AllPayloads();
        var buffer = new byte[IkeCodec.GetChainLength(payloads) + 10];
        int written = IkeCodec.WriteChain(payloads, buffer);
        Assert.Equal(IkeCodec.GetChainLength(payloads), written);

        var into = new List<Payload> { Vid() };
        Assert.Equal(ParseStatus.Ok, IkeCodec.TryDecodeChain(payloads[0].Type, buffer.AsSpan(0, written), into));
        Assert.Equal(payloads.Count + 1, into.Count);
        var again = new byte[written];
        IkeCodec.WriteChain(into.Skip(1).ToList(), again);
        Assert.Equal(buffer[..written], again);

        Assert.Equal(ParseStatus.Ok, IkeCodec.TryDecodeChain(PayloadType.None, [], into));
        Assert.Equal(ParseStatus.BadLength, IkeCodec.TryDecodeChain(PayloadType.None, [0], into));
        Assert.Equal(ParseStatus.Truncated, IkeCodec.TryDecodeChain(PayloadType.Nonce, [], into));
        Assert.Equal(payloads.Count + 1, into.Count); // failures append nothing
    }

    [Fact]
    public void EncryptedPayload_IsLast_KeepsOffsetAndData()
    {
        var skData = Bytes(80, 11);
        var bytes = IkeCodec.Encode(Header(ExchangeType.IkeAuth), [Vid(), new EncryptedPayload(PayloadType.IdInitiator, skData)]);
        Assert.Equal(ParseStatus.Ok, IkeCodec.TryDecode(bytes, out var m));
        var sk = Assert.IsType<EncryptedPayload>(m!.Payloads[1]);
        Assert.Equal(PayloadType.IdInitiator, sk.FirstInner);
        Assert.Equal(skData, sk.Data);
        Assert.Equal(28 + 4 + 16, sk.Offset);
        Assert.Equal((byte)PayloadType.IdInitiator, bytes[sk.Offset]);
        Assert.Equal(skData, bytes[(sk.Offset + 4)..]);
        Assert.False(sk.IsFragment);
        Assert.Equal(PayloadType.Encrypted, sk.Type);
    }

    [Fact]
    public void EncryptedFragment_Decoded()
    {
        byte[] skf = [0, 1, 0, 3, .. Bytes(40, 12)];
        var bytes = IkeCodec.Encode(Header(ExchangeType.IkeAuth), [new EncryptedPayload(PayloadType.IdInitiator, skf) { IsFragment = true }]);
        Assert.Equal((byte)PayloadType.EncryptedFragment, bytes[16]);
        Assert.Equal(ParseStatus.Ok, IkeCodec.TryDecode(bytes, out var m));
        var sk = Assert.IsType<EncryptedPayload>(Assert.Single(m!.Payloads));
        Assert.True(sk.IsFragment);
        Assert.Equal(1, sk.FragmentNumber);
        Assert.Equal(3, sk.TotalFragments);
        Assert.Equal(28, sk.Offset);
        Assert.Equal(skf, sk.Data);

        Assert.Equal(ParseStatus.InvalidSyntax, IkeCodec.TryDecode(WithUInt16(bytes, 32, 0), out _)); // fragment 0
        Assert.Equal(ParseStatus.InvalidSyntax, IkeCodec.TryDecode(WithUInt16(bytes, 32, 4), out _)); // 4 of 3
        var tiny = IkeCodec.Encode(Header(ExchangeType.IkeAuth), [new EncryptedPayload(PayloadType.None, [0, 1, 0]) { IsFragment = true }]);
        Assert.Equal(ParseStatus.BadLength, IkeCodec.TryDecode(tiny, out _));
    }

    [Fact]
    public void Encrypted_NotLast_IsRejected()
    {
        // Build "SK then VID" by hand: WriteChain refuses to produce it.
        var sk = IkeCodec.Encode(Header(ExchangeType.IkeAuth), [new EncryptedPayload(PayloadType.IdInitiator, Bytes(20, 13))]);
        byte[] vid = [0, 0, 0, 8, 1, 2, 3, 4];
        var bad = FixHeaderLength([.. sk, .. vid]);
        Assert.Equal(24, BinaryPrimitives.ReadUInt16BigEndian(bad.AsSpan(30))); // SK ends where the VID starts
        Assert.Equal(ParseStatus.BadPayloadSequence, IkeCodec.TryDecode(bad, out var m));
        Assert.Null(m);

        Assert.Throws<InvalidOperationException>(() =>
            IkeCodec.Encode(Header(ExchangeType.IkeAuth), [new EncryptedPayload(PayloadType.None, []), Vid()]));

        // SK inside SK contents.
        var inner = new byte[IkeCodec.GetChainLength([Vid(), new EncryptedPayload(PayloadType.None, [1, 2])])];
        IkeCodec.WriteChain([Vid(), new EncryptedPayload(PayloadType.None, [1, 2])], inner);
        Assert.Equal(ParseStatus.BadPayloadSequence, IkeCodec.TryDecodeChain(PayloadType.VendorId, inner, []));
    }

    [Fact]
    public void UnknownPayload_CriticalRejected_NonCriticalKept()
    {
        var critical = new UnknownPayload((PayloadType)99, [1, 2, 3]) { Critical = true };
        var bytes = IkeCodec.Encode(Header(ExchangeType.IkeSaInit), [IkeSa(), critical, Ke(), Nonce()]);
        Assert.Equal(ParseStatus.UnsupportedCriticalPayload, IkeCodec.TryDecode(bytes, out var m, out var offending));
        Assert.Null(m);
        Assert.Equal((PayloadType)99, offending);
        Assert.Equal(ParseStatus.UnsupportedCriticalPayload, IkeCodec.TryDecode(bytes, out _));

        var chain = new byte[IkeCodec.GetChainLength([critical])];
        IkeCodec.WriteChain([critical], chain);
        Assert.Equal(ParseStatus.UnsupportedCriticalPayload, IkeCodec.TryDecodeChain((PayloadType)99, chain, [], out var inner));
        Assert.Equal((PayloadType)99, inner);

        var plain = IkeCodec.Encode(Header(ExchangeType.IkeSaInit), [IkeSa(), new UnknownPayload((PayloadType)99, [1, 2, 3]), Ke(), Nonce()]);
        Assert.Equal(ParseStatus.Ok, IkeCodec.TryDecode(plain, out var ok, out var none));
        Assert.Equal(PayloadType.None, none);
        Assert.Equal([1, 2, 3], Assert.IsType<UnknownPayload>(ok!.Payloads[1]).Body);
        Assert.Equal(ParseStatus.Ok, PayloadRules.Check(ExchangeType.IkeSaInit, false, ok.Payloads));

        // The critical bit on a payload we know is accepted and recorded.
        var knownCritical = WithByte(IkeSaInit, 28 + 1, 0x80);
        Assert.Equal(ParseStatus.Ok, IkeCodec.TryDecode(knownCritical, out var k));
        Assert.True(k!.Payloads[0].Critical);
        Assert.False(k.Payloads[1].Critical);
    }

    [Fact]
    public void Encode_RejectsPayloadOver64K()
    {
        Assert.Throws<InvalidOperationException>(() => IkeCodec.Encode(Header(ExchangeType.Informational), [new VendorIdPayload(new byte[65532])]));
        var ok = IkeCodec.Encode(Header(ExchangeType.Informational), [new VendorIdPayload(new byte[65531])]);
        Assert.Equal(ParseStatus.Ok, IkeCodec.TryDecode(ok, out _));
    }
}
