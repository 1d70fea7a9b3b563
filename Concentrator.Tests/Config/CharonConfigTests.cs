using Concentrator.Config;
using Concentrator.Hosting;

namespace Concentrator.Tests.Config;

public sealed class CharonConfigTests
{
    [Fact]
    public void Charon_keys_feed_the_retransmission_schedule_and_admission()
    {
        var c = ConcentratorConfig.Parse("""
            charon: { retransmit_timeout: 1.5, retransmit_base: 1.4, retransmit_tries: 3, cookie_threshold: 0, init_limit_half_open: 200 }
            """, "t.yaml");
        var t = c.Charon.ToTunables();
        Assert.Equal(TimeSpan.FromSeconds(1.5), t.RetransmitTimeout);
        Assert.Equal(3, t.RetransmitTries);
        Assert.Equal(TimeSpan.FromSeconds(1.5 * 1.4 * 1.4), t.RetransmitDelay(2));
        var a = c.Charon.ToAdmission();
        Assert.Equal(int.MaxValue, a.CookieThreshold); // 0 = cookies off, as in strongSwan
        Assert.Equal(200, a.MaxHalfOpen);
    }

    [Fact]
    public void Charon_defaults_are_strongswans_retransmission_schedule()
    {
        var c = ConcentratorConfig.Parse("connections: {}", "t.yaml");
        Assert.Equal(TimeSpan.FromSeconds(4), c.Charon.RetransmitTimeout);
        Assert.Equal(1.8, c.Charon.RetransmitBase);
        Assert.Equal(5, c.Charon.RetransmitTries);
        Assert.Equal(10, c.Charon.ToAdmission().CookieThreshold);
    }

    [Theory]
    [InlineData("charon: { retransmit_base: fast }", "charon.retransmit_base", "not a number")]
    [InlineData("charon: { retransmit_base: 0.5 }", "charon.retransmit_base", "out of range")]
    [InlineData("charon: { retransmit_tries: 99 }", "charon.retransmit_tries", "out of range")]
    [InlineData("charon: { retransmit_timeout: 0 }", "charon.retransmit_timeout", "out of range")]
    [InlineData("charon: { cookie_threshold: -1 }", "charon.cookie_threshold", "out of range")]
    [InlineData("charon: { block_everything: yes }", "charon.block_everything", "")]
    public void Bad_charon_values_name_the_key(string yaml, string key, string problem)
    {
        var ex = Assert.Throws<ConfigException>(() => ConcentratorConfig.Parse(yaml, "t.yaml"));
        Assert.Equal("t.yaml", ex.File);
        Assert.Contains(key, ex.Message);
        Assert.Contains(problem, ex.Message);
    }
}
