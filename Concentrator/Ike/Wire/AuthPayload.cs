namespace Concentrator.Ike.Wire;
public sealed class AuthPayload : Payload
{
    public AuthPayload(AuthMethod method, byte[] data) { Method = method; Data = data; }
    public AuthMethod Method { get; }
    public byte[] Data { get; }
    public override PayloadType Type => PayloadType.Authentication;
    public override int BodyLength => throw new NotImplementedException();
    public override void WriteBody(ref SpanWriter writer) => throw new NotImplementedException();
    public static ParseStatus TryParse(ReadOnlySpan<byte> body, out AuthPayload? payload) => throw new NotImplementedException();
}
