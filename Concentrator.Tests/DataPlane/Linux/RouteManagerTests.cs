// Root tests: each creates its own network namespace (unique name, deleted in Dispose) with a TUN device and a veth
// pair inside; 10.98.x.y addresses exist only there. The RouteManager is created inside the namespace, so its
// netlink socket (and every route and rule it installs) belongs to it.
using System.Net;
using Concentrator.DataPlane.Linux;
using Xunit.Abstractions;

namespace Concentrator.Tests.DataPlane.Linux;

[Trait("Category", "Root")]
public class RouteManagerRootTests(ITestOutputHelper output)
{
    [Fact]
    public void Routes_go_into_their_own_table_behind_rules_and_the_main_table_keeps_its_default_route_Root()
    {
        if (!RootPrerequisites.Check(output, needTun: true, "ip"))
            return;
        int x = Random.Shared.Next(1, 250);
        string tunName = "ct" + Guid.NewGuid().ToString("N")[..10];
        using TestNamespace ns = TestNamespace.Create("croute");
        ns.Ip("link", "add", "v0", "type", "veth", "peer", "name", "v1");
        ns.Ip("addr", "add", $"10.98.{x}.1/24", "dev", "v0");
        ns.Ip("link", "set", "v0", "up");
        ns.Ip("link", "set", "v1", "up");
        ns.Ip("route", "add", "default", "via", $"10.98.{x}.2");
        string mainBefore = ns.Ip("-4", "route", "show", "table", "main");
        using TunDevice tun = NetworkNamespace.Run(ns.Path, () => TunDevice.Create(tunName, queues: 1, mtu: 1400, up: true));
        var routes = NetworkNamespace.Run(ns.Path, () => new RouteManager(tunName));
        try
        {
            Assert.Empty(routes.InstallRules());
            string rules = ns.Ip("-4", "rule", "show");
            output.WriteLine(rules);
            Assert.Contains("220:\tnot from all fwmark 0xdc lookup 220 suppress_prefixlength 0", rules);
            Assert.Contains("221:\tnot from all fwmark 0xdc lookup main suppress_prefixlength 0", rules);
            Assert.Contains("222:\tnot from all fwmark 0xdc lookup 220", rules);
            Assert.Contains("lookup 220", ns.Ip("-6", "rule", "show"));

            // 0.0.0.0/0 through the tunnel: main's default route stays; the tunnel's wins for everything main has no
            // specific route for, main's specific routes win over it, and the gateway's own marked packets skip it.
            Assert.Equal(RouteResult.Success(1), routes.Add("0.0.0.0/0"));
            Assert.Equal(mainBefore, ns.Ip("-4", "route", "show", "table", "main"));
            Assert.Contains($"default dev {tunName}", ns.Ip("-4", "route", "show", "table", "220"));
            Assert.Contains($"dev {tunName}", ns.Ip("route", "get", "192.0.2.7"));
            Assert.Contains("dev v0", ns.Ip("route", "get", $"10.98.{x}.5"));
            Assert.Contains($"via 10.98.{x}.2 dev v0", ns.Ip("route", "get", "192.0.2.7", "mark", "0xdc"));

            // A peer's outer address is thrown back to the main table; the exclusion is counted per peer.
            var peer = IPAddress.Parse("198.51.100.9");
            Assert.Equal(RouteResult.Success(1), routes.Exclude(peer));
            Assert.Equal(RouteResult.Success(2), routes.Exclude(peer));
            Assert.Contains($"via 10.98.{x}.2 dev v0", ns.Ip("route", "get", "198.51.100.9"));
            Assert.Contains($"dev {tunName}", ns.Ip("route", "get", "198.51.100.10"));
            Assert.Equal(RouteResult.Success(1), routes.Include(peer));
            Assert.Contains("throw 198.51.100.9", ns.Ip("-4", "route", "show", "table", "220"));
            Assert.Equal(RouteResult.Success(0), routes.Include(peer));
            Assert.DoesNotContain("throw", ns.Ip("-4", "route", "show", "table", "220"));
            Assert.True(RouteManager.IsHostRouteOf("198.51.100.9/32", peer));
            Assert.False(RouteManager.IsHostRouteOf("198.51.100.0/24", peer));

            // A tunnel route more specific than main's wins; references are counted per normalised prefix.
            string prefix = $"10.98.{x}.128/25";
            Assert.Equal(RouteResult.Success(1), routes.Add($"10.98.{x}.200/25"));
            Assert.Equal(RouteResult.Success(2), routes.Add(prefix));
            Assert.Contains($"dev {tunName}", ns.Ip("route", "get", $"10.98.{x}.130"));
            Assert.Equal(RouteResult.Success(1), routes.Remove(prefix));
            Assert.Contains(prefix, ns.Ip("-4", "route", "show", "table", "220"));
            Assert.Equal(RouteResult.Success(0), routes.Remove(prefix));
            Assert.DoesNotContain(prefix, ns.Ip("-4", "route", "show", "table", "220"));
            Assert.Contains("dev v0", ns.Ip("route", "get", $"10.98.{x}.130"));

            // Not ours: left alone. A second manager's rules replace the first's instead of piling up.
            Assert.False(routes.Remove($"10.98.{x}.0/24").Ok);
            Assert.Contains($"10.98.{x}.0/24", ns.Ip("-4", "route", "show", "table", "main"));
            using (var again = NetworkNamespace.Run(ns.Path, () => new RouteManager(tunName)))
            {
                Assert.Empty(again.InstallRules());
                Assert.Equal(3, ns.Ip("-4", "rule", "show").Split('\n').Count(l => l.Contains("lookup 220") || l.Contains("lookup main suppress")));
                again.RemoveAll();
            }
            Assert.Empty(routes.InstallRules());

            // A route that cannot be installed is a counted failure with the kernel's reason, never an exception.
            using var broken = NetworkNamespace.Run(ns.Path, () => new RouteManager("nodev" + x, table: 221, priority: 300));
            RouteResult failed = broken.Add($"10.97.{x}.0/24");
            output.WriteLine($"expected failure: {failed.Error}");
            Assert.False(failed.Ok);
            Assert.Contains("No such device", failed.Error);
            Assert.Equal(1, broken.Failures(RouteOperation.Add));
            Assert.Equal(0, broken.References($"10.97.{x}.0/24"));
            Assert.Equal(0, routes.Failures(RouteOperation.Add) + routes.Failures(RouteOperation.Remove) + routes.Failures(RouteOperation.Rule));
        }
        finally
        {
            Assert.Empty(routes.RemoveAll());
            routes.Dispose();
        }
        Assert.DoesNotContain("lookup 220", ns.Ip("-4", "rule", "show"));
        Assert.DoesNotContain("default", ns.Ip("-4", "route", "show", "table", "220"));
        Assert.Equal(mainBefore, ns.Ip("-4", "route", "show", "table", "main"));
    }
}

public class RouteManagerTests
{
    [Theory]
    [InlineData("10.1.2.3/16", "10.1.0.0/16")]
    [InlineData("10.1.2.3", "10.1.2.3/32")]
    [InlineData("2001:db8::1/32", "2001:db8::/32")]
    [InlineData("0.0.0.0/0", "0.0.0.0/0")]
    public void PrefixesAreNormalised(string input, string expected)
    {
        Assert.True(RouteManager.TryNormalize(input, out string normalized, out string? error), error);
        Assert.Equal(expected, normalized);
    }

    [Theory]
    [InlineData("")]
    [InlineData("10.1.2.3/33")]
    [InlineData("not-an-address/8")]
    [InlineData("10.0.0.0/-1")]
    public void BadPrefixesAreCountedResultsNotExceptions(string input)
    {
        using var routes = new RouteManager("ipsec0");
        RouteResult r = routes.Add(input);
        Assert.False(r.Ok);
        Assert.NotNull(r.Error);
        Assert.Equal(1, routes.Failures(RouteOperation.Add));
    }

    [Fact]
    public void RemovingARouteItNeverAddedAsksTheKernelNothing()
    {
        using var routes = new RouteManager("ipsec0");
        RouteResult r = routes.Remove("10.1.0.0/16");
        Assert.False(r.Ok);
        Assert.Contains("not added", r.Error);
        Assert.False(routes.Include(IPAddress.Parse("192.0.2.1")).Ok);
        Assert.Equal(0, routes.Failures(RouteOperation.Remove));
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(253u)]
    [InlineData(254u)]
    [InlineData(255u)]
    public void The_kernels_own_tables_are_refused(uint table) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new RouteManager("ipsec0", table));

    [Fact]
    public void No_data_plane_code_forks_a_process()
    {
        // A forked ip(8) has no capabilities in the pod and is not in the image: routes go through rtnetlink.
        var root = Path.Combine(Concentrator.Tests.Telemetry.Tools.RepoRoot, "Concentrator", "DataPlane");
        var offenders = Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
            .Where(f => File.ReadAllText(f) is var text && (text.Contains("ProcessStartInfo") || text.Contains("Process.Start")))
            .ToList();
        Assert.Empty(offenders);
    }
}
