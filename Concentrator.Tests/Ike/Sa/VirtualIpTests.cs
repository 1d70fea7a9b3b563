using System.Net;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.Hosting;
using Concentrator.Ike.Attributes;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;

namespace Concentrator.Tests.Ike.Sa;

/// <summary>
/// The configuration payload in IKE_AUTH between two <see cref="IkeSa"/> objects (RFC 7296 §2.19, §3.15): our initiator
/// with <c>vips</c> asks, the responder leases from its pools, "dynamic" selectors become the virtual IP.
/// </summary>
public sealed class VirtualIpTests
{
    private const string Pools = """
        pools:
          rw-pool: { addrs: 10.30.0.0/24, dns: [10.10.0.53, "2001:db8::53"], nbns: 10.10.0.54, subnet: [10.10.0.0/16], 25: corp.example.net }
          rw-pool6: { addrs: "fd00:30::/120", dns: "fd00:10::53" }
          tiny: { addrs: 10.31.0.7-10.31.0.7 }

        """;

    internal static string Responder(string pools, string remoteTs = "dynamic") => Pools + $$"""
        listen: { addresses: [127.0.0.1], ike_port: 0, natt_port: 0 }
        connections:
          rw:
            proposals: [aes256gcm16-prfsha256-ecp256]
            pools: [{{pools}}]
            local: { auth: psk, id: gw.test }
            remote: { auth: psk, id: "%any" }
            children:
              lan: { local_ts: [10.10.0.0/16, "fd00:10::/64"], remote_ts: [{{remoteTs}}], esp_proposals: [aes256gcm16] }
        secrets:
          rw: { secret: "test-shared-key-0123456789" }
        """;

    internal static string Initiator(string id, string vips) => $$"""
        listen: { addresses: [127.0.0.1], ike_port: 0, natt_port: 0 }
        connections:
          site:
            remote_addrs: [127.0.0.1]
            proposals: [aes256gcm16-prfsha256-ecp256]
            {{(vips.Length > 0 ? $"vips: [{vips}]" : "")}}
            local: { auth: psk, id: {{id}} }
            remote: { auth: psk, id: gw.test }
            children:
              net: { local_ts: [dynamic], remote_ts: [10.10.0.0/16, "fd00:10::/64"], esp_proposals: [aes256gcm16] }
        secrets:
          site: { secret: "test-shared-key-0123456789" }
        """;

    internal sealed class Responders(string yaml)
    {
        public ConcentratorConfig Config { get; } = ConcentratorConfig.Parse(yaml, "<r>");
        public AddressPools PoolSet { get; } = new(ConcentratorConfig.Parse(yaml, "<r>").Pools.Values, TimeSpan.FromMinutes(5));
        private ulong _spi = 0x2122_2324_2526_2700;

        public RekeyHarness.Side New(IPEndPoint peer) => new(IkeSa.CreateResponder(
            new IkeSaContext { Resolver = new ConfigConnectionResolver(Config), DataPlane = new InMemoryDataPlane(), Pools = PoolSet },
            0x0A0B_0C0D_0E0F_1011, ++_spi, RekeyHarness.ResponderEp, peer, natT: false), new InMemoryDataPlane(), RekeyHarness.ResponderEp);
    }

    internal static (RekeyHarness.Side I, RekeyHarness.Side R) Connect(Responders responders, string id, string vips = "0.0.0.0", IPEndPoint? from = null)
    {
        var peer = from ?? RekeyHarness.InitiatorEp;
        var iConfig = ConcentratorConfig.Parse(Initiator(id, vips), "<i>");
        var i = new RekeyHarness.Side(IkeSa.CreateInitiator(new IkeSaContext { Resolver = new ConfigConnectionResolver(iConfig), DataPlane = new InMemoryDataPlane() },
            iConfig.Connections["site"], 0x0A0B_0C0D_0E0F_1011, peer, RekeyHarness.ResponderEp), new InMemoryDataPlane(), peer);
        var r = responders.New(peer);
        i.Sa.Initiate();
        RekeyHarness.Pump(i, r);
        Assert.Equal(IkeSaState.Established, i.Sa.State);
        Assert.Equal(IkeSaState.Established, r.Sa.State);
        return (i, r);
    }

    private static string Range(TrafficSelector ts) => $"{ts.StartAddress}-{ts.EndAddress}";

    [Fact]
    public void A_cp_request_gets_an_address_and_dns_from_the_pool_and_dynamic_selectors_become_that_address()
    {
        var (i, r) = Connect(new Responders(Responder("rw-pool")), "alice.test");

        var vip = Assert.Single(i.Sa.VirtualIps.All);
        Assert.Equal(IPAddress.Parse("10.30.0.1"), vip.Address); // the network id is skipped, as strongSwan's mem_pool
        Assert.False(vip.IsLease);
        Assert.Equal(new VirtualIp("rw-pool", IPAddress.Parse("10.30.0.1")), Assert.Single(r.Sa.VirtualIps.All));
        Assert.Equal([IPAddress.Parse("10.10.0.53"), IPAddress.Parse("2001:db8::53")], i.Sa.VirtualIps.DnsServers);

        // remote_ts dynamic on the responder is the leased address; the initiator proposed 0.0.0.0/0 and took the narrowing.
        var rChild = Assert.Single(r.Sa.Children);
        Assert.Equal("10.30.0.1-10.30.0.1", Range(Assert.Single(rChild.RemoteTs)));
        var iChild = Assert.Single(i.Sa.Children);
        Assert.Equal("10.30.0.1-10.30.0.1", Range(Assert.Single(iChild.LocalTs)));
        Assert.Equal(1, r.Plane.InstalledCount);
    }

    [Fact]
    public void The_cfg_reply_carries_the_pool_attributes_and_a_dns_domain_only_when_asked_for()
    {
        var (i, r) = Connect(new Responders(Responder("rw-pool")), "alice.test");
        var reply = ReplyAttributes(r);
        Assert.Equal(
            [ConfigAttributeType.InternalIp4Address, ConfigAttributeType.InternalIp4Dns, ConfigAttributeType.InternalIp6Dns,
             ConfigAttributeType.InternalIp4Nbns, ConfigAttributeType.InternalIp4Subnet],
            reply.Select(a => a.Type));
        // INTERNAL_IP4_SUBNET: address and netmask (RFC 7296 §3.15.1).
        Assert.Equal(new byte[] { 10, 10, 0, 0, 255, 255, 0, 0 }, reply.Single(a => a.Type == ConfigAttributeType.InternalIp4Subnet).Value);
        Assert.DoesNotContain(reply, a => a.Type == ConfigAttributeType.InternalDnsDomain); // our initiator did not ask (RFC 8598 §4)
        Assert.Single(i.Sa.VirtualIps.All);
    }

    [Fact]
    public void Ipv4_and_ipv6_pools_answer_both_families_and_the_child_is_narrowed_to_both()
    {
        var (i, r) = Connect(new Responders(Responder("rw-pool, rw-pool6")), "dual.test", "0.0.0.0, \"::\"");
        Assert.Equal(["10.30.0.1", "fd00:30::1"], i.Sa.VirtualIps.All.Select(v => v.Address.ToString()));
        Assert.Equal(["rw-pool", "rw-pool6"], r.Sa.VirtualIps.All.Select(v => v.Pool));
        var reply = ReplyAttributes(r);
        var v6 = reply.Single(a => a.Type == ConfigAttributeType.InternalIp6Address).Value;
        Assert.Equal(17, v6.Length);
        Assert.Equal(64, v6[16]); // prefix length, as strongSwan sends it
        Assert.Equal(["10.30.0.1-10.30.0.1", "fd00:30::1-fd00:30::1"], Assert.Single(r.Sa.Children).RemoteTs.Select(Range));
        Assert.Contains(IPAddress.Parse("fd00:10::53"), i.Sa.VirtualIps.DnsServers);
    }

    [Fact]
    public void An_exhausted_pool_answers_internal_address_failure_and_builds_no_child()
    {
        var responders = new Responders(Responder("tiny"));
        var (_, first) = Connect(responders, "first.test");
        Assert.Equal("10.31.0.7", Assert.Single(first.Sa.VirtualIps.All).Address.ToString());

        var (i, r) = Connect(responders, "second.test");
        Assert.Empty(r.Sa.VirtualIps.All);
        Assert.True(r.Sa.VirtualIps.Failed);
        Assert.Empty(r.Sa.Children);
        Assert.Empty(i.Sa.Children);
        Assert.Empty(i.Sa.VirtualIps.All);
        Assert.Contains(NotifyType.InternalAddressFailure, ResponseNotifies(r));
    }

    [Fact]
    public void A_connection_with_pools_answers_a_peer_that_asks_for_no_address_with_failed_cp_required()
    {
        var (i, r) = Connect(new Responders(Responder("rw-pool")), "plain.test", vips: "");
        Assert.Contains(NotifyType.FailedCpRequired, ResponseNotifies(r));
        Assert.Empty(r.Sa.Children);
        Assert.Empty(i.Sa.Children);
    }

    [Fact]
    public void A_peer_asking_a_connection_without_pools_gets_internal_address_failure()
    {
        var (_, r) = Connect(new Responders(Responder("rw-pool").Replace("    pools: [rw-pool]\n", "")), "alice.test");
        Assert.Contains(NotifyType.InternalAddressFailure, ResponseNotifies(r));
        Assert.Empty(r.Sa.Children);
    }

    [Fact]
    public void Leases_are_unique_sticky_per_identity_and_kept_while_any_sa_of_the_identity_holds_them()
    {
        var responders = new Responders(Responder("rw-pool"));
        var (_, alice) = Connect(responders, "alice.test");
        var (_, bob) = Connect(responders, "bob.test");
        var aliceIp = alice.Sa.VirtualIps.All[0];
        Assert.NotEqual(aliceIp.Address, bob.Sa.VirtualIps.All[0].Address);

        // A second SA of alice from another host gets an address of its own (strongSwan: same identity, other host).
        var (_, aliceElsewhere) = Connect(responders, "alice.test", from: new IPEndPoint(IPAddress.Parse("192.0.2.9"), 4500));
        Assert.NotEqual(aliceIp.Address, aliceElsewhere.Sa.VirtualIps.All[0].Address);

        // alice's first SA ends: its lease goes offline, kept for alice; a newcomer does not get it.
        alice.Sa.Dispose();
        Assert.Equal(1, responders.PoolSet.Usage().Single(u => u.Pool == "rw-pool").Offline);
        var (_, carol) = Connect(responders, "carol.test");
        Assert.NotEqual(aliceIp.Address, carol.Sa.VirtualIps.All[0].Address);

        // alice reconnects: the same address.
        var (_, again) = Connect(responders, "alice.test");
        Assert.Equal(aliceIp, again.Sa.VirtualIps.All[0]);
        Assert.Equal(0, responders.PoolSet.Usage().Single(u => u.Pool == "rw-pool").Offline);
    }

    [Fact]
    public void An_ike_rekey_keeps_the_lease_with_the_tunnel()
    {
        var responders = new Responders(Responder("rw-pool"));
        var (i, r) = Connect(responders, "alice.test");
        var lease = r.Sa.VirtualIps.All[0];
        ulong before = r.Sa.OurSpi;
        Assert.True(i.Sa.RekeyIke());
        RekeyHarness.Pump(i, r);
        Assert.NotEqual(before, r.Sa.OurSpi);
        Assert.Empty(r.Retiring); // the old SA is deleted (and disposed when it closed)
        Assert.Equal(lease, Assert.Single(r.Sa.VirtualIps.All));
        var usage = responders.PoolSet.Usage().Single(u => u.Pool == "rw-pool");
        Assert.Equal((1, 0), (usage.InUse, usage.Offline));
        r.Sa.Dispose();
        usage = responders.PoolSet.Usage().Single(u => u.Pool == "rw-pool");
        Assert.Equal((0, 1), (usage.InUse, usage.Offline));
    }

    [Fact]
    public void Our_initiator_takes_one_address_of_each_family_it_asked_for_whatever_the_reply_lists()
    {
        // A hub (authenticated, but not trusted to size our selectors) answers an IPv4 request with 300 addresses, an IPv6
        // address nobody asked for, malformed ones and 300 DNS servers.
        var config = ConcentratorConfig.Parse(Initiator("one.branch.test", "0.0.0.0"), "<i>");
        var sa = IkeSa.CreateInitiator(new IkeSaContext { Resolver = new ConfigConnectionResolver(config), DataPlane = new InMemoryDataPlane() },
            config.Connections["site"], 0x0A0B_0C0D_0E0F_1011, RekeyHarness.InitiatorEp, RekeyHarness.ResponderEp);
        var attributes = new List<ConfigAttribute> { new(ConfigAttributeType.InternalIp4Address, [10, 30, 0, 7, 1]) };
        for (int n = 0; n < 300; n++)
        {
            attributes.Add(new ConfigAttribute(ConfigAttributeType.InternalIp4Address, [10, 30, (byte)(n >> 8), (byte)(n + 1)]));
            attributes.Add(new ConfigAttribute(ConfigAttributeType.InternalIp4Dns, [10, 10, (byte)(n >> 8), (byte)n]));
        }
        attributes.Add(new ConfigAttribute(ConfigAttributeType.InternalIp6Address, [.. IPAddress.Parse("fd00:30::5").GetAddressBytes(), 64]));
        var header = new IkeHeader(0x0A0B_0C0D_0E0F_1011, 1, PayloadType.None, 2, 0, ExchangeType.IkeAuth, IkeFlags.Response, 1, 0);
        var reply = new IkeMessage(header, [new ConfigPayload(ConfigType.Reply, attributes)]);

        var task = new Concentrator.Ike.Tasks.IkeConfigTask();
        task.BuildRequest(sa, []);
        task.ProcessResponse(sa, reply);
        Assert.Equal([new VirtualIp("", IPAddress.Parse("10.30.0.1"))], sa.VirtualIps.All);
        Assert.True(sa.VirtualIps.DnsServers.Count <= 8, $"{sa.VirtualIps.DnsServers.Count} DNS servers kept");
    }

    private static IReadOnlyList<ConfigAttribute> ReplyAttributes(RekeyHarness.Side responder)
    {
        var cp = AuthResponse(responder).Get<ConfigPayload>();
        Assert.NotNull(cp);
        Assert.Equal(ConfigType.Reply, cp.ConfigType);
        return cp.Attributes;
    }

    private static IEnumerable<NotifyType> ResponseNotifies(RekeyHarness.Side responder) =>
        AuthResponse(responder).GetAll<NotifyPayload>().Select(n => n.NotifyType);

    /// <summary>The responder's IKE_AUTH response, opened with its own keys.</summary>
    private static IkeMessage AuthResponse(RekeyHarness.Side responder)
    {
        var sa = responder.Sa;
        var datagram = responder.Seen.OfType<SendMessage>().Select(m => m.Datagram)
            .First(d => IkeHeader.TryParse(d, out var h) == ParseStatus.Ok && h.Exchange == ExchangeType.IkeAuth);
        IkeHeader.TryParse(datagram, out var header);
        Assert.Equal(ParseStatus.Ok, IkeCodec.TryDecode(datagram, header, out var message, out _));
        var opener = new Concentrator.Ike.Crypto.IkeMessageProtector(sa.Suite, sa.Keys!, weAreInitiator: true);
        Assert.Equal(ParseStatus.Ok, opener.TryOpen(datagram, message!, 64));
        return message!;
    }
}
