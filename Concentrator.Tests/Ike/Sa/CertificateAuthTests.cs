using System.Security.Cryptography;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.Hosting;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Crypto;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Tasks;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;
using Concentrator.Telemetry;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Telemetry;

namespace Concentrator.Tests.Ike.Sa;

/// <summary>
/// A road warrior against the gateway with certificates (issue 15), end to end between two directly wired
/// <see cref="IkeSa"/> whose configs are loaded from YAML and PEM files: RSA and ECDSA both ways through an intermediate
/// CA, RFC 7427 and the classic methods, RSASSA-PSS, DN patterns, pinned certificates, a connection chosen by its CA, and
/// every refusal (untrusted, expired, revoked, identity not in the certificate, key usage, strict revocation) answered
/// AUTHENTICATION_FAILED and counted by reason in concentrator_ike_auth_failures_total.
/// </summary>
public sealed class CertificateAuthTests(CertificateAuthTests.Pki pki) : IClassFixture<CertificateAuthTests.Pki>
{
    /// <summary>One PKI for the class: root and intermediate CA, the gateway's and the clients' certificates, a CRL.</summary>
    public sealed class Pki : IDisposable
    {
        public Pki()
        {
            Files = new TestPki();
            Root = Files.Ca("C=CH, O=Test, CN=Test Root CA", TestKey.Rsa2048);
            Intermediate = Files.Ca("C=CH, O=Test, CN=Test Intermediate CA", TestKey.Rsa2048, Root);
            var other = Files.Ca("C=CH, O=Other, CN=Other Root CA", TestKey.EcdsaP256);
            Gateway = Files.EndEntity("C=CH, O=Test, CN=gw.test", TestKey.Rsa2048, Intermediate, dns: ["gw.test"]);
            GatewayEc = Files.EndEntity("C=CH, O=Test, CN=gw-ec.test", TestKey.EcdsaP256, Intermediate, dns: ["gw-ec.test"]);
            Alice = Files.EndEntity("C=CH, O=Test, CN=alice", TestKey.Rsa2048, Intermediate, dns: ["alice.test"], emails: ["alice@test.example"]);
            Carol = Files.EndEntity("C=CH, O=Test, CN=carol", TestKey.EcdsaP256, Intermediate, dns: ["carol.test"]);
            Untrusted = Files.EndEntity("C=CH, O=Other, CN=mallory", TestKey.EcdsaP256, other, dns: ["mallory.test"]);
            Expired = Files.EndEntity("C=CH, O=Test, CN=old", TestKey.EcdsaP256, Intermediate, dns: ["old.test"],
                notBefore: DateTimeOffset.UtcNow.AddDays(-30), notAfter: DateTimeOffset.UtcNow.AddDays(-1));
            Revoked = Files.EndEntity("C=CH, O=Test, CN=gone", TestKey.EcdsaP256, Intermediate, dns: ["gone.test"]);
            MailOnly = Files.EndEntity("C=CH, O=Test, CN=mail", TestKey.EcdsaP256, Intermediate, dns: ["mail.test"], eku: ["1.3.6.1.5.5.7.3.4"]);
            Write("root", Root);
            Write("im", Intermediate);
            foreach (var (name, issued) in new[] { ("gw", Gateway), ("gw-ec", GatewayEc), ("alice", Alice), ("carol", Carol), ("mallory", Untrusted),
                         ("old", Expired), ("gone", Revoked), ("mail", MailOnly) })
            {
                Write(name, issued);
            }
            Crl = Files.WriteCrl("im.crl", Intermediate, [Revoked]);
        }

        public TestPki Files { get; }
        public Issued Root { get; }
        public Issued Intermediate { get; }
        public Issued Gateway { get; }
        public Issued GatewayEc { get; }
        public Issued Alice { get; }
        public Issued Carol { get; }
        public Issued Untrusted { get; }
        public Issued Expired { get; }
        public Issued Revoked { get; }
        public Issued MailOnly { get; }
        public string Crl { get; }

        public string Cert(string name) => Path.Combine(Files.Dir, name + ".pem");
        public string Key(string name) => Path.Combine(Files.Dir, name + ".key");

        private void Write(string name, Issued issued)
        {
            Files.WriteCert(name + ".pem", issued);
            Files.WriteKey(name + ".key", issued);
        }

        public void Dispose() => Files.Dispose();
    }

    private const string Child = """
            children:
              lan: { local_ts: [10.10.0.0/16], remote_ts: [10.200.0.0/16], esp_proposals: [aes256gcm16] }
        """;

    /// <summary>The gateway: one pubkey connection (more when given), its key, the CRL.</summary>
    private string Gateway(string gw = "gw", string gwId = "gw.test", string remoteId = "%any", string extraRemote = "", string connections = "",
        string crls = "", string extraConnection = "") => $$"""
        listen: { addresses: [127.0.0.1], ike_port: 0, natt_port: 0 }
        {{crls}}
        connections:
        {{connections}}
          rw:
            {{extraConnection}}
            local: { auth: pubkey, certs: [{{pki.Cert(gw)}}, {{pki.Cert("im")}}], id: {{gwId}} }
            remote: { auth: pubkey, cacerts: [{{pki.Cert("root")}}], id: "{{remoteId}}" {{extraRemote}} }
        {{Child}}
        secrets:
          private-gw: { file: {{pki.Key(gw)}} }
        """;

    /// <summary>A client: its certificate (and the intermediate, sent with it), trusting the root for the gateway.</summary>
    private string Client(string name, string? id, string gwId = "gw.test", string auth = "pubkey", bool sendIntermediate = true, string extra = "") => $$"""
        listen: { addresses: [127.0.0.1], ike_port: 0, natt_port: 0 }
        connections:
          site:
            remote_addrs: [127.0.0.1]
            {{extra}}
            local: { auth: {{auth}}, certs: [{{pki.Cert(name)}}{{(sendIntermediate ? ", " + pki.Cert("im") : "")}}] {{(id is null ? "" : $", id: \"{id}\"")}} }
            remote: { auth: pubkey, cacerts: [{{pki.Cert("root")}}], id: {{gwId}} }
            children:
              net: { local_ts: [10.200.1.0/24], remote_ts: [10.10.0.0/16], esp_proposals: [aes256gcm16] }
        secrets:
          private-me: { file: {{pki.Key(name)}} }
        """;

    internal sealed record Run(RekeyHarness.Side I, RekeyHarness.Side R, ConcentratorMetrics Responder, ConcentratorMetrics Initiator);

    private static Run Handshake(string responderYaml, string initiatorYaml, ConnectionConfig? initiatorConnection = null) =>
        Handshake(ConcentratorConfig.Parse(responderYaml, "<r>"), ConcentratorConfig.Parse(initiatorYaml, "<i>"), initiatorConnection);

    /// <summary>One IKE_SA_INIT and IKE_AUTH between two SAs in process, each with metrics of its own.</summary>
    internal static Run Handshake(ConcentratorConfig rConfig, ConcentratorConfig iConfig, ConnectionConfig? initiatorConnection = null)
    {
        var rMetrics = new ConcentratorMetrics();
        var iMetrics = new ConcentratorMetrics();
        var rPlane = new InMemoryDataPlane();
        var iPlane = new InMemoryDataPlane();
        var i = new RekeyHarness.Side(IkeSa.CreateInitiator(new IkeSaContext { Resolver = new ConfigConnectionResolver(iConfig), DataPlane = iPlane, Metrics = iMetrics },
            initiatorConnection ?? iConfig.Connections["site"], 0x0A0B_0C0D_0E0F_1011, RekeyHarness.InitiatorEp, RekeyHarness.ResponderEp), iPlane, RekeyHarness.InitiatorEp);
        var r = new RekeyHarness.Side(IkeSa.CreateResponder(new IkeSaContext { Resolver = new ConfigConnectionResolver(rConfig), DataPlane = rPlane, Metrics = rMetrics },
            0x0A0B_0C0D_0E0F_1011, 0x2122_2324_2526_2728, RekeyHarness.ResponderEp, RekeyHarness.InitiatorEp, natT: false), rPlane, RekeyHarness.ResponderEp);
        i.Sa.Initiate();
        RekeyHarness.Pump(i, r);
        return new Run(i, r, rMetrics, iMetrics);
    }

    internal static void AssertEstablished(Run run, string connection = "rw")
    {
        Assert.Equal(IkeSaState.Established, run.R.Sa.State);
        Assert.Equal(IkeSaState.Established, run.I.Sa.State);
        Assert.Equal(connection, run.R.Sa.Connection!.Name);
        Assert.Equal(1, run.R.Plane.InstalledCount);
        Assert.Equal(1, run.I.Plane.InstalledCount);
        Assert.Equal(0, Failures(run.Responder));
        Assert.Equal(0, Failures(run.Initiator));
    }

    /// <summary>The responder answered AUTHENTICATION_FAILED (the initiator saw it and closed) for <paramref name="reason"/>, counted once.</summary>
    internal static void AssertRefused(Run run, string reason)
    {
        Assert.NotEqual(IkeSaState.Established, run.R.Sa.State);
        Assert.NotEqual(IkeSaState.Established, run.I.Sa.State);
        Assert.Equal(CloseReason.AuthFailed, run.R.Seen.OfType<IkeSaClosed>().Single().Reason);
        Assert.Equal(CloseReason.AuthFailed, run.I.Seen.OfType<IkeSaClosed>().Single().Reason);
        Assert.Equal(0, run.R.Plane.InstalledCount);
        var m = Scrape(run.Responder);
        Assert.Equal(1, m.Sum("concentrator_ike_auth_failures_total", ("role", "responder"), ("reason", reason)));
        Assert.Equal(1, m.Sum("concentrator_ike_auth_failures_total"));
        Assert.Equal(1, Scrape(run.Initiator).Sum("concentrator_ike_auth_failures_total", ("role", "initiator"), ("reason", "refused_by_peer")));
    }

    internal static MetricsText Scrape(ConcentratorMetrics metrics)
    {
        using var stream = new MemoryStream();
        metrics.Registry.CollectAndExportAsTextAsync(stream).GetAwaiter().GetResult();
        return new MetricsText(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }

    private static double Failures(ConcentratorMetrics metrics) => Scrape(metrics).Sum("concentrator_ike_auth_failures_total");

    // ---- both ways ----

    [Fact]
    public void Rsa_certificates_through_an_intermediate_authenticate_both_ways()
    {
        var run = Handshake(Gateway(), Client("alice", "alice.test"));
        AssertEstablished(run);
        Assert.Equal("alice.test", run.R.Sa.RemoteId!.Text);
        Assert.Equal("gw.test", run.I.Sa.RemoteId!.Text);
        Assert.Equal("\"C=CH, O=Test, CN=alice\" (subjectAltName alice.test, alice@test.example)", run.R.Sa.PeerCertificateSubject);
        Assert.Equal("\"C=CH, O=Test, CN=gw.test\" (subjectAltName gw.test)", run.I.Sa.PeerCertificateSubject);

        // Both sent SIGNATURE_HASH_ALGORITHMS (RFC 7427: both sign with method 14); the gateway's IKE_SA_INIT carries a
        // CERTREQ naming its one CA by the SHA-1 of its public key (so the client sent its certificate and intermediate).
        Assert.Equal(SignatureAuth.Supported, run.R.Sa.PeerSignatureHashes);
        Assert.Equal(SignatureAuth.Supported, run.I.Sa.PeerSignatureHashes);
        Assert.Equal(IkeCodec.TryDecode(run.R.Seen.OfType<SendMessage>().First().Datagram, out var init), ParseStatus.Ok);
        var certreq = Assert.Single(init!.GetAll<CertPayload>());
        Assert.Equal((PayloadType.CertificateRequest, CertEncoding.X509Signature), (certreq.Type, certreq.Encoding));
        Assert.Equal(SHA1.HashData(pki.Root.Certificate.PublicKey.ExportSubjectPublicKeyInfo()), certreq.Data);
        Assert.True(run.I.Sa.PeerRequestedCertificate);
        Assert.True(run.R.Sa.PeerRequestedCertificate);
    }

    [Fact]
    public void Ecdsa_certificates_authenticate_both_ways()
    {
        var run = Handshake(Gateway(gw: "gw-ec", gwId: "gw-ec.test"), Client("carol", "carol.test", gwId: "gw-ec.test"));
        AssertEstablished(run);
        Assert.Equal("carol.test", run.R.Sa.RemoteId!.Text);
    }

    [Fact]
    public void Rsassa_pss_signatures_authenticate_the_client()
    {
        var run = Handshake(Gateway(), Client("alice", "alice@test.example", auth: "rsa/pss"));
        AssertEstablished(run);
        Assert.Equal("alice@test.example", run.R.Sa.RemoteId!.Text);
    }

    /// <summary>Without local.id a client is its certificate's subject DN (strongSwan's default), matched by a DN pattern.</summary>
    [Fact]
    public void A_client_without_an_id_is_its_subject_dn_and_matches_a_dn_pattern()
    {
        var run = Handshake(Gateway(remoteId: "C=CH, O=Test, CN=*"), Client("alice", id: null));
        AssertEstablished(run);
        Assert.Equal("C=CH, O=Test, CN=alice", run.R.Sa.RemoteId!.Text);

        run = Handshake(Gateway(remoteId: "C=CH, O=Elsewhere, CN=*"), Client("alice", id: null));
        AssertRefused(run, "no_connection");
    }

    /// <summary>Two connections that differ only by CA: the one that trusts the client's chain is taken, whatever the order.</summary>
    [Fact]
    public void The_connection_whose_ca_trusts_the_client_is_chosen()
    {
        var otherCa = $$"""
              contractors:
                local: { auth: pubkey, certs: [{{pki.Cert("gw")}}, {{pki.Cert("im")}}], id: gw.test }
                remote: { auth: pubkey, cacerts: [{{pki.Files.WriteCert("other-root.pem", pki.Files.Ca("C=CH, O=Contractors, CN=Root", TestKey.EcdsaP256))}}], id: "%any" }
            {{Child}}
            """;
        var run = Handshake(Gateway(connections: otherCa), Client("alice", "alice.test"));
        AssertEstablished(run, "rw");
    }

    /// <summary>remote.certs pins the client: no CA needed, and the client need not send its certificate (send_cert never).</summary>
    [Fact]
    public void A_pinned_certificate_authenticates_without_a_ca_and_without_cert_payloads()
    {
        var gateway = $$"""
            listen: { addresses: [127.0.0.1], ike_port: 0, natt_port: 0 }
            connections:
              rw:
                local: { auth: pubkey, certs: [{{pki.Cert("gw")}}, {{pki.Cert("im")}}], id: gw.test }
                remote: { auth: pubkey, certs: [{{pki.Cert("carol")}}], id: carol.test }
            {{Child}}
            secrets:
              private-gw: { file: {{pki.Key("gw")}} }
            """;
        var run = Handshake(gateway, Client("carol", "carol.test", extra: "send_cert: never"));
        AssertEstablished(run);

        // Another client with a certificate the same CA issued is not the pinned one; without a CERTREQ (no cacerts on the
        // gateway) it sends none unless send_cert always.
        var anyone = gateway.Replace("id: carol.test", "id: \"%any\"");
        AssertRefused(Handshake(anyone, Client("alice", "alice.test")), "no_certificate");
        AssertRefused(Handshake(anyone, Client("alice", "alice.test", extra: "send_cert: always")), "untrusted");
    }

    // ---- refusals ----

    [Fact]
    public void A_certificate_of_another_ca_is_untrusted()
    {
        AssertRefused(Handshake(Gateway(), Client("mallory", "mallory.test", sendIntermediate: false)), "untrusted");
    }

    [Fact]
    public void Without_its_intermediate_the_chain_does_not_reach_the_root()
    {
        AssertRefused(Handshake(Gateway(), Client("alice", "alice.test", sendIntermediate: false)), "untrusted");
    }

    [Fact]
    public void An_expired_certificate_is_refused()
    {
        AssertRefused(Handshake(Gateway(), Client("old", "old.test")), "expired");
    }

    [Fact]
    public void A_revoked_certificate_is_refused_and_the_crl_spares_the_others()
    {
        var gateway = Gateway(crls: $"crls: [{pki.Crl}]");
        AssertRefused(Handshake(gateway, Client("gone", "gone.test")), "revoked");
        AssertEstablished(Handshake(gateway, Client("carol", "carol.test")));
    }

    /// <summary>A client whose certificate does not name the identity the gateway expects (remote.id) finds no connection.</summary>
    [Fact]
    public void A_certificate_without_the_configured_identity_is_refused()
    {
        AssertRefused(Handshake(Gateway(remoteId: "carol.test"), Client("alice", "alice.test")), "no_connection");
    }

    /// <summary>
    /// A client that claims an identity its certificate does not name (our loader refuses such a local.id, so the client's
    /// round is built around it) is refused even where the gateway accepts any identity.
    /// </summary>
    [Fact]
    public void An_identity_that_is_not_in_the_certificate_is_refused()
    {
        var client = ConcentratorConfig.Parse(Client("alice", "alice.test"), "<i>");
        var honest = client.Connections["site"];
        var forged = new ConnectionConfig
        {
            Name = honest.Name,
            RemoteAddrs = honest.RemoteAddrs,
            Proposals = honest.Proposals,
            Local = new AuthConfig { Auth = AuthConfig.PubKey, Id = "carol.test", Certificate = honest.Local.Certificate },
            Remote = honest.Remote,
            Children = honest.Children,
        };
        var run = Handshake(Gateway(), Client("alice", "alice.test"), forged);
        AssertRefused(run, "identity_mismatch");
        Assert.Single(run.R.Seen.OfType<PeerAuthFailed>(), f => f.Reason == AuthFailure.IdentityMismatch && f.PeerId == "carol.test");
    }

    /// <summary>Our loader refuses such a certificate for local.certs, so the client's round is built around it.</summary>
    [Fact]
    public void An_extended_key_usage_without_ike_is_refused()
    {
        var honest = ConcentratorConfig.Parse(Client("carol", "carol.test"), "<i>").Connections["site"];
        var mail = new ConnectionConfig
        {
            Name = honest.Name,
            RemoteAddrs = honest.RemoteAddrs,
            Proposals = honest.Proposals,
            Local = new AuthConfig
            {
                Auth = AuthConfig.PubKey, Id = "mail.test", Certificate = new LocalCertificate(pki.MailOnly.Certificate, [pki.Intermediate.Certificate], pki.MailOnly.Key),
            },
            Remote = honest.Remote,
            Children = honest.Children,
        };
        AssertRefused(Handshake(Gateway(), Client("carol", "carol.test"), mail), "key_usage");
    }

    /// <summary>revocation strict: every certificate below the root needs a current CRL of its issuer (the intermediate's and the root's).</summary>
    [Fact]
    public void Strict_revocation_refuses_a_chain_without_a_current_crl()
    {
        AssertRefused(Handshake(Gateway(extraRemote: ", revocation: strict", crls: $"crls: [{pki.Crl}]"), Client("carol", "carol.test")), "revocation_unknown");
        var rootCrl = pki.Files.WriteCrl("root.crl", pki.Root, []);
        AssertEstablished(Handshake(Gateway(extraRemote: ", revocation: strict", crls: $"crls: [{pki.Crl}, {rootCrl}]"), Client("carol", "carol.test")));
        var staleRootCrl = pki.Files.WriteCrl("root-stale.crl", pki.Root, [], nextUpdate: DateTimeOffset.UtcNow.AddMinutes(-10));
        AssertRefused(Handshake(Gateway(extraRemote: ", revocation: strict", crls: $"crls: [{pki.Crl}, {staleRootCrl}]"), Client("carol", "carol.test")),
            "revocation_unknown");
    }

    /// <summary>
    /// Peer bytes in CERT payloads: junk and too many certificates are a counted refusal (malformed_certificate), never an
    /// exception; an X.509 certificate in another encoding is not read; a signature that does not verify is bad_signature.
    /// </summary>
    [Fact]
    public void Hostile_cert_payloads_and_signatures_are_refused_without_throwing()
    {
        var conn = ConcentratorConfig.Parse(Gateway(), "<r>").Connections["rw"];
        var peer = Identity.Parse("alice.test");
        var octets = new byte[64];
        // sha256WithRSAEncryption (RFC 7427 A.1) and a signature of junk.
        var auth = new AuthPayload(AuthMethod.DigitalSignature, [15, .. Convert.FromHexString("300d06092a864886f70d01010b0500"), .. new byte[256]]);
        IkeMessage With(params CertPayload[] certs) => new(default, [.. certs]);
        CertPayload Cert(byte[] data, CertEncoding encoding = CertEncoding.X509Signature) => new(PayloadType.Certificate, encoding, data);

        Assert.Equal(AuthFailure.MalformedCertificate, CertificateAuth.Verify([conn], With(Cert([0x30, 0x82, 0xff])), peer, auth, octets).Failure);
        Assert.Equal(AuthFailure.MalformedCertificate, CertificateAuth.Verify([conn], With(Cert([])), peer, auth, octets).Failure);
        var alice = pki.Alice.Certificate.RawData;
        Assert.Equal(AuthFailure.MalformedCertificate,
            CertificateAuth.Verify([conn], With(Enumerable.Range(0, 9).Select(_ => Cert(alice)).ToArray()), peer, auth, octets).Failure);
        Assert.Equal(AuthFailure.NoCertificate, CertificateAuth.Verify([conn], With(Cert(alice, CertEncoding.Pkcs7WrappedX509)), peer, auth, octets).Failure);
        Assert.Equal(AuthFailure.BadSignature, CertificateAuth.Verify([conn], With(Cert(alice)), peer, auth, octets).Failure);
        var rsaAuth = new AuthPayload(AuthMethod.RsaDigitalSignature, new byte[256]);
        Assert.Equal(AuthFailure.BadSignature, CertificateAuth.Verify([conn], With(Cert(alice)), peer, rsaAuth, octets).Failure);
        // ECDSA methods against alice's RSA key.
        Assert.Equal(AuthFailure.UnsupportedMethod,
            CertificateAuth.Verify([conn], With(Cert(alice)), peer, new AuthPayload(AuthMethod.EcdsaSha256P256, new byte[64]), octets).Failure);
        Assert.Equal(AuthFailure.UnsupportedMethod, CertificateAuth.Verify([conn], With(Cert(alice)), peer,
            new AuthPayload(AuthMethod.DigitalSignature, [12, .. Convert.FromHexString("300a06082a8648ce3d040302"), 1, 2]), octets).Failure);
    }

    /// <summary>
    /// The client refuses the gateway's certificate after the gateway authenticated it and established: as strongSwan's
    /// initiator, it says so in an INFORMATIONAL with AUTHENTICATION_FAILED (message ID of the IKE_AUTH plus one, sent once),
    /// and the gateway drops the SA and its Child SA at once (strongSwan's responder deletes it too) instead of holding
    /// them until liveness checks fail; both count it.
    /// </summary>
    [Fact]
    public void A_client_that_refuses_the_gateways_certificate_tells_it_and_the_gateway_drops_the_sa()
    {
        var client = $$"""
            listen: { addresses: [127.0.0.1], ike_port: 0, natt_port: 0 }
            connections:
              site:
                remote_addrs: [127.0.0.1]
                local: { auth: pubkey, certs: [{{pki.Cert("alice")}}, {{pki.Cert("im")}}], id: alice.test }
                remote: { auth: pubkey, cacerts: [{{pki.Cert("root")}}], certs: [{{pki.Cert("gw-ec")}}], id: "*.test" }
                children:
                  net: { local_ts: [10.200.1.0/24], remote_ts: [10.10.0.0/16], esp_proposals: [aes256gcm16] }
            secrets:
              private-me: { file: {{pki.Key("alice")}} }
            """;
        var run = Handshake(Gateway(), client);
        Assert.Equal(CloseReason.AuthFailed, run.I.Seen.OfType<IkeSaClosed>().Single().Reason);
        Assert.Equal(1, Scrape(run.Initiator).Sum("concentrator_ike_auth_failures_total", ("role", "initiator"), ("reason", "untrusted")));
        Assert.Equal(IkeSaState.Destroyed, run.R.Sa.State);
        Assert.Equal(CloseReason.AuthFailed, run.R.Seen.OfType<IkeSaClosed>().Single().Reason);
        Assert.Equal(0, run.R.Plane.InstalledCount);
        Assert.Equal(1, Scrape(run.Responder).Sum("concentrator_ike_auth_failures_total", ("role", "responder"), ("reason", "refused_by_peer")));
        Assert.Equal(1, Failures(run.Responder));
    }

    /// <summary>A PSK client is not taken by a pubkey connection (the remote round's method must be the peer's).</summary>
    [Fact]
    public void A_psk_peer_does_not_reach_a_pubkey_connection()
    {
        var client = """
            listen: { addresses: [127.0.0.1], ike_port: 0, natt_port: 0 }
            connections:
              site:
                remote_addrs: [127.0.0.1]
                local: { auth: psk, id: alice.test }
                remote: { auth: psk, id: gw.test }
                children:
                  net: { local_ts: [10.200.1.0/24], remote_ts: [10.10.0.0/16], esp_proposals: [aes256gcm16] }
            secrets:
              ike: { secret: "some-psk-0123456789abcdef" }
            """;
        AssertRefused(Handshake(Gateway(), client), "no_connection");
    }
}
