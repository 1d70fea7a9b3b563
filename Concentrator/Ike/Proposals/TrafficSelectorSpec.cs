using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Proposals;

/// <summary>
/// A configured traffic selector in swanctl local_ts/remote_ts syntax: "10.0.0.0/24",
/// "2001:db8::/64", "10.0.0.1-10.0.0.9", a single address, or "dynamic" (the IKE address,
/// or a virtual IP, filled in by <see cref="Resolve"/>), each optionally followed by
/// "[protocol/port]": protocol tcp|udp|icmp|icmpv6|sctp|number|%any, port a number, "a-b",
/// "%any" or "%opaque" (RFC 7296 §3.13.1 OPAQUE: start 65535, end 0). Either side may be empty:
/// "[udp]", "[/53]". Host bits of a CIDR are cleared as strongSwan does. For ICMP the "port" is
/// the wire value (type in the high byte, code in the low byte).
/// </summary>
public sealed record TrafficSelectorSpec(bool Dynamic, TrafficSelector? Selector, byte IpProtocol, ushort StartPort, ushort EndPort)
{
    public const string DynamicKeyword = "dynamic";

    public static bool TryParse(string text, out TrafficSelectorSpec? spec, out string? error)
    {
        spec = null;
        error = null;
        var s = (text ?? "").Trim();
        if (s.Length == 0)
        {
            error = "empty traffic selector";
            return false;
        }

        byte protocol = 0;
        ushort startPort = 0, endPort = ushort.MaxValue;
        var bracket = s.IndexOf('[');
        if (bracket >= 0)
        {
            if (!s.EndsWith(']') || s.IndexOf('[', bracket + 1) >= 0)
            {
                error = $"traffic selector '{s}': protocol/port suffix must be a single '[...]' at the end";
                return false;
            }
            if (!TryParseProtoPort(s[(bracket + 1)..^1], out protocol, out startPort, out endPort, out var why))
            {
                error = $"traffic selector '{s}': {why}";
                return false;
            }
            s = s[..bracket].Trim();
            if (s.Length == 0)
            {
                error = $"traffic selector '{text!.Trim()}': address missing before '['";
                return false;
            }
        }

        if (string.Equals(s, DynamicKeyword, StringComparison.OrdinalIgnoreCase))
        {
            spec = new TrafficSelectorSpec(true, null, protocol, startPort, endPort);
            return true;
        }
        if (!TryParseAddresses(s, out var start, out var end, out var addrError))
        {
            error = $"traffic selector '{text!.Trim()}': {addrError}";
            return false;
        }
        var type = start.AddressFamily == AddressFamily.InterNetwork ? TsType.Ipv4AddressRange : TsType.Ipv6AddressRange;
        spec = new TrafficSelectorSpec(false, new TrafficSelector(type, protocol, startPort, endPort, start, end), protocol, startPort, endPort);
        return true;
    }

    /// <summary>Concrete selector; "dynamic" becomes the host address given, and the unspecified address (0.0.0.0, ::)
    /// every address of its family, as strongSwan's traffic_selector set_address does (an initiator requesting a virtual
    /// IP proposes 0.0.0.0/0 for it).</summary>
    public TrafficSelector Resolve(IPAddress dynamicAddress) => Dynamic ? ForHost(dynamicAddress, IpProtocol, StartPort, EndPort) : Selector!;

    /// <summary>A selector for one host (all addresses of the family for 0.0.0.0 or ::).</summary>
    public static TrafficSelector ForHost(IPAddress host, byte protocol = 0, ushort startPort = 0, ushort endPort = ushort.MaxValue)
    {
        var a = host.IsIPv4MappedToIPv6 ? host.MapToIPv4() : host;
        bool v4 = a.AddressFamily == AddressFamily.InterNetwork;
        var type = v4 ? TsType.Ipv4AddressRange : TsType.Ipv6AddressRange;
        if (a.Equals(IPAddress.Any) || a.Equals(IPAddress.IPv6Any))
        {
            var all = new byte[v4 ? 4 : 16];
            Array.Fill(all, (byte)0xFF);
            return new TrafficSelector(type, protocol, startPort, endPort, a, new IPAddress(all));
        }
        return new TrafficSelector(type, protocol, startPort, endPort, a, a);
    }

    public override string ToString()
    {
        var addr = Dynamic ? DynamicKeyword : FormatRange(Selector!);
        if (IpProtocol == 0 && StartPort == 0 && EndPort == ushort.MaxValue)
        {
            return addr;
        }
        var proto = IpProtocol switch { 0 => "", 1 => "icmp", 6 => "tcp", 17 => "udp", 58 => "icmpv6", 132 => "sctp", _ => IpProtocol.ToString(CultureInfo.InvariantCulture) };
        var port = (StartPort, EndPort) switch
        {
            (0, ushort.MaxValue) => "",
            (ushort.MaxValue, 0) => "/%opaque",
            var (a, b) when a == b => $"/{a}",
            var (a, b) => $"/{a}-{b}",
        };
        return $"{addr}[{proto}{port}]";
    }

    private static string FormatRange(TrafficSelector ts)
    {
        var start = ts.StartAddress.GetAddressBytes();
        var end = ts.EndAddress.GetAddressBytes();
        var prefix = AddressMath.PrefixLength(start, end);
        return prefix >= 0 ? $"{ts.StartAddress}/{prefix}" : $"{ts.StartAddress}-{ts.EndAddress}";
    }

    private static bool TryParseAddresses(string s, out IPAddress start, out IPAddress end, out string? error)
    {
        start = end = IPAddress.None;
        error = null;
        var dash = s.IndexOf('-');
        if (dash >= 0)
        {
            if (!TryIp(s[..dash], out start) || !TryIp(s[(dash + 1)..], out end))
            {
                error = "expected 'first-last' with two IP addresses";
                return false;
            }
            if (start.AddressFamily != end.AddressFamily)
            {
                error = "range mixes IPv4 and IPv6";
                return false;
            }
            if (AddressMath.Compare(start.GetAddressBytes(), end.GetAddressBytes()) > 0)
            {
                error = "range start is above its end";
                return false;
            }
            return true;
        }
        var slash = s.IndexOf('/');
        if (slash >= 0)
        {
            if (!TryIp(s[..slash], out var net))
            {
                error = $"'{s[..slash]}' is not an IP address";
                return false;
            }
            var bits = net.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
            if (!int.TryParse(s[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var prefix) || prefix > bits)
            {
                error = $"prefix length must be 0..{bits}";
                return false;
            }
            var bytes = net.GetAddressBytes();
            var (lo, hi) = AddressMath.CidrBounds(bytes, prefix);
            start = new IPAddress(lo);
            end = new IPAddress(hi);
            return true;
        }
        if (!TryIp(s, out start))
        {
            error = "expected an address, subnet (a/n), range (a-b) or 'dynamic'";
            return false;
        }
        end = start;
        return true;
    }

    private static bool TryIp(string s, out IPAddress ip)
    {
        s = s.Trim();
        // IPAddress.TryParse accepts shorthand like "10.1" and scope ids; swanctl does not.
        if (IPAddress.TryParse(s, out ip!)
            && (ip.AddressFamily == AddressFamily.InterNetworkV6 ? ip.ScopeId == 0 && !s.Contains('%') : s.Count(c => c == '.') == 3))
        {
            if (ip.IsIPv4MappedToIPv6)
            {
                ip = ip.MapToIPv4();
            }
            return true;
        }
        ip = IPAddress.None;
        return false;
    }

    private static bool TryParseProtoPort(string inner, out byte protocol, out ushort startPort, out ushort endPort, out string? error)
    {
        protocol = 0;
        startPort = 0;
        endPort = ushort.MaxValue;
        error = null;
        var slash = inner.IndexOf('/');
        var proto = (slash >= 0 ? inner[..slash] : inner).Trim();
        var port = slash >= 0 ? inner[(slash + 1)..].Trim() : "";

        switch (proto.ToLowerInvariant())
        {
            case "": case "%any": case "any": protocol = 0; break;
            case "icmp": protocol = 1; break;
            case "tcp": protocol = 6; break;
            case "udp": protocol = 17; break;
            case "icmpv6": case "ipv6-icmp": protocol = 58; break;
            case "sctp": protocol = 132; break;
            default:
                if (!byte.TryParse(proto, NumberStyles.None, CultureInfo.InvariantCulture, out protocol))
                {
                    error = $"unknown protocol '{proto}' (tcp, udp, icmp, icmpv6, sctp, %any or 0..255)";
                    return false;
                }
                break;
        }

        switch (port.ToLowerInvariant())
        {
            case "": case "%any": case "any":
                return true;
            case "%opaque":
                startPort = ushort.MaxValue;
                endPort = 0;
                return true;
        }
        var dash = port.IndexOf('-');
        var a = dash >= 0 ? port[..dash] : port;
        var b = dash >= 0 ? port[(dash + 1)..] : port;
        if (!ushort.TryParse(a.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out startPort)
            || !ushort.TryParse(b.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out endPort))
        {
            error = $"bad port '{port}' (number 0..65535, range a-b, %any or %opaque)";
            return false;
        }
        if (startPort > endPort)
        {
            error = $"port range '{port}' starts above its end";
            return false;
        }
        return true;
    }
}
