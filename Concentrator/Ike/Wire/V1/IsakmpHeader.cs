using Concentrator.Ipsec;

namespace Concentrator.Ike.Wire.V1;

//                      1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// !                          Initiator                            !
// !                            Cookie                             !
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// !                          Responder                            !
// !                            Cookie                             !
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// !  Next Payload ! MjVer ! MnVer ! Exchange Type !     Flags     !
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// !                          Message ID                           !
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// !                            Length                             !
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//                RFC 2408 §3.1, ISAKMP header (flags: E=1, C=2, A=4)

/// <summary>The fixed 28-octet ISAKMP header. The version nibble is what tells IKEv1 from IKEv2 on a shared port.</summary>
public readonly record struct IsakmpHeader(
    ulong InitiatorCookie,
    ulong ResponderCookie,
    V1PayloadType NextPayload,
    byte MajorVersion,
    byte MinorVersion,
    V1ExchangeType Exchange,
    V1Flags Flags,
    uint MessageId,
    uint Length)
{
    /// <summary>Flag bits RFC 2408 §3.1 does not define; a sender must leave them 0.</summary>
    private const byte UndefinedFlags = 0xF8;

    public bool Encrypted => (Flags & V1Flags.Encryption) != 0;

    /// <summary>
    /// Parses the header only: major version 1 (RFC 2408 §5.2: a higher major version is INVALID-MAJOR-VERSION),
    /// Length equal to the datagram's, no undefined flag bits. The minor version is not checked (§5.2 allows a
    /// receiver to accept a higher minor version) and the commit bit is reported, never acted upon here.
    /// </summary>
    public static ParseStatus TryParse(ReadOnlySpan<byte> datagram, out IsakmpHeader header)
    {
        header = default;
        var r = new SpanReader(datagram);
        if (!r.TryReadUInt64(out ulong icookie) || !r.TryReadUInt64(out ulong rcookie) ||
            !r.TryReadUInt8(out byte next) || !r.TryReadUInt8(out byte version) ||
            !r.TryReadUInt8(out byte exchange) || !r.TryReadUInt8(out byte flags) ||
            !r.TryReadUInt32(out uint messageId) || !r.TryReadUInt32(out uint length))
        {
            return ParseStatus.Truncated;
        }

        header = new IsakmpHeader(icookie, rcookie, (V1PayloadType)next, (byte)(version >> 4), (byte)(version & 0x0F),
            (V1ExchangeType)exchange, (V1Flags)flags, messageId, length);
        if (header.MajorVersion != V1Constants.MajorVersion) return ParseStatus.BadVersion;
        if (length != (uint)datagram.Length) return ParseStatus.BadLength;
        if ((flags & UndefinedFlags) != 0) return ParseStatus.InvalidSyntax;
        // RFC 2408 §3.1: an initiator's first message has a zero responder cookie, but no message has a zero initiator cookie.
        if (icookie == 0) return ParseStatus.InvalidSyntax;
        return ParseStatus.Ok;
    }

    public void Write(Span<byte> destination)
    {
        var w = new SpanWriter(destination);
        w.WriteUInt64(InitiatorCookie);
        w.WriteUInt64(ResponderCookie);
        w.WriteUInt8((byte)NextPayload);
        w.WriteUInt8((byte)((MajorVersion << 4) | (MinorVersion & 0x0F)));
        w.WriteUInt8((byte)Exchange);
        w.WriteUInt8((byte)Flags);
        w.WriteUInt32(MessageId);
        w.WriteUInt32(Length);
    }
}
