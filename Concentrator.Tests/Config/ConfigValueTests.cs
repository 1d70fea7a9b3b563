using Concentrator.Config;
using Concentrator.Ike.Connections;

namespace Concentrator.Tests.Config;

public class ConfigValueTests
{
    private static ConcentratorConfig Parse(string connBody, string childBody = "") => ConcentratorConfig.Parse($"""
        connections:
          c:
        {Indent(connBody, 4)}
            children:
              k:
        {Indent(childBody, 8)}
        """, "values.yaml");

    private static string Indent(string text, int n) =>
        string.Join('\n', text.Split('\n').Select(l => new string(' ', n) + l));

    [Theory]
    [InlineData("90", 90)]
    [InlineData("90s", 90)]
    [InlineData("30m", 1800)]
    [InlineData("1h", 3600)]
    [InlineData("2d", 172800)]
    [InlineData("0", 0)]
    public void Durations(string text, int seconds)
    {
        var c = Parse($"reauth_time: {text}").Connections["c"];
        Assert.Equal(TimeSpan.FromSeconds(seconds), c.ReauthTime);
    }

    [Theory]
    [InlineData("1000", 1000UL)]
    [InlineData("1k", 1024UL)]
    [InlineData("1K", 1024UL)]
    [InlineData("500M", 500UL << 20)]
    [InlineData("500m", 500UL << 20)]
    [InlineData("1G", 1UL << 30)]
    public void Byte_sizes_are_1024_based(string text, ulong bytes)
    {
        var k = Parse("", $"rekey_bytes: {text}").Connections["c"].Children["k"];
        Assert.Equal(bytes, k.RekeyBytes);
        Assert.Equal(bytes * 110 / 100, k.LifeBytes);
    }

    [Theory]
    [InlineData("yes", true)]
    [InlineData("no", false)]
    [InlineData("true", true)]
    [InlineData("False", false)]
    [InlineData("\"yes\"", true)]
    public void Booleans(string text, bool expected)
    {
        Assert.Equal(expected, Parse($"encap: {text}").Connections["c"].Encap);
    }

    [Fact]
    public void Ike_lifetime_defaults_follow_swanctl()
    {
        var c = Parse("rekey_time: 1h\nreauth_time: 3h").Connections["c"];
        Assert.Equal(TimeSpan.FromMinutes(18), c.OverTime); // 10% of the larger of rekey/reauth
        Assert.Equal(TimeSpan.FromMinutes(18), c.RandTime);

        var d = Parse("").Connections["c"];
        Assert.Equal(TimeSpan.FromHours(4), d.RekeyTime);
        Assert.Equal(TimeSpan.FromMinutes(24), d.OverTime);

        // Default rand_time (= over_time) never exceeds the smaller limit it is subtracted from.
        var capped = Parse("rekey_time: 4h\nreauth_time: 2d").Connections["c"];
        Assert.Equal(TimeSpan.FromHours(4.8), capped.OverTime);
        Assert.Equal(TimeSpan.FromHours(4), capped.RandTime);

        var explicitValues = Parse("over_time: 5m\nrand_time: 1m").Connections["c"];
        Assert.Equal(TimeSpan.FromMinutes(5), explicitValues.OverTime);
        Assert.Equal(TimeSpan.FromMinutes(1), explicitValues.RandTime);
    }

    [Fact]
    public void Child_lifetime_defaults_follow_swanctl()
    {
        var k = Parse("", "rekey_time: 10m\nrekey_packets: 1000").Connections["c"].Children["k"];
        Assert.Equal(TimeSpan.FromMinutes(11), k.LifeTime);
        Assert.Equal(TimeSpan.FromMinutes(1), k.RandTime);
        Assert.Equal(1100UL, k.LifePackets);
        Assert.Equal(100UL, k.RandPackets);
        Assert.Equal(0UL, k.RekeyBytes);
        Assert.Equal(0UL, k.LifeBytes);

        var explicitLife = Parse("", "rekey_time: 10m\nlife_time: 20m").Connections["c"].Children["k"];
        Assert.Equal(TimeSpan.FromMinutes(20), explicitLife.LifeTime);
        Assert.Equal(TimeSpan.FromMinutes(10), explicitLife.RandTime);

        var capped = Parse("", "rekey_time: 10m\nlife_time: 1h").Connections["c"].Children["k"];
        Assert.Equal(TimeSpan.FromMinutes(10), capped.RandTime);
    }

    [Fact]
    public void Child_defaults()
    {
        var c = Parse("").Connections["c"];
        Assert.Equal(Concentrator.Ike.Proposals.ProposalParser.DefaultIke, c.Proposals);
        Assert.Equal(["%any"], c.LocalAddrs);
        Assert.Equal("psk", c.Local.Auth);
        Assert.Equal("%any", c.Remote.Id);
        var k = c.Children["k"];
        Assert.True(Assert.Single(k.LocalTs).Dynamic);
        Assert.True(Assert.Single(k.RemoteTs).Dynamic);
        Assert.Equal(Concentrator.Ike.Proposals.ProposalParser.DefaultEsp, k.EspProposals);
        Assert.Equal(TimeSpan.FromHours(1), k.RekeyTime);
        Assert.Equal(TimeSpan.FromMinutes(66), k.LifeTime);
        Assert.Equal("tunnel", k.Mode);
        Assert.Equal(128, k.ReplayWindow);
    }

    [Fact]
    public void Lists_may_be_comma_separated_strings()
    {
        var c = Parse("local_addrs: 192.0.2.1, 2001:db8::1\nproposals: \"aes256-sha256-ecp256, default\"", "remote_ts: 10.0.0.0/8, 2001:db8::/32").Connections["c"];
        Assert.Equal(["192.0.2.1", "2001:db8::1"], c.LocalAddrs);
        Assert.Equal(3, c.Proposals.Count);
        Assert.Equal("aes256-sha256-prfsha256-ecp256", c.Proposals[0].ToString());
        Assert.Equal(2, c.Children["k"].RemoteTs.Count);
    }

    [Fact]
    public void Ports_replay_window_and_auth_values()
    {
        var c = Parse("local_port: 500\nremote_port: 4500\nlocal: { auth: psk, id: \"C=CH, O=strongSwan, CN=gw\" }\nremote: { auth: PSK }\nunique: no\nkeyingtries: 1",
            "replay_window: 65536\nmode: tunnel\nstart_action: trap\ndpd_action: restart\nclose_action: none").Connections["c"];
        Assert.Equal(500, c.LocalPort);
        Assert.Equal(4500, c.RemotePort);
        Assert.Equal("psk", c.Local.Auth);
        Assert.Equal("C=CH, O=strongSwan, CN=gw", c.Local.Id);
        Assert.Equal("psk", c.Remote.Auth);
        Assert.Equal(UniquePolicy.No, c.Unique);
        Assert.Equal(1, c.KeyingTries);
        var k = c.Children["k"];
        Assert.Equal(ChildConfig.MaxReplayWindow, k.ReplayWindow);
        Assert.Equal("tunnel", k.Mode);
        Assert.Equal("trap", k.StartAction);
        Assert.Equal("restart", k.DpdAction);
        Assert.Equal("none", k.CloseAction);
        Assert.Equal(0, Parse("", "replay_window: 0").Connections["c"].Children["k"].ReplayWindow);
    }

    [Fact]
    public void Address_specs_accepted_in_addrs()
    {
        var c = Parse("remote_addrs: [\"%any\", \"%any6\", 192.0.2.0/24, 192.0.2.1-192.0.2.9, vpn.example.net, \"2001:db8::1\"]").Connections["c"];
        Assert.Equal(6, c.RemoteAddrs.Count);
    }
}
