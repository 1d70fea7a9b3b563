using System.Net;
using Concentrator.Ike.Tasks.V1;
using Concentrator.Ike.Wire.V1;

namespace Concentrator.Tests.Ike.Tasks.V1;

/// <summary>NAT keepalives only behind a NAT (RFC 3948 §2.3), and the NAT-OA payloads of quick mode (RFC 3947 §5.2).</summary>
public class V1NatTTests
{
    [Fact]
    public void Keepalives_run_only_behind_a_nat_on_the_nat_t_port_with_a_period()
    {
        var twenty = TimeSpan.FromSeconds(20);
        Assert.Equal(twenty, V1NatT.KeepaliveInterval(natT: true, behindNat: true, twenty));
        Assert.Null(V1NatT.KeepaliveInterval(natT: true, behindNat: false, twenty)); // only the peer is behind one
        Assert.Null(V1NatT.KeepaliveInterval(natT: false, behindNat: true, twenty));
        Assert.Null(V1NatT.KeepaliveInterval(natT: true, behindNat: true, TimeSpan.Zero));
        Assert.Null(V1NatT.KeepaliveInterval(natT: true, behindNat: true, null));
    }

    [Fact]
    public void Nat_oa_goes_with_udp_encapsulated_transport_mode_only_initiator_first()
    {
        Assert.True(V1NatT.NatOaRequired(udpEncapsulated: true, transportMode: true));
        Assert.False(V1NatT.NatOaRequired(udpEncapsulated: true, transportMode: false));
        Assert.False(V1NatT.NatOaRequired(udpEncapsulated: false, transportMode: true));

        var built = V1NatT.BuildNatOa(IPAddress.Parse("10.0.0.2"), IPAddress.Parse("192.0.2.1"), draft: false);
        Assert.All(built, p => Assert.Equal(V1PayloadType.NatOa, p.Type));
        // Through the codec and back, as a peer reads them.
        var chain = IsakmpCodec.EncodeChain(built);
        var parsed = new List<V1Payload>();
        Assert.Equal(Concentrator.Ipsec.ParseStatus.Ok, IsakmpCodec.TryDecodeChain(V1PayloadType.NatOa, chain, false, parsed));
        Assert.Equal(V1NatOaCheck.Ok, V1NatT.ReadNatOa(parsed, out var initiator, out var responder));
        Assert.Equal(IPAddress.Parse("10.0.0.2"), initiator);
        Assert.Equal(IPAddress.Parse("192.0.2.1"), responder);
        Assert.All(V1NatT.BuildNatOa(IPAddress.IPv6Loopback, IPAddress.IPv6Loopback, draft: true), p => Assert.Equal(V1PayloadType.NatOaDraft, p.Type));
    }

    [Fact]
    public void A_draft_peer_s_single_nat_oa_is_read_and_three_or_mixed_families_are_refused()
    {
        var v4 = new NatOaPayload([10, 0, 0, 2]);
        var v6 = new NatOaPayload(IPAddress.IPv6Loopback.GetAddressBytes());
        Assert.Equal(V1NatOaCheck.Absent, V1NatT.ReadNatOa([new V1DataPayload(V1PayloadType.Nonce, new byte[16])], out _, out _));
        Assert.Equal(V1NatOaCheck.Ok, V1NatT.ReadNatOa([v4], out var initiator, out var responder));
        Assert.Equal(IPAddress.Parse("10.0.0.2"), initiator);
        Assert.Null(responder);
        Assert.Equal(V1NatOaCheck.Malformed, V1NatT.ReadNatOa([v4, v4, v4], out _, out _));
        Assert.Equal(V1NatOaCheck.Malformed, V1NatT.ReadNatOa([v4, v6], out initiator, out _));
        Assert.Null(initiator);
    }
}
