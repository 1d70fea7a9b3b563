using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Concentrator.Testbed.Support;
using Xunit.Abstractions;
using YamlDotNet.RepresentationModel;

namespace Concentrator.Tests.Telemetry;

/// <summary>
/// Every dashboard panel and alert rule evaluated by a real Prometheus (Debian's binary, own port,
/// own storage) scraping a running concentrator that serves simulated peers with traffic.
/// </summary>
public sealed class DashboardTests(ITestOutputHelper output)
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    [Fact]
    public async Task Every_panel_query_returns_data_and_every_alert_rule_parses_against_a_real_prometheus()
    {
        var prometheusBinary = Tools.Require("prometheus", output);
        if (prometheusBinary is null) return;

        await using var node = await ObservedNode.StartAsync(withSite: true, name: "dash");
        Assert.Equal(4, await node.EstablishAsync(4));
        node.PushEsp(50);

        var dir = Directory.CreateTempSubdirectory("concentrator-prom-");
        int port = FreePorts.Tcp();
        string rules = Path.Combine(Tools.RepoRoot, "dashboards", "alerts", "concentrator-rules.yaml");
        File.WriteAllText(Path.Combine(dir.FullName, "prometheus.yml"), $"""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            rule_files:
              - {rules}
            scrape_configs:
              - job_name: concentrator
                static_configs:
                  - targets: ["127.0.0.1:{node.HttpPort}"]
            """);
        var psi = new ProcessStartInfo(prometheusBinary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[]
                 {
                     $"--config.file={Path.Combine(dir.FullName, "prometheus.yml")}",
                     $"--storage.tsdb.path={Path.Combine(dir.FullName, "data")}",
                     $"--web.listen-address=127.0.0.1:{port}",
                     "--log.level=warn",
                 })
        {
            psi.ArgumentList.Add(a);
        }

        using var prometheus = Process.Start(psi)!;
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        prometheus.OutputDataReceived += (_, e) => { if (e.Data is not null) log.Enqueue(e.Data); };
        prometheus.ErrorDataReceived += (_, e) => { if (e.Data is not null) log.Enqueue(e.Data); };
        prometheus.BeginOutputReadLine();
        prometheus.BeginErrorReadLine();
        using var traffic = new CancellationTokenSource();
        Task? load = null;
        try
        {
            string api = $"http://127.0.0.1:{port}";
            await WaitAsync(async () => !prometheus.HasExited && await OkAsync(api + "/-/ready"), "Prometheus is ready", 30, log);

            // Traffic keeps flowing and peers keep arriving while Prometheus scrapes, so rates are real.
            load = Task.Run(async () =>
            {
                int round = 0;
                while (!traffic.IsCancellationRequested)
                {
                    node.PushEsp(20);
                    if (++round % 4 == 0) await node.EstablishAsync(1);
                    await Task.Delay(250);
                }
            });

            await WaitAsync(async () =>
            {
                var r = await QueryAsync(api, "count_over_time(concentrator_node_ready[1m])");
                return r.Result.GetArrayLength() > 0 && double.Parse(r.Result[0].GetProperty("value")[1].GetString()!) >= 3;
            }, "Prometheus scraped the node at least three times", 30, log);

            var failures = new List<string>();
            int panels = 0;
            foreach (var file in Directory.GetFiles(Path.Combine(Tools.RepoRoot, "dashboards"), "*.json"))
            {
                foreach (var (title, expr) in PanelQueries(file))
                {
                    panels++;
                    string query = Substitute(expr);
                    var r = await QueryAsync(api, query);
                    if (r.Error is not null) failures.Add($"{Path.GetFileName(file)} / {title}: {r.Error} in {query}");
                    else if (r.ResultType != "scalar" && r.Result.GetArrayLength() == 0) failures.Add($"{Path.GetFileName(file)} / {title}: no data for {query}");
                }
            }

            int alerts = 0;
            foreach (var (alert, expr) in AlertRules(rules))
            {
                alerts++;
                var r = await QueryAsync(api, expr);
                if (r.Error is not null) failures.Add($"alert {alert}: {r.Error}");
            }

            // Prometheus loaded the rule file itself and evaluates every rule without error.
            await WaitAsync(async () =>
            {
                using var doc = JsonDocument.Parse(await Http.GetStringAsync(api + "/api/v1/rules"));
                var loaded = doc.RootElement.GetProperty("data").GetProperty("groups").EnumerateArray()
                    .SelectMany(g => g.GetProperty("rules").EnumerateArray()).ToList();
                return loaded.Count == alerts && loaded.All(r => r.GetProperty("health").GetString() == "ok");
            }, "Prometheus evaluated every alert rule without error", 15, log);

            output.WriteLine($"{panels} panel queries and {alerts} alert rules evaluated");
            Assert.True(panels >= 30, $"expected the three dashboards' queries, found {panels}");
            Assert.True(failures.Count == 0, string.Join('\n', failures));
        }
        finally
        {
            traffic.Cancel();
            if (load is not null) await load;
            if (!prometheus.HasExited) prometheus.Kill(entireProcessTree: true);
            await prometheus.WaitForExitAsync();
            dir.Delete(recursive: true);
        }
    }

    /// <summary>Every target expression of every panel (rows included), with the panel title.</summary>
    internal static IEnumerable<(string Title, string Expr)> PanelQueries(string dashboardFile)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(dashboardFile));
        var list = new List<(string, string)>();
        void Walk(JsonElement panels)
        {
            foreach (var p in panels.EnumerateArray())
            {
                string title = p.TryGetProperty("title", out var t) ? t.GetString() ?? "" : "";
                if (p.TryGetProperty("targets", out var targets))
                {
                    foreach (var target in targets.EnumerateArray())
                    {
                        if (target.TryGetProperty("expr", out var e)) list.Add((title, e.GetString()!));
                    }
                }
                if (p.TryGetProperty("panels", out var nested)) Walk(nested);
            }
        }
        Walk(doc.RootElement.GetProperty("panels"));
        return list;
    }

    internal static IEnumerable<(string Alert, string Expr)> AlertRules(string rulesFile)
    {
        var yaml = new YamlStream();
        using (var reader = new StringReader(File.ReadAllText(rulesFile))) yaml.Load(reader);
        var root = (YamlMappingNode)yaml.Documents[0].RootNode;
        foreach (YamlMappingNode group in (YamlSequenceNode)root["groups"])
        {
            foreach (YamlMappingNode rule in (YamlSequenceNode)group["rules"])
            {
                yield return (rule["alert"].ToString(), rule["expr"].ToString());
            }
        }
    }

    /// <summary>Grafana's variables as a dashboard user with "All" selected would send them.</summary>
    internal static string Substitute(string expr) => Regex.Replace(expr, @"\$\{?(\w+)(?::\w+)?\}?", m => m.Groups[1].Value switch
    {
        "__rate_interval" => "30s",
        "__interval" => "5s",
        "__range" => "5m",
        "instance" or "namespace" or "job" or "connection" => ".*",
        var other => throw new InvalidOperationException($"dashboard variable ${other} has no test substitution"),
    });

    private sealed record QueryResult(string? Error, string ResultType, JsonElement Result);

    private static async Task<QueryResult> QueryAsync(string api, string query)
    {
        using var response = await Http.GetAsync($"{api}/api/v1/query?query={Uri.EscapeDataString(query)}");
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = doc.RootElement;
        if (root.GetProperty("status").GetString() != "success")
        {
            return new QueryResult(root.GetProperty("error").GetString(), "", default);
        }
        var data = root.GetProperty("data");
        return new QueryResult(null, data.GetProperty("resultType").GetString()!, data.GetProperty("result").Clone());
    }

    private static async Task<bool> OkAsync(string url)
    {
        try
        {
            using var r = await Http.GetAsync(url);
            return r.StatusCode == HttpStatusCode.OK;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    private static async Task WaitAsync(Func<Task<bool>> condition, string what, double seconds, IEnumerable<string> log)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed.TotalSeconds > seconds) Assert.Fail($"timed out after {seconds} s waiting until {what}; Prometheus said:\n{string.Join('\n', log)}");
            await Task.Delay(200);
        }
    }

}
