using System.Globalization;
using System.Net;
using Concentrator.Ike.Attributes;
using Concentrator.Ike.Wire;

namespace Concentrator.Config;

/// <summary>
/// <c>pools:</c>, swanctl's virtual IP pools: <c>addrs</c> (a subnet or a range) and the attributes sent with an address
/// (<c>dns</c>, <c>nbns</c>, <c>subnet</c>, and swanctl's numbered form, e.g. <c>25</c> for INTERNAL_DNS_DOMAIN); and
/// the connection keys that use them, <c>pools</c> (responder) and <c>vips</c> (initiator).
/// </summary>
internal static partial class ConfigLoader
{
    private const string PoolsKey = "pools";

    /// <summary>swanctl pool keys we do not send, with the reason (an error at load, never read and ignored).</summary>
    private static readonly Dictionary<string, string> UnsupportedPoolKeys = new(StringComparer.Ordinal)
    {
        ["split_include"] = "is a Cisco Unity attribute (IKEv1) no IKEv2 client reads; an IKEv2 client's split tunnel is the " +
                            "child's local_ts (the narrowed TSr) and INTERNAL_IP4/6_SUBNET (key subnet)",
        ["split_exclude"] = "is a Cisco Unity attribute (IKEv1) no IKEv2 client reads; narrow the child's local_ts instead",
        ["dhcp"] = "is not supported yet (addresses come from addrs; no DHCP relay)",
        ["netmask"] = "is not supported yet (RFC 7296 §3.15.1 advises against INTERNAL_IP4_NETMASK; use subnet)",
        ["server"] = "is not supported yet (INTERNAL_IP4/6_SERVER is Microsoft's; no client here needs it)",
        ["p_cscf"] = "is not supported yet (RFC 7651 P-CSCF)",
    };

    private static readonly string[] PoolKeys = ["addrs", "dns", "nbns", "subnet", .. UnsupportedPoolKeys.Keys];

    /// <summary>Numbered attributes that have a key of their own or are the address itself.</summary>
    private static readonly HashSet<ushort> NamedAttributeTypes =
    [
        (ushort)ConfigAttributeType.InternalIp4Address, (ushort)ConfigAttributeType.InternalIp6Address,
        (ushort)ConfigAttributeType.InternalIp4Dns, (ushort)ConfigAttributeType.InternalIp6Dns, (ushort)ConfigAttributeType.InternalIp4Nbns,
        (ushort)ConfigAttributeType.InternalIp4Subnet, (ushort)ConfigAttributeType.InternalIp6Subnet,
    ];

    private static Dictionary<string, PoolConfig> ReadPools(YamlSection root)
    {
        var result = new Dictionary<string, PoolConfig>(StringComparer.Ordinal);
        foreach (var (name, m) in root.Sections(PoolsKey, k => PoolKeys.Contains(k) || IsAttributeNumber(k)))
        {
            foreach (var key in m.Keys)
            {
                if (UnsupportedPoolKeys.TryGetValue(key, out var why)) throw m.Fail(key, why);
            }
            var addrs = m.Scalar("addrs") ?? throw m.Fail("addrs", "missing (every pool needs addrs: a subnet or a range)");
            if (PoolConfig.TryParseAddrs(addrs, out var first, out uint size) is { } error) throw m.Fail("addrs", error);

            var attributes = new List<ConfigAttribute>();
            foreach (var key in m.Keys.Where(k => k != "addrs"))
            {
                foreach (var item in m.List(key) ?? [])
                {
                    string? problem = null;
                    var attribute = key switch
                    {
                        "dns" => PoolAttributes.Server(item.Value, ConfigAttributeType.InternalIp4Dns, ConfigAttributeType.InternalIp6Dns, out problem),
                        "nbns" => PoolAttributes.Server(item.Value, ConfigAttributeType.InternalIp4Nbns, null, out problem),
                        "subnet" => PoolAttributes.Subnet(item.Value, out problem),
                        _ when ushort.Parse(key, CultureInfo.InvariantCulture) == (ushort)ConfigAttributeType.InternalDnsDomain =>
                            PoolAttributes.DnsDomain(item.Value, out problem),
                        _ => PoolAttributes.Numbered(ushort.Parse(key, CultureInfo.InvariantCulture), item.Value),
                    };
                    attributes.Add(attribute ?? throw m.Fail(item, problem!));
                }
            }

            var pool = new PoolConfig { Name = name, First = first, Size = size, Addrs = addrs.Trim(), Attributes = attributes };
            foreach (var other in result.Values)
            {
                if (pool.Overlaps(other)) throw m.Fail("addrs", $"'{pool.Addrs}' overlaps pool '{other.Name}' ({other.Addrs}); pools must not overlap");
            }
            result[name] = pool;
        }
        return result;
    }

    /// <summary>swanctl's numbered attribute key: 1..32767, not one with a key of its own.</summary>
    private static bool IsAttributeNumber(string key) =>
        ushort.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out ushort type) && type is > 0 and <= 0x7FFF &&
        !NamedAttributeTypes.Contains(type);

    /// <summary>A connection's <c>pools</c>: names of pools defined under <c>pools:</c>.</summary>
    private static List<string> ReadPoolNames(YamlSection m, IReadOnlyDictionary<string, PoolConfig> pools)
    {
        var names = new List<string>();
        foreach (var item in m.List("pools") ?? [])
        {
            if (!pools.ContainsKey(item.Value))
            {
                var known = pools.Count == 0 ? "no pools are defined" : "defined: " + string.Join(", ", pools.Keys);
                throw m.Fail(item, $"no pool named '{item.Value}' ({known})");
            }
            names.Add(item.Value);
        }
        return names;
    }

    /// <summary>A connection's <c>vips</c>: addresses to request (0.0.0.0 or :: asks for any of that family).</summary>
    private static List<IPAddress> ReadVips(YamlSection m)
    {
        var vips = new List<IPAddress>();
        foreach (var item in m.List("vips") ?? [])
        {
            if (!PoolAttributes.TryAddress(item.Value, out var address))
            {
                throw m.Fail(item, $"'{item.Value}' is not an IP address (0.0.0.0 or :: asks for any address)");
            }
            vips.Add(address);
        }
        return vips;
    }
}
