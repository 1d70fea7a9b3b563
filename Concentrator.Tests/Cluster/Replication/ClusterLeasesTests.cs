using System.Net;
using System.Net.Sockets;
using Concentrator.Cluster.Replication;
using Concentrator.Ike.Attributes;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Sa;
using Concentrator.Tests.Ike.Sa;

namespace Concentrator.Tests.Cluster.Replication;

/// <summary>
/// Virtual IP leases unique across cluster nodes (<see cref="ClusterLeases"/>): per-node shares by rendezvous hashing of
/// the Up members, the leases of other nodes' SAs read from their replicas, and a settling time after a membership change.
/// Each node is an <see cref="AddressPools"/> with its own coordinator over a shared membership list and its own replica
/// index, as the nodes of a cluster are.
/// </summary>
public sealed class ClusterLeasesTests
{
    private const string A = "akka.tcp://concentrator@10.0.0.1:4053";
    private const string B = "akka.tcp://concentrator@10.0.0.2:4053";
    private const string C = "akka.tcp://concentrator@10.0.0.3:4053";
    private static readonly IPEndPoint Peer = new(IPAddress.Parse("192.0.2.1"), 4500);
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(10);

    private sealed class Cluster
    {
        public List<string> Up { get; } = [];
        public long Now { get; set; } = 1_000_000;
    }

    private sealed record Node(AddressPools Pools, ClusterLeases Leases, SaReplicaIndex Index);

    private static PoolConfig Pool(string addrs)
    {
        Assert.Null(PoolConfig.TryParseAddrs(addrs, out var first, out uint size));
        return new PoolConfig { Name = "rw-pool", First = first, Size = size, Addrs = addrs };
    }

    private static Node Start(Cluster cluster, string self, PoolConfig pool)
    {
        var index = new SaReplicaIndex();
        var leases = new ClusterLeases(self, () => cluster.Up.ToList(), index, Settle, () => cluster.Now);
        var pools = new AddressPools([pool], TimeSpan.FromMinutes(5)) { Clock = () => cluster.Now, Coordinator = leases };
        return new Node(pools, leases, index);
    }

    private static VirtualIp? Acquire(Node node, string id) =>
        node.Pools.Acquire(["rw-pool"], AddressFamily.InterNetwork, Identity.Parse(id), Peer);

    [Fact]
    public void Every_address_belongs_to_exactly_one_up_member_and_a_join_moves_only_the_newcomers_share()
    {
        var pool = Pool("10.30.0.0/22");
        var two = new[] { A, B };
        var three = new[] { A, B, C };
        int[] counts = new int[3];
        int moved = 0;
        for (uint offset = 0; offset < pool.Size; offset++)
        {
            var before = ClusterLeases.Owner(two, pool.Name, offset);
            var after = ClusterLeases.Owner(three, pool.Name, offset);
            Assert.NotNull(after);
            counts[Array.IndexOf(three, after)]++;
            if (before != after)
            {
                Assert.Equal(C, after); // only the newcomer gains addresses
                moved++;
            }
            Assert.Equal(after, ClusterLeases.Owner([C, A, B], pool.Name, offset)); // order does not matter
        }
        // Even shares (1022 addresses, a third each give or take 15%).
        Assert.All(counts, n => Assert.InRange(n, 290, 390));
        Assert.Equal(counts[2], moved);
    }

    [Fact]
    public void Two_nodes_leasing_at_once_never_give_one_address_twice_and_together_fill_the_pool()
    {
        var cluster = new Cluster();
        cluster.Up.AddRange([A, B]);
        var pool = Pool("10.30.0.0/24");
        var a = Start(cluster, A, pool);
        var b = Start(cluster, B, pool);
        cluster.Now += (long)Settle.TotalMilliseconds; // the membership has settled

        var leased = new List<IPAddress>();
        for (int i = 0; i < 400; i++)
        {
            var node = i % 2 == 0 ? a : b;
            if (Acquire(node, $"user{i}.test") is { } v) leased.Add(v.Address);
        }
        // Each node leases its own share, so the pool fills up to the last address of the fuller share.
        Assert.Equal(leased.Count, leased.Distinct().Count());
        int inUse = a.Pools.Usage()[0].InUse + b.Pools.Usage()[0].InUse;
        Assert.Equal(leased.Count, inUse);
        Assert.InRange(leased.Count, 200, 254);
        Assert.All(leased, address => Assert.True(pool.TryOffsetOf(address, out _)));
    }

    [Fact]
    public void A_node_that_is_not_up_leases_nothing_and_addresses_a_join_moves_wait_for_the_settling_time()
    {
        var cluster = new Cluster();
        var pool = Pool("10.30.0.0/24");
        var a = Start(cluster, A, pool);
        Assert.Null(Acquire(a, "early.test")); // not Up yet: no share

        cluster.Up.Add(A);
        Assert.NotNull(Acquire(a, "alone.test")); // alone: the whole pool at once

        // C joins: A keeps leasing what is still its own; C waits until the others' replicas have reached it.
        cluster.Up.Add(C);
        var c = Start(cluster, C, pool);
        Assert.Null(Acquire(c, "new.test"));
        var fromA = Acquire(a, "second.test");
        Assert.NotNull(fromA);
        Assert.Equal(A, ClusterLeases.Owner([A, C], pool.Name, Offset(pool, fromA!.Address)));
        cluster.Now += (long)Settle.TotalMilliseconds;
        var fromC = Acquire(c, "new.test");
        Assert.NotNull(fromC);
        Assert.Equal(C, ClusterLeases.Owner([A, C], pool.Name, Offset(pool, fromC!.Address)));
    }

    [Fact]
    public void An_address_another_nodes_sa_holds_is_never_leased_here_even_in_this_nodes_share()
    {
        // Node B's SA holds 10.30.0.1 (leased while 10.30.0.1 was B's, or adopted); its replica reaches node A.
        var responders = new VirtualIpTests.Responders(VirtualIpTests.Responder("rw-pool"));
        var (_, r) = VirtualIpTests.Connect(responders, "one.branch.test");
        var held = Assert.Single(r.Sa.VirtualIps.All);
        byte[] snapshot;
        using (var s = IkeSaSnapshotter.Snapshot(r.Sa, _ => (0, 0))) snapshot = IkeSaSnapshotCodec.Encode(s);

        var cluster = new Cluster();
        cluster.Up.Add(A);
        var pool = Pool("10.30.0.0/24");
        var a = Start(cluster, A, pool);
        a.Index.Set(r.Sa.OurSpi, SaReplicaEntry.Create(B, 1, released: false, [], snapshot));
        Assert.Equal(1, a.Leases.CountHeldElsewhere("rw-pool"));
        Assert.True(a.Leases.HeldElsewhere("rw-pool", held.Address));

        var leased = Enumerable.Range(0, 253).Select(i => Acquire(a, $"user{i}.test")?.Address).ToList();
        Assert.DoesNotContain(held.Address, leased);
        Assert.Equal(253, leased.Count(x => x is not null));
        Assert.Null(Acquire(a, "one-too-many.test"));
        Assert.Equal(0, a.Pools.Usage()[0].Free);

        // B's SA ends (its replica goes): the address is free for node A again.
        a.Index.Remove(r.Sa.OurSpi);
        cluster.Now += 1000;
        Assert.Equal(held.Address, Acquire(a, "later.test")?.Address);
    }

    private static uint Offset(PoolConfig pool, IPAddress address)
    {
        Assert.True(pool.TryOffsetOf(address, out uint offset));
        return offset;
    }
}
