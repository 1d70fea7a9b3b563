using Concentrator.Ipsec;

namespace Concentrator.Ike.Wire.V1;

//                      1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |    ID Type    |   RESERVED    |            RESERVED           |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |           IPv4 (4 octets) or IPv6 address (16 octets)         |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//                RFC 3947 §5.2, NAT-OA payload body

/// <summary>NAT original address (RFC 3947 §5.2): an IPv4 or IPv6 address, sent in quick mode for transport mode.</summary>
public sealed class NatOaPayload : V1Payload
{
    public NatOaPayload(byte[] address, bool draft = false)
    {
        if (address.Length is not (4 or 16)) throw new ArgumentException("NAT-OA carries an IPv4 or IPv6 address.", nameof(address));
        Address = address;
        Draft = draft;
    }

    public byte[] Address { get; }
    /// <summary>Numbered as the NAT-T drafts did (131), for a peer that negotiated them.</summary>
    public bool Draft { get; }
    public override V1PayloadType Type => Draft ? V1PayloadType.NatOaDraft : V1PayloadType.NatOa;
    public override int BodyLength => 4 + Address.Length;

    public override void WriteBody(ref SpanWriter writer)
    {
        writer.WriteUInt8((byte)(Address.Length == 4 ? V1IdType.Ipv4Address : V1IdType.Ipv6Address));
        writer.WriteZeros(3);
        writer.WriteBytes(Address);
    }

    /// <summary>ID_IPV4_ADDR with 4 octets or ID_IPV6_ADDR with 16 (§5.2 allows no other type).</summary>
    public static ParseStatus TryParse(V1PayloadType type, ReadOnlySpan<byte> body, out NatOaPayload? payload)
    {
        payload = null;
        var r = new SpanReader(body);
        if (!r.TryReadUInt8(out byte idType) || !r.TrySkip(3)) return ParseStatus.Truncated;
        bool ok = (V1IdType)idType switch
        {
            V1IdType.Ipv4Address => r.Remaining == 4,
            V1IdType.Ipv6Address => r.Remaining == 16,
            _ => false,
        };
        if (!ok) return ParseStatus.InvalidSyntax;
        payload = new NatOaPayload(r.Rest.ToArray(), type == V1PayloadType.NatOaDraft);
        return ParseStatus.Ok;
    }
}
