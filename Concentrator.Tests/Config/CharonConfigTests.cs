using System.Net;
using Concentrator.Config;
using Concentrator.Hosting;
using Concentrator.Ike.Admission;

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
    public void Keep_alive_sets_the_nat_t_keepalive_interval_with_strongswans_default_and_zero_for_none()
    {
        Assert.Equal(TimeSpan.FromSeconds(20), ConcentratorConfig.Parse("connections: {}", "t.yaml").Charon.ToTunables().KeepAliveInterval);
        Assert.Equal(TimeSpan.FromSeconds(5), ConcentratorConfig.Parse("charon: { keep_alive: 5s }", "t.yaml").Charon.ToTunables().KeepAliveInterval);
        Assert.Equal(TimeSpan.Zero, ConcentratorConfig.Parse("charon: { keep_alive: 0 }", "t.yaml").Charon.ToTunables().KeepAliveInterval);
        var e = Assert.Throws<ConfigException>(() => ConcentratorConfig.Parse("charon: { keep_alive: 2h }", "t.yaml"));
        Assert.Equal("charon.keep_alive", e.KeyPath);
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

    [Fact]
    public void Routing_table_and_its_rules_priority_reach_the_data_plane_with_strongswans_defaults()
    {
        var defaults = ConcentratorConfig.Parse("connections: {}", "t.yaml").ToDataPlaneOptions();
        Assert.Equal(220u, defaults.RoutingTable);
        Assert.Equal(220u, defaults.RoutingTablePriority);
        var set = ConcentratorConfig.Parse("charon: { routing_table: 1000, routing_table_prio: 32763 }", "t.yaml").ToDataPlaneOptions();
        Assert.Equal(1000u, set.RoutingTable);
        Assert.Equal(32763u, set.RoutingTablePriority);
    }

    [Fact]
    public void Fragment_sizes_resolve_as_strongswan_determines_them_per_address_family()
    {
        static (int V4, int V6) Sizes(string charon)
        {
            var t = ConcentratorConfig.Parse(charon, "t.yaml").Charon.ToTunables();
            return (t.FragmentSizeV4, t.FragmentSizeV6);
        }

        Assert.Equal((1280, 1280), Sizes("connections: {}"));
        Assert.Equal((576, 1280), Sizes("charon: { fragment_size: 0 }"));
        Assert.Equal((1400, 1400), Sizes("charon: { fragment_size: 1400 }"));
        Assert.Equal((1200, 1500), Sizes("charon: { fragment_size: 1400, fragment_size_v4: 1200, fragment_size_v6: 1500 }"));
        Assert.Equal((576, 9000), Sizes("charon: { fragment_size: 0, fragment_size_v6: 9000 }"));

        // IKE octets per datagram: less IP (20 / 40), UDP (8) and on 4500 the non-ESP marker (4).
        var tunables = ConcentratorConfig.Parse("charon: { fragment_size_v6: 1500 }", "t.yaml").Charon.ToTunables();
        Assert.Equal(1280 - 28, tunables.FragmentMessageLength(IPAddress.Parse("192.0.2.1"), natT: false));
        Assert.Equal(1280 - 32, tunables.FragmentMessageLength(IPAddress.Parse("192.0.2.1").MapToIPv6(), natT: true));
        Assert.Equal(1500 - 48, tunables.FragmentMessageLength(IPAddress.Parse("2001:db8::1"), natT: false));
    }

    [Fact]
    public void Fragment_memory_bounds_the_nodes_reassembly_and_defaults_to_what_half_open_SAs_may_hold()
    {
        static long Memory(string yaml) => ConcentratorConfig.Parse(yaml, "t.yaml").Charon.ToLimits().FragmentMemory;
        // init_limit_half_open x 2 x max_packet: 5000 x 2 x 10000 at the defaults.
        Assert.Equal(100_000_000, Memory("connections: {}"));
        Assert.Equal(ResourceLimits.Default.FragmentMemory, Memory("connections: {}"));
        Assert.Equal(30 * 2 * 1500, Memory("charon: { init_limit_half_open: 30, max_packet: 1500 }"));
        Assert.Equal(CharonConfig.MinFragmentMemory, Memory("charon: { init_limit_half_open: 1 }"));
        Assert.Equal(20 * 2 * 10000, Memory("charon: { init_limit_half_open: 0, ikesa_limit: 20 }"));
        Assert.Equal(CharonConfig.MaxFragmentMemory, Memory("charon: { init_limit_half_open: 0, ikesa_limit: 0 }"));
        Assert.Equal(3L << 20, Memory("charon: { fragment_memory: 3m, init_limit_half_open: 100 }"));
        Assert.Equal(160_000, Memory("charon: { fragment_memory: 160000, init_limit_half_open: 8 }"));
    }

    [Theory]
    [InlineData("charon: { fragment_size: 575 }", "charon.fragment_size", "below 576")]
    [InlineData("charon: { fragment_size_v4: 100 }", "charon.fragment_size_v4", "below 576")]
    [InlineData("charon: { fragment_size_v6: 65536 }", "charon.fragment_size_v6", "out of range")]
    [InlineData("charon: { fragment_size: -1 }", "charon.fragment_size", "out of range")]
    [InlineData("charon: { fragment_memory: 1k }", "charon.fragment_memory", "out of range")]
    [InlineData("charon: { fragment_memory: 5g }", "charon.fragment_memory", "out of range")]
    [InlineData("charon: { fragment_memory: lots }", "charon.fragment_memory", "'lots'")]
    [InlineData("charon: { fragment_memory: 64k, init_limit_half_open: 8 }", "charon.fragment_memory", "below 160000")]
    [InlineData("charon: { fragment_memory: 64m }", "charon.fragment_memory", "below 100000000")]
    [InlineData("charon: { fragment_memory: 1m, init_limit_half_open: 0, ikesa_limit: 100 }", "charon.fragment_memory", "below 2000000")]
    [InlineData("charon: { retransmit_base: fast }", "charon.retransmit_base", "not a number")]
    [InlineData("charon: { retransmit_base: 0.5 }", "charon.retransmit_base", "out of range")]
    [InlineData("charon: { retransmit_tries: 99 }", "charon.retransmit_tries", "out of range")]
    [InlineData("charon: { retransmit_timeout: 0 }", "charon.retransmit_timeout", "out of range")]
    [InlineData("charon: { cookie_threshold: -1 }", "charon.cookie_threshold", "out of range")]
    [InlineData("charon: { block_everything: yes }", "charon.block_everything", "")]
    [InlineData("charon: { routing_table: 254 }", "charon.routing_table", "main table")]
    [InlineData("charon: { routing_table: 0 }", "charon.routing_table", "a table of their own")]
    [InlineData("charon: { routing_table: 255 }", "charon.routing_table", "local table")]
    [InlineData("charon: { routing_table: -3 }", "charon.routing_table", "out of range")]
    [InlineData("charon: { routing_table_prio: 32764 }", "charon.routing_table_prio", "out of range")]
    [InlineData("charon: { routing_table_prio: 0 }", "charon.routing_table_prio", "out of range")]
    public void Bad_charon_values_name_the_key(string yaml, string key, string problem)
    {
        var ex = Assert.Throws<ConfigException>(() => ConcentratorConfig.Parse(yaml, "t.yaml"));
        Assert.Equal("t.yaml", ex.File);
        Assert.Contains(key, ex.Message);
        Assert.Contains(problem, ex.Message);
    }

    /// <summary>charon.plugins.ipsec-mb.load: strongSwan's per-plugin switch, yes/no only; absent means yes.</summary>
    [Theory]
    [InlineData("charon: { retransmit_tries: 3 }", true)]
    [InlineData("charon: { plugins: { ipsec-mb: { load: yes } } }", true)]
    [InlineData("charon: { plugins: { ipsec-mb: { load: no } } }", false)]
    [InlineData("charon: { plugins: { ipsec-mb: { } } }", true)]
    public void IpsecMbLoad_IsReadFromThePluginSwitch(string yaml, bool expected) =>
        Assert.Equal(expected, ConcentratorConfig.Parse(yaml, "t.yaml").Charon.IpsecMbLoad);

    [Theory]
    [InlineData("load: 5", "charon.plugins.ipsec-mb.load", "not a boolean")]
    [InlineData("load: \"!\"", "charon.plugins.ipsec-mb.load", "not a boolean")]
    [InlineData("{ load: yes, gcm: sse }", "charon.plugins.ipsec-mb", "gcm")]
    public void IpsecMbLoad_OtherValuesAndKeysAreLoadErrors(string body, string keyPath, string problem)
    {
        string yaml = body.StartsWith('{') ? $"charon: {{ plugins: {{ ipsec-mb: {body} }} }}" : $"charon: {{ plugins: {{ ipsec-mb: {{ {body} }} }} }}";
        var e = Assert.Throws<ConfigException>(() => ConcentratorConfig.Parse(yaml, "t.yaml"));
        Assert.Equal("t.yaml", e.File);
        Assert.StartsWith(keyPath, e.KeyPath);
        Assert.Contains(problem, e.KeyPath + " " + e.Problem);
    }
}
