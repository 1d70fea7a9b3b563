namespace Concentrator.Ike.Wire;
public sealed class NoncePayload : Payload
{
    public NoncePayload(byte[] data) => Data = data;
    public byte[] Data { get; }
    public override PayloadType Type => PayloadType.Nonce;
    public override int BodyLength => throw new NotImplementedException();
    public override void WriteBody(ref SpanWriter writer) => throw new NotImplementedException();
    public static ParseStatus TryParse(ReadOnlySpan<byte> body, out NoncePayload? payload) => throw new NotImplementedException();
}
