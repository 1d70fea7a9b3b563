using System.Net;
using Concentrator.Config;
using Concentrator.Ike.Wire;

namespace Concentrator.Tests.Config;

/// <summary><c>pools:</c> (swanctl's virtual IP pools) and the connection keys <c>pools</c> and <c>vips</c>.</summary>
public class PoolConfigTests
{
    private static ConcentratorConfig Parse(string pools, string connectionExtra = "") => ConcentratorConfig.Parse($$"""
        pools:
        {{pools}}
        connections:
          rw:
        {{connectionExtra}}
            children:
              lan: { local_ts: 10.10.0.0/16 }
        """, "pools.yaml");

    [Theory]
    [InlineData("10.3.0.0/24", "10.3.0.1", 254u)]       // network id and broadcast skipped (strongSwan's mem_pool)
    [InlineData("10.3.0.5/24", "10.3.0.5", 250u)]       // addresses below the one written are kept back
    [InlineData("10.3.0.9/32", "10.3.0.9", 1u)]
    [InlineData("10.3.0.8/31", "10.3.0.8", 2u)]
    [InlineData("10.3.0.9/31", "10.3.0.9", 1u)]
    [InlineData("10.3.0.10-10.3.0.19", "10.3.0.10", 10u)]
    [InlineData("fd00:30::/120", "fd00:30::1", 254u)]
    [InlineData("fd00:30::10-fd00:30::1:f", "fd00:30::10", 0x10000u)]
    [InlineData("10.0.0.0/8", "10.0.0.1", (1u << 24) - 2)]
    public void Addrs_is_a_subnet_or_a_range_leased_as_strongswan_leases_it(string addrs, string first, uint size)
    {
        var pool = Parse($"  p: {{ addrs: \"{addrs}\" }}").Pools["p"];
        Assert.Equal(IPAddress.Parse(first), pool.First);
        Assert.Equal(size, pool.Size);
        Assert.True(pool.TryOffsetOf(pool.Last, out uint last));
        Assert.Equal(size - 1, last);
        Assert.False(pool.TryOffsetOf(IPAddress.Parse(first.Contains(':') ? "fd00:31::1" : "192.0.2.1"), out _));
    }

    [Fact]
    public void Attributes_are_encoded_at_load_and_connections_name_their_pools_and_vips()
    {
        var c = Parse("""
              rw-pool: { addrs: 10.30.0.0/24, dns: [10.10.0.53, "2001:db8::53"], nbns: 10.10.0.54, subnet: "10.10.0.0/16, fd00:10::/64", 25: corp.example.net }
              v6: { addrs: "fd00:30::/120" }
            """, """
                pools: [rw-pool, v6]
                vips: [0.0.0.0, "::"]
            """);
        var pool = c.Pools["rw-pool"];
        Assert.Equal(
            [ConfigAttributeType.InternalIp4Dns, ConfigAttributeType.InternalIp6Dns, ConfigAttributeType.InternalIp4Nbns,
             ConfigAttributeType.InternalIp4Subnet, ConfigAttributeType.InternalIp6Subnet, ConfigAttributeType.InternalDnsDomain],
            pool.Attributes.Select(a => a.Type));
        Assert.Equal(new byte[] { 10, 10, 0, 53 }, pool.Attributes[0].Value);
        Assert.Equal(17, pool.Attributes[4].Value.Length);
        Assert.Equal(64, pool.Attributes[4].Value[16]);
        Assert.Equal("corp.example.net"u8.ToArray(), pool.Attributes[5].Value);
        Assert.Equal(["rw-pool", "v6"], c.Connections["rw"].Pools);
        Assert.Equal([IPAddress.Any, IPAddress.IPv6Any], c.Connections["rw"].Vips);
    }

    [Theory]
    [InlineData("  p: { addrs: 10.3.0.0/24 }", "    pools: [q]", "connections.rw.pools[0]", "no pool named 'q' (defined: p)")]
    [InlineData("  p: { addrs: 10.3.0.0/24 }\n  q: { addrs: 10.3.0.200-10.3.1.9 }", "", "pools.q.addrs", "overlaps pool 'p'")]
    [InlineData("  p: { dns: 10.1.1.1 }", "", "pools.p.addrs", "missing")]
    [InlineData("  p: { addrs: 10.3.0.0 }", "", "pools.p.addrs", "neither a subnet")]
    [InlineData("  p: { addrs: 10.0.0.0/7 }", "", "pools.p.addrs", "holds more than 16777216 addresses")]
    [InlineData("  p: { addrs: 10.3.0.9-10.3.0.1 }", "", "pools.p.addrs", "starts above its end")]
    [InlineData("  p: { addrs: 10.3.0.0/24, dns: [10.1.1.1, dns.example] }", "", "pools.p.dns[1]", "not an IP address")]
    [InlineData("  p: { addrs: 10.3.0.0/24, nbns: \"fd00::1\" }", "", "pools.p.nbns[0]", "no IPv6 form")]
    [InlineData("  p: { addrs: 10.3.0.0/24, subnet: 10.10.0.0 }", "", "pools.p.subnet[0]", "not a subnet")]
    [InlineData("  p: { addrs: 10.3.0.0/24, 25: \"corp example\" }", "", "pools.p.25[0]", "not a domain name")]
    [InlineData("  p: { addrs: 10.3.0.0/24, split_include: 10.10.0.0/16 }", "", "pools.p.split_include", "Cisco Unity attribute (IKEv1)")]
    [InlineData("  p: { addrs: 10.3.0.0/24, split_exclude: 10.10.0.0/16 }", "", "pools.p.split_exclude", "Cisco Unity attribute (IKEv1)")]
    [InlineData("  p: { addrs: 10.3.0.0/24, dhcp: 10.1.1.1 }", "", "pools.p.dhcp", "not supported yet")]
    [InlineData("  p: { addrs: 10.3.0.0/24, 1: 10.3.0.9 }", "", "pools.p.1", "unknown key '1'")]
    [InlineData("  p: { addrs: 10.3.0.0/24, wins: 10.3.0.9 }", "", "pools.p.wins", "unknown key 'wins'")]
    [InlineData("  p: { addrs: 10.3.0.0/24 }", "    vips: [any]", "connections.rw.vips[0]", "not an IP address")]
    public void A_pool_or_pool_reference_that_cannot_work_is_an_error_naming_its_key(string pools, string connectionExtra, string keyPath, string problem)
    {
        var e = Assert.Throws<ConfigException>(() => Parse(pools, connectionExtra));
        Assert.Equal("pools.yaml", e.File);
        Assert.Equal(keyPath, e.KeyPath);
        Assert.Contains(problem, e.Problem);
    }

    [Fact]
    public void A_numbered_attribute_is_sent_as_swanctl_sends_it()
    {
        var pool = Parse("  p: { addrs: 10.3.0.0/24, 28674: \"Welcome\", 7: 10.9.9.9 }").Pools["p"];
        Assert.Equal("Welcome"u8.ToArray(), pool.Attributes.Single(a => (ushort)a.Type == 28674).Value);
        Assert.Equal(new byte[] { 10, 9, 9, 9 }, pool.Attributes.Single(a => a.Type == ConfigAttributeType.ApplicationVersion).Value);
    }

    [Fact]
    public void The_example_configuration_documents_both_pools_and_the_roadwarriors_use_them()
    {
        var c = ConcentratorConfig.Parse(ConfigTestText.Example, "example.yaml");
        var rw = c.Pools["rw-pool"];
        Assert.Equal(("10.30.0.1", 254u), (rw.First.ToString(), rw.Size));
        Assert.Equal([ConfigAttributeType.InternalIp4Dns, ConfigAttributeType.InternalIp4Dns, ConfigAttributeType.InternalIp4Nbns,
            ConfigAttributeType.InternalIp4Subnet, ConfigAttributeType.InternalDnsDomain], rw.Attributes.Select(a => a.Type));
        var six = c.Pools["rw-pool6"];
        Assert.Equal(("fd00:30::1", 254u), (six.First.ToString(), six.Size));
        Assert.Equal([ConfigAttributeType.InternalIp6Dns], six.Attributes.Select(a => a.Type));
        Assert.Equal(["rw-pool", "rw-pool6"], c.Connections["roadwarriors"].Pools);
        Assert.Empty(c.Connections["site-a"].Pools);
    }
}
