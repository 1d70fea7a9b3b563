using Concentrator.Ipsec;

namespace Concentrator.Ike.Wire;

//                      1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |   Diffie-Hellman Group Num    |           RESERVED            |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ~                       Key Exchange Data                       ~
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//                RFC 7296 §3.4, KE payload body

public sealed class KePayload : Payload
{
    private const int FixedLength = 4;

    public KePayload(DhGroup group, byte[] data) { Group = group; Data = data; }
    public DhGroup Group { get; }
    public byte[] Data { get; }
    public override PayloadType Type => PayloadType.KeyExchange;
    public override int BodyLength => FixedLength + Data.Length;

    public override void WriteBody(ref SpanWriter writer)
    {
        writer.WriteUInt16((ushort)Group);
        writer.WriteZeros(2);
        writer.WriteBytes(Data);
    }

    /// <summary>
    /// Group and data length are not judged here: an unsupported group is answered with
    /// INVALID_KE_PAYLOAD and a wrong-length value is rejected by the key exchange (RFC 7296 §1.2, §3.4).
    /// </summary>
    public static ParseStatus TryParse(ReadOnlySpan<byte> body, out KePayload? payload)
    {
        payload = null;
        var r = new SpanReader(body);
        if (!r.TryReadUInt16(out ushort group) || !r.TrySkip(2)) return ParseStatus.Truncated;
        payload = new KePayload((DhGroup)group, r.Rest.ToArray());
        return ParseStatus.Ok;
    }
}
