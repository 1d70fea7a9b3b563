using Concentrator.Config;

namespace Concentrator.Tests.Config;

public sealed class TunnelConfigTests
{
    [Fact]
    public void Tunnel_keys_parse_with_swanctl_style_values()
    {
        var c = ConcentratorConfig.Parse("""
            tunnel: { type: none, device: vpn7, mtu: 1380, workers: 3, install_routes: no, plain_esp: false, gro: no, tso: no, udp_gso: no }
            """, "t.yaml");
        Assert.Equal("none", c.Tunnel.Type);
        Assert.Equal("vpn7", c.Tunnel.Device);
        Assert.Equal(1380, c.Tunnel.Mtu);
        Assert.Equal(3, c.Tunnel.Workers);
        Assert.False(c.Tunnel.InstallRoutes);
        Assert.False(c.Tunnel.PlainEsp);
        Assert.False(c.Tunnel.Gro);
        Assert.False(c.Tunnel.Tso);
        Assert.False(c.Tunnel.UdpGso);
    }

    [Fact]
    public void Tunnel_defaults_are_a_tun_device_with_routes()
    {
        var c = ConcentratorConfig.Parse("connections: {}", "t.yaml");
        Assert.Equal("tun", c.Tunnel.Type);
        Assert.Equal(0, c.Tunnel.Workers);
        Assert.True(c.Tunnel.InstallRoutes);
        Assert.True(c.Tunnel.PlainEsp);
        Assert.True(c.Tunnel.Gro);
        Assert.True(c.Tunnel.Tso);
        Assert.True(c.Tunnel.UdpGso);
        Assert.False(c.Tunnel.UdpGro);
        Assert.True(ConcentratorConfig.Parse("tunnel: { udp_gro: yes }", "t.yaml").Tunnel.UdpGro);
    }

    [Theory]
    [InlineData("tunnel: { type: xfrm }", "tunnel.type")]
    [InlineData("tunnel: { workers: 65 }", "tunnel.workers")]
    [InlineData("tunnel: { install_routes: maybe }", "tunnel.install_routes")]
    [InlineData("tunnel: { gro: sometimes }", "tunnel.gro")]
    [InlineData("tunnel: { tso: 2 }", "tunnel.tso")]
    [InlineData("tunnel: { udp_gso: often }", "tunnel.udp_gso")]
    [InlineData("tunnel: { udp_gro: auto }", "tunnel.udp_gro")]
    [InlineData("tunnel: { queues: 2 }", "tunnel.queues")]
    public void Bad_tunnel_values_name_the_key(string yaml, string key)
    {
        var ex = Assert.Throws<ConfigException>(() => ConcentratorConfig.Parse(yaml, "t.yaml"));
        Assert.Equal("t.yaml", ex.File);
        Assert.Contains(key, ex.Message);
    }
}
