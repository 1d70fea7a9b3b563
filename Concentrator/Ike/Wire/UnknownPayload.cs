namespace Concentrator.Ike.Wire;
/// <summary>A non-critical payload type we do not understand; kept so the chain stays intact (RFC 7296 §2.5).</summary>
public sealed class UnknownPayload : Payload
{
    public UnknownPayload(PayloadType type, byte[] body) { Type = type; Body = body; }
    public override PayloadType Type { get; }
    public byte[] Body { get; }
    public override int BodyLength => Body.Length;
    public override void WriteBody(ref SpanWriter writer) => writer.WriteBytes(Body);
}
