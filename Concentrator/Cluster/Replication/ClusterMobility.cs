using Akka.Actor;
using Concentrator.Actors;
using Concentrator.Ike.Sa;

namespace Concentrator.Cluster.Replication;

/// <summary>
/// The cluster side of a node's IKE SA supervisor (<see cref="IClusterMobility"/>): its <see cref="SaMobilityActor"/>
/// and the replication of each SA actor (<see cref="SaReplication"/>).
/// </summary>
/// <param name="self">This node's owner name in replica entries (<see cref="SaReplicaActor.SelfOwner"/>).</param>
public sealed class ClusterMobility(SaReplicaIndex index, IkeSaContext context, ILogger log, string self = "") : IClusterMobility
{
    private readonly ClusterUsers _users = new(index, self);

    /// <summary>
    /// Outbound ESP sequence numbers an adopter skips past the replicated mark, and how far the holder may go past that
    /// mark before its next snapshot (its data-plane ceiling, so an AEAD IV is never reused whatever the timing). Each
    /// Child SA actor has its SA replicated again once half of this is used (checked at each counter pull: every second
    /// under traffic, at most 8 s after an idle spell), so below ~1M packets/s per SA the ceiling is never reached.
    /// 2^24 of 2^32 (no ESN) leaves about 250 moves per Child SA before its soft lifetime asks for a rekey anyway.
    /// </summary>
    public const ulong SequenceMargin = 1UL << 24;

    ulong IClusterMobility.SequenceMargin => SequenceMargin;

    public SaReplicaIndex Index => index;

    public Props MobilityProps(IActorRef supervisor) => SaMobilityActor.Props(index, supervisor, context, log);

    public ISaReplication For(IActorRef mobility, long epoch) => new SaReplication(mobility, index, epoch);

    public void RefuseRelease(IActorRef requester, ulong spi) => requester.Tell(new ReleaseRefused(spi, Held: false));

    public IReadOnlyList<RemoteSaUser> UsersElsewhere(string localId, string user, System.Net.Sockets.AddressFamily family) =>
        _users.Find(localId, user, family);
}

/// <summary>
/// Replication of one IKE SA actor's SA on this node under its ownership <paramref name="epoch"/>: snapshots encoded
/// and written through the mobility actor to the replica (<see cref="SaReplicaActor"/>), releases answered directly to
/// the requesting node. Called on the SA actor's thread.
/// </summary>
internal sealed class SaReplication(IActorRef mobility, SaReplicaIndex index, long epoch) : ISaReplication
{
    public bool Publish(IkeSa sa, bool released, IActorRef holder)
    {
        if (!IkeSaSnapshotter.CanSnapshot(sa)) return false;
        if (index.Alone && !released)
        {
            // Nobody could adopt it: no snapshot, only the ceilings move on (as if one had been replicated everywhere).
            holder.Tell(new IkeSaActor.MarksReplicated(sa.Children.Select(c => (c.InboundSpi, Marks(sa, c.InboundSpi).LastOutbound)).ToList()));
            return true;
        }

        using var snapshot = IkeSaSnapshotter.Snapshot(sa, spi => Marks(sa, spi));
        var esp = new uint[snapshot.Children.Count];
        for (int i = 0; i < esp.Length; i++) esp[i] = snapshot.Children[i].InboundSpi;
        var marks = snapshot.Children.Select(c => (c.InboundSpi, c.OutboundSequenceMark)).ToList();
        mobility.Tell(new SaReplicaActor.Put(sa.OurSpi, epoch, released, esp, IkeSaSnapshotCodec.Encode(snapshot), holder, marks));
        return true;
    }

    public bool Release(IkeSa sa, IActorRef requester, byte[] proof, bool espProof)
    {
        if (!IkeSaSnapshotter.CanSnapshot(sa))
        {
            requester.Tell(new ReleaseRefused(sa.OurSpi, Held: true));
            return false;
        }
        using var snapshot = IkeSaSnapshotter.Snapshot(sa, spi => Marks(sa, spi));
        // Checked against the live state: a retransmission (or replay) of a message this node already took is no reason.
        if (MoveProof.Check(snapshot, proof, espProof, sa.Context.Limits.MaxPayloads) != MoveProof.Verdict.Fresh)
        {
            requester.Tell(new ReleaseRefused(sa.OurSpi, Held: true));
            return false;
        }
        requester.Tell(new Released(sa.OurSpi, epoch, IkeSaSnapshotCodec.Encode(snapshot)));
        return true;
    }

    public void Remove(ulong spi) => mobility.Tell(new SaReplicaActor.Remove(spi));

    private static (ulong LastOutbound, ulong InboundTop) Marks(IkeSa sa, uint inboundSpi) =>
        sa.Context.DataPlane.TryGetSequenceMarks(inboundSpi, out var outbound, out var inbound) ? (outbound, inbound) : (0, 0);
}
