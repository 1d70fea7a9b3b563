using System.Net.Sockets;
using Concentrator.Cluster.Replication;
using Concentrator.Ike.Connections;
using Concentrator.Ipsec;

namespace Concentrator.Tests.Cluster.Replication;

/// <summary>
/// <see cref="ClusterUsers"/>: who another member's IKE SA belongs to, read from its replica for the unique policies.
/// An EAP login belongs to the user EAP proved, not to the laptop's IKE identity, as on the node that holds it
/// (<see cref="Ike.Sa.IkeSa.User"/>).
/// </summary>
public sealed class ClusterUsersTests
{
    private const string Self = "akka.tcp://concentrator@10.0.0.1:4053";
    private const string Other = "akka.tcp://concentrator@10.0.0.2:4053";

    private static SaReplicaIndex IndexWith(ulong spi, Identity remoteId, Identity? eapId)
    {
        using var snapshot = IkeSaSnapshotCodecTests.Synthetic(IkeSaState.Established, "rw", remoteId, eapId);
        var index = new SaReplicaIndex();
        index.Set(spi, SaReplicaEntry.Create(Other, 1, released: false, [], IkeSaSnapshotCodec.Encode(snapshot)));
        return index;
    }

    [Fact]
    public void An_eap_login_on_another_member_is_found_by_its_eap_user_and_not_by_its_ike_identity()
    {
        var users = new ClusterUsers(IndexWith(0x77, Identity.Parse("laptop-1.test"), Identity.Parse("alice")), Self);
        var found = Assert.Single(users.Find("gw.test", "alice", AddressFamily.InterNetwork));
        Assert.Equal((0x77UL, Other, "rw"), (found.Spi, found.Owner, found.Connection));
        Assert.Empty(users.Find("gw.test", "laptop-1.test", AddressFamily.InterNetwork));
    }

    [Fact]
    public void A_login_without_eap_is_found_by_its_ike_identity()
    {
        var users = new ClusterUsers(IndexWith(0x78, Identity.Parse("site.test"), null), Self);
        Assert.Single(users.Find("gw.test", "site.test", AddressFamily.InterNetwork));
        Assert.Empty(users.Find("other.test", "site.test", AddressFamily.InterNetwork));
    }

    private static SaReplicaEntry Entry(string owner, string remoteId)
    {
        using var snapshot = IkeSaSnapshotCodecTests.Synthetic(IkeSaState.Established, "rw", Identity.Parse(remoteId), null);
        return SaReplicaEntry.Create(owner, 1, released: false, [], IkeSaSnapshotCodec.Encode(snapshot));
    }

    private static ulong[] Spis(ClusterUsers users, string user) =>
        users.Find("gw.test", user, AddressFamily.InterNetwork).Select(f => f.Spi).Order().ToArray();

    [Fact]
    public void Answers_follow_the_index_after_the_first_question_and_after_its_change_log_overflowed()
    {
        var index = new SaReplicaIndex();
        index.Set(1, Entry(Other, "alice.test"));
        var users = new ClusterUsers(index, Self);
        Assert.Equal([1UL], Spis(users, "alice.test"));

        index.Set(2, Entry(Other, "alice.test"));
        index.Set(3, Entry(Other, "bob.test"));
        index.Set(4, Entry(Self, "alice.test")); // this node's own: never another member's duplicate
        Assert.Equal([1UL, 2UL], Spis(users, "alice.test"));
        Assert.Equal([3UL], Spis(users, "bob.test"));

        index.Remove(1);
        index.Set(3, Entry(Other, "alice.test")); // replaced: now alice's
        index.Set(2, Entry(Self, "alice.test"));  // adopted by this node
        Assert.Equal([3UL], Spis(users, "alice.test"));
        Assert.Empty(Spis(users, "bob.test"));

        // More changes than the log keeps: the next question rebuilds from every entry.
        var filler = Entry(Other, "carol.test");
        for (int i = 0; i <= SaReplicaIndex.MaxChanges; i++) index.Set(0x1000, filler);
        index.Set(5, Entry(Other, "bob.test"));
        index.Remove(3);
        Assert.Equal([5UL], Spis(users, "bob.test"));
        Assert.Empty(Spis(users, "alice.test"));
        Assert.Equal([0x1000UL], Spis(users, "carol.test"));
        index.Set(6, Entry(Other, "alice.test"));
        Assert.Equal([6UL], Spis(users, "alice.test"));
    }
}
