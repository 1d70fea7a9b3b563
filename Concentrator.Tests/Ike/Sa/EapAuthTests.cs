using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Concentrator.Cli;
using Concentrator.Cluster.Replication;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.Hosting;
using Concentrator.Ike.Attributes;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Crypto;
using Concentrator.Ike.Eap;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Tasks;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;
using Concentrator.Telemetry;

namespace Concentrator.Tests.Ike.Sa;

/// <summary>
/// The gateway's IKE_AUTH with EAP (RFC 7296 §2.16) driven message by message without an actor: a responder
/// <see cref="IkeSa"/> served by <see cref="EapSessionFactory"/> (eap-mschapv2 against secrets.eap-*), and a small EAP-MSCHAPv2
/// client written here (test code) on top of an initiator SA that ran IKE_SA_INIT: IDi without AUTH, EAP rounds, the AUTH
/// from the MSK, the first Child SA and virtual IP from request 1, and every refusal counted by reason.
/// </summary>
public sealed class EapAuthTests
{
    private static string Gateway(string remote = "auth: eap-mschapv2, eap_id: \"%any\"", string users = "") => $$"""
        listen: { addresses: [127.0.0.1], ike_port: 0, natt_port: 0 }
        pools:
          rw-pool: { addrs: 10.30.0.0/24 }
        connections:
          rw:
            proposals: [aes256gcm16-prfsha256-ecp256]
            pools: [rw-pool]
            local: { auth: psk, id: gw.test }
            remote: { {{remote}} }
            children:
              lan: { local_ts: [10.10.0.0/16], remote_ts: [dynamic], esp_proposals: [aes256gcm16] }
        secrets:
          ike-gw: { id: gw.test, secret: "gateway-shared-key-0123456789" }
          eap-alice: { id: alice, secret: "alice-password" }
          eap-bob: { id-1: bob, id-2: robert, secret: "bob-password" }
        {{users}}
        """;

    private const string Client = """
        listen: { addresses: [127.0.0.1], ike_port: 0, natt_port: 0 }
        connections:
          site:
            remote_addrs: [127.0.0.1]
            proposals: [aes256gcm16-prfsha256-ecp256]
            vips: [0.0.0.0]
            local: { auth: psk, id: alice }
            remote: { auth: psk, id: gw.test }
            children:
              net: { local_ts: [dynamic], remote_ts: [10.10.0.0/16], esp_proposals: [aes256gcm16] }
        secrets:
          ike-gw: { id: gw.test, secret: "gateway-shared-key-0123456789" }
        """;

    /// <summary>The road warrior's side: IKE_SA_INIT by a real initiator SA, then IKE_AUTH messages built and read here.</summary>
    private sealed class EapClient
    {
        public RekeyHarness.Side I { get; }
        public RekeyHarness.Side R { get; }
        public ConcentratorMetrics Metrics { get; } = new();
        public AddressPools Pools { get; }
        public List<IkeMessage> Responses { get; } = [];
        private uint _messageId = 1;

        public ConcentratorConfig Config { get; }

        public EapClient(string gatewayYaml)
        {
            var rConfig = Config = ConcentratorConfig.Parse(gatewayYaml, "<r>");
            var iConfig = ConcentratorConfig.Parse(Client, "<i>");
            Pools = new AddressPools(rConfig.Pools.Values, TimeSpan.FromMinutes(5));
            var resolver = new ConfigConnectionResolver(rConfig);
            I = new RekeyHarness.Side(IkeSa.CreateInitiator(new IkeSaContext { Resolver = new ConfigConnectionResolver(iConfig), DataPlane = new InMemoryDataPlane() },
                iConfig.Connections["site"], 0x0A0B_0C0D_0E0F_1011, RekeyHarness.InitiatorEp, RekeyHarness.ResponderEp), new InMemoryDataPlane(), RekeyHarness.InitiatorEp);
            var rPlane = new InMemoryDataPlane();
            R = new RekeyHarness.Side(IkeSa.CreateResponder(new IkeSaContext
            {
                Resolver = resolver, DataPlane = rPlane, Metrics = Metrics, Pools = Pools, EapSessions = new EapSessionFactory(resolver),
            }, 0x0A0B_0C0D_0E0F_1011, 0x2122_2324_2526_2728, RekeyHarness.ResponderEp, RekeyHarness.InitiatorEp, natT: false), rPlane, RekeyHarness.ResponderEp);
            I.Sa.Move(IkeSaState.Connecting);
            I.Sa.TaskManager.Enqueue(ExchangeType.IkeSaInit, new IkeInitTask(), new IkeCertPreTask());
            RekeyHarness.Pump(I, R);
            Assert.Equal(IkeSaState.Connecting, R.Sa.State);
        }

        /// <summary>One IKE_AUTH request of ours; the gateway's response, opened (null when it sent none).</summary>
        public IkeMessage? Send(List<Payload> payloads, uint? messageId = null)
        {
            var header = new IkeHeader(I.Sa.SpiI, I.Sa.SpiR, PayloadType.None, ProtocolConstants.MajorVersion, ProtocolConstants.MinorVersion,
                ExchangeType.IkeAuth, IkeFlags.Initiator, messageId ?? _messageId++, 0);
            return Exchange(I.Sa.Protector!.Seal(header, payloads));
        }

        public byte[]? LastRequest { get; private set; }

        public IkeMessage? Exchange(byte[] datagram)
        {
            LastRequest = datagram;
            R.Receive(datagram, I.Self);
            var sends = R.Drain();
            if (sends.Count == 0) return null;
            var bytes = Assert.Single(sends).Datagram;
            Assert.Equal(ParseStatus.Ok, IkeCodec.TryDecode(bytes, out var message));
            Assert.Equal(ParseStatus.Ok, I.Sa.Protector!.TryOpen(bytes, message!));
            Responses.Add(message!);
            return message;
        }

        public double Metric(string name, params (string, string)[] labels) => CertificateAuthTests.Scrape(Metrics).Sum(name, labels);
    }

    /// <summary>A whole login: EAP-Identity, MSCHAPv2 with <paramref name="password"/>; the gateway's last response.</summary>
    private static (IkeMessage? Last, byte[]? Msk) Login(EapClient c, string identity = "alice", string password = "alice-password", string? name = null)
    {
        var idi = Identity.Parse(identity).ToPayload(PayloadType.IdInitiator);
        var cfg = new IkeConfigTask();
        var child = new ChildCreateTask(c.I.Sa.Connection!.Children["net"], initial: true);
        var request1 = new List<Payload> { idi };
        cfg.BuildRequest(c.I.Sa, request1);
        child.BuildRequest(c.I.Sa, request1);
        var response = c.Send(request1)!;

        // SK {IDr, AUTH, EAP(Identity request, or MSCHAPv2's Challenge when eap_id names the user)}: the gateway by its PSK.
        var idr = response.Get<IdPayload>(PayloadType.IdResponder)!;
        var gwAuth = response.Get<AuthPayload>()!;
        var psk = Encoding.UTF8.GetBytes("gateway-shared-key-0123456789");
        Assert.True(PskAuth.Verify(c.I.Sa.Suite.Prf, psk, c.I.Sa.InitResponse, c.I.Sa.NonceI, c.I.Sa.Keys!.SkPr, idr.GetBody(), gwAuth.Data));
        Assert.Null(response.Get<SaPayload>());
        var eap = Parse(response);
        if (eap.Type == EapType.Identity)
        {
            Assert.Equal(EapCode.Request, eap.Code);
            response = c.Send([new EapPayload(EapPacket.Build(EapCode.Response, eap.Identifier, EapType.Identity, Encoding.UTF8.GetBytes(identity)))])!;
            eap = Parse(response);
        }
        if (eap.Code == EapCode.Failure) return (response, null);
        Assert.Equal((EapCode.Request, EapType.MsChapV2), (eap.Code, eap.Type));
        var challengeData = eap.TypeData.ToArray();
        Assert.Equal((byte)MsChapV2OpCode.Challenge, challengeData[0]);
        var authChallenge = challengeData.AsSpan(5, 16).ToArray();
        var user = Encoding.UTF8.GetBytes(name ?? identity);
        var peerChallenge = RandomNumberGenerator.GetBytes(16);
        var hash = MsChapV2.NtPasswordHash(Encoding.UTF8.GetBytes(password));
        var ntResponse = MsChapV2.NtResponse(authChallenge, peerChallenge, user, hash);
        var value = new byte[4 + 1 + 49 + user.Length];
        value[0] = (byte)MsChapV2OpCode.Response;
        value[1] = challengeData[1];
        BinaryPrimitives.WriteUInt16BigEndian(value.AsSpan(2), (ushort)value.Length);
        value[4] = 49;
        peerChallenge.CopyTo(value, 5);
        ntResponse.CopyTo(value, 5 + 16 + 8);
        user.CopyTo(value, 5 + 49);
        response = c.Send([new EapPayload(EapPacket.Build(EapCode.Response, eap.Identifier, EapType.MsChapV2, value))])!;
        eap = Parse(response);
        if (eap.Code == EapCode.Failure) return (response, null);

        // The Success Request proves the gateway knows the password (RFC 2759 §5).
        var success = Encoding.ASCII.GetString(eap.TypeData[4..]);
        Assert.StartsWith(MsChapV2.AuthenticatorResponse(hash, ntResponse, peerChallenge, authChallenge, user), success);
        response = c.Send([new EapPayload(EapPacket.Build(EapCode.Response, eap.Identifier, EapType.MsChapV2, [(byte)MsChapV2OpCode.Success]))])!;
        eap = Parse(response);
        if (eap.Code == EapCode.Failure) return (response, null);
        Assert.Equal(EapCode.Success, eap.Code);

        var msk = MsChapV2.Msk(hash, ntResponse);
        var keys = c.I.Sa.Keys!;
        var auth = PskAuth.Compute(c.I.Sa.Suite.Prf, msk, c.I.Sa.InitRequest, c.I.Sa.NonceR, keys.SkPi, idi.GetBody());
        var last = c.Send([new AuthPayload(AuthMethod.SharedKeyMic, auth)]);
        if (last?.Get<AuthPayload>() is { } final)
        {
            // The gateway's second AUTH is made with the MSK too (§2.16).
            Assert.True(PskAuth.Verify(c.I.Sa.Suite.Prf, msk, c.I.Sa.InitResponse, c.I.Sa.NonceI, keys.SkPr, idr.GetBody(), final.Data));
        }
        return (last, msk);
    }

    private static EapPacket Parse(IkeMessage response)
    {
        var payload = response.Get<EapPayload>();
        Assert.NotNull(payload);
        Assert.Equal(ParseStatus.Ok, EapPacket.TryParse(payload!.Data, out var packet));
        return packet;
    }

    [Fact]
    public void Eap_mschapv2_with_eap_identity_establishes_with_the_first_child_and_a_virtual_ip()
    {
        var c = new EapClient(Gateway());
        var (last, _) = Login(c);

        Assert.Equal(IkeSaState.Established, c.R.Sa.State);
        Assert.Equal("alice", c.R.Sa.EapIdentity!.Text);
        Assert.Equal("alice", c.R.Sa.User!.Text);
        Assert.Equal("rw", c.R.Sa.Connection!.Name);
        // SK {AUTH, CP, SA, TSi, TSr}: request 1's child and configuration answered in the last round.
        Assert.Equal([PayloadType.Authentication, PayloadType.Configuration, PayloadType.SecurityAssociation, PayloadType.TsInitiator, PayloadType.TsResponder],
            last!.Payloads.Select(p => p.Type).Where(t => t != PayloadType.Notify));
        var cp = last.Get<ConfigPayload>()!;
        var address = new IPAddress(cp.Attributes.Single(a => a.Type == ConfigAttributeType.InternalIp4Address).Value);
        Assert.Equal("10.30.0.1", address.ToString());
        Assert.Equal(1, c.R.Plane.InstalledCount);
        Assert.Equal(5, c.Responses.Count);
        Assert.Null(c.R.Sa.EapSession);

        Assert.Equal(1, c.Metric("concentrator_logins_total", ("method", "eap-mschapv2"), ("outcome", "success")));
        Assert.Equal(1, c.Metric("concentrator_logins_total"));
        Assert.Equal(1, c.Metric("concentrator_users_online", ("method", "eap-mschapv2")));
        Assert.Equal(0, c.Metric("concentrator_ike_auth_failures_total"));

        // The SA ends (replaced without a Delete exchange): the user goes offline.
        c.R.Sa.Replace();
        c.R.Drain();
        Assert.Equal(0, c.Metric("concentrator_users_online"));
    }

    [Fact]
    public void A_wrong_password_gets_eap_failure_alone_and_the_sa_closes_counted()
    {
        var c = new EapClient(Gateway());
        var (last, msk) = Login(c, password: "not-the-password");

        Assert.Null(msk);
        Assert.Equal(EapCode.Failure, Parse(last!).Code);
        // As strongSwan: the EAP-Failure answers alone, no AUTHENTICATION_FAILED beside it.
        Assert.Null(last!.GetNotify(NotifyType.AuthenticationFailed));
        Assert.Equal(IkeSaState.Destroyed, c.R.Sa.State);
        Assert.Equal(CloseReason.AuthFailed, c.R.Seen.OfType<IkeSaClosed>().Single().Reason);
        Assert.Equal(0, c.R.Plane.InstalledCount);
        Assert.Equal(1, c.Metric("concentrator_ike_auth_failures_total", ("role", "responder"), ("reason", "eap_failed")));
        Assert.Equal(1, c.Metric("concentrator_logins_total", ("method", "eap-mschapv2"), ("outcome", "eap_failed")));
        Assert.Equal(0, c.Metric("concentrator_users_online"));
        // No lease is held for the refused peer.
        Assert.Equal(0, c.Pools.Usage().Sum(u => u.InUse));
    }

    [Fact]
    public void An_unknown_user_is_refused_like_a_wrong_password()
    {
        var c = new EapClient(Gateway());
        var (last, _) = Login(c, identity: "mallory", password: "whatever");
        Assert.Equal(EapCode.Failure, Parse(last!).Code);
        Assert.Equal(1, c.Metric("concentrator_ike_auth_failures_total", ("reason", "eap_failed")));
    }

    [Fact]
    public void A_user_with_several_ids_logs_in_by_any_of_them()
    {
        var c = new EapClient(Gateway());
        Login(c, identity: "robert", password: "bob-password");
        Assert.Equal(IkeSaState.Established, c.R.Sa.State);
        Assert.Equal("robert", c.R.Sa.EapIdentity!.Text);
    }

    [Fact]
    public void A_configured_eap_id_starts_mschapv2_at_once_and_must_be_the_identity_proven()
    {
        // eap_id bob: no EAP-Identity round; bob's own password gets him in.
        var c = new EapClient(Gateway(remote: "auth: eap-mschapv2, eap_id: bob"));
        Login(c, identity: "bob", password: "bob-password");
        Assert.Equal(IkeSaState.Established, c.R.Sa.State);
        Assert.Equal("bob", c.R.Sa.EapIdentity!.Text);
        Assert.Equal(4, c.Responses.Count);

        // alice proves alice (her password is right) but the connection wants bob: EAP-Failure, identity_mismatch.
        c = new EapClient(Gateway(remote: "auth: eap-mschapv2, eap_id: bob"));
        var (last, _) = Login(c, identity: "alice", password: "alice-password");
        Assert.Equal(EapCode.Failure, Parse(last!).Code);
        Assert.Equal(IkeSaState.Destroyed, c.R.Sa.State);
        Assert.Equal(1, c.Metric("concentrator_ike_auth_failures_total", ("reason", "identity_mismatch")));
    }

    [Fact]
    public void Generic_eap_is_served_by_mschapv2_here_without_radius_and_counted_under_it()
    {
        var c = new EapClient(Gateway(remote: "auth: eap, eap_id: \"%any\""));
        Login(c);
        Assert.Equal(IkeSaState.Established, c.R.Sa.State);
        Assert.Equal("eap-mschapv2", c.R.Sa.LoginMethod);
        Assert.Equal(1, c.Metric("concentrator_logins_total", ("method", "eap-mschapv2"), ("outcome", "success")));
    }

    [Fact]
    public void Hostile_eap_responses_end_the_session_in_failure_and_never_throw()
    {
        var random = new Random(16);
        for (int i = 0; i < 2000; i++)
        {
            using var session = new MsChapV2Session(_ => "pw"u8.ToArray());
            var first = session.StartAsync(Identity.Parse("a"), i % 2 == 0 ? null : Identity.Parse("a"), default).Result;
            Assert.Equal(EapResultKind.Continue, first.Kind);
            // A response with the right identifier and type half of the time, random bytes after it.
            var bytes = new byte[random.Next(0, 80)];
            random.NextBytes(bytes);
            if (bytes.Length >= 5 && i % 4 < 2)
            {
                bytes[0] = (byte)EapCode.Response;
                bytes[1] = first.Message![1];
                BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(2), (ushort)bytes.Length);
                bytes[4] = i % 2 == 0 ? (byte)EapType.Identity : (byte)EapType.MsChapV2;
            }
            var result = session.ProcessAsync(bytes, default).Result;
            Assert.NotEqual(EapResultKind.Success, result.Kind);
            if (result.Kind == EapResultKind.Failure) Assert.Equal((byte)EapCode.Failure, result.Message![0]);
        }
    }

    [Fact]
    public void A_peer_asking_for_eap_without_an_eap_connection_is_refused()
    {
        var c = new EapClient(Gateway(remote: "auth: psk"));
        var response = c.Send([Identity.Parse("alice").ToPayload(PayloadType.IdInitiator)])!;
        Assert.NotNull(response.GetNotify(NotifyType.AuthenticationFailed));
        Assert.Equal(IkeSaState.Destroyed, c.R.Sa.State);
        Assert.Equal(1, c.Metric("concentrator_ike_auth_failures_total", ("reason", "eap_not_supported")));
        Assert.Equal(1, c.Metric("concentrator_logins_total", ("method", "eap"), ("outcome", "eap_not_supported")));
    }

    [Fact]
    public void A_nak_ends_the_conversation()
    {
        var c = new EapClient(Gateway(remote: "auth: eap-mschapv2"));
        var response = c.Send([Identity.Parse("alice").ToPayload(PayloadType.IdInitiator)])!;
        var eap = Parse(response);
        Assert.Equal(EapType.MsChapV2, eap.Type);
        // Nak asking for EAP-MD5 (4).
        response = c.Send([new EapPayload(EapPacket.Build(EapCode.Response, eap.Identifier, EapType.Nak, [4]))])!;
        Assert.Equal(EapCode.Failure, Parse(response).Code);
        Assert.Equal(IkeSaState.Destroyed, c.R.Sa.State);
    }

    [Fact]
    public void A_wrong_final_auth_is_refused_and_a_retransmitted_round_gets_the_same_response()
    {
        var c = new EapClient(Gateway());
        var idi = Identity.Parse("alice").ToPayload(PayloadType.IdInitiator);
        var first = c.Send([idi])!;
        var again = c.Exchange(c.LastRequest!);
        Assert.NotNull(again);
        Assert.Equal(Parse(first).Identifier, Parse(again!).Identifier);
        // Out of turn: an AUTH where the EAP response belongs.
        var response = c.Send([new AuthPayload(AuthMethod.SharedKeyMic, new byte[32])])!;
        Assert.NotNull(response.GetNotify(NotifyType.AuthenticationFailed));
        Assert.Equal(IkeSaState.Destroyed, c.R.Sa.State);
    }

    [Fact]
    public void The_eap_session_is_disposed_when_the_sa_ends_midway()
    {
        var c = new EapClient(Gateway());
        c.Send([Identity.Parse("alice").ToPayload(PayloadType.IdInitiator)]);
        Assert.NotNull(c.R.Sa.EapSession);
        c.R.Sa.Dispose();
        Assert.Null(c.R.Sa.EapSession);
    }

    [Fact]
    public void An_adopter_keeps_the_user_its_method_and_the_lease_held_for_the_user()
    {
        var c = new EapClient(Gateway());
        Login(c);
        var lease = Assert.Single(c.R.Sa.VirtualIps.All);
        byte[] encoded;
        using (var snapshot = IkeSaSnapshotter.Snapshot(c.R.Sa, _ => (0, 0))) encoded = IkeSaSnapshotCodec.Encode(snapshot);
        Assert.Equal(IkeSaSnapshotCodec.VersionWithEap, encoded[0]);
        for (int n = 0; n < encoded.Length; n++)
        {
            Assert.NotEqual(ParseStatus.Ok, IkeSaSnapshotCodec.TryDecode(encoded.AsSpan(0, n), out var cut));
            Assert.Null(cut);
        }

        // The SA moves: node A lets go, node B (same configuration, its own pools and metrics) adopts it.
        c.R.Sa.Dispose();
        Assert.Equal(0, c.Metric("concentrator_users_online"));
        var pools = new AddressPools(c.Config.Pools.Values, TimeSpan.FromMinutes(5));
        var metrics = new ConcentratorMetrics();
        Assert.Equal(ParseStatus.Ok, IkeSaSnapshotCodec.TryDecode(encoded, out var decoded));
        IkeSa? adopted;
        using (decoded)
        {
            adopted = IkeSaSnapshotter.Restore(new IkeSaContext
            {
                Resolver = new ConfigConnectionResolver(c.Config), DataPlane = new InMemoryDataPlane(), Pools = pools, Metrics = metrics,
            }, decoded!, 1000);
        }
        Assert.NotNull(adopted);
        Assert.Equal("alice", adopted!.EapIdentity!.Text);
        Assert.Equal("alice", adopted.User!.Text);
        Assert.Equal("eap-mschapv2", adopted.LoginMethod);
        Assert.Equal(lease, Assert.Single(adopted.VirtualIps.All));
        Assert.True(pools.IsLeasedTo(lease, Identity.Parse("alice")));
        Assert.Equal(1, CertificateAuthTests.Scrape(metrics).Sum("concentrator_users_online", ("method", "eap-mschapv2")));
        adopted.Dispose();
        Assert.Equal(0, CertificateAuthTests.Scrape(metrics).Sum("concentrator_users_online"));
    }

    [Fact]
    public void A_framed_address_is_the_peers_address_and_a_group_naming_a_pool_picks_it()
    {
        var framed = IPAddress.Parse("10.77.0.9");
        var c = new EapClient(Gateway().Replace("rw-pool: { addrs: 10.30.0.0/24 }", "rw-pool: { addrs: 10.30.0.0/24 }\n  staff: { addrs: 10.40.0.0/24 }")
            .Replace("pools: [rw-pool]", "pools: [rw-pool, staff]"));
        var outcomes = new Queue<EapResult>([new EapResult(EapResultKind.Success, EapPacket.Success(0)) { Groups = ["nurses", "staff"] },
            new EapResult(EapResultKind.Success, EapPacket.Success(0)) { FramedAddress = framed }]);
        foreach (var expected in new[] { "10.40.0.1", "10.77.0.9" })
        {
            var cfg = new IkeConfigTask();
            c.R.Sa.EapIdentity = Identity.Parse("alice");
            c.R.Sa.EapOutcome = outcomes.Dequeue();
            var request = new List<Payload>();
            new IkeConfigTask().BuildRequest(c.I.Sa, request);
            var message = new IkeMessage(default, request);
            Assert.Equal(TaskOutcome.Done, cfg.ProcessRequest(c.R.Sa, message));
            Assert.Equal(expected, Assert.Single(c.R.Sa.VirtualIps.All).Address.ToString());
            c.R.Sa.VirtualIps.Release(c.Pools, c.R.Sa.User);
        }
        // The framed address was never a lease: no pool holds or lost anything for it.
        Assert.All(c.Pools.Usage(), u => Assert.Equal(0, u.InUse));
    }

    [Fact]
    public void The_listing_names_the_eap_identity_as_swanctl_does()
    {
        var view = new SaView("rw", "0a0b0c0d0e0f1011", "Established", "responder", "192.0.2.1:4500", "192.0.2.1", "AES_GCM_16-256", 3, [],
            VirtualIps: ["10.30.0.1"], EapId: "alice");
        Assert.Contains("  remote 192.0.2.1:4500 [192.0.2.1] EAP: 'alice'\n", AdminCommands.Render([view]).ReplaceLineEndings("\n"));
        Assert.Contains("\"eap_id\": \"alice\"", System.Text.Json.JsonSerializer.Serialize(new List<SaView> { view }, AdminJson.Default.ListSaView));
        Assert.DoesNotContain("EAP:", AdminCommands.Render([view with { EapId = null }]));
    }

    private static string OurClient(string password, string eapId = "alice") => $$"""
        listen: { addresses: [127.0.0.1], ike_port: 0, natt_port: 0 }
        connections:
          site:
            remote_addrs: [127.0.0.1]
            proposals: [aes256gcm16-prfsha256-ecp256]
            vips: [0.0.0.0]
            local: { auth: eap-mschapv2, id: laptop.test, eap_id: {{eapId}} }
            remote: { auth: psk, id: gw.test }
            children:
              net: { local_ts: [dynamic], remote_ts: [10.10.0.0/16], esp_proposals: [aes256gcm16] }
        secrets:
          ike-gw: { id: gw.test, secret: "gateway-shared-key-0123456789" }
          eap-me: { id: {{eapId}}, secret: "{{password}}" }
        """;

    /// <summary>Our initiator with local.auth eap-mschapv2 against our responder: the second witness of the rounds.</summary>
    private static (RekeyHarness.Side I, RekeyHarness.Side R, ConcentratorMetrics Metrics) Ours(string password, string eapId = "alice")
    {
        var rConfig = ConcentratorConfig.Parse(Gateway(), "<r>");
        var iConfig = ConcentratorConfig.Parse(OurClient(password, eapId), "<i>");
        var metrics = new ConcentratorMetrics();
        var resolver = new ConfigConnectionResolver(rConfig);
        var i = new RekeyHarness.Side(IkeSa.CreateInitiator(new IkeSaContext { Resolver = new ConfigConnectionResolver(iConfig), DataPlane = new InMemoryDataPlane() },
            iConfig.Connections["site"], 0x0A0B_0C0D_0E0F_1011, RekeyHarness.InitiatorEp, RekeyHarness.ResponderEp), new InMemoryDataPlane(), RekeyHarness.InitiatorEp);
        var r = new RekeyHarness.Side(IkeSa.CreateResponder(new IkeSaContext
        {
            Resolver = resolver, DataPlane = new InMemoryDataPlane(), Metrics = metrics, Pools = new AddressPools(rConfig.Pools.Values, TimeSpan.FromMinutes(5)),
            EapSessions = new EapSessionFactory(resolver),
        }, 0x0A0B_0C0D_0E0F_1011, 0x2122_2324_2526_2728, RekeyHarness.ResponderEp, RekeyHarness.InitiatorEp, natT: false), new InMemoryDataPlane(),
            RekeyHarness.ResponderEp);
        i.Sa.Initiate();
        RekeyHarness.Pump(i, r);
        return (i, r, metrics);
    }

    [Fact]
    public void Our_initiator_logs_in_by_eap_mschapv2_to_our_responder()
    {
        var (i, r, metrics) = Ours("alice-password");
        Assert.Equal(IkeSaState.Established, i.Sa.State);
        Assert.Equal(IkeSaState.Established, r.Sa.State);
        Assert.Equal("alice", r.Sa.EapIdentity!.Text);
        Assert.Equal("laptop.test", r.Sa.RemoteId!.Text);
        Assert.Equal("gw.test", i.Sa.RemoteId!.Text);
        Assert.Equal("10.30.0.1", Assert.Single(i.Sa.VirtualIps.All).Address.ToString());
        Assert.Equal(1, i.Plane.InstalledCount);
        Assert.Equal(1, r.Plane.InstalledCount);
        // IKE_SA_INIT, then IKE_AUTH with message IDs 1..5 (IDi, Identity, Response, Success ack, AUTH).
        Assert.Equal(6u, i.Sa.TaskManager.NextRequestId);
        Assert.Equal(6u, r.Sa.TaskManager.PeerNextRequestId);
        Assert.Null(i.Sa.EapClient);
        Assert.Equal(1, CertificateAuthTests.Scrape(metrics).Sum("concentrator_logins_total", ("method", "eap-mschapv2"), ("outcome", "success")));
    }

    [Fact]
    public void Our_initiator_with_a_wrong_password_is_refused_and_both_ends_close()
    {
        var (i, r, metrics) = Ours("wrong-password");
        Assert.Equal(IkeSaState.Destroyed, i.Sa.State);
        Assert.Equal(IkeSaState.Destroyed, r.Sa.State);
        Assert.Equal(CloseReason.AuthFailed, i.Seen.OfType<IkeSaClosed>().Single().Reason);
        Assert.Equal(0, i.Plane.InstalledCount + r.Plane.InstalledCount);
        Assert.Equal(1, CertificateAuthTests.Scrape(metrics).Sum("concentrator_ike_auth_failures_total", ("reason", "eap_failed")));
        Assert.Contains(i.Seen.OfType<PeerAuthFailed>(), f => f.Reason == AuthFailure.EapFailed && f.Detail.Contains("EAP-Failure"));
    }
}
