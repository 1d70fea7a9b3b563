using System.Net;
using System.Net.Sockets;
using Concentrator.Ike.Connections;

namespace Concentrator.Ike.Attributes;

/// <summary>
/// Every virtual IP pool of a node and its leases (strongSwan's attribute manager over its mem_pools). Leases are keyed
/// by the peer's authenticated identity: unique (an address is leased to one identity at a time), sticky (the identity
/// gets the same address back when it reconnects), released when the last IKE SA holding it is gone, and given to
/// another identity only when no never-leased address is left, after <see cref="ReuseDelay"/>. Thread-safe: the IKE SA
/// actors call it concurrently (one lock; leases change once per IKE SA, never per packet).
/// </summary>
public sealed class AddressPools
{
    /// <summary>
    /// How long an offline lease stays its identity's before another may get the address: replies to the old holder may
    /// still arrive for a while (TCP's TIME_WAIT is 60 s on Linux, 2 x MSL = 4 min per RFC 793), and the same user
    /// coming back within it always gets its address. strongSwan hands an offline lease on at once when its pool is full.
    /// </summary>
    public static readonly TimeSpan DefaultReuseDelay = TimeSpan.FromMinutes(5);

    /// <summary>No pools (protocol tests, the peer fleet).</summary>
    public static readonly AddressPools None = new([]);

    private readonly object _gate = new();
    private readonly Dictionary<string, AddressPool> _pools = new(StringComparer.Ordinal);
    private readonly long _reuseDelay;

    public AddressPools(IEnumerable<PoolConfig> pools, TimeSpan? reuseDelay = null)
    {
        foreach (var p in pools) _pools.Add(p.Name, new AddressPool(p));
        _reuseDelay = (long)(reuseDelay ?? DefaultReuseDelay).TotalMilliseconds;
    }

    /// <summary>Set on a cluster node: its share of each pool and the leases of the other nodes' SAs.</summary>
    public ILeaseCoordinator? Coordinator { get; set; }

    /// <summary>Monotonic milliseconds; tests step it.</summary>
    public Func<long> Clock { get; init; } = () => Environment.TickCount64;

    public TimeSpan ReuseDelay => TimeSpan.FromMilliseconds(_reuseDelay);

    public IEnumerable<PoolConfig> Configs => _pools.Values.Select(p => p.Config);

    public PoolConfig? Find(string name) => _pools.TryGetValue(name, out var p) ? p.Config : null;

    /// <summary>
    /// An address of <paramref name="family"/> for <paramref name="id"/> from the first of <paramref name="pools"/> that has
    /// one, in strongSwan's order: an existing lease of the identity in any of them first, then a never-leased address,
    /// then another identity's offline lease past the reuse delay. Null when every pool is exhausted (or none fits).
    /// </summary>
    public VirtualIp? Acquire(IReadOnlyList<string> pools, AddressFamily family, Identity id, IPEndPoint peer)
    {
        lock (_gate)
        {
            var cluster = Coordinator;
            long now = Clock();
            foreach (var step in (ReadOnlySpan<int>)[0, 1, 2])
            {
                foreach (var name in pools)
                {
                    if (!_pools.TryGetValue(name, out var pool) || pool.Config.Family != family) continue;
                    var address = step switch
                    {
                        0 => pool.TryExisting(id, peer, cluster),
                        1 => pool.TryNew(id, peer, cluster),
                        _ => pool.TryReassign(id, peer, now, _reuseDelay, cluster),
                    };
                    if (address is not null) return new VirtualIp(name, address);
                }
            }
            return null;
        }
    }

    /// <summary>
    /// Takes the lease <paramref name="lease"/> for <paramref name="id"/> (an SA adopted from another node, an IKE
    /// rekey's successor): false when the pool is unknown here, the address is not one of its addresses, or another
    /// identity holds it online on this node.
    /// </summary>
    public bool Reserve(VirtualIp lease, Identity id, IPEndPoint peer)
    {
        lock (_gate) return _pools.TryGetValue(lease.Pool, out var pool) && pool.Reserve(lease.Address, id, peer);
    }

    /// <summary>An IKE SA of <paramref name="id"/> that held <paramref name="lease"/> is gone.</summary>
    public void Release(VirtualIp lease, Identity id, IPEndPoint peer)
    {
        lock (_gate)
        {
            if (_pools.TryGetValue(lease.Pool, out var pool)) pool.Release(lease.Address, id, peer, Clock());
        }
    }

    /// <summary>Whether <paramref name="lease"/> is leased (online or offline) to <paramref name="id"/> here.</summary>
    public bool IsLeasedTo(VirtualIp lease, Identity id)
    {
        lock (_gate) return _pools.TryGetValue(lease.Pool, out var pool) && pool.IsLeasedTo(lease.Address, id);
    }

    public IReadOnlyList<PoolUsage> Usage()
    {
        lock (_gate)
        {
            var cluster = Coordinator;
            return _pools.Values.Select(p => new PoolUsage(p.Config.Name, p.Config.Size, p.InUse, p.Offline,
                Math.Max(0, (long)p.Config.Size - p.Leased - (cluster?.CountHeldElsewhere(p.Config.Name) ?? 0)))).ToList();
        }
    }
}
