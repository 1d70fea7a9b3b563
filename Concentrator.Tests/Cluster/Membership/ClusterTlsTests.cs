using System.Net;
using System.Security.Cryptography.X509Certificates;
using Concentrator.Cluster.Membership;
using Concentrator.Config;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Support;
using Xunit.Abstractions;


namespace Concentrator.Tests.Cluster.Membership;

/// <summary>
/// Remoting TLS between cluster nodes: a peer is accepted only with a certificate issued by a CA of <c>tls.cacerts</c>
/// whose name matches <c>tls.remote_id</c> (strongSwan's remote.cacerts and remote.id); certificates in the node's own
/// PKCS#12 are never trust anchors.
/// </summary>
public sealed class ClusterTlsTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("conc-cluster-tls-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Yaml(int port, int seedPort, string tls) =>
        $"cluster: {{ port: {port}, seed_nodes: [{ClusterTestNode.Seed(seedPort)}], tls: {tls} }}";

    private static ClusterConfig Parse(string tls) =>
        ConcentratorConfig.Parse($"cluster: {{ port: 0, seed_nodes: [{ClusterTestNode.Seed(4053)}], tls: {tls} }}", "t.yaml").Cluster;

    private static X509Certificate2 Cert((string Pkcs12, string PasswordFile) node) =>
        X509CertificateLoader.LoadPkcs12FromFile(node.Pkcs12, File.ReadAllText(node.PasswordFile).TrimEnd());

    [Fact]
    public async Task Nodes_with_certificates_of_the_cluster_ca_form_a_cluster_and_a_self_signed_or_misnamed_node_cannot_join()
    {
        using var ca = new ClusterCertificates(Path.Combine(_dir, "ca"));
        const string remoteId = "*.cluster.test";
        int pa = FreePorts.Tcp(), pb = FreePorts.Tcp(), pc = FreePorts.Tcp(), pd = FreePorts.Tcp();
        await using var a = await ClusterTestNode.StartAsync(Yaml(pa, pa, ca.TlsYaml(ca.Node("a.cluster.test"), remoteId)), "a");
        await using var b = await ClusterTestNode.StartAsync(Yaml(pb, pa, ca.TlsYaml(ca.Node("b.cluster.test"), remoteId)), "b");
        await Eventually.TrueAsync(() => a.Gateway.Ready && b.Gateway.Ready, "a and b are Up over TLS", 40);
        await Eventually.TrueAsync(async () => (await a.ScrapeAsync()).Sum("concentrator_cluster_members", ("status", "up")) == 2,
            "a counts two members", 20);

        // c: the cluster's name, but a self-signed certificate (it trusts the cluster CA itself, so only a and b can refuse).
        // d: a certificate of the cluster CA under another name.
        await using var c = await ClusterTestNode.StartAsync(Yaml(pc, pa, ca.TlsYaml(ca.SelfSigned("c.cluster.test"), remoteId)), "c");
        await using var d = await ClusterTestNode.StartAsync(Yaml(pd, pa, ca.TlsYaml(ca.Node("d.elsewhere.test"), remoteId)), "d");
        // Several of Akka's join retries (InitJoin every second, a new attempt after seed-node-timeout).
        await Task.Delay(TimeSpan.FromSeconds(8));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, await c.ReadyzAsync());
        Assert.Equal(HttpStatusCode.ServiceUnavailable, await d.ReadyzAsync());
        var m = await a.ScrapeAsync();
        Assert.Equal(2, m.Sum("concentrator_cluster_members", ("status", "up")));
        Assert.Equal(0, m.Sum("concentrator_cluster_members", ("status", "joining")));
        Assert.Equal(0, m.Sum("concentrator_cluster_members", ("status", "weakly_up")));
        output.WriteLine("a self-signed node and a node of the right CA under another name stayed outside for 8 s");
    }

    [Fact]
    public void Validation_accepts_only_certificates_of_the_configured_ca_that_carry_the_configured_name()
    {
        using var ca = new ClusterCertificates(Path.Combine(_dir, "ca"));
        using var otherCa = new ClusterCertificates(Path.Combine(_dir, "other"));
        var n1 = ca.Node("n1.cluster.test");
        var tls = ClusterTls.Load(Parse(ca.TlsYaml(n1, "*.cluster.test")));
        Assert.True(tls.Accepts(Cert(n1)));
        Assert.True(tls.Accepts(Cert(ca.Node("n2.CLUSTER.test"))), "names compare case-insensitively");
        Assert.False(tls.Accepts(Cert(ca.Node("n1.elsewhere.test"))), "issued by the CA, but another name");
        Assert.False(tls.Accepts(Cert(ca.Node("cluster.test"))), "the wildcard needs a label in front");
        Assert.False(tls.Accepts(Cert(otherCa.Node("n3.cluster.test"))), "the right name from another CA");
        Assert.False(tls.Accepts(Cert(ca.SelfSigned("n4.cluster.test"))), "the right name, self-signed");
        Assert.False(tls.Accepts(null));
        Assert.True(tls.Setup().RequireMutualAuthentication);
        Assert.False(tls.Setup().SuppressValidation);

        // A node whose own bundle holds a self-signed certificate does not trust it, nor anything it would sign.
        var self = ca.SelfSigned("n5.cluster.test");
        var selfTls = ClusterTls.Load(Parse(ca.TlsYaml(self, "*.cluster.test")));
        Assert.False(selfTls.Accepts(Cert(self)));
        Assert.True(selfTls.Accepts(Cert(n1)));

        // An exact name, and a subject DN (RDN by RDN, "*" standing for any one value, as strongSwan matches DNs).
        var exact = ClusterTls.Load(Parse(ca.TlsYaml(n1, "fqdn:n1.cluster.test")));
        Assert.True(exact.Accepts(Cert(n1)));
        Assert.False(exact.Accepts(Cert(ca.Node("n2.cluster.test"))));
        var dn = ClusterTls.Load(Parse(ca.TlsYaml(n1, "CN=*")));
        Assert.True(dn.Accepts(Cert(n1)));
        Assert.False(dn.Accepts(Cert(otherCa.Node("n1.cluster.test"))));
        var dnExact = ClusterTls.Load(Parse(ca.TlsYaml(n1, "asn1dn:CN=n2.cluster.test")));
        Assert.False(dnExact.Accepts(Cert(n1)));
        Assert.True(dnExact.Accepts(Cert(ca.Node("n2.cluster.test"))));
    }

    [Fact]
    public void Unusable_tls_material_names_the_key()
    {
        using var ca = new ClusterCertificates(Path.Combine(_dir, "ca"));
        var good = ca.Node("n1.cluster.test");
        var wrongPassword = Path.Combine(_dir, "wrong.password");
        File.WriteAllText(wrongPassword, "not-the-password");
        // The key path is the exception's; the gateway adds the config file it came from (GatewayHostingTests).
        var ex = Assert.Throws<ClusterTlsException>(() => ClusterTls.Load(Parse(ca.TlsYaml((good.Pkcs12, wrongPassword), "*.cluster.test"))));
        Assert.Equal("cluster.tls.certificate", ex.KeyPath);

        var garbage = Path.Combine(_dir, "garbage.p12");
        File.WriteAllText(garbage, "not a PKCS#12");
        ex = Assert.Throws<ClusterTlsException>(() => ClusterTls.Load(Parse(ca.TlsYaml((garbage, good.PasswordFile), "*.cluster.test"))));
        Assert.Contains("cannot read PKCS#12", ex.Message);

        var keyless = Path.Combine(_dir, "keyless.p12");
        File.WriteAllBytes(keyless, X509CertificateLoader.LoadCertificate(Cert(good).RawData).Export(X509ContentType.Pkcs12, "pw"));
        var pw = Path.Combine(_dir, "keyless.password");
        File.WriteAllText(pw, "pw");
        ex = Assert.Throws<ClusterTlsException>(() => ClusterTls.Load(Parse(ca.TlsYaml((keyless, pw), "*.cluster.test"))));
        Assert.Contains("no certificate with a private key", ex.Message);

        var notCa = Path.Combine(_dir, "not-a-ca.pem");
        File.WriteAllText(notCa, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        var config = Parse($"{{ certificate: \"{good.Pkcs12}\", password_file: \"{good.PasswordFile}\", cacerts: [\"{notCa}\"], remote_id: \"*.cluster.test\" }}");
        ex = Assert.Throws<ClusterTlsException>(() => ClusterTls.Load(config));
        Assert.Equal("cluster.tls.cacerts", ex.KeyPath);
    }

    [Theory]
    [InlineData("{ certificate: CERT, password_file: PW, remote_id: \"*.cluster.test\" }", "cluster.tls.cacerts", "needs the CA certificates")]
    [InlineData("{ certificate: CERT, password_file: PW, cacerts: [CA] }", "cluster.tls.remote_id", "needs the name")]
    [InlineData("{ certificate: CERT, password_file: PW, cacerts: [CA], remote_id: \"*\" }", "cluster.tls.remote_id", "any certificate")]
    [InlineData("{ certificate: CERT, password_file: PW, cacerts: [CA], remote_id: \"%any\" }", "cluster.tls.remote_id", "any certificate")]
    [InlineData("{ certificate: CERT, password_file: PW, cacerts: [CA], remote_id: \"email:a@b\" }", "cluster.tls.remote_id", "not supported")]
    [InlineData("{ cacerts: [CA], remote_id: \"*.cluster.test\" }", "cluster.tls.cacerts", "tls.certificate is empty")]
    [InlineData("{ certificate: CERT, password_file: PW, cacerts: [/nonexistent/ca.pem], remote_id: \"*.cluster.test\" }", "cluster.tls.cacerts[0]", "not found")]
    public void Incomplete_tls_sections_are_refused_with_the_key(string tls, string key, string problem)
    {
        using var ca = new ClusterCertificates(Path.Combine(_dir, "ca"));
        var node = ca.Node("n1.cluster.test");
        tls = tls.Replace("CERT", $"\"{node.Pkcs12}\"").Replace("PW", $"\"{node.PasswordFile}\"").Replace("CA", $"\"{ca.CaFile}\"");
        var ex = Assert.Throws<ConfigException>(() => Parse(tls));
        Assert.Contains(key, ex.Message);
        Assert.Contains(problem, ex.Message);
    }
}
