using Concentrator.Cluster.Membership;
using Concentrator.Config;
using Concentrator.Testbed.Support;

namespace Concentrator.Tests.Cluster.Membership;

public sealed class ClusterConfigTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("conc-cluster-config-").FullName;
    private readonly Lazy<ClusterCertificates> _ca;

    public ClusterConfigTests() => _ca = new(() => new ClusterCertificates(_dir));

    public void Dispose()
    {
        if (_ca.IsValueCreated) _ca.Value.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>A complete <c>tls:</c> value with real files (the loader checks that they exist).</summary>
    private string Tls(string remoteId = "*.cluster.test") => _ca.Value.TlsYaml(_ca.Value.Node("n1.cluster.test"), remoteId);

    [Fact]
    public void Defaults_are_a_one_node_cluster_on_loopback_with_keep_majority_and_plain_tcp()
    {
        var c = ConcentratorConfig.Parse("connections: {}", "t.yaml").Cluster;
        Assert.Equal("127.0.0.1", c.Hostname);
        Assert.Equal(4053, c.Port);
        Assert.Empty(c.SeedNodes);
        Assert.Equal("none", c.Discovery);
        Assert.Equal(8558, c.ManagementPort);
        Assert.Equal("app.kubernetes.io/name=concentrator", c.PodLabelSelector);
        Assert.Equal(2, c.RequiredContactPoints);
        Assert.Equal("keep-majority", c.SplitBrainResolver);
        Assert.False(c.TlsEnabled);

        var hocon = ClusterSettings.Hocon(c);
        Assert.Contains("akka.actor.provider = cluster", hocon);
        Assert.Contains("akka.remote.dot-netty.tcp.port = 4053", hocon);
        Assert.Contains($"downing-provider-class = \"{ClusterSettings.SbrProvider}\"", hocon);
        Assert.Contains("active-strategy = keep-majority", hocon);
        Assert.Contains("enable-ssl = off", hocon);
        Assert.DoesNotContain("kubernetes-api", hocon);
    }

    [Fact]
    public void Every_key_of_the_section_is_read_as_the_helm_chart_renders_it()
    {
        var c = ConcentratorConfig.Parse($$"""
            cluster:
              hostname: 10.1.2.3
              port: 0
              seed_nodes: [akka.tcp://concentrator@10.1.2.3:4053, "akka.tcp://concentrator@node-b.svc:4053"]
              management_port: 9558
              kubernetes: { pod_label_selector: "app=x,tier=vpn", required_contact_points: 3 }
              split_brain_resolver: static-quorum
              tls: {{Tls("*.vpn-cluster.vpn.svc.cluster.local")}}
            """, "t.yaml").Cluster;
        Assert.True(c.TlsEnabled);
        Assert.Equal([_ca.Value.CaFile], c.TlsCaCerts);
        Assert.Equal("*.vpn-cluster.vpn.svc.cluster.local", c.TlsRemoteId);
        Assert.Contains("akka.remote.dot-netty.tcp.hostname = \"10.1.2.3\"", ClusterSettings.Hocon(c));
        Assert.Contains("enable-ssl = on", ClusterSettings.Hocon(c));
        Assert.Equal("10.1.2.3", c.Hostname);
        Assert.Equal(0, c.Port);
        Assert.Equal(["akka.tcp://concentrator@10.1.2.3:4053", "akka.tcp://concentrator@node-b.svc:4053"], c.SeedNodes);
        Assert.Equal(9558, c.ManagementPort);
        Assert.Equal("app=x,tier=vpn", c.PodLabelSelector);
        Assert.Equal(3, c.RequiredContactPoints);
        Assert.Equal("static-quorum", c.SplitBrainResolver);
        Assert.Equal(2, c.QuorumSize); // a majority of the two seeds
        Assert.Contains("static-quorum.quorum-size = 2", ClusterSettings.Hocon(c));
        Assert.Equal("t.yaml", c.Source);
    }

    [Fact]
    public void Kubernetes_discovery_configures_bootstrap_and_the_pod_selector()
    {
        var c = ConcentratorConfig.Parse("""
            cluster: { discovery: kubernetes, management_port: 8600, kubernetes: { pod_label_selector: "app=vpn", required_contact_points: 3 } }
            """, "t.yaml").Cluster;
        var hocon = ClusterSettings.Hocon(c);
        Assert.Contains("akka.discovery.method = kubernetes-api", hocon);
        Assert.Contains("pod-label-selector = \"app=vpn\"", hocon);
        Assert.Contains("akka.management.http.port = 8600", hocon);
        Assert.Contains("required-contact-point-nr = 3", hocon);
        Assert.Contains("port-name = \"management\"", hocon);
        Assert.Equal(2, c.QuorumSize);
    }

    [Fact]
    public void Split_brain_resolver_off_disables_automatic_downing()
    {
        var c = ConcentratorConfig.Parse("cluster: { split_brain_resolver: off }", "t.yaml").Cluster;
        var hocon = ClusterSettings.Hocon(c);
        Assert.Contains("downing-provider-class = \"\"", hocon);
        Assert.DoesNotContain("active-strategy", hocon);
    }

    [Fact]
    public void Hostname_environment_variable_overrides_the_file()
    {
        var c = ConcentratorConfig.Parse($"cluster: {{ hostname: 127.0.0.1, port: 4100, discovery: kubernetes, tls: {Tls()} }}", "t.yaml").Cluster;
        var env = c.WithEnvironment(name => name == ClusterConfig.HostnameEnvironmentVariable ? "10.244.1.7" : null);
        Assert.Equal("10.244.1.7", env.Hostname);
        Assert.Equal(4100, env.Port);
        Assert.Same(c, c.WithEnvironment(_ => null));
        var ex = Assert.Throws<ConfigException>(() => c.WithEnvironment(_ => "not a host!"));
        Assert.Contains(ClusterConfig.HostnameEnvironmentVariable, ex.Message);
        Assert.Contains("cluster.hostname", ex.Message);
    }

    [Theory]
    [InlineData("cluster: { hostname: 10.1.2.3, seed_nodes: [akka.tcp://concentrator@10.1.2.4:4053] }")]
    [InlineData("cluster: { hostname: node-a.example.net, seed_nodes: [akka.tcp://concentrator@node-b.example.net:4053] }")]
    [InlineData("cluster: { hostname: 10.1.2.3, discovery: kubernetes }")]
    public void Remoting_beyond_loopback_needs_mutual_tls(string yaml)
    {
        // SA keys cross remoting, and remoting carries commands (release an SA, adopt one): off this host only over TLS.
        var ex = Assert.Throws<ConfigException>(() => ConcentratorConfig.Parse(yaml, "t.yaml"));
        Assert.Contains("cluster.tls", ex.Message);
        Assert.Contains("mutual TLS", ex.Message);

        // Nodes that all run on one host (tests, a lab) may talk over loopback without it.
        var local = ConcentratorConfig.Parse("cluster: { hostname: 127.0.0.1, seed_nodes: [akka.tcp://concentrator@127.0.0.1:4053] }", "t.yaml").Cluster;
        Assert.False(local.TlsEnabled);

        // The pod IP arrives through the environment: checked there the same way.
        var k8s = ConcentratorConfig.Parse("cluster: { discovery: kubernetes }", "t.yaml").Cluster;
        ex = Assert.Throws<ConfigException>(() => k8s.WithEnvironment(name => name == ClusterConfig.HostnameEnvironmentVariable ? "10.244.1.7" : null));
        Assert.Contains(ClusterConfig.HostnameEnvironmentVariable, ex.Message);
        Assert.Contains("mutual TLS", ex.Message);
    }

    [Fact]
    public void A_one_node_cluster_binds_remoting_to_loopback()
    {
        // Nobody can join a node that names no seeds and no discovery: its remoting port serves no one off this host.
        var ex = Assert.Throws<ConfigException>(() => ConcentratorConfig.Parse("cluster: { hostname: 10.1.2.3 }", "t.yaml"));
        Assert.Contains("cluster.hostname", ex.Message);
        Assert.Contains("loopback", ex.Message);
        var lone = ConcentratorConfig.Parse("cluster: { port: 4100 }", "t.yaml").Cluster;
        ex = Assert.Throws<ConfigException>(() => lone.WithEnvironment(name => name == ClusterConfig.HostnameEnvironmentVariable ? "10.244.1.7" : null));
        Assert.Contains(ClusterConfig.HostnameEnvironmentVariable, ex.Message);
        Assert.Contains("loopback", ex.Message);

        // Whatever a caller puts into the record, the HOCON of a lone node binds and advertises loopback only.
        var hocon = ClusterSettings.Hocon(new ClusterConfig { Hostname = "192.0.2.10", Port = 4100 });
        Assert.Contains("akka.remote.dot-netty.tcp.hostname = \"127.0.0.1\"", hocon);
        Assert.Contains("akka.remote.dot-netty.tcp.public-hostname = \"127.0.0.1\"", hocon);
        Assert.DoesNotContain("192.0.2.10", hocon);
        Assert.Contains("akka.remote.dot-netty.tcp.hostname = \"::1\"", ClusterSettings.Hocon(new ClusterConfig { Hostname = "::1" }));
    }

    [Theory]
    [InlineData("cluster: { port: 70000 }", "cluster.port", "out of range")]
    [InlineData("cluster: { hostname: 'bad host' }", "cluster.hostname", "not an IP address or DNS name")]
    [InlineData("cluster: { seed_nodes: [http://a:4053] }", "cluster.seed_nodes[0]", "not a seed node address")]
    [InlineData("cluster: { seed_nodes: [akka.tcp://other@a:4053] }", "cluster.seed_nodes[0]", "names actor system 'other'")]
    [InlineData("cluster: { seed_nodes: [akka.tcp://concentrator@a] }", "cluster.seed_nodes[0]", "needs a host and a port")]
    [InlineData("cluster: { discovery: consul }", "cluster.discovery", "not one of none, kubernetes")]
    [InlineData("cluster: { discovery: kubernetes, seed_nodes: [akka.tcp://concentrator@a:4053] }", "cluster.seed_nodes", "exclude each other")]
    [InlineData("cluster: { split_brain_resolver: keep-referee }", "cluster.split_brain_resolver", "not one of")]
    [InlineData("cluster: { kubernetes: { required_contact_points: 0 } }", "cluster.kubernetes.required_contact_points", "out of range")]
    [InlineData("cluster: { kubernetes: { namespace: x } }", "cluster.kubernetes.namespace", "unknown key")]
    [InlineData("cluster: { tls: { certificate: /nonexistent/node.p12 } }", "cluster.tls.certificate", "not found")]
    [InlineData("cluster: { management_port: 0 }", "cluster.management_port", "out of range")]
    [InlineData("cluster: { roles: [a] }", "cluster.roles", "unknown key")]
    public void Bad_cluster_values_name_file_key_and_problem(string yaml, string key, string problem)
    {
        var ex = Assert.Throws<ConfigException>(() => ConcentratorConfig.Parse(yaml, "t.yaml"));
        Assert.Equal("t.yaml", ex.File);
        Assert.Contains(key, ex.Message);
        Assert.Contains(problem, ex.Message);
    }

    [Fact]
    public void Password_file_without_certificate_is_an_error()
    {
        var password = Path.GetTempFileName();
        try
        {
            var ex = Assert.Throws<ConfigException>(() =>
                ConcentratorConfig.Parse($"cluster: {{ tls: {{ password_file: {password} }} }}", "t.yaml"));
            Assert.Contains("cluster.tls.password_file", ex.Message);
            Assert.Contains("tls.certificate is empty", ex.Message);
        }
        finally
        {
            File.Delete(password);
        }
    }

    [Fact]
    public void Example_config_cluster_section_is_the_default_one_node_cluster()
    {
        var c = ConcentratorConfig.Parse(Concentrator.Tests.Config.ConfigTestText.Example, "example.yaml").Cluster;
        Assert.Equal("127.0.0.1", c.Hostname);
        Assert.Equal(4053, c.Port);
        Assert.Empty(c.SeedNodes);
        Assert.Equal("keep-majority", c.SplitBrainResolver);
        Assert.False(c.TlsEnabled);
    }
}
