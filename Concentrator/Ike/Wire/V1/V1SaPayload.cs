using Concentrator.Ipsec;

namespace Concentrator.Ike.Wire.V1;

// RFC 2408 §3.4: SA payload = DOI, Situation, then Proposal payloads (§3.5), each followed by its Transform
// payloads (§3.6). Proposals and transforms carry a generic header whose Next Payload is 2 (another proposal)
// or 3 (another transform) or 0 (the last).
//
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// !              Domain of Interpretation  (DOI)                  !
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// !                           Situation                           ~
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//                §3.4 SA payload body (IPsec DOI situation: 4 octets, RFC 2407 §4.6.1)
//
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ! Next Payload  !   RESERVED    !         Payload Length        !
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// !  Proposal #   !  Protocol-Id  !    SPI Size   !# of Transforms!
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// !                        SPI (variable)                         !
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//                §3.5 Proposal payload
//
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ! Next Payload  !   RESERVED    !         Payload Length        !
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// !  Transform #  !  Transform-Id !           RESERVED2           !
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ~                        SA Attributes                          ~
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//                §3.6 Transform payload

/// <summary>One transform: its number, ID (KEY_IKE in phase 1, an ESP/AH transform ID in phase 2) and SA attributes.</summary>
public sealed record V1Transform(byte Number, byte Id, IReadOnlyList<DataAttribute> Attributes);

/// <summary>
/// One proposal. Proposals sharing a number are one offer combining protocols (RFC 2408 §4.2, e.g. ESP with IPComp);
/// the selector groups them, the codec keeps the order received.
/// </summary>
public sealed record V1Proposal(byte Number, V1ProtocolId Protocol, byte[] Spi, IReadOnlyList<V1Transform> Transforms);

public sealed class V1SaPayload : V1Payload
{
    private const int FixedLength = 8;
    private const int ProposalFixedLength = 8;
    private const int TransformFixedLength = 8;
    private const byte Last = 0;

    public V1SaPayload(IReadOnlyList<V1Proposal> proposals, Doi doi = Doi.Ipsec, Situation situation = Situation.IdentityOnly)
    {
        Proposals = proposals;
        DomainOfInterpretation = doi;
        Situation = situation;
    }

    public Doi DomainOfInterpretation { get; }
    public Situation Situation { get; }
    public IReadOnlyList<V1Proposal> Proposals { get; }
    public override V1PayloadType Type => V1PayloadType.SecurityAssociation;

    public override int BodyLength
    {
        get
        {
            int length = FixedLength;
            foreach (var p in Proposals) length += ProposalLength(p);
            return length;
        }
    }

    public override void WriteBody(ref SpanWriter writer)
    {
        writer.WriteUInt32((uint)DomainOfInterpretation);
        writer.WriteUInt32((uint)Situation);
        for (int i = 0; i < Proposals.Count; i++)
        {
            var p = Proposals[i];
            int length = ProposalLength(p);
            if (length > ushort.MaxValue || p.Spi.Length > byte.MaxValue || p.Transforms.Count > byte.MaxValue)
            {
                throw new InvalidOperationException("Proposal too long, or SPI or transform count exceeds one octet.");
            }

            writer.WriteUInt8(i == Proposals.Count - 1 ? Last : (byte)V1PayloadType.Proposal);
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
                writer.WriteUInt8(j == p.Transforms.Count - 1 ? Last : (byte)V1PayloadType.Transform);
                writer.WriteUInt8(0);
                writer.WriteUInt16((ushort)TransformLength(t));
                writer.WriteUInt8(t.Number);
                writer.WriteUInt8(t.Id);
                writer.WriteUInt16(0);
                foreach (var a in t.Attributes) a.Write(ref writer);
            }
        }
    }

    /// <summary>
    /// Checks what needs no policy: the IPsec DOI with the identity-only situation (RFC 2407 §4.2: secrecy and
    /// integrity labels are not supported), at least one proposal, Next Payload markers that agree with the
    /// substructures present, a Proposal Payload Length that covers exactly its header, SPI and transforms (RFC 2408
    /// §3.5), transform lengths that nest exactly, proposal numbers that never decrease
    /// (§4.2), an SPI size fitting the protocol (ISAKMP 0 or 16, AH/ESP 4, IPComp 2 or 4), # of Transforms equal to
    /// the transforms present and non-zero.
    /// </summary>
    public static ParseStatus TryParse(ReadOnlySpan<byte> body, out V1SaPayload? payload)
    {
        payload = null;
        var r = new SpanReader(body);
        if (!r.TryReadUInt32(out uint doi) || !r.TryReadUInt32(out uint situation)) return ParseStatus.Truncated;
        if ((Doi)doi != Doi.Ipsec || (Situation)situation != Situation.IdentityOnly) return ParseStatus.InvalidSyntax;
        if (r.Remaining == 0) return ParseStatus.InvalidSyntax;

        var proposals = new List<V1Proposal>();
        byte next = (byte)V1PayloadType.Proposal;
        while (next == (byte)V1PayloadType.Proposal)
        {
            if (proposals.Count == WireLimits.MaxProposals) return ParseStatus.TooManyItems;
            if (!r.TryReadUInt8(out next) || !r.TrySkip(1) || !r.TryReadUInt16(out ushort length)) return ParseStatus.Truncated;
            if (next != Last && next != (byte)V1PayloadType.Proposal) return ParseStatus.InvalidSyntax;
            if (length < ProposalFixedLength || !r.TryReadBytes(length - 4, out var proposalBody)) return ParseStatus.BadLength;
            var status = TryParseProposal(proposalBody, out var proposal);
            if (status != ParseStatus.Ok) return status;
            if (proposals.Count > 0 && proposal!.Number < proposals[^1].Number) return ParseStatus.InvalidSyntax;
            proposals.Add(proposal!);
        }

        // The proposals must account for every octet of the SA payload.
        if (r.Remaining != 0) return ParseStatus.BadLength;
        payload = new V1SaPayload(proposals, (Doi)doi, (Situation)situation);
        return ParseStatus.Ok;
    }

    /// <summary>Parses a proposal after its generic header.</summary>
    private static ParseStatus TryParseProposal(ReadOnlySpan<byte> data, out V1Proposal? proposal)
    {
        proposal = null;
        var r = new SpanReader(data);
        if (!r.TryReadUInt8(out byte number) || !r.TryReadUInt8(out byte protocol) ||
            !r.TryReadUInt8(out byte spiSize) || !r.TryReadUInt8(out byte count))
        {
            return ParseStatus.BadLength;
        }

        bool spiOk = (V1ProtocolId)protocol switch
        {
            V1ProtocolId.Isakmp => spiSize is 0 or V1Constants.IsakmpSpiLength,
            V1ProtocolId.Ah or V1ProtocolId.Esp => spiSize == V1Constants.IpsecSpiLength,
            V1ProtocolId.IpComp => spiSize is 2 or 4,
            _ => false,
        };
        if (!spiOk || count == 0) return ParseStatus.InvalidSyntax;
        if (count > WireLimits.MaxTransformsPerProposal) return ParseStatus.TooManyItems;
        if (!r.TryReadBytes(spiSize, out var spi)) return ParseStatus.BadLength;

        var transforms = new V1Transform[count];
        for (int i = 0; i < count; i++)
        {
            if (!r.TryReadUInt8(out byte next) || !r.TrySkip(1) || !r.TryReadUInt16(out ushort length)) return ParseStatus.BadLength;
            if (next != (i == count - 1 ? Last : (byte)V1PayloadType.Transform)) return ParseStatus.InvalidSyntax;
            if (length < TransformFixedLength || !r.TryReadBytes(length - 4, out var rest)) return ParseStatus.BadLength;
            var status = TryParseTransform(rest, out var transform);
            if (status != ParseStatus.Ok) return status;
            transforms[i] = transform!;
        }

        if (r.Remaining != 0) return ParseStatus.BadLength;
        proposal = new V1Proposal(number, (V1ProtocolId)protocol, spi.ToArray(), transforms);
        return ParseStatus.Ok;
    }

    private static ParseStatus TryParseTransform(ReadOnlySpan<byte> data, out V1Transform? transform)
    {
        transform = null;
        var r = new SpanReader(data);
        if (!r.TryReadUInt8(out byte number) || !r.TryReadUInt8(out byte id) || !r.TrySkip(2)) return ParseStatus.BadLength;
        var status = DataAttribute.TryParseAll(r.Rest, WireLimits.MaxConfigAttributes, out var attributes);
        if (status != ParseStatus.Ok) return status == ParseStatus.Truncated ? ParseStatus.BadLength : status;
        transform = new V1Transform(number, id, attributes);
        return ParseStatus.Ok;
    }

    private static int ProposalLength(V1Proposal p)
    {
        int length = ProposalFixedLength + p.Spi.Length;
        foreach (var t in p.Transforms) length += TransformLength(t);
        return length;
    }

    private static int TransformLength(V1Transform t) => TransformFixedLength + DataAttribute.TotalLength(t.Attributes);
}
