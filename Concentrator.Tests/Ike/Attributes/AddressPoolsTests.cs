using System.Net;
using System.Net.Sockets;
using Concentrator.Ike.Attributes;
using Concentrator.Ike.Connections;

namespace Concentrator.Tests.Ike.Attributes;

/// <summary>Leases of <see cref="AddressPools"/>: unique, sticky per identity, released with the last SA, reused after a delay.</summary>
public sealed class AddressPoolsTests
{
    private static readonly IPEndPoint Peer = new(IPAddress.Parse("192.0.2.1"), 4500);

    private static PoolConfig Pool(string name, string addrs)
    {
        Assert.Null(PoolConfig.TryParseAddrs(addrs, out var first, out uint size));
        return new PoolConfig { Name = name, First = first, Size = size, Addrs = addrs };
    }

    private static Identity Id(string text) => Identity.Parse(text);

    private sealed class Clock
    {
        public long Now { get; set; } = 1_000_000;
    }

    private static (AddressPools Pools, Clock Clock) Create(params PoolConfig[] pools)
    {
        var clock = new Clock();
        return (new AddressPools(pools, TimeSpan.FromSeconds(60)) { Clock = () => clock.Now }, clock);
    }

    private static VirtualIp? Acquire(AddressPools pools, string id, IPEndPoint? peer = null, string pool = "p") =>
        pools.Acquire([pool], AddressFamily.InterNetwork, Id(id), peer ?? Peer);

    [Fact]
    public void An_offline_lease_goes_to_another_identity_only_when_the_pool_is_exhausted_and_after_the_reuse_delay()
    {
        var (pools, clock) = Create(Pool("p", "10.3.0.1-10.3.0.2"));
        var a = Acquire(pools, "a.test")!;
        var b = Acquire(pools, "b.test")!;
        Assert.NotEqual(a.Address, b.Address);
        Assert.Null(Acquire(pools, "c.test"));

        pools.Release(a, Id("a.test"), Peer);
        clock.Now += 59_999;
        Assert.Null(Acquire(pools, "c.test"));
        clock.Now += 1;
        Assert.Equal(a, Acquire(pools, "c.test"));
        Assert.False(pools.IsLeasedTo(a, Id("a.test")));

        // a comes back: its lease went to c, so it gets none while the pool is full.
        Assert.Null(Acquire(pools, "a.test"));
    }

    [Fact]
    public void Never_leased_addresses_go_out_before_anyone_s_offline_lease_and_the_identity_gets_its_own_back()
    {
        var (pools, clock) = Create(Pool("p", "10.3.0.0/29"));
        var a = Acquire(pools, "a.test")!;
        pools.Release(a, Id("a.test"), Peer);
        clock.Now += 3_600_000;
        var others = Enumerable.Range(0, 5).Select(i => Acquire(pools, $"u{i}.test")!.Address).ToList();
        Assert.DoesNotContain(a.Address, others);
        Assert.Equal(a, Acquire(pools, "a.test", new IPEndPoint(IPAddress.Parse("198.51.100.7"), 1234)));
    }

    [Fact]
    public void A_lease_stays_online_until_the_last_sa_holding_it_releases_it()
    {
        var (pools, _) = Create(Pool("p", "10.3.0.0/24"));
        var first = Acquire(pools, "a.test")!;
        // make-before-break reauthentication from the same host shares the online lease
        Assert.Equal(first, Acquire(pools, "a.test"));
        Assert.Equal(1, pools.Usage()[0].InUse);
        pools.Release(first, Id("a.test"), Peer);
        Assert.Equal((1, 0), (pools.Usage()[0].InUse, pools.Usage()[0].Offline));
        pools.Release(first, Id("a.test"), Peer);
        Assert.Equal((0, 1), (pools.Usage()[0].InUse, pools.Usage()[0].Offline));
        Assert.Equal(254 - 1, pools.Usage()[0].Free);
    }

    [Fact]
    public void Reserve_takes_an_adopted_lease_but_never_one_another_identity_holds_online()
    {
        var (pools, _) = Create(Pool("p", "10.3.0.0/24"));
        var a = Acquire(pools, "a.test")!;
        Assert.False(pools.Reserve(a, Id("b.test"), Peer));
        Assert.True(pools.Reserve(new VirtualIp("p", IPAddress.Parse("10.3.0.77")), Id("b.test"), Peer));
        Assert.False(pools.Reserve(new VirtualIp("p", IPAddress.Parse("10.4.0.1")), Id("b.test"), Peer));
        Assert.False(pools.Reserve(new VirtualIp("nope", IPAddress.Parse("10.3.0.78")), Id("b.test"), Peer));
        // A sticky offline lease yields to a live SA's lease.
        pools.Release(a, Id("a.test"), Peer);
        Assert.True(pools.Reserve(a, Id("b.test"), Peer));
        Assert.NotEqual(a.Address, Acquire(pools, "a.test")!.Address);
        // The adopted address is never handed out fresh.
        var rest = Enumerable.Range(0, 250).Select(i => Acquire(pools, $"u{i}.test")!.Address).ToList();
        Assert.DoesNotContain(IPAddress.Parse("10.3.0.77"), rest);
        Assert.Equal(rest.Count, rest.Distinct().Count());
    }

    [Fact]
    public void A_cluster_node_leases_only_its_share_and_never_what_another_node_s_sa_holds()
    {
        var (pools, clock) = Create(Pool("p", "10.3.0.0/24"));
        var share = new Share();
        pools.Coordinator = share;
        var got = Enumerable.Range(0, 40).Select(i => Acquire(pools, $"u{i}.test")!.Address).ToList();
        Assert.All(got, a => Assert.True(a.GetAddressBytes()[3] % 3 == 1, $"{a} is outside the share"));
        Assert.DoesNotContain(IPAddress.Parse("10.3.0.4"), got); // held elsewhere

        // A sticky lease outside the node's share after a membership change is not given back: another node may lease it.
        var mine = got[2]; // offset 9: outside a share of every second address
        Assert.Equal(IPAddress.Parse("10.3.0.10"), mine);
        pools.Release(new VirtualIp("p", mine), Id("u2.test"), Peer);
        share.Mod = 2;
        share.Generation++;
        clock.Now += 3_600_000;
        Assert.NotEqual(mine, Acquire(pools, "u2.test")!.Address);
        Assert.Equal(0, pools.Usage()[0].Offline); // dropped: never ours to give again
    }

    [Fact]
    public void Concurrent_acquisitions_never_lease_an_address_twice()
    {
        var (pools, _) = Create(Pool("p", "10.3.0.0/22"));
        var leased = new System.Collections.Concurrent.ConcurrentBag<IPAddress>();
        Parallel.For(0, 1000, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            if (Acquire(pools, $"u{i}.test") is { } v) leased.Add(v.Address);
        });
        Assert.Equal(1000, leased.Count);
        Assert.Equal(1000, leased.Distinct().Count());
        Assert.Equal(1000, pools.Usage()[0].InUse);
    }

    /// <summary>A share of every third address (offset % Mod == 0) with 10.3.0.4 held by another node.</summary>
    private sealed class Share : ILeaseCoordinator
    {
        public int Mod { get; set; } = 3;
        public long Generation { get; set; }
        public bool Owns(PoolConfig pool, uint offset) => offset % Mod == 0;
        public bool HeldElsewhere(string pool, IPAddress address) => address.Equals(IPAddress.Parse("10.3.0.4"));
        public int CountHeldElsewhere(string pool) => 1;
    }

    [Fact]
    public void A_pool_a_reload_removes_leases_nothing_new_but_its_leases_stay_valid_until_their_SAs_go()
    {
        var (pools, _) = Create(Pool("p", "10.3.0.1-10.3.0.4"), Pool("q", "10.4.0.1-10.4.0.4"));
        var a = Acquire(pools, "a.test")!;
        var offline = Acquire(pools, "o.test")!;
        pools.Release(offline, Id("o.test"), Peer);

        var (added, removed, changed) = pools.Replace([Pool("q", "10.4.0.1-10.4.0.4")]);
        Assert.Empty(added);
        Assert.Equal(["p"], removed);
        Assert.Empty(changed);
        Assert.Null(pools.Find("p"));
        Assert.Null(Acquire(pools, "b.test"));
        Assert.Null(Acquire(pools, "a.test"));

        // a's SA still holds its address: an IKE rekey's successor reserves it, and each SA releases it once.
        Assert.True(pools.IsLeasedTo(a, Id("a.test")));
        Assert.True(pools.Reserve(a, Id("a.test"), Peer));
        pools.Release(a, Id("a.test"), Peer);
        Assert.True(pools.IsLeasedTo(a, Id("a.test")));
        pools.Release(a, Id("a.test"), Peer);
        Assert.False(pools.IsLeasedTo(a, Id("a.test")));
        // The offline lease went with the pool.
        Assert.False(pools.IsLeasedTo(offline, Id("o.test")));
        Assert.DoesNotContain(pools.Usage(), u => u.Pool == "p");
    }

    [Fact]
    public void A_resized_pool_never_leases_an_address_an_SA_still_holds_from_before_the_reload()
    {
        var (pools, _) = Create(Pool("p", "10.3.0.1-10.3.0.2"));
        var a = Acquire(pools, "a.test")!;
        Assert.Equal(IPAddress.Parse("10.3.0.1"), a.Address);

        var (_, _, changed) = pools.Replace([Pool("p", "10.3.0.1-10.3.0.3")]);
        Assert.Equal(["p"], changed);
        var b = Acquire(pools, "b.test")!;
        Assert.Equal(IPAddress.Parse("10.3.0.2"), b.Address);
        var c = Acquire(pools, "c.test")!;
        Assert.Equal(IPAddress.Parse("10.3.0.3"), c.Address);
        Assert.Null(Acquire(pools, "d.test"));

        // a's SA ends: its address may be leased from the resized pool.
        pools.Release(a, Id("a.test"), Peer);
        Assert.Equal(IPAddress.Parse("10.3.0.1"), Acquire(pools, "d.test")!.Address);
    }

    [Fact]
    public void A_pool_whose_addresses_are_unchanged_keeps_its_leases_and_takes_the_new_attributes()
    {
        var (pools, _) = Create(Pool("p", "10.3.0.1-10.3.0.4"));
        var a = Acquire(pools, "a.test")!;
        var next = Pool("p", "10.3.0.1-10.3.0.4");
        var (added, removed, changed) = pools.Replace([next]);
        Assert.Empty(added.Concat(removed).Concat(changed));
        Assert.Same(next, pools.Find("p"));
        Assert.Equal(a, Acquire(pools, "a.test"));
        Assert.NotEqual(a.Address, Acquire(pools, "b.test")!.Address);
    }
}
