using System.Net;
using Concentrator.Ike.Proposals;
using Concentrator.Ipsec;

namespace Concentrator.Tests.Ike.Proposals;

public class TrafficSelectorTests
{
    private static TrafficSelectorSpec Spec(string text)
    {
        Assert.True(TrafficSelectorSpec.TryParse(text, out var spec, out var error), error);
        return spec!;
    }

    private static TrafficSelector Ts(string text) => Spec(text).Selector!;

    private static TrafficSelector V4(string start, string end, byte proto = 0, ushort sp = 0, ushort ep = 65535) =>
        new(TsType.Ipv4AddressRange, proto, sp, ep, IPAddress.Parse(start), IPAddress.Parse(end));

    private static TrafficSelector V6(string start, string end, byte proto = 0, ushort sp = 0, ushort ep = 65535) =>
        new(TsType.Ipv6AddressRange, proto, sp, ep, IPAddress.Parse(start), IPAddress.Parse(end));

    // ---- parsing ------------------------------------------------------------------------------

    [Theory]
    [InlineData("10.10.0.0/24", "10.10.0.0", "10.10.0.255")]
    [InlineData("10.10.0.77/24", "10.10.0.0", "10.10.0.255")]
    [InlineData("0.0.0.0/0", "0.0.0.0", "255.255.255.255")]
    [InlineData("10.0.0.1-10.0.0.9", "10.0.0.1", "10.0.0.9")]
    [InlineData("192.0.2.7", "192.0.2.7", "192.0.2.7")]
    [InlineData("192.0.2.7/32", "192.0.2.7", "192.0.2.7")]
    [InlineData("172.16.0.0/12", "172.16.0.0", "172.31.255.255")]
    public void Ipv4_forms(string text, string start, string end)
    {
        var spec = Spec(text);
        Assert.False(spec.Dynamic);
        Assert.Equal(V4(start, end), spec.Selector);
    }

    [Theory]
    [InlineData("2001:db8::/64", "2001:db8::", "2001:db8::ffff:ffff:ffff:ffff")]
    [InlineData("::/0", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")]
    [InlineData("2001:db8::1-2001:db8::9", "2001:db8::1", "2001:db8::9")]
    [InlineData("2001:db8:0:1::/63", "2001:db8::", "2001:db8:0:1:ffff:ffff:ffff:ffff")]
    public void Ipv6_forms(string text, string start, string end)
    {
        Assert.Equal(V6(start, end), Ts(text));
    }

    [Theory]
    [InlineData("10.0.0.0/24[tcp/80]", 6, 80, 80)]
    [InlineData("10.0.0.0/24[udp]", 17, 0, 65535)]
    [InlineData("10.0.0.0/24[/53]", 0, 53, 53)]
    [InlineData("10.0.0.0/24[udp/%any]", 17, 0, 65535)]
    [InlineData("10.0.0.0/24[tcp/1024-2048]", 6, 1024, 2048)]
    [InlineData("10.0.0.0/24[icmp]", 1, 0, 65535)]
    [InlineData("10.0.0.0/24[icmpv6]", 58, 0, 65535)]
    [InlineData("10.0.0.0/24[47]", 47, 0, 65535)]
    [InlineData("10.0.0.0/24[udp/%opaque]", 17, 65535, 0)]
    public void Protocol_and_port_suffix(string text, byte proto, ushort start, ushort end)
    {
        var spec = Spec(text);
        Assert.Equal(proto, spec.IpProtocol);
        Assert.Equal(start, spec.StartPort);
        Assert.Equal(end, spec.EndPort);
        Assert.Equal(V4("10.0.0.0", "10.0.0.255", proto, start, end), spec.Selector);
    }

    [Fact]
    public void Dynamic_resolves_to_the_given_host_with_its_suffix()
    {
        var spec = Spec("dynamic[udp/500]");
        Assert.True(spec.Dynamic);
        Assert.Null(spec.Selector);
        Assert.Equal(V4("198.51.100.4", "198.51.100.4", 17, 500, 500), spec.Resolve(IPAddress.Parse("198.51.100.4")));
        Assert.Equal(V6("2001:db8::4", "2001:db8::4", 17, 500, 500), spec.Resolve(IPAddress.Parse("2001:db8::4")));
        Assert.Equal(V4("198.51.100.4", "198.51.100.4"), Spec("DYNAMIC").Resolve(IPAddress.Parse("::ffff:198.51.100.4")));
    }

    [Fact]
    public void Resolve_of_static_selector_ignores_the_address()
    {
        Assert.Equal(V4("10.0.0.0", "10.0.0.255"), Spec("10.0.0.0/24").Resolve(IPAddress.Parse("192.0.2.1")));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("10.0.0.0/33", "prefix")]
    [InlineData("2001:db8::/129", "prefix")]
    [InlineData("10.0.0.9-10.0.0.1", "above")]
    [InlineData("10.0.0.1-2001:db8::1", "mixes")]
    [InlineData("10.0.0", "expected")]
    [InlineData("host.example.net", "expected")]
    [InlineData("10.0.0.0/24[tcp/80", "suffix")]
    [InlineData("10.0.0.0/24[bogus]", "protocol")]
    [InlineData("10.0.0.0/24[tcp/99999]", "port")]
    [InlineData("10.0.0.0/24[tcp/90-80]", "above its end")]
    [InlineData("[udp]", "address missing")]
    [InlineData("300.0.0.1/8", "not an IP")]
    public void Bad_selectors_are_rejected_with_reason(string text, string expected)
    {
        Assert.False(TrafficSelectorSpec.TryParse(text, out var spec, out var error));
        Assert.Null(spec);
        Assert.Contains(expected, error);
    }

    [Theory]
    [InlineData("10.0.0.0/24")]
    [InlineData("10.0.0.1-10.0.0.9")]
    [InlineData("2001:db8::/64")]
    [InlineData("dynamic[tcp/80]")]
    [InlineData("10.0.0.0/24[udp/1000-2000]")]
    [InlineData("10.0.0.0/8[/53]")]
    public void To_string_round_trips(string text)
    {
        Assert.Equal(text, Spec(text).ToString());
    }

    // ---- narrowing (RFC 7296 §2.9) -------------------------------------------------------------

    [Fact]
    public void Narrowing_to_a_subset_of_what_was_proposed()
    {
        // Initiator proposes 0.0.0.0/0, responder only allows 10.20.0.0/24.
        var result = TrafficSelectorNarrowing.Narrow([Ts("0.0.0.0/0")], [Ts("10.20.0.0/24")]);
        Assert.Equal([V4("10.20.0.0", "10.20.0.255")], result);
        Assert.True(TrafficSelectorNarrowing.IsSubset(result, [Ts("0.0.0.0/0")]));
    }

    [Fact]
    public void Proposed_inside_allowed_is_kept_as_is()
    {
        var result = TrafficSelectorNarrowing.Narrow([Ts("10.20.0.0/26")], [Ts("10.20.0.0/24")]);
        Assert.Equal([Ts("10.20.0.0/26")], result);
    }

    [Fact]
    public void Disjoint_selectors_narrow_to_empty()
    {
        Assert.Empty(TrafficSelectorNarrowing.Narrow([Ts("10.1.0.0/16")], [Ts("10.2.0.0/16")]));
        Assert.Empty(TrafficSelectorNarrowing.Narrow([Ts("10.0.0.0/8")], [Ts("2001:db8::/32")]));
        Assert.Empty(TrafficSelectorNarrowing.Narrow([], [Ts("10.0.0.0/8")]));
    }

    [Fact]
    public void Partial_overlap_of_ranges()
    {
        var result = TrafficSelectorNarrowing.Narrow([Ts("10.0.0.1-10.0.0.100")], [Ts("10.0.0.50-10.0.0.200")]);
        Assert.Equal([V4("10.0.0.50", "10.0.0.100")], result);
    }

    [Fact]
    public void Protocol_and_ports_intersect()
    {
        // Any protocol/port proposed, we allow TCP 80 only.
        Assert.Equal([V4("10.0.0.0", "10.0.0.255", 6, 80, 80)],
            TrafficSelectorNarrowing.Narrow([Ts("10.0.0.0/16")], [Ts("10.0.0.0/24[tcp/80]")]));
        // Port ranges overlap.
        Assert.Equal([V4("10.0.0.0", "10.0.0.255", 17, 1500, 2000)],
            TrafficSelectorNarrowing.Narrow([Ts("10.0.0.0/24[udp/1000-2000]")], [Ts("10.0.0.0/24[/1500-3000]")]));
        // Different protocols never intersect.
        Assert.Empty(TrafficSelectorNarrowing.Narrow([Ts("10.0.0.0/24[udp]")], [Ts("10.0.0.0/24[tcp]")]));
        // Disjoint port ranges.
        Assert.Empty(TrafficSelectorNarrowing.Narrow([Ts("10.0.0.0/24[tcp/22]")], [Ts("10.0.0.0/24[tcp/80-443]")]));
    }

    [Fact]
    public void Opaque_ports_only_meet_opaque_or_any()
    {
        var opaque = Ts("10.0.0.0/24[udp/%opaque]");
        Assert.Equal([opaque], TrafficSelectorNarrowing.Narrow([opaque], [Ts("10.0.0.0/24")]));
        Assert.Empty(TrafficSelectorNarrowing.Narrow([opaque], [Ts("10.0.0.0/24[udp/53]")]));
    }

    [Fact]
    public void Several_selectors_give_each_intersection_in_peer_order_without_duplicates()
    {
        // RFC 7296 §2.9: first selector may be the packet that triggered the request; keep it first.
        var proposed = new[] { Ts("10.20.0.5"), Ts("10.20.0.0/16"), Ts("2001:db8::/32") };
        var allowed = new[] { Ts("10.20.0.0/24"), Ts("10.20.5.0/24"), Ts("2001:db8:1::/48") };
        var result = TrafficSelectorNarrowing.Narrow(proposed, allowed);
        Assert.Equal(
            [V4("10.20.0.5", "10.20.0.5"), V4("10.20.0.0", "10.20.0.255"), V4("10.20.5.0", "10.20.5.255"), Ts("2001:db8:1::/48")],
            result);
        Assert.Equal([Ts("10.0.0.0/24")], TrafficSelectorNarrowing.Narrow([Ts("10.0.0.0/24"), Ts("10.0.0.0/24")], [Ts("10.0.0.0/8")]));
    }

    [Fact]
    public void Ipv6_narrowing()
    {
        Assert.Equal([Ts("2001:db8:0:1::/64")], TrafficSelectorNarrowing.Narrow([Ts("::/0")], [Ts("2001:db8:0:1::/64")]));
        Assert.Empty(TrafficSelectorNarrowing.Narrow([Ts("2001:db8:0:2::/64")], [Ts("2001:db8:0:1::/64")]));
    }

    [Fact]
    public void Subset_checks_type_address_protocol_and_ports()
    {
        var outer = new[] { Ts("10.0.0.0/16[tcp]"), Ts("2001:db8::/32") };
        Assert.True(TrafficSelectorNarrowing.IsSubset([Ts("10.0.1.0/24[tcp/80]"), Ts("2001:db8:5::/48[udp]")], outer));
        Assert.False(TrafficSelectorNarrowing.IsSubset([Ts("10.0.1.0/24[udp]")], outer));
        Assert.False(TrafficSelectorNarrowing.IsSubset([Ts("10.0.1.0/24")], outer)); // any protocol is wider than tcp
        Assert.False(TrafficSelectorNarrowing.IsSubset([Ts("10.1.0.0/24[tcp]")], outer));
        Assert.False(TrafficSelectorNarrowing.IsSubset([Ts("10.0.255.0-10.1.0.1[tcp]")], outer));
        Assert.False(TrafficSelectorNarrowing.IsSubset([Ts("10.0.0.0/24[tcp/80]")], [Ts("10.0.0.0/16[tcp/81-90]")]));
        Assert.True(TrafficSelectorNarrowing.IsSubset([], outer));
    }
}
