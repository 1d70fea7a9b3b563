using System.Buffers.Binary;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;
using static Concentrator.Tests.Ike.Wire.V1.V1Samples;

namespace Concentrator.Tests.Ike.Wire.V1;

/// <summary>Malformed ISAKMP datagrams: each comes back as the non-Ok status named, never as an exception.</summary>
public class IsakmpHostileInputTests
{
    private static byte[] Full() => IsakmpCodec.Encode(Header(V1ExchangeType.IdentityProtection), AllPayloads());

    /// <summary>A message of one payload with the given body, its generic header written by the codec.</summary>
    private static byte[] WithBody(V1PayloadType type, byte[] body)
    {
        var datagram = new byte[V1Constants.HeaderLength + 4 + body.Length];
        (Header(V1ExchangeType.IdentityProtection) with { NextPayload = type, Length = (uint)datagram.Length }).Write(datagram);
        BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(V1Constants.HeaderLength + 2), (ushort)(4 + body.Length));
        body.CopyTo(datagram, V1Constants.HeaderLength + 4);
        return datagram;
    }

    private static ParseStatus Decode(byte[] datagram) => IsakmpCodec.TryDecode(datagram, out _);

    [Fact]
    public void Every_truncation_is_refused()
    {
        var full = Full();
        Assert.Equal(ParseStatus.Ok, Decode(full));
        for (int length = 0; length < full.Length; length++)
        {
            var cut = full.AsSpan(0, length).ToArray();
            Assert.NotEqual(ParseStatus.Ok, IsakmpCodec.TryDecode(cut, out var m));
            Assert.Null(m);
            // The header's Length told the truth about the cut datagram: the payload chain itself is short.
            if (length >= V1Constants.HeaderLength)
            {
                BinaryPrimitives.WriteUInt32BigEndian(cut.AsSpan(24), (uint)length);
                Assert.NotEqual(ParseStatus.Ok, Decode(cut));
            }
        }
    }

    [Fact]
    public void Every_single_octet_change_is_parsed_or_refused_without_an_exception()
    {
        var full = Full();
        for (int i = 0; i < full.Length; i++)
        {
            foreach (byte value in new byte[] { 0x00, 0xff, (byte)(full[i] ^ 0x01), (byte)(full[i] + 4) })
            {
                var changed = (byte[])full.Clone();
                changed[i] = value;
                var status = Decode(changed);
                Assert.True(Enum.IsDefined(status));
            }
        }
    }

    [Fact]
    public void Header_lies_are_refused()
    {
        var full = Full();
        var version2 = (byte[])full.Clone();
        version2[17] = 0x20;
        Assert.Equal(ParseStatus.BadVersion, Decode(version2));

        var longer = (byte[])full.Clone();
        BinaryPrimitives.WriteUInt32BigEndian(longer.AsSpan(24), (uint)full.Length + 1);
        Assert.Equal(ParseStatus.BadLength, Decode(longer));

        var undefinedFlag = (byte[])full.Clone();
        undefinedFlag[19] = 0x08;
        Assert.Equal(ParseStatus.InvalidSyntax, Decode(undefinedFlag));

        var noInitiatorCookie = (byte[])full.Clone();
        noInitiatorCookie.AsSpan(0, 8).Clear();
        Assert.Equal(ParseStatus.InvalidSyntax, Decode(noInitiatorCookie));

        var trailing = full.Append((byte)0).ToArray();
        BinaryPrimitives.WriteUInt32BigEndian(trailing.AsSpan(24), (uint)trailing.Length);
        Assert.Equal(ParseStatus.BadLength, Decode(trailing));
    }

    [Fact]
    public void Encrypted_bodies_must_be_whole_cipher_blocks()
    {
        foreach (int length in new[] { 0, 1, 7, 15 })
        {
            var datagram = new byte[V1Constants.HeaderLength + length];
            (Header(V1ExchangeType.IdentityProtection, V1Flags.Encryption) with { NextPayload = V1PayloadType.Hash, Length = (uint)datagram.Length }).Write(datagram);
            Assert.Equal(ParseStatus.BadLength, Decode(datagram));
        }
    }

    [Fact]
    public void Payload_length_lies_are_refused()
    {
        var full = Full();
        int first = V1Constants.HeaderLength;
        foreach (ushort lie in new ushort[] { 0, 3, (ushort)(full.Length - first + 1), ushort.MaxValue })
        {
            var changed = (byte[])full.Clone();
            BinaryPrimitives.WriteUInt16BigEndian(changed.AsSpan(first + 2), lie);
            Assert.Equal(ParseStatus.BadLength, Decode(changed));
        }
    }

    [Fact]
    public void A_chain_longer_than_the_bound_is_refused_and_a_chain_cannot_loop()
    {
        var many = Enumerable.Range(0, 65).Select(i => (V1Payload)new V1DataPayload(V1PayloadType.VendorId, [(byte)i])).ToList();
        Assert.Equal(ParseStatus.TooManyPayloads, Decode(IsakmpCodec.Encode(Header(V1ExchangeType.Aggressive), many)));
        Assert.Equal(ParseStatus.Ok, Decode(IsakmpCodec.Encode(Header(V1ExchangeType.Aggressive), many.Take(64).ToList())));

        // A last payload naming a successor runs into the end of the message: it cannot point back.
        var one = IsakmpCodec.Encode(Header(V1ExchangeType.Aggressive), [new V1DataPayload(V1PayloadType.VendorId, [1])]);
        one[V1Constants.HeaderLength] = (byte)V1PayloadType.VendorId;
        Assert.Equal(ParseStatus.Truncated, Decode(one));
    }

    [Fact]
    public void Substructures_at_the_top_of_a_chain_are_refused()
    {
        Assert.Equal(ParseStatus.BadPayloadSequence, Decode(WithBody(V1PayloadType.Proposal, new byte[8])));
        Assert.Equal(ParseStatus.BadPayloadSequence, Decode(WithBody(V1PayloadType.Transform, new byte[8])));
    }

    public static TheoryData<string, V1PayloadType, string, ParseStatus> BadBodies => new()
    {
        { "SA of another DOI", V1PayloadType.SecurityAssociation, "00000002 00000001 00000008 01010001", ParseStatus.InvalidSyntax },
        { "SA with secrecy labels", V1PayloadType.SecurityAssociation, "00000001 00000003", ParseStatus.InvalidSyntax },
        { "SA without proposals", V1PayloadType.SecurityAssociation, "00000001 00000001", ParseStatus.InvalidSyntax },
        { "proposal length short", V1PayloadType.SecurityAssociation, "00000001 00000001 00000007 01010000", ParseStatus.BadLength },
        { "proposal without transforms", V1PayloadType.SecurityAssociation, "00000001 00000001 00000008 01010000", ParseStatus.InvalidSyntax },
        { "proposal announces two transforms, has one", V1PayloadType.SecurityAssociation,
            "00000001 00000001 00000010 01010002 03000008 01010000", ParseStatus.BadLength },
        { "transform marker says more", V1PayloadType.SecurityAssociation,
            "00000001 00000001 00000010 01010001 03000008 01010000", ParseStatus.InvalidSyntax },
        { "ESP SPI of 3 octets", V1PayloadType.SecurityAssociation, "00000001 00000001 0000000f 01030301 aabbcc 00000008 010c0000", ParseStatus.InvalidSyntax },
        { "proposal numbers decrease", V1PayloadType.SecurityAssociation,
            "00000001 00000001 02000010 02010001 00000008 01010000 00000010 01010001 00000008 01010000", ParseStatus.InvalidSyntax },
        { "attribute overruns its transform", V1PayloadType.SecurityAssociation,
            "00000001 00000001 00000014 01010001 0000000c 01010000 000c0008", ParseStatus.BadLength },
        { "nonce of 7 octets", V1PayloadType.Nonce, "01020304050607", ParseStatus.InvalidSyntax },
        { "empty KE", V1PayloadType.KeyExchange, "", ParseStatus.InvalidSyntax },
        { "IPv4 ID of 5 octets", V1PayloadType.Identification, "01000000 0102030405", ParseStatus.InvalidSyntax },
        { "subnet mask with holes", V1PayloadType.Identification, "04000000 0a000000 ff00ff00", ParseStatus.InvalidSyntax },
        { "range ending before it starts", V1PayloadType.Identification, "07000000 0a000002 0a000001", ParseStatus.InvalidSyntax },
        { "unknown ID type", V1PayloadType.Identification, "0c000000 01", ParseStatus.InvalidSyntax },
        { "empty FQDN", V1PayloadType.Identification, "02000000", ParseStatus.InvalidSyntax },
        { "certificate without data", V1PayloadType.Certificate, "04", ParseStatus.InvalidSyntax },
        { "reserved certificate encoding", V1PayloadType.Certificate, "00 01", ParseStatus.InvalidSyntax },
        { "notification SPI size 5 for ESP", V1PayloadType.Notification, "00000001 03 05 6000 0102030405", ParseStatus.InvalidSyntax },
        { "notification SPI beyond the payload", V1PayloadType.Notification, "00000001 01 10 8d28 0102", ParseStatus.BadLength },
        { "notification of an unknown DOI", V1PayloadType.Notification, "00000007 01 00 6002", ParseStatus.InvalidSyntax },
        { "delete of no SPIs", V1PayloadType.Delete, "00000001 03 04 0000", ParseStatus.InvalidSyntax },
        { "delete counting more SPIs than sent", V1PayloadType.Delete, "00000001 03 04 0002 01020304", ParseStatus.BadLength },
        { "delete of ISAKMP with 8-octet SPIs", V1PayloadType.Delete, "00000001 01 08 0001 0102030405060708", ParseStatus.InvalidSyntax },
        { "NAT-OA with an FQDN", V1PayloadType.NatOa, "02000000 61", ParseStatus.InvalidSyntax },
        { "NAT-OA IPv4 of 16 octets", V1PayloadType.NatOa, "01000000 000102030405060708090a0b0c0d0e0f", ParseStatus.InvalidSyntax },
        { "mode config of type 5", V1PayloadType.Attribute, "05001234", ParseStatus.InvalidSyntax },
        { "mode config attribute overrun", V1PayloadType.Attribute, "01001234 40890010 616c", ParseStatus.BadLength },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public void Malformed_payload_bodies_are_refused(string why, V1PayloadType type, string bodyHex, ParseStatus expected)
    {
        var body = Convert.FromHexString(string.Concat(bodyHex.Where(c => !char.IsWhiteSpace(c))));
        Assert.True(expected == Decode(WithBody(type, body)), why);
    }

    [Fact]
    public void Random_mutations_never_throw()
    {
        var random = new Random(19);
        var full = Full();
        for (int round = 0; round < 3000; round++)
        {
            var changed = (byte[])full.Clone();
            int edits = random.Next(1, 6);
            for (int e = 0; e < edits; e++) changed[random.Next(changed.Length)] = (byte)random.Next(256);
            int length = random.Next(2) == 0 ? changed.Length : random.Next(changed.Length);
            var datagram = changed.AsSpan(0, length).ToArray();
            if (length >= V1Constants.HeaderLength && random.Next(2) == 0)
            {
                BinaryPrimitives.WriteUInt32BigEndian(datagram.AsSpan(24), (uint)length);
            }

            Assert.True(Enum.IsDefined(Decode(datagram)));
        }
    }
}
