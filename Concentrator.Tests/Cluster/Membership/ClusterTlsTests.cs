using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Concentrator.Cluster.Membership;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Support;
using Xunit.Abstractions;


namespace Concentrator.Tests.Cluster.Membership;

public sealed class ClusterTlsTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("conc-cluster-tls-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A self-signed node certificate (server and client auth) in a password-protected PKCS#12.</summary>
    private (string Pkcs12, string PasswordFile) Certificate(string name, bool withKey = true)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], critical: false));
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        string password = Convert.ToHexString(RandomNumberGenerator.GetBytes(12));
        string file = $"{name}-{Guid.NewGuid():N}";
        string p12 = Path.Combine(_dir, $"{file}.p12"), pw = Path.Combine(_dir, $"{file}.password");
        using var publicOnly = X509CertificateLoader.LoadCertificate(cert.RawData);
        File.WriteAllBytes(p12, (withKey ? cert : publicOnly).Export(X509ContentType.Pkcs12, password));
        File.WriteAllText(pw, password + "\n");
        return (p12, pw);
    }

    private static string Yaml(int port, int seedPort, (string Pkcs12, string PasswordFile) tls) =>
        $"cluster: {{ port: {port}, seed_nodes: [{ClusterTestNode.Seed(seedPort)}], tls: {{ certificate: \"{tls.Pkcs12}\", password_file: \"{tls.PasswordFile}\" }} }}";

    [Fact]
    public async Task Nodes_sharing_the_cluster_certificate_form_a_cluster_and_a_node_with_another_certificate_cannot_join()
    {
        var cluster = Certificate("concentrator-cluster");
        var stranger = Certificate("concentrator-cluster"); // same subject, different key: only the key proves membership
        int pa = FreePorts.Tcp(), pb = FreePorts.Tcp(), pc = FreePorts.Tcp();
        await using var a = await ClusterTestNode.StartAsync(Yaml(pa, pa, cluster), "a");
        await using var b = await ClusterTestNode.StartAsync(Yaml(pb, pa, cluster), "b");
        await Eventually.TrueAsync(() => a.Gateway.Ready && b.Gateway.Ready, "a and b are Up over TLS", 40);
        await Eventually.TrueAsync(async () => (await a.ScrapeAsync()).Sum("concentrator_cluster_members", ("status", "up")) == 2,
            "a counts two members", 20);

        await using var c = await ClusterTestNode.StartAsync(Yaml(pc, pa, stranger), "c");
        // Several of Akka's join retries (InitJoin every second, a new attempt after seed-node-timeout).
        await Task.Delay(TimeSpan.FromSeconds(8));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, await c.ReadyzAsync());
        var m = await a.ScrapeAsync();
        Assert.Equal(2, m.Sum("concentrator_cluster_members", ("status", "up")));
        Assert.Equal(0, m.Sum("concentrator_cluster_members", ("status", "joining")));
        Assert.Equal(0, m.Sum("concentrator_cluster_members", ("status", "weakly_up")));
        output.WriteLine("a node with an untrusted certificate stayed outside for 8 s");
    }

    [Fact]
    public void Validation_accepts_only_certificates_that_chain_to_the_configured_anchor()
    {
        var cluster = Certificate("node");
        var other = Certificate("node");
        var tls = ClusterTls.Load(new ClusterConfig { TlsCertificate = cluster.Pkcs12, TlsPasswordFile = cluster.PasswordFile });
        var otherTls = ClusterTls.Load(new ClusterConfig { TlsCertificate = other.Pkcs12, TlsPasswordFile = other.PasswordFile });
        Assert.True(tls.Accepts(tls.Certificate));
        Assert.False(tls.Accepts(otherTls.Certificate));
        Assert.False(tls.Accepts(null));
        Assert.True(tls.Setup().RequireMutualAuthentication);
        Assert.False(tls.Setup().SuppressValidation);
    }

    [Fact]
    public void Unusable_pkcs12_files_name_the_key()
    {
        var good = Certificate("node");
        var wrongPassword = Path.Combine(_dir, "wrong.password");
        File.WriteAllText(wrongPassword, "not-the-password");
        // The key path is the exception's; the gateway adds the config file it came from (GatewayHostingTests).
        var ex = Assert.Throws<ClusterTlsException>(() => ClusterTls.Load(new ClusterConfig
        {
            TlsCertificate = good.Pkcs12, TlsPasswordFile = wrongPassword, Source = "c.yaml",
        }));
        Assert.Equal("cluster.tls.certificate", ex.KeyPath);

        var garbage = Path.Combine(_dir, "garbage.p12");
        File.WriteAllText(garbage, "not a PKCS#12");
        ex = Assert.Throws<ClusterTlsException>(() => ClusterTls.Load(new ClusterConfig { TlsCertificate = garbage }));
        Assert.Contains("cannot read PKCS#12", ex.Message);

        var keyless = Certificate("keyless", withKey: false);
        ex = Assert.Throws<ClusterTlsException>(() => ClusterTls.Load(new ClusterConfig { TlsCertificate = keyless.Pkcs12, TlsPasswordFile = keyless.PasswordFile }));
        Assert.Contains("no certificate with a private key", ex.Message);
    }
}
