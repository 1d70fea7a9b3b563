using System.Security.Cryptography;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Crypto;
using Concentrator.Ike.Crypto.V1;
using Concentrator.Ike.Tasks.V1;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;
using Concentrator.Testbed.Support;

namespace Concentrator.Tests.Ike.Tasks.V1;

/// <summary>
/// The IKEv1 certificate pieces on IKEv2's trust: SIG over HASH with the method the key implies, CERT after send_cert,
/// CR by CA DN, and the peer check (chain to remote.cacerts, identity in the certificate, signature) with each refusal.
/// </summary>
public sealed class V1CertificateAuthTests(V1CertificateAuthTests.Pki pki) : IClassFixture<V1CertificateAuthTests.Pki>
{
    public sealed class Pki : IDisposable
    {
        public Pki()
        {
            Files = new TestPki();
            Root = Files.Ca("C=CH, O=Test, CN=V1 Root CA", TestKey.Rsa2048);
            Other = Files.Ca("C=CH, O=Other, CN=Other Root CA", TestKey.EcdsaP256);
            Gateway = Files.EndEntity("C=CH, O=Test, CN=gw.test", TestKey.Rsa2048, Root, dns: ["gw.test"]);
            Carol = Files.EndEntity("C=CH, O=Test, CN=carol", TestKey.EcdsaP384, Root, dns: ["carol.test"]);
            Mallory = Files.EndEntity("C=CH, O=Other, CN=carol", TestKey.EcdsaP384, Other, dns: ["carol.test"]);
        }

        public TestPki Files { get; }
        public Issued Root { get; }
        public Issued Other { get; }
        public Issued Gateway { get; }
        public Issued Carol { get; }
        public Issued Mallory { get; }

        public void Dispose() => Files.Dispose();
    }

    private static readonly byte[] Hash = SHA256.HashData("HASH_I"u8);

    private ConnectionConfig Connection(Issued local, string remoteId = "%any", SendCertPolicy sendCert = SendCertPolicy.IfAsked, Issued? ca = null) => new()
    {
        Name = "v1",
        Version = 1,
        SendCert = sendCert,
        Local = new AuthConfig { Auth = AuthConfig.PubKey, Certificate = new LocalCertificate(local.Certificate, [], local.Key) },
        Remote = new AuthConfig { Auth = AuthConfig.PubKey, Id = remoteId, Trust = new PeerTrust { CaCertificates = [(ca ?? pki.Root).Certificate] } },
    };

    private static Identity Dn(Issued issued) => Identity.FromDistinguishedName(issued.Certificate.SubjectName.RawData)!;

    [Fact]
    public void Methods_follow_the_key()
    {
        Assert.Equal(Phase1AuthMethod.RsaSignature, V1CertificateAuth.MethodFor(Connection(pki.Gateway).Local));
        Assert.Equal(Phase1AuthMethod.EcdsaSha384, V1CertificateAuth.MethodFor(Connection(pki.Carol).Local));
        Assert.Null(V1CertificateAuth.MethodFor(new AuthConfig()));
    }

    /// <summary>RSA and ECDSA peers each pass with their certificate, the CA chain and their DN or subjectAltName.</summary>
    [Theory]
    [InlineData("carol", "C=CH, O=Test, CN=carol")]
    [InlineData("carol", "carol.test")]
    [InlineData("gw", "C=CH, O=Test, CN=gw.test")]
    [InlineData("gw", "gw.test")]
    public void A_signed_hash_with_a_trusted_certificate_authenticates(string who, string id)
    {
        var peer = who == "carol" ? pki.Carol : pki.Gateway;
        var peerSide = Connection(peer, sendCert: SendCertPolicy.Always);
        var ours = Connection(pki.Gateway, remoteId: "%any");
        var method = V1CertificateAuth.MethodFor(peerSide.Local)!.Value;
        var sig = V1CertificateAuth.Sign(peerSide.Local, method, Hash);
        List<V1Payload> message = [.. V1CertificateAuth.Certificates(peerSide, peerRequested: false), sig];
        var verdict = V1CertificateAuth.Verify([ours], message, Identity.Parse(id), method, sig.Data, Hash);
        Assert.Same(ours, verdict.Connection);
        Assert.Contains("CN=" + (who == "carol" ? "carol" : "gw.test"), verdict.Subject);
    }

    [Fact]
    public void A_certificate_of_another_ca_is_refused()
    {
        var peerSide = Connection(pki.Mallory, sendCert: SendCertPolicy.Always);
        var sig = V1CertificateAuth.Sign(peerSide.Local, Phase1AuthMethod.EcdsaSha384, Hash);
        var verdict = V1CertificateAuth.Verify([Connection(pki.Gateway)], [.. V1CertificateAuth.Certificates(peerSide, false), sig],
            Identity.Parse("carol.test"), Phase1AuthMethod.EcdsaSha384, sig.Data, Hash);
        Assert.Null(verdict.Connection);
        Assert.Equal(AuthFailure.Untrusted, verdict.Failure);
        // The same certificate passes where its CA is trusted: the refusal above is the CA's.
        Assert.NotNull(V1CertificateAuth.Verify([Connection(pki.Gateway, ca: pki.Other)], [.. V1CertificateAuth.Certificates(peerSide, false), sig],
            Identity.Parse("carol.test"), Phase1AuthMethod.EcdsaSha384, sig.Data, Hash).Connection);
    }

    [Fact]
    public void An_identity_the_certificate_does_not_name_is_refused()
    {
        var peerSide = Connection(pki.Carol, sendCert: SendCertPolicy.Always);
        var sig = V1CertificateAuth.Sign(peerSide.Local, Phase1AuthMethod.EcdsaSha384, Hash);
        List<V1Payload> message = [.. V1CertificateAuth.Certificates(peerSide, false), sig];
        var verdict = V1CertificateAuth.Verify([Connection(pki.Gateway)], message, Identity.Parse("gw.test"), Phase1AuthMethod.EcdsaSha384, sig.Data, Hash);
        Assert.Equal(AuthFailure.IdentityMismatch, verdict.Failure);
        Assert.Null(verdict.Connection);
    }

    [Fact]
    public void A_wrong_signature_method_or_hash_is_refused()
    {
        var peerSide = Connection(pki.Carol, sendCert: SendCertPolicy.Always);
        var sig = V1CertificateAuth.Sign(peerSide.Local, Phase1AuthMethod.EcdsaSha384, Hash);
        List<V1Payload> message = [.. V1CertificateAuth.Certificates(peerSide, false), sig];
        var carol = Identity.Parse("carol.test");
        Assert.Equal(AuthFailure.BadSignature,
            V1CertificateAuth.Verify([Connection(pki.Gateway)], message, carol, Phase1AuthMethod.EcdsaSha384, sig.Data, SHA256.HashData("other"u8)).Failure);
        Assert.Equal(AuthFailure.UnsupportedMethod,
            V1CertificateAuth.Verify([Connection(pki.Gateway)], message, carol, Phase1AuthMethod.RsaSignature, sig.Data, Hash).Failure);
        Assert.Equal(AuthFailure.UnsupportedMethod,
            V1CertificateAuth.Verify([Connection(pki.Gateway)], message, carol, Phase1AuthMethod.PreSharedKey, sig.Data, Hash).Failure);
        // No CERT and nothing pinned: no certificate to check with.
        Assert.Equal(AuthFailure.NoCertificate,
            V1CertificateAuth.Verify([Connection(pki.Gateway)], [sig], carol, Phase1AuthMethod.EcdsaSha384, sig.Data, Hash).Failure);
        // A CERT that is not X.509: malformed, never an exception.
        Assert.Equal(AuthFailure.MalformedCertificate, V1CertificateAuth.Verify([Connection(pki.Gateway)],
            [new V1CertPayload(V1CertEncoding.X509Signature, [0x30, 0x03, 0x02, 0x01]), sig], carol, Phase1AuthMethod.EcdsaSha384, sig.Data, Hash).Failure);
    }

    [Fact]
    public void Certificates_follow_send_cert_and_requests_name_the_ca_dn()
    {
        var c = Connection(pki.Gateway);
        Assert.Empty(V1CertificateAuth.Certificates(c, peerRequested: false));
        var sent = Assert.Single(V1CertificateAuth.Certificates(c, peerRequested: true));
        Assert.Equal(pki.Gateway.Certificate.RawData, sent.Data);
        Assert.Equal(V1PayloadType.Certificate, sent.Type);
        Assert.Empty(V1CertificateAuth.Certificates(Connection(pki.Gateway, sendCert: SendCertPolicy.Never), peerRequested: true));
        Assert.Single(V1CertificateAuth.Certificates(Connection(pki.Gateway, sendCert: SendCertPolicy.Always), peerRequested: false));

        var requests = V1CertificateAuth.Requests([c, Connection(pki.Carol), Connection(pki.Carol, ca: pki.Other)]).ToList();
        Assert.Equal(2, requests.Count);
        Assert.All(requests, r => Assert.Equal(V1PayloadType.CertificateRequest, r.Type));
        Assert.Equal(pki.Root.Certificate.SubjectName.RawData, requests[0].Data);
        Assert.Equal(pki.Other.Certificate.SubjectName.RawData, requests[1].Data);
        Assert.True(V1CertificateAuth.Requested(requests));
        Assert.False(V1CertificateAuth.Requested([sent]));
        Assert.Empty(V1CertificateAuth.Requests([new ConnectionConfig { Version = 1 }]));
    }

    [Fact]
    public void Identities_map_both_ways_and_selectors_are_not_identities()
    {
        var dn = Dn(pki.Carol);
        var payload = V1Identities.ToPayload(dn);
        Assert.Equal(V1IdType.DerAsn1Dn, payload.IdType);
        Assert.Equal(dn, V1Identities.FromPayload(payload));
        Assert.Equal(Identity.Parse("carol.test"), V1Identities.FromPayload(new V1IdPayload(V1IdType.Fqdn, "carol.test"u8.ToArray())));
        Assert.Equal(Identity.Parse("192.0.2.1"), V1Identities.FromPayload(new V1IdPayload(V1IdType.Ipv4Address, [192, 0, 2, 1])));
        Assert.Null(V1Identities.FromPayload(new V1IdPayload(V1IdType.Ipv4Subnet, [192, 0, 2, 0, 255, 255, 255, 0])));
    }
}
