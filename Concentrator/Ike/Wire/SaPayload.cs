using Concentrator.Ipsec;

namespace Concentrator.Ike.Wire;

// RFC 7296 §3.3: SA payload = one or more Proposal substructures (§3.3.1), each with Transforms
// (§3.3.2) which may carry attributes (§3.3.5, only Key Length is defined).
//
//                      1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// | Last Substruc |   RESERVED    |         Proposal Length       |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// | Proposal Num  |  Protocol ID  |    SPI Size   |Num  Transforms|
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ~                        SPI (variable)                         ~
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ~                        <Transforms>                           ~
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//                §3.3.1 Proposal substructure (Last Substruc: 0 last, 2 more)
//
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// | Last Substruc |   RESERVED    |        Transform Length       |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |Transform Type |   RESERVED    |          Transform ID         |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ~                      Transform Attributes                     ~
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//                §3.3.2 Transform substructure (Last Substruc: 0 last, 3 more)
//
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |A|       Attribute Type        |    AF=0  Attribute Length     |
// |F|                             |    AF=1  Attribute Value      |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                   AF=0  Attribute Value                       |
// |                   AF=1  Not Transmitted                       |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//                §3.3.5 Transform attribute (Key Length = 14, TV format)

/// <summary>One transform. <see cref="KeyLength"/> is the Key Length attribute in bits, 0 when absent.</summary>
public sealed record Transform(TransformType Type, ushort Id, ushort KeyLength = 0)
{
    /// <summary>
    /// True when the received transform carried an attribute other than Key Length. Such attributes are
    /// skipped (and not re-encoded); a transform whose meaning they may change must not be selected.
    /// </summary>
    public bool HasUnknownAttributes { get; init; }
}

public sealed record Proposal(byte Number, ProtocolId Protocol, byte[] Spi, IReadOnlyList<Transform> Transforms);

public sealed class SaPayload : Payload
{
    private const byte LastSubstructure = 0;
    private const byte MoreProposals = 2;
    private const byte MoreTransforms = 3;
    private const int ProposalHeaderLength = 8;
    private const int TransformHeaderLength = 8;
    private const int KeyLengthAttributeLength = 4;
    private const ushort AttributeFormatTv = 0x8000;
    private const int MaxSubstructureLength = ushort.MaxValue;

    public SaPayload(IReadOnlyList<Proposal> proposals) => Proposals = proposals;
    public IReadOnlyList<Proposal> Proposals { get; }
    public override PayloadType Type => PayloadType.SecurityAssociation;

    public override int BodyLength
    {
        get
        {
            int length = 0;
            foreach (var p in Proposals) length += ProposalLength(p);
            return length;
        }
    }

    public override void WriteBody(ref SpanWriter writer)
    {
        for (int i = 0; i < Proposals.Count; i++)
        {
            var p = Proposals[i];
            int length = ProposalLength(p);
            if (length > MaxSubstructureLength) throw new InvalidOperationException("Proposal longer than 65535 octets.");
            if (p.Spi.Length > byte.MaxValue || p.Transforms.Count > byte.MaxValue) throw new InvalidOperationException("Proposal SPI or transform count exceeds one octet.");
            writer.WriteUInt8(i == Proposals.Count - 1 ? LastSubstructure : MoreProposals);
            writer.WriteUInt8(0);
            writer.WriteUInt16((ushort)length);
            writer.WriteUInt8(p.Number);
            writer.WriteUInt8((byte)p.Protocol);
            writer.WriteUInt8((byte)p.Spi.Length);
            writer.WriteUInt8((byte)p.Transforms.Count);
            writer.WriteBytes(p.Spi);
            for (int j = 0; j < p.Transforms.Count; j++)
            {
                var t = p.Transforms[j];
                writer.WriteUInt8(j == p.Transforms.Count - 1 ? LastSubstructure : MoreTransforms);
                writer.WriteUInt8(0);
                writer.WriteUInt16((ushort)TransformLength(t));
                writer.WriteUInt8((byte)t.Type);
                writer.WriteUInt8(0);
                writer.WriteUInt16(t.Id);
                if (t.KeyLength != 0)
                {
                    writer.WriteUInt16((ushort)(AttributeFormatTv | (ushort)TransformAttributeType.KeyLength));
                    writer.WriteUInt16(t.KeyLength);
                }
            }
        }
    }

    /// <summary>
    /// Checks every §3.3.1/§3.3.2/§3.3.5 rule that does not need policy: Last Substruc markers agree with
    /// the substructures present, lengths nest exactly, proposal numbers are non-zero and consecutive
    /// (the first is 1 when several are offered), the protocol is IKE/AH/ESP with a matching SPI size
    /// (IKE 0 or 8, AH/ESP 4), Num Transforms equals the transforms present and is non-zero.
    /// Unknown transform types and IDs are kept: choosing among them is the selector's job (§3.3.6).
    /// </summary>
    public static ParseStatus TryParse(ReadOnlySpan<byte> body, out SaPayload? payload)
    {
        payload = null;
        var r = new SpanReader(body);
        var proposals = new List<Proposal>();
        if (r.Remaining == 0) return ParseStatus.InvalidSyntax;

        byte last = MoreProposals;
        while (last == MoreProposals)
        {
            if (proposals.Count == WireLimits.MaxProposals) return ParseStatus.TooManyItems;
            if (!r.TryReadUInt8(out last) || !r.TrySkip(1) || !r.TryReadUInt16(out ushort length)) return ParseStatus.Truncated;
            if (last != LastSubstructure && last != MoreProposals) return ParseStatus.InvalidSyntax;
            if (length < ProposalHeaderLength) return ParseStatus.BadLength;
            if (!r.TryReadBytes(length - 4, out var rest)) return ParseStatus.BadLength;

            var status = TryParseProposal(rest, out var proposal);
            if (status != ParseStatus.Ok) return status;
            byte expectedNumber = proposals.Count == 0 ? (byte)1 : (byte)(proposals[^1].Number + 1);
            bool numberOk = proposals.Count == 0
                ? proposal!.Number != 0 && (last == LastSubstructure || proposal.Number == 1)
                : proposal!.Number == expectedNumber;
            if (!numberOk) return ParseStatus.InvalidSyntax;
            proposals.Add(proposal);
        }

        // Proposal Length must account for every octet of the payload body.
        if (r.Remaining != 0) return ParseStatus.BadLength;
        payload = new SaPayload(proposals);
        return ParseStatus.Ok;
    }

    /// <summary>Parses a proposal after its Last Substruc | RESERVED | Proposal Length octets.</summary>
    private static ParseStatus TryParseProposal(ReadOnlySpan<byte> data, out Proposal? proposal)
    {
        proposal = null;
        var r = new SpanReader(data);
        if (!r.TryReadUInt8(out byte number) || !r.TryReadUInt8(out byte protocol) ||
            !r.TryReadUInt8(out byte spiSize) || !r.TryReadUInt8(out byte count))
        {
            return ParseStatus.BadLength;
        }

        bool spiOk = (ProtocolId)protocol switch
        {
            ProtocolId.Ike => spiSize is 0 or 8,
            ProtocolId.Ah or ProtocolId.Esp => spiSize == 4,
            _ => false,
        };
        if (!spiOk) return ParseStatus.InvalidSyntax;
        if (count == 0) return ParseStatus.InvalidSyntax;
        if (count > WireLimits.MaxTransformsPerProposal) return ParseStatus.TooManyItems;
        if (!r.TryReadBytes(spiSize, out var spi)) return ParseStatus.BadLength;

        var transforms = new Transform[count];
        for (int i = 0; i < count; i++)
        {
            if (!r.TryReadUInt8(out byte last) || !r.TrySkip(1) || !r.TryReadUInt16(out ushort length))
            {
                return ParseStatus.BadLength;
            }

            // The marker must agree with Num Transforms: "more" on all but the last one.
            if (last != (i == count - 1 ? LastSubstructure : MoreTransforms)) return ParseStatus.InvalidSyntax;
            if (length < TransformHeaderLength || !r.TryReadBytes(length - 4, out var rest)) return ParseStatus.BadLength;
            var status = TryParseTransform(rest, out var transform);
            if (status != ParseStatus.Ok) return status;
            transforms[i] = transform!;
        }

        if (r.Remaining != 0) return ParseStatus.BadLength;
        proposal = new Proposal(number, (ProtocolId)protocol, spi.ToArray(), transforms);
        return ParseStatus.Ok;
    }

    /// <summary>Parses a transform after its Last Substruc | RESERVED | Transform Length octets.</summary>
    private static ParseStatus TryParseTransform(ReadOnlySpan<byte> data, out Transform? transform)
    {
        transform = null;
        var r = new SpanReader(data);
        if (!r.TryReadUInt8(out byte type) || !r.TrySkip(1) || !r.TryReadUInt16(out ushort id)) return ParseStatus.BadLength;

        ushort keyLength = 0;
        bool haveKeyLength = false;
        bool unknown = false;
        while (r.Remaining > 0)
        {
            if (!r.TryReadUInt16(out ushort attrType) || !r.TryReadUInt16(out ushort lengthOrValue)) return ParseStatus.BadLength;
            bool tv = (attrType & AttributeFormatTv) != 0;
            var kind = (TransformAttributeType)(attrType & ~AttributeFormatTv);
            if (kind == TransformAttributeType.KeyLength)
            {
                // §3.3.5: Key Length is fixed-size (TV) and appears at most once; a zero key length is meaningless.
                if (!tv || haveKeyLength || lengthOrValue == 0) return ParseStatus.InvalidSyntax;
                keyLength = lengthOrValue;
                haveKeyLength = true;
            }
            else
            {
                unknown = true;
                if (!tv && !r.TrySkip(lengthOrValue)) return ParseStatus.BadLength;
            }
        }

        transform = new Transform((TransformType)type, id, keyLength) { HasUnknownAttributes = unknown };
        return ParseStatus.Ok;
    }

    private static int ProposalLength(Proposal p)
    {
        int length = ProposalHeaderLength + p.Spi.Length;
        foreach (var t in p.Transforms) length += TransformLength(t);
        return length;
    }

    private static int TransformLength(Transform t) =>
        TransformHeaderLength + (t.KeyLength != 0 ? KeyLengthAttributeLength : 0);
}
