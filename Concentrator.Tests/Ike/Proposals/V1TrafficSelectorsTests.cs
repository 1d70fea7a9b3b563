using System.Net;
using Concentrator.Ike.Proposals;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;

namespace Concentrator.Tests.Ike.Proposals;

/// <summary>Quick mode IDci/IDcr (RFC 2407 §4.6.2) as traffic selectors, back, and the responder's narrowing.</summary>
public class V1TrafficSelectorsTests
{
    private static TrafficSelector Ts(string start, string end, byte protocol = 0, ushort lo = 0, ushort hi = ushort.MaxValue)
    {
        var s = IPAddress.Parse(start);
        return new TrafficSelector(s.GetAddressBytes().Length == 4 ? TsType.Ipv4AddressRange : TsType.Ipv6AddressRange, protocol, lo, hi, s, IPAddress.Parse(end));
    }

    private static byte[] Ip(string a) => IPAddress.Parse(a).GetAddressBytes();

    public static TheoryData<V1IdType, byte[], byte, ushort, TrafficSelector> Ids => new()
    {
        { V1IdType.Ipv4Address, Ip("10.1.0.5"), 0, 0, Ts("10.1.0.5", "10.1.0.5") },
        { V1IdType.Ipv4Subnet, [.. Ip("10.1.0.0"), .. Ip("255.255.0.0")], 0, 0, Ts("10.1.0.0", "10.1.255.255") },
        { V1IdType.Ipv4Range, [.. Ip("10.1.0.3"), .. Ip("10.1.0.9")], 6, 443, Ts("10.1.0.3", "10.1.0.9", 6, 443, 443) },
        { V1IdType.Ipv6Address, Ip("fd00::1"), 17, 53, Ts("fd00::1", "fd00::1", 17, 53, 53) },
        { V1IdType.Ipv6Subnet, [.. Ip("fd00:1::"), .. Ip("ffff:ffff:ffff:ffff::")], 0, 0, Ts("fd00:1::", "fd00:1::ffff:ffff:ffff:ffff") },
        { V1IdType.Ipv6Range, [.. Ip("fd00::5"), .. Ip("fd00::7")], 0, 0, Ts("fd00::5", "fd00::7") },
        { V1IdType.Ipv4Subnet, [.. Ip("0.0.0.0"), .. Ip("0.0.0.0")], 0, 0, Ts("0.0.0.0", "255.255.255.255") },
    };

    [Theory]
    [MemberData(nameof(Ids))]
    public void Address_ids_become_selectors_and_come_back_the_same(V1IdType type, byte[] data, byte protocol, ushort port, TrafficSelector expected)
    {
        var id = new V1IdPayload(type, data, protocol, port);
        Assert.True(V1TrafficSelectors.TryFromId(id, out var ts));
        Assert.Equal(expected, ts);
        var back = V1TrafficSelectors.ToId(ts!)!;
        Assert.Equal((type, protocol, port), (back.IdType, back.Protocol, back.Port));
        Assert.Equal(data, back.Data);
    }

    [Fact]
    public void A_subnet_id_with_host_bits_set_covers_its_network()
    {
        Assert.True(V1TrafficSelectors.TryFromId(new V1IdPayload(V1IdType.Ipv4Subnet, [.. Ip("10.1.2.3"), .. Ip("255.255.255.0")]), out var ts));
        Assert.Equal(Ts("10.1.2.0", "10.1.2.255"), ts);
    }

    [Fact]
    public void Name_ids_have_no_selector()
    {
        Assert.False(V1TrafficSelectors.TryFromId(new V1IdPayload(V1IdType.Fqdn, "gw.example"u8.ToArray()), out _));
        Assert.False(V1TrafficSelectors.TryFromId(new V1IdPayload(V1IdType.KeyId, [1]), out _));
    }

    [Fact]
    public void A_port_range_has_no_id()
    {
        Assert.Null(V1TrafficSelectors.ToId(Ts("10.0.0.0", "10.0.0.255", 6, 1000, 2000)));
        Assert.Null(V1TrafficSelectors.ToId(Ts("10.0.0.0", "10.0.0.255", 6, 0, 0)));
    }

    [Fact]
    public void Responder_keeps_a_proposal_inside_its_selectors_and_narrows_a_wider_one()
    {
        var allowed = new[] { Ts("10.1.0.0", "10.1.255.255") };
        Assert.Equal(Ts("10.1.3.0", "10.1.3.255"), V1TrafficSelectors.Narrow(Ts("10.1.3.0", "10.1.3.255"), allowed));
        Assert.Equal(Ts("10.1.0.0", "10.1.255.255"), V1TrafficSelectors.Narrow(Ts("0.0.0.0", "255.255.255.255"), allowed));
        Assert.Equal(Ts("10.1.0.0", "10.1.255.255", 6, 22, 22), V1TrafficSelectors.Narrow(Ts("10.0.0.0", "10.255.255.255", 6, 22, 22), allowed));
    }

    [Fact]
    public void Responder_refuses_what_does_not_fit_or_cannot_be_written()
    {
        var allowed = new[] { Ts("10.1.0.0", "10.1.255.255", 6, 1000, 2000), Ts("fd00::", "fd00::ffff") };
        Assert.Null(V1TrafficSelectors.Narrow(Ts("10.2.0.0", "10.2.0.255"), allowed));
        Assert.Null(V1TrafficSelectors.Narrow(Ts("10.1.0.0", "10.1.0.255", 6), allowed));
        Assert.Null(V1TrafficSelectors.Narrow(Ts("10.1.0.0", "10.1.0.255", 17, 1500, 1500), allowed));
        Assert.Equal(Ts("10.1.0.0", "10.1.0.255", 6, 1500, 1500), V1TrafficSelectors.Narrow(Ts("10.1.0.0", "10.1.0.255", 6, 1500, 1500), allowed));
        Assert.Null(V1TrafficSelectors.Narrow(Ts("10.1.0.0", "10.1.0.255"), [Ts("fd00::", "fd00::ffff")]));
    }

    [Fact]
    public void Absent_ids_are_the_phase1_hosts_including_mapped_ipv4()
    {
        Assert.Equal(Ts("192.0.2.1", "192.0.2.1"), V1TrafficSelectors.ForHost(IPAddress.Parse("::ffff:192.0.2.1")));
    }
}
