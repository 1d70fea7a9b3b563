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
    // Never changed once published: a reload swaps in another dictionary, so lock-free readers (Find, Configs) see one set.
    private volatile Dictionary<string, AddressPool> _pools = new(StringComparer.Ordinal);
    // Pools a reload removed or gave other addresses, kept while SAs hold leases of them: those leases stay valid (released,
    // reserved by an IKE rekey's successor) but no new lease comes from them, and no current pool leases their addresses.
    private readonly List<AddressPool> _retired = [];
    private long _retiredVersion;
    private readonly long _reuseDelay;

    public AddressPools(IEnumerable<PoolConfig> pools, TimeSpan? reuseDelay = null)
    {
        foreach (var p in pools) _pools.Add(p.Name, new AddressPool(p));
        _reuseDelay = (long)(reuseDelay ?? DefaultReuseDelay).TotalMilliseconds;
    }

    /// <summary>Set on a cluster node: its share of each pool and the leases of the other nodes' SAs.</summary>
    public ILeaseCoordinator? Coordinator { get; set; }

    /// <summary>The coordinator the pools consult: <see cref="Coordinator"/>, and while retired pools hold leases, them too.</summary>
    private ILeaseCoordinator? Consulted => _retired.Count == 0 ? Coordinator : new RetiredAware(Coordinator, _retired, _retiredVersion);

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
            var cluster = Consulted;
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
        lock (_gate) return Holding(lease, id) is { } pool && pool.Reserve(lease.Address, id, peer);
    }

    /// <summary>An IKE SA of <paramref name="id"/> that held <paramref name="lease"/> is gone.</summary>
    public void Release(VirtualIp lease, Identity id, IPEndPoint peer)
    {
        lock (_gate)
        {
            if (Holding(lease, id) is not { } pool) return;
            pool.Release(lease.Address, id, peer, Clock());
            if (pool.InUse == 0 && _retired.Remove(pool)) _retiredVersion++;
        }
    }

    /// <summary>Whether <paramref name="lease"/> is leased (online or offline) to <paramref name="id"/> here.</summary>
    public bool IsLeasedTo(VirtualIp lease, Identity id)
    {
        lock (_gate) return Holding(lease, id) is { } pool && pool.IsLeasedTo(lease.Address, id);
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

    /// <summary>
    /// A reload's pools (swanctl --load-pools). A pool whose addresses (first and size) are unchanged keeps its leases and
    /// takes the new attributes; a removed pool, or one with other addresses, leases nothing new from now on, and while SAs
    /// hold leases of it, it is kept (retired) so those stay valid and no other pool leases the addresses until they go.
    /// Offline leases of a retired pool are dropped. Returns the names added, removed and changed.
    /// </summary>
    public (IReadOnlyList<string> Added, IReadOnlyList<string> Removed, IReadOnlyList<string> Changed) Replace(IEnumerable<PoolConfig> pools)
    {
        lock (_gate)
        {
            var next = new Dictionary<string, AddressPool>(StringComparer.Ordinal);
            List<string> added = [], removed = [], changed = [];
            foreach (var p in pools)
            {
                if (_pools.TryGetValue(p.Name, out var current) && current.Config.First.Equals(p.First) && current.Config.Size == p.Size)
                {
                    current.Config = p;
                    next.Add(p.Name, current);
                    continue;
                }
                (current is null ? added : changed).Add(p.Name);
                next.Add(p.Name, new AddressPool(p));
            }
            foreach (var (name, old) in _pools)
            {
                if (next.TryGetValue(name, out var kept) && ReferenceEquals(kept, old)) continue;
                if (!next.ContainsKey(name)) removed.Add(name);
                if (old.InUse > 0) _retired.Add(old);
            }
            _pools = next;
            _retiredVersion++;
            return (added, removed, changed);
        }
    }

    /// <summary>The pool that holds <paramref name="lease"/> for <paramref name="id"/>: a retired one first (its SAs outlive a
    /// reload), else the current pool of that name.</summary>
    private AddressPool? Holding(VirtualIp lease, Identity id)
    {
        foreach (var r in _retired)
        {
            if (r.Config.Name == lease.Pool && r.IsLeasedTo(lease.Address, id)) return r;
        }
        return _pools.GetValueOrDefault(lease.Pool);
    }

    /// <summary>The cluster's answers, and addresses that SAs hold in retired pools counted as held elsewhere.</summary>
    private sealed class RetiredAware(ILeaseCoordinator? cluster, List<AddressPool> retired, long version) : ILeaseCoordinator
    {
        // A retired pool going away may free addresses passed over before: the scan starts again.
        public long Generation => (cluster?.Generation ?? 0) + (version << 32);

        public bool Owns(PoolConfig pool, uint offset) => cluster?.Owns(pool, offset) ?? true;

        public bool HeldElsewhere(string pool, IPAddress address)
        {
            if (cluster?.HeldElsewhere(pool, address) == true) return true;
            foreach (var r in retired)
            {
                if (r.HoldsOnline(address)) return true;
            }
            return false;
        }

        public int CountHeldElsewhere(string pool) => cluster?.CountHeldElsewhere(pool) ?? 0;
    }
}
