using Concentrator.Ipsec;

namespace Concentrator.Ike.Wire;

//                      1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |     Code      | Identifier    |           Length              |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |     Type      | Type_Data...
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//                RFC 7296 §3.16, EAP payload body (one EAP message, RFC 3748 §4)

public sealed class EapPayload : Payload
{
    private const int EapHeaderLength = 4;

    public EapPayload(byte[] data) => Data = data;
    public byte[] Data { get; }
    public override PayloadType Type => PayloadType.Eap;
    public override int BodyLength => Data.Length;
    public override void WriteBody(ref SpanWriter writer) => writer.WriteBytes(Data);

    /// <summary>The body is one EAP message; its own Length field must equal the body length.</summary>
    public static ParseStatus TryParse(ReadOnlySpan<byte> body, out EapPayload? payload)
    {
        payload = null;
        var r = new SpanReader(body);
        if (!r.TrySkip(2) || !r.TryReadUInt16(out ushort length)) return ParseStatus.Truncated;
        if (length != body.Length || length < EapHeaderLength) return ParseStatus.BadLength;
        payload = new EapPayload(body.ToArray());
        return ParseStatus.Ok;
    }
}
