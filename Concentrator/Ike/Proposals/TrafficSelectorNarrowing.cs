using System.Net;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Proposals;

/// <summary>
/// RFC 7296 §2.9 narrowing. A selector matches protocol 0 as "any protocol" and ports
/// 0..65535 as "any port"; OPAQUE ports (start 65535, end 0) only intersect OPAQUE or any-port.
/// </summary>
public static class TrafficSelectorNarrowing
{
    private const ushort AnyPortStart = 0;
    private const ushort AnyPortEnd = ushort.MaxValue;

    /// <summary>RFC 7296 §2.9: intersect what the peer proposed with what we allow; empty means TS_UNACCEPTABLE.</summary>
    /// <remarks>Result order follows the peer's order (so a leading packet-specific selector stays first),
    /// then ours; duplicates are dropped.</remarks>
    public static IReadOnlyList<TrafficSelector> Narrow(IReadOnlyList<TrafficSelector> proposed, IReadOnlyList<TrafficSelector> allowed)
    {
        var result = new List<TrafficSelector>();
        foreach (var p in proposed)
        {
            foreach (var a in allowed)
            {
                var i = Intersect(p, a);
                if (i is not null && !result.Contains(i))
                {
                    result.Add(i);
                }
            }
        }
        return result;
    }

    /// <summary>True when every selector in <paramref name="inner"/> lies inside some selector of <paramref name="outer"/>.</summary>
    public static bool IsSubset(IReadOnlyList<TrafficSelector> inner, IReadOnlyList<TrafficSelector> outer) =>
        inner.All(i => outer.Any(o => Contains(o, i)));

    /// <summary>Intersection of two selectors, or null when they share nothing.</summary>
    public static TrafficSelector? Intersect(TrafficSelector a, TrafficSelector b)
    {
        if (a.Type != b.Type)
        {
            return null;
        }
        byte protocol;
        if (a.IpProtocol == 0 || b.IpProtocol == 0 || a.IpProtocol == b.IpProtocol)
        {
            protocol = a.IpProtocol == 0 ? b.IpProtocol : a.IpProtocol;
        }
        else
        {
            return null;
        }
        if (!TryIntersectPorts(a, b, out var startPort, out var endPort))
        {
            return null;
        }
        var aStart = a.StartAddress.GetAddressBytes();
        var aEnd = a.EndAddress.GetAddressBytes();
        var bStart = b.StartAddress.GetAddressBytes();
        var bEnd = b.EndAddress.GetAddressBytes();
        if (aStart.Length != bStart.Length || aEnd.Length != bEnd.Length || aStart.Length != aEnd.Length)
        {
            return null;
        }
        var start = AddressMath.Compare(aStart, bStart) >= 0 ? a.StartAddress : b.StartAddress;
        var end = AddressMath.Compare(aEnd, bEnd) <= 0 ? a.EndAddress : b.EndAddress;
        if (AddressMath.Compare(start.GetAddressBytes(), end.GetAddressBytes()) > 0)
        {
            return null;
        }
        return new TrafficSelector(a.Type, protocol, startPort, endPort, start, end);
    }

    private static bool IsOpaque(TrafficSelector t) => t.StartPort > t.EndPort;
    private static bool IsAnyPort(TrafficSelector t) => t.StartPort == AnyPortStart && t.EndPort == AnyPortEnd;

    private static bool TryIntersectPorts(TrafficSelector a, TrafficSelector b, out ushort start, out ushort end)
    {
        if (IsOpaque(a) || IsOpaque(b))
        {
            var ok = (IsOpaque(a) || IsAnyPort(a)) && (IsOpaque(b) || IsAnyPort(b));
            (start, end) = (ushort.MaxValue, (ushort)0);
            return ok;
        }
        start = Math.Max(a.StartPort, b.StartPort);
        end = Math.Min(a.EndPort, b.EndPort);
        return start <= end;
    }

    private static bool Contains(TrafficSelector outer, TrafficSelector inner)
    {
        if (outer.Type != inner.Type)
        {
            return false;
        }
        if (outer.IpProtocol != 0 && outer.IpProtocol != inner.IpProtocol)
        {
            return false;
        }
        var portsOk = IsAnyPort(outer)
            || (IsOpaque(outer) ? IsOpaque(inner)
                : !IsOpaque(inner) && inner.StartPort >= outer.StartPort && inner.EndPort <= outer.EndPort);
        if (!portsOk)
        {
            return false;
        }
        return Within(inner.StartAddress, outer) && Within(inner.EndAddress, outer);
    }

    private static bool Within(IPAddress address, TrafficSelector ts)
    {
        var a = address.GetAddressBytes();
        var s = ts.StartAddress.GetAddressBytes();
        var e = ts.EndAddress.GetAddressBytes();
        return a.Length == s.Length && a.Length == e.Length
            && AddressMath.Compare(a, s) >= 0 && AddressMath.Compare(a, e) <= 0;
    }
}
