using System.Text.Json;
using Xunit.Abstractions;
using YamlDotNet.RepresentationModel;

namespace Concentrator.Tests.Telemetry;

/// <summary>The dashboards, provisioning files and alert rules as files: valid, importable, consistent.</summary>
public sealed class DashboardFileTests(ITestOutputHelper output)
{
    private static string Dashboards => Path.Combine(Tools.RepoRoot, "dashboards");
    private static string Rules => Path.Combine(Dashboards, "alerts", "concentrator-rules.yaml");

    [Fact]
    public async Task Alert_rules_pass_promtool_check_rules()
    {
        var promtool = Tools.Require("promtool", output);
        if (promtool is null) return;
        var (exit, text) = await Tools.RunAsync(promtool, ["check", "rules", Rules]);
        output.WriteLine(text);
        Assert.True(exit == 0, text);
        Assert.Contains("SUCCESS", text);
    }

    [Fact]
    public void The_PrometheusRule_manifest_carries_exactly_the_rules_file_groups()
    {
        var plain = Load(Rules);
        var manifest = Load(Path.Combine(Dashboards, "alerts", "concentrator-prometheusrule.yaml"));
        Assert.Equal("monitoring.coreos.com/v1", manifest["apiVersion"].ToString());
        Assert.Equal("PrometheusRule", manifest["kind"].ToString());
        var spec = (YamlMappingNode)manifest["spec"];
        Assert.Equal(Canonical(plain["groups"]), Canonical(spec["groups"]));
        var alerts = DashboardTests.AlertRules(Rules).Select(r => r.Alert).ToList();
        foreach (var wanted in new[] { "ConcentratorTunnelDown", "ConcentratorNegotiationFailureRatio", "ConcentratorEspReplayDrops", "ConcentratorVirtualIpPoolNearlyFull", "ConcentratorNodeNotReady" })
        {
            Assert.Contains(wanted, alerts);
        }
    }

    [Fact]
    public void Dashboards_are_importable_with_a_datasource_variable()
    {
        var files = Directory.GetFiles(Dashboards, "*.json");
        Assert.Equal(3, files.Length);
        foreach (var file in files)
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(file));
            var root = doc.RootElement;
            Assert.False(string.IsNullOrEmpty(root.GetProperty("uid").GetString()), file);
            Assert.False(string.IsNullOrEmpty(root.GetProperty("title").GetString()), file);
            Assert.False(root.TryGetProperty("id", out var id) && id.ValueKind != JsonValueKind.Null, $"{file}: an exported id breaks import");
            var variables = root.GetProperty("templating").GetProperty("list").EnumerateArray().ToList();
            Assert.Contains(variables, v => v.GetProperty("name").GetString() == "datasource" && v.GetProperty("type").GetString() == "datasource" &&
                                             v.GetProperty("query").GetString() == "prometheus");
            foreach (var panel in root.GetProperty("panels").EnumerateArray().Where(p => p.GetProperty("type").GetString() != "row"))
            {
                Assert.Equal("${datasource}", panel.GetProperty("datasource").GetProperty("uid").GetString());
                Assert.NotEmpty(panel.GetProperty("targets").EnumerateArray());
            }
        }
    }

    [Fact]
    public void Provisioning_files_point_grafana_at_the_dashboards_and_prometheus()
    {
        var providers = Load(Path.Combine(Dashboards, "provisioning", "dashboards.yaml"));
        Assert.Equal("1", providers["apiVersion"].ToString());
        var provider = (YamlMappingNode)((YamlSequenceNode)providers["providers"])[0];
        Assert.Equal("file", provider["type"].ToString());
        Assert.False(string.IsNullOrEmpty(((YamlMappingNode)provider["options"])["path"].ToString()));

        var sources = Load(Path.Combine(Dashboards, "provisioning", "datasources.yaml"));
        var source = (YamlMappingNode)((YamlSequenceNode)sources["datasources"])[0];
        Assert.Equal("prometheus", source["type"].ToString());
    }

    private static YamlMappingNode Load(string path)
    {
        var yaml = new YamlStream();
        using var reader = new StringReader(File.ReadAllText(path));
        yaml.Load(reader);
        return (YamlMappingNode)yaml.Documents[0].RootNode;
    }

    internal static string Canonical(YamlNode node) => node switch
    {
        YamlMappingNode m => "{" + string.Join(",", m.Children.Select(kv => Canonical(kv.Key) + ":" + Canonical(kv.Value)).Order()) + "}",
        YamlSequenceNode s => "[" + string.Join(",", s.Children.Select(Canonical)) + "]",
        YamlScalarNode v => JsonSerializer.Serialize(v.Value),
        _ => "?",
    };
}
