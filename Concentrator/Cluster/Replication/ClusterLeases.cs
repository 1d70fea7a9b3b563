using System.Net;
using Akka.Actor;
using Akka.Cluster;
using Concentrator.Ike.Attributes;
using Concentrator.Ipsec;

namespace Concentrator.Cluster.Replication;

/// <summary>
/// Virtual IP leases in a cluster (<see cref="ILeaseCoordinator"/>): per-node shares for new leases, and the leases the
/// other nodes' SAs hold, read from their replicas.
/// <list type="bullet">
/// <item>Share: each address of a pool belongs to one Up member, by rendezvous hashing of (pool, offset) over the Up
/// members' addresses. Every node computes it from the membership alone, with no message on the lease path, so two nodes
/// never lease one never-leased address at the same time; a member joining or leaving moves only its own addresses.</item>
/// <item>Held elsewhere: an SA carries its leases in its snapshot (replicated to every member), so a node never gives an
/// address another node's SA holds, whoever's share it is now; an adopter takes the lease with the SA.</item>
/// <item>Settling: addresses that became this node's in a membership change are not leased fresh for
/// <see cref="SettleTime"/>, so the replicas of the SAs their previous owner leased them to have arrived.</item>
/// </list>
/// A node that is not Up owns nothing: its peers get INTERNAL_ADDRESS_FAILURE, as from an exhausted pool. Thread-safe.
/// </summary>
public sealed class ClusterLeases : ILeaseCoordinator
{
    /// <summary>Longer than Distributed Data needs to bring a joining member every replica (gossip every 2 s).</summary>
    public static readonly TimeSpan DefaultSettleTime = TimeSpan.FromSeconds(10);

    /// <summary>How stale the view of other nodes' leases may be: it is rebuilt from the replica index at most this often.</summary>
    private const long RefreshMilliseconds = 500;

    private readonly string _self;
    private readonly Func<IReadOnlyCollection<string>> _upMembers;
    private readonly SaReplicaIndex _index;
    private readonly Func<long> _clock;
    private readonly long _settle;
    private readonly object _gate = new();

    private string[] _members = [];
    private string[] _previous = [];
    private long _changedAt = long.MinValue;
    private long _generation;
    private long _refreshedAt = long.MinValue;
    // Per replicated SA of another node: the entry it was read from (the index replaces, never changes, an entry) and the
    // leases in it.
    private readonly Dictionary<ulong, (SaReplicaEntry Entry, VirtualIp[] Leases)> _foreign = new();
    private Dictionary<string, HashSet<IPAddress>> _heldElsewhere = new(StringComparer.Ordinal);

    /// <param name="self">This node's owner name in replica entries (<see cref="SaReplicaActor.SelfOwner"/>).</param>
    /// <param name="upMembers">The owner names of the members Up now (this node among them once it is Up).</param>
    /// <param name="clock">Monotonic milliseconds.</param>
    public ClusterLeases(string self, Func<IReadOnlyCollection<string>> upMembers, SaReplicaIndex index, TimeSpan? settleTime = null,
        Func<long>? clock = null)
    {
        _self = self;
        _upMembers = upMembers;
        _index = index;
        _clock = clock ?? (() => Environment.TickCount64);
        _settle = (long)(settleTime ?? DefaultSettleTime).TotalMilliseconds;
        // The first view counts as a change: a node joining a running cluster waits for the replicas too.
        RefreshMembers();
    }

    /// <summary>The coordinator of a cluster node: its owner name and the members Up as Akka.Cluster sees them.</summary>
    public static ClusterLeases ForNode(ActorSystem system, SaReplicaIndex index, TimeSpan? settleTime = null)
    {
        var cluster = Akka.Cluster.Cluster.Get(system);
        // Cluster.State is an immutable view, safe to read from the SA actors' threads.
        var leases = new ClusterLeases(SaReplicaActor.SelfOwner(system),
            () => cluster.State.Members.Where(m => m.Status == MemberStatus.Up).Select(m => m.Address.ToString()).ToList(), index, settleTime);
        // The settling time counts from when a change is seen: looked at twice a second, not only when a peer asks for an
        // address (the scheduler stops with the actor system).
        system.Scheduler.Advanced.ScheduleRepeatedly(ObserveInterval, ObserveInterval, leases.Observe);
        return leases;
    }

    private static readonly TimeSpan ObserveInterval = TimeSpan.FromMilliseconds(500);

    /// <summary>Takes note of the current membership (a change starts the settling time).</summary>
    public void Observe()
    {
        lock (_gate) RefreshMembers();
    }

    public TimeSpan SettleTime => TimeSpan.FromMilliseconds(_settle);

    /// <summary>Changes with the membership, when a membership change has settled, and when another node's SA gave up
    /// a lease (the pools then look again at addresses they passed over).</summary>
    public long Generation
    {
        get
        {
            lock (_gate)
            {
                RefreshMembers();
                RefreshLeases();
                bool settled = _clock() - _changedAt >= _settle;
                return _generation * 2 + (settled ? 1 : 0);
            }
        }
    }

    public bool Owns(PoolConfig pool, uint offset)
    {
        lock (_gate)
        {
            RefreshMembers();
            if (Owner(_members, pool.Name, offset) != _self) return false;
            // Alone, nobody else can hold anything; otherwise an address that was another member's waits for its replicas.
            if (_members.Length == 1 && _previous.Length <= 1) return true;
            return Owner(_previous, pool.Name, offset) == _self || _clock() - _changedAt >= _settle;
        }
    }

    public bool HeldElsewhere(string pool, IPAddress address)
    {
        lock (_gate)
        {
            RefreshLeases();
            return _heldElsewhere.TryGetValue(pool, out var held) && held.Contains(address);
        }
    }

    public int CountHeldElsewhere(string pool)
    {
        lock (_gate)
        {
            RefreshLeases();
            return _heldElsewhere.TryGetValue(pool, out var held) ? held.Count : 0;
        }
    }

    /// <summary>The member that owns <paramref name="offset"/> of <paramref name="pool"/> among <paramref name="members"/>
    /// (highest random weight); null for no members.</summary>
    public static string? Owner(IReadOnlyList<string> members, string pool, uint offset)
    {
        string? best = null;
        ulong bestWeight = 0;
        foreach (var m in members)
        {
            ulong w = Weight(m, pool, offset);
            if (best is null || w > bestWeight || (w == bestWeight && string.CompareOrdinal(m, best) < 0))
            {
                best = m;
                bestWeight = w;
            }
        }
        return best;
    }

    // FNV-1a over member, pool and offset, then a 64-bit finaliser (splitmix64) so neighbouring offsets spread evenly.
    private static ulong Weight(string member, string pool, uint offset)
    {
        ulong h = 14695981039346656037UL;
        foreach (char c in member) h = (h ^ c) * 1099511628211UL;
        h = (h ^ 0xFF) * 1099511628211UL;
        foreach (char c in pool) h = (h ^ c) * 1099511628211UL;
        h ^= offset;
        h += 0x9E3779B97F4A7C15UL;
        h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9UL;
        h = (h ^ (h >> 27)) * 0x94D049BB133111EBUL;
        return h ^ (h >> 31);
    }

    private void RefreshMembers()
    {
        var up = _upMembers();
        // Not Up: no share at all (the others do not count this node yet).
        string[] members = up.Contains(_self) ? up.Order(StringComparer.Ordinal).ToArray() : [];
        if (members.AsSpan().SequenceEqual(_members)) return;
        _previous = _members;
        _members = members;
        _changedAt = _clock();
        _generation++;
    }

    private void RefreshLeases()
    {
        long now = _clock();
        if (now - _refreshedAt < RefreshMilliseconds && _refreshedAt != long.MinValue) return;
        _refreshedAt = now;
        var present = new HashSet<ulong>();
        foreach (ulong spi in _index.OwnedByNoneOf(new HashSet<string>(StringComparer.Ordinal) { _self }))
        {
            if (!_index.TryGet(spi, out var entry)) continue;
            present.Add(spi);
            if (_foreign.TryGetValue(spi, out var known) && ReferenceEquals(known.Entry, entry)) continue;
            _foreign[spi] = (entry, LeasesOf(entry));
        }
        foreach (ulong gone in _foreign.Keys.Where(k => !present.Contains(k)).ToList()) _foreign.Remove(gone);

        var current = new Dictionary<string, HashSet<IPAddress>>(StringComparer.Ordinal);
        foreach (var (_, leases) in _foreign.Values)
        {
            foreach (var lease in leases)
            {
                if (!current.TryGetValue(lease.Pool, out var held)) current[lease.Pool] = held = [];
                held.Add(lease.Address);
            }
        }
        bool released = _heldElsewhere.Any(p => !current.TryGetValue(p.Key, out var held) || !p.Value.IsSubsetOf(held));
        _heldElsewhere = current;
        if (released) _generation++;
    }

    /// <summary>The leases in one replica (from another member: a malformed one holds none). Only a version-2 snapshot
    /// has any, so the others are never copied or decoded (nor their keys); a copy taken is zeroed when read.</summary>
    private static VirtualIp[] LeasesOf(SaReplicaEntry entry)
    {
        // The version byte, read without the entry's lock: an entry zeroed meanwhile was replaced and is read again.
        var peek = entry.Snapshot.Span;
        if (peek.Length == 0 || peek[0] != IkeSaSnapshotCodec.VersionWithVirtualIps || !entry.TryCopySnapshot(out var bytes)) return [];
        try
        {
            if (IkeSaSnapshotCodec.TryDecode(bytes, out var snapshot) != ParseStatus.Ok) return [];
            using (snapshot)
            {
                return snapshot!.VirtualIps.Where(v => v.IsLease).ToArray();
            }
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(bytes);
        }
    }
}
