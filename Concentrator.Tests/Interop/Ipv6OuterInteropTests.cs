using Concentrator.Testbed.Interop;
using Xunit.Abstractions;

namespace Concentrator.Tests.Interop;

/// <summary>
/// IPv6 as the outer protocol of ESP (issue 18) in the namespace testbed with IPv6 on its links: the inner tunnel is
/// IPv4 (10.99.10.0/24 to 10.99.2.0/24; IPv6 too where a ping6 says so) while IKE and ESP cross fd00:99::/32. strongSwan's kernel-libipsec speaks only
/// ESP-in-UDP, so against it ESP travels on UDP 4500 over IPv6; between two concentrators it travels as plain ESP (IPv6
/// next header 50), which the gateway's AF_INET6 raw socket receives without an IPv6 header. nft counters split by
/// family witness every claim about the wire: what crossed over IPv6 and that nothing fell back to IPv4.
/// </summary>
[Collection(InteropCollection.Name)]
[Trait("Category", "Root")]
public sealed class Ipv6OuterInteropTests(ITestOutputHelper output)
{
    private const string Ike = "aes256gcm16-prfsha256-ecp256";
    private const string Esp = "aes256gcm16";
    private const long ShaBytes = 1L * 1024 * 1024;

    /// <summary>Both families at once, as <c>listen.addresses</c> lists them (the IPv6 one quoted for YAML).</summary>
    private static string DualListen => $"{NamespaceTestbed.GatewayOuter}, \"{NamespaceTestbed.GatewayOuter6}\"";

    /// <summary>
    /// A strongSwan initiator reaches the gateway over IPv6 (encap = yes, libipsec's only ESP): ping and a SHA-256-checked
    /// TCP stream both ways through the IPv4 inner tunnel, every ESP packet on UDP 4500 over IPv6 in both directions.
    /// </summary>
    [Fact(Timeout = 120_000)]
    [Trait("Category", "Root")]
    public async Task StrongSwan_initiator_reaches_the_gateway_over_ipv6_esp_in_udp_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 90, ipv6: true);
        var bed = scope.Bed;

        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer"));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics());
        await peer.LoadAsync(SwanctlConf.Connection("gw", bed.PeerOuter6, NamespaceTestbed.GatewayOuter6, SwanctlConf.PeerId, SwanctlConf.GatewayId,
            Ike, "net", $"{NamespaceTestbed.PeerInner}/32, {NamespaceTestbed.PeerInner6}/128", $"{NamespaceTestbed.LanSubnet}, {NamespaceTestbed.LanSubnet6}",
            Esp, encap: true));
        OuterFamilyCounters.Install(bed.Gateway, bed.WorkDir);
        await using var capture = await PacketCapture.StartAsync(bed.Gateway, NamespaceTestbed.GatewayOuterDevice, bed.WorkDir,
            "ip6 and (esp or udp port 4500)", seconds: 60, maxPackets: 16, fields: Ipv6EspFields);
        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"),
            ConcentratorYaml.Connection(DualListen, "%any", SwanctlConf.GatewayId, SwanctlConf.PeerId, Ike, Esp,
                $"{NamespaceTestbed.LanSubnet}, \"{NamespaceTestbed.LanSubnet6}\"", $"{NamespaceTestbed.PeerInnerSubnet}, \"{NamespaceTestbed.PeerInnerSubnet6}\""),
            scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics());

        var init = await peer.InitiateAsync("gw", "net", timeoutSeconds: 20);
        Assert.True(init.Ok, "swanctl --initiate to the concentrator over IPv6 failed: " + init);
        var onPeer = await peer.WaitInstalledAsync("gw", "net", scope.Remaining(TimeSpan.FromSeconds(10)));
        Assert.True(onPeer is not null, "peer: no ESTABLISHED IKE SA with an INSTALLED child");
        var (ike, child) = onPeer!.Value;
        scope.Log($"peer: {ike} local-host={ike.Get("local-host")} remote-host={ike.Get("remote-host")} remote-port={ike.Get("remote-port")}");
        Assert.Equal(NamespaceTestbed.GatewayOuter6, ike.Get("remote-host"));
        Assert.Equal("4500", ike.Get("remote-port"));
        Assert.Equal("yes", child.Get("encap"));
        Assert.True(await gateway.WaitForEventAsync(ConcentratorProcess.ChildSaInstalled, scope.Remaining(TimeSpan.FromSeconds(5))),
            "the concentrator did not log Child SA installed (1003)");
        var (spiIn, spiOut) = ConcentratorYaml.SpisOf(Assert.Single(gateway.EventsWithId(ConcentratorProcess.ChildSaInstalled)).Message);

        var lines = await CarryTrafficAsync(scope, capture);
        var udpEsp = lines.Where(f => f.Length == Ipv6EspFields.Length && f[0] == "17" && f[5].Length > 0).ToList();
        Assert.Contains(udpEsp, f => f[1] == bed.PeerOuter6 && f[2] == NamespaceTestbed.GatewayOuter6 && f[4] == "4500" && Underlay.NormalizeSpi(f[5]) == spiIn);
        Assert.Contains(udpEsp, f => f[1] == NamespaceTestbed.GatewayOuter6 && f[2] == bed.PeerOuter6 && f[3] == "4500" && Underlay.NormalizeSpi(f[5]) == spiOut);

        var counters = OuterFamilyCounters.Read(bed.Gateway);
        scope.Log("gateway underlay: " + EspCounters.Format(counters));
        Assert.True(counters["v6_udp_esp_in"].Bytes > ShaBytes, "less ESP-in-UDP over IPv6 reached the gateway than the stream to the LAN carried");
        Assert.True(counters["v6_udp_esp_out"].Bytes > ShaBytes, "less ESP-in-UDP over IPv6 left the gateway than the stream to the peer carried");
        AssertNothingElse(counters, "v6_udp_esp");
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }

    /// <summary>
    /// Two concentrators over IPv6 without encapsulation (the second witness: strongSwan here cannot do plain ESP): ESP
    /// as IPv6 next header 50 both ways, received by the gateway's AF_INET6 raw socket; ping and SHA-256 streams both ways.
    /// </summary>
    [Fact(Timeout = 120_000)]
    [Trait("Category", "Root")]
    public async Task Concentrator_to_Concentrator_over_ipv6_plain_esp_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 90, ipv6: true);
        var bed = scope.Bed;
        OuterFamilyCounters.Install(bed.Gateway, bed.WorkDir);
        await using var capture = await PacketCapture.StartAsync(bed.Gateway, NamespaceTestbed.GatewayOuterDevice, bed.WorkDir,
            "ip6 and (esp or udp port 4500)", seconds: 60, maxPackets: 12, fields: Ipv6EspFields);

        // One child for both inner families: IPv4 and IPv6 selectors together, both over the IPv6 outer header.
        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator-gw"),
            ConcentratorYaml.Connection(DualListen, "%any", SwanctlConf.GatewayId, SwanctlConf.PeerId, Ike, Esp,
                $"{NamespaceTestbed.LanSubnet}, \"{NamespaceTestbed.LanSubnet6}\"", $"{NamespaceTestbed.PeerInnerSubnet}, \"{NamespaceTestbed.PeerInnerSubnet6}\""),
            scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator gateway", () => gateway.Diagnostics());
        var peer = scope.Own(await ConcentratorProcess.StartAsync(bed.Peer, bed.Dir("concentrator-peer"),
            ConcentratorYaml.Connection($"\"{bed.PeerOuter6}\"", NamespaceTestbed.GatewayOuter6, SwanctlConf.PeerId, SwanctlConf.GatewayId, Ike, Esp,
                $"{NamespaceTestbed.PeerInnerSubnet}, \"{NamespaceTestbed.PeerInnerSubnet6}\"", $"{NamespaceTestbed.LanSubnet}, \"{NamespaceTestbed.LanSubnet6}\"",
                startAction: "start", name: "gw"), scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator peer", () => peer.Diagnostics());
        Assert.True(await peer.WaitForEventAsync(ConcentratorProcess.ChildSaInstalled, scope.Remaining(TimeSpan.FromSeconds(20))),
            "the initiating concentrator did not log Child SA installed (1003)");
        Assert.True(await gateway.WaitForEventAsync(ConcentratorProcess.ChildSaInstalled, scope.Remaining(TimeSpan.FromSeconds(5))),
            "the responding concentrator did not log Child SA installed (1003)");
        var established = Assert.Single(gateway.EventsWithId(ConcentratorProcess.IkeSaEstablished));
        scope.Log("gateway: " + established.Message);
        Assert.Contains(bed.PeerOuter6, established.Message);
        Assert.EndsWith("NAT False", established.Message);
        var (gwIn, gwOut) = ConcentratorYaml.SpisOf(Assert.Single(gateway.EventsWithId(ConcentratorProcess.ChildSaInstalled)).Message);

        var lines = await CarryTrafficAsync(scope, capture);
        var esp = lines.Where(f => f.Length == Ipv6EspFields.Length && f[0] == "50").ToList();
        Assert.Contains(esp, f => f[1] == bed.PeerOuter6 && f[2] == NamespaceTestbed.GatewayOuter6 && Underlay.NormalizeSpi(f[5]) == gwIn);
        Assert.Contains(esp, f => f[1] == NamespaceTestbed.GatewayOuter6 && f[2] == bed.PeerOuter6 && Underlay.NormalizeSpi(f[5]) == gwOut);

        var counters = OuterFamilyCounters.Read(bed.Gateway);
        scope.Log("gateway underlay: " + EspCounters.Format(counters));
        Assert.True(counters["v6_raw_esp_in"].Bytes > ShaBytes, "less plain ESP over IPv6 reached the gateway than the stream to the LAN carried");
        Assert.True(counters["v6_raw_esp_out"].Bytes > ShaBytes, "less plain ESP over IPv6 left the gateway than the stream to the peer carried");
        AssertNothingElse(counters, "v6_raw_esp");
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        Assert.Empty(peer.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }

    /// <summary>
    /// NAT-T keepalives over IPv6 from us: our initiator behind an IPv6 masquerading router (NAT66) knows it is behind a
    /// NAT and, every charon.keep_alive (2 s here; 20 s, strongSwan's default, would not arrive within the 10 s waited), sends the one 0xFF octet
    /// from its NAT-T port; the strongSwan responder's namespace counts them arriving on UDP 4500 over IPv6, and a ping
    /// crosses the tunnel (ESP-in-UDP over IPv6 through the NAT).
    /// </summary>
    [Fact(Timeout = 120_000)]
    [Trait("Category", "Root")]
    public async Task Concentrator_behind_an_ipv6_nat_sends_keepalives_over_ipv6_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, withNatRouter: true, budgetSeconds: 90, ipv6: true);
        var bed = scope.Bed;

        var responder = scope.Own(await StrongSwan.StartAsync(bed.Gateway, bed.Dir("charon-gw"), "gw"));
        scope.AddDiagnostics("charon gateway", () => responder.Diagnostics());
        await responder.LoadAsync(SwanctlConf.Connection("peer", NamespaceTestbed.GatewayOuter6, "%any", SwanctlConf.GatewayId, SwanctlConf.PeerId,
            Ike, "net", NamespaceTestbed.LanSubnet, NamespaceTestbed.PeerInnerSubnet, Esp, encap: true));
        OuterFamilyCounters.Install(bed.Gateway, bed.WorkDir);
        var ours = scope.Own(await ConcentratorProcess.StartAsync(bed.Peer, bed.Dir("concentrator-peer"),
            ConcentratorYaml.Connection($"\"{bed.PeerOuter6}\"", NamespaceTestbed.GatewayOuter6, SwanctlConf.PeerId, SwanctlConf.GatewayId, Ike, Esp,
                NamespaceTestbed.PeerInnerSubnet, NamespaceTestbed.LanSubnet, startAction: "start", name: "gw") + "\ncharon: { keep_alive: 2s }\n",
            scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator peer", () => ours.Diagnostics());

        Assert.True(await ours.WaitForEventAsync(ConcentratorProcess.ChildSaInstalled, scope.Remaining(TimeSpan.FromSeconds(20))),
            "the concentrator behind the NAT66 did not log Child SA installed (1003)");
        var established = Assert.Single(ours.EventsWithId(ConcentratorProcess.IkeSaEstablished));
        scope.Log("concentrator: " + established.Message);
        Assert.EndsWith("NAT True", established.Message);
        var onGateway = await responder.WaitInstalledAsync("peer", "net", scope.Remaining(TimeSpan.FromSeconds(10)));
        Assert.True(onGateway is not null, "strongSwan responder: no ESTABLISHED IKE SA with an INSTALLED child");
        var (ike, _) = onGateway!.Value;
        scope.Log($"strongSwan: remote-host={ike.Get("remote-host")} remote-port={ike.Get("remote-port")} nat-remote={ike.Get("nat-remote")}");
        Assert.Equal(bed.PeerSeenByGateway6, ike.Get("remote-host"));
        Assert.Equal("yes", ike.Get("nat-remote"));

        await PingAsync(scope, bed.Peer, "peer inner -> LAN behind the NAT66", "-I", NamespaceTestbed.PeerInner, NamespaceTestbed.LanHost);

        // A few keepalive intervals (2 s), far below strongSwan's default interval.
        var deadline = DateTime.UtcNow + scope.Remaining(TimeSpan.FromSeconds(10));
        long keepalives = 0;
        while (DateTime.UtcNow < deadline && (keepalives = OuterFamilyCounters.Read(bed.Gateway)["v6_keepalive_in"].Packets) == 0)
            await Task.Delay(500);
        var counters = OuterFamilyCounters.Read(bed.Gateway);
        scope.Log("strongSwan's underlay: " + EspCounters.Format(counters));
        Assert.True(keepalives >= 1, "no NAT-T keepalive (one 0xFF octet on UDP 4500 over IPv6) reached the responder");
        Assert.True(counters["v6_udp_esp_in"].Packets >= 3, "fewer than 3 ESP-in-UDP packets over IPv6 reached the responder");
        Assert.Equal(0, counters["v4_keepalive_in"].Packets);
        Assert.Equal(0, counters["v4_udp_esp_in"].Packets);
        Assert.Empty(ours.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }

    /// <summary>Fields of every captured line: next header, source, destination, UDP ports (empty for plain ESP), SPI.</summary>
    private static readonly string[] Ipv6EspFields = ["ipv6.nxt", "ipv6.src", "ipv6.dst", "udp.srcport", "udp.dstport", "esp.spi"];

    /// <summary>
    /// The tunnel's traffic, then the capture's lines: pings both ways (IPv4) and peer to LAN (IPv6 in IPv6), SHA-256
    /// streams both ways, and a flood during which the gateway's packet threads must not allocate.
    /// </summary>
    private static async Task<IReadOnlyList<string[]>> CarryTrafficAsync(InteropScope scope, PacketCapture capture)
    {
        var bed = scope.Bed;
        await PingAsync(scope, bed.Peer, "peer inner -> LAN", "-I", NamespaceTestbed.PeerInner, NamespaceTestbed.LanHost);
        await PingAsync(scope, bed.Lan, "LAN -> peer inner", NamespaceTestbed.PeerInner);
        await PingAsync(scope, bed.Peer, "peer inner -> LAN, IPv6 in IPv6", "-6", "-I", NamespaceTestbed.PeerInner6, NamespaceTestbed.LanHost6);
        await ShaBothWaysAsync(scope);
        await AssertPacketThreadsDoNotAllocateAsync(scope, bed.Gateway);
        var lines = await capture.FinishAsync(scope.Remaining(TimeSpan.FromSeconds(3)));
        foreach (var l in lines) scope.Log("capture: " + string.Join(",", l));
        return lines;
    }

    private static async Task PingAsync(InteropScope scope, Netns from, string what, params string[] args)
    {
        var ping = await from.ExecAsync(scope.Remaining(TimeSpan.FromSeconds(15)), ["ping", "-n", "-c", "3", "-i", "0.3", "-W", "2", .. args]);
        scope.Log($"ping {what}: {PingOutput.Summary(ping)}");
        Assert.True(ping.Ok, $"ping {what} through the IPv6-outer tunnel failed: {ping}");
    }

    private static async Task ShaBothWaysAsync(InteropScope scope)
    {
        var bed = scope.Bed;
        var up = await TcpTransfer.Sha256StreamAsync(bed.Lan, NamespaceTestbed.LanHost, bed.Peer, NamespaceTestbed.PeerInner, ShaBytes, bed.WorkDir,
            scope.Remaining(TimeSpan.FromSeconds(25)));
        scope.Log($"sha256 stream peer -> LAN: {up.Received} B, hashes {(up.SentHash == up.ReceivedHash ? "equal" : "DIFFER")}");
        Assert.Equal(ShaBytes, up.Received);
        Assert.Equal(up.SentHash, up.ReceivedHash);
        var down = await TcpTransfer.Sha256StreamAsync(bed.Peer, NamespaceTestbed.PeerInner, bed.Lan, NamespaceTestbed.LanHost, ShaBytes, bed.WorkDir,
            scope.Remaining(TimeSpan.FromSeconds(25)));
        scope.Log($"sha256 stream LAN -> peer: {down.Received} B, hashes {(down.SentHash == down.ReceivedHash ? "equal" : "DIFFER")}");
        Assert.Equal(ShaBytes, down.Received);
        Assert.Equal(down.SentHash, down.ReceivedHash);
    }

    /// <summary>
    /// The gateway's packet threads (which read both families' sockets) allocate nothing while a 2,000-ping flood crosses the
    /// warmed-up tunnel both ways (/dataplane's packetThreadAllocatedBytes, sampled per batch; 1 KiB of slack for a one-off
    /// lazy initialisation, as DataPlaneAllocationRootTests allows).
    /// </summary>
    private static async Task AssertPacketThreadsDoNotAllocateAsync(InteropScope scope, Netns gateway)
    {
        var bed = scope.Bed;
        long before = await AllocatedAsync(gateway);
        var flood = await bed.Peer.ExecAsync(scope.Remaining(TimeSpan.FromSeconds(20)),
            "ping", "-n", "-q", "-f", "-c", "2000", "-W", "1", "-I", NamespaceTestbed.PeerInner, NamespaceTestbed.LanHost);
        await Task.Delay(300);
        long after = await AllocatedAsync(gateway);
        scope.Log($"flood ping: {PingOutput.Summary(flood)}; packet threads allocated {after - before} B (sampled total {after} B)");
        Assert.True(PingOutput.Received(flood) >= 1900, "flood ping through the tunnel: " + PingOutput.Summary(flood));
        Assert.True(after > 0, "packetThreadAllocatedBytes is not sampled");
        Assert.True(after - before <= 1024, $"the packet threads allocated {after - before} bytes during 2,000 pings");
    }

    private static async Task<long> AllocatedAsync(Netns ns)
    {
        var r = await ns.ExecCheckedAsync(TimeSpan.FromSeconds(15), "curl", "-sS", "-f", "--max-time", "10", "http://127.0.0.1:9400/dataplane");
        using var doc = System.Text.Json.JsonDocument.Parse(r.Stdout);
        return doc.RootElement.GetProperty("packetThreadAllocatedBytes").GetInt64();
    }

    /// <summary>Every ESP counter but <paramref name="used"/>'s two is zero: no packet fell back to IPv4 or to the other transport.</summary>
    private static void AssertNothingElse(IReadOnlyDictionary<string, EspCounters.Value> counters, string used)
    {
        foreach (var (name, value) in counters)
        {
            if (name.StartsWith(used, StringComparison.Ordinal) || name.Contains("keepalive", StringComparison.Ordinal)) continue;
            Assert.True(value.Packets == 0, $"{name} counted {value.Packets} packets");
        }
    }
}
