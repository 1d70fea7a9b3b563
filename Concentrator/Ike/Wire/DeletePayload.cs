namespace Concentrator.Ike.Wire;
public sealed class DeletePayload : Payload
{
    public DeletePayload(ProtocolId protocol, IReadOnlyList<byte[]> spis) { Protocol = protocol; Spis = spis; }
    public ProtocolId Protocol { get; }
    public IReadOnlyList<byte[]> Spis { get; }
    public override PayloadType Type => PayloadType.Delete;
    public override int BodyLength => throw new NotImplementedException();
    public override void WriteBody(ref SpanWriter writer) => throw new NotImplementedException();
    public static ParseStatus TryParse(ReadOnlySpan<byte> body, out DeletePayload? payload) => throw new NotImplementedException();
}
