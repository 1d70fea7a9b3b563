using Concentrator.Ipsec;

namespace Concentrator.Ike.Wire;

//                      1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// | Protocol ID   |   SPI Size    |          Num of SPIs          |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ~               Security Parameter Index(es) (SPI)              ~
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//                RFC 7296 §3.11, Delete payload body

public sealed class DeletePayload : Payload
{
    private const int FixedLength = 4;
    private const int ChildSpiSize = 4;

    public DeletePayload(ProtocolId protocol, IReadOnlyList<byte[]> spis) { Protocol = protocol; Spis = spis; }
    public ProtocolId Protocol { get; }
    public IReadOnlyList<byte[]> Spis { get; }
    public override PayloadType Type => PayloadType.Delete;
    public override int BodyLength => FixedLength + Spis.Count * SpiSize;

    /// <summary>§3.11: zero for IKE (the SA is named by the header), four for AH/ESP.</summary>
    private int SpiSize => Protocol == ProtocolId.Ike ? 0 : ChildSpiSize;

    public override void WriteBody(ref SpanWriter writer)
    {
        if (Protocol is not (ProtocolId.Ike or ProtocolId.Ah or ProtocolId.Esp)) throw new InvalidOperationException("Delete needs IKE, AH or ESP.");
        if (Protocol == ProtocolId.Ike && Spis.Count != 0) throw new InvalidOperationException("An IKE SA delete carries no SPI.");
        if (Spis.Count > ushort.MaxValue) throw new InvalidOperationException("Too many SPIs for one Delete payload.");
        writer.WriteUInt8((byte)Protocol);
        writer.WriteUInt8((byte)SpiSize);
        writer.WriteUInt16((ushort)Spis.Count);
        foreach (var spi in Spis)
        {
            if (spi.Length != SpiSize) throw new InvalidOperationException("Delete SPIs must be 4 octets for AH/ESP.");
            writer.WriteBytes(spi);
        }
    }

    /// <summary>
    /// IKE: SPI size 0 and no SPIs. AH/ESP: SPI size 4; Num of SPIs × 4 must equal the remaining octets.
    /// An AH/ESP delete with zero SPIs is accepted (it deletes nothing; RFC 7296 does not forbid it).
    /// </summary>
    public static ParseStatus TryParse(ReadOnlySpan<byte> body, out DeletePayload? payload)
    {
        payload = null;
        var r = new SpanReader(body);
        if (!r.TryReadUInt8(out byte protocol) || !r.TryReadUInt8(out byte spiSize) || !r.TryReadUInt16(out ushort count))
        {
            return ParseStatus.Truncated;
        }

        switch ((ProtocolId)protocol)
        {
            case ProtocolId.Ike:
                if (spiSize != 0 || count != 0) return ParseStatus.InvalidSyntax;
                break;
            case ProtocolId.Ah:
            case ProtocolId.Esp:
                if (spiSize != ChildSpiSize) return ParseStatus.InvalidSyntax;
                break;
            default:
                return ParseStatus.InvalidSyntax;
        }

        // count ≤ 65535 and spiSize = 4, so the product cannot overflow.
        if (r.Remaining != count * spiSize) return ParseStatus.BadLength;
        var spis = new byte[count][];
        for (int i = 0; i < count; i++)
        {
            r.TryReadBytes(spiSize, out var spi);
            spis[i] = spi.ToArray();
        }

        payload = new DeletePayload((ProtocolId)protocol, spis);
        return ParseStatus.Ok;
    }
}
