using System.Text;
using Concentrator.Ike.Wire;

namespace Concentrator.Cluster.Replication;

/// <summary>
/// One replicated IKE SA: who holds it, its ownership epoch, the inbound ESP SPIs of its Child SAs (so a node that
/// receives ESP for one of them finds the IKE SA without decoding the snapshot) and the encoded snapshot itself
/// (<see cref="IkeSaSnapshotCodec"/>, key material included). <see cref="Released"/>: the owner handed it off
/// (rolling restart) and holds it no more; whoever receives the peer's traffic next adopts it without asking.
/// <see cref="Raw"/> is the replicated value; <see cref="Snapshot"/> points into it. The <see cref="SaReplicaIndex"/>
/// keeps its own copy (<see cref="Owned"/>) and zeroes it when the entry is replaced or removed; readers on other threads
/// take the snapshot with <see cref="TryCopySnapshot"/>, never a torn or zeroed one.
/// </summary>
public sealed record SaReplicaEntry(string Owner, long Epoch, bool Released, uint[] EspSpis, ReadOnlyMemory<byte> Snapshot, byte[] Raw)
{
    private const byte Version = 1;

    // Guards Raw against zeroing while a reader copies it; a record copy (with) shares it with its original.
    private readonly object _gate = new();
    private bool _zeroed;

    /// <summary>A copy of the encoded snapshot (the caller zeroes it when done); false once the entry was zeroed.</summary>
    public bool TryCopySnapshot(out byte[] snapshot)
    {
        lock (_gate)
        {
            snapshot = _zeroed ? [] : Snapshot.ToArray();
            return !_zeroed;
        }
    }

    /// <summary>The same entry over a copy of its bytes that the caller owns (and zeroes).</summary>
    internal SaReplicaEntry Owned()
    {
        var raw = Raw.ToArray();
        return this with { Raw = raw, Snapshot = raw.AsMemory(Raw.Length - Snapshot.Length) };
    }

    /// <summary>Zeroes the bytes (key material) for good; later <see cref="TryCopySnapshot"/> calls fail.</summary>
    internal void Zero()
    {
        lock (_gate)
        {
            _zeroed = true;
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(Raw);
        }
    }

    //  version(1) | flags(1) | epoch(8) | owner length(2) | owner (UTF-8) | ESP SPI count(2) | SPIs(4 each) | snapshot
    public static SaReplicaEntry Create(string owner, long epoch, bool released, uint[] espSpis, byte[] snapshot)
    {
        int ownerBytes = Encoding.UTF8.GetByteCount(owner);
        int header = 1 + 1 + 8 + 2 + ownerBytes + 2 + 4 * espSpis.Length;
        var buffer = new byte[header + snapshot.Length];
        var w = new SpanWriter(buffer);
        w.WriteUInt8(Version);
        w.WriteUInt8(released ? (byte)1 : (byte)0);
        w.WriteUInt64((ulong)epoch);
        w.WriteUInt16((ushort)ownerBytes);
        Encoding.UTF8.GetBytes(owner, buffer.AsSpan(w.Reserve(ownerBytes), ownerBytes));
        w.WriteUInt16((ushort)espSpis.Length);
        foreach (var spi in espSpis) w.WriteUInt32(spi);
        w.WriteBytes(snapshot);
        return new SaReplicaEntry(owner, epoch, released, espSpis, buffer.AsMemory(header), buffer);
    }

    /// <summary>Replicated bytes come from other cluster members; a malformed entry is refused, never thrown.</summary>
    public static bool TryDecode(byte[] data, out SaReplicaEntry? entry)
    {
        entry = null;
        var r = new SpanReader(data);
        if (!r.TryReadUInt8(out var version) || version != Version || !r.TryReadUInt8(out var flags) ||
            !r.TryReadUInt64(out var epoch) || !r.TryReadUInt16(out var ownerLength) || !r.TryReadBytes(ownerLength, out var owner) ||
            !r.TryReadUInt16(out var count))
        {
            return false;
        }
        var spis = new uint[count];
        for (int i = 0; i < count; i++)
        {
            if (!r.TryReadUInt32(out spis[i])) return false;
        }
        entry = new SaReplicaEntry(Encoding.UTF8.GetString(owner), (long)epoch, (flags & 1) != 0, spis, data.AsMemory(r.Position), data);
        return true;
    }
}
