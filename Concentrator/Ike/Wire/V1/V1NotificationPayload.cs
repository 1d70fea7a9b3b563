using Concentrator.Ipsec;

namespace Concentrator.Ike.Wire.V1;

//                      1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// !              Domain of Interpretation  (DOI)                  !
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// !  Protocol-ID  !   SPI Size    !      Notify Message Type      !
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ~                Security Parameter Index (SPI)                 ~
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ~                       Notification Data                       ~
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//                RFC 2408 §3.14, Notification payload body

/// <summary>
/// A Notification payload. INITIAL-CONTACT (RFC 2407 §4.6.3.3) and DPD R-U-THERE/ACK (RFC 3706 §5: the SPI is
/// both cookies, the data a 32-bit sequence number) use the ISAKMP protocol with a 16-octet SPI.
/// </summary>
public sealed class V1NotificationPayload : V1Payload
{
    private const int FixedLength = 8;

    public V1NotificationPayload(V1NotifyType notifyType, V1ProtocolId protocol = V1ProtocolId.Isakmp, byte[]? spi = null,
        byte[]? data = null, Doi doi = Doi.Ipsec)
    {
        NotifyType = notifyType;
        Protocol = protocol;
        Spi = spi ?? [];
        Data = data ?? [];
        DomainOfInterpretation = doi;
    }

    public Doi DomainOfInterpretation { get; }
    public V1ProtocolId Protocol { get; }
    public V1NotifyType NotifyType { get; }
    public byte[] Spi { get; }
    public byte[] Data { get; }

    /// <summary>RFC 2408 §3.14.1: types below 8192 are errors, 16384 and above status.</summary>
    public bool IsError => (ushort)NotifyType < 8192;

    public override V1PayloadType Type => V1PayloadType.Notification;
    public override int BodyLength => FixedLength + Spi.Length + Data.Length;

    public override void WriteBody(ref SpanWriter writer)
    {
        if (Spi.Length > byte.MaxValue) throw new InvalidOperationException("Notification SPI longer than 255 octets.");
        writer.WriteUInt32((uint)DomainOfInterpretation);
        writer.WriteUInt8((byte)Protocol);
        writer.WriteUInt8((byte)Spi.Length);
        writer.WriteUInt16((ushort)NotifyType);
        writer.WriteBytes(Spi);
        writer.WriteBytes(Data);
    }

    /// <summary>
    /// The DOI is 0 (ISAKMP) or 1 (IPsec: RFC 2407 §4.6.3; 0 is what some peers send for ISAKMP-level notifications);
    /// the SPI size fits the protocol: 0 always, 8 or 16 for ISAKMP (one or both cookies), 4 for AH/ESP, 2 or 4 for IPComp.
    /// Unknown notify types are kept: which ones matter is the exchange's table.
    /// </summary>
    public static ParseStatus TryParse(ReadOnlySpan<byte> body, out V1NotificationPayload? payload)
    {
        payload = null;
        var r = new SpanReader(body);
        if (!r.TryReadUInt32(out uint doi) || !r.TryReadUInt8(out byte protocol) || !r.TryReadUInt8(out byte spiSize) ||
            !r.TryReadUInt16(out ushort type))
        {
            return ParseStatus.Truncated;
        }

        if ((Doi)doi is not (Doi.Isakmp or Doi.Ipsec)) return ParseStatus.InvalidSyntax;
        if (!SpiSizeFits((V1ProtocolId)protocol, spiSize)) return ParseStatus.InvalidSyntax;
        if (!r.TryReadBytes(spiSize, out var spi)) return ParseStatus.BadLength;
        payload = new V1NotificationPayload((V1NotifyType)type, (V1ProtocolId)protocol, spi.ToArray(), r.Rest.ToArray(), (Doi)doi);
        return ParseStatus.Ok;
    }

    internal static bool SpiSizeFits(V1ProtocolId protocol, int size) => size == 0 || protocol switch
    {
        V1ProtocolId.Isakmp => size is V1Constants.CookieLength or V1Constants.IsakmpSpiLength,
        V1ProtocolId.Ah or V1ProtocolId.Esp => size == V1Constants.IpsecSpiLength,
        V1ProtocolId.IpComp => size is 2 or 4,
        _ => false,
    };
}
