using System.Security.Cryptography;
using Concentrator.Config;
using Concentrator.Ike.Connections;
using Concentrator.Testbed.Support;

namespace Concentrator.Tests.Config;

/// <summary>
/// Certificate credentials in swanctl's names (issue 15): local.certs, remote.cacerts/certs/revocation, private keys in
/// secrets (PKCS#1, SEC1, PKCS#8 and encrypted PKCS#8, PEM and DER), the top-level crls, paths relative to the config
/// file, and every mistake refused at load with its key path.
/// </summary>
public sealed class CertificateConfigTests : IClassFixture<CertificateConfigTests.Pki>
{
    public sealed class Pki : IDisposable
    {
        public Pki()
        {
            Files = new TestPki();
            Root = Files.Ca("C=CH, O=Test, CN=Root", TestKey.EcdsaP256);
            Intermediate = Files.Ca("C=CH, O=Test, CN=Intermediate", TestKey.EcdsaP256, Root);
            Rsa = Files.EndEntity("C=CH, O=Test, CN=gw", TestKey.Rsa2048, Intermediate, dns: ["gw.test"], ips: [System.Net.IPAddress.Parse("192.0.2.1")]);
            Ec = Files.EndEntity("C=CH, O=Test, CN=gw-ec", TestKey.EcdsaP256, Intermediate, dns: ["gw-ec.test"], emails: ["vpn@test.example"]);
            Files.WriteCert("root.pem", Root);
            Files.WriteCert("root.der", pem: false, Root);
            Files.WriteCert("im.pem", Intermediate);
            Files.WriteCert("chain.pem", Rsa, Intermediate);
            Files.WriteCert("rsa.pem", Rsa);
            Files.WriteCert("rsa.der", pem: false, Rsa);
            Files.WriteCert("ec.pem", Ec);
            Files.WriteKey("rsa.key", Rsa);
            Files.WriteKey("ec.key", Ec);
        }

        public TestPki Files { get; }
        public Issued Root { get; }
        public Issued Intermediate { get; }
        public Issued Rsa { get; }
        public Issued Ec { get; }
        public string Path(string file) => System.IO.Path.Combine(Files.Dir, file);
        public void Dispose() => Files.Dispose();
    }

    private readonly Pki _pki;

    public CertificateConfigTests(Pki pki) => _pki = pki;

    /// <summary>A config file in the PKI's directory (relative paths resolve there), loaded.</summary>
    private ConcentratorConfig Load(string local, string remote = "remote: { auth: pubkey, cacerts: [root.pem] }", string secrets = "private-gw: { file: rsa.key }",
        string top = "", string connection = "")
    {
        var path = _pki.Path($"config-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, $$"""
            {{top}}
            connections:
              rw:
                {{connection}}
                local: {{local}}
                {{remote}}
            secrets:
              {{secrets}}
            """);
        try
        {
            return ConcentratorConfig.Load(path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private ConfigException Fails(string local, string remote = "remote: { auth: pubkey, cacerts: [root.pem] }", string secrets = "private-gw: { file: rsa.key }",
        string top = "") => Assert.Throws<ConfigException>(() => Load(local, remote, secrets, top));

    [Theory]
    [InlineData(KeyFormat.TraditionalPem)]
    [InlineData(KeyFormat.Pkcs8Pem)]
    [InlineData(KeyFormat.EncryptedPkcs8Pem)]
    [InlineData(KeyFormat.TraditionalDer)]
    [InlineData(KeyFormat.Pkcs8Der)]
    [InlineData(KeyFormat.EncryptedPkcs8Der)]
    public void Rsa_and_ecdsa_keys_load_in_every_format(KeyFormat format)
    {
        bool encrypted = format is KeyFormat.EncryptedPkcs8Pem or KeyFormat.EncryptedPkcs8Der;
        var secret = encrypted ? ", secret: \"pass phrase 1\"" : "";
        _pki.Files.WriteKey($"rsa-{format}.key", _pki.Rsa, format, "pass phrase 1");
        _pki.Files.WriteKey($"ec-{format}.key", _pki.Ec, format, "pass phrase 1");

        var rsa = Load("{ auth: pubkey, certs: [rsa.der, im.pem], id: gw.test }", secrets: $"private-gw: {{ file: rsa-{format}.key{secret} }}").Connections["rw"];
        Assert.Equal(AuthConfig.PubKey, rsa.Local.Auth);
        Assert.IsAssignableFrom<RSA>(rsa.Local.Certificate!.Key);
        Assert.Equal(_pki.Rsa.Certificate.RawData, rsa.Local.Certificate.Certificate.RawData);
        Assert.Equal(_pki.Intermediate.Certificate.RawData, Assert.Single(rsa.Local.Certificate.Intermediates).RawData);
        Assert.Equal("gw.test", rsa.Local.Identity.Text);

        var ec = Load("{ auth: pubkey, certs: [ec.pem] }", secrets: $"ecdsa-gw: {{ file: {_pki.Path($"ec-{format}.key")}{secret} }}").Connections["rw"];
        Assert.IsAssignableFrom<ECDsa>(ec.Local.Certificate!.Key);
        Assert.Empty(ec.Local.Certificate.Intermediates);
        // Without local.id the round is the certificate's subject DN (strongSwan's default).
        Assert.Equal("C=CH, O=Test, CN=gw-ec", ec.Local.Identity.Text);
    }

    [Fact]
    public void A_pem_chain_file_and_the_remote_round_load()
    {
        var c = Load("{ auth: pubkey, certs: chain.pem, id: 192.0.2.1 }",
            "remote: { auth: pubkey, cacerts: [root.der, im.pem], certs: [ec.pem], id: \"C=CH, O=Test, CN=*\", revocation: ifuri }",
            connection: "send_cert: always\n    send_certreq: no").Connections["rw"];
        Assert.Equal("192.0.2.1", c.Local.Identity.Text);
        Assert.Single(c.Local.Certificate!.Intermediates);
        var trust = c.Remote.Trust!;
        Assert.Equal(2, trust.CaCertificates.Count);
        Assert.Single(trust.PinnedCertificates);
        Assert.Equal(RevocationPolicy.IfUri, trust.Revocation);
        Assert.Equal(SHA1.HashData(_pki.Root.Certificate.PublicKey.ExportSubjectPublicKeyInfo()), trust.CaKeyIds[0]);
        Assert.Equal(SendCertPolicy.Always, c.SendCert);
        Assert.False(c.SendCertReq);
    }

    [Fact]
    public void Crls_load_and_must_carry_their_configured_issuers_signature()
    {
        _pki.Files.WriteCrl("im.crl", _pki.Intermediate, [_pki.Ec], pem: false);
        var c = Load("{ auth: pubkey, certs: [rsa.pem] }", "remote: { auth: pubkey, cacerts: [root.pem, im.pem] }", top: "crls: [im.crl]");
        Assert.Single(c.Connections["rw"].Remote.Trust!.RevocationLists);

        // A CRL naming a configured CA as issuer but signed by another key (a wrong or forged file).
        var impostor = new TestPki(_pki.Path("impostor"));
        var fake = impostor.Ca("C=CH, O=Test, CN=Intermediate", TestKey.EcdsaP256);
        impostor.WriteCrl("fake.crl", fake, []);
        var e = Fails("{ auth: pubkey, certs: [rsa.pem] }", "remote: { auth: pubkey, cacerts: [root.pem, im.pem] }", top: "crls: [impostor/fake.crl]");
        Assert.Equal("crls[0]", e.KeyPath);
        Assert.Contains("does not verify", e.Problem);

        e = Fails("{ auth: pubkey, certs: [rsa.pem] }", top: "crls: [root.pem]");
        Assert.Equal("crls[0]", e.KeyPath);
        Assert.Contains("no CRL in the file", e.Problem);
    }

    [Fact]
    public void A_private_key_may_live_in_an_included_secrets_file()
    {
        File.WriteAllText(_pki.Path("keys.yaml"), "secrets:\n  private-gw: { file: rsa.key }\n");
        var c = Load("{ auth: pubkey, certs: [rsa.pem] }", secrets: "ike-x: { secret: \"0123456789abcdef\" }", top: "include: [keys.yaml]");
        Assert.NotNull(c.Connections["rw"].Local.Certificate);
        Assert.Single(c.Secrets);
    }

    [Theory]
    // Keys
    [InlineData("{ auth: pubkey, certs: [rsa.pem] }", "private-gw: { file: enc.key }", "secrets.private-gw.file", "give its passphrase as secret")]
    [InlineData("{ auth: pubkey, certs: [rsa.pem] }", "private-gw: { file: enc.key, secret: wrong }", "secrets.private-gw.file", "this passphrase")]
    [InlineData("{ auth: pubkey, certs: [rsa.pem] }", "private-gw: { file: rsa.key, secret: x }", "secrets.private-gw.secret", "not encrypted")]
    [InlineData("{ auth: pubkey, certs: [rsa.pem] }", "private-gw: { file: legacy.key, secret: x }", "secrets.private-gw.file", "legacy OpenSSL-encrypted PEM")]
    [InlineData("{ auth: pubkey, certs: [rsa.pem] }", "private-gw: { file: root.pem }", "secrets.private-gw.file", "not an RSA or ECDSA private key")]
    [InlineData("{ auth: pubkey, certs: [rsa.pem] }", "private-gw: { file: missing.key }", "secrets.private-gw.file", "not found")]
    [InlineData("{ auth: pubkey, certs: [rsa.pem] }", "private-gw: { secret: x }", "secrets.private-gw.file", "missing")]
    [InlineData("{ auth: pubkey, certs: [rsa.pem] }", "private-gw: { file: ec.key }", "connections.rw.local.certs", "no private key")]
    // Local round
    [InlineData("{ auth: pubkey }", "private-gw: { file: rsa.key }", "connections.rw.local.certs", "needs certs")]
    [InlineData("{ auth: pubkey, certs: [rsa.pem, ec.pem] }", "private-gw: { file: rsa.key }", "connections.rw.local.certs", "2 end-entity certificates")]
    [InlineData("{ auth: pubkey, certs: [im.pem] }", "private-gw: { file: rsa.key }", "connections.rw.local.certs", "no end-entity certificate")]
    [InlineData("{ auth: pubkey, certs: [rsa.pem], id: other.test }", "private-gw: { file: rsa.key }", "connections.rw.local.id", "is not in the certificate")]
    [InlineData("{ auth: pubkey, certs: [rsa.pem], id: \"C=CH, O=Test, CN=other\" }", "private-gw: { file: rsa.key }", "connections.rw.local.id", "is not in the certificate")]
    [InlineData("{ auth: rsa/pss, certs: [ec.pem] }", "private-gw: { file: ec.key }", "connections.rw.local.auth", "rsa/pss needs an RSA key")]
    [InlineData("{ auth: pubkey, certs: [nothing.pem] }", "private-gw: { file: rsa.key }", "connections.rw.local.certs[0]", "not found")]
    [InlineData("{ auth: pubkey, certs: [rsa.key] }", "private-gw: { file: rsa.key }", "connections.rw.local.certs[0]", "holds no PEM CERTIFICATE")]
    public void Credential_mistakes_are_refused_by_key_path(string local, string secrets, string keyPath, string problem)
    {
        _pki.Files.WriteKey("enc.key", _pki.Rsa, KeyFormat.EncryptedPkcs8Pem, "right");
        File.WriteAllText(_pki.Path("legacy.key"), "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n");
        var e = Fails(local, secrets: secrets);
        Assert.Equal(keyPath, e.KeyPath);
        Assert.Contains(problem, e.Problem);
    }

    [Theory]
    [InlineData("remote: { auth: pubkey }", "connections.rw.remote.auth", "needs cacerts")]
    [InlineData("remote: { auth: pubkey, cacerts: [im.pem] }", "connections.rw.remote.cacerts", "needs the root CA")]
    [InlineData("remote: { auth: pubkey, cacerts: [root.pem, rsa.pem] }", "connections.rw.remote.cacerts", "is not a CA certificate")]
    [InlineData("remote: { auth: pubkey, cacerts: [root.pem], revocation: sometimes }", "connections.rw.remote.revocation", "not one of relaxed, strict, ifuri")]
    public void Remote_round_mistakes_are_refused_by_key_path(string remote, string keyPath, string problem)
    {
        var e = Fails("{ auth: pubkey, certs: [rsa.pem] }", remote);
        Assert.Equal(keyPath, e.KeyPath);
        Assert.Contains(problem, e.Problem);
    }

    [Fact]
    public void Authorities_attach_ocsp_responders_to_a_ca_and_every_pubkey_round_shares_them()
    {
        var c = Load("{ auth: pubkey, certs: [rsa.pem] }", "remote: { auth: pubkey, cacerts: [root.pem, im.pem] }",
            top: "authorities:\n  im:\n    cacert: im.pem\n    ocsp_uris: [\"http://127.0.0.1:8888/ocsp\", http://ocsp.test.example]");
        var ocsp = c.Connections["rw"].Remote.Trust!.Ocsp!;
        var authority = Assert.Single(ocsp.Authorities);
        Assert.Equal("im", authority.Name);
        Assert.Equal(_pki.Intermediate.Certificate.RawData, authority.CaCertificate.RawData);
        Assert.Equal(["http://127.0.0.1:8888/ocsp", "http://ocsp.test.example/"], authority.OcspUris.Select(u => u.ToString()));
        // The configured responders answer for what the intermediate issued, not for what the root issued.
        Assert.Equal(2, ocsp.ResponderUris(_pki.Rsa.Certificate, _pki.Intermediate.Certificate, useAia: true).Count);
        Assert.Empty(ocsp.ResponderUris(_pki.Intermediate.Certificate, _pki.Root.Certificate, useAia: true));
        Assert.Empty(Load("{ auth: pubkey, certs: [rsa.pem] }").Connections["rw"].Remote.Trust!.Ocsp!.Authorities);
    }

    [Theory]
    [InlineData("    cacert: im.pem\n    ocsp_uris: http://a.example\n    crl_uris: http://a.example/crl", "authorities.im.crl_uris", "not supported yet")]
    [InlineData("    cacert: im.pem\n    ocsp_uris: http://a.example\n    cert_uri_base: http://a.example/", "authorities.im.cert_uri_base", "not supported yet")]
    [InlineData("    cacert: im.pem\n    ocsp_uris: http://a.example\n    handle: 4a", "authorities.im.handle", "not supported yet")]
    [InlineData("    cacert: im.pem\n    ocsp_uris: http://a.example\n    oscp_uris: http://a.example", "authorities.im.oscp_uris", "")]
    [InlineData("    ocsp_uris: http://a.example", "authorities.im.cacert", "missing")]
    [InlineData("    cacert: rsa.pem\n    ocsp_uris: http://a.example", "authorities.im.cacert", "not a CA")]
    [InlineData("    cacert: chain.pem\n    ocsp_uris: http://a.example", "authorities.im.cacert", "holds 2 certificates")]
    [InlineData("    cacert: nowhere.pem\n    ocsp_uris: http://a.example", "authorities.im.cacert[0]", "not found")]
    [InlineData("    cacert: im.pem", "authorities.im.ocsp_uris", "missing")]
    [InlineData("    cacert: im.pem\n    ocsp_uris: [\"https://a.example\"]", "authorities.im.ocsp_uris[0]", "not an http URL")]
    [InlineData("    cacert: im.pem\n    ocsp_uris: [\"ldap://a.example\"]", "authorities.im.ocsp_uris[0]", "not an http URL")]
    [InlineData("    cacert: im.pem\n    ocsp_uris: [\"/ocsp\"]", "authorities.im.ocsp_uris[0]", "not an http URL")]
    public void Authority_mistakes_are_refused_with_their_key_path(string body, string keyPath, string problem)
    {
        var e = Fails("{ auth: pubkey, certs: [rsa.pem] }", top: "authorities:\n  im:\n" + body);
        Assert.Equal(keyPath, e.KeyPath);
        Assert.Contains(problem, e.Problem);
        Assert.EndsWith(".yaml", e.File);
    }
}
