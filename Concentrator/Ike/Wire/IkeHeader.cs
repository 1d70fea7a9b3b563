using Concentrator.Ipsec;

namespace Concentrator.Ike.Wire;

//                      1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                       IKE SA Initiator's SPI                  |
// |                                                               |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                       IKE SA Responder's SPI                  |
// |                                                               |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |  Next Payload | MjVer | MnVer | Exchange Type |     Flags     |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                          Message ID                           |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                            Length                             |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//                     RFC 7296 §3.1, IKE header

/// <summary>The fixed 28-octet IKE header.</summary>
public readonly record struct IkeHeader(
    ulong InitiatorSpi,
    ulong ResponderSpi,
    PayloadType NextPayload,
    byte MajorVersion,
    byte MinorVersion,
    ExchangeType Exchange,
    IkeFlags Flags,
    uint MessageId,
    uint Length)
{
    public bool IsResponse => (Flags & IkeFlags.Response) != 0;

    /// <summary>True when the sender is the original initiator of the IKE SA.</summary>
    public bool FromInitiator => (Flags & IkeFlags.Initiator) != 0;

    /// <summary>
    /// Parses the header only. Checks the version and that <see cref="Length"/> equals the datagram
    /// length (RFC 7296 §3.1); it does not look at the payloads.
    /// </summary>
    public static ParseStatus TryParse(ReadOnlySpan<byte> datagram, out IkeHeader header)
    {
        header = default;
        var r = new SpanReader(datagram);
        if (!r.TryReadUInt64(out ulong spii) || !r.TryReadUInt64(out ulong spir) ||
            !r.TryReadUInt8(out byte next) || !r.TryReadUInt8(out byte version) ||
            !r.TryReadUInt8(out byte exchange) || !r.TryReadUInt8(out byte flags) ||
            !r.TryReadUInt32(out uint messageId) || !r.TryReadUInt32(out uint length))
        {
            return ParseStatus.Truncated;
        }

        header = new IkeHeader(spii, spir, (PayloadType)next, (byte)(version >> 4), (byte)(version & 0x0F),
            (ExchangeType)exchange, (IkeFlags)flags, messageId, length);
        if (header.MajorVersion != ProtocolConstants.MajorVersion)
        {
            return ParseStatus.BadVersion;
        }

        if (length != (uint)datagram.Length)
        {
            return ParseStatus.BadLength;
        }

        return ParseStatus.Ok;
    }

    public void Write(Span<byte> destination)
    {
        var w = new SpanWriter(destination);
        w.WriteUInt64(InitiatorSpi);
        w.WriteUInt64(ResponderSpi);
        w.WriteUInt8((byte)NextPayload);
        w.WriteUInt8((byte)((MajorVersion << 4) | (MinorVersion & 0x0F)));
        w.WriteUInt8((byte)Exchange);
        w.WriteUInt8((byte)Flags);
        w.WriteUInt32(MessageId);
        w.WriteUInt32(Length);
    }
}
