using System.Net;
using Concentrator.Ike.Connections;

namespace Concentrator.Ike.Attributes;

/// <summary>
/// The leases of one pool, after strongSwan's mem_pool: per identity its online leases (held by IKE SAs, each with the
/// peer endpoint it was leased to, so a make-before-break reauthentication from the same host shares it) and its
/// offline leases (its SAs are gone; kept for it, so the same user gets the same address back). Never-leased addresses
/// go out first, in order; an offline lease of another identity only when none is left, oldest first, and only after
/// the reuse delay (packets for the previous holder may still be on their way). Not thread-safe:
/// <see cref="AddressPools"/> serialises every call.
/// </summary>
internal sealed class AddressPool(PoolConfig config)
{
    private readonly Dictionary<uint, Holder> _byOffset = new();
    private readonly Dictionary<Identity, List<Holder>> _byIdentity = new();
    // Offline leases in the order they went offline (oldest first).
    private readonly LinkedList<Holder> _offline = new();
    private uint _scan;
    private long _scanGeneration = long.MinValue;
    private int _inUse;

    /// <summary>Replaced by a reload that keeps the pool's addresses (first and size) and changes its attributes.</summary>
    public PoolConfig Config { get; set; } = config;
    public int InUse => _inUse;
    public int Offline => _offline.Count;
    public int Leased => _byOffset.Count;

    /// <summary>An online lease of <paramref name="id"/> to the same peer (make-before-break), or its offline lease.</summary>
    public IPAddress? TryExisting(Identity id, IPEndPoint peer, ILeaseCoordinator? cluster)
    {
        if (!_byIdentity.TryGetValue(id, out var mine)) return null;
        foreach (var h in mine)
        {
            if (!h.Online.Contains(peer)) continue;
            h.Online.Add(peer);
            return Config.AddressAt(h.Offset);
        }
        foreach (var h in mine.ToArray())
        {
            if (h.Online.Count > 0) continue;
            if (Usable(h.Offset, cluster))
            {
                GoOnline(h, peer);
                return Config.AddressAt(h.Offset);
            }
            DropIfNotOurs(h, cluster);
        }
        return null;
    }

    /// <summary>The next never-leased address of this node's share, or null when none is left.</summary>
    public IPAddress? TryNew(Identity id, IPEndPoint peer, ILeaseCoordinator? cluster)
    {
        long generation = cluster?.Generation ?? 0;
        if (generation != _scanGeneration)
        {
            // The share or the other nodes' leases changed: addresses passed over before may be ours now.
            _scanGeneration = generation;
            _scan = 0;
        }
        for (; _scan < Config.Size; _scan++)
        {
            uint offset = _scan;
            if (_byOffset.ContainsKey(offset) || !Usable(offset, cluster)) continue;
            _scan++;
            var h = Add(id, offset);
            GoOnline(h, peer);
            return Config.AddressAt(offset);
        }
        return null;
    }

    /// <summary>The oldest offline lease of another identity that went offline at least <paramref name="delay"/> ms ago.</summary>
    public IPAddress? TryReassign(Identity id, IPEndPoint peer, long now, long delay, ILeaseCoordinator? cluster)
    {
        for (var node = _offline.First; node is not null;)
        {
            var h = node.Value;
            node = node.Next;
            if (now - h.ReleasedAt < delay) return null; // the rest went offline later
            if (!Usable(h.Offset, cluster))
            {
                DropIfNotOurs(h, cluster);
                continue;
            }
            Remove(h);
            var taken = Add(id, h.Offset);
            GoOnline(taken, peer);
            return Config.AddressAt(h.Offset);
        }
        return null;
    }

    /// <summary>
    /// Takes <paramref name="address"/> for <paramref name="id"/> whatever the share: the lease of an SA adopted from
    /// another node or handed to an IKE rekey's successor. False when another identity holds it online here.
    /// </summary>
    public bool Reserve(IPAddress address, Identity id, IPEndPoint peer)
    {
        if (!Config.TryOffsetOf(address, out uint offset)) return false;
        if (_byOffset.TryGetValue(offset, out var h))
        {
            if (h.Id.Equals(id))
            {
                GoOnline(h, peer);
                return true;
            }
            if (h.Online.Count > 0) return false;
            Remove(h); // a sticky offline lease yields to a live SA's
        }
        GoOnline(Add(id, offset), peer);
        return true;
    }

    /// <summary>One SA of <paramref name="id"/> no longer holds <paramref name="address"/>; the last one takes it offline.</summary>
    public void Release(IPAddress address, Identity id, IPEndPoint peer, long now)
    {
        if (!Config.TryOffsetOf(address, out uint offset) || !_byOffset.TryGetValue(offset, out var h) || !h.Id.Equals(id) ||
            h.Online.Count == 0)
        {
            return;
        }
        int at = h.Online.IndexOf(peer);
        h.Online.RemoveAt(at >= 0 ? at : h.Online.Count - 1);
        if (h.Online.Count > 0) return;
        _inUse--;
        h.ReleasedAt = now;
        h.OfflineNode = _offline.AddLast(h);
    }

    /// <summary>An SA holds <paramref name="address"/> here (online lease), whoever its identity.</summary>
    public bool HoldsOnline(IPAddress address) =>
        Config.TryOffsetOf(address, out uint offset) && _byOffset.TryGetValue(offset, out var h) && h.Online.Count > 0;

    /// <summary>Leased here (online or offline) to <paramref name="id"/>.</summary>
    public bool IsLeasedTo(IPAddress address, Identity id) =>
        Config.TryOffsetOf(address, out uint offset) && _byOffset.TryGetValue(offset, out var h) && h.Id.Equals(id);

    /// <summary>An offline lease outside this node's share (the membership changed): another node may lease the address
    /// fresh now, so it is never ours to give again.</summary>
    private void DropIfNotOurs(Holder h, ILeaseCoordinator? cluster)
    {
        if (cluster is not null && !cluster.Owns(Config, h.Offset)) Remove(h);
    }

    private static bool Usable(uint offset, PoolConfig pool, ILeaseCoordinator? cluster) =>
        cluster is null || (cluster.Owns(pool, offset) && !cluster.HeldElsewhere(pool.Name, pool.AddressAt(offset)));

    private bool Usable(uint offset, ILeaseCoordinator? cluster) => Usable(offset, Config, cluster);

    private Holder Add(Identity id, uint offset)
    {
        var h = new Holder(id, offset);
        _byOffset[offset] = h;
        if (!_byIdentity.TryGetValue(id, out var list)) _byIdentity[id] = list = [];
        list.Add(h);
        return h;
    }

    private void Remove(Holder h)
    {
        if (h.OfflineNode is not null) _offline.Remove(h.OfflineNode);
        h.OfflineNode = null;
        if (h.Online.Count > 0) _inUse--;
        _byOffset.Remove(h.Offset);
        if (_byIdentity.TryGetValue(h.Id, out var list) && list.Remove(h) && list.Count == 0) _byIdentity.Remove(h.Id);
    }

    private void GoOnline(Holder h, IPEndPoint peer)
    {
        if (h.Online.Count == 0) _inUse++;
        if (h.OfflineNode is not null)
        {
            _offline.Remove(h.OfflineNode);
            h.OfflineNode = null;
        }
        h.Online.Add(peer);
    }

    private sealed class Holder(Identity id, uint offset)
    {
        public Identity Id { get; } = id;
        public uint Offset { get; } = offset;

        /// <summary>One entry per IKE SA holding the lease: the peer endpoint it was leased to.</summary>
        public List<IPEndPoint> Online { get; } = [];

        public long ReleasedAt { get; set; }
        public LinkedListNode<Holder>? OfflineNode { get; set; }
    }
}
