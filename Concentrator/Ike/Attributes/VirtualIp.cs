using System.Net;

namespace Concentrator.Ike.Attributes;

/// <summary>
/// A virtual IP of an IKE SA: leased from <paramref name="Pool"/> to the peer (we are the responder), or, with
/// <paramref name="Pool"/> "", assigned to us by the peer's CFG_REPLY (we requested it with <c>vips</c>).
/// </summary>
public sealed record VirtualIp(string Pool, IPAddress Address)
{
    /// <summary>Leased by this node from one of its pools (released when the SA ends).</summary>
    public bool IsLease => Pool.Length > 0;

    public override string ToString() => Address.ToString();
}

/// <summary>One pool's counts as this node sees them (the metrics).</summary>
/// <param name="InUse">Addresses held by this node's IKE SAs.</param>
/// <param name="Offline">Addresses kept for identities whose last SA here is gone (sticky leases).</param>
/// <param name="Free">Addresses no SA and no returning identity holds, as far as this node knows (in a cluster: the
/// whole cluster's count, seen from here).</param>
public readonly record struct PoolUsage(string Pool, uint Size, int InUse, int Offline, long Free);

/// <summary>
/// What a cluster adds to a node's pools (<see cref="AddressPools.Coordinator"/>): which never-leased addresses this
/// node may hand out (its share, so two nodes never lease one address at the same time), and which addresses IKE SAs
/// held by other nodes lease (replicated with their SAs). Implemented in Cluster/Replication; thread-safe.
/// </summary>
public interface ILeaseCoordinator
{
    /// <summary>Changes whenever <see cref="Owns"/> or <see cref="HeldElsewhere"/> may answer differently.</summary>
    long Generation { get; }

    /// <summary>This node's share of <paramref name="pool"/>: it may lease the address at <paramref name="offset"/>.</summary>
    bool Owns(PoolConfig pool, uint offset);

    /// <summary>An IKE SA held by another node leases <paramref name="address"/> of <paramref name="pool"/>.</summary>
    bool HeldElsewhere(string pool, IPAddress address);

    /// <summary>How many addresses of <paramref name="pool"/> SAs of other nodes lease.</summary>
    int CountHeldElsewhere(string pool);
}
