using System.Net;
using Concentrator.Ipsec;

namespace Concentrator.DataPlane.Linux;

/// <summary>What the Linux data plane is built from (the composition root maps <c>tunnel:</c>, <c>listen:</c> and
/// <c>charon:</c> onto it).</summary>
public sealed record LinuxDataPlaneOptions
{
    /// <summary>The TUN device's name (IFNAMSIZ - 1 characters at most).</summary>
    public string Device { get; init; } = "ipsec0";

    public int Mtu { get; init; } = 1400;

    /// <summary>Packet workers; 0 means one per core.</summary>
    public int Workers { get; init; }

    /// <summary>Coalesce decrypted TCP segments into GSO super-packets on the TUN write.</summary>
    public bool Gro { get; init; } = true;

    /// <summary>Offer TSO on the TUN device and split the super-packets read (TunTso).</summary>
    public bool Tso { get; init; } = true;

    /// <summary>Send runs of equal-length ESP-in-UDP datagrams to one peer as UDP GSO messages (UdpGsoSender), where the kernel
    /// supports UDP_SEGMENT.</summary>
    public bool UdpGso { get; init; } = true;
    /// <summary>UDP GRO on the ESP-in-UDP sockets: the kernel hands a read up to 64 KiB of one peer's datagrams at once.</summary>
    public bool UdpGro { get; init; }

    /// <summary>Add (and remove) a route via the device for every remote traffic selector.</summary>
    public bool InstallRoutes { get; init; } = true;

    /// <summary>The table tunnel routes go into (charon.routing_table); never main. Also the fwmark of the plane's sockets.</summary>
    public uint RoutingTable { get; init; } = RouteManager.DefaultTable;

    /// <summary>Priority of the first of the rules that look the table up (charon.routing_table_prio).</summary>
    public uint RoutingTablePriority { get; init; } = RouteManager.DefaultPriority;

    /// <summary>Also carry ESP as IP protocol 50 (raw socket) for peers that are not behind a NAT.</summary>
    public bool PlainEsp { get; init; } = true;

    /// <summary>The address the IPv4 NAT-T and raw sockets bind (IPv4; anything else binds the wildcard).</summary>
    public IPAddress ListenAddress { get; init; } = IPAddress.Any;

    /// <summary>
    /// The address the IPv6 NAT-T and raw sockets bind (<c>::</c> for all); null: no IPv6 sockets, ESP travels over IPv4
    /// only. Both families share <see cref="NattPort"/>.
    /// </summary>
    public IPAddress? ListenAddress6 { get; init; }

    /// <summary>The NAT-T port the per-worker ESP-in-UDP sockets share; 0 binds an ephemeral port.</summary>
    public int NattPort { get; init; } = UdpEncapsulation.NatTraversalPort;

    /// <summary>
    /// The largest IKE message taken from the NAT-T port (charon.max_packet, strongSwan's default 10000): IKE_AUTH with
    /// certificates does not fit a packet slot when the peer does not fragment.
    /// </summary>
    public int MaxIkePacket { get; init; } = 10000;

    /// <summary>Packets held per trap policy while its SA is negotiated (charon.acquire_queue).</summary>
    public int AcquireQueue { get; init; } = 32;

    /// <summary>The trap policies ("interesting traffic" that starts a negotiation).</summary>
    public IReadOnlyList<TrapSpec> Traps { get; init; } = [];

    /// <summary>
    /// The virtual IP pools' addresses (swanctl pools), routed via the device while the plane runs (with
    /// <see cref="InstallRoutes"/>): traffic for a pool address enters the tunnel whichever address is leased, and
    /// for an address no Child SA covers it is dropped there instead of leaving by the default route.
    /// </summary>
    public IReadOnlyList<TrafficSelector> PoolRoutes { get; init; } = [];

    /// <summary>The route-based interfaces (swanctl if_id_in/if_id_out N &gt; 0) to create at start: ipsec&lt;N&gt; each.</summary>
    public IReadOnlyCollection<uint> InterfaceIds { get; init; } = [];
}

/// <summary>A child with start_action trap: traffic between these selectors without an SA asks for a negotiation.</summary>
public sealed record TrapSpec(string Connection, string Child, IReadOnlyList<TrafficSelector> LocalTs, IReadOnlyList<TrafficSelector> RemoteTs);
