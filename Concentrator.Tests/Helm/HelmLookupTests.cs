using System.Text;
using System.Text.Json.Nodes;
using Concentrator.Tests.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;
using YamlDotNet.RepresentationModel;

namespace Concentrator.Tests.Helm;

/// <summary>
/// The chart's generated PSK (secrets.psk empty) is stable across renders (issue 14, finding 12): Helm's lookup
/// reads the live Secret and the chart reuses its key, so a helm upgrade or a GitOps sync that renders with cluster
/// access (Flux's helm-controller, helm template --dry-run=server) does not rotate it. The cluster is a fake
/// Kubernetes API on loopback serving discovery and that one Secret, as Helm created it.
/// </summary>
public sealed class HelmLookupTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Release = "gw";
    private const string Namespace = "vpn";
    private const string SecretName = "gw-concentrator-secrets";
    private const string LiveKey = "kLiveKeyOfTheRunningReleaseThatMustNotRotate0123";

    private static readonly string Chart = Path.Combine(Tools.RepoRoot, "helm", "concentrator");
    private readonly string _dir = Directory.CreateTempSubdirectory("concentrator-lookup-").FullName;
    private WebApplication? _api;
    private bool _secretExists;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _api = builder.Build();
        _api.MapGet("/version", () => Results.Json(new { major = "1", minor = "33", gitVersion = "v1.33.0" }));
        _api.MapGet("/api", () => Results.Json(new { kind = "APIVersions", versions = new[] { "v1" } }));
        _api.MapGet("/apis", () => Results.Json(new
        {
            kind = "APIGroupList",
            apiVersion = "v1",
            groups = Groups.Keys.Select(g => new { name = g, versions = new[] { new { groupVersion = g + "/v1", version = "v1" } },
                preferredVersion = new { groupVersion = g + "/v1", version = "v1" } }),
        }));
        _api.MapGet("/api/v1", () => ResourceList("v1", Core));
        _api.MapGet("/apis/{group}/v1", (string group) => Groups.TryGetValue(group, out var r) ? ResourceList(group + "/v1", r) : NotFound());
        _api.MapGet($"/api/v1/namespaces/{Namespace}/secrets/{SecretName}", () => _secretExists ? Results.Json(LiveSecret()) : NotFound());
        // Every other object of the release does not exist yet.
        _api.MapFallback(() => NotFound());
        await _api.StartAsync();
        var server = _api.Urls.Single();
        File.WriteAllText(Path.Combine(_dir, "kubeconfig"), $$"""
            apiVersion: v1
            kind: Config
            clusters: [{ name: fake, cluster: { server: "{{server}}" } }]
            users: [{ name: test, user: { token: not-a-real-token } }]
            contexts: [{ name: fake, context: { cluster: fake, user: test, namespace: {{Namespace}} } }]
            current-context: fake
            """);
    }

    public async Task DisposeAsync()
    {
        if (_api is not null) await _api.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task A_generated_psk_is_read_back_from_the_live_secret_on_every_render()
    {
        var helm = await HelmChartTests.RequireToolsAsync(output) is { } tools ? Path.Combine(tools, "bin", "helm") : null;
        if (helm is null) return;

        _secretExists = true;
        var first = await GeneratedPskAsync(helm);
        var second = await GeneratedPskAsync(helm);
        Assert.Equal(LiveKey, first.Psk);
        Assert.Equal(LiveKey, second.Psk);
        Assert.Contains($"secret: {LiveKey}", first.PskYaml);
        Assert.Equal(first.PodChecksum, second.PodChecksum); // the pods are not rolled either

        // A first install finds no Secret and generates a key (a new one per render until the Secret exists).
        _secretExists = false;
        var fresh = await GeneratedPskAsync(helm);
        Assert.Equal(48, fresh.Psk.Length);
        Assert.NotEqual(LiveKey, fresh.Psk);
    }

    private async Task<(string Psk, string PskYaml, string PodChecksum)> GeneratedPskAsync(string helm)
    {
        var (exit, text) = await Tools.RunAsync(helm,
        [
            "template", Release, Chart, "--namespace", Namespace, "--kubeconfig", Path.Combine(_dir, "kubeconfig"),
            "--dry-run=server", "--disable-openapi-validation",
        ], timeoutSeconds: 120);
        Assert.True(exit == 0, text);
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        var objects = stream.Documents.Select(d => d.RootNode).OfType<YamlMappingNode>().ToList();
        var secret = objects.Single(o => Scalar(o, "kind") == "Secret");
        var data = (YamlMappingNode)secret["data"];
        var statefulSet = objects.Single(o => Scalar(o, "kind") == "StatefulSet");
        var annotations = (YamlMappingNode)((YamlMappingNode)((YamlMappingNode)((YamlMappingNode)statefulSet["spec"])["template"])["metadata"])["annotations"];
        return (Decode(Scalar(data, "generated-psk")), Decode(Scalar(data, "psk.yaml")), Scalar(annotations, "checksum/secrets"));
    }

    private static string Scalar(YamlMappingNode m, string key) => ((YamlScalarNode)m[key]).Value ?? "";

    private static string Decode(string base64) => Encoding.UTF8.GetString(Convert.FromBase64String(base64));

    private static JsonObject LiveSecret() => new()
    {
        ["apiVersion"] = "v1",
        ["kind"] = "Secret",
        ["type"] = "Opaque",
        ["metadata"] = new JsonObject
        {
            ["name"] = SecretName,
            ["namespace"] = Namespace,
            // Created by this release: Helm adopts it only with its ownership metadata.
            ["labels"] = new JsonObject { ["app.kubernetes.io/managed-by"] = "Helm" },
            ["annotations"] = new JsonObject { ["meta.helm.sh/release-name"] = Release, ["meta.helm.sh/release-namespace"] = Namespace },
        },
        ["data"] = new JsonObject
        {
            ["generated-psk"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(LiveKey)),
            ["psk.yaml"] = Convert.ToBase64String(Encoding.UTF8.GetBytes($"secrets:\n  ike-default:\n    secret: {LiveKey}\n")),
        },
    };

    private static readonly (string Name, string Kind, bool Namespaced)[] Core =
    [
        ("secrets", "Secret", true), ("configmaps", "ConfigMap", true), ("services", "Service", true),
        ("serviceaccounts", "ServiceAccount", true), ("pods", "Pod", true), ("namespaces", "Namespace", false),
    ];

    private static readonly Dictionary<string, (string Name, string Kind, bool Namespaced)[]> Groups = new()
    {
        ["apps"] = [("statefulsets", "StatefulSet", true)],
        ["policy"] = [("poddisruptionbudgets", "PodDisruptionBudget", true)],
        ["rbac.authorization.k8s.io"] = [("roles", "Role", true), ("rolebindings", "RoleBinding", true)],
        ["networking.k8s.io"] = [("networkpolicies", "NetworkPolicy", true)],
    };

    private static IResult ResourceList(string groupVersion, (string Name, string Kind, bool Namespaced)[] resources) => Results.Json(new
    {
        kind = "APIResourceList",
        groupVersion,
        resources = resources.Select(r => new { name = r.Name, singularName = r.Name.TrimEnd('s'), namespaced = r.Namespaced, kind = r.Kind,
            verbs = new[] { "get", "list", "create" } }),
    });

    private static IResult NotFound() =>
        Results.Json(new { kind = "Status", apiVersion = "v1", status = "Failure", reason = "NotFound", code = 404 }, statusCode: 404);
}
