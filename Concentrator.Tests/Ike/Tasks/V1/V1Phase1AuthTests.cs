using System.Net;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.Hosting;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Sa.V1;
using Concentrator.Ike.Tasks.V1;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;
using Concentrator.Telemetry;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Security;
using Microsoft.Extensions.Logging;

namespace Concentrator.Tests.Ike.Tasks.V1;

/// <summary>
/// Our IKEv1 initiator against our responder, two <see cref="IkeV1Sa"/> wired in process (no ActorSystem): main mode
/// with RSA and ECDSA certificates, a foreign CA and an identity the certificate does not name refused; aggressive mode
/// with PSK and certificates, refused unless the connection opts in; hostile aggressive first messages refused by the gate.
/// </summary>
public sealed class V1Phase1AuthTests(V1Phase1AuthTests.Pki pki) : IClassFixture<V1Phase1AuthTests.Pki>
{
    public sealed class Pki : IDisposable
    {
        public Pki()
        {
            Files = new TestPki();
            var root = Files.Ca("C=CH, O=Test, CN=V1 Root CA", TestKey.Rsa2048);
            var other = Files.Ca("C=CH, O=Other, CN=Other Root CA", TestKey.Rsa2048);
            Files.WriteCert("root.pem", root);
            Files.WriteCert("other.pem", other);
            foreach (var (name, kind, issuer) in new[] { ("gw", TestKey.Rsa2048, root), ("client", TestKey.Rsa2048, root), ("gw-ec", TestKey.EcdsaP256, root),
                         ("client-ec", TestKey.EcdsaP256, root), ("mallory", TestKey.Rsa2048, other) })
            {
                var issued = Files.EndEntity($"C=CH, O=Test, CN={name}.test", kind, issuer, dns: [name + ".test"]);
                Files.WriteCert(name + ".pem", issued);
                Files.WriteKey(name + ".key", issued);
            }
        }

        public TestPki Files { get; }
        public string P(string file) => Path.Combine(Files.Dir, file);
        public void Dispose() => Files.Dispose();
    }

    private static readonly IPEndPoint IEp = new(IPAddress.Parse("192.0.2.1"), 500);
    private static readonly IPEndPoint REp = new(IPAddress.Parse("192.0.2.2"), 500);

    private string CertConfig(string me, string peerId, string ca = "root", string extra = "") => $$"""
        listen: { addresses: [0.0.0.0], ike_port: 0, natt_port: 0 }
        connections:
          v1:
            version: 1
            remote_addrs: [192.0.2.0/24]
            proposals: [aes128-sha256-modp2048]
            {{extra}}
            local: { auth: pubkey, certs: [{{pki.P(me + ".pem")}}] }
            remote: { auth: pubkey, cacerts: [{{pki.P(ca + ".pem")}}], id: "{{peerId}}" }
        secrets:
          private-me: { file: {{pki.P(me + ".key")}} }
        """;

    private static string PskConfig(string localId, string remoteId, string extra = "") => $$"""
        listen: { addresses: [0.0.0.0], ike_port: 0, natt_port: 0 }
        connections:
          v1:
            version: 1
            remote_addrs: [192.0.2.0/24]
            proposals: [aes128-sha256-modp2048]
            {{extra}}
            local: { auth: psk, id: "{{localId}}" }
            remote: { auth: psk, id: "{{remoteId}}" }
        secrets:
          ike-a: { id-1: "client@test", id-2: "gw.test", secret: "a pre-shared key of some length" }
        """;

    private sealed record Pair(IkeV1Sa I, IkeV1Sa R, ConcentratorMetrics IMetrics, ConcentratorMetrics RMetrics, List<IkeEffect> IEffects, List<IkeEffect> REffects);

    /// <summary>Runs a handshake: our initiator of "v1" to our responder, datagrams passed until both are quiet.</summary>
    private static Pair Run(string responderYaml, string initiatorYaml)
    {
        var rConfig = ConcentratorConfig.Parse(responderYaml, "<r>");
        var iConfig = ConcentratorConfig.Parse(initiatorYaml, "<i>");
        var rm = new ConcentratorMetrics();
        var im = new ConcentratorMetrics();
        var i = IkeV1Sa.CreateInitiator(new IkeSaContext { Resolver = new ConfigConnectionResolver(iConfig), DataPlane = new InMemoryDataPlane(), Metrics = im },
            iConfig.Connections["v1"], 0x1111_2222_3333_4444, IEp, REp);
        var r = IkeV1Sa.CreateResponder(new IkeSaContext { Resolver = new ConfigConnectionResolver(rConfig), DataPlane = new InMemoryDataPlane(), Metrics = rm },
            0x1111_2222_3333_4444, 0x5555_6666_7777_8888, REp, IEp, natT: false);
        var pair = new Pair(i, r, im, rm, [], []);
        i.Initiate();
        for (int round = 0; round < 20; round++)
        {
            bool moved = Deliver(i, r, pair.IEffects, REp, IEp) | Deliver(r, i, pair.REffects, IEp, REp);
            if (!moved) break;
        }
        return pair;
    }

    private static bool Deliver(IkeV1Sa from, IkeV1Sa to, List<IkeEffect> log, IPEndPoint toLocal, IPEndPoint fromRemote)
    {
        bool moved = false;
        foreach (var effect in from.DrainEffects())
        {
            log.Add(effect);
            if (effect is not SendMessage send) continue;
            Assert.Equal(ParseStatus.Ok, IsakmpHeader.TryParse(send.Datagram, out var header));
            to.HandleDatagram(new V1Inbound(send.Datagram, header, fromRemote, toLocal, false));
            moved = true;
        }
        return moved;
    }

    private static string Failure(Pair p) => string.Join("; ", p.IEffects.Concat(p.REffects).OfType<PeerAuthFailed>().Select(f => $"{f.Reason}: {f.Detail}"));

    [Theory]
    [InlineData("gw", "client")]
    [InlineData("gw-ec", "client-ec")]
    public void Main_mode_with_certificates_establishes_with_the_certificate_identities(string gw, string client)
    {
        // The gateway names itself by its subjectAltName (local.id), the client by its subject DN (the default).
        var p = Run(CertConfig(gw, $"C=CH, O=Test, CN={client}.test").Replace("local: { auth: pubkey,", $"local: {{ auth: pubkey, id: {gw}.test,"),
            CertConfig(client, $"{gw}.test"));
        Assert.True(p.R.State == V1Phase1State.Established, Failure(p));
        Assert.True(p.I.State == V1Phase1State.Established, Failure(p) + string.Join(",", p.IEffects.Select(e => e.GetType().Name)));
        Assert.Equal(gw == "gw" ? Phase1AuthMethod.RsaSignature : Phase1AuthMethod.EcdsaSha256, p.R.Suite.AuthMethod);
        Assert.Equal($"C=CH, O=Test, CN={client}.test", p.R.RemoteId!.Text);
        Assert.Equal($"{gw}.test", p.I.RemoteId!.Text);
        // CR went out with the KEs, so send_cert ifasked sent both certificates.
        Assert.True(p.I.PeerRequestedCertificate);
        Assert.True(p.R.PeerRequestedCertificate);
    }

    [Fact]
    public void Main_mode_refuses_a_certificate_of_another_ca()
    {
        var p = Run(CertConfig("gw", "%any"), CertConfig("mallory", "C=CH, O=Test, CN=gw.test"));
        Assert.Equal(V1Phase1State.Closed, p.R.State);
        Assert.NotEqual(V1Phase1State.Established, p.I.State);
        var failure = Assert.Single(p.REffects.OfType<PeerAuthFailed>());
        Assert.Equal(AuthFailure.Untrusted, failure.Reason);
    }

    [Fact]
    public void Main_mode_refuses_an_identity_the_connection_does_not_accept()
    {
        // The gateway wants another client; the client's certificate is trusted but its identity is not the one.
        var p = Run(CertConfig("gw", "C=CH, O=Test, CN=someone-else.test"), CertConfig("client", "C=CH, O=Test, CN=gw.test"));
        Assert.Equal(V1Phase1State.Closed, p.R.State);
        Assert.Equal(AuthFailure.IdentityMismatch, Assert.Single(p.REffects.OfType<PeerAuthFailed>()).Reason);
        // A remote id the gateway's certificate does not name fails on the initiator (the gateway sends its DN).
        p = Run(CertConfig("gw", "%any"), CertConfig("client", "elsewhere.test"));
        Assert.Equal(V1Phase1State.Closed, p.I.State);
        Assert.Equal(AuthFailure.IdentityMismatch, Assert.Single(p.IEffects.OfType<PeerAuthFailed>()).Reason);
    }

    [Fact]
    public void Aggressive_mode_psk_is_accepted_only_where_the_connection_opts_in()
    {
        var responderNo = PskConfig("gw.test", "client@test");
        var responderYes = PskConfig("gw.test", "client@test", "aggressive: yes");
        var initiator = PskConfig("client@test", "gw.test", "aggressive: yes");

        var refused = Run(responderNo, initiator);
        Assert.Equal(V1Phase1State.Closed, refused.R.State);
        Assert.NotEqual(V1Phase1State.Established, refused.I.State);
        Assert.Empty(refused.REffects.OfType<SendMessage>());

        var p = Run(responderYes, initiator);
        Assert.True(p.R.State == V1Phase1State.Established, Failure(p));
        Assert.Equal(V1Phase1State.Established, p.I.State);
        Assert.Equal("client@test", p.R.RemoteId!.Text);
        Assert.Equal("gw.test", p.I.RemoteId!.Text);
        // Three messages: 1 and 2 in clear, 3 encrypted.
        var sent = p.IEffects.OfType<SendMessage>().Concat(p.REffects.OfType<SendMessage>()).ToList();
        Assert.Equal(3, sent.Count);

        // A main mode initiator does not reach the aggressive-only connection (strongSwan's select_config).
        var main = Run(responderYes, PskConfig("client@test", "gw.test"));
        Assert.NotEqual(V1Phase1State.Established, main.R.State);
    }

    [Fact]
    public void Aggressive_mode_with_a_wrong_psk_fails_at_message_2()
    {
        var p = Run(PskConfig("gw.test", "client@test", "aggressive: yes"),
            PskConfig("client@test", "gw.test", "aggressive: yes").Replace("a pre-shared key of some length", "another key entirely"));
        Assert.Equal(V1Phase1State.Closed, p.I.State);
        Assert.Equal(AuthFailure.PskMismatch, Assert.Single(p.IEffects.OfType<PeerAuthFailed>()).Reason);
    }

    [Fact]
    public void Aggressive_mode_with_certificates_establishes()
    {
        var p = Run(CertConfig("gw-ec", "C=CH, O=Test, CN=client-ec.test", extra: "aggressive: yes"),
            CertConfig("client-ec", "C=CH, O=Test, CN=gw-ec.test", extra: "aggressive: yes"));
        Assert.True(p.R.State == V1Phase1State.Established, Failure(p));
        Assert.Equal(V1Phase1State.Established, p.I.State);
        Assert.Equal(Phase1AuthMethod.EcdsaSha256, p.I.Suite.AuthMethod);
    }

    /// <summary>The gate the supervisor asks before creating state: every malformed or unmatched first message is refused.</summary>
    [Fact]
    public void Hostile_aggressive_first_messages_are_refused_by_the_gate()
    {
        var yes = ConcentratorConfig.Parse(PskConfig("gw.test", "client@test", "aggressive: yes"), "<r>");
        var no = ConcentratorConfig.Parse(PskConfig("gw.test", "client@test"), "<r>");
        var candidates = yes.Connections.Values.ToList();
        var i = IkeV1Sa.CreateInitiator(new IkeSaContext { Resolver = new ConfigConnectionResolver(ConcentratorConfig.Parse(PskConfig("client@test", "gw.test",
            "aggressive: yes"), "<i>")), DataPlane = new InMemoryDataPlane() }, ConcentratorConfig.Parse(PskConfig("client@test", "gw.test", "aggressive: yes"), "<i>").Connections["v1"],
            0x0102_0304_0506_0708, IEp, REp);
        i.Initiate();
        var first = i.DrainEffects().OfType<SendMessage>().Single().Datagram;

        Assert.NotNull(AggressiveGate.Check(first, candidates, 64).Connection);
        Assert.Null(AggressiveGate.Check(first, no.Connections.Values.ToList(), 64).Connection);
        Assert.Contains("aggressive: yes", AggressiveGate.Check(first, no.Connections.Values.ToList(), 64).Why);
        Assert.Contains("client@test", AggressiveGate.Check(first, ConcentratorConfig.Parse(PskConfig("gw.test", "someone@else", "aggressive: yes"), "<r>")
            .Connections.Values.ToList(), 64).Why);
        // Every truncation and every single-octet change either is refused or still names the one connection.
        for (int cut = 0; cut < first.Length; cut++) Assert.Null(AggressiveGate.Check(first[..cut], candidates, 64).Connection);
        var rng = new Random(19);
        for (int n = 0; n < 2000; n++)
        {
            var copy = (byte[])first.Clone();
            copy[rng.Next(copy.Length)] ^= (byte)(1 + rng.Next(255));
            var verdict = AggressiveGate.Check(copy, candidates, 64);
            Assert.True(verdict.Connection is null || verdict.Connection.Name == "v1");
        }
        // Without ID, KE or nonce: refused.
        Assert.Equal(ParseStatus.Ok, IsakmpCodec.TryDecode(first, out var message, 64));
        foreach (var drop in new[] { V1PayloadType.Identification, V1PayloadType.KeyExchange, V1PayloadType.Nonce, V1PayloadType.SecurityAssociation })
        {
            Assert.Null(AggressiveGate.Check(message!.Payloads.Where(p => p.Type != drop).ToList(), candidates).Connection);
        }
    }

    [Fact]
    public void Aggressive_is_a_load_error_on_a_version_2_connection_and_warned_at_start()
    {
        var e = Assert.Throws<ConfigException>(() => ConcentratorConfig.Parse(PskConfig("a@b", "c@d", "aggressive: yes").Replace("version: 1", "version: 2")
            .Replace("proposals: [aes128-sha256-modp2048]", ""), "<x>"));
        Assert.Contains("aggressive", e.Message);
        var config = ConcentratorConfig.Parse(PskConfig("a@b", "c@d", "aggressive: yes"), "<x>");
        using var sink = new CapturingLoggerProvider();
        var log = sink.CreateLogger("test");
        Assert.Equal(1, AggressiveModeCheck.WarnEach(config, log));
        var line = Assert.Single(sink.Lines);
        Assert.Equal(5140, line.EventId);
        Assert.Equal(LogLevel.Warning, line.Level);
        Assert.Contains("offline", line.Message);
        Assert.Contains("v1", line.Message);
        Assert.Equal(0, AggressiveModeCheck.WarnEach(ConcentratorConfig.Parse(PskConfig("a@b", "c@d"), "<x>"), log));
    }
}
