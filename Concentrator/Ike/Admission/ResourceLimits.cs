using Concentrator.Ike.Wire;

namespace Concentrator.Ike.Admission;

/// <summary>
/// Resource bounds of one node (from <c>charon:</c>, see <see cref="CharonConfig"/>); "unlimited" is
/// <see cref="int.MaxValue"/> here. Tunables, not protocol facts: each caps what a peer (or an admin
/// client) can make us hold, and the defaults stay well above what real peers use.
/// </summary>
public sealed record ResourceLimits
{
    /// <summary>strongSwan's charon.max_packet default: 10000 bytes.</summary>
    public int MaxPacket { get; init; } = 10000;

    /// <summary>strongSwan sends well under ten payloads per message.</summary>
    public int MaxPayloads { get; init; } = WireLimits.MaxPayloadsPerMessage;

    /// <summary>At a few tens of kB per established IKE SA with its children, 100000 stays within a few GB.</summary>
    public int IkeSaLimit { get; init; } = 100_000;

    /// <summary>Per remote address, so one host cannot take the whole <see cref="IkeSaLimit"/>; generous for NAT.</summary>
    public int IkeSaLimitPerPeer { get; init; } = 1000;

    public int ChildSaLimit { get; init; } = 64;

    /// <summary>The queue held per trap policy while its SA is negotiated.</summary>
    public int AcquireQueue { get; init; } = 32;

    public int AdminRate { get; init; } = 20;

    /// <summary>
    /// Octets of IKE fragments (RFC 7383) all SAs of the node may hold while reassembling. Each reassembly is bounded by
    /// <see cref="MaxPacket"/> (and its first datagram) and an SA has at most two (the peer's request, the response to
    /// ours); fragments arrive back to back, so real peers hold a few kB at a time. The default is what 5000 half-open SAs
    /// (init_limit_half_open) can hold at 2 x 10000 octets each, so that they never refuse another peer's fragments.
    /// </summary>
    public long FragmentMemory { get; init; } = 100_000_000;

    public static ResourceLimits Default { get; } = new();
}
