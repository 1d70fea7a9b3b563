using System.Net;
using System.Net.Sockets;
using Concentrator.Ike.Wire;

namespace Concentrator.Ike.Attributes;

/// <summary>
/// A virtual IP pool (swanctl <c>pools.&lt;name&gt;</c>): the addresses it leases and the configuration attributes
/// (RFC 7296 §3.15.1, RFC 8598) that go with them. An address is numbered by its offset from <see cref="First"/>.
/// </summary>
public sealed class PoolConfig
{
    /// <summary>Most addresses in one pool: 2^24 (a /8, an IPv6 /104). strongSwan's mem_pool silently cuts a larger
    /// pool to its first 2^31; a larger one is refused here, because a lease table that size helps nobody.</summary>
    public const uint MaxSize = 1u << 24;

    public required string Name { get; init; }

    /// <summary>The first address leased.</summary>
    public required IPAddress First { get; init; }

    /// <summary>Addresses leased, counted from <see cref="First"/>; at least 1, at most <see cref="MaxSize"/>.</summary>
    public required uint Size { get; init; }

    /// <summary>The <c>addrs</c> value as written (CIDR or range).</summary>
    public string Addrs { get; init; } = "";

    /// <summary>Sent with an address of this pool in CFG_REPLY, in configuration order (INTERNAL_DNS_DOMAIN only when
    /// the peer asked for it, RFC 8598 §4).</summary>
    public IReadOnlyList<ConfigAttribute> Attributes { get; init; } = [];

    public AddressFamily Family => First.AddressFamily;

    public IPAddress Last => AddressAt(Size - 1);

    public IPAddress AddressAt(uint offset)
    {
        if (offset >= Size) throw new ArgumentOutOfRangeException(nameof(offset));
        return FromNumber(ToNumber(First) + offset, Family);
    }

    /// <summary>The offset of <paramref name="address"/> in this pool; false when it is not one of its addresses.</summary>
    public bool TryOffsetOf(IPAddress address, out uint offset)
    {
        offset = 0;
        if (address.IsIPv4MappedToIPv6 && Family == AddressFamily.InterNetwork) address = address.MapToIPv4();
        if (address.AddressFamily != Family) return false;
        UInt128 a = ToNumber(address), first = ToNumber(First);
        if (a < first || a - first >= Size) return false;
        offset = (uint)(a - first);
        return true;
    }

    /// <summary>Whether the two pools share an address (swanctl: pools must be unique and non-overlapping).</summary>
    public bool Overlaps(PoolConfig other) =>
        Family == other.Family && ToNumber(First) <= ToNumber(other.Last) && ToNumber(other.First) <= ToNumber(Last);

    /// <summary>
    /// swanctl's <c>addrs</c>: a subnet or a range "first-last". A subnet is leased as strongSwan's mem_pool leases it:
    /// written as its network id, the network id and the last address (broadcast) are skipped; written as another
    /// address of the subnet (10.3.0.5/24), the addresses below it are not leased (kept for the gateway or servers).
    /// Returns the error, or null.
    /// </summary>
    public static string? TryParseAddrs(string text, out IPAddress first, out uint size)
    {
        first = IPAddress.None;
        size = 0;
        var s = text.Trim();
        int dash = s.IndexOf('-');
        if (dash >= 0)
        {
            if (!PoolAttributes.TryAddress(s[..dash], out var from) || !PoolAttributes.TryAddress(s[(dash + 1)..], out var to) || from.AddressFamily != to.AddressFamily)
            {
                return $"'{text}' is not a range of two IP addresses of one family (first-last)";
            }
            UInt128 a = ToNumber(from), b = ToNumber(to);
            if (a > b) return $"range '{text}' starts above its end";
            if (b - a >= MaxSize) return $"range '{text}' holds more than {MaxSize} addresses";
            first = from;
            size = (uint)(b - a) + 1;
            return null;
        }

        int slash = s.IndexOf('/');
        if (slash < 0 || !PoolAttributes.TryAddress(s[..slash], out var written) ||
            !int.TryParse(s[(slash + 1)..], System.Globalization.NumberStyles.None, null, out int prefix))
        {
            return $"'{text}' is neither a subnet (10.3.0.0/24) nor a range (10.3.0.10-10.3.0.99)";
        }
        int bits = written.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        if (prefix > bits) return $"prefix length must be 0..{bits}";
        int hostBits = bits - prefix;
        if (hostBits > 24) return $"subnet '{text}' holds more than {MaxSize} addresses (at most a /{bits - 24})";
        UInt128 count = (UInt128)1 << hostBits;
        UInt128 number = ToNumber(written);
        UInt128 diff = number & (count - 1);
        if (count > 2)
        {
            if (diff == 0)
            {
                number++;
                count--;
            }
            else
            {
                count -= diff;
            }
            count--; // the subnet's last address
        }
        else if (diff != 0)
        {
            count--; // a /31 written as its second address serves that one
        }
        if (count == 0) return $"subnet '{text}' leaves no address to lease";
        first = FromNumber(number, written.AddressFamily);
        size = (uint)count;
        return null;
    }

    internal static UInt128 ToNumber(IPAddress address)
    {
        UInt128 value = 0;
        foreach (byte b in address.GetAddressBytes()) value = (value << 8) | b;
        return value;
    }

    internal static IPAddress FromNumber(UInt128 value, AddressFamily family)
    {
        var bytes = new byte[family == AddressFamily.InterNetwork ? 4 : 16];
        for (int i = bytes.Length - 1; i >= 0; i--, value >>= 8) bytes[i] = (byte)value;
        return new IPAddress(bytes);
    }
}
