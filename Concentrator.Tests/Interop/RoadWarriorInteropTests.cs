using System.Text.RegularExpressions;
using Concentrator.Testbed.Interop;
using Xunit.Abstractions;

namespace Concentrator.Tests.Interop;

/// <summary>
/// Remote access end to end against a stock strongSwan road warrior, the three parts of issue 15 together: both sides
/// authenticate with certificates issued through an intermediate CA (RSA with RFC 7427 signatures, and ECDSA), the road
/// warrior asks for <c>vips = 0.0.0.0</c> and gets an address and the DNS server from the gateway's pool, and pings the
/// LAN from that address; the path drops every IP fragment (an nft filter at both ends' ingress), so the IKE_AUTH
/// messages that carry the certificate chains get through only as RFC 7383 fragments. The gateway is
/// examples/remote-access.yaml as shipped (listen address and HTTP port aside).
/// </summary>
[Collection(InteropCollection.Name)]
[Trait("Category", "Root")]
public sealed partial class RoadWarriorInteropTests(ITestOutputHelper output)
{
    private const string GatewayId = "vpn.example.net";
    private const string ClientId = "alice@interop.test";

    [Theory(Timeout = 180_000)]
    [Trait("Category", "Root")]
    [InlineData("rsa", 3072, "RSA_EMSA_PKCS1_SHA2_256")]
    [InlineData("ecdsa", 384, "ECDSA_WITH_SHA384_DER")]
    public async Task A_strongswan_road_warrior_with_certificates_gets_an_address_and_dns_across_a_path_that_drops_ip_fragments_Root(
        string type, int bits, string scheme)
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true, needPki: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 150);
        var bed = scope.Bed;

        var pki = new SwanPki(bed.Dir("pki"));
        Directory.CreateDirectory(pki.Dir);
        await pki.RootAsync("ca", "C=CH, O=Interop, CN=Interop Root CA", type, type == "rsa" ? 3072 : 384);
        await pki.IssueAsync("intermediate", "ca", "C=CH, O=Interop, CN=Interop Intermediate CA", type, bits, ca: true);
        await pki.IssueAsync("gw", "intermediate", $"C=CH, O=Interop, CN={GatewayId}", type, bits, san: [GatewayId], flags: ["serverAuth"]);
        await pki.IssueAsync("alice", "intermediate", "C=CH, O=Interop, CN=alice", type, bits, san: [ClientId], flags: ["clientAuth"]);

        string gatewayDir = bed.Dir("concentrator");
        RemoteAccessExample.CopyCredentials(pki, gatewayDir);
        string yaml = RemoteAccessExample.Yaml();

        // Neither end receives an IP fragment: a whole IKE_AUTH with a certificate chain (over 1280 octets) never arrives.
        FragmentFilter.Install(bed.Gateway, NamespaceTestbed.GatewayOuterDevice, bed.WorkDir);
        FragmentFilter.Install(bed.Peer, NamespaceTestbed.PeerDevice, bed.WorkDir);

        string peerDir = bed.Dir("charon-peer");
        string resolvConf = Path.Combine(peerDir, "resolv.conf");
        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, peerDir, "peer", extraSettings: StrongSwan.ResolveSettings(resolvConf)));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics());
        peer.AddCredentials([pki.Path("ca"), pki.Path("intermediate")], [pki.Path("alice")], [pki.Path("alice", ".key")]);
        await peer.LoadAsync(SwanctlConf.Connections(SwanctlConf.ConnectionBlock("gw", bed.PeerOuter, NamespaceTestbed.GatewayOuter, "default",
            $"auth = pubkey\ncerts = alice.pem\nid = {ClientId}", $"auth = pubkey\nid = {GatewayId}", "net", null, NamespaceTestbed.LanSubnet,
            "default", extra: "vips = 0.0.0.0")));

        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, gatewayDir, yaml, scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics());

        var init = await peer.InitiateAsync("gw", "net", timeoutSeconds: 25);
        Assert.True(init.Ok, "swanctl --initiate failed: " + init);
        var up = await peer.WaitInstalledAsync("gw", "net", scope.Remaining(TimeSpan.FromSeconds(10)));
        Assert.True(up is not null, "peer: no ESTABLISHED IKE SA with an INSTALLED child");
        scope.Log("peer: " + up!.Value.Ike);

        // Certificates both ways through the intermediate, RFC 7427 signatures of the key type.
        string log = peer.Log();
        Assert.Contains($"authentication of '{ClientId}' (myself) with {scheme}", log);
        Assert.Contains($"authentication of '{GatewayId}' with {scheme}", log);
        Assert.Contains("received issuer cert \"C=CH, O=Interop, CN=Interop Intermediate CA\"", log);
        Assert.Contains("reached self-signed root ca", log);

        // IKE_AUTH crossed as RFC 7383 fragments both ways; not one IP fragment or oversized IKE datagram reached either end.
        var splits = Splitting().Matches(log).Select(m => m.Value).ToList();
        scope.Log("charon: " + string.Join("; ", splits));
        Assert.NotEmpty(splits);
        Assert.Matches(ReceivedFragment(), log);
        double sent = await GatewayMetrics.ReadAsync(bed.Gateway, "concentrator_ike_fragments_sent_total");
        double received = await GatewayMetrics.ReadAsync(bed.Gateway, "concentrator_ike_fragments_received_total");
        scope.Log($"gateway: {sent} fragments sent, {received} received; IP fragments dropped at the gateway " +
            $"{FragmentFilter.Dropped(bed.Gateway, NamespaceTestbed.GatewayOuterDevice)}, at the peer {FragmentFilter.Dropped(bed.Peer, NamespaceTestbed.PeerDevice)}");
        Assert.True(sent >= 2 && received >= 2, $"{sent} fragments sent, {received} received");
        Assert.Equal(0, FragmentFilter.Oversized(bed.Gateway, NamespaceTestbed.GatewayOuterDevice));
        Assert.Equal(0, FragmentFilter.Oversized(bed.Peer, NamespaceTestbed.PeerDevice));

        // The address and the DNS server from the pool, and the LAN reached from that address.
        var vip = VirtualIp().Match(log);
        Assert.True(vip.Success, "charon installed no virtual IP");
        Assert.StartsWith("10.30.0.", vip.Groups["ip"].Value);
        Assert.Contains("installing DNS server 10.10.0.53", log);
        Assert.Contains("nameserver 10.10.0.53", File.ReadAllText(resolvConf));
        var ping = await bed.Peer.ExecAsync(TimeSpan.FromSeconds(15), "ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", NamespaceTestbed.LanHost);
        scope.Log($"ping {vip.Groups["ip"].Value} -> LAN: {PingOutput.Summary(ping)}");
        Assert.True(ping.Ok, "ping through the tunnel failed: " + ping);

        // The operator sees both: the peer's certificate and its virtual IP.
        var sas = (await bed.Gateway.ExecCheckedAsync(TimeSpan.FromSeconds(30), "dotnet", ConcentratorProcess.AssemblyPath, "sas",
            "--admin", "http://127.0.0.1:9400/")).Stdout;
        scope.Log("concentrator sas:\n" + sas);
        Assert.Contains(vip.Groups["ip"].Value, sas);
        Assert.Contains($"remote certificate \"C=CH, O=Interop, CN=alice\" (subjectAltName {ClientId})", sas);
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }

    [GeneratedRegex(@"splitting IKE message \(\d+ bytes\) into \d+ fragments")]
    private static partial Regex Splitting();

    [GeneratedRegex(@"received fragment #\d+ of \d+")]
    private static partial Regex ReceivedFragment();

    [GeneratedRegex(@"installing new virtual IP (?<ip>\d+\.\d+\.\d+\.\d+)")]
    private static partial Regex VirtualIp();
}
