namespace Concentrator.Testbed.Interop;

/// <summary>
/// The testbed's IPv6 (ULA fd00:99::/32, never routed outside the namespaces), beside its IPv4 on the same links:
/// <code>
///   peer (p0 fd00:99:1::2, inner fd00:99:10::1 on lo) ─ gateway (g0 fd00:99:1::1 | g1 fd00:99:2::1) ─ lan (l0 fd00:99:2::2)
///   with the NAT router: peer (p0 fd00:99:3::2) ─ router (r0 fd00:99:3::1 | r1 fd00:99:1::2, masquerade) ─ gateway
/// </code>
/// Addresses are added with nodad and every namespace has accept_dad 0 before its links exist: an address is usable at
/// once (a tentative one would refuse to be bound for a second or two, and a test would race it).
/// </summary>
public sealed partial class NamespaceTestbed
{
    public const string GatewayOuter6 = "fd00:99:1::1";
    public const string GatewayInner6 = "fd00:99:2::1";
    public const string LanHost6 = "fd00:99:2::2";
    public const string LanSubnet6 = "fd00:99:2::/64";
    public const string PeerInner6 = "fd00:99:10::1";
    public const string PeerInnerSubnet6 = "fd00:99:10::/64";
    public const string RouterInside6 = "fd00:99:3::1";

    /// <summary>Whether the links carry IPv6 too (Create's ipv6).</summary>
    public bool WithIpv6 { get; }

    /// <summary>The peer's own IPv6 underlay address.</summary>
    public string PeerOuter6 => WithNat ? "fd00:99:3::2" : "fd00:99:1::2";

    /// <summary>The IPv6 address the gateway sees the peer's packets come from (the router's, behind NAT).</summary>
    public string PeerSeenByGateway6 => "fd00:99:1::2";

    private static void EnableIpv6(Netns ns)
    {
        foreach (var scope in (string[])["all", "default"])
        {
            ns.Sysctl($"net.ipv6.conf.{scope}.disable_ipv6", "0");
            ns.Sysctl($"net.ipv6.conf.{scope}.accept_dad", "0");
        }
    }

    private static void AddAddress6(Netns ns, string device, string address) => ns.Ip("-6", "addr", "add", address + "/64", "dev", device, "nodad");

    private void AddIpv6()
    {
        Gateway.Sysctl("net.ipv6.conf.all.forwarding", "1");
        if (WithNat)
        {
            AddAddress6(Peer, PeerDevice, PeerOuter6);
            AddAddress6(Router!, "r0", RouterInside6);
            AddAddress6(Router!, "r1", PeerSeenByGateway6);
            Peer.Ip("-6", "route", "add", "default", "via", RouterInside6);
            Router!.Sysctl("net.ipv6.conf.all.forwarding", "1");
            string rules = """
                table ip6 cit_nat6 {
                  chain postrouting {
                    type nat hook postrouting priority srcnat; policy accept;
                    oifname "r1" masquerade
                  }
                }
                """;
            ApplyNft(Router, "router6.nft", rules);
        }
        else
        {
            AddAddress6(Peer, PeerDevice, PeerOuter6);
        }

        AddAddress6(Gateway, GatewayOuterDevice, GatewayOuter6);
        AddAddress6(Gateway, GatewayInnerDevice, GatewayInner6);
        AddAddress6(Lan, LanDevice, LanHost6);
        Lan.Ip("-6", "route", "add", "default", "via", GatewayInner6);
        Peer.Ip("-6", "addr", "add", PeerInner6 + "/128", "dev", "lo", "nodad");
    }
}
