namespace Concentrator.Ike.Wire;
public sealed class EncryptedPayload : Payload
{
    public EncryptedPayload(PayloadType firstInner, byte[] data, int offset = -1) { FirstInner = firstInner; Data = data; Offset = offset; }
    /// <summary>The generic header's Next Payload: type of the first payload inside (RFC 7296 §3.14).</summary>
    public PayloadType FirstInner { get; }
    /// <summary>IV | ciphertext | ICV, as on the wire.</summary>
    public byte[] Data { get; }
    /// <summary>Offset of this payload's generic header in the received datagram (-1 when built locally).</summary>
    public int Offset { get; }
    public override PayloadType Type => PayloadType.Encrypted;
    public override int BodyLength => Data.Length;
    public override void WriteBody(ref SpanWriter writer) => writer.WriteBytes(Data);
}
