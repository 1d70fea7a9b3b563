using Concentrator.Ipsec;

namespace Concentrator.Ike.Wire.V1;

//                      1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// !   ID Type     !  Protocol ID  !             Port              !
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ~                     Identification Data                       ~
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//                RFC 2407 §4.6.2, Identification payload body (IPsec DOI)

/// <summary>
/// An ID payload: a phase 1 identity (IDii/IDir) or a quick mode client identity (IDci/IDcr, RFC 2409 §5.5),
/// which carries the selector's protocol and port and may be a subnet or a range.
/// </summary>
public sealed class V1IdPayload : V1Payload
{
    private const int FixedLength = 4;

    public V1IdPayload(V1IdType idType, byte[] data, byte protocol = 0, ushort port = 0)
    {
        IdType = idType;
        Data = data;
        Protocol = protocol;
        Port = port;
    }

    public V1IdType IdType { get; }
    /// <summary>IP protocol of a client identity, 0 for any.</summary>
    public byte Protocol { get; }
    /// <summary>Port of a client identity, 0 for any.</summary>
    public ushort Port { get; }
    public byte[] Data { get; }
    public override V1PayloadType Type => V1PayloadType.Identification;
    public override int BodyLength => FixedLength + Data.Length;

    public override void WriteBody(ref SpanWriter writer)
    {
        writer.WriteUInt8((byte)IdType);
        writer.WriteUInt8(Protocol);
        writer.WriteUInt16(Port);
        writer.WriteBytes(Data);
    }

    /// <summary>
    /// Checks the data length each address type fixes (RFC 2407 §4.6.2.2-4.6.2.12: an address, an address and a
    /// mask, or two addresses) and that a name, DN or key ID is not empty. Unknown ID types are INVALID-ID-INFORMATION
    /// (§4.6.2.1 lists them all). A mask must be contiguous (a subnet mask, RFC 2407 §4.6.2.4); a range's start must
    /// not exceed its end.
    /// </summary>
    public static ParseStatus TryParse(ReadOnlySpan<byte> body, out V1IdPayload? payload)
    {
        payload = null;
        var r = new SpanReader(body);
        if (!r.TryReadUInt8(out byte type) || !r.TryReadUInt8(out byte protocol) || !r.TryReadUInt16(out ushort port))
        {
            return ParseStatus.Truncated;
        }

        var data = r.Rest;
        bool ok = (V1IdType)type switch
        {
            V1IdType.Ipv4Address => data.Length == 4,
            V1IdType.Ipv6Address => data.Length == 16,
            V1IdType.Ipv4Subnet => data.Length == 8 && IsContiguousMask(data[4..]),
            V1IdType.Ipv6Subnet => data.Length == 32 && IsContiguousMask(data[16..]),
            V1IdType.Ipv4Range => data.Length == 8 && data[..4].SequenceCompareTo(data[4..]) <= 0,
            V1IdType.Ipv6Range => data.Length == 32 && data[..16].SequenceCompareTo(data[16..]) <= 0,
            V1IdType.Fqdn or V1IdType.UserFqdn or V1IdType.DerAsn1Dn or V1IdType.DerAsn1Gn or V1IdType.KeyId => data.Length > 0,
            _ => false,
        };
        if (!ok) return ParseStatus.InvalidSyntax;
        payload = new V1IdPayload((V1IdType)type, data.ToArray(), protocol, port);
        return ParseStatus.Ok;
    }

    /// <summary>True when the mask is ones followed by zeros only.</summary>
    internal static bool IsContiguousMask(ReadOnlySpan<byte> mask)
    {
        bool zeros = false;
        foreach (byte b in mask)
        {
            for (int bit = 7; bit >= 0; bit--)
            {
                bool one = ((b >> bit) & 1) != 0;
                if (one && zeros) return false;
                if (!one) zeros = true;
            }
        }

        return true;
    }
}
