using System.Text.RegularExpressions;
using Concentrator.Testbed.Interop;
using Xunit.Abstractions;

namespace Concentrator.Tests.Interop;

/// <summary>
/// The remote-access example (examples/remote-access.yaml, loaded as shipped but for its listen address and HTTP port)
/// against a stock strongSwan client offering, one after the other, the default IKE and ESP proposals of the clients
/// people connect with, as their vendors' sources and strongSwan's interoperability pages give them:
/// <list type="bullet">
/// <item>Windows 10 and 11 (Agile VPN): <c>3des-aes128-aes192-aes256-sha1-sha256-sha384-modp1024</c>, Windows 11 also
/// AES-GCM with the same PRFs and MODP-1024; ESP <c>aes256-aes128-3des-des-null-sha1</c> (strongSwan's "Windows
/// Clients"); Windows identifies with its certificate's subject DN. Also Windows as the README configures it with
/// Set-VpnConnectionIPsecConfiguration (nothing weak).</item>
/// <item>iOS (16.5): AES-CBC-256/SHA2-256 with MODP-2048, ECP-256, MODP-1536, then AES-CBC-128/SHA-1 and 3DES/SHA-1 with
/// MODP-1024; ESP AES-CBC-256/SHA2-256, AES-CBC-128/SHA-1, 3DES/SHA-1. macOS the same without the ECP-256 and MODP-1536
/// proposals ("only iOS sends a proposal with ecp256"; strongSwan's "iOS and macOS").</item>
/// <item>Android's built-in IKEv2/IPsec client (AOSP VpnIkev2Utils): a CBC/CTR proposal with SHA2 integrity and an AEAD
/// one (ChaCha20-Poly1305, AES-GCM 16/12/8), both with MODP-4096, Curve25519, MODP-3072, MODP-2048 and PRFs SHA2-512 to
/// SHA-1; Child SAs AES-CBC with SHA2 and AES-GCM.</item>
/// <item>the strongSwan app (Android, and strongSwan's own clients): strongSwan's default proposals.</item>
/// </list>
/// Each authenticates with a certificate of the example's CA, gets a virtual IP and the DNS server from its pool, and
/// pings the LAN from that address; the algorithms charon reports are the ones the example's order picks.
/// </summary>
[Collection(InteropCollection.Name)]
[Trait("Category", "Root")]
public sealed partial class NativeClientInteropTests(ITestOutputHelper output)
{
    private const string GatewayId = "vpn.example.net";
    private const string ClientId = "client.interop.test";
    private const string ClientDn = "C=CH, O=Interop, CN=client.interop.test";
    private const string PoolPrefix = "10.30.0.";

    /// <summary>A client's default proposals (swanctl keywords) and what the example's order must pick from them.</summary>
    public sealed record Client(string Name, string LocalId, string Ike, string Esp, string IkeSuite, string EspSuite);

    private static readonly Client[] Clients =
    [
        new("windows", ClientDn, "3des-aes128-aes192-aes256-sha1-sha256-sha384-modp1024", "aes256-aes128-3des-des-null-sha1",
            "AES_CBC-256/HMAC_SHA2_384_192/PRF_HMAC_SHA2_384/MODP_1024", "AES_CBC-256/HMAC_SHA1_96"),
        new("windows11", ClientDn,
            "aes128gcm16-aes256gcm16-prfsha1-prfsha256-prfsha384-modp1024, 3des-aes128-aes192-aes256-sha1-sha256-sha384-modp1024",
            "aes256-aes128-3des-des-null-sha1",
            "AES_GCM_16-256/PRF_HMAC_SHA2_384/MODP_1024", "AES_CBC-256/HMAC_SHA1_96"),
        // Windows after Set-VpnConnectionIPsecConfiguration as the README gives it (GCMAES256, SHA384, ECP384, no PFS).
        new("windows-configured", ClientDn, "aes256gcm16-prfsha384-ecp384", "aes256gcm16",
            "AES_GCM_16-256/PRF_HMAC_SHA2_384/ECP_384", "AES_GCM_16-256"),
        new("ios", ClientId,
            "aes256-sha256-modp2048, aes256-sha256-ecp256, aes256-sha256-modp1536, aes128-sha1-modp1024, 3des-sha1-modp1024",
            "aes256-sha256, aes128-sha1, 3des-sha1",
            "AES_CBC-256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048", "AES_CBC-256/HMAC_SHA2_256_128"),
        new("macos", ClientId, "aes256-sha256-modp2048, aes128-sha1-modp1024, 3des-sha1-modp1024", "aes256-sha256, aes128-sha1, 3des-sha1",
            "AES_CBC-256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048", "AES_CBC-256/HMAC_SHA2_256_128"),
        new("android", ClientId,
            "aes256ctr-aes256-aes192ctr-aes192-aes128ctr-aes128-sha512-sha384-sha256-aesxcbc-aescmac-prfsha512-prfsha384-prfsha256-prfaesxcbc-prfaescmac-prfsha1-modp4096-curve25519-modp3072-modp2048, " +
            "chacha20poly1305-aes256gcm16-aes256gcm12-aes256gcm8-aes192gcm16-aes192gcm12-aes192gcm8-aes128gcm16-aes128gcm12-aes128gcm8-prfsha512-prfsha384-prfsha256-prfaesxcbc-prfaescmac-prfsha1-modp4096-curve25519-modp3072-modp2048",
            "aes256-aes192-aes128-sha512-sha384-sha256, aes256gcm16-aes256gcm12-aes256gcm8-aes192gcm16-aes192gcm12-aes192gcm8-aes128gcm16-aes128gcm12-aes128gcm8",
            "AES_GCM_16-256/PRF_HMAC_SHA2_384/CURVE_25519", "AES_GCM_16-256"),
        new("strongswan-app", ClientId, "default", "default",
            "AES_GCM_16-256/PRF_HMAC_SHA2_384/CURVE_25519", "AES_GCM_16-256"),
    ];

    [Fact(Timeout = 240_000)]
    [Trait("Category", "Root")]
    public async Task The_remote_access_example_serves_the_default_proposals_of_windows_ios_macos_and_android_clients_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true, needPki: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 200);
        var bed = scope.Bed;

        // The example's files, made as its comments say: a root CA, an intermediate, the gateway's certificate (its name
        // as subjectAltName, serverAuth) and a client certificate of the same CA.
        var pki = new SwanPki(bed.Dir("pki"));
        Directory.CreateDirectory(pki.Dir);
        await pki.RootAsync("ca", "C=CH, O=Interop, CN=Interop Root CA", "ecdsa", 384);
        await pki.IssueAsync("intermediate", "ca", "C=CH, O=Interop, CN=Interop Intermediate CA", "ecdsa", 256, ca: true);
        await pki.IssueAsync("gw", "intermediate", $"C=CH, O=Interop, CN={GatewayId}", "ecdsa", 256, san: [GatewayId], flags: ["serverAuth"]);
        await pki.IssueAsync("client", "intermediate", ClientDn, "ecdsa", 256, san: [ClientId], flags: ["clientAuth"]);

        string gatewayDir = bed.Dir("concentrator");
        RemoteAccessExample.CopyCredentials(pki, gatewayDir);
        string yaml = RemoteAccessExample.Yaml();

        string peerDir = bed.Dir("charon-peer");
        string resolvConf = Path.Combine(peerDir, "resolv.conf");
        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, peerDir, "peer", extraSettings: StrongSwan.ResolveSettings(resolvConf)));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics());
        peer.AddCredentials([pki.Path("ca"), pki.Path("intermediate")], [pki.Path("client")], [pki.Path("client", ".key")]);
        await peer.LoadAsync(SwanctlConf.Connections([.. Clients.Select(c => ClientConf(c, bed.PeerOuter))]));

        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, gatewayDir, yaml, scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics());

        foreach (var client in Clients)
        {
            var init = await peer.InitiateAsync(client.Name, "rw", timeoutSeconds: 20);
            Assert.True(init.Ok, $"{client.Name}: swanctl --initiate failed: {init}");
            var up = await peer.WaitInstalledAsync(client.Name, "rw", scope.Remaining(TimeSpan.FromSeconds(10)));
            Assert.True(up is not null, $"{client.Name}: no ESTABLISHED IKE SA with an INSTALLED child");
            var (ike, child) = up!.Value;
            string ikeSuite = Suite(ike.Get("encr-alg"), ike.Get("encr-keysize"), ike.Get("integ-alg"), ike.Get("prf-alg"), ike.Get("dh-group"));
            string espSuite = Suite(child.Get("encr-alg"), child.Get("encr-keysize"), child.Get("integ-alg"), "", "");
            var vip = VirtualIp().Matches(peer.Log()).Select(m => m.Groups["ip"].Value).LastOrDefault();
            scope.Log($"{client.Name}: IKE {ikeSuite}, ESP {espSuite}, virtual IP {vip}");
            Assert.Equal(client.IkeSuite, ikeSuite);
            Assert.Equal(client.EspSuite, espSuite);
            Assert.NotNull(vip);
            Assert.StartsWith(PoolPrefix, vip);
            Assert.Contains("nameserver 10.10.0.53", File.ReadAllText(resolvConf));

            var ping = await bed.Peer.ExecAsync(TimeSpan.FromSeconds(15), "ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", "-I", vip, NamespaceTestbed.LanHost);
            scope.Log($"{client.Name}: ping {vip} -> LAN: {PingOutput.Summary(ping)}");
            Assert.True(ping.Ok, $"{client.Name}: ping through the tunnel failed: {ping}");

            var term = await peer.SwanctlAsync(["--terminate", "--ike", client.Name, "--timeout", "10"]);
            Assert.True(term.Ok, $"{client.Name}: swanctl --terminate failed: {term}");
        }
        Assert.Equal(0, await GatewayMetrics.ReadAsync(bed.Gateway, "concentrator_ike_auth_failures_total"));
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }

    /// <summary>charon's names joined as the expectations spell them (AES_CBC-256/HMAC_SHA1_96/PRF_.../MODP_1024).</summary>
    private static string Suite(string encr, string keySize, string integ, string prf, string dh) =>
        string.Join("/", new[] { keySize.Length > 0 ? $"{encr}-{keySize}" : encr, integ, prf, dh }.Where(s => s.Length > 0));

    private static string ClientConf(Client c, string peerOuter) =>
        SwanctlConf.ConnectionBlock(c.Name, peerOuter, NamespaceTestbed.GatewayOuter, c.Ike, $"auth = pubkey\ncerts = client.pem\nid = \"{c.LocalId}\"",
            $"auth = pubkey\nid = {GatewayId}", "rw", null, NamespaceTestbed.LanSubnet, c.Esp, extra: "vips = 0.0.0.0\nsend_certreq = no");

    [GeneratedRegex(@"installing new virtual IP (?<ip>\d+\.\d+\.\d+\.\d+)")]
    private static partial Regex VirtualIp();
}
