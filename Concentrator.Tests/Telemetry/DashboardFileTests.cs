using System.Text.Json;
using System.Text.RegularExpressions;
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
    public async Task Alert_rules_pass_their_promtool_unit_tests()
    {
        // concentrator-rules.test.yaml: an SA moving between pods raises no TunnelDown; a tunnel down on every pod of one
        // deployment does, with that deployment's namespace and job; pools of two deployments are not summed together.
        var promtool = Tools.Require("promtool", output);
        if (promtool is null) return;
        var (exit, text) = await Tools.RunAsync(promtool, ["test", "rules", Path.Combine(Dashboards, "alerts", "concentrator-rules.test.yaml")]);
        output.WriteLine(text);
        Assert.True(exit == 0, text);
        Assert.Contains("SUCCESS", text);
    }

    [Fact]
    public void Every_alert_keeps_namespace_and_job_and_links_a_runbook_section_of_the_readme()
    {
        var anchors = ReadmeAnchors(File.ReadAllText(Path.Combine(Tools.RepoRoot, "README.md")));
        var yaml = Load(Rules);
        var rules = ((YamlSequenceNode)yaml["groups"]).Cast<YamlMappingNode>().SelectMany(g => ((YamlSequenceNode)g["rules"]).Cast<YamlMappingNode>()).ToList();
        Assert.True(rules.Count >= 7);
        foreach (var rule in rules)
        {
            var alert = rule["alert"].ToString();
            var annotations = (YamlMappingNode)rule["annotations"];
            var url = annotations["runbook_url"].ToString();
            Assert.Equal($"README.md#runbook-{alert.ToLowerInvariant()}", url);
            Assert.True(anchors.Contains(url["README.md#".Length..]), $"{alert}: README.md has no heading with anchor {url}");
            var expr = rule["expr"].ToString();
            var groupings = Regex.Matches(expr, @"\b(by|without)\s*\(([^)]*)\)").ToList();
            Assert.NotEmpty(groupings);
            foreach (Match g in groupings)
            {
                Assert.Equal("by", g.Groups[1].Value);
                var labels = g.Groups[2].Value.Split(',', StringSplitOptions.TrimEntries);
                Assert.True(labels.Contains("namespace") && labels.Contains("job"), $"{alert}: '{g.Value}' drops namespace or job");
            }
        }
        // One runbook subsection per alert, none for an alert that does not exist.
        var runbooks = anchors.Where(a => a.StartsWith("runbook-", StringComparison.Ordinal)).ToHashSet();
        Assert.Equal(rules.Select(r => $"runbook-{r["alert"].ToString().ToLowerInvariant()}").Order(), runbooks.Order());
    }

    /// <summary>GitHub's heading anchors: lower case, punctuation other than '-' and '_' removed, spaces to '-'.</summary>
    internal static HashSet<string> ReadmeAnchors(string markdown)
    {
        var anchors = new HashSet<string>(StringComparer.Ordinal);
        bool fenced = false;
        foreach (var line in markdown.Split('\n'))
        {
            if (line.StartsWith("```", StringComparison.Ordinal)) fenced = !fenced;
            if (fenced || !line.StartsWith('#')) continue;
            var text = line.TrimStart('#').Trim().ToLowerInvariant();
            anchors.Add(Regex.Replace(Regex.Replace(text, @"[^\p{L}\p{Nd}\s_-]", ""), @"\s", "-"));
        }
        return anchors;
    }

    [Fact]
    public void Every_panel_query_selects_the_namespace_job_and_connection_variables()
    {
        string[] connectionFamilies = ["concentrator_tunnel_up", "concentrator_child_sas"];
        foreach (var file in Directory.GetFiles(Dashboards, "*.json"))
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(file));
            var variables = doc.RootElement.GetProperty("templating").GetProperty("list").EnumerateArray()
                .ToDictionary(v => v.GetProperty("name").GetString()!, v => v.Clone());
            var queries = DashboardTests.PanelQueries(file).ToList();
            bool hasConnectionFamily = queries.Any(q => connectionFamilies.Any(f => q.Expr.Contains(f + "{", StringComparison.Ordinal)));
            foreach (var name in new[] { "namespace", "job" }.Concat(hasConnectionFamily ? ["connection"] : []))
            {
                Assert.True(variables.TryGetValue(name, out var v), $"{Path.GetFileName(file)} has no ${name} variable");
                Assert.Equal("query", v.GetProperty("type").GetString());
                Assert.Contains($"{name})", v.GetProperty("query").GetProperty("query").GetString());
                Assert.True(v.GetProperty("includeAll").GetBoolean() && v.GetProperty("allValue").GetString() == ".*" && v.GetProperty("multi").GetBoolean());
            }
            Assert.True(hasConnectionFamily || !variables.ContainsKey("connection"), $"{Path.GetFileName(file)}: $connection selects nothing");
            foreach (var (title, expr) in queries)
            {
                foreach (Match selector in Regex.Matches(expr, @"(\w+)\{([^}]*)\}"))
                {
                    var where = $"{Path.GetFileName(file)} / {title}: {selector.Value}";
                    Assert.True(selector.Groups[2].Value.Contains("namespace=~\"$namespace\"", StringComparison.Ordinal), where);
                    Assert.True(selector.Groups[2].Value.Contains("job=~\"$job\"", StringComparison.Ordinal), where);
                    if (connectionFamilies.Contains(selector.Groups[1].Value))
                    {
                        Assert.True(selector.Groups[2].Value.Contains("connection=~\"$connection\"", StringComparison.Ordinal), where);
                    }
                }
                // Every metric in the query is read through a selector (no bare family escapes the variables).
                var bare = Regex.Matches(expr, @"\b(concentrator_\w+|process_\w+|dotnet_\w+)\b(?!\{)").Select(m => m.Value).ToList();
                Assert.True(bare.Count == 0, $"{Path.GetFileName(file)} / {title}: {string.Join(", ", bare)} without the variables");
            }
            // A site tunnel is up on the node that holds it only: tunnel_up is read as the deployment-wide maximum.
            foreach (var (title, expr) in queries.Where(q => q.Expr.Contains("concentrator_tunnel_up", StringComparison.Ordinal)))
            {
                Assert.True(expr.Contains("max by (namespace, job, connection, child) (concentrator_tunnel_up{", StringComparison.Ordinal), $"{title}: {expr}");
            }
        }
    }

    [Fact]
    public void Stat_panels_have_ascending_thresholds_that_colour_them()
    {
        int stats = 0;
        foreach (var file in Directory.GetFiles(Dashboards, "*.json"))
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(file));
            foreach (var panel in doc.RootElement.GetProperty("panels").EnumerateArray().Where(p => p.GetProperty("type").GetString() == "stat"))
            {
                stats++;
                var title = panel.GetProperty("title").GetString();
                var defaults = panel.GetProperty("fieldConfig").GetProperty("defaults");
                Assert.Equal("absolute", defaults.GetProperty("thresholds").GetProperty("mode").GetString());
                var steps = defaults.GetProperty("thresholds").GetProperty("steps").EnumerateArray().ToList();
                Assert.True(steps.Count >= 2, $"{title}: a threshold beyond the base");
                Assert.Equal(JsonValueKind.Null, steps[0].GetProperty("value").ValueKind);
                var values = steps.Skip(1).Select(s => s.GetProperty("value").GetDouble()).ToList();
                Assert.Equal(values.Order(), values);
                Assert.Equal(values.Count, values.Distinct().Count());
                Assert.Equal("thresholds", defaults.GetProperty("color").GetProperty("mode").GetString());
                Assert.NotEqual("none", panel.GetProperty("options").GetProperty("colorMode").GetString());
            }
        }
        Assert.True(stats >= 6, $"expected the overview's stat panels, found {stats}");
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
