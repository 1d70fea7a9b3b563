using Concentrator.Actors;
using Concentrator.Ike.Connections;

namespace Concentrator.Tests.Actors;

public sealed class IkeLifetimesTests
{
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    [Fact]
    public void A_fresh_sa_gets_its_whole_lifetime_an_adopted_one_the_rest_and_at_least_a_second()
    {
        Assert.Equal(Hour, IkeLifetimes.Remaining(Hour, TimeSpan.FromMilliseconds(999)));
        Assert.Equal(TimeSpan.FromMinutes(45), IkeLifetimes.Remaining(Hour, TimeSpan.FromMinutes(15)));
        Assert.Equal(TimeSpan.FromSeconds(1), IkeLifetimes.Remaining(Hour, TimeSpan.FromHours(2)));
    }

    [Fact]
    public void Ike_rekey_is_jittered_by_rand_time_and_expiry_follows_over_time()
    {
        var conn = new ConnectionConfig { RekeyTime = Hour, RandTime = TimeSpan.FromMinutes(10), OverTime = TimeSpan.FromMinutes(6) };
        for (int seed = 0; seed < 50; seed++)
        {
            var s = IkeLifetimes.ForIke(conn, TimeSpan.Zero, new Random(seed));
            Assert.Null(s.Reauth);
            Assert.InRange(s.Rekey!.Value, TimeSpan.FromMinutes(50), Hour);
            Assert.Equal(TimeSpan.FromMinutes(66), s.Expire);
        }
        var spread = Enumerable.Range(0, 50).Select(seed => IkeLifetimes.ForIke(conn, TimeSpan.Zero, new Random(seed)).Rekey).Distinct().Count();
        Assert.True(spread > 40, "rand_time spreads the rekeys");
    }

    [Fact]
    public void A_rand_time_not_shorter_than_the_lifetime_does_not_spread_it_and_reauth_is_scheduled_when_set()
    {
        var conn = new ConnectionConfig { RekeyTime = Hour, RandTime = Hour, ReauthTime = TimeSpan.FromHours(2) };
        var s = IkeLifetimes.ForIke(conn, TimeSpan.Zero, new Random(1));
        Assert.Equal(Hour, s.Rekey);
        Assert.InRange(s.Reauth!.Value, Hour, TimeSpan.FromHours(2));
        Assert.Null(s.Expire);
        Assert.Equal(new IkeLifetimes.IkeSchedule(null, null, null),
            IkeLifetimes.ForIke(new ConnectionConfig { RekeyTime = TimeSpan.Zero }, TimeSpan.Zero, new Random(1)));
    }

    [Fact]
    public void Child_lifetimes_count_from_negotiation()
    {
        var lifetime = new ChildLifetime(Hour, TimeSpan.FromMinutes(66), TimeSpan.FromMinutes(6), 0, 0, 0, 0);
        var fresh = IkeLifetimes.ForChild(lifetime, TimeSpan.Zero, new Random(3));
        Assert.InRange(fresh.Rekey!.Value, TimeSpan.FromMinutes(54), Hour);
        Assert.Equal(TimeSpan.FromMinutes(66), fresh.Expire);
        var adopted = IkeLifetimes.ForChild(lifetime, TimeSpan.FromMinutes(30), new Random(3));
        Assert.Equal(TimeSpan.FromMinutes(36), adopted.Expire);
        Assert.Equal(new IkeLifetimes.ChildSchedule(null, null), IkeLifetimes.ForChild(ChildLifetime.None, TimeSpan.Zero, new Random(3)));
    }

    /// <summary>
    /// rand_bytes / rand_packets (swanctl; they were read and ignored): the soft volume limits are rekey_bytes and
    /// rekey_packets less a random part of them, as strongSwan's child_cfg applies its jitter (at most the limit itself).
    /// </summary>
    [Fact]
    public void Child_volume_rekey_is_jittered_by_rand_bytes_and_rand_packets()
    {
        var lifetime = new ChildLifetime(Hour, TimeSpan.Zero, TimeSpan.Zero, RekeyBytes: 1_000_000, LifeBytes: 1_100_000, RekeyPackets: 5000,
            LifePackets: 5500, RandBytes: 100_000, RandPackets: 500);
        var draws = Enumerable.Range(0, 50).Select(seed => IkeLifetimes.SoftVolume(lifetime, new Random(seed))).ToList();
        Assert.All(draws, d =>
        {
            Assert.InRange(d.Bytes, 900_000UL, 1_000_000UL);
            Assert.InRange(d.Packets, 4500UL, 5000UL);
        });
        Assert.True(draws.Select(d => d.Bytes).Distinct().Count() > 40, "rand_bytes spreads the byte limit");
        Assert.True(draws.Select(d => d.Packets).Distinct().Count() > 30, "rand_packets spreads the packet limit");

        // No rand: the limits as configured; no limit: nothing to spread; a rand larger than the limit spreads all of it.
        Assert.Equal((1_000_000UL, 5000UL), IkeLifetimes.SoftVolume(lifetime with { RandBytes = 0, RandPackets = 0 }, new Random(1)));
        Assert.Equal((0UL, 0UL), IkeLifetimes.SoftVolume(ChildLifetime.None with { RandBytes = 10, RandPackets = 10 }, new Random(1)));
        var wide = Enumerable.Range(0, 50).Select(seed => IkeLifetimes.SoftVolume(lifetime with { RandBytes = 5_000_000 }, new Random(seed)).Bytes).ToList();
        Assert.All(wide, b => Assert.InRange(b, 1UL, 1_000_000UL));
        Assert.Contains(wide, b => b < 500_000);
    }

    [Fact]
    public void Child_lifetime_carries_the_configured_rand_bytes_and_rand_packets()
    {
        var child = new ChildConfig { RekeyBytes = 1000, LifeBytes = 1100, RandBytes = 100, RekeyPackets = 10, LifePackets = 11, RandPackets = 1 };
        var lifetime = ChildLifetime.From(child);
        Assert.Equal(100UL, lifetime.RandBytes);
        Assert.Equal(1UL, lifetime.RandPackets);
    }
}
