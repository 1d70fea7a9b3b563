using Akka.Actor;
using Concentrator.Ike.Sa;

namespace Concentrator.Actors;

/// <summary>
/// How one IKE SA actor's SA reaches the other cluster members (Cluster/Replication implements it; a node without a
/// cluster has none). The actor decides when: after every change a snapshot holds, on hand-off, on a release request;
/// the implementation snapshots, encodes and writes under the SA's ownership epoch on this node.
/// </summary>
public interface ISaReplication
{
    /// <summary>
    /// Replicates <paramref name="sa"/> (<paramref name="released"/>: handed off, any member may adopt it at once); false
    /// when the SA cannot be snapshot now. Once every member acknowledged the write, <paramref name="holder"/> (the SA's
    /// actor) is told each child's outbound sequence mark as replicated (<see cref="IkeSaActor.MarksReplicated"/>): only
    /// then may it pass that mark plus the adoption margin. While no other member is Up nothing is written (nobody could
    /// adopt it) and the marks, the current ones, are told at once.
    /// </summary>
    bool Publish(IkeSa sa, bool released, IActorRef holder);

    /// <summary>
    /// Another node receives the SA's traffic: answers <paramref name="requester"/> with a snapshot, true (the caller
    /// stops the SA), or with a refusal, false: the SA cannot be snapshot now, or <paramref name="proof"/> (the peer's
    /// IKE message, or ESP packet with <paramref name="espProof"/>) does not authenticate with the SA's keys.
    /// </summary>
    bool Release(IkeSa sa, IActorRef requester, byte[] proof, bool espProof);

    /// <summary>The SA with our SPI <paramref name="spi"/> is gone (deleted, or replaced by its IKE rekey successor).</summary>
    void Remove(ulong spi);
}

/// <summary>
/// The cluster side of a node's IKE SA supervisor: the mobility actor it runs as its child (SAs follow their peers'
/// traffic between nodes) and the replication of each SA actor under its ownership epoch.
/// </summary>
public interface IClusterMobility
{
    /// <summary>The adoption margin: outbound ESP sequence numbers an adopter skips past the replicated mark.</summary>
    ulong SequenceMargin { get; }

    /// <summary>Props of the mobility actor, a child of <paramref name="supervisor"/>.</summary>
    Props MobilityProps(IActorRef supervisor);

    /// <summary>Replication of one SA actor whose SA this node holds under <paramref name="epoch"/>.</summary>
    ISaReplication For(IActorRef mobility, long epoch);

    /// <summary>Tells a node that asked for SA <paramref name="spi"/> that this node does not hold it.</summary>
    void RefuseRelease(IActorRef requester, ulong spi);

    /// <summary>
    /// The established IKE SAs other members hold (from their replicas) of the user <paramref name="user"/> under our
    /// identity <paramref name="localId"/> over <paramref name="family"/>: the cluster's half of the unique policies.
    /// Called on the supervisor's thread.
    /// </summary>
    IReadOnlyList<RemoteSaUser> UsersElsewhere(string localId, string user, System.Net.Sockets.AddressFamily family);
}

/// <summary>An IKE SA another member holds: its SPI there, the member (<paramref name="Owner"/>, its address), its
/// connection and its peer's address and port.</summary>
public sealed record RemoteSaUser(ulong Spi, string Owner, string Connection, System.Net.IPEndPoint Remote);
