using System.Text;
using Concentrator.Ike.Wire;

namespace Concentrator.Cluster.Replication;

/// <summary>
/// One replicated IKE SA: who holds it, its ownership epoch, the inbound ESP SPIs of its Child SAs (so a node that
/// receives ESP for one of them finds the IKE SA without decoding the snapshot) and the encoded snapshot itself
/// (<see cref="IkeSaSnapshotCodec"/>, key material included). <see cref="Released"/>: the owner handed it off
/// (rolling restart) and holds it no more; whoever receives the peer's traffic next adopts it without asking.
/// <see cref="Raw"/> is the replicated value itself; <see cref="Snapshot"/> points into it (no copy per change).
/// </summary>
public sealed record SaReplicaEntry(string Owner, long Epoch, bool Released, uint[] EspSpis, ReadOnlyMemory<byte> Snapshot, byte[] Raw)
{
    private const byte Version = 1;

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
