using Concentrator.Testbed.Interop;
using Xunit.Abstractions;

namespace Concentrator.Tests.Interop;

/// <summary>
/// encap: yes (forced UDP encapsulation, RFC 3948; issue 14, finding 11) in the namespace testbed without any NAT
/// (the peer's outer address is what the gateway sees). The testbed's charon uses kernel-libipsec, which itself
/// forces encapsulation (strongSwan fakes its own NAT_DETECTION_SOURCE_IP when the kernel interface needs UDP),
/// so against strongSwan what our side forced shows in charon's view of the IKE SA: it detects a NAT in front of
/// us (nat-remote), which only our faked hash can make it see, not merely its own fake (nat-fake). Between two
/// concentrators, which otherwise speak plain ESP here, the capture shows the data path itself move to UDP 4500.
/// </summary>
[Collection(InteropCollection.Name)]
[Trait("Category", "Root")]
public sealed class EncapInteropTests(ITestOutputHelper output)
{
    private const string Ike = "aes256gcm16-prfsha256-ecp256";
    private const string Esp = "aes256gcm16";

    /// <summary>Our initiator with encap: yes against a strongSwan responder whose connection says encap = no.</summary>
    [Fact(Timeout = 90_000)]
    [Trait("Category", "Root")]
    public async Task Concentrator_initiator_with_encap_yes_makes_StrongSwan_see_a_nat_and_sends_esp_in_udp_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 60);
        var bed = scope.Bed;
        Assert.Equal(bed.PeerOuter, bed.PeerSeenByGateway); // no NAT router in this bed

        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer"));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics());
        await peer.LoadAsync(SwanctlConf.Connection("gw", bed.PeerOuter, "%any", SwanctlConf.PeerId, SwanctlConf.GatewayId,
            Ike, "net", NamespaceTestbed.PeerInnerSubnet, NamespaceTestbed.LanSubnet, Esp, encap: false));
        EspCounters.Install(bed.Gateway, bed.WorkDir);
        await using var capture = await PacketCapture.StartAsync(bed.Gateway, NamespaceTestbed.GatewayOuterDevice, bed.WorkDir,
            "esp or udp port 4500", seconds: 40, maxPackets: 16);

        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"),
            ConcentratorYaml.Connection(NamespaceTestbed.GatewayOuter, bed.PeerOuter, SwanctlConf.GatewayId, SwanctlConf.PeerId, Ike, Esp,
                NamespaceTestbed.LanSubnet, NamespaceTestbed.PeerInnerSubnet, startAction: "start", name: "site", encap: true),
            scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics());

        var onPeer = await peer.WaitInstalledAsync("gw", "net", scope.Remaining(TimeSpan.FromSeconds(20)));
        Assert.True(onPeer is not null, "peer (responder): no ESTABLISHED IKE SA with an INSTALLED child");
        var (ike, child) = onPeer!.Value;
        scope.Log($"peer: {ike} nat-local={ike.Get("nat-local")} nat-remote={ike.Get("nat-remote")} nat-fake={ike.Get("nat-fake")}");
        Assert.NotEqual("yes", ike.Get("initiator"));
        Assert.Equal("yes", ike.Get("nat-remote")); // our faked source hash: charon believes we are behind a NAT
        Assert.NotEqual("yes", ike.Get("nat-local"));
        Assert.NotEqual("yes", ike.Get("nat-fake")); // not (only) charon's own forcing
        Assert.Equal("4500", ike.Get("remote-port"));
        Assert.Equal("yes", child.Get("encap"));

        Assert.True(await gateway.WaitForEventAsync(ConcentratorProcess.ChildSaInstalled, scope.Remaining(TimeSpan.FromSeconds(5))),
            "the concentrator did not log Child SA installed (1003)");
        var (spiIn, spiOut) = ConcentratorYaml.SpisOf(Assert.Single(gateway.EventsWithId(ConcentratorProcess.ChildSaInstalled)).Message);

        var ping = await bed.Lan.ExecAsync(scope.Remaining(TimeSpan.FromSeconds(15)),
            "ping", "-n", "-c", "3", "-i", "0.3", "-W", "2", NamespaceTestbed.PeerInner);
        scope.Log("ping LAN -> peer inner: " + PingOutput.Summary(ping));
        Assert.True(ping.Ok, "ping through the tunnel failed: " + ping);
        AssertEspInUdpOnly(scope, await capture.FinishAsync(scope.Remaining(TimeSpan.FromSeconds(3))), bed, spiIn, spiOut);
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }

    /// <summary>Our responder with encap: yes: a strongSwan initiator whose connection says encap = no sees a NAT in front of us.</summary>
    [Fact(Timeout = 90_000)]
    [Trait("Category", "Root")]
    public async Task Concentrator_responder_with_encap_yes_makes_a_StrongSwan_initiator_see_a_nat_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 60);
        var bed = scope.Bed;

        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer"));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics());
        await peer.LoadAsync(SwanctlConf.Connection("gw", bed.PeerOuter, NamespaceTestbed.GatewayOuter, SwanctlConf.PeerId, SwanctlConf.GatewayId,
            Ike, "net", NamespaceTestbed.PeerInner + "/32", NamespaceTestbed.LanSubnet, Esp, encap: false));
        EspCounters.Install(bed.Gateway, bed.WorkDir);
        await using var capture = await PacketCapture.StartAsync(bed.Gateway, NamespaceTestbed.GatewayOuterDevice, bed.WorkDir,
            "esp or udp port 4500", seconds: 40, maxPackets: 16);
        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"),
            ConcentratorYaml.Connection(NamespaceTestbed.GatewayOuter, "%any", SwanctlConf.GatewayId, SwanctlConf.PeerId, Ike, Esp,
                NamespaceTestbed.LanSubnet, NamespaceTestbed.PeerInnerSubnet, encap: true),
            scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics());

        var init = await peer.InitiateAsync("gw", "net", timeoutSeconds: 20);
        Assert.True(init.Ok, "swanctl --initiate to the concentrator failed: " + init);
        var onPeer = await peer.WaitInstalledAsync("gw", "net", scope.Remaining(TimeSpan.FromSeconds(10)));
        Assert.True(onPeer is not null, "peer: no ESTABLISHED IKE SA with an INSTALLED child");
        var (ike, child) = onPeer!.Value;
        scope.Log($"peer: {ike} nat-local={ike.Get("nat-local")} nat-remote={ike.Get("nat-remote")} nat-fake={ike.Get("nat-fake")}");
        Assert.Equal("yes", ike.Get("initiator"));
        Assert.Equal("yes", ike.Get("nat-remote"));
        Assert.NotEqual("yes", ike.Get("nat-local"));
        Assert.Equal("yes", child.Get("encap"));

        Assert.True(await gateway.WaitForEventAsync(ConcentratorProcess.ChildSaInstalled, scope.Remaining(TimeSpan.FromSeconds(5))),
            "the concentrator did not log Child SA installed (1003)");
        var (spiIn, spiOut) = ConcentratorYaml.SpisOf(Assert.Single(gateway.EventsWithId(ConcentratorProcess.ChildSaInstalled)).Message);
        var ping = await bed.Peer.ExecAsync(scope.Remaining(TimeSpan.FromSeconds(15)),
            "ping", "-n", "-c", "3", "-i", "0.3", "-W", "2", "-I", NamespaceTestbed.PeerInner, NamespaceTestbed.LanHost);
        scope.Log("ping peer inner -> LAN: " + PingOutput.Summary(ping));
        Assert.True(ping.Ok, "ping through the tunnel failed: " + ping);
        AssertEspInUdpOnly(scope, await capture.FinishAsync(scope.Remaining(TimeSpan.FromSeconds(3))), bed, spiIn, spiOut);
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }

    /// <summary>
    /// Two concentrators, which speak plain ESP (IP protocol 50) in this bed (TrafficInteropTests.Concentrator_to_Concentrator_plain_esp_Root),
    /// with encap: yes on the initiator: IKE and ESP move to UDP 4500 and no protocol-50 packet crosses the link.
    /// </summary>
    [Fact(Timeout = 90_000)]
    [Trait("Category", "Root")]
    public async Task Concentrator_to_Concentrator_with_encap_yes_sends_esp_in_udp_instead_of_plain_esp_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 60);
        var bed = scope.Bed;
        EspCounters.Install(bed.Gateway, bed.WorkDir);
        await using var capture = await PacketCapture.StartAsync(bed.Gateway, NamespaceTestbed.GatewayOuterDevice, bed.WorkDir,
            "esp or udp port 4500", seconds: 40, maxPackets: 16);

        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator-gw"),
            ConcentratorYaml.Connection(NamespaceTestbed.GatewayOuter, "%any", SwanctlConf.GatewayId, SwanctlConf.PeerId, Ike, Esp,
                NamespaceTestbed.LanSubnet, NamespaceTestbed.PeerInnerSubnet), scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator gateway", () => gateway.Diagnostics());
        var peer = scope.Own(await ConcentratorProcess.StartAsync(bed.Peer, bed.Dir("concentrator-peer"),
            ConcentratorYaml.Connection(bed.PeerOuter, NamespaceTestbed.GatewayOuter, SwanctlConf.PeerId, SwanctlConf.GatewayId, Ike, Esp,
                NamespaceTestbed.PeerInnerSubnet, NamespaceTestbed.LanSubnet, startAction: "start", name: "gw", encap: true),
            scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator peer", () => peer.Diagnostics());

        Assert.True(await peer.WaitForEventAsync(ConcentratorProcess.ChildSaInstalled, scope.Remaining(TimeSpan.FromSeconds(20))),
            "the initiating concentrator did not log Child SA installed (1003)");
        Assert.True(await gateway.WaitForEventAsync(ConcentratorProcess.ChildSaInstalled, scope.Remaining(TimeSpan.FromSeconds(5))),
            "the responding concentrator did not log Child SA installed (1003)");
        var established = Assert.Single(gateway.EventsWithId(ConcentratorProcess.IkeSaEstablished));
        scope.Log("gateway: " + established.Message);
        Assert.EndsWith("NAT True", established.Message); // the initiator's faked hash reads as a NAT
        var (spiIn, spiOut) = ConcentratorYaml.SpisOf(Assert.Single(gateway.EventsWithId(ConcentratorProcess.ChildSaInstalled)).Message);

        var ping = await bed.Peer.ExecAsync(scope.Remaining(TimeSpan.FromSeconds(15)),
            "ping", "-n", "-c", "3", "-i", "0.3", "-W", "2", "-I", NamespaceTestbed.PeerInner, NamespaceTestbed.LanHost);
        scope.Log("ping peer inner -> LAN: " + PingOutput.Summary(ping));
        Assert.True(ping.Ok, "ping through the tunnel failed: " + ping);
        AssertEspInUdpOnly(scope, await capture.FinishAsync(scope.Remaining(TimeSpan.FromSeconds(3))), bed, spiIn, spiOut);
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        Assert.Empty(peer.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }

    /// <summary>
    /// The gateway's link carried the SA's ESP in UDP 4500 both ways between the peer's own address and the gateway
    /// (no NAT), with exactly the logged SPIs, and not one protocol-50 packet (captured and counted by nft).
    /// </summary>
    private static void AssertEspInUdpOnly(InteropScope scope, IReadOnlyList<string[]> lines, NamespaceTestbed bed, string spiIn, string spiOut)
    {
        foreach (var l in lines) scope.Log("capture: " + string.Join(",", l));
        var counters = EspCounters.Read(bed.Gateway);
        scope.Log("gateway underlay: " + EspCounters.Format(counters));
        var udpEsp = lines.Where(f => f.Length == PacketCapture.EspFields.Length && f[0] == "17" && f[5].Length > 0).ToList();
        Assert.Contains(udpEsp, f => f[1] == bed.PeerOuter && f[2] == NamespaceTestbed.GatewayOuter && f[4] == "4500" && Underlay.NormalizeSpi(f[5]) == spiIn);
        Assert.Contains(udpEsp, f => f[1] == NamespaceTestbed.GatewayOuter && f[2] == bed.PeerOuter && f[3] == "4500" && Underlay.NormalizeSpi(f[5]) == spiOut);
        Assert.DoesNotContain(lines, f => f.Length > 0 && f[0] == "50");
        Assert.True(counters["udp_esp_in"].Packets >= 3, "fewer than 3 ESP-in-UDP packets reached the gateway");
        Assert.True(counters["udp_esp_out"].Packets >= 3, "fewer than 3 ESP-in-UDP packets left the gateway");
        Assert.Equal(0, counters["raw_esp_in"].Packets);
        Assert.Equal(0, counters["raw_esp_out"].Packets);
    }
}
