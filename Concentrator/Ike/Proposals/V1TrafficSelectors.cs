using System.Net;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Proposals;

/// <summary>
/// Quick mode client identities (IDci/IDcr, RFC 2409 §5.5; IPsec DOI ID types, RFC 2407 §4.6.2) as traffic selectors
/// and back. An ID carries one address, subnet or range, one protocol and one port (0: any), so a selector with a port
/// range other than "any" has no ID form. Absent IDs mean the phase 1 peer addresses (§5.5).
/// </summary>
public static class V1TrafficSelectors
{
    /// <summary>The selector of an address ID; false for a name, DN or key ID (no selector, INVALID-ID-INFORMATION).</summary>
    public static bool TryFromId(V1IdPayload id, out TrafficSelector? selector)
    {
        selector = null;
        var d = id.Data;
        (byte[] start, byte[] end) = id.IdType switch
        {
            V1IdType.Ipv4Address => (d, d),
            V1IdType.Ipv6Address => (d, d),
            V1IdType.Ipv4Subnet => Subnet(d[..4], d[4..]),
            V1IdType.Ipv6Subnet => Subnet(d[..16], d[16..]),
            V1IdType.Ipv4Range => (d[..4], d[4..]),
            V1IdType.Ipv6Range => (d[..16], d[16..]),
            _ => ([], []),
        };
        if (start.Length is not (4 or 16) || start.Length != end.Length || AddressMath.Compare(start, end) > 0) return false;
        var type = start.Length == 4 ? TsType.Ipv4AddressRange : TsType.Ipv6AddressRange;
        ushort lo = id.Port, hi = id.Port == 0 ? ushort.MaxValue : id.Port;
        selector = new TrafficSelector(type, id.Protocol, lo, hi, new IPAddress(start), new IPAddress(end));
        return true;
    }

    /// <summary>
    /// The ID of a selector, as strongSwan's id_payload_create_from_ts writes it: a single address as an ADDR, an exact
    /// CIDR block as a SUBNET, anything else as a RANGE. Null when its ports are neither any nor one port.
    /// </summary>
    public static V1IdPayload? ToId(TrafficSelector ts)
    {
        ushort port;
        if (ts.StartPort == 0 && ts.EndPort == ushort.MaxValue) port = 0;
        else if (ts.StartPort == ts.EndPort && ts.StartPort != 0) port = ts.StartPort;
        else return null;

        var start = ts.StartAddress.GetAddressBytes();
        var end = ts.EndAddress.GetAddressBytes();
        bool v4 = start.Length == 4;
        if (start.AsSpan().SequenceEqual(end))
        {
            return new V1IdPayload(v4 ? V1IdType.Ipv4Address : V1IdType.Ipv6Address, start, ts.IpProtocol, port);
        }
        int prefix = AddressMath.PrefixLength(start, end);
        if (prefix >= 0)
        {
            var mask = new byte[start.Length];
            for (int i = 0; i < mask.Length; i++) mask[i] = (byte)(0xFF << (8 - Math.Clamp(prefix - i * 8, 0, 8)));
            return new V1IdPayload(v4 ? V1IdType.Ipv4Subnet : V1IdType.Ipv6Subnet, [.. start, .. mask], ts.IpProtocol, port);
        }
        return new V1IdPayload(v4 ? V1IdType.Ipv4Range : V1IdType.Ipv6Range, [.. start, .. end], ts.IpProtocol, port);
    }

    /// <summary>
    /// Responder narrowing of one proposed selector against the child's: the first intersection (in our order) that an
    /// ID can carry; null when none (INVALID-ID-INFORMATION). strongSwan's initiator accepts any subset of what it
    /// proposed (quick_mode.c get_ts), so narrowing is safe; an unchanged selector is the common answer.
    /// </summary>
    public static TrafficSelector? Narrow(TrafficSelector proposed, IReadOnlyList<TrafficSelector> allowed)
    {
        foreach (var a in allowed)
        {
            var i = TrafficSelectorNarrowing.Intersect(proposed, a);
            if (i is not null && ToId(i) is not null) return i;
        }
        return null;
    }

    /// <summary>The selector quick mode uses for an absent ID: the phase 1 address, all protocols and ports.</summary>
    public static TrafficSelector ForHost(IPAddress host) => TrafficSelectorSpec.ForHost(host);

    private static (byte[], byte[]) Subnet(byte[] address, byte[] mask)
    {
        var lo = new byte[address.Length];
        var hi = new byte[address.Length];
        for (int i = 0; i < address.Length; i++)
        {
            lo[i] = (byte)(address[i] & mask[i]);
            hi[i] = (byte)(lo[i] | ~mask[i]);
        }
        return (lo, hi);
    }
}
