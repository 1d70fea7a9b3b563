namespace Concentrator.Ike.Wire;
public sealed class EapPayload : Payload
{
    public EapPayload(byte[] data) => Data = data;
    public byte[] Data { get; }
    public override PayloadType Type => PayloadType.Eap;
    public override int BodyLength => Data.Length;
    public override void WriteBody(ref SpanWriter writer) => writer.WriteBytes(Data);
}
