using Concentrator.Config;

namespace Concentrator.Tests.Config;

/// <summary>README's IKEv1 example ("IKEv1 for legacy peers") loads with the real loader and says what the text says.</summary>
public sealed class V1ReadmeExampleTests
{
    private static string ReadmeYaml()
    {
        string readme = File.ReadAllText(Path.Combine(RepoRoot(), "README.md"));
        int section = readme.IndexOf("### IKEv1 for legacy peers", StringComparison.Ordinal);
        Assert.True(section >= 0, "README has no IKEv1 section");
        int start = readme.IndexOf("```yaml\n", section, StringComparison.Ordinal) + "```yaml\n".Length;
        int end = readme.IndexOf("```", start, StringComparison.Ordinal);
        return readme[start..end];
    }

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Concentrator.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("no Concentrator.sln above the test binaries");
    }

    [Fact]
    public void The_readme_ikev1_example_loads_with_psk_pfs_xauth_and_a_pool()
    {
        // The example leaves out what every connection needs around it: the pool and the secrets.
        string yaml = ReadmeYaml() + """
            pools:
              rw-pool: { addrs: 10.99.0.0/24 }
            secrets:
              ike-branch: { id: [branch.example.net, gw.example.net], secret: "0123456789abcdef0123" }
              ike-rw: { id: gw.example.net, secret: "fedcba9876543210fedc" }
              xauth-alice: { id: alice, secret: "alice-password" }
            """;
        var config = ConcentratorConfig.Parse(yaml, "readme.yaml");

        var branch = config.Connections["branch-v1"];
        Assert.Equal(1, branch.Version);
        Assert.Equal(TimeSpan.FromSeconds(30), branch.DpdDelay);
        Assert.False(branch.Aggressive);
        var lan = branch.Children["lan"];
        Assert.Contains(lan.EspProposals, p => p.Groups.Count > 0);

        var rw = config.Connections["legacy-rw"];
        Assert.Equal(1, rw.Version);
        Assert.Equal(["rw-pool"], rw.Pools);
        Assert.NotNull(rw.RemoteXauth);
    }
}
