using System.Net;
using Concentrator.Cluster.Replication;
using Concentrator.Ike.Sa;
using Concentrator.Ipsec;
using Concentrator.Tests.Ike.Sa;
using static Concentrator.Cluster.Replication.MoveProof;

namespace Concentrator.Tests.Cluster.Replication;

/// <summary>
/// MOBIKE in a cluster: the peer's new address hashes to another node, whose first packet of the peer is its
/// UPDATE_SA_ADDRESSES. That node moves the SA there on the strength of that message (<see cref="MoveProof"/>: a new
/// request authenticated with the SA's keys), restores it from the replica with MOBIKE still negotiated, and only then
/// processes the update, which moves the IKE SA and its Child SAs to the new address.
/// </summary>
public sealed class MobikeMoveTests
{
    private const int MaxPayloads = 64;

    [Fact]
    public void An_update_arriving_at_another_node_proves_the_move_and_moves_the_restored_sa()
    {
        var (i, r) = RekeyHarness.Established();
        Assert.True(r.Sa.PeerSupportsMobike);
        // The replica the other node holds: encoded and decoded as it travels.
        using var taken = IkeSaSnapshotter.Snapshot(r.Sa, _ => (0, 0));
        Assert.Equal(ParseStatus.Ok, IkeSaSnapshotCodec.TryDecode(IkeSaSnapshotCodec.Encode(taken), out var replica));
        using var _ = replica;
        Assert.True(replica!.PeerSupportsMobike);
        Assert.False(replica.RolesSwapped);

        var moved = new IPEndPoint(IPAddress.Parse("203.0.113.5"), 500);
        Assert.True(i.Sa.UpdateAddresses(moved));
        var update = Assert.Single(i.Drain()).Datagram;
        Assert.Equal(Verdict.Fresh, Check(replica, update, esp: false, MaxPayloads));
        var tampered = (byte[])update.Clone();
        tampered[^1] ^= 1;
        Assert.Equal(Verdict.Refused, Check(replica, tampered, esp: false, MaxPayloads));

        // The other node: restored from the replica, then the update it held is processed.
        var restored = IkeSaSnapshotter.Restore(r.Sa.Context, replica, 1 << 24)!;
        try
        {
            Assert.True(restored.PeerSupportsMobike);
            Assert.False(restored.OriginalInitiator);
            restored.DrainEffects();
            restored.HandleDatagram(update, moved, RekeyHarness.ResponderEp, viaNatT: false);
            var effects = restored.DrainEffects();
            var move = Assert.Single(effects.OfType<PeerMoved>());
            Assert.Equal((RekeyHarness.InitiatorEp, moved, PeerMoveTrigger.Mobike), (move.From, move.Remote, move.Trigger));
            Assert.Equal(moved, Assert.Single(effects.OfType<SendMessage>()).Remote);
            Assert.Equal(moved, restored.RemoteEndpoint);

            // Once processed there, the same update is no proof any more for a third node while this one lives.
            using var after = IkeSaSnapshotter.Snapshot(restored, _ => (0, 0));
            Assert.Equal(Verdict.Retransmission, Check(after, update, esp: false, MaxPayloads));
            Assert.Equal(moved, after.Remote);
        }
        finally
        {
            restored.Dispose();
        }
    }
}
