using Concentrator.Ipsec;

namespace Concentrator.Ike.Wire;

//                      1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |   ID Type     |                 RESERVED                      |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ~                   Identification Data                         ~
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//                RFC 7296 §3.5, IDi / IDr payload body

public sealed class IdPayload : Payload
{
    private const int FixedLength = 4;

    public IdPayload(PayloadType type, IdType idType, byte[] data) { Type = type; IdType = idType; Data = data; }
    public override PayloadType Type { get; }
    public IdType IdType { get; }
    public byte[] Data { get; }

    // The body exactly as received. RFC 7296 §2.15 signs the ID payload body as sent, RESERVED octets
    // included, so a peer that (wrongly) sets them must still verify.
    private byte[]? _received;

    /// <summary>ID Type | RESERVED(3) | data: "RestOfInitIDPayload" of RFC 7296 §2.15.</summary>
    /// <remarks>For a received payload these are the received bytes; for a local one, the encoding.</remarks>
    public byte[] GetBody()
    {
        if (_received is not null) return (byte[])_received.Clone();
        var body = new byte[BodyLength];
        var w = new SpanWriter(body);
        WriteBody(ref w);
        return body;
    }

    public override int BodyLength => FixedLength + Data.Length;

    public override void WriteBody(ref SpanWriter writer)
    {
        writer.WriteUInt8((byte)IdType);
        writer.WriteZeros(3);
        writer.WriteBytes(Data);
    }

    /// <summary>
    /// <paramref name="type"/> must be IDi or IDr. Unknown ID types, empty data, and IPv4/IPv6 addresses of
    /// the wrong size are <see cref="ParseStatus.InvalidSyntax"/>.
    /// </summary>
    public static ParseStatus TryParse(PayloadType type, ReadOnlySpan<byte> body, out IdPayload? payload)
    {
        payload = null;
        if (type != PayloadType.IdInitiator && type != PayloadType.IdResponder) return ParseStatus.InvalidSyntax;
        var r = new SpanReader(body);
        if (!r.TryReadUInt8(out byte idType) || !r.TrySkip(3)) return ParseStatus.Truncated;
        var data = r.Rest;
        bool valid = (IdType)idType switch
        {
            IdType.Ipv4Address => data.Length == 4,
            IdType.Ipv6Address => data.Length == 16,
            IdType.Fqdn or IdType.Rfc822Address or IdType.DerAsn1Dn or IdType.DerAsn1Gn or IdType.KeyId => data.Length > 0,
            _ => false,
        };
        if (!valid) return ParseStatus.InvalidSyntax;
        payload = new IdPayload(type, (IdType)idType, data.ToArray()) { _received = body.ToArray() };
        return ParseStatus.Ok;
    }
}
