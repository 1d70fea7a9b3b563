using Concentrator.Ipsec;

namespace Concentrator.Ike.Wire;

//                      1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ~                        Vendor ID (VID)                        ~
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//                RFC 7296 §3.12, Vendor ID payload body

public sealed class VendorIdPayload : Payload
{
    public VendorIdPayload(byte[] data) => Data = data;
    public byte[] Data { get; }
    public override PayloadType Type => PayloadType.VendorId;
    public override int BodyLength => Data.Length;
    public override void WriteBody(ref SpanWriter writer) => writer.WriteBytes(Data);

    /// <summary>Any content is acceptable: a VID we do not recognise is ignored (RFC 7296 §3.12).</summary>
    public static ParseStatus TryParse(ReadOnlySpan<byte> body, out VendorIdPayload? payload)
    {
        payload = new VendorIdPayload(body.ToArray());
        return ParseStatus.Ok;
    }
}
