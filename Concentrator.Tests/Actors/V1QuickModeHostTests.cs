using Concentrator.Actors;

namespace Concentrator.Tests.Actors;

/// <summary>The lifetime a quick mode agreed (RFC 2407 §4.5, one per SA for both ends) applied to the child's timers.</summary>
public class V1QuickModeHostTests
{
    private static readonly ChildLifetime Configured = new(TimeSpan.FromHours(1), TimeSpan.FromMinutes(66), TimeSpan.FromMinutes(6), 0, 0, 0, 0);

    [Fact]
    public void A_shorter_agreed_lifetime_becomes_the_hard_limit_with_a_rekey_at_90_percent()
    {
        var applied = V1QuickModeHost.Apply(Configured, TimeSpan.FromSeconds(30));
        Assert.Equal(TimeSpan.FromSeconds(30), applied.LifeTime);
        Assert.Equal(TimeSpan.FromSeconds(27), applied.RekeyTime);
        Assert.Equal(TimeSpan.Zero, applied.RandTime);
    }

    [Fact]
    public void Our_own_shorter_timers_stay()
    {
        Assert.Same(Configured, V1QuickModeHost.Apply(Configured, TimeSpan.FromHours(8)));
        Assert.Same(Configured, V1QuickModeHost.Apply(Configured, null));
        var shortRekey = Configured with { RekeyTime = TimeSpan.FromSeconds(10), RandTime = TimeSpan.FromSeconds(2) };
        var applied = V1QuickModeHost.Apply(shortRekey, TimeSpan.FromSeconds(30));
        Assert.Equal((TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(2)), (applied.RekeyTime, applied.LifeTime, applied.RandTime));
    }
}
