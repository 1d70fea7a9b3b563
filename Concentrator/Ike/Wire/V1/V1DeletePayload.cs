using Concentrator.Ipsec;

namespace Concentrator.Ike.Wire.V1;

//                      1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// !              Domain of Interpretation  (DOI)                  !
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// !  Protocol-Id  !   SPI Size    !           # of SPIs           !
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ~               Security Parameter Index(es) (SPI)              ~
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//                RFC 2408 §3.15, Delete payload body

/// <summary>A Delete payload: one protocol, SPIs of one size (ISAKMP: both cookies, 16 octets; AH/ESP: 4).</summary>
public sealed class V1DeletePayload : V1Payload
{
    private const int FixedLength = 8;

    public V1DeletePayload(V1ProtocolId protocol, IReadOnlyList<byte[]> spis, Doi doi = Doi.Ipsec)
    {
        Protocol = protocol;
        Spis = spis;
        DomainOfInterpretation = doi;
    }

    public Doi DomainOfInterpretation { get; }
    public V1ProtocolId Protocol { get; }
    public IReadOnlyList<byte[]> Spis { get; }
    public override V1PayloadType Type => V1PayloadType.Delete;
    public override int BodyLength => FixedLength + (Spis.Count == 0 ? 0 : Spis.Count * Spis[0].Length);

    public override void WriteBody(ref SpanWriter writer)
    {
        int size = Spis.Count == 0 ? 0 : Spis[0].Length;
        if (Spis.Count > ushort.MaxValue || size > byte.MaxValue || Spis.Any(s => s.Length != size))
        {
            throw new InvalidOperationException("Delete SPIs must share one size of at most 255 octets.");
        }

        writer.WriteUInt32((uint)DomainOfInterpretation);
        writer.WriteUInt8((byte)Protocol);
        writer.WriteUInt8((byte)size);
        writer.WriteUInt16((ushort)Spis.Count);
        foreach (var spi in Spis) writer.WriteBytes(spi);
    }

    /// <summary>
    /// At least one SPI; the size fits the protocol (ISAKMP 16, AH/ESP 4, IPComp 2 or 4); # of SPIs times the size
    /// equals the octets present exactly.
    /// </summary>
    public static ParseStatus TryParse(ReadOnlySpan<byte> body, out V1DeletePayload? payload)
    {
        payload = null;
        var r = new SpanReader(body);
        if (!r.TryReadUInt32(out uint doi) || !r.TryReadUInt8(out byte protocol) || !r.TryReadUInt8(out byte spiSize) ||
            !r.TryReadUInt16(out ushort count))
        {
            return ParseStatus.Truncated;
        }

        if ((Doi)doi is not (Doi.Isakmp or Doi.Ipsec)) return ParseStatus.InvalidSyntax;
        bool sizeOk = (V1ProtocolId)protocol switch
        {
            V1ProtocolId.Isakmp => spiSize == V1Constants.IsakmpSpiLength,
            V1ProtocolId.Ah or V1ProtocolId.Esp => spiSize == V1Constants.IpsecSpiLength,
            V1ProtocolId.IpComp => spiSize is 2 or 4,
            _ => false,
        };
        if (!sizeOk || count == 0) return ParseStatus.InvalidSyntax;
        if (r.Remaining != count * spiSize) return ParseStatus.BadLength;
        var spis = new byte[count][];
        for (int i = 0; i < count; i++)
        {
            r.TryReadBytes(spiSize, out var spi);
            spis[i] = spi.ToArray();
        }

        payload = new V1DeletePayload((V1ProtocolId)protocol, spis, (Doi)doi);
        return ParseStatus.Ok;
    }
}
