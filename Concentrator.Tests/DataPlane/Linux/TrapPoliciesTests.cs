using Concentrator.DataPlane.Linux;
using Concentrator.Ipsec;
using Concentrator.Telemetry;
using static Concentrator.Tests.DataPlane.Linux.TestPackets;

namespace Concentrator.Tests.DataPlane.Linux;

/// <summary>Trap policies: the charon.acquire_queue bound per trap and the rate of acquires to the control plane.</summary>
public sealed class TrapPoliciesTests
{
    [Fact]
    public void Acquire_queue_holds_at_most_the_bound_per_trap_policy()
    {
        var trap = new TrapPolicy("c", "t", [], [], queueLimit: 3);
        Assert.True(trap.Enqueue([1]));
        Assert.True(trap.Enqueue([2]));
        Assert.True(trap.Enqueue([3]));
        Assert.False(trap.Enqueue([4]));
        Assert.Equal(3, trap.Drain().Count);
        Assert.True(trap.Enqueue([5])); // drained: room again
        Assert.False(new TrapPolicy("c", "t", [], [], queueLimit: 0).Enqueue([1]));
    }

    [Fact]
    public void A_miss_between_a_traps_selectors_is_held_counted_past_the_bound_and_acquires_once_per_interval()
    {
        var traps = new TrapPolicies([new TrapSpec("conn", "net", List("10.0.0.0/24"), List("10.1.0.0/16"))], queueLimit: 2);
        var acquired = new List<(string, string)>();
        traps.AttachAcquireHandler((connection, child) => acquired.Add((connection, child)));
        var metrics = new ConcentratorMetrics();

        for (int i = 0; i < 3; i++) traps.OnMiss(Ip("10.0.0.1", "10.1.0.5"), metrics.DataPlane);
        traps.OnMiss(Ip("10.0.0.1", "10.2.0.5"), metrics.DataPlane); // no trap covers it

        Assert.Equal([("conn", "net")], acquired);
        Assert.Equal(1, metrics.Limits.Count(ResourceLimit.AcquireQueue));
        Assert.Equal(2, Assert.Single(traps.All).Drain().Count);
    }

    [Fact]
    public void A_reload_replaces_the_traps_keeps_unchanged_ones_with_their_held_packets_and_misses_follow_the_new_set()
    {
        var traps = new TrapPolicies([
            new TrapSpec("a", "net", List("10.0.0.0/24"), List("10.1.0.0/16")),
            new TrapSpec("b", "net", List("10.0.0.0/24"), List("10.2.0.0/16")),
        ], queueLimit: 4);
        var acquired = new List<(string, string)>();
        traps.AttachAcquireHandler((connection, child) => acquired.Add((connection, child)));
        traps.OnMiss(Ip("10.0.0.1", "10.1.0.5"), null);
        var kept = traps.All[0];

        var (removed, added) = traps.Replace([
            new TrapSpec("a", "net", List("10.0.0.0/24"), List("10.1.0.0/16")),
            new TrapSpec("c", "net", List("10.0.0.0/24"), List("10.3.0.0/16")),
        ]);

        Assert.Equal(["b"], removed.Select(t => t.Connection));
        Assert.Equal(["c"], added.Select(t => t.Connection));
        Assert.Same(kept, traps.All[0]);
        traps.OnMiss(Ip("10.0.0.1", "10.2.0.5"), null); // b's trap is gone
        traps.OnMiss(Ip("10.0.0.1", "10.3.0.5"), null);
        Assert.Equal([("a", "net"), ("c", "net")], acquired);
        Assert.Single(kept.Drain());
    }
}
