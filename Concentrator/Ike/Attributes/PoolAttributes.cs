using System.Net;
using System.Net.Sockets;
using System.Text;
using Concentrator.Ike.Wire;

namespace Concentrator.Ike.Attributes;

/// <summary>
/// The configuration attributes a pool hands out (RFC 7296 §3.15.1, RFC 8598 §4), encoded once when the configuration
/// is read. Each returns the attribute, or an error naming what is wrong with the value.
/// </summary>
public static class PoolAttributes
{
    /// <summary>Longest domain name (RFC 1035 §2.3.4, presentation form without the trailing dot).</summary>
    private const int MaxDomainLength = 253;

    /// <summary>A server address: INTERNAL_IP4_DNS or INTERNAL_IP6_DNS by its family (<paramref name="v6"/> null: IPv4 only).</summary>
    public static ConfigAttribute? Server(string text, ConfigAttributeType v4, ConfigAttributeType? v6, out string? error)
    {
        error = null;
        if (!TryAddress(text, out var address))
        {
            error = $"'{text}' is not an IP address";
            return null;
        }
        if (address.AddressFamily == AddressFamily.InterNetworkV6 && v6 is null)
        {
            error = $"'{text}': IKEv2 has no IPv6 form of this attribute (RFC 7296 §3.15.1)";
            return null;
        }
        return new ConfigAttribute(address.AddressFamily == AddressFamily.InterNetwork ? v4 : v6!.Value, address.GetAddressBytes());
    }

    /// <summary>
    /// INTERNAL_IP4_SUBNET (address and netmask) or INTERNAL_IP6_SUBNET (address and prefix length): a network the peer
    /// reaches through the tunnel (RFC 7296 §3.15.2).
    /// </summary>
    public static ConfigAttribute? Subnet(string text, out string? error)
    {
        error = null;
        int slash = text.IndexOf('/');
        if (slash < 0 || !TryAddress(text[..slash], out var address) ||
            !int.TryParse(text[(slash + 1)..], System.Globalization.NumberStyles.None, null, out int prefix) ||
            prefix > (address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128))
        {
            error = $"'{text}' is not a subnet (10.10.0.0/16, 2001:db8::/48)";
            return null;
        }
        var bytes = address.GetAddressBytes();
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            uint mask = prefix == 0 ? 0 : uint.MaxValue << (32 - prefix);
            var value = new byte[8];
            bytes.CopyTo(value, 0);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(value.AsSpan(4), mask);
            return new ConfigAttribute(ConfigAttributeType.InternalIp4Subnet, value);
        }
        return new ConfigAttribute(ConfigAttributeType.InternalIp6Subnet, [.. bytes, (byte)prefix]);
    }

    /// <summary>INTERNAL_DNS_DOMAIN (RFC 8598 §4.1): an ASCII domain name (IDNA A-labels), no trailing dot, not NUL terminated.</summary>
    public static ConfigAttribute? DnsDomain(string text, out string? error)
    {
        error = null;
        var name = text.Trim().TrimEnd('.');
        bool ascii = name.All(c => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '-' or '.');
        if (name.Length == 0 || name.Length > MaxDomainLength || !ascii || name.Split('.').Any(l => l.Length is 0 or > 63))
        {
            error = $"'{text}' is not a domain name (letters, digits, '-' and '.', labels of 1..63 characters; " +
                    "internationalized names as their xn-- A-labels)";
            return null;
        }
        return new ConfigAttribute(ConfigAttributeType.InternalDnsDomain, Encoding.ASCII.GetBytes(name));
    }

    /// <summary>
    /// swanctl's numbered attribute: an address (or subnet, as <see cref="Subnet"/> encodes it) is sent in binary, any
    /// other value as its UTF-8 text.
    /// </summary>
    public static ConfigAttribute Numbered(ushort type, string text)
    {
        if (TryAddress(text, out var address)) return new ConfigAttribute((ConfigAttributeType)type, address.GetAddressBytes());
        if (text.Contains('/') && Subnet(text, out _) is { } subnet) return subnet with { Type = (ConfigAttributeType)type };
        return new ConfigAttribute((ConfigAttributeType)type, Encoding.UTF8.GetBytes(text));
    }

    /// <summary>An address written out in full (IPAddress.TryParse alone takes "10.1" and scope ids).</summary>
    internal static bool TryAddress(string text, out IPAddress address)
    {
        var t = text.Trim();
        if (IPAddress.TryParse(t, out address!) && (address.AddressFamily == AddressFamily.InterNetworkV6
                ? address.ScopeId == 0 && !t.Contains('%')
                : t.Count(c => c == '.') == 3))
        {
            if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
            return true;
        }
        address = IPAddress.None;
        return false;
    }
}
