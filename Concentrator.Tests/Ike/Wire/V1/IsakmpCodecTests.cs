using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;
using static Concentrator.Tests.Ike.Wire.V1.V1Samples;

namespace Concentrator.Tests.Ike.Wire.V1;

/// <summary>The IKEv1 (ISAKMP) codec: parse and build, every payload round-trips, a hand-written message parses field by field.</summary>
public class IsakmpCodecTests
{
    [Fact]
    public void Every_payload_round_trips_through_a_message()
    {
        var payloads = AllPayloads();
        var bytes = IsakmpCodec.Encode(Header(V1ExchangeType.IdentityProtection), payloads);

        Assert.Equal(ParseStatus.Ok, IsakmpCodec.TryDecode(bytes, out var message));
        Assert.Equal(payloads.Select(p => p.Type), message!.Payloads.Select(p => p.Type));
        Assert.Equal(bytes, IsakmpCodec.Encode(message.Header with { Length = 0 }, message.Payloads));
        Assert.Equal((uint)bytes.Length, message.Header.Length);
        Assert.Equal(V1ExchangeType.IdentityProtection, message.Header.Exchange);
        Assert.Equal(ICookie, message.Header.InitiatorCookie);
        Assert.Equal(RCookie, message.Header.ResponderCookie);
    }

    [Fact]
    public void Decoded_fields_match_what_was_built()
    {
        var bytes = IsakmpCodec.Encode(Header(V1ExchangeType.QuickMode, messageId: 0xdeadbeef), AllPayloads().Skip(1).Prepend(QuickModeSa()).ToList());
        Assert.Equal(ParseStatus.Ok, IsakmpCodec.TryDecode(bytes, out var m));
        Assert.Equal(0xdeadbeefu, m!.Header.MessageId);

        var sa = m.Find<V1SaPayload>()!;
        Assert.Equal(2, sa.Proposals.Count);
        Assert.Equal(V1ProtocolId.Esp, sa.Proposals[0].Protocol);
        Assert.Equal(new byte[] { 0xc0, 1, 2, 3 }, sa.Proposals[0].Spi);
        var t = sa.Proposals[0].Transforms[0];
        Assert.Equal((byte)EspTransformId.AesCbc, t.Id);
        Assert.Contains(t.Attributes, a => a.Type == (ushort)Phase2AttributeType.EncapsulationMode && a.BasicValue == (ushort)EncapsulationMode.UdpTunnel);

        var ids = m.Payloads.OfType<V1IdPayload>().ToList();
        Assert.Equal((17, (ushort)500), (ids[0].Protocol, ids[0].Port));
        Assert.Equal(V1IdType.Ipv4Subnet, ids[1].IdType);

        var notifies = m.Payloads.OfType<V1NotificationPayload>().ToList();
        Assert.Equal(V1NotifyType.InitialContact, notifies[0].NotifyType);
        Assert.False(notifies[0].IsError);
        Assert.Equal(new byte[] { 0, 0, 0, 7 }, notifies[1].Data);

        var delete = m.Find<V1DeletePayload>()!;
        Assert.Equal(2, delete.Spis.Count);
        Assert.Equal(new byte[] { 198, 51, 100, 7 }, m.Find<NatOaPayload>()!.Address);

        var attr = m.Find<AttributePayload>()!;
        Assert.Equal((CfgMessageType.Request, (ushort)0x1234), (attr.MessageType, attr.Identifier));
        Assert.Equal("alice"u8.ToArray(), attr.Attributes[2].Value);
        Assert.True(m.Payloads.OfType<V1CertPayload>().Last().Type == V1PayloadType.CertificateRequest);
    }

    [Fact]
    public void A_main_mode_first_message_written_by_hand_parses_field_by_field()
    {
        var bytes = Convert.FromHexString(string.Concat(MainModeOneHex.Where(c => !char.IsWhiteSpace(c))));
        Assert.Equal(ParseStatus.Ok, IsakmpCodec.TryDecode(bytes, out var m));
        Assert.Equal(0UL, m!.Header.ResponderCookie);
        Assert.Equal((V1Constants.MajorVersion, V1Constants.MinorVersion), (m.Header.MajorVersion, m.Header.MinorVersion));
        var sa = Assert.IsType<V1SaPayload>(m.Payloads[0]);
        Assert.Equal((Doi.Ipsec, Situation.IdentityOnly), (sa.DomainOfInterpretation, sa.Situation));
        var transform = Assert.Single(Assert.Single(sa.Proposals).Transforms);
        Assert.Equal((byte)IsakmpTransformId.KeyIke, transform.Id);
        Assert.Equal(
            [(1, 5), (2, 2), (3, 1), (4, 2), (11, 1)],
            transform.Attributes.Where(a => a.Basic).Select(a => ((int)a.Type, (int)a.BasicValue)));
        var life = transform.Attributes.Single(a => a.Type == (ushort)Phase1AttributeType.LifeDuration);
        Assert.True(life.TryGetNumber(out uint seconds));
        Assert.Equal(28800u, seconds);
        var vid = Assert.IsType<V1DataPayload>(m.Payloads[1]);
        Assert.Equal(V1PayloadType.VendorId, vid.Type);

        // Our encoder writes the same octets.
        Assert.Equal(bytes, IsakmpCodec.Encode(m.Header, m.Payloads));
    }

    [Fact]
    public void An_encrypted_message_keeps_its_ciphertext_and_its_chain_parses_after_padding()
    {
        var chain = IsakmpCodec.EncodeChain([new V1DataPayload(V1PayloadType.Hash, Bytes(20, 1)), new V1IdPayload(V1IdType.Fqdn, "a"u8.ToArray())]);
        var header = Header(V1ExchangeType.IdentityProtection, V1Flags.Encryption) with { NextPayload = V1PayloadType.Hash };
        var padded = chain.Concat(new byte[16 - chain.Length % 16]).ToArray();
        var datagram = new byte[V1Constants.HeaderLength + padded.Length];
        (header with { Length = (uint)datagram.Length }).Write(datagram);
        padded.CopyTo(datagram, V1Constants.HeaderLength);

        Assert.Equal(ParseStatus.Ok, IsakmpCodec.TryDecode(datagram, out var m));
        Assert.Empty(m!.Payloads);
        Assert.Equal(padded, m.EncryptedBody);

        var payloads = new List<V1Payload>();
        Assert.Equal(ParseStatus.BadLength, IsakmpCodec.TryDecodeChain(V1PayloadType.Hash, padded, allowPadding: false, payloads));
        Assert.Empty(payloads);
        Assert.Equal(ParseStatus.Ok, IsakmpCodec.TryDecodeChain(V1PayloadType.Hash, padded, allowPadding: true, payloads));
        Assert.Equal([V1PayloadType.Hash, V1PayloadType.Identification], payloads.Select(p => p.Type));
    }

    [Fact]
    public void The_commit_bit_is_reported_and_nothing_more()
    {
        var bytes = IsakmpCodec.Encode(Header(V1ExchangeType.QuickMode, V1Flags.Commit), [new V1DataPayload(V1PayloadType.Hash, Bytes(20, 1))]);
        Assert.Equal(ParseStatus.Ok, IsakmpCodec.TryDecode(bytes, out var m));
        Assert.Equal(V1Flags.Commit, m!.Header.Flags);
    }

    [Fact]
    public void Data_attribute_numbers_read_basic_and_short_variable_values_only()
    {
        Assert.True(DataAttribute.OfBasic(1, 7).TryGetNumber(out uint a) && a == 7);
        Assert.True(DataAttribute.OfVariable(1, [1, 0, 0, 0]).TryGetNumber(out uint b) && b == 0x01000000);
        Assert.False(DataAttribute.OfVariable(1, [1, 0, 0, 0, 0]).TryGetNumber(out _));
        Assert.False(DataAttribute.OfVariable(1, []).TryGetNumber(out _));
    }
}
