namespace Concentrator.Ike.Wire;
/// <summary>CERT (§3.6) and CERTREQ (§3.7) share a layout: encoding octet, then data.</summary>
public sealed class CertPayload : Payload
{
    public CertPayload(PayloadType type, CertEncoding encoding, byte[] data) { Type = type; Encoding = encoding; Data = data; }
    public override PayloadType Type { get; }
    public CertEncoding Encoding { get; }
    public byte[] Data { get; }
    public override int BodyLength => throw new NotImplementedException();
    public override void WriteBody(ref SpanWriter writer) => throw new NotImplementedException();
    public static ParseStatus TryParse(PayloadType type, ReadOnlySpan<byte> body, out CertPayload? payload) => throw new NotImplementedException();
}
