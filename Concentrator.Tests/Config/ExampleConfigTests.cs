using System.Net;
using System.Text;
using Concentrator.Config;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Proposals;
using Concentrator.Ipsec;

namespace Concentrator.Tests.Config;

public class ExampleConfigTests
{
    private static readonly string ExamplePath = ConfigTestText.SourcePath("Concentrator", "Config", "example.yaml");

    [Fact]
    public void Example_file_matches_the_test_copy()
    {
        Assert.Equal(ConfigTestText.Example.ReplaceLineEndings("\n"), File.ReadAllText(ExamplePath).ReplaceLineEndings("\n"));
    }

    [Fact]
    public void Example_file_loads()
    {
        var config = ConcentratorConfig.Load(ExamplePath);
        Assert.Equal(ExamplePath, config.Source);
        Assert.Equal(["site-a", "roadwarriors"], config.Connections.Keys);
    }

    [Fact]
    public void Example_values()
    {
        var c = ConcentratorConfig.Parse(ConfigTestText.Example, "example.yaml");
        Assert.Equal("example.yaml", c.Source);
        Assert.Equal([IPAddress.Any, IPAddress.IPv6Any], c.Listen.Addresses);
        Assert.Equal(500, c.Listen.IkePort);
        Assert.Equal(4500, c.Listen.NattPort);
        Assert.Equal("127.0.0.1:9400", c.Http.Listen);
        Assert.Equal("ipsec0", c.Tunnel.Device);
        Assert.Equal(1400, c.Tunnel.Mtu);

        var a = c.Connections["site-a"];
        Assert.Equal("site-a", a.Name);
        Assert.Equal(2, a.Version);
        Assert.Equal(["0.0.0.0"], a.LocalAddrs);
        Assert.Equal(["%any"], a.RemoteAddrs);
        Assert.Null(a.LocalPort);
        Assert.Equal(["aes256gcm16-prfsha256-ecp256", "aes256-sha256-prfsha256-modp2048"], a.Proposals.Select(p => p.ToString()));
        Assert.False(a.Encap);
        Assert.Equal(Fragmentation.Yes, a.Fragmentation);
        Assert.Equal(1280, c.Charon.FragmentSize);
        Assert.Equal(100L << 20, c.Charon.FragmentMemory);
        Assert.Equal(TimeSpan.FromHours(4), a.RekeyTime);
        Assert.Equal(TimeSpan.Zero, a.ReauthTime);
        Assert.Equal(TimeSpan.FromMinutes(24), a.OverTime);  // 10% of rekey_time
        Assert.Equal(TimeSpan.FromMinutes(24), a.RandTime);  // = over_time
        Assert.Equal(TimeSpan.FromSeconds(30), a.DpdDelay);
        Assert.Equal(TimeSpan.Zero, a.DpdTimeout);
        Assert.Equal(1, a.KeyingTries);
        Assert.Equal(UniquePolicy.No, a.Unique);
        Assert.True(a.SendCertReq);
        Assert.Equal(SendCertPolicy.IfAsked, a.SendCert);
        Assert.Equal("psk", a.Local.Auth);
        Assert.Equal("gw.example.net", a.Local.Id);
        Assert.Equal("%any", a.Remote.Id);

        var lan = a.Children["lan"];
        Assert.Equal("lan", lan.Name);
        Assert.Equal([V4("10.10.0.0", "10.10.0.255")], lan.LocalTs.Select(t => t.Selector));
        Assert.Equal([V4("10.20.0.0", "10.20.0.255")], lan.RemoteTs.Select(t => t.Selector));
        Assert.Equal(["aes256gcm16-noesn", "aes128gcm16-noesn"], lan.EspProposals.Select(p => p.ToString()));
        Assert.Equal("tunnel", lan.Mode);
        Assert.Equal("none", lan.StartAction);
        Assert.Equal("clear", lan.DpdAction);
        Assert.Equal("none", lan.CloseAction);
        Assert.Equal(TimeSpan.FromHours(1), lan.RekeyTime);
        Assert.Equal(TimeSpan.FromMinutes(66), lan.LifeTime);   // 110%
        Assert.Equal(TimeSpan.FromMinutes(6), lan.RandTime);    // life - rekey
        Assert.Equal(1UL << 30, lan.RekeyBytes);
        Assert.Equal((1UL << 30) * 110 / 100, lan.LifeBytes);
        Assert.Equal(lan.LifeBytes - lan.RekeyBytes, lan.RandBytes);
        Assert.Equal(0UL, lan.RekeyPackets);
        Assert.Equal(128, lan.ReplayWindow);

        var dns = a.Children["dns"];
        Assert.Equal(["10.10.0.53/32[udp/53]", "10.10.0.53/32[tcp/53]"], dns.LocalTs.Select(t => t.ToString()));
        Assert.True(Assert.Single(dns.RemoteTs).Dynamic);
        Assert.Equal(ProposalParser.DefaultEsp, dns.EspProposals);

        var rw = c.Connections["roadwarriors"];
        Assert.Equal(ProposalParser.DefaultIke, rw.Proposals);
        Assert.Equal(["%any"], rw.LocalAddrs);
        var rwChild = rw.Children["rw"];
        Assert.True(Assert.Single(rwChild.RemoteTs).Dynamic);
        Assert.Equal([TsType.Ipv4AddressRange, TsType.Ipv6AddressRange], rwChild.LocalTs.Select(t => t.Selector!.Type));
        Assert.Equal([EsnMode.Esn, EsnMode.NoEsn], rwChild.EspProposals[0].Esn);

        Assert.Equal(2, c.Secrets.Count);
        Assert.Equal("ike-site-a", c.Secrets[0].Name);
        Assert.Equal(["client.example.net", "gw.example.net"], c.Secrets[0].Ids.Select(i => i.Text));
        Assert.Equal("secret-for-site-a-change-me", Encoding.UTF8.GetString(c.Secrets[0].Secret));
        Assert.Equal(["*@example.net"], c.Secrets[1].Ids.Select(i => i.Text));
        Assert.Equal("change-me-too", Encoding.UTF8.GetString(c.Secrets[1].Secret));
    }

    [Fact]
    public void Empty_document_gives_defaults()
    {
        var c = ConcentratorConfig.Parse("", "empty.yaml");
        Assert.Empty(c.Connections);
        Assert.Empty(c.Secrets);
        Assert.Equal([IPAddress.Any], c.Listen.Addresses);
        Assert.Equal(500, c.Listen.IkePort);
        Assert.Equal("ipsec0", c.Tunnel.Device);
    }

    private static TrafficSelector V4(string a, string b) =>
        new(TsType.Ipv4AddressRange, 0, 0, 65535, IPAddress.Parse(a), IPAddress.Parse(b));
}
