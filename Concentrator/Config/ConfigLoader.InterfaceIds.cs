using System.Globalization;
using Concentrator.DataPlane.Linux;
using Concentrator.Ike.Connections;

namespace Concentrator.Config;

/// <summary>
/// swanctl's if_id_in / if_id_out (connection level: the children's default; child level: the child's own). An ID N &gt; 0
/// puts a child's SAs on the route-based interface ipsec&lt;N&gt; the gateway creates, with a selector table of its own.
/// </summary>
internal static partial class ConfigLoader
{
    /// <summary>0xFFFFFFFF is strongSwan's %unique marker, never an interface.</summary>
    internal const uint MaxInterfaceId = 0xFFFFFFFE;

    private static (uint In, uint Out) InterfaceIds(YamlSection m, (uint In, uint Out) defaults) =>
        (InterfaceId(m, "if_id_in", defaults.In), InterfaceId(m, "if_id_out", defaults.Out));

    private static uint InterfaceId(YamlSection m, string key, uint fallback)
    {
        if (m.Scalar(key) is not { } text) return fallback;
        var s = text.Trim();
        if (s.StartsWith('%'))
        {
            throw m.Fail(key, $"'{s}' is not supported: give a number (0..{MaxInterfaceId}); each N > 0 is the interface ipsec<N>");
        }
        ulong value = 0;
        bool ok = s.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? s.Length > 2 && ulong.TryParse(s.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value)
            : ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out value);
        if (!ok) throw m.Fail(key, $"'{s}' is not a number (decimal or 0x hexadecimal)");
        if (value > MaxInterfaceId) throw m.Fail(key, $"{value} is out of range 0..{MaxInterfaceId}");
        return (uint)value;
    }

    /// <summary>
    /// A route-based child's outbound traffic is whatever the operator routes into ipsec&lt;N&gt;: no trap policy stands
    /// for it (traffic without an SA is dropped there), so start_action trap is refused rather than half-honoured.
    /// </summary>
    private static void CheckRouteBasedChild(YamlSection m, uint interfaceOut, string startAction)
    {
        if (interfaceOut != 0 && startAction == "trap")
        {
            throw m.Fail("start_action", $"trap is not supported with if_id_out {interfaceOut} (route-based: traffic routed into ipsec{interfaceOut} " +
                "without an SA is dropped, nothing is trapped); use start_action start or none");
        }
    }

    /// <summary>The shared device must not take the name of a route-based interface the gateway creates.</summary>
    private static void CheckInterfaceDevices(YamlSection root, ConcentratorConfig config)
    {
        foreach (uint id in InterfaceIdsInUse(config.Connections.Values))
        {
            if (string.Equals(config.Tunnel.Device, RouteInterfaces.Name(id), StringComparison.Ordinal))
            {
                throw root.Section("tunnel", TunnelKeys).Fail("device",
                    $"'{config.Tunnel.Device}' is the route-based interface of if_id {id}; name the shared device otherwise (e.g. ipsec0)");
            }
        }
    }

    /// <summary>Every distinct interface ID N &gt; 0 the children use, in or out, ascending.</summary>
    internal static SortedSet<uint> InterfaceIdsInUse(IEnumerable<ConnectionConfig> connections)
    {
        var ids = new SortedSet<uint>();
        foreach (var connection in connections)
        {
            foreach (var child in connection.Children.Values)
            {
                if (child.InterfaceIdIn != 0) ids.Add(child.InterfaceIdIn);
                if (child.InterfaceIdOut != 0) ids.Add(child.InterfaceIdOut);
            }
        }
        return ids;
    }
}
