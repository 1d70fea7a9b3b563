using System.Globalization;
using System.Security.Cryptography;
using Akka.Actor;
using Akka.Cluster;
using Akka.DistributedData;
using Concentrator.Actors;
using Concentrator.Telemetry;

namespace Concentrator.Cluster.Replication;

/// <summary>
/// Replicates IKE SA snapshots through Akka.DistributedData, in memory only (no durable keys, so nothing reaches
/// disk), to every member: each write goes directly to all reachable members (WriteAll), so the node a load
/// balancer moves a peer to holds the SA's latest state at once, not after a gossip round. The SAs are spread over
/// <see cref="KeyCount"/> LWW dictionaries by the top bits of their IKE SPI, which keeps each replicated value (sent
/// whole on a write) a few kilobytes for tens of thousands of SAs. Keeps <see cref="SaReplicaIndex"/> current and
/// fences: when another node takes over an SA this node still runs, the supervisor stops its copy silently. While no
/// other member is Up (<see cref="SaReplicaIndex.Alone"/>) the SA actors take no snapshots; the first member to come Up
/// makes every SA replicate.
/// </summary>
public sealed class SaReplicaActor : ReceiveActor
{
    /// <summary>Top 10 bits of the IKE SPI: 1024 keys, about 100 SAs each at 100k SAs (~70 KB per key, inside
    /// Akka remoting's 128 KB frame).</summary>
    public const int KeyBits = 10;

    public const int KeyCount = 1 << KeyBits;

    /// <summary>How long a write waits for every member's acknowledgement; a member that is down only delays the ack.</summary>
    private static readonly TimeSpan WriteTimeout = TimeSpan.FromSeconds(2);

    private readonly SaReplicaIndex _index;
    private readonly IActorRef _supervisor;
    private readonly ILogger _log;
    private readonly Akka.Cluster.Cluster _cluster;
    private readonly IActorRef _replicator;
    private readonly string _self;
    private readonly IWriteConsistency _write = new WriteAll(WriteTimeout);
    // Per key: the IKE SPIs this node last saw in it (owned by this actor; prunes the index on a change).
    private readonly Dictionary<int, HashSet<ulong>> _seen = new();
    // This node's SAs removed here whose removal no change notification has shown yet: a notification sent before the
    // removal must not bring them back into the index.
    private readonly HashSet<ulong> _removing = new();
    private readonly List<IActorRef> _idleWaiters = new();
    private int _pendingWrites;
    // Other members Up; none: SaReplicaIndex.Alone.
    private readonly HashSet<Address> _othersUp = new();

    public SaReplicaActor(SaReplicaIndex index, IActorRef supervisor, ILogger log)
    {
        _index = index;
        _supervisor = supervisor;
        _log = log;
        _cluster = Akka.Cluster.Cluster.Get(Context.System);
        _replicator = DistributedData.Get(Context.System).Replicator;
        _self = SelfOwner(Context.System);

        Receive<Put>(OnPut);
        Receive<Remove>(OnRemove);
        Receive<Changed>(OnChanged);
        Receive<IUpdateResponse>(r =>
        {
            if (r is not UpdateSuccess) Log.ReplicaWriteIncomplete(_log, r.GetType().Name);
            // Every member has the marks now: an adopter would start above them, so the holder may go that far.
            else if (r.Request is MarksWritten written) written.Holder.Tell(new IkeSaActor.MarksReplicated(written.Marks));
            if (--_pendingWrites == 0) ReleaseIdleWaiters();
        });
        Receive<WaitIdle>(_ =>
        {
            if (_pendingWrites == 0) Sender.Tell(Idle.Instance);
            else _idleWaiters.Add(Sender);
        });
        Receive<ClusterEvent.MemberUp>(m =>
        {
            if (m.Member.Address.Equals(_cluster.SelfAddress)) return;
            _othersUp.Add(m.Member.Address);
            if (!_index.Alone) return;
            _index.Alone = false;
            _supervisor.Tell(IkeSaSupervisor.ReplicateAll.Instance);
        });
        Receive<ClusterEvent.MemberRemoved>(m =>
        {
            _othersUp.Remove(m.Member.Address);
            _index.Alone = _othersUp.Count == 0;
            AdoptOrphans(m.Member.Address.ToString());
        });
        Receive<ClusterEvent.IClusterDomainEvent>(_ => { });
    }

    public static Props Props(SaReplicaIndex index, IActorRef supervisor, ILogger log) =>
        Akka.Actor.Props.Create(() => new SaReplicaActor(index, supervisor, log));

    /// <summary>The owner name of this node in replica entries: its cluster address.</summary>
    public static string SelfOwner(ActorSystem system) => Akka.Cluster.Cluster.Get(system).SelfAddress.ToString();

    public static LWWDictionaryKey<string, byte[]> KeyOf(ulong ikeSpi) => Keys[KeyIndex(ikeSpi)];

    private static int KeyIndex(ulong ikeSpi) => (int)(ikeSpi >> (64 - KeyBits));

    private static readonly LWWDictionaryKey<string, byte[]>[] Keys =
        Enumerable.Range(0, KeyCount).Select(i => new LWWDictionaryKey<string, byte[]>("ike-sa-" + i.ToString(CultureInfo.InvariantCulture))).ToArray();

    private static string Name(ulong spi) => spi.ToString("x16", CultureInfo.InvariantCulture);

    protected override void PreStart()
    {
        foreach (var key in Keys) _replicator.Tell(Dsl.Subscribe(key, Self));
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.MemberUp), typeof(ClusterEvent.MemberRemoved));
    }

    protected override void PostStop()
    {
        _cluster.Unsubscribe(Self);
        ReleaseIdleWaiters();
    }

    private void OnPut(Put put)
    {
        // Fencing: a newer owner took this SA over (it saw our node as gone); our copy must stop, not overwrite theirs.
        if (_index.TryGet(put.Spi, out var current) && current.Owner != _self && current.Epoch > put.Epoch)
        {
            CryptographicOperations.ZeroMemory(put.Snapshot);
            _supervisor.Tell(new IkeSaSupervisor.Fence(put.Spi));
            return;
        }

        // The entry's bytes go to Distributed Data, the index keeps a copy of its own; the encoding is spent.
        var entry = SaReplicaEntry.Create(_self, put.Epoch, put.Released, put.EspSpis, put.Snapshot);
        CryptographicOperations.ZeroMemory(put.Snapshot);
        _removing.Remove(put.Spi);
        _index.Set(put.Spi, entry);
        var bytes = entry.Raw;
        string name = Name(put.Spi);
        Write(KeyOf(put.Spi), d => d.SetItem(_cluster, name, bytes), put.Holder is { } holder ? new MarksWritten(holder, put.Marks ?? []) : null);
    }

    private void OnRemove(Remove remove)
    {
        // Only the holder removes: an SA another node adopted meanwhile stays replicated.
        if (_index.TryGet(remove.Spi, out var current) && current.Owner != _self) return;
        _index.Remove(remove.Spi);
        // Alone, only what an earlier write put into Distributed Data needs removing there.
        if (_index.Alone && !(_seen.TryGetValue(KeyIndex(remove.Spi), out var seen) && seen.Contains(remove.Spi))) return;
        _removing.Add(remove.Spi);
        string name = Name(remove.Spi);
        Write(KeyOf(remove.Spi), d => d.Remove(_cluster, name));
    }

    private void Write(LWWDictionaryKey<string, byte[]> key, Func<LWWDictionary<string, byte[]>, LWWDictionary<string, byte[]>> modify,
        MarksWritten? request = null)
    {
        _pendingWrites++;
        _replicator.Tell(Dsl.Update(key, LWWDictionary<string, byte[]>.Empty, _write, request, modify));
    }

    private sealed record MarksWritten(IActorRef Holder, IReadOnlyList<(uint InboundSpi, ulong OutboundMark)> Marks);

    private void OnChanged(Changed changed)
    {
        if (changed.Key is not LWWDictionaryKey<string, byte[]> key) return;
        int shard = int.Parse(key.Id.AsSpan("ike-sa-".Length), CultureInfo.InvariantCulture);
        var data = changed.Get(key);
        var present = new HashSet<ulong>();
        foreach (var (name, bytes) in data.Entries)
        {
            if (!ulong.TryParse(name, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var spi))
            {
                Log.ReplicaEntryMalformed(_log, key.Id);
                continue;
            }
            present.Add(spi);
            // Unchanged entries (most of a key's on every change) cost a reference or byte comparison, no decoding.
            if (_index.TryGet(spi, out var known) && (ReferenceEquals(known.Raw, bytes) || known.Raw.AsSpan().SequenceEqual(bytes))) continue;
            if (!SaReplicaEntry.TryDecode(bytes, out var entry))
            {
                Log.ReplicaEntryMalformed(_log, key.Id);
                continue;
            }
            // This node's own SAs: its index is always at least as new as what comes back from Distributed Data.
            if (entry!.Owner == _self && (known is not null ? known.Owner == _self : _removing.Contains(spi))) continue;
            var old = _index.Set(spi, entry!);
            if (old is { } previous && previous.Owner == _self && entry!.Owner != _self) _supervisor.Tell(new IkeSaSupervisor.Fence(spi));
        }

        if (_seen.TryGetValue(shard, out var before))
        {
            foreach (var spi in before)
            {
                if (!present.Contains(spi)) _index.Remove(spi);
            }
        }
        _removing.RemoveWhere(spi => KeyIndex(spi) == shard && !present.Contains(spi));
        _seen[shard] = present;
    }

    /// <summary>
    /// A member left the cluster for good (downed or gone): every SA whose holder is no longer a member and whose peer sent
    /// nothing since (idle tunnels) is adopted now, spread over the members Up by SPI, so their rekeys and DPD go on. That
    /// covers the removed member's SAs and those an earlier removal gave to a member that died before adopting them. An SA
    /// whose peer sends first is adopted by the node the load balancer moved that peer to, wherever it is.
    /// </summary>
    private void AdoptOrphans(string removed)
    {
        var present = _cluster.State.Members.Select(m => m.Address.ToString()).Where(a => a != removed).ToHashSet(StringComparer.Ordinal);
        var up = _cluster.State.Members.Where(m => m.Status == MemberStatus.Up && m.Address.ToString() != removed)
            .Select(m => m.Address.ToString()).OrderBy(a => a, StringComparer.Ordinal).ToList();
        int me = up.IndexOf(_self);
        if (me < 0) return;
        foreach (var spi in _index.OwnedByNoneOf(present))
        {
            if ((int)(spi % (ulong)up.Count) == me) _supervisor.Tell(new IkeSaSupervisor.AdoptOrphan(spi));
        }
    }

    private void ReleaseIdleWaiters()
    {
        foreach (var waiter in _idleWaiters) waiter.Tell(Idle.Instance);
        _idleWaiters.Clear();
    }

    /// <summary>From an IKE SA actor: its current snapshot (encoded, zeroed here once stored), replacing the previous one.
    /// Once every member acknowledged it, <paramref name="Holder"/> (when set) is told the <paramref name="Marks"/>.</summary>
    public sealed record Put(ulong Spi, long Epoch, bool Released, uint[] EspSpis, byte[] Snapshot, IActorRef? Holder = null,
        IReadOnlyList<(uint InboundSpi, ulong OutboundMark)>? Marks = null);

    /// <summary>From an IKE SA actor: the SA is gone (deleted, expired, replaced by a rekey).</summary>
    public sealed record Remove(ulong Spi);

    /// <summary>Replies <see cref="Idle"/> once every write sent so far is acknowledged or timed out (handoff on leave).</summary>
    public sealed record WaitIdle
    {
        public static readonly WaitIdle Instance = new();
    }

    public sealed record Idle
    {
        public static readonly Idle Instance = new();
    }
}
