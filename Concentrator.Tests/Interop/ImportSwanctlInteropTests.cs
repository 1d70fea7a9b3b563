using Concentrator.Testbed.Interop;
using Xunit.Abstractions;

namespace Concentrator.Tests.Interop;

/// <summary>
/// Issue 18's promise: a strongSwan gateway moves across in minutes. The swanctl.conf (and credential directories) the
/// suite gives a strongSwan gateway is converted by the built <c>Concentrator import-swanctl</c>, our gateway runs the
/// result in the gateway's namespace, and a stock strongSwan initiator with its config unchanged connects and pings.
/// </summary>
[Collection(InteropCollection.Name)]
[Trait("Category", "Root")]
public sealed class ImportSwanctlInteropTests(ITestOutputHelper output)
{
    private const string Ike = "aes256gcm16-prfsha256-ecp256";
    private const string Esp = "aes256gcm16";

    /// <summary>Runs the built command on <paramref name="swanctlConf"/> and returns the YAML it wrote, with the
    /// deployment's own sections (listen, http) that swanctl.conf has no place for.</summary>
    private static async Task<string> ImportAsync(InteropScope scope, string swanctlConf)
    {
        var yamlPath = Path.Combine(Path.GetDirectoryName(swanctlConf)!, "concentrator.yaml");
        var run = await Command.RunAsync("dotnet", [ConcentratorProcess.AssemblyPath, "import-swanctl", swanctlConf, "--output", yamlPath],
            scope.Remaining(TimeSpan.FromSeconds(30)));
        scope.Log($"import-swanctl: exit {run.ExitCode} {run.Stderr.Trim()}");
        Assert.True(run.Ok, "import-swanctl failed: " + run);
        var converted = await File.ReadAllTextAsync(yamlPath);
        scope.Log("converted:\n" + converted);
        return $$"""
            listen: { addresses: [{{NamespaceTestbed.GatewayOuter}}], ike_port: 500, natt_port: 4500 }
            http: { listen: "127.0.0.1:9400" }
            {{converted}}
            """;
    }

    /// <summary>Ping from the peer's inner address to the LAN host, through the tunnel only; both ends count it.</summary>
    private static async Task PingThroughAsync(InteropScope scope, StrongSwan peer, ConcentratorProcess gateway)
    {
        var init = await peer.InitiateAsync("gw", "net", timeoutSeconds: 20);
        scope.Log($"initiate: exit {init.ExitCode}");
        Assert.True(init.Ok, "swanctl --initiate to the converted gateway failed: " + init);
        var installed = await peer.WaitInstalledAsync("gw", "net", scope.Remaining(TimeSpan.FromSeconds(10)));
        Assert.True(installed is not null, "peer: no ESTABLISHED IKE SA with an INSTALLED child");
        Assert.True(await gateway.WaitForEventAsync(ConcentratorProcess.ChildSaInstalled, scope.Remaining(TimeSpan.FromSeconds(5))),
            "the converted gateway did not log Child SA installed (1003)");

        var ping = await scope.Bed.Peer.ExecAsync(TimeSpan.FromSeconds(15),
            "ping", "-n", "-c", "3", "-i", "0.3", "-W", "2", "-I", NamespaceTestbed.PeerInner, NamespaceTestbed.LanHost);
        scope.Log("ping: " + ping.Stdout.Split('\n').FirstOrDefault(l => l.Contains("received")));
        Assert.True(ping.Ok, "ping through the converted gateway's tunnel failed: " + ping);
        var after = await peer.WaitInstalledAsync("gw", "net", TimeSpan.FromSeconds(5));
        Assert.True(after!.Value.Child.Number("packets-in") >= 3, "the peer's child SA counted fewer than 3 inbound packets (replies through the tunnel)");
    }

    /// <summary>StrongSwanBaselineTests' gateway (PSK) converted; its peer unchanged.</summary>
    [Fact(Timeout = 120_000)]
    [Trait("Category", "Root")]
    public async Task The_baseline_strongSwan_gateway_converted_accepts_its_strongSwan_peer_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 90);
        var bed = scope.Bed;

        var swanctlDir = bed.Dir("swanctl-gw");
        Directory.CreateDirectory(swanctlDir);
        var conf = Path.Combine(swanctlDir, "swanctl.conf");
        await File.WriteAllTextAsync(conf, SwanctlConf.Connection("peer", NamespaceTestbed.GatewayOuter, "%any", SwanctlConf.GatewayId, SwanctlConf.PeerId,
            Ike, "net", NamespaceTestbed.LanSubnet, NamespaceTestbed.PeerInnerSubnet, Esp));
        var yaml = await ImportAsync(scope, conf);

        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer"));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics());
        await peer.LoadAsync(SwanctlConf.Connection("gw", bed.PeerOuter, NamespaceTestbed.GatewayOuter, SwanctlConf.PeerId, SwanctlConf.GatewayId,
            Ike, "net", NamespaceTestbed.PeerInner + "/32", NamespaceTestbed.LanSubnet, Esp));
        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"), yaml, scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics());

        await PingThroughAsync(scope, peer, gateway);
        scope.Passed();
    }

    /// <summary>
    /// A certificate gateway as the suite writes one for strongSwan (SwanctlConf.CertConnection, credentials laid out by
    /// StrongSwan.AddCredentials: x509ca/, x509/, private/, named by file name) converted; the peer's certificate chains
    /// through an intermediate to the root the gateway's cacerts names.
    /// </summary>
    [Fact(Timeout = 150_000)]
    [Trait("Category", "Root")]
    public async Task A_certificate_strongSwan_gateway_converted_accepts_its_strongSwan_peer_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true, needPki: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 120);
        var bed = scope.Bed;
        var pki = new SwanPki(bed.Dir("pki"));
        Directory.CreateDirectory(pki.Dir);
        await pki.RootAsync("root", "C=CH, O=Interop, CN=Interop Root CA", "ecdsa", 384);
        await pki.IssueAsync("im", "root", "C=CH, O=Interop, CN=Interop Intermediate CA", "ecdsa", 256, ca: true);
        await pki.IssueAsync("gw", "im", $"C=CH, O=Interop, CN={SwanctlConf.GatewayId}", "ecdsa", 256, san: [SwanctlConf.GatewayId], flags: ["serverAuth"]);
        await pki.IssueAsync("peer", "im", "C=CH, O=Interop, CN=peer", "ecdsa", 256, san: [SwanctlConf.PeerId], flags: ["clientAuth"]);

        var swanctlDir = bed.Dir("swanctl-gw");
        foreach (var (folder, files) in new[] { ("x509ca", new[] { "root.pem", "im.pem" }), ("x509", ["gw.pem"]), ("private", ["gw.key"]) })
        {
            Directory.CreateDirectory(Path.Combine(swanctlDir, folder));
            foreach (var file in files) File.Copy(Path.Combine(pki.Dir, file), Path.Combine(swanctlDir, folder, file));
        }
        var conf = Path.Combine(swanctlDir, "swanctl.conf");
        await File.WriteAllTextAsync(conf, SwanctlConf.Connections(SwanctlConf.CertConnection("rw", NamespaceTestbed.GatewayOuter, "%any",
            SwanctlConf.GatewayId, SwanctlConf.PeerId, "gw.pem", "root.pem", Ike, "net", NamespaceTestbed.LanSubnet, NamespaceTestbed.PeerInnerSubnet, Esp)));
        var yaml = await ImportAsync(scope, conf);
        Assert.Contains(Path.Combine(swanctlDir, "private", "gw.key"), yaml);

        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer"));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics());
        peer.AddCredentials([pki.Path("root"), pki.Path("im")], [pki.Path("peer")], [pki.Path("peer", ".key")]);
        await peer.LoadAsync(SwanctlConf.Connections(SwanctlConf.CertConnection("gw", bed.PeerOuter, NamespaceTestbed.GatewayOuter, SwanctlConf.PeerId,
            SwanctlConf.GatewayId, "peer.pem", "root.pem", Ike, "net", NamespaceTestbed.PeerInner + "/32", NamespaceTestbed.LanSubnet, Esp)));
        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"), yaml, scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics());

        await PingThroughAsync(scope, peer, gateway);
        Assert.Contains("authentication of 'gw.interop.test' with ECDSA", peer.Log());
        scope.Passed();
    }
}
