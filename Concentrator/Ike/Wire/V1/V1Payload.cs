namespace Concentrator.Ike.Wire.V1;

//                      1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ! Next Payload  !   RESERVED    !         Payload Length        !
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//                RFC 2408 §3.2, generic payload header (no critical bit in IKEv1)

/// <summary>
/// A decoded ISAKMP payload. The generic header is written by <see cref="IsakmpCodec"/>; a payload writes its body.
/// Bodies are parsed by each payload's static <c>TryParse</c>, which never throws. Kept apart from the IKEv2
/// <see cref="Payload"/>: the two protocols number payloads differently and share no payload layout.
/// </summary>
public abstract class V1Payload
{
    public abstract V1PayloadType Type { get; }

    /// <summary>Length of the body (without the 4-octet generic header).</summary>
    public abstract int BodyLength { get; }

    public abstract void WriteBody(ref SpanWriter writer);
}

/// <summary>A payload whose body is opaque octets: KE, HASH, SIG, NONCE, Vendor ID, NAT-D (RFC 2408 §3.7-3.8, 3.10-3.12, 3.16; RFC 3947 §3.2).</summary>
public sealed class V1DataPayload : V1Payload
{
    private readonly V1PayloadType _type;

    public V1DataPayload(V1PayloadType type, byte[] data)
    {
        if (!IsDataType(type)) throw new ArgumentOutOfRangeException(nameof(type), type, "not an opaque-data payload");
        _type = type;
        Data = data;
    }

    public byte[] Data { get; }
    public override V1PayloadType Type => _type;
    public override int BodyLength => Data.Length;
    public override void WriteBody(ref SpanWriter writer) => writer.WriteBytes(Data);

    internal static bool IsDataType(V1PayloadType type) => type is V1PayloadType.KeyExchange or V1PayloadType.Hash
        or V1PayloadType.Signature or V1PayloadType.Nonce or V1PayloadType.VendorId or V1PayloadType.NatD or V1PayloadType.NatDDraft;

    /// <summary>
    /// Checks the lengths the RFCs fix: a nonce of 8..256 octets (RFC 2409 §5), a non-empty KE, HASH, SIG and NAT-D.
    /// A Vendor ID may be any length (RFC 2408 §3.16).
    /// </summary>
    public static Concentrator.Ipsec.ParseStatus TryParse(V1PayloadType type, ReadOnlySpan<byte> body, out V1DataPayload? payload)
    {
        payload = null;
        bool ok = type switch
        {
            V1PayloadType.Nonce => body.Length is >= V1Constants.MinNonceLength and <= V1Constants.MaxNonceLength,
            V1PayloadType.VendorId => true,
            _ => body.Length > 0,
        };
        if (!ok) return Concentrator.Ipsec.ParseStatus.InvalidSyntax;
        payload = new V1DataPayload(type, body.ToArray());
        return Concentrator.Ipsec.ParseStatus.Ok;
    }
}

/// <summary>A payload type the codec does not know, kept by number (RFC 2408 §5.1: the receiver answers INVALID-PAYLOAD-TYPE).</summary>
public sealed class V1UnknownPayload(V1PayloadType type, byte[] body) : V1Payload
{
    public byte[] Body { get; } = body;
    public override V1PayloadType Type => type;
    public override int BodyLength => Body.Length;
    public override void WriteBody(ref SpanWriter writer) => writer.WriteBytes(Body);
}
