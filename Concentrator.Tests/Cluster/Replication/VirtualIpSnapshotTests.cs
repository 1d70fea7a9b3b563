using System.Net;
using Concentrator.Cluster.Replication;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.Hosting;
using Concentrator.Ike.Attributes;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Sa;
using Concentrator.Ipsec;
using Concentrator.Tests.Ike.Sa;

namespace Concentrator.Tests.Cluster.Replication;

/// <summary>
/// A virtual IP lease moves with its IKE SA (issue 15): the snapshot carries the SA's virtual IPs, the adopting node
/// holds the lease in its own pools (so it never hands the address to anyone else), and a node that cannot hold it
/// (another identity is online with the address there) does not adopt the SA rather than adopt it without its address.
/// </summary>
public sealed class VirtualIpSnapshotTests
{
    private const ulong Margin = 1000;
    private static readonly IPAddress Lease = IPAddress.Parse("10.30.0.1");

    [Fact]
    public void The_lease_moves_with_the_sa_and_the_adopter_holds_it_in_its_pool()
    {
        var nodeA = new VirtualIpTests.Responders(VirtualIpTests.Responder("rw-pool"));
        var (i, r) = VirtualIpTests.Connect(nodeA, "one.branch.test");
        Assert.Equal([new VirtualIp("rw-pool", Lease)], r.Sa.VirtualIps.All);

        byte[] encoded = Encode(r.Sa);
        Assert.Equal(ParseStatus.Ok, IkeSaSnapshotCodec.TryDecode(encoded, out var decoded));
        using (decoded)
        {
            Assert.Equal([new VirtualIp("rw-pool", Lease)], decoded!.VirtualIps);
        }

        // Node A lets go (the SA moved): its lease goes offline there, kept for the identity.
        r.Sa.Dispose();
        Assert.Equal((0, 1), Counts(nodeA.PoolSet));

        var nodeB = new VirtualIpTests.Responders(VirtualIpTests.Responder("rw-pool"));
        var restored = Restore(nodeB, encoded);
        Assert.NotNull(restored);
        Assert.Equal([new VirtualIp("rw-pool", Lease)], restored!.VirtualIps.All);
        Assert.Equal((1, 0), Counts(nodeB.PoolSet));
        Assert.True(nodeB.PoolSet.IsLeasedTo(new VirtualIp("rw-pool", Lease), Identity.Parse("one.branch.test")));
        Assert.Equal(Lease, Assert.Single(restored.Children).RemoteTs.Single().StartAddress);

        // Node B never leases the adopted address to another identity; the lease ends with the adopted SA.
        var (_, other) = VirtualIpTests.Connect(nodeB, "two.branch.test", from: new IPEndPoint(IPAddress.Parse("127.0.0.3"), 500));
        Assert.NotEqual(Lease, Assert.Single(other.Sa.VirtualIps.All).Address);
        restored.Dispose();
        Assert.Equal((1, 1), Counts(nodeB.PoolSet));
        i.Sa.Dispose();
    }

    [Fact]
    public void An_sa_whose_address_another_identity_holds_on_the_adopter_is_not_adopted_and_leaves_no_lease()
    {
        var nodeA = new VirtualIpTests.Responders(VirtualIpTests.Responder("rw-pool"));
        var (_, r) = VirtualIpTests.Connect(nodeA, "one.branch.test");
        byte[] encoded = Encode(r.Sa);

        // Node B already gave 10.30.0.1 to someone else (a split the cluster's shares must prevent; if it happens anyway,
        // two tunnels must not share an address).
        var nodeB = new VirtualIpTests.Responders(VirtualIpTests.Responder("rw-pool"));
        var (_, squatter) = VirtualIpTests.Connect(nodeB, "two.branch.test", from: new IPEndPoint(IPAddress.Parse("127.0.0.3"), 500));
        Assert.Equal(Lease, Assert.Single(squatter.Sa.VirtualIps.All).Address);

        Assert.Null(Restore(nodeB, encoded));
        Assert.Equal((1, 0), Counts(nodeB.PoolSet));
        Assert.False(nodeB.PoolSet.IsLeasedTo(new VirtualIp("rw-pool", Lease), Identity.Parse("one.branch.test")));
    }

    [Fact]
    public void An_initiators_assigned_address_moves_too_and_a_snapshot_without_virtual_ips_keeps_version_1()
    {
        var nodeA = new VirtualIpTests.Responders(VirtualIpTests.Responder("rw-pool"));
        var (i, _) = VirtualIpTests.Connect(nodeA, "one.branch.test");
        byte[] encoded = Encode(i.Sa);
        Assert.Equal(2, encoded[0]);
        var config = ConcentratorConfig.Parse(VirtualIpTests.Initiator("one.branch.test", "0.0.0.0"), "<i-b>");
        Assert.Equal(ParseStatus.Ok, IkeSaSnapshotCodec.TryDecode(encoded, out var decoded));
        using (decoded)
        {
            var restored = IkeSaSnapshotter.Restore(new IkeSaContext { Resolver = new ConfigConnectionResolver(config), DataPlane = new InMemoryDataPlane() },
                decoded!, Margin);
            Assert.NotNull(restored);
            Assert.Equal([new VirtualIp("", Lease)], restored!.VirtualIps.All);
            Assert.Equal(Lease, Assert.Single(restored.Children).LocalTs.Single().StartAddress);
        }

        // No virtual IPs: the encoding is version 1's, byte for byte, so nodes without leases in the codec still read it.
        var (plain, _) = RekeyHarness.Established();
        byte[] v1 = Encode(plain.Sa);
        Assert.Equal(IkeSaSnapshotCodec.Version, v1[0]);
        Assert.Equal(1, v1[0]);

        // Every truncation of a snapshot with leases is refused, never thrown.
        for (int n = 0; n < encoded.Length; n++)
        {
            Assert.NotEqual(ParseStatus.Ok, IkeSaSnapshotCodec.TryDecode(encoded.AsSpan(0, n), out var cut));
            Assert.Null(cut);
        }
    }

    private static byte[] Encode(IkeSa sa)
    {
        using var snapshot = IkeSaSnapshotter.Snapshot(sa, _ => (0, 0));
        return IkeSaSnapshotCodec.Encode(snapshot);
    }

    private static IkeSa? Restore(VirtualIpTests.Responders node, byte[] encoded)
    {
        Assert.Equal(ParseStatus.Ok, IkeSaSnapshotCodec.TryDecode(encoded, out var decoded));
        using (decoded)
        {
            var context = new IkeSaContext { Resolver = new ConfigConnectionResolver(node.Config), DataPlane = new InMemoryDataPlane(), Pools = node.PoolSet };
            return IkeSaSnapshotter.Restore(context, decoded!, Margin);
        }
    }

    private static (int InUse, int Offline) Counts(AddressPools pools)
    {
        var u = pools.Usage().Single(p => p.Pool == "rw-pool");
        return (u.InUse, u.Offline);
    }
}
