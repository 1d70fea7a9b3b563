using System.Net;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;
using static Concentrator.Tests.Ike.Wire.WireSamples;

namespace Concentrator.Tests.Ike.Wire;

/// <summary>Body encode → parse round trips and body-level rejections, one payload type at a time.</summary>
public class PayloadTests
{
    [Fact]
    public void Sa_RoundTrips_WithKeyLengthAndSpi()
    {
        foreach (var sa in new[] { IkeSa(), EspSa() })
        {
            var body = EncodeBody(sa);
            Assert.Equal(ParseStatus.Ok, SaPayload.TryParse(body, out var parsed));
            Assert.Equal(sa.Proposals.Count, parsed!.Proposals.Count);
            for (int i = 0; i < sa.Proposals.Count; i++)
            {
                var want = sa.Proposals[i];
                var got = parsed.Proposals[i];
                Assert.Equal(want.Number, got.Number);
                Assert.Equal(want.Protocol, got.Protocol);
                Assert.Equal(want.Spi, got.Spi);
                Assert.Equal(want.Transforms, got.Transforms);
            }
        }
    }

    [Fact]
    public void Sa_WireLayout_MarksLastSubstructures()
    {
        var body = EncodeBody(IkeSa());
        // First proposal: Last Substruc = 2 (more follow); its length 8 + 12 + 8 + 8 = 36.
        Assert.Equal(2, body[0]);
        Assert.Equal(36, (body[2] << 8) | body[3]);
        // First transform: 3 (more), length 12, with TV Key Length 256.
        Assert.Equal(3, body[8]);
        Assert.Equal(12, body[11]);
        Assert.Equal([0x80, 0x0E, 0x01, 0x00], body[16..20]);
        // Second proposal starts at 36 and is the last one.
        Assert.Equal(0, body[36]);
        Assert.Equal(2, body[40]);
        // Last transform of the last proposal has marker 0.
        Assert.Equal(0, body[^8]);
    }

    [Fact]
    public void Sa_Rejects_BrokenSubstructures()
    {
        var good = EncodeBody(EspSa());
        // Layout: proposal header 0..7, SPI 8..11, transform 1 at 12 (length 12), transform 2 at 24 (length 8).
        Assert.Equal(ParseStatus.Ok, SaPayload.TryParse(good, out _));
        Assert.Equal(ParseStatus.InvalidSyntax, SaPayload.TryParse([], out _));
        Assert.Equal(ParseStatus.InvalidSyntax, SaPayload.TryParse(WithByte(good, 0, 1), out _));     // bad Last Substruc
        Assert.Equal(ParseStatus.Truncated, SaPayload.TryParse(WithByte(good, 0, 2), out _));         // says more, none follow
        Assert.Equal(ParseStatus.BadLength, SaPayload.TryParse(WithUInt16(good, 2, 7), out _));       // proposal length < 8
        Assert.Equal(ParseStatus.BadLength, SaPayload.TryParse(WithUInt16(good, 2, 33), out _));      // past the body
        Assert.Equal(ParseStatus.BadLength, SaPayload.TryParse(WithUInt16(good, 2, 31), out _));      // cuts the last transform
        Assert.Equal(ParseStatus.BadLength, SaPayload.TryParse([.. good, 0], out _));                  // octet after last proposal
        Assert.Equal(ParseStatus.InvalidSyntax, SaPayload.TryParse(WithByte(good, 4, 0), out _));     // proposal number 0
        Assert.Equal(ParseStatus.InvalidSyntax, SaPayload.TryParse(WithByte(good, 5, 0), out _));     // protocol 0
        Assert.Equal(ParseStatus.InvalidSyntax, SaPayload.TryParse(WithByte(good, 5, 4), out _));     // protocol 4
        Assert.Equal(ParseStatus.InvalidSyntax, SaPayload.TryParse(WithByte(good, 6, 8), out _));     // ESP SPI size 8
        Assert.Equal(ParseStatus.InvalidSyntax, SaPayload.TryParse(WithByte(good, 7, 0), out _));     // zero transforms
        Assert.NotEqual(ParseStatus.Ok, SaPayload.TryParse(WithByte(good, 7, 1), out _));             // count < present
        Assert.NotEqual(ParseStatus.Ok, SaPayload.TryParse(WithByte(good, 7, 3), out _));             // count > present
        Assert.Equal(ParseStatus.TooManyItems, SaPayload.TryParse(WithByte(good, 7, 65), out _));
        Assert.Equal(ParseStatus.InvalidSyntax, SaPayload.TryParse(WithByte(good, 12, 0), out _));    // first transform says last
        Assert.Equal(ParseStatus.InvalidSyntax, SaPayload.TryParse(WithByte(good, 24, 3), out _));    // last transform says more
        Assert.Equal(ParseStatus.BadLength, SaPayload.TryParse(WithUInt16(good, 14, 7), out _));      // transform length < 8
        Assert.Equal(ParseStatus.BadLength, SaPayload.TryParse(WithUInt16(good, 26, 9), out _));      // transform past proposal
        Assert.Equal(ParseStatus.BadLength, SaPayload.TryParse(WithUInt16(good, 14, 10), out _));     // half an attribute
    }

    [Fact]
    public void Sa_ChecksProposalNumbers()
    {
        static SaPayload Two(byte a, byte b) => new(
        [
            new Proposal(a, ProtocolId.Ike, [], [new Transform(TransformType.Encryption, 12, 128)]),
            new Proposal(b, ProtocolId.Ike, [], [new Transform(TransformType.Encryption, 12, 256)]),
        ]);

        Assert.Equal(ParseStatus.Ok, SaPayload.TryParse(EncodeBody(Two(1, 2)), out _));
        Assert.Equal(ParseStatus.InvalidSyntax, SaPayload.TryParse(EncodeBody(Two(2, 3)), out _));
        Assert.Equal(ParseStatus.InvalidSyntax, SaPayload.TryParse(EncodeBody(Two(1, 1)), out _));
        Assert.Equal(ParseStatus.InvalidSyntax, SaPayload.TryParse(EncodeBody(Two(1, 3)), out _));
        // A single chosen proposal keeps the number it had in the offer (§3.3.1).
        var answer = new SaPayload([new Proposal(3, ProtocolId.Ike, [], [new Transform(TransformType.Prf, 5)])]);
        Assert.Equal(ParseStatus.Ok, SaPayload.TryParse(EncodeBody(answer), out var parsed));
        Assert.Equal(3, parsed!.Proposals[0].Number);
    }

    [Fact]
    public void Sa_Attributes_KeyLengthKept_OthersSkipped()
    {
        // One proposal, one transform ENCR/AES-CBC carrying: TLV type 99 (3 value octets), TV type 17, TV Key Length 192.
        byte[] body =
        [
            0, 0, 0, 31, 1, 1, 0, 1,
            0, 0, 0, 23, 1, 0, 0, 12,
            0x00, 99, 0, 3, 0xAA, 0xBB, 0xCC,
            0x80, 17, 0, 1,
            0x80, 14, 0, 192,
        ];
        Assert.Equal(ParseStatus.Ok, SaPayload.TryParse(body, out var sa));
        var t = sa!.Proposals[0].Transforms[0];
        Assert.Equal(new Transform(TransformType.Encryption, 12, 192) { HasUnknownAttributes = true }, t);

        // TLV length running past the transform.
        Assert.Equal(ParseStatus.BadLength, SaPayload.TryParse(WithUInt16(body, 18, 4), out _));
        // Key Length in TLV form, twice, or zero.
        Assert.Equal(ParseStatus.InvalidSyntax, SaPayload.TryParse(WithByte(body, 27, 0x00), out _));
        Assert.Equal(ParseStatus.InvalidSyntax, SaPayload.TryParse(WithByte(body, 24, 14), out _));
        Assert.Equal(ParseStatus.InvalidSyntax, SaPayload.TryParse(WithUInt16(body, 29, 0), out _));
    }

    [Fact]
    public void Sa_TooManyProposals()
    {
        var proposals = Enumerable.Range(1, WireLimits.MaxProposals + 1)
            .Select(i => new Proposal((byte)i, ProtocolId.Esp, [0, 0, 0, 1], [new Transform(TransformType.Encryption, 20, 256)]))
            .ToList();
        Assert.Equal(ParseStatus.TooManyItems, SaPayload.TryParse(EncodeBody(new SaPayload(proposals)), out _));
        Assert.Equal(ParseStatus.Ok, SaPayload.TryParse(EncodeBody(new SaPayload(proposals[..^1])), out var ok));
        Assert.Equal(WireLimits.MaxProposals, ok!.Proposals.Count);
    }

    [Fact]
    public void Ke_RoundTrips_AndNeedsFixedPart()
    {
        var ke = Ke();
        var body = EncodeBody(ke);
        Assert.Equal([0x00, 0x13, 0x00, 0x00], body[..4]);
        Assert.Equal(ParseStatus.Ok, KePayload.TryParse(body, out var parsed));
        Assert.Equal(ke.Group, parsed!.Group);
        Assert.Equal(ke.Data, parsed.Data);
        Assert.Equal(ParseStatus.Truncated, KePayload.TryParse(body[..3], out var none));
        Assert.Null(none);
    }

    [Fact]
    public void Id_RoundTrips_GetBody_AndRejects()
    {
        var id = IdI();
        var body = EncodeBody(id);
        Assert.Equal(body, id.GetBody());
        Assert.Equal([(byte)IdType.Fqdn, 0, 0, 0], body[..4]);
        Assert.Equal(ParseStatus.Ok, IdPayload.TryParse(PayloadType.IdInitiator, body, out var parsed));
        Assert.Equal(PayloadType.IdInitiator, parsed!.Type);
        Assert.Equal(id.IdType, parsed.IdType);
        Assert.Equal(id.Data, parsed.Data);

        // The signed body is the received one, RESERVED octets included (RFC 7296 §2.15).
        var odd = WithByte(body, 2, 0x55);
        Assert.Equal(ParseStatus.Ok, IdPayload.TryParse(PayloadType.IdResponder, odd, out var received));
        Assert.Equal(odd, received!.GetBody());

        Assert.Equal(ParseStatus.Truncated, IdPayload.TryParse(PayloadType.IdInitiator, body[..3], out _));
        Assert.Equal(ParseStatus.InvalidSyntax, IdPayload.TryParse(PayloadType.IdInitiator, WithByte(body, 0, 4), out _));
        Assert.Equal(ParseStatus.InvalidSyntax, IdPayload.TryParse(PayloadType.IdInitiator, body[..4], out _));
        Assert.Equal(ParseStatus.InvalidSyntax, IdPayload.TryParse(PayloadType.Authentication, body, out _));
        Assert.Equal(ParseStatus.InvalidSyntax, IdPayload.TryParse(PayloadType.IdInitiator, [1, 0, 0, 0, 10, 0, 0], out _));
        Assert.Equal(ParseStatus.Ok, IdPayload.TryParse(PayloadType.IdInitiator, [1, 0, 0, 0, 10, 0, 0, 1], out var v4));
        Assert.Equal([10, 0, 0, 1], v4!.Data);
    }

    [Fact]
    public void Auth_RoundTrips()
    {
        var auth = Auth();
        var body = EncodeBody(auth);
        Assert.Equal(ParseStatus.Ok, AuthPayload.TryParse(body, out var parsed));
        Assert.Equal(auth.Method, parsed!.Method);
        Assert.Equal(auth.Data, parsed.Data);
        Assert.Equal(ParseStatus.Truncated, AuthPayload.TryParse(body[..3], out _));
    }

    [Theory]
    [InlineData(15, ParseStatus.InvalidSyntax)]
    [InlineData(16, ParseStatus.Ok)]
    [InlineData(256, ParseStatus.Ok)]
    [InlineData(257, ParseStatus.InvalidSyntax)]
    [InlineData(0, ParseStatus.InvalidSyntax)]
    public void Nonce_LengthBounds(int length, ParseStatus expected)
    {
        var data = Bytes(length, length);
        Assert.Equal(expected, NoncePayload.TryParse(data, out var parsed));
        if (expected == ParseStatus.Ok) Assert.Equal(data, parsed!.Data);
        else Assert.Null(parsed);
    }

    [Fact]
    public void Notify_RoundTrips_WithAndWithoutSpi()
    {
        foreach (var n in new[] { NatSrc(), RekeySa(), new NotifyPayload(NotifyType.Cookie, Bytes(8, 9)) })
        {
            Assert.Equal(ParseStatus.Ok, NotifyPayload.TryParse(EncodeBody(n), out var parsed));
            Assert.Equal(n.NotifyType, parsed!.NotifyType);
            Assert.Equal(n.Protocol, parsed.Protocol);
            Assert.Equal(n.Spi, parsed.Spi);
            Assert.Equal(n.Data, parsed.Data);
            Assert.Equal(n.IsError, parsed.IsError);
        }
    }

    [Fact]
    public void Notify_Rejects_BadSpi()
    {
        var body = EncodeBody(RekeySa()); // 03 04 4009 01020304
        Assert.Equal(ParseStatus.Truncated, NotifyPayload.TryParse(body[..3], out _));
        Assert.Equal(ParseStatus.BadLength, NotifyPayload.TryParse(body[..7], out _));
        Assert.Equal(ParseStatus.InvalidSyntax, NotifyPayload.TryParse(WithByte(body, 1, 8), out _));  // ESP with 8
        Assert.Equal(ParseStatus.InvalidSyntax, NotifyPayload.TryParse(WithByte(body, 0, 9), out _));  // protocol 9
        Assert.Equal(ParseStatus.InvalidSyntax, NotifyPayload.TryParse(WithByte(body, 0, 0), out _));  // SPI without protocol
        // With no SPI the Protocol ID is ignored (§3.10).
        Assert.Equal(ParseStatus.Ok, NotifyPayload.TryParse([9, 0, 0x40, 0x00], out var n));
        Assert.Equal(ProtocolId.None, n!.Protocol);
        Assert.Equal(NotifyType.InitialContact, n.NotifyType);
        Assert.False(n.IsError);
        Assert.Equal(ParseStatus.Ok, NotifyPayload.TryParse([0, 0, 0, 14], out var error));
        Assert.True(error!.IsError);
    }

    [Fact]
    public void Delete_RoundTrips_AndChecksCounts()
    {
        foreach (var d in new[] { DeleteEsp(), DeleteIke() })
        {
            Assert.Equal(ParseStatus.Ok, DeletePayload.TryParse(EncodeBody(d), out var parsed));
            Assert.Equal(d.Protocol, parsed!.Protocol);
            Assert.Equal(d.Spis, parsed.Spis);
        }

        var esp = EncodeBody(DeleteEsp()); // 03 04 0002 01020304 05060708
        Assert.Equal(ParseStatus.Truncated, DeletePayload.TryParse(esp[..2], out _));
        Assert.Equal(ParseStatus.BadLength, DeletePayload.TryParse(esp[..11], out _));
        Assert.Equal(ParseStatus.BadLength, DeletePayload.TryParse([.. esp, 0], out _));
        Assert.Equal(ParseStatus.BadLength, DeletePayload.TryParse(WithUInt16(esp, 2, 3), out _));
        Assert.Equal(ParseStatus.BadLength, DeletePayload.TryParse(WithUInt16(esp, 2, 0xFFFF), out _));
        Assert.Equal(ParseStatus.InvalidSyntax, DeletePayload.TryParse(WithByte(esp, 1, 8), out _));
        Assert.Equal(ParseStatus.InvalidSyntax, DeletePayload.TryParse(WithByte(esp, 0, 0), out _));
        Assert.Equal(ParseStatus.InvalidSyntax, DeletePayload.TryParse([1, 0, 0, 1], out _));     // IKE with a count
        Assert.Equal(ParseStatus.InvalidSyntax, DeletePayload.TryParse([1, 8, 0, 0], out _));     // IKE with SPI size
    }

    [Fact]
    public void Ts_RoundTrips_V4AndV6()
    {
        foreach (var ts in new[] { TsI(), TsR() })
        {
            var body = EncodeBody(ts);
            Assert.Equal(ParseStatus.Ok, TsPayload.TryParse(ts.Type, body, out var parsed));
            Assert.Equal(ts.Type, parsed!.Type);
            Assert.Equal(ts.Selectors, parsed.Selectors);
        }

        var layout = EncodeBody(TsI());
        Assert.Equal(4 + 16 + 40, layout.Length);
        Assert.Equal([2, 0, 0, 0, 7, 0, 0, 16], layout[..8]);
        Assert.Equal([8, 17, 0, 40], layout[20..24]);
    }

    [Fact]
    public void Ts_Rejects()
    {
        var body = EncodeBody(TsI()); // count 2; v4 selector at 4 (16), v6 selector at 20 (40)
        Assert.Equal(ParseStatus.Truncated, TsPayload.TryParse(PayloadType.TsInitiator, body[..3], out _));
        Assert.Equal(ParseStatus.InvalidSyntax, TsPayload.TryParse(PayloadType.TsInitiator, WithByte(body, 0, 0), out _));
        Assert.Equal(ParseStatus.TooManyItems, TsPayload.TryParse(PayloadType.TsInitiator, WithByte(body, 0, 65), out _));
        Assert.Equal(ParseStatus.Truncated, TsPayload.TryParse(PayloadType.TsInitiator, WithByte(body, 0, 3), out _));
        Assert.Equal(ParseStatus.BadLength, TsPayload.TryParse(PayloadType.TsInitiator, WithByte(body, 0, 1), out _)); // 40 octets left over
        Assert.Equal(ParseStatus.InvalidSyntax, TsPayload.TryParse(PayloadType.TsInitiator, WithByte(body, 4, 9), out _));
        Assert.Equal(ParseStatus.BadLength, TsPayload.TryParse(PayloadType.TsInitiator, WithUInt16(body, 6, 40), out _));
        Assert.Equal(ParseStatus.BadLength, TsPayload.TryParse(PayloadType.TsInitiator, WithUInt16(body, 22, 16), out _));
        Assert.Equal(ParseStatus.BadLength, TsPayload.TryParse(PayloadType.TsInitiator, body[..^1], out _));
        Assert.Equal(ParseStatus.InvalidSyntax, TsPayload.TryParse(PayloadType.Nonce, body, out _));

        var many = Enumerable.Repeat(new TrafficSelector(TsType.Ipv4AddressRange, 0, 0, 65535, IPAddress.Any, IPAddress.Broadcast), WireLimits.MaxTrafficSelectors);
        Assert.Equal(ParseStatus.Ok, TsPayload.TryParse(PayloadType.TsResponder, EncodeBody(new TsPayload(PayloadType.TsResponder, many.ToList())), out var max));
        Assert.Equal(WireLimits.MaxTrafficSelectors, max!.Selectors.Count);
    }

    [Fact]
    public void Config_RoundTrips_AndRejects()
    {
        var cp = Cp();
        var body = EncodeBody(cp);
        Assert.Equal(ParseStatus.Ok, ConfigPayload.TryParse(body, out var parsed));
        Assert.Equal(cp.ConfigType, parsed!.ConfigType);
        Assert.Equal(cp.Attributes.Count, parsed.Attributes.Count);
        for (int i = 0; i < cp.Attributes.Count; i++)
        {
            Assert.Equal(cp.Attributes[i].Type, parsed.Attributes[i].Type);
            Assert.Equal(cp.Attributes[i].Value, parsed.Attributes[i].Value);
        }

        // Layout: 01 000000 | 0001 0000 | 0003 0000 | 0008 0011 <17 octets>
        Assert.Equal(ParseStatus.Truncated, ConfigPayload.TryParse(body[..3], out _));
        Assert.Equal(ParseStatus.InvalidSyntax, ConfigPayload.TryParse(WithByte(body, 0, 0), out _));
        Assert.Equal(ParseStatus.InvalidSyntax, ConfigPayload.TryParse(WithByte(body, 0, 5), out _));
        Assert.Equal(ParseStatus.BadLength, ConfigPayload.TryParse(WithUInt16(body, 14, 18), out _));
        Assert.Equal(ParseStatus.Truncated, ConfigPayload.TryParse(body[..14], out _));
        // The R bit is ignored.
        Assert.Equal(ParseStatus.Ok, ConfigPayload.TryParse(WithByte(body, 4, 0x80), out var r));
        Assert.Equal(ConfigAttributeType.InternalIp4Address, r!.Attributes[0].Type);

        var many = Enumerable.Repeat(new ConfigAttribute(ConfigAttributeType.InternalIp4Dns, []), WireLimits.MaxConfigAttributes + 1).ToList();
        Assert.Equal(ParseStatus.TooManyItems, ConfigPayload.TryParse(EncodeBody(new ConfigPayload(ConfigType.Request, many)), out _));
        Assert.Equal(ParseStatus.Ok, ConfigPayload.TryParse(EncodeBody(new ConfigPayload(ConfigType.Request, many[1..])), out _));
    }

    [Fact]
    public void Cert_And_CertReq_RoundTrip()
    {
        foreach (var c in new[] { Cert(), CertReq(), new CertPayload(PayloadType.CertificateRequest, CertEncoding.X509Signature, []) })
        {
            var body = EncodeBody(c);
            Assert.Equal(ParseStatus.Ok, CertPayload.TryParse(c.Type, body, out var parsed));
            Assert.Equal(c.Type, parsed!.Type);
            Assert.Equal(c.Encoding, parsed.Encoding);
            Assert.Equal(c.Data, parsed.Data);
        }

        Assert.Equal(ParseStatus.Truncated, CertPayload.TryParse(PayloadType.Certificate, [], out _));
        Assert.Equal(ParseStatus.InvalidSyntax, CertPayload.TryParse(PayloadType.VendorId, [4, 1], out _));
    }

    [Fact]
    public void VendorId_And_Eap_RoundTrip()
    {
        var vid = Vid();
        Assert.Equal(ParseStatus.Ok, VendorIdPayload.TryParse(EncodeBody(vid), out var v));
        Assert.Equal(vid.Data, v!.Data);

        var eap = Eap();
        Assert.Equal(ParseStatus.Ok, EapPayload.TryParse(EncodeBody(eap), out var e));
        Assert.Equal(eap.Data, e!.Data);
        Assert.Equal(ParseStatus.Truncated, EapPayload.TryParse(eap.Data[..3], out _));
        Assert.Equal(ParseStatus.BadLength, EapPayload.TryParse(eap.Data[..8], out _));
        Assert.Equal(ParseStatus.BadLength, EapPayload.TryParse(WithUInt16(eap.Data, 2, 3), out _));
    }
}
