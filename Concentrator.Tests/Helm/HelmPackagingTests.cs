using Concentrator.Tests.Telemetry;
using Xunit.Abstractions;
using YamlDotNet.RepresentationModel;
using static Concentrator.Tests.Helm.HelmChartTests;

namespace Concentrator.Tests.Helm;

/// <summary>
/// What a new user meets after `helm install`: the `helm test` hook that checks every pod's /readyz with the
/// release's own image, the Pod Security level the pod needs (documented where the user looks: chart README,
/// values, NOTES), and alert runbook links made absolute by prometheusRule.runbookBaseUrl.
/// </summary>
public sealed class HelmPackagingTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(ValuesSet.Default, "gw", 1)]
    [InlineData(ValuesSet.Production, "vpn", 3)]
    public async Task The_test_hook_probes_every_pods_readyz_with_the_release_image(ValuesSet set, string release, int replicas)
    {
        var objects = await RenderAsync(output, set);
        if (objects is null) return;
        var name = $"{release}-concentrator";
        var pod = Assert.Single(objects, o => Str(o, "kind") == "Pod");
        var metadata = Map(pod, "metadata");
        Assert.Equal($"{name}-test-readyz", Str(metadata, "name"));
        Assert.Equal("test", Str(Map(metadata, "annotations"), "helm.sh/hook"));
        var spec = Map(pod, "spec");
        Assert.Equal("Never", Str(spec, "restartPolicy"));

        var sts = Assert.Single(objects, o => Str(o, "kind") == "StatefulSet");
        var stsContainer = (YamlMappingNode)Seq(Map(Map(Map(sts, "spec"), "template"), "spec"), "containers").Single();
        var containers = Seq(spec, "containers").Cast<YamlMappingNode>().ToList();
        Assert.Equal(replicas, containers.Count);
        for (int i = 0; i < replicas; i++)
        {
            var c = containers[i];
            Assert.Equal(Str(stsContainer, "image"), Str(c, "image"));
            Assert.Equal(["probe", "--url", $"http://{name}-{i}.{name}-cluster.vpn.svc:9400/readyz", "--timeout", "10"],
                Seq(c, "args").Select(n => ((YamlScalarNode)n).Value));
            // Restricted level: nothing added, everything dropped, no escalation, non-root.
            var security = Map(c, "securityContext");
            Assert.Equal("false", Str(security, "allowPrivilegeEscalation"));
            Assert.Equal(["ALL"], Seq(Map(security, "capabilities"), "drop").Select(n => ((YamlScalarNode)n).Value));
            Assert.False(Map(security, "capabilities").Children.ContainsKey("add"));
        }
        Assert.Equal("true", Str(Map(spec, "securityContext"), "runAsNonRoot"));
        Assert.Equal("RuntimeDefault", Str(Map(Map(spec, "securityContext"), "seccompProfile"), "type"));
        Assert.False(spec.Children.ContainsKey("volumes"));

        // No Service, PDB or NetworkPolicy of the release selects the test pod.
        var podLabels = Map(metadata, "labels").Children.ToDictionary(kv => ((YamlScalarNode)kv.Key).Value!, kv => ((YamlScalarNode)kv.Value).Value!);
        var selectors = objects.Where(o => Str(o, "kind") is "Service" or "PodDisruptionBudget" or "NetworkPolicy").Select(o =>
            Str(o, "kind") == "Service" ? Map(Map(o, "spec"), "selector") : Map(Map(Map(o, "spec"), Str(o, "kind") == "NetworkPolicy" ? "podSelector" : "selector"), "matchLabels"));
        Assert.All(selectors, selector => Assert.False(selector.Children.All(kv => podLabels.GetValueOrDefault(((YamlScalarNode)kv.Key).Value!) == ((YamlScalarNode)kv.Value).Value),
            "a selector of the release matches the test pod"));
    }

    [Fact]
    public async Task The_probe_port_follows_ports_http()
    {
        var objects = await RenderAsync(output, ValuesSet.Default, "--set", "ports.http=9500");
        if (objects is null) return;
        var pod = Assert.Single(objects, o => Str(o, "kind") == "Pod");
        var c = (YamlMappingNode)Seq(Map(pod, "spec"), "containers").Single();
        Assert.Contains("http://gw-concentrator-0.gw-concentrator-cluster.vpn.svc:9500/readyz", Seq(c, "args").Select(n => ((YamlScalarNode)n).Value));
    }

    [Fact]
    public void The_pod_security_level_and_the_reason_for_each_privilege_are_documented()
    {
        const string Label = "pod-security.kubernetes.io/enforce=privileged";
        var readme = File.ReadAllText(Path.Combine(Chart, "README.md"));
        var values = File.ReadAllText(Path.Combine(Chart, "values.yaml"));
        var notes = File.ReadAllText(Path.Combine(Chart, "templates", "NOTES.txt"));
        var top = File.ReadAllText(Path.Combine(Tools.RepoRoot, "README.md"));
        foreach (var (where, text) in new[] { ("chart README", readme), ("values.yaml", values), ("NOTES.txt", notes), ("README.md", top) })
        {
            Assert.True(text.Contains(Label, StringComparison.Ordinal), $"{where} does not name the namespace label {Label}");
        }
        // Each privilege the pod holds, with what it is for.
        var section = readme[readme.IndexOf("**Pod Security Standards", StringComparison.Ordinal)..];
        section = section[..section.IndexOf("\n- **", 3, StringComparison.Ordinal)];
        foreach (var reason in new[] { "`NET_ADMIN`", "TUN device", "routes", "`hostPath`", "`/dev/net/tun`", "`NET_RAW`", "ESP", "plain_esp", "ip_unprivileged_port_start", "baseline" })
        {
            Assert.Contains(reason, section);
        }
    }

    [Fact]
    public async Task Runbook_links_become_absolute_under_runbookBaseUrl()
    {
        const string Base = "https://git.example.com/net/concentrator/blob/v0.1.0/";
        var objects = await RenderAsync(output, ValuesSet.Production, "--set", $"prometheusRule.runbookBaseUrl={Base}");
        if (objects is null) return;
        var rule = Assert.Single(objects, o => Str(o, "kind") == "PrometheusRule");
        var rules = Seq(Map(rule, "spec"), "groups").Cast<YamlMappingNode>().SelectMany(g => Seq(g, "rules").Cast<YamlMappingNode>()).ToList();
        var alerts = DashboardTests.AlertRules(Path.Combine(Tools.RepoRoot, "dashboards", "alerts", "concentrator-rules.yaml")).Select(a => a.Alert).ToList();
        Assert.Equal(alerts, rules.Select(r => Str(r, "alert")));
        Assert.All(rules, r => Assert.Equal($"{Base}README.md#runbook-{Str(r, "alert").ToLowerInvariant()}", Str(Map(r, "annotations"), "runbook_url")));
    }

    private static YamlMappingNode Map(YamlMappingNode m, string key) => Assert.IsType<YamlMappingNode>(m[key]);

    private static YamlSequenceNode Seq(YamlMappingNode m, string key) => Assert.IsType<YamlSequenceNode>(m[key]);

    private static string Str(YamlMappingNode m, string key) => Assert.IsType<YamlScalarNode>(m[key]).Value ?? "";
}
