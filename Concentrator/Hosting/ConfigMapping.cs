using System.Net;
using System.Net.Sockets;
using Concentrator.Config;
using Concentrator.DataPlane.Linux;
using Concentrator.Ike.Admission;
using Concentrator.Ike.Proposals;
using Concentrator.Ike.Sa;
using Concentrator.Ipsec;
using Concentrator.Telemetry;

namespace Concentrator.Hosting;

/// <summary>
/// Configuration records to the options of the components below the composition root: the only place that knows
/// both. A component never reads the YAML's records itself.
/// </summary>
public static class ConfigMapping
{
    public static Radius.RadiusClientOptions ToRadiusOptions(this EapRadiusConfig c) => new()
    {
        Servers = c.Servers.Select(s => new Radius.RadiusServerOptions
        {
            Name = s.Name, Address = s.Address, AuthPort = s.AuthPort, AcctPort = s.AcctPort, Secret = s.Secret,
            NasIdentifier = s.NasIdentifier, RetransmitTries = s.RetransmitTries, RetransmitTimeout = s.RetransmitTimeout,
            RetransmitBase = s.RetransmitBase, Preference = s.Preference,
        }).ToList(),
        Accounting = c.Accounting,
        AccountingInterval = c.AccountingInterval,
        AccountingSendClass = c.AccountingSendClass,
        ClassGroup = c.ClassGroup,
        StationIdWithPort = c.StationIdWithPort,
    };

    public static ResourceLimits ToLimits(this CharonConfig c) => new()
    {
        MaxPacket = c.MaxPacket,
        MaxPayloads = c.MaxPayloads,
        IkeSaLimit = c.IkeSaLimit == 0 ? int.MaxValue : c.IkeSaLimit,
        IkeSaLimitPerPeer = c.IkeSaLimitPerPeer == 0 ? int.MaxValue : c.IkeSaLimitPerPeer,
        ChildSaLimit = c.ChildSaLimit == 0 ? int.MaxValue : c.ChildSaLimit,
        AcquireQueue = c.AcquireQueue,
        AdminRate = c.AdminRate,
        FragmentMemory = c.FragmentMemory,
    };

    public static IkeTunables ToTunables(this CharonConfig c) => new()
    {
        RetransmitTimeout = c.RetransmitTimeout,
        RetransmitBase = c.RetransmitBase,
        RetransmitTries = c.RetransmitTries,
        FragmentSizeV4 = FragmentSize(c.FragmentSizeV4, c.FragmentSize, 576),
        FragmentSizeV6 = FragmentSize(c.FragmentSizeV6, c.FragmentSize, 1280),
        KeepAliveInterval = c.KeepAlive,
    };

    /// <summary>strongSwan's determine_fragment_size: the family's own key, else fragment_size, else the family's default
    /// (576 for IPv4, 1280 for IPv6, the minimum datagrams each must carry).</summary>
    private static int FragmentSize(int family, int common, int fallback) => family != 0 ? family : common != 0 ? common : fallback;

    public static AdmissionOptions ToAdmission(this CharonConfig c) => new()
    {
        CookieThreshold = c.CookieThreshold == 0 ? int.MaxValue : c.CookieThreshold,
        CookieThresholdIp = c.CookieThresholdIp == 0 ? int.MaxValue : c.CookieThresholdIp,
        MaxHalfOpen = c.InitLimitHalfOpen == 0 ? int.MaxValue : c.InitLimitHalfOpen,
        BlockThreshold = c.BlockThreshold == 0 ? int.MaxValue : c.BlockThreshold,
        HalfOpenTimeout = c.HalfOpenTimeout,
        InitJobLoad = c.InitLimitJobLoad == 0 ? int.MaxValue : c.InitLimitJobLoad,
        InitRate = c.InitLimitRate,
        AuthFailedThreshold = c.AuthFailedThreshold,
        AuthFailedBackoff = c.AuthFailedBackoff,
    };

    /// <summary>Declares the configured children to the node's metrics (see <see cref="ConcentratorMetrics.DeclareChildren"/>).</summary>
    public static void BindConfig(this ConcentratorMetrics metrics, ConcentratorConfig config) =>
        metrics.DeclareChildren(config.Connections.Values.SelectMany(conn => conn.Children.Values,
            (conn, child) => (conn.Name, child.Name, child.StartAction is "start" or "trap")));

    /// <summary>The Linux data plane of this configuration: <c>tunnel:</c>, the first listen address, the NAT-T port, the
    /// acquire queue, the trap policies of children with start_action trap and the virtual IP pools to route.</summary>
    public static LinuxDataPlaneOptions ToDataPlaneOptions(this ConcentratorConfig config) => new()
    {
        Device = config.Tunnel.Device,
        Mtu = config.Tunnel.Mtu,
        Workers = config.Tunnel.Workers,
        Gro = config.Tunnel.Gro,
        Tso = config.Tunnel.Tso,
        UdpGso = config.Tunnel.UdpGso,
        UdpGro = config.Tunnel.UdpGro,
        InstallRoutes = config.Tunnel.InstallRoutes,
        RoutingTable = config.Charon.RoutingTable,
        RoutingTablePriority = config.Charon.RoutingTablePrio,
        PlainEsp = config.Tunnel.PlainEsp,
        // The first listen address of each family: ESP over IPv6 needs an IPv6 one (the Gateway hands each the NAT-T port).
        ListenAddress = config.Listen.Addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? IPAddress.Any,
        ListenAddress6 = config.Listen.Addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetworkV6),
        NattPort = config.Listen.NattPort,
        AcquireQueue = config.Charon.AcquireQueue,
        MaxIkePacket = config.Charon.MaxPacket,
        Traps = config.Connections.Values
            .SelectMany(conn => conn.Children.Values.Where(child => child.StartAction == "trap"),
                (conn, child) => new TrapSpec(conn.Name, child.Name, ResolveForTrap(child.LocalTs), ResolveForTrap(child.RemoteTs)))
            .ToList(),
        PoolRoutes = config.Pools.Values
            .Select(pool => new TrafficSelector(pool.Family == AddressFamily.InterNetwork ? TsType.Ipv4AddressRange : TsType.Ipv6AddressRange,
                0, 0, 65535, pool.First, pool.Last))
            .ToList(),
        InterfaceIds = ConfigLoader.InterfaceIdsInUse(config.Connections.Values),
    };

    private static IReadOnlyList<TrafficSelector> ResolveForTrap(IReadOnlyList<TrafficSelectorSpec> specs)
    {
        // "dynamic" is unknown before negotiation; a trap then matches any address on that side.
        var any = new TrafficSelector(TsType.Ipv4AddressRange, 0, 0, 65535, IPAddress.Any, IPAddress.Broadcast);
        if (specs.Count == 0) return [any];
        return specs.Select(s => s.Dynamic ? any : s.Resolve(IPAddress.Any)).ToList();
    }
}
