namespace Concentrator.Config;

public sealed class TunnelConfig
{
    /// <summary>Linux interface names are at most 15 characters (IFNAMSIZ - 1).</summary>
    public const int MaxDeviceNameLength = 15;
    public const int MinMtu = 576;
    public const int MaxMtu = 65535;

    public const int MaxWorkers = 64;

    /// <summary>"tun": the route-based ESP data plane on a TUN device (needs CAP_NET_ADMIN);
    /// "none": IKE only, Child SAs kept in memory (control-plane testing, no privileges).</summary>
    public string Type { get; init; } = "tun";

    public string Device { get; init; } = "ipsec0";
    public int Mtu { get; init; } = 1400;

    /// <summary>Packet workers; 0 means one per core.</summary>
    public int Workers { get; init; }

    /// <summary>Add (and remove) a route via the device for every remote traffic selector (strongSwan's charon.install_routes).</summary>
    public bool InstallRoutes { get; init; } = true;

    /// <summary>Also carry ESP as IP protocol 50 (raw socket) for peers that are not behind a NAT.</summary>
    public bool PlainEsp { get; init; } = true;

    /// <summary>Coalesce consecutive decrypted TCP segments of one flow into GSO super-packets on the TUN write
    /// (virtio-net header offload, as wireguard-go does): one kernel traversal per up to 64 KiB instead of per segment.</summary>
    public bool Gro { get; init; } = true;

    /// <summary>Offer TCP segmentation offload on the TUN device: a flow's data is read as super-packets of up to 64 KiB and
    /// split into segments in the data plane, one kernel read per super-packet instead of per segment.</summary>
    public bool Tso { get; init; } = true;

    /// <summary>Send runs of equal-length ESP-in-UDP datagrams to one peer as one UDP GSO message (UDP_SEGMENT).</summary>
    public bool UdpGso { get; init; } = true;
    /// <summary>UDP GRO (UDP_GRO socket option) on the ESP-in-UDP sockets: one read returns up to 64 KiB of one peer's
    /// consecutive datagrams, split again in the receive worker (Receive.Gro.cs).</summary>
    public bool UdpGro { get; init; }
}
