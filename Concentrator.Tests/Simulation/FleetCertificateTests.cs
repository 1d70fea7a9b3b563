using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Concentrator.Hosting;
using Concentrator.Simulation;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Support;

namespace Concentrator.Tests.Simulation;

/// <summary>
/// The peer fleet (behind <c>loadtest</c> and the handshake benchmark) authenticates with certificates: every peer gets a
/// certificate for its own identity from the fleet's issuer, over one shared key, and checks the gateway's against the
/// trusted root; the gateway sees each peer's certificate subject (<c>Concentrator sas</c>).
/// </summary>
public sealed class FleetCertificateTests : IDisposable
{
    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    private static X509Certificate2 WithKey(Issued ca) => ca.Key is RSA rsa
        ? ca.Certificate.CopyWithPrivateKey(rsa)
        : ca.Certificate.CopyWithPrivateKey((ECDsa)ca.Key);

    private string GatewayYaml(Issued gw) => $$"""
        listen: { addresses: [127.0.0.1], ike_port: 0, natt_port: 0 }
        connections:
          rw:
            local: { auth: pubkey, certs: [{{_pki.WriteCert("gw.pem", gw)}}], id: gw.fleet.test }
            remote: { auth: pubkey, cacerts: [{{_pki.Dir}}/root.pem], id: "%any" }
            children:
              lan: { local_ts: [10.10.0.0/16], remote_ts: [10.200.0.0/16], esp_proposals: [aes256gcm16] }
        secrets:
          private-gw: { file: {{_pki.WriteKey("gw.key", gw)}} }
        """;

    [Theory]
    [InlineData(TestKey.EcdsaP256)]
    [InlineData(TestKey.Rsa3072)]
    public async Task Fleet_peers_authenticate_with_certificates_issued_for_their_identities(TestKey kind)
    {
        var root = _pki.Ca("C=CH, O=Fleet, CN=Fleet Root CA", kind);
        _pki.WriteCert("root.pem", root);
        var gw = _pki.EndEntity("C=CH, O=Fleet, CN=gw.fleet.test", kind, root, dns: ["gw.fleet.test"]);
        await using var gateway = TestGateway.Start(GatewayYaml(gw), name: "fleet-certs");
        using var peerKey = TestPki.NewKey(kind);
        var certificates = new FleetCertificates(WithKey(root), peerKey, [root.Certificate]);
        await using var fleet = PeerFleet.Start(new FleetOptions { GatewayId = "gw.fleet.test", Certificates = certificates });
        fleet.PrepareCertificates(3);

        var result = await fleet.EstablishAsync(gateway.Endpoint, 3, TimeSpan.FromSeconds(20));
        Assert.Equal(3, result.Established);
        Assert.Equal(0, result.Failures.Values.Sum());

        var sas = await AdminApi.ListAsync(gateway.Gateway);
        Assert.Equal(3, sas.Count);
        Assert.Equal(["\"CN=peer-0.fleet\" (subjectAltName peer-0.fleet)", "\"CN=peer-1.fleet\" (subjectAltName peer-1.fleet)",
            "\"CN=peer-2.fleet\" (subjectAltName peer-2.fleet)"], sas.Select(s => s.RemoteCertificate).Order());
        Assert.All(sas, s => Assert.StartsWith("peer-", s.RemoteId));
    }

    [Fact]
    public async Task A_fleet_that_does_not_trust_the_gateways_root_does_not_come_up()
    {
        var root = _pki.Ca("C=CH, O=Fleet, CN=Fleet Root CA", TestKey.EcdsaP256);
        _pki.WriteCert("root.pem", root);
        var elsewhere = _pki.Ca("C=CH, O=Elsewhere, CN=Other Root CA", TestKey.EcdsaP256);
        var gw = _pki.EndEntity("C=CH, O=Fleet, CN=gw.fleet.test", TestKey.EcdsaP256, root, dns: ["gw.fleet.test"]);
        await using var gateway = TestGateway.Start(GatewayYaml(gw), name: "fleet-untrusted");
        using var peerKey = TestPki.NewKey(TestKey.EcdsaP256);
        var certificates = new FleetCertificates(WithKey(root), peerKey, [elsewhere.Certificate]);
        await using var fleet = PeerFleet.Start(new FleetOptions { GatewayId = "gw.fleet.test", Certificates = certificates });

        var result = await fleet.EstablishAsync(gateway.Endpoint, 1, TimeSpan.FromSeconds(10));
        Assert.Equal(0, result.Established);
        Assert.Equal(1, Assert.Contains(Concentrator.Ipsec.CloseReason.AuthFailed, result.Failures));
        // The fleet told the gateway, which had established, and the gateway dropped its SA.
        await Eventually.TrueAsync(async () => await gateway.Gateway.CountSasAsync() == 0, "the gateway dropped the SA the fleet refused");
    }
}
