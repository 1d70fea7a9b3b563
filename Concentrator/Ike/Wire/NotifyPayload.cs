using Concentrator.Ipsec;

namespace Concentrator.Ike.Wire;

//                      1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |  Protocol ID  |   SPI Size    |      Notify Message Type      |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ~                Security Parameter Index (SPI)                 ~
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ~                       Notification Data                       ~
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//                RFC 7296 §3.10, Notify payload body

public sealed class NotifyPayload : Payload
{
    private const int FixedLength = 4;

    public NotifyPayload(NotifyType notifyType, byte[]? data = null, ProtocolId protocol = ProtocolId.None, byte[]? spi = null)
    { NotifyType = notifyType; Data = data ?? []; Protocol = protocol; Spi = spi ?? []; }
    public NotifyType NotifyType { get; }
    public ProtocolId Protocol { get; }
    public byte[] Spi { get; }
    public byte[] Data { get; }
    public bool IsError => (ushort)NotifyType < 16384;
    public override PayloadType Type => PayloadType.Notify;
    public override int BodyLength => FixedLength + Spi.Length + Data.Length;

    public override void WriteBody(ref SpanWriter writer)
    {
        if (Spi.Length > byte.MaxValue) throw new InvalidOperationException("Notify SPI longer than 255 octets.");
        writer.WriteUInt8((byte)Protocol);
        writer.WriteUInt8((byte)Spi.Length);
        writer.WriteUInt16((ushort)NotifyType);
        writer.WriteBytes(Spi);
        writer.WriteBytes(Data);
    }

    /// <summary>
    /// The SPI size must fit the protocol: 0 always, 4 for AH/ESP, 8 for IKE. Unknown notify types are kept
    /// (the caller ignores unknown status types and treats unknown error types as fatal, RFC 7296 §3.10.1).
    /// </summary>
    public static ParseStatus TryParse(ReadOnlySpan<byte> body, out NotifyPayload? payload)
    {
        payload = null;
        var r = new SpanReader(body);
        if (!r.TryReadUInt8(out byte protocol) || !r.TryReadUInt8(out byte spiSize) || !r.TryReadUInt16(out ushort type))
        {
            return ParseStatus.Truncated;
        }

        ProtocolId proto;
        if (spiSize == 0)
        {
            // §3.10: with no SPI the Protocol ID MUST be ignored on receipt; keep it only when meaningful.
            proto = protocol <= (byte)ProtocolId.Esp ? (ProtocolId)protocol : ProtocolId.None;
        }
        else
        {
            proto = (ProtocolId)protocol;
            bool sizeFits = proto switch
            {
                ProtocolId.Ike => spiSize == 8,
                ProtocolId.Ah or ProtocolId.Esp => spiSize == 4,
                _ => false,
            };
            if (!sizeFits) return ParseStatus.InvalidSyntax;
        }

        if (!r.TryReadBytes(spiSize, out var spi)) return ParseStatus.BadLength;
        payload = new NotifyPayload((NotifyType)type, r.Rest.ToArray(), proto, spi.ToArray());
        return ParseStatus.Ok;
    }
}
