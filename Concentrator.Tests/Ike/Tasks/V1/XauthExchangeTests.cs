using System.Net;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.Hosting;
using Concentrator.Ike.Attributes;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Sa.V1;
using Concentrator.Ike.Tasks.V1;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;
using Concentrator.Telemetry;
using Concentrator.Tests.Ike.Sa;

namespace Concentrator.Tests.Ike.Tasks.V1;

/// <summary>
/// The gateway's Transaction exchange on a real responder <see cref="IkeV1Sa"/>, without an actor: main mode PSK with our
/// initiator SA, then a scripted XAUTH client and Mode Config client (test code) that seals and opens with the
/// initiator's keys. XAUTH before quick mode, wrong passwords closing the SA, Mode Config only after XAUTH, leases
/// released when the SA dies, and every refusal counted.
/// </summary>
public sealed class XauthExchangeTests
{
    private static readonly IPEndPoint ClientEp = RekeyHarness.InitiatorEp;
    private static readonly IPEndPoint GatewayEp = RekeyHarness.ResponderEp;

    private static string Gateway(string extra = "", string pools = "p: { addrs: 10.9.0.0/24 }") => $$"""
        listen: { addresses: [127.0.0.1], ike_port: 0, natt_port: 0 }
        pools:
          {{pools}}
        connections:
          rw:
            version: 1
            proposals: [aes256-sha256-modp2048]
            local: { auth: psk, id: gw.test }
            remote: { auth: psk }
            remote-xauth: { auth: xauth }
            pools: [p]
        {{extra}}
            children:
              lan: { local_ts: [10.10.0.0/16] }
        secrets:
          ike: { secret: "gateway-shared-key-0123456789" }
          xauth-alice: { id: alice, secret: "alice-password" }
        """;

    private const string ClientYaml = """
        listen: { addresses: [127.0.0.1], ike_port: 0, natt_port: 0 }
        connections:
          rw:
            version: 1
            remote_addrs: [192.0.2.2]
            proposals: [aes256-sha256-modp2048]
            local: { auth: psk, id: client.test }
            remote: { auth: psk, id: gw.test }
            children:
              net: { remote_ts: [10.10.0.0/16] }
        secrets:
          ike: { secret: "gateway-shared-key-0123456789" }
        """;

    /// <summary>Main mode between our initiator and the gateway; then the test speaks Transaction messages as the client.</summary>
    private sealed class Pair : IDisposable
    {
        public IkeV1Sa Client { get; }
        public IkeV1Sa Gateway { get; }
        public ConcentratorMetrics Metrics { get; } = new();
        public AddressPools Pools { get; }
        /// <summary>The gateway's Transaction messages the client has not read yet.</summary>
        public Queue<byte[]> FromGateway { get; } = new();
        public List<IkeEffect> GatewayEffects { get; } = [];

        public Pair(string gatewayYaml)
        {
            var rConfig = ConcentratorConfig.Parse(gatewayYaml, "<r>");
            var iConfig = ConcentratorConfig.Parse(ClientYaml, "<i>");
            Pools = new AddressPools(rConfig.Pools.Values, TimeSpan.FromMinutes(5));
            Client = IkeV1Sa.CreateInitiator(new IkeSaContext { Resolver = new ConfigConnectionResolver(iConfig), DataPlane = new InMemoryDataPlane() },
                iConfig.Connections["rw"], 0x0A0B_0C0D_0E0F_1011, ClientEp, GatewayEp);
            Gateway = IkeV1Sa.CreateResponder(new IkeSaContext
            {
                Resolver = new ConfigConnectionResolver(rConfig), DataPlane = new InMemoryDataPlane(), Metrics = Metrics, Pools = Pools,
            }, 0x0A0B_0C0D_0E0F_1011, 0x2122_2324_2526_2728, GatewayEp, ClientEp, natT: false);
            Client.Initiate();
            Pump();
        }

        /// <summary>Carries main mode both ways; the gateway's Transaction messages go to <see cref="FromGateway"/>.</summary>
        public void Pump()
        {
            for (int round = 0; round < 20; round++)
            {
                bool moved = false;
                foreach (var e in Client.DrainEffects())
                {
                    if (e is SendMessage s)
                    {
                        Deliver(Gateway, s.Datagram, ClientEp, GatewayEp);
                        moved = true;
                    }
                }
                foreach (var e in Gateway.DrainEffects())
                {
                    GatewayEffects.Add(e);
                    if (e is not SendMessage s) continue;
                    Assert.Equal(ParseStatus.Ok, IsakmpHeader.TryParse(s.Datagram, out var h));
                    if (h.Exchange == V1ExchangeType.Transaction) FromGateway.Enqueue(s.Datagram);
                    else Deliver(Client, s.Datagram, GatewayEp, ClientEp);
                    moved = true;
                }
                if (!moved) return;
            }
            Assert.Fail("the exchange did not settle in 20 rounds");
        }

        private static void Deliver(IkeV1Sa to, byte[] datagram, IPEndPoint from, IPEndPoint at)
        {
            Assert.Equal(ParseStatus.Ok, IsakmpHeader.TryParse(datagram, out var header));
            to.HandleDatagram(new V1Inbound(datagram, header, from, at, ViaNatT: false));
        }

        /// <summary>The client reads the gateway's next Transaction message: its message ID and Attribute payload (HASH checked).</summary>
        public (uint MessageId, AttributePayload Attributes) Read()
        {
            Assert.NotEmpty(FromGateway);
            var datagram = FromGateway.Dequeue();
            Assert.Equal(ParseStatus.Ok, IsakmpCodec.TryDecode(datagram, out var message));
            Assert.Equal(ParseStatus.Ok, Client.Protector!.TryOpen(message!, out var plaintext, out var nextIv));
            var payloads = new List<V1Payload>();
            Assert.Equal(ParseStatus.Ok, IsakmpCodec.TryDecodeChain(message!.Header.NextPayload, plaintext, true, payloads, 16));
            var received = new V1ReceivedProbe(message.Header.MessageId, payloads);
            var expected = V1Hashes.WithHash1(Client, received.MessageId, [payloads[1]]);
            Assert.Equal(((V1DataPayload)expected[0]).Data, ((V1DataPayload)payloads[0]).Data);
            Client.Protector.Commit(received.MessageId, nextIv);
            return (received.MessageId, Assert.IsType<AttributePayload>(payloads[1]));
        }

        /// <summary>The client sends an Attribute payload under <paramref name="messageId"/> (HASH(1)-style, sealed with its keys);
        /// with <paramref name="tamper"/> a copy with one ciphertext bit flipped goes first (the client's IV moves once).</summary>
        public void Send(uint messageId, AttributePayload attributes, bool tamper = false)
        {
            Client.Send(V1ExchangeType.Transaction, messageId, V1Hashes.WithHash1(Client, messageId, [attributes]), encrypt: true, request: false);
            var datagram = Assert.IsType<SendMessage>(Assert.Single(Client.DrainEffects())).Datagram;
            if (tamper)
            {
                var forged = datagram.ToArray();
                // The second ciphertext block: the HASH value decrypts to other octets.
                forged[V1Constants.HeaderLength + 16] ^= 0x01;
                double dropped = Count("concentrator_ike_messages_dropped_total", ("reason", "integrity_check_failed"));
                Deliver(Gateway, forged, ClientEp, GatewayEp);
                Pump();
                Assert.Equal(dropped + 1, Count("concentrator_ike_messages_dropped_total", ("reason", "integrity_check_failed")));
                Assert.Empty(FromGateway);
            }
            Deliver(Gateway, datagram, ClientEp, GatewayEp);
            Pump();
        }

        public double Count(string family, params (string, string)[] labels) => CertificateAuthTests.Scrape(Metrics).Sum(family, labels);

        public void Dispose()
        {
            Client.Dispose();
            Gateway.Dispose();
        }
    }

    private sealed record V1ReceivedProbe(uint MessageId, List<V1Payload> Payloads);

    private static DataAttribute Var(CfgAttributeType type, string text = "") => DataAttribute.OfVariable((ushort)type, System.Text.Encoding.UTF8.GetBytes(text));

    private static AttributePayload Credentials(ushort id, string user, string password) =>
        new(CfgMessageType.Reply, id, [Var(CfgAttributeType.XauthUserName, user), Var(CfgAttributeType.XauthUserPassword, password)]);

    private static AttributePayload Ack(ushort id) => new(CfgMessageType.Ack, id, [Var(CfgAttributeType.XauthStatus)]);

    private static ushort Status(AttributePayload set)
    {
        Assert.Equal(CfgMessageType.Set, set.MessageType);
        return Assert.Single(set.Attributes, a => a.Type == (ushort)CfgAttributeType.XauthStatus).BasicValue;
    }

    /// <summary>XAUTH with <paramref name="password"/> up to the gateway's status; returns it.</summary>
    private static ushort Login(Pair p, string user, string password)
    {
        Assert.Equal(V1Phase1State.Established, p.Client.State);
        Assert.Equal(V1Phase1State.Authenticating, p.Gateway.State);
        var (mid, request) = p.Read();
        Assert.Equal(CfgMessageType.Request, request.MessageType);
        Assert.Contains(request.Attributes, a => a.Type == (ushort)CfgAttributeType.XauthUserPassword);
        p.Send(mid, Credentials(request.Identifier, user, password));
        var (statusMid, set) = p.Read();
        Assert.NotEqual(mid, statusMid);
        ushort status = Status(set);
        p.Send(statusMid, Ack(set.Identifier));
        return status;
    }

    [Fact]
    public void Xauth_then_mode_config_pull_gives_the_user_an_address_released_when_the_sa_dies()
    {
        using var p = new Pair(Gateway());
        Assert.NotNull(p.Gateway.QuickModeRefusal());
        Assert.Equal(1, Login(p, "alice", "alice-password"));
        Assert.Equal(V1Phase1State.Established, p.Gateway.State);
        Assert.Equal(Identity.Parse("alice"), p.Gateway.XauthUser);
        Assert.Equal(1, p.Count("concentrator_logins_total", ("method", "xauth"), ("outcome", "success")));

        // Before Mode Config the client has no address quick mode could accept for it (the connection has pools).
        Assert.Empty(p.Gateway.DynamicRemoteHosts());
        uint mid = p.Client.NewMessageId();
        p.Send(mid, new AttributePayload(CfgMessageType.Request, 9, [Var(CfgAttributeType.InternalIp4Address), Var(CfgAttributeType.InternalIp4Dns)]));
        var (replyMid, reply) = p.Read();
        Assert.Equal(mid, replyMid);
        Assert.Equal(CfgMessageType.Reply, reply.MessageType);
        Assert.Equal(9, reply.Identifier);
        var address = new IPAddress(Assert.Single(reply.Attributes, a => a.Type == (ushort)CfgAttributeType.InternalIp4Address).Value);
        Assert.Equal(IPAddress.Parse("10.9.0.1"), address);
        Assert.Null(p.Gateway.QuickModeRefusal());
        Assert.Equal([address], p.Gateway.DynamicRemoteHosts());
        Assert.True(p.Pools.IsLeasedTo(p.Gateway.VirtualIps.All[0], Identity.Parse("alice")));
        Assert.Equal(1, p.Pools.Usage().Single().InUse);

        p.Gateway.Fail(CloseReason.DeletedByPeer);
        p.Gateway.Dispose();
        Assert.Equal(0, p.Pools.Usage().Single().InUse);
    }

    [Theory]
    [InlineData("alice", "wrong-password")]
    [InlineData("mallory", "alice-password")]
    public void A_wrong_password_gets_status_0_and_closes_the_sa_counted(string user, string password)
    {
        using var p = new Pair(Gateway());
        Assert.Equal(0, Login(p, user, password));
        Assert.Equal(V1Phase1State.Closed, p.Gateway.State);
        Assert.Contains(p.GatewayEffects, e => e is PeerAuthFailed { Reason: AuthFailure.XauthFailed });
        Assert.Contains(p.GatewayEffects, e => e is IkeSaClosed { Reason: CloseReason.AuthFailed });
        Assert.Equal(1, p.Count("concentrator_logins_total", ("method", "xauth"), ("outcome", "xauth_failed")));
        Assert.Equal(1, p.Count("concentrator_ike_auth_failures_total", ("reason", "xauth_failed")));
        Assert.Null(p.Gateway.XauthUser);
        Assert.Equal(0, p.Pools.Usage().Single().InUse);
    }

    [Fact]
    public void A_malformed_reply_gets_status_0_and_closes_the_sa()
    {
        using var p = new Pair(Gateway());
        var (mid, request) = p.Read();
        p.Send(mid, new AttributePayload(CfgMessageType.Reply, request.Identifier, [Var(CfgAttributeType.XauthUserName, "alice")]));
        var (statusMid, set) = p.Read();
        Assert.Equal(0, Status(set));
        p.Send(statusMid, Ack(set.Identifier));
        Assert.Equal(V1Phase1State.Closed, p.Gateway.State);
        Assert.Contains(p.GatewayEffects, e => e is PeerAuthFailed { Detail: "XAUTH: MalformedReply" });
    }

    [Fact]
    public void Mode_config_before_xauth_succeeded_is_dropped_and_leases_nothing()
    {
        using var p = new Pair(Gateway());
        _ = p.Read();
        double before = p.Count("concentrator_ike_messages_dropped_total");
        p.Send(p.Client.NewMessageId(), new AttributePayload(CfgMessageType.Request, 1, [Var(CfgAttributeType.InternalIp4Address)]));
        Assert.Empty(p.FromGateway);
        Assert.Equal(V1Phase1State.Authenticating, p.Gateway.State);
        Assert.Empty(p.Gateway.VirtualIps.All);
        Assert.Equal(0, p.Pools.Usage().Single().InUse);
        Assert.True(p.Count("concentrator_ike_messages_dropped_total") > before);
    }

    [Fact]
    public void A_reply_under_an_unknown_message_id_or_with_a_bad_hash_is_dropped_and_xauth_goes_on()
    {
        using var p = new Pair(Gateway());
        var (mid, request) = p.Read();
        p.Send(p.Client.NewMessageId(), Credentials(request.Identifier, "alice", "alice-password"));
        Assert.Empty(p.FromGateway);
        Assert.Equal(XauthState.RequestSent, p.Gateway.Xauth!.State);
        // The forged copy is dropped with nothing moved; the genuine message after it is taken.
        p.Send(mid, Credentials(request.Identifier, "alice", "alice-password"), tamper: true);
        var (statusMid, set) = p.Read();
        Assert.Equal(1, Status(set));
        p.Send(statusMid, Ack(set.Identifier));
        Assert.Equal(V1Phase1State.Established, p.Gateway.State);
    }

    [Fact]
    public void A_client_that_never_answers_is_given_up_counted_as_an_xauth_timeout()
    {
        using var p = new Pair(Gateway());
        _ = p.Read();
        for (int i = 0; i <= IkeTunables.Default.RetransmitTries && p.Gateway.State != V1Phase1State.Closed; i++)
        {
            p.Gateway.OnRetransmitTimer();
            p.Pump();
        }
        Assert.Equal(V1Phase1State.Closed, p.Gateway.State);
        Assert.Equal(1, p.Count("concentrator_logins_total", ("method", "xauth"), ("outcome", "xauth_timeout")));
        Assert.Contains(p.GatewayEffects, e => e is IkeSaClosed { Reason: CloseReason.Timeout });
    }

    [Fact]
    public void An_exhausted_pool_is_answered_without_an_address_and_quick_mode_is_refused()
    {
        using var p = new Pair(Gateway(pools: "p: { addrs: 10.9.0.1-10.9.0.1 }"));
        var taken = p.Pools.Acquire(["p"], System.Net.Sockets.AddressFamily.InterNetwork, Identity.Parse("bob"), ClientEp);
        Assert.NotNull(taken);
        Assert.Equal(1, Login(p, "alice", "alice-password"));
        uint mid = p.Client.NewMessageId();
        p.Send(mid, new AttributePayload(CfgMessageType.Request, 3, [Var(CfgAttributeType.InternalIp4Address)]));
        var (_, reply) = p.Read();
        Assert.DoesNotContain(reply.Attributes, a => a.Type == (ushort)CfgAttributeType.InternalIp4Address);
        Assert.Equal("Mode Config assigned no virtual IP", p.Gateway.QuickModeRefusal());
        Assert.Empty(p.Gateway.DynamicRemoteHosts());
        Assert.Contains(p.GatewayEffects, e => e is V1RemoteAccessEvent { Kind: V1RemoteAccessKind.ModeConfigNoAddress });
    }

    [Fact]
    public void Push_sends_the_address_after_xauth_and_completes_on_the_ack()
    {
        using var p = new Pair(Gateway(extra: "    pull: no"));
        Assert.Equal(1, Login(p, "alice", "alice-password"));
        var (mid, set) = p.Read();
        Assert.Equal(CfgMessageType.Set, set.MessageType);
        Assert.Equal(IPAddress.Parse("10.9.0.1"), new IPAddress(Assert.Single(set.Attributes).Value));
        p.Send(mid, new AttributePayload(CfgMessageType.Ack, set.Identifier, [Var(CfgAttributeType.InternalIp4Address)]));
        Assert.Equal(ModeConfigState.Done, p.Gateway.ModeConfig!.State);
        Assert.Null(p.Gateway.QuickModeRefusal());
    }

    [Fact]
    public void The_xauth_variant_of_psk_is_chosen_only_for_a_connection_with_an_xauth_round()
    {
        var withXauth = ConcentratorConfig.Parse(Gateway(), "<r>").Connections["rw"];
        var without = ConcentratorConfig.Parse(Gateway().Replace("    remote-xauth: { auth: xauth }\n", ""), "<r>").Connections["rw"];
        Assert.NotNull(withXauth.RemoteXauth);
        Assert.Null(without.RemoteXauth);
        Assert.NotNull(V1Authenticators.For(withXauth, Phase1AuthMethod.XauthInitPreShared));
        Assert.Null(V1Authenticators.For(without, Phase1AuthMethod.XauthInitPreShared));
        Assert.Null(V1Authenticators.For(withXauth, Phase1AuthMethod.XauthRespPreShared));
    }
}
