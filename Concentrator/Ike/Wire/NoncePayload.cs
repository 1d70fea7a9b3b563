using Concentrator.Ipsec;

namespace Concentrator.Ike.Wire;

//                      1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ~                            Nonce Data                         ~
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//                RFC 7296 §3.9, Nonce payload body (16..256 octets)

public sealed class NoncePayload : Payload
{
    public NoncePayload(byte[] data) => Data = data;
    public byte[] Data { get; }
    public override PayloadType Type => PayloadType.Nonce;
    public override int BodyLength => Data.Length;
    public override void WriteBody(ref SpanWriter writer) => writer.WriteBytes(Data);

    public static ParseStatus TryParse(ReadOnlySpan<byte> body, out NoncePayload? payload)
    {
        payload = null;
        if (body.Length < ProtocolConstants.MinNonceLength || body.Length > ProtocolConstants.MaxNonceLength)
        {
            return ParseStatus.InvalidSyntax;
        }

        payload = new NoncePayload(body.ToArray());
        return ParseStatus.Ok;
    }
}
