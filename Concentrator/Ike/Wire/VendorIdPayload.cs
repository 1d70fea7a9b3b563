namespace Concentrator.Ike.Wire;
public sealed class VendorIdPayload : Payload
{
    public VendorIdPayload(byte[] data) => Data = data;
    public byte[] Data { get; }
    public override PayloadType Type => PayloadType.VendorId;
    public override int BodyLength => throw new NotImplementedException();
    public override void WriteBody(ref SpanWriter writer) => throw new NotImplementedException();
    public static ParseStatus TryParse(ReadOnlySpan<byte> body, out VendorIdPayload? payload) => throw new NotImplementedException();
}
