using Concentrator.Ipsec;

namespace Concentrator.Ike.Wire;

//                      1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// | Cert Encoding |                                               |
// +-+-+-+-+-+-+-+-+                                               |
// ~                       Certificate Data                        ~
// |          (CERTREQ: Certification Authority hashes)            |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//                RFC 7296 §3.6 CERT and §3.7 CERTREQ payload bodies

/// <summary>CERT (§3.6) and CERTREQ (§3.7) share a layout: encoding octet, then data.</summary>
public sealed class CertPayload : Payload
{
    public CertPayload(PayloadType type, CertEncoding encoding, byte[] data) { Type = type; Encoding = encoding; Data = data; }
    public override PayloadType Type { get; }
    public CertEncoding Encoding { get; }
    public byte[] Data { get; }
    public override int BodyLength => 1 + Data.Length;

    public override void WriteBody(ref SpanWriter writer)
    {
        writer.WriteUInt8((byte)Encoding);
        writer.WriteBytes(Data);
    }

    /// <summary>
    /// <paramref name="type"/> must be CERT or CERTREQ. The encoding is kept as received (an unsupported
    /// encoding is a policy matter); CERTREQ data may be empty (RFC 7296 §3.7 allows an empty CA list).
    /// </summary>
    public static ParseStatus TryParse(PayloadType type, ReadOnlySpan<byte> body, out CertPayload? payload)
    {
        payload = null;
        if (type != PayloadType.Certificate && type != PayloadType.CertificateRequest) return ParseStatus.InvalidSyntax;
        var r = new SpanReader(body);
        if (!r.TryReadUInt8(out byte encoding)) return ParseStatus.Truncated;
        payload = new CertPayload(type, (CertEncoding)encoding, r.Rest.ToArray());
        return ParseStatus.Ok;
    }
}
