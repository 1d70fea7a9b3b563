using System.Net;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.Hosting;
using Concentrator.Ike.Crypto;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;
using Concentrator.Testbed.Support;

namespace Concentrator.Tests.Ike.Sa;

/// <summary>
/// Peer input at every step of an IKE SA, both roles: for each exchange and each state an SA can receive it in, every
/// subset of a pool of well-formed payloads (the real ones of that exchange between two <see cref="IkeSa"/> objects,
/// plus payloads the exchange does not expect) is delivered, sealed with the right keys where the exchange is
/// encrypted, so the tasks see it. Nothing may throw; every answer fits the response table; an IKE_AUTH without IDi
/// or AUTH (the EAP shapes Windows and iOS send) is answered AUTHENTICATION_FAILED and closes the SA; nothing but
/// IKE_AUTH is processed before the peer is authenticated, and IKE_AUTH is not processed after it.
/// </summary>
public sealed class PeerInputSweepTests
{
    private static readonly IPEndPoint InitiatorEp = new(IPAddress.Parse("192.0.2.1"), 500);
    private static readonly IPEndPoint ResponderEp = new(IPAddress.Parse("192.0.2.2"), 500);
    private const string Ike = "aes256gcm16-prfsha256-x25519";
    private static readonly ConcentratorConfig RConfig = ConcentratorConfig.Parse(TestGateway.ResponderYaml(proposals: Ike), "<r>");
    private static readonly ConcentratorConfig IConfig = ConcentratorConfig.Parse(TestGateway.InitiatorYaml(proposals: Ike), "<i>");

    private enum Stage
    {
        /// <summary>The initiator sent IKE_SA_INIT (not delivered); the responder has seen nothing.</summary>
        InitSent,
        /// <summary>IKE_SA_INIT done; the initiator's IKE_AUTH request is captured, not delivered.</summary>
        AuthSent,
        /// <summary>IKE_AUTH done: both established with one child.</summary>
        Established,
    }

    /// <summary>Two SAs at a stage, with the last request of the initiator and the last response of the responder captured.</summary>
    private sealed class Pair
    {
        public required IkeSa I { get; init; }
        public required IkeSa R { get; init; }
        public required InMemoryDataPlane RPlane { get; init; }
        public byte[] LastRequest { get; set; } = [];
        public byte[] LastResponse { get; set; } = [];

        public static Pair At(Stage stage)
        {
            var rPlane = new InMemoryDataPlane();
            var iContext = new IkeSaContext { Resolver = new ConfigConnectionResolver(IConfig), DataPlane = new InMemoryDataPlane() };
            var rContext = new IkeSaContext { Resolver = new ConfigConnectionResolver(RConfig), DataPlane = rPlane };
            var pair = new Pair
            {
                I = IkeSa.CreateInitiator(iContext, IConfig.Connections["site"], 0x1111_2222_3333_4444, InitiatorEp, ResponderEp),
                R = IkeSa.CreateResponder(rContext, 0x1111_2222_3333_4444, 0x5555_6666_7777_8888, ResponderEp, InitiatorEp, natT: false),
                RPlane = rPlane,
            };
            pair.I.Initiate();
            pair.LastRequest = Single(pair.I);
            if (stage == Stage.InitSent) return pair;
            pair.ToResponder(pair.LastRequest);
            pair.ToInitiator(pair.LastResponse);
            if (stage == Stage.AuthSent) return pair;
            pair.ToResponder(pair.LastRequest);
            pair.ToInitiator(pair.LastResponse);
            Assert.Equal(IkeSaState.Established, pair.R.State);
            Assert.Equal(IkeSaState.Established, pair.I.State);
            return pair;
        }

        public void ToResponder(byte[] datagram)
        {
            R.HandleDatagram(datagram, InitiatorEp, ResponderEp, false);
            LastResponse = Single(R);
        }

        public void ToInitiator(byte[] datagram)
        {
            I.HandleDatagram(datagram, ResponderEp, InitiatorEp, false);
            var sent = I.DrainEffects().OfType<SendMessage>().ToList();
            if (sent.Count > 0) LastRequest = sent[^1].Datagram;
        }

        private static byte[] Single(IkeSa sa) => sa.DrainEffects().OfType<SendMessage>().Single().Datagram;

        /// <summary>The payloads of a datagram, opened with <paramref name="receiver"/>'s keys where it is encrypted.</summary>
        public static List<Payload> Payloads(IkeSa receiver, byte[] datagram)
        {
            Assert.Equal(ParseStatus.Ok, IkeCodec.TryDecode(datagram, out var message));
            if (message!.Header.Exchange != ExchangeType.IkeSaInit) Assert.Equal(ParseStatus.Ok, receiver.Protector!.TryOpen(datagram, message));
            return message.Payloads;
        }
    }

    /// <summary>Builds a message of <paramref name="sender"/> (sealed unless IKE_SA_INIT) with the given payloads.</summary>
    private static byte[] Message(IkeSa sender, ExchangeType exchange, bool response, uint messageId, IReadOnlyList<Payload> payloads, ulong spiR)
    {
        var flags = (response ? IkeFlags.Response : IkeFlags.None) | (sender.IsInitiator ? IkeFlags.Initiator : IkeFlags.None);
        var header = new IkeHeader(sender.SpiI, spiR, PayloadType.None, ProtocolConstants.MajorVersion, ProtocolConstants.MinorVersion,
            exchange, flags, messageId, 0);
        return exchange == ExchangeType.IkeSaInit ? IkeCodec.Encode(header, payloads) : sender.Protector!.Seal(header, payloads);
    }

    /// <summary>What one delivery did, for the assertions of a sweep.</summary>
    private sealed record Outcome(IReadOnlyList<string> Names, IkeSaState Before, IkeSaState After, List<IkeEffect> Effects, IkeSa Target, Pair Pair)
    {
        public string Subset => "{" + string.Join(", ", Names) + "}";
        public bool Has(string name) => Names.Contains(name);
        public List<byte[]> Sent => Effects.OfType<SendMessage>().Select(m => m.Datagram).ToList();
        public bool Changed => Effects.Count > 0 || Before != After;
    }

    /// <summary>
    /// Delivers every subset of <paramref name="pool"/> to the SA <paramref name="target"/> picks, a new pair at
    /// <paramref name="stage"/> whenever the previous delivery changed anything. Returns every outcome.
    /// </summary>
    private static List<Outcome> Sweep(Stage stage, Func<Pair, IkeSa> target, Func<Pair, IReadOnlyList<(string Name, Payload Payload)>> pool,
        Func<Pair, IReadOnlyList<Payload>, byte[]> build, Action<Pair>? prepare = null)
    {
        Pair Fresh()
        {
            var p = Pair.At(stage);
            prepare?.Invoke(p);
            return p;
        }

        var outcomes = new List<Outcome>();
        var pair = Fresh();
        var items = pool(pair);
        int size = items.Count;
        for (int mask = 0; mask < 1 << size; mask++)
        {
            var chosen = Enumerable.Range(0, size).Where(b => (mask & (1 << b)) != 0).Select(b => items[b]).ToList();
            string subset = "{" + string.Join(", ", chosen.Select(c => c.Name)) + "}";
            var sa = target(pair);
            var before = sa.State;
            var datagram = build(pair, chosen.Select(c => c.Payload).ToList());
            var peer = ReferenceEquals(sa, pair.R) ? InitiatorEp : ResponderEp;
            var self = ReferenceEquals(sa, pair.R) ? ResponderEp : InitiatorEp;
            try
            {
                sa.HandleDatagram(datagram, peer, self, false);
            }
            catch (Exception e)
            {
                Assert.Fail($"{stage} {subset}: {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
            }

            var outcome = new Outcome(chosen.Select(c => c.Name).ToList(), before, sa.State, sa.DrainEffects(), sa, pair);
            outcomes.Add(outcome);
            if (!outcome.Changed) continue;
            pair = Fresh();
            items = pool(pair);
        }

        return outcomes;
    }

    /// <summary>Every answer of the responder opens with the initiator's keys and fits the response table.</summary>
    private static void AnswersFitTheTable(IEnumerable<Outcome> outcomes, ExchangeType exchange)
    {
        foreach (var o in outcomes.Where(o => ReferenceEquals(o.Target, o.Pair.R)))
        {
            foreach (var sent in o.Sent)
            {
                Assert.Equal(ParseStatus.Ok, IkeCodec.TryDecode(sent, out var message));
                Assert.True(message!.Header.IsResponse, o.Subset);
                if (exchange != ExchangeType.IkeSaInit) Assert.Equal(ParseStatus.Ok, o.Pair.I.Protector!.TryOpen(sent, message));
                Assert.True(PayloadRules.Check(exchange, true, message.Payloads) == ParseStatus.Ok,
                    $"{exchange} answer to {o.Subset} does not fit the response table: {string.Join(", ", message.Payloads.Select(p => p.Type))}");
            }
        }
    }

    private static (string, Payload) Named(string name, Payload p) => (name, p);

    private static NotifyPayload Error(NotifyType type) => new(type);

    private static KePayload FreshKe() => new(DhGroup.Curve25519, KeyExchangeFactory.Create(DhGroup.Curve25519).PublicValue);

    // ---- the shapes named in the finding, one by one ----

    public static TheoryData<string> AuthShapesWithoutAuth() => new() { "eap-start", "eap-only", "auth-only", "idi-only", "eap-start-no-child" };

    [Theory]
    [MemberData(nameof(AuthShapesWithoutAuth))]
    public void Ike_auth_without_IDi_and_AUTH_is_answered_AUTHENTICATION_FAILED(string shape)
    {
        var pair = Pair.At(Stage.AuthSent);
        var real = Pair.Payloads(pair.R, pair.LastRequest);
        var idi = real.Single(p => p.Type == PayloadType.IdInitiator);
        var idr = real.Single(p => p.Type == PayloadType.IdResponder);
        var auth = real.Single(p => p.Type == PayloadType.Authentication);
        var child = real.Where(p => p.Type is PayloadType.SecurityAssociation or PayloadType.TsInitiator or PayloadType.TsResponder).ToList();
        var cp = new ConfigPayload(ConfigType.Request, [new ConfigAttribute(ConfigAttributeType.InternalIp4Address, [])]);
        var eap = new EapPayload([2, 1, 0, 5, 1]); // EAP Response/Identity, empty identity
        List<Payload> payloads = shape switch
        {
            // What Windows and iOS send first when configured for EAP: IDi, [IDr], CP, SA, TSi, TSr, no AUTH (RFC 7296 §2.16).
            "eap-start" => [idi, idr, cp, .. child, new NotifyPayload(NotifyType.MultipleAuthSupported)],
            "eap-start-no-child" => [idi, cp],
            "idi-only" => [idi],
            "eap-only" => [eap],
            "auth-only" => [auth],
            _ => throw new ArgumentOutOfRangeException(nameof(shape)),
        };
        Assert.Equal(ParseStatus.Ok, PayloadRules.Check(ExchangeType.IkeAuth, false, payloads));

        pair.R.HandleDatagram(Message(pair.I, ExchangeType.IkeAuth, false, 1, payloads, pair.R.SpiR), InitiatorEp, ResponderEp, false);

        var effects = pair.R.DrainEffects();
        var answer = Pair.Payloads(pair.I, effects.OfType<SendMessage>().Single().Datagram);
        Assert.Equal(NotifyType.AuthenticationFailed, Assert.IsType<NotifyPayload>(Assert.Single(answer)).NotifyType);
        Assert.Equal(IkeSaState.Destroyed, pair.R.State);
        Assert.Equal(CloseReason.AuthFailed, effects.OfType<IkeSaClosed>().Single().Reason);
        Assert.Equal(0, pair.RPlane.InstalledCount);

        // The initiator reads the answer as the refusal it is.
        pair.I.HandleDatagram(effects.OfType<SendMessage>().Single().Datagram, ResponderEp, InitiatorEp, false);
        Assert.Equal(CloseReason.AuthFailed, pair.I.DrainEffects().OfType<IkeSaClosed>().Single().Reason);
    }

    [Fact]
    public void Ike_sa_init_carrying_only_an_error_notify_is_dropped_and_leaves_no_sa()
    {
        var pair = Pair.At(Stage.InitSent);
        var request = Message(pair.I, ExchangeType.IkeSaInit, false, 0, [Error(NotifyType.NoProposalChosen)], 0);

        pair.R.HandleDatagram(request, InitiatorEp, ResponderEp, false);

        var effects = pair.R.DrainEffects();
        Assert.Empty(effects.OfType<SendMessage>());
        Assert.Equal(IkeSaState.Destroyed, pair.R.State);
    }

    // ---- the sweeps ----

    private static IReadOnlyList<(string, Payload)> InitRequestPool(Pair p)
    {
        var real = Pair.Payloads(p.R, p.LastRequest);
        return
        [
            Named("SA", real.Single(x => x.Type == PayloadType.SecurityAssociation)),
            Named("KE", real.Single(x => x.Type == PayloadType.KeyExchange)),
            Named("Ni", real.Single(x => x.Type == PayloadType.Nonce)),
            Named("N(NAT_D)", real.First(x => x is NotifyPayload { NotifyType: NotifyType.NatDetectionSourceIp })),
            Named("N(NO_PROPOSAL_CHOSEN)", Error(NotifyType.NoProposalChosen)),
            Named("N(COOKIE)", new NotifyPayload(NotifyType.Cookie, new byte[36])),
            Named("CERTREQ", new CertPayload(PayloadType.CertificateRequest, CertEncoding.X509Signature, new byte[20])),
            Named("V", new VendorIdPayload([1, 2, 3, 4])),
            Named("IDi", new IdPayload(PayloadType.IdInitiator, IdType.Fqdn, "x.test"u8.ToArray())),
            Named("D(IKE)", new DeletePayload(ProtocolId.Ike, [])),
        ];
    }

    [Fact]
    public void Every_subset_of_an_ike_sa_init_request_is_answered_or_dropped_without_state()
    {
        var outcomes = Sweep(Stage.InitSent, p => p.R, InitRequestPool,
            (p, payloads) => Message(p.I, ExchangeType.IkeSaInit, false, 0, payloads, 0));
        AnswersFitTheTable(outcomes, ExchangeType.IkeSaInit);
        // A request that is not answered leaves nothing behind (the host removes a destroyed SA).
        Assert.All(outcomes, o => Assert.True(o.Sent.Count == 1 || o.After == IkeSaState.Destroyed, $"{o.Subset}: unanswered, SA left {o.After}"));
        Assert.Contains(outcomes, o => o.After == IkeSaState.Connecting); // the real request still works
    }

    /// <summary>IKE_AUTH request payloads: the initiator's real ones plus those of other shapes and other exchanges.</summary>
    private static IReadOnlyList<(string, Payload)> AuthRequestPool(Pair p)
    {
        var real = Pair.Payloads(p.R, p.LastRequest);
        Payload Of(PayloadType t) => real.Single(x => x.Type == t);
        return
        [
            Named("IDi", Of(PayloadType.IdInitiator)), Named("AUTH", Of(PayloadType.Authentication)), Named("IDr", Of(PayloadType.IdResponder)),
            Named("SA", Of(PayloadType.SecurityAssociation)), Named("TSi", Of(PayloadType.TsInitiator)), Named("TSr", Of(PayloadType.TsResponder)),
            Named("CERT", new CertPayload(PayloadType.Certificate, CertEncoding.X509Signature, new byte[32])),
            Named("CERTREQ", new CertPayload(PayloadType.CertificateRequest, CertEncoding.X509Signature, new byte[20])),
            Named("CP", new ConfigPayload(ConfigType.Request, [new ConfigAttribute(ConfigAttributeType.InternalIp4Address, [])])),
            Named("EAP", new EapPayload([2, 1, 0, 5, 1])),
            Named("N(AUTHENTICATION_FAILED)", Error(NotifyType.AuthenticationFailed)),
            Named("KE", FreshKe()),
        ];
    }

    [Fact]
    public void Every_subset_of_an_ike_auth_request_is_answered_by_the_table()
    {
        var outcomes = Sweep(Stage.AuthSent, p => p.R, AuthRequestPool,
            (p, payloads) => Message(p.I, ExchangeType.IkeAuth, false, 1, payloads, p.R.SpiR));
        AnswersFitTheTable(outcomes, ExchangeType.IkeAuth);
        foreach (var o in outcomes.Where(o => o.Sent.Count > 0))
        {
            if (o.Has("IDi") && o.Has("AUTH")) continue;
            Assert.True(o.After == IkeSaState.Destroyed, $"{o.Subset}: left {o.After}");
            Assert.Equal(CloseReason.AuthFailed, o.Effects.OfType<IkeSaClosed>().Single().Reason);
        }
        Assert.Contains(outcomes, o => o.After == IkeSaState.Established);
        Assert.True(outcomes.Count(o => o.Sent.Count > 0 && !o.Has("AUTH")) >= 8, "the EAP shapes were answered");
    }

    [Fact]
    public void An_ike_auth_request_on_an_established_sa_is_dropped()
    {
        var outcomes = Sweep(Stage.Established, p => p.R, _ => AuthRequestPool(Pair.At(Stage.AuthSent)),
            (p, payloads) => Message(p.I, ExchangeType.IkeAuth, false, p.R.TaskManager.PeerNextRequestId, payloads, p.R.SpiR));
        Assert.All(outcomes, o => Assert.False(o.Changed, $"{o.Subset} changed an established SA"));
    }

    /// <summary>CREATE_CHILD_SA request payloads: a real child creation's, an IKE proposal, KE, REKEY_SA, and others.</summary>
    private static IReadOnlyList<(string, Payload)> CreateChildPool(Pair p)
    {
        var reference = Pair.At(Stage.Established);
        reference.I.CreateChild(IConfig.Connections["site"].Children["net"]);
        var create = Pair.Payloads(reference.R, reference.I.DrainEffects().OfType<SendMessage>().Single().Datagram);
        var reference2 = Pair.At(Stage.Established);
        reference2.I.RekeyIke();
        var ikeRekey = Pair.Payloads(reference2.R, reference2.I.DrainEffects().OfType<SendMessage>().Single().Datagram);
        uint childSpi = p.R.Children.FirstOrDefault()?.OutboundSpi ?? 0x01020304;
        Payload Of(List<Payload> l, PayloadType t) => l.Single(x => x.Type == t);
        return
        [
            Named("SA(ESP)", Of(create, PayloadType.SecurityAssociation)),
            Named("Ni", Of(create, PayloadType.Nonce)),
            Named("TSi", Of(create, PayloadType.TsInitiator)),
            Named("TSr", Of(create, PayloadType.TsResponder)),
            Named("KE", FreshKe()),
            Named("N(REKEY_SA)", new NotifyPayload(NotifyType.RekeySa, null, ProtocolId.Esp, IkeSa.SpiBytes(childSpi))),
            Named("SA(IKE)", Of(ikeRekey, PayloadType.SecurityAssociation)),
            Named("N(NO_PROPOSAL_CHOSEN)", Error(NotifyType.NoProposalChosen)),
            Named("D(ESP)", new DeletePayload(ProtocolId.Esp, [IkeSa.SpiBytes(childSpi)])),
        ];
    }

    [Fact]
    public void Every_subset_of_a_create_child_sa_request_is_answered_by_the_table_once_authenticated()
    {
        var outcomes = Sweep(Stage.Established, p => p.R, CreateChildPool,
            (p, payloads) => Message(p.I, ExchangeType.CreateChildSa, false, p.R.TaskManager.PeerNextRequestId, payloads, p.R.SpiR));
        AnswersFitTheTable(outcomes, ExchangeType.CreateChildSa);
        Assert.Contains(outcomes, o => o.Effects.OfType<ChildSaEstablished>().Any());
    }

    [Fact]
    public void Nothing_but_ike_auth_is_processed_before_the_peer_is_authenticated()
    {
        // CREATE_CHILD_SA right after IKE_SA_INIT: no PSK was ever checked, so no Child SA (no keys, no LAN) may come of it.
        var create = Sweep(Stage.AuthSent, p => p.R, CreateChildPool,
            (p, payloads) => Message(p.I, ExchangeType.CreateChildSa, false, 1, payloads, p.R.SpiR));
        var informational = Sweep(Stage.AuthSent, p => p.R, InformationalPool,
            (p, payloads) => Message(p.I, ExchangeType.Informational, false, 1, payloads, p.R.SpiR));
        Assert.All(create.Concat(informational), o => Assert.False(o.Changed, $"{o.Subset} was processed by an unauthenticated SA"));
    }

    private static IReadOnlyList<(string, Payload)> InformationalPool(Pair p)
    {
        uint childSpi = p.R.Children.FirstOrDefault()?.OutboundSpi ?? 0x01020304;
        return
        [
            Named("D(IKE)", new DeletePayload(ProtocolId.Ike, [])),
            Named("D(ESP)", new DeletePayload(ProtocolId.Esp, [IkeSa.SpiBytes(childSpi)])),
            Named("D(ESP unknown)", new DeletePayload(ProtocolId.Esp, [IkeSa.SpiBytes(0xDEADBEEF)])),
            Named("CP", new ConfigPayload(ConfigType.Request, [new ConfigAttribute(ConfigAttributeType.InternalIp4Address, [])])),
            Named("N(AUTHENTICATION_FAILED)", Error(NotifyType.AuthenticationFailed)),
            Named("N(INITIAL_CONTACT)", new NotifyPayload(NotifyType.InitialContact)),
            Named("SA", new SaPayload([])),
            Named("Ni", new NoncePayload(new byte[32])),
        ];
    }

    [Fact]
    public void Every_subset_of_an_informational_request_is_answered_by_the_table()
    {
        var outcomes = Sweep(Stage.Established, p => p.R, InformationalPool,
            (p, payloads) => Message(p.I, ExchangeType.Informational, false, p.R.TaskManager.PeerNextRequestId, payloads, p.R.SpiR));
        AnswersFitTheTable(outcomes, ExchangeType.Informational);
        Assert.Contains(outcomes, o => o.After == IkeSaState.Destroyed); // D(IKE)
    }

    // ---- responses to our own requests ----

    [Fact]
    public void Every_subset_of_an_ike_sa_init_response_is_handled()
    {
        var outcomes = Sweep(Stage.InitSent, p => p.I, p =>
            {
                p.ToResponder(p.LastRequest);
                var real = Pair.Payloads(p.I, p.LastResponse);
                return
                [
                    Named("SA", real.Single(x => x.Type == PayloadType.SecurityAssociation)),
                    Named("KE", real.Single(x => x.Type == PayloadType.KeyExchange)),
                    Named("Nr", real.Single(x => x.Type == PayloadType.Nonce)),
                    Named("N(NAT_D)", real.First(x => x is NotifyPayload { NotifyType: NotifyType.NatDetectionSourceIp })),
                    Named("N(COOKIE)", new NotifyPayload(NotifyType.Cookie, new byte[36])),
                    Named("N(INVALID_KE_PAYLOAD)", new NotifyPayload(NotifyType.InvalidKePayload, [0, 19])),
                    Named("N(NO_PROPOSAL_CHOSEN)", Error(NotifyType.NoProposalChosen)),
                    Named("CERTREQ", new CertPayload(PayloadType.CertificateRequest, CertEncoding.X509Signature, new byte[20])),
                    Named("IDr", new IdPayload(PayloadType.IdResponder, IdType.Fqdn, "gw.test"u8.ToArray())),
                ];
            },
            (p, payloads) => Message(p.R, ExchangeType.IkeSaInit, true, 0, payloads, p.R.SpiR));
        Assert.Contains(outcomes, o => o.Sent.Count == 1 && o.After == IkeSaState.Connecting);
    }

    [Fact]
    public void Every_subset_of_an_ike_auth_response_is_handled()
    {
        var outcomes = Sweep(Stage.AuthSent, p => p.I, p =>
            {
                if (p.R.State != IkeSaState.Established) p.ToResponder(p.LastRequest);
                var real = Pair.Payloads(p.I, p.LastResponse);
                Payload Of(PayloadType t) => real.Single(x => x.Type == t);
                return
                [
                    Named("IDr", Of(PayloadType.IdResponder)), Named("AUTH", Of(PayloadType.Authentication)),
                    Named("SA", Of(PayloadType.SecurityAssociation)), Named("TSi", Of(PayloadType.TsInitiator)),
                    Named("TSr", Of(PayloadType.TsResponder)),
                    Named("CERT", new CertPayload(PayloadType.Certificate, CertEncoding.X509Signature, new byte[32])),
                    Named("CP", new ConfigPayload(ConfigType.Reply, [])),
                    Named("EAP", new EapPayload([1, 1, 0, 5, 1])),
                    Named("N(AUTHENTICATION_FAILED)", Error(NotifyType.AuthenticationFailed)),
                    Named("N(TS_UNACCEPTABLE)", Error(NotifyType.TsUnacceptable)),
                ];
            },
            (p, payloads) => Message(p.R, ExchangeType.IkeAuth, true, 1, payloads, p.R.SpiR));
        Assert.Contains(outcomes, o => o.After == IkeSaState.Established);
    }

    public static TheoryData<string> OurCreateChildSaRequests() => new() { "create", "rekey-child", "rekey-ike" };

    [Theory]
    [MemberData(nameof(OurCreateChildSaRequests))]
    public void Every_subset_of_a_create_child_sa_response_is_handled(string request)
    {
        void Start(Pair p)
        {
            bool started = request switch
            {
                "create" => Create(p),
                "rekey-child" => p.I.RekeyChild(p.I.Children.Single().InboundSpi),
                _ => p.I.RekeyIke(),
            };
            Assert.True(started);
            p.LastRequest = p.I.DrainEffects().OfType<SendMessage>().Single().Datagram;
            p.ToResponder(p.LastRequest);
        }

        static bool Create(Pair p)
        {
            p.I.CreateChild(IConfig.Connections["site"].Children["net"]);
            return true;
        }

        var outcomes = Sweep(Stage.Established, p => p.I, p =>
            {
                var real = Pair.Payloads(p.I, p.LastResponse);
                var pool = real.Where(x => x.Type != PayloadType.Notify).Select(x => Named(x.Type.ToString(), x)).ToList();
                pool.Add(Named("KE", FreshKe()));
                pool.Add(Named("N(NO_PROPOSAL_CHOSEN)", Error(NotifyType.NoProposalChosen)));
                pool.Add(Named("N(INVALID_KE_PAYLOAD)", new NotifyPayload(NotifyType.InvalidKePayload, [0, 31])));
                pool.Add(Named("D(ESP)", new DeletePayload(ProtocolId.Esp, [IkeSa.SpiBytes(0x01020304)])));
                return pool.DistinctBy(x => x.Item1).ToList();
            },
            (p, payloads) => Message(p.R, ExchangeType.CreateChildSa, true, p.I.TaskManager.NextRequestId, payloads, p.R.SpiR),
            Start);
        Assert.Contains(outcomes, o => o.Changed);
    }

    public static TheoryData<string> OurInformationalRequests() => new() { "dpd", "delete-child", "delete-ike" };

    [Theory]
    [MemberData(nameof(OurInformationalRequests))]
    public void Every_subset_of_an_informational_response_is_handled(string request)
    {
        var outcomes = Sweep(Stage.Established, p => p.I, p =>
            [
                Named("D(IKE)", new DeletePayload(ProtocolId.Ike, [])),
                Named("D(ESP)", new DeletePayload(ProtocolId.Esp, [IkeSa.SpiBytes(p.I.Children.FirstOrDefault()?.OutboundSpi ?? 1)])),
                Named("CP", new ConfigPayload(ConfigType.Reply, [])),
                Named("N(INVALID_SYNTAX)", Error(NotifyType.InvalidSyntax)),
                Named("SA", new SaPayload([])),
            ],
            (p, payloads) => Message(p.R, ExchangeType.Informational, true, p.I.TaskManager.NextRequestId, payloads, p.R.SpiR),
            p =>
            {
                switch (request)
                {
                    case "dpd": p.I.SendDpd(); break;
                    case "delete-child": p.I.DeleteChild(p.I.Children.Single().InboundSpi); break;
                    default: p.I.Delete(); break;
                }
                p.I.DrainEffects();
            });
        Assert.Contains(outcomes, o => o.Changed);
    }
}
