using System.Net;
using System.Net.Sockets;
using Concentrator.Ike.Attributes;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Tasks.V1;
using Concentrator.Ike.Wire;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;

namespace Concentrator.Tests.Ike.Tasks.V1;

/// <summary><see cref="ModeConfigServer"/>: pull and push against the IKEv2 pools, exhaustion, leases released with the SA.</summary>
public sealed class ModeConfigServerTests
{
    private static readonly IPEndPoint Peer = new(IPAddress.Parse("192.0.2.7"), 4500);
    private static readonly Identity Alice = Identity.Parse("alice");

    private static PoolConfig Pool(string name, string addrs, params ConfigAttribute[] attributes)
    {
        Assert.Null(PoolConfig.TryParseAddrs(addrs, out var first, out uint size));
        return new PoolConfig { Name = name, First = first, Size = size, Addrs = addrs, Attributes = attributes };
    }

    private static readonly ConfigAttribute Dns = PoolAttributes.Server("10.9.0.53", ConfigAttributeType.InternalIp4Dns, ConfigAttributeType.InternalIp6Dns, out _)!;
    private static readonly ConfigAttribute Domain = PoolAttributes.DnsDomain("corp.example", out _)!;

    private static AttributePayload Wire(AttributePayload payload) => XauthServerTests.Wire(payload);

    private static DataAttribute Ask(CfgAttributeType type, byte[]? value = null) => DataAttribute.OfVariable((ushort)type, value ?? []);

    private static AttributePayload Request(params DataAttribute[] attributes) => Wire(new AttributePayload(CfgMessageType.Request, 0x77, attributes));

    private static List<IPAddress> Addresses(AttributePayload reply) =>
        reply.Attributes.Where(a => a.Type is (ushort)CfgAttributeType.InternalIp4Address or (ushort)CfgAttributeType.InternalIp6Address)
            .Select(a => new IPAddress(a.Value)).ToList();

    [Fact]
    public void Pull_assigns_an_address_of_each_family_asked_for_with_its_pools_attributes()
    {
        var pools = new AddressPools([Pool("v4", "10.9.0.0/24", Dns, Domain), Pool("v6", "fd00:9::/120")]);
        var vips = new VirtualIps();
        var server = new ModeConfigServer(pools, ["v4", "v6"], vips, Alice, Peer);
        var reply = Wire(server.ProcessRequest(Request(Ask(CfgAttributeType.InternalIp4Address), Ask(CfgAttributeType.InternalIp4Dns),
            Ask(CfgAttributeType.InternalIp6Address, new byte[17])))!);

        Assert.Equal(CfgMessageType.Reply, reply.MessageType);
        Assert.Equal(0x77, reply.Identifier);
        Assert.Equal([IPAddress.Parse("10.9.0.1"), IPAddress.Parse("fd00:9::1")], Addresses(reply));
        Assert.Equal(16, reply.Attributes.Single(a => a.Type == (ushort)CfgAttributeType.InternalIp6Address).Value.Length);
        Assert.Contains(reply.Attributes, a => a.Type == (ushort)CfgAttributeType.InternalIp4Dns && a.Value.SequenceEqual(IPAddress.Parse("10.9.0.53").GetAddressBytes()));
        Assert.DoesNotContain(reply.Attributes, a => a.Type == (ushort)ConfigAttributeType.InternalDnsDomain);
        Assert.Equal(ModeConfigState.Done, server.State);
        Assert.False(vips.Failed);
        Assert.Equal(2, vips.All.Count);
        Assert.All(vips.All, v => Assert.True(pools.IsLeasedTo(v, Alice)));
    }

    [Fact]
    public void A_domain_goes_only_to_a_client_that_asks_for_it()
    {
        var pools = new AddressPools([Pool("v4", "10.9.0.0/24", Dns, Domain)]);
        var server = new ModeConfigServer(pools, ["v4"], new VirtualIps(), Alice, Peer);
        var reply = server.ProcessRequest(Request(Ask(CfgAttributeType.InternalIp4Address), DataAttribute.OfVariable((ushort)ConfigAttributeType.InternalDnsDomain, [])))!;
        Assert.Contains(reply.Attributes, a => a.Type == (ushort)ConfigAttributeType.InternalDnsDomain && a.Value.SequenceEqual("corp.example"u8.ToArray()));
    }

    [Fact]
    public void A_repeated_request_gets_the_same_address_and_takes_no_second_lease()
    {
        var pools = new AddressPools([Pool("v4", "10.9.0.1-10.9.0.2")]);
        var vips = new VirtualIps();
        var server = new ModeConfigServer(pools, ["v4"], vips, Alice, Peer);
        var first = Addresses(server.ProcessRequest(Request(Ask(CfgAttributeType.InternalIp4Address)))!);
        var second = Addresses(server.ProcessRequest(Request(Ask(CfgAttributeType.InternalIp4Address), Ask(CfgAttributeType.InternalIp4Address)))!);
        Assert.Equal(first, second);
        Assert.Single(vips.All);
        Assert.Equal(1, pools.Usage().Single().InUse);
    }

    [Fact]
    public void An_exhausted_pool_is_answered_without_an_address_and_marks_the_sa_failed()
    {
        var pools = new AddressPools([Pool("v4", "10.9.0.1-10.9.0.1", Dns)]);
        var bob = new ModeConfigServer(pools, ["v4"], new VirtualIps(), Identity.Parse("bob"), Peer);
        Assert.Single(Addresses(bob.ProcessRequest(Request(Ask(CfgAttributeType.InternalIp4Address)))!));

        var vips = new VirtualIps();
        var server = new ModeConfigServer(pools, ["v4"], vips, Alice, Peer);
        var reply = Wire(server.ProcessRequest(Request(Ask(CfgAttributeType.InternalIp4Address), Ask(CfgAttributeType.InternalIp4Dns)))!);
        Assert.Empty(reply.Attributes);
        Assert.True(vips.Failed);
        Assert.Empty(vips.All);
        Assert.Equal(ModeConfigState.Done, server.State);
        Assert.Empty(VirtualIpsOf(vips));
    }

    [Fact]
    public void A_request_for_no_address_on_a_connection_with_pools_marks_the_sa_failed()
    {
        var vips = new VirtualIps();
        var server = new ModeConfigServer(new AddressPools([Pool("v4", "10.9.0.0/24")]), ["v4"], vips, Alice, Peer);
        Assert.Empty(server.ProcessRequest(Request(Ask(CfgAttributeType.InternalIp4Dns)))!.Attributes);
        Assert.True(vips.Failed);
    }

    [Theory]
    [InlineData(CfgAttributeType.InternalIp4Address, 3)]
    [InlineData(CfgAttributeType.InternalIp4Address, 5)]
    [InlineData(CfgAttributeType.InternalIp6Address, 4)]
    [InlineData(CfgAttributeType.InternalIp6Address, 18)]
    public void An_address_request_of_a_wrong_length_is_ignored(CfgAttributeType type, int length)
    {
        var pools = new AddressPools([Pool("v4", "10.9.0.0/24"), Pool("v6", "fd00:9::/120")]);
        var vips = new VirtualIps();
        var server = new ModeConfigServer(pools, ["v4", "v6"], vips, Alice, Peer);
        Assert.Empty(Addresses(server.ProcessRequest(Request(Ask(type, new byte[length])))!));
        Assert.Empty(vips.All);
        Assert.Equal(0, pools.Usage().Sum(u => u.InUse));
    }

    [Fact]
    public void A_basic_address_attribute_is_ignored()
    {
        var pools = new AddressPools([Pool("v4", "10.9.0.0/24")]);
        var server = new ModeConfigServer(pools, ["v4"], new VirtualIps(), Alice, Peer);
        Assert.Empty(Addresses(server.ProcessRequest(Request(DataAttribute.OfBasic((ushort)CfgAttributeType.InternalIp4Address, 1)))!));
    }

    [Theory]
    [InlineData(CfgMessageType.Reply)]
    [InlineData(CfgMessageType.Set)]
    [InlineData(CfgMessageType.Ack)]
    public void Pull_answers_only_a_request(CfgMessageType type)
    {
        var pools = new AddressPools([Pool("v4", "10.9.0.0/24")]);
        var vips = new VirtualIps();
        var server = new ModeConfigServer(pools, ["v4"], vips, Alice, Peer);
        Assert.Null(server.ProcessRequest(Wire(new AttributePayload(type, 1, [Ask(CfgAttributeType.InternalIp4Address)]))));
        Assert.Equal(ModeConfigState.Idle, server.State);
        Assert.Empty(vips.All);
    }

    [Fact]
    public void Push_sets_an_address_of_each_pool_and_completes_with_the_ack()
    {
        var pools = new AddressPools([Pool("v4", "10.9.0.0/24", Dns), Pool("v6", "fd00:9::/120")]);
        var vips = new VirtualIps();
        var server = new ModeConfigServer(pools, ["v4", "v6"], vips, Alice, Peer);
        var set = Wire(server.BuildSet(0x55));
        Assert.Equal(CfgMessageType.Set, set.MessageType);
        Assert.Equal(0x55, set.Identifier);
        Assert.Equal([IPAddress.Parse("10.9.0.1"), IPAddress.Parse("fd00:9::1")], Addresses(set));
        Assert.Equal(ModeConfigState.SetSent, server.State);
        Assert.Null(server.ProcessRequest(Request(Ask(CfgAttributeType.InternalIp4Address))));
        Assert.False(server.ProcessAck(Wire(new AttributePayload(CfgMessageType.Reply, 0x55, []))));
        Assert.True(server.ProcessAck(Wire(new AttributePayload(CfgMessageType.Ack, 0x55, [Ask(CfgAttributeType.InternalIp4Address)]))));
        Assert.Equal(ModeConfigState.Done, server.State);
        Assert.Throws<InvalidOperationException>(() => server.BuildSet(1));
    }

    [Fact]
    public void The_leases_go_back_when_the_sa_releases_its_virtual_ips()
    {
        var pools = new AddressPools([Pool("v4", "10.9.0.1-10.9.0.1")]);
        var vips = new VirtualIps();
        new ModeConfigServer(pools, ["v4"], vips, Alice, Peer).ProcessRequest(Request(Ask(CfgAttributeType.InternalIp4Address)));
        Assert.Equal(1, pools.Usage().Single().InUse);
        vips.Release(pools, Alice);
        Assert.Equal(0, pools.Usage().Single().InUse);
        Assert.Empty(vips.All);
    }

    private static IEnumerable<IPAddress> VirtualIpsOf(VirtualIps vips) => vips.All.Select(v => v.Address);
}
