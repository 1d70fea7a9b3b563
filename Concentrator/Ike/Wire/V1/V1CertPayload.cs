using Concentrator.Ipsec;

namespace Concentrator.Ike.Wire.V1;

//                      1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ! Cert Encoding !                                               !
// +-+-+-+-+-+-+-+-+                                               !
// ~                       Certificate Data                        ~
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//                RFC 2408 §3.9, Certificate payload body
//
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// !  Cert. Type   !                                               !
// +-+-+-+-+-+-+-+-+                                               !
// ~                    Certificate Authority                      ~
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//                RFC 2408 §3.10, Certificate Request payload body (an empty authority: any CA)

/// <summary>A CERT (RFC 2408 §3.9) or CR (§3.10) payload: an encoding and opaque data, checked by whoever uses it.</summary>
public sealed class V1CertPayload : V1Payload
{
    private readonly bool _request;

    public V1CertPayload(V1CertEncoding encoding, byte[] data, bool request = false)
    {
        Encoding = encoding;
        Data = data;
        _request = request;
    }

    public V1CertEncoding Encoding { get; }
    /// <summary>The certificate (CERT), or the CA's DER distinguished name, possibly empty (CR).</summary>
    public byte[] Data { get; }
    public override V1PayloadType Type => _request ? V1PayloadType.CertificateRequest : V1PayloadType.Certificate;
    public override int BodyLength => 1 + Data.Length;

    public override void WriteBody(ref SpanWriter writer)
    {
        writer.WriteUInt8((byte)Encoding);
        writer.WriteBytes(Data);
    }

    /// <summary>A certificate must carry data; a request may name no authority. Encodings 0 and above 10 are reserved (§3.9).</summary>
    public static ParseStatus TryParse(V1PayloadType type, ReadOnlySpan<byte> body, out V1CertPayload? payload)
    {
        payload = null;
        if (body.IsEmpty) return ParseStatus.Truncated;
        byte encoding = body[0];
        bool request = type == V1PayloadType.CertificateRequest;
        if (encoding is 0 or > (byte)V1CertEncoding.X509Attribute) return ParseStatus.InvalidSyntax;
        if (!request && body.Length == 1) return ParseStatus.InvalidSyntax;
        payload = new V1CertPayload((V1CertEncoding)encoding, body[1..].ToArray(), request);
        return ParseStatus.Ok;
    }
}
