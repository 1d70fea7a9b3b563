using System.Collections.Concurrent;

namespace Concentrator.Cluster.Replication;

/// <summary>
/// This node's view of every replicated IKE SA in the cluster, rebuilt from Distributed Data change notifications by
/// <see cref="SaReplicaActor"/> (its only writer) and read by the supervisor and the data plane's unknown-SPI path.
/// Holds key material (in the snapshots): memory only, never logged, never written to disk, in copies of its own that it
/// zeroes when an entry is replaced or removed (what Distributed Data keeps of the values is Akka's and the collector's).
/// </summary>
public sealed class SaReplicaIndex
{
    private readonly ConcurrentDictionary<ulong, SaReplicaEntry> _entries = new();
    private readonly ConcurrentDictionary<uint, ulong> _ikeOfEsp = new();
    // SPIs whose entry was set or removed, for the one reader that keeps state derived from the entries (ClusterUsers),
    // so it follows changes instead of scanning every entry per question. Bounded: past MaxChanges the log stops and
    // _overflowed tells the reader to rebuild from all entries (a node nobody asks keeps at most this many).
    private readonly ConcurrentQueue<ulong> _changes = new();
    private int _changeCount;
    private int _overflowed;
    internal const int MaxChanges = 65_536;

    public int Count => _entries.Count;

    /// <summary>
    /// No other member is Up: nobody could adopt an SA, so IKE SA actors skip snapshots altogether (a one-node
    /// deployment, the demo, pays nothing for replication); when a second member comes Up they all replicate at once.
    /// </summary>
    public bool Alone { get => Volatile.Read(ref _alone); internal set => Volatile.Write(ref _alone, value); }

    private bool _alone = true;

    public bool TryGet(ulong ikeSpi, out SaReplicaEntry entry) => _entries.TryGetValue(ikeSpi, out entry!);

    public bool TryGetIkeSpiOfEsp(uint espSpi, out ulong ikeSpi) => _ikeOfEsp.TryGetValue(espSpi, out ikeSpi);

    /// <summary>IKE SPIs whose entry names <paramref name="owner"/>.</summary>
    public List<ulong> OwnedBy(string owner)
    {
        var spis = new List<ulong>();
        foreach (var (spi, entry) in _entries)
        {
            if (entry.Owner == owner) spis.Add(spi);
        }
        return spis;
    }

    /// <summary>IKE SPIs whose entry names none of <paramref name="members"/>: their holders left or died.</summary>
    public List<ulong> OwnedByNoneOf(IReadOnlySet<string> members)
    {
        var spis = new List<ulong>();
        foreach (var (spi, entry) in _entries)
        {
            if (!members.Contains(entry.Owner)) spis.Add(spi);
        }
        return spis;
    }

    /// <summary>Sets or replaces one entry with a copy of it (zeroing the one replaced); returns who and which epoch held
    /// it before. One writer (<see cref="SaReplicaActor"/>).</summary>
    internal (string Owner, long Epoch)? Set(ulong ikeSpi, SaReplicaEntry entry)
    {
        var owned = entry.Owned();
        SaReplicaEntry? old = _entries.TryGetValue(ikeSpi, out var previous) ? previous : null;
        _entries[ikeSpi] = owned;
        if (old is not null)
        {
            foreach (var spi in old.EspSpis) _ikeOfEsp.TryRemove(new KeyValuePair<uint, ulong>(spi, ikeSpi));
            old.Zero();
        }
        foreach (var spi in owned.EspSpis) _ikeOfEsp[spi] = ikeSpi;
        Changed(ikeSpi);
        return old is null ? null : (old.Owner, old.Epoch);
    }

    internal void Remove(ulong ikeSpi)
    {
        if (!_entries.TryRemove(ikeSpi, out var old)) return;
        foreach (var spi in old.EspSpis) _ikeOfEsp.TryRemove(new KeyValuePair<uint, ulong>(spi, ikeSpi));
        old.Zero();
        Changed(ikeSpi);
    }

    /// <summary>Logged after the entry itself changed, so a reader that drains the SPI reads the entry as it now is.</summary>
    private void Changed(ulong ikeSpi)
    {
        if (Interlocked.Increment(ref _changeCount) > MaxChanges) Volatile.Write(ref _overflowed, 1);
        else _changes.Enqueue(ikeSpi);
    }

    /// <summary>
    /// The SPIs changed since the last call, into <paramref name="changed"/>; false when the log overflowed (or on the
    /// first call after it did): the caller then rebuilds from every entry, read after this call. One reader.
    /// </summary>
    internal bool DrainChanges(List<ulong> changed)
    {
        if (Interlocked.Exchange(ref _overflowed, 0) != 0)
        {
            _changes.Clear();
            Volatile.Write(ref _changeCount, 0);
            return false;
        }
        while (_changes.TryDequeue(out ulong spi))
        {
            Interlocked.Decrement(ref _changeCount);
            changed.Add(spi);
        }
        return true;
    }

    /// <summary>Every IKE SPI with an entry.</summary>
    internal List<ulong> AllSpis() => [.. _entries.Keys];
}
