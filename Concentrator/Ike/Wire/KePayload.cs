namespace Concentrator.Ike.Wire;
public sealed class KePayload : Payload
{
    public KePayload(DhGroup group, byte[] data) { Group = group; Data = data; }
    public DhGroup Group { get; }
    public byte[] Data { get; }
    public override PayloadType Type => PayloadType.KeyExchange;
    public override int BodyLength => throw new NotImplementedException();
    public override void WriteBody(ref SpanWriter writer) => throw new NotImplementedException();
    public static ParseStatus TryParse(ReadOnlySpan<byte> body, out KePayload? payload) => throw new NotImplementedException();
}
