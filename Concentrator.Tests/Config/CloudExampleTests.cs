using Concentrator.Config;
using Concentrator.Hosting;

namespace Concentrator.Tests.Config;

/// <summary>The cloud examples (examples/*-vpn.yaml) load with the real loader and are what README says: two route-based
/// 0.0.0.0/0 tunnels per file on interfaces 1 and 2, started by the gateway.</summary>
public class CloudExampleTests
{
    private static string[] Files() => Directory.GetFiles(ConfigTestText.SourcePath("examples"), "*-vpn.yaml")
        .Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal).ToArray();

    public static TheoryData<string> Examples() => new(Files());

    [Fact]
    public void Aws_azure_and_gcp_are_all_there() => Assert.Equal(["aws-vpn.yaml", "azure-vpn.yaml", "gcp-vpn.yaml"], Files());

    [Theory]
    [MemberData(nameof(Examples))]
    public void Example_loads_as_two_route_based_zero_selector_tunnels(string file)
    {
        var config = ConcentratorConfig.Load(ConfigTestText.SourcePath("examples", file));
        Assert.Equal(2, config.Connections.Count);
        var children = config.Connections.Values.SelectMany(c => c.Children.Values).ToList();
        Assert.Equal([1u, 2u], children.Select(c => c.InterfaceIdIn).Order());
        Assert.Equal([1u, 2u], children.Select(c => c.InterfaceIdOut).Order());
        Assert.All(children, c =>
        {
            Assert.Equal("0.0.0.0/0", Assert.Single(c.LocalTs).ToString());
            Assert.Equal("0.0.0.0/0", Assert.Single(c.RemoteTs).ToString());
            Assert.Equal("start", c.StartAction);
            Assert.NotEmpty(c.EspProposals);
        });
        Assert.All(config.Connections.Values, c => Assert.NotEmpty(c.Proposals));
        Assert.Equal([1u, 2u], config.ToDataPlaneOptions().InterfaceIds);
        Assert.Empty(config.ToDataPlaneOptions().Traps);
    }

    [Fact]
    public void The_frr_example_peers_with_the_aws_inside_addresses()
    {
        string frr = File.ReadAllText(ConfigTestText.SourcePath("examples", "aws-frr.conf"));
        Assert.Contains("ip addr add 169.254.10.2/30 dev ipsec1", frr);
        Assert.Contains("ip addr add 169.254.20.2/30 dev ipsec2", frr);
        Assert.Contains("neighbor 169.254.10.1 remote-as", frr);
        Assert.Contains("neighbor 169.254.20.1 remote-as", frr);
    }
}
