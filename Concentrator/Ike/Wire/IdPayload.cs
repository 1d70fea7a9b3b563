namespace Concentrator.Ike.Wire;
public sealed class IdPayload : Payload
{
    public IdPayload(PayloadType type, IdType idType, byte[] data) { Type = type; IdType = idType; Data = data; }
    public override PayloadType Type { get; }
    public IdType IdType { get; }
    public byte[] Data { get; }
    /// <summary>ID Type | RESERVED(3) | data: "RestOfInitIDPayload" of RFC 7296 §2.15.</summary>
    public byte[] GetBody() => throw new NotImplementedException();
    public override int BodyLength => throw new NotImplementedException();
    public override void WriteBody(ref SpanWriter writer) => throw new NotImplementedException();
    public static ParseStatus TryParse(PayloadType type, ReadOnlySpan<byte> body, out IdPayload? payload) => throw new NotImplementedException();
}
