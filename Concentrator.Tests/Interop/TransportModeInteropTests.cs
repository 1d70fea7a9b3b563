using Concentrator.Testbed.Interop;
using Xunit.Abstractions;

namespace Concentrator.Tests.Interop;

/// <summary>
/// Transport mode (USE_TRANSPORT_MODE, RFC 7296 §1.3.1; RFC 4303 §3.1.1) between two of our own concentrators in the
/// namespace testbed, host to host between their outer addresses (plain ESP: no NAT, no forced encapsulation). The
/// testbed's strongSwan (kernel-libipsec) has no transport mode: libipsec's ipsec_sa_mgr refuses any SA whose mode is
/// not tunnel, so the wire format is proven against scapy (ScapyTransportModeTests) and the negotiation in process
/// (TransportModeTests). Here: ping and a TCP transfer to the peer's own address, every packet of them as ESP on the
/// link (nft counters of the whole run: no plaintext ICMP or TCP between the hosts; a capture: ESP of a transport-mode
/// length, i.e. without an inner IP header), and the operator's view saying TRANSPORT.
/// </summary>
[Collection(InteropCollection.Name)]
[Trait("Category", "Root")]
public sealed class TransportModeInteropTests(ITestOutputHelper output)
{
    private const string Ike = "aes256gcm16-prfsha256-ecp256";
    private const string Esp = "aes256gcm16";

    /// <summary>ICMP payload of the probe pings: 108 bytes of ICMP become 164-byte ESP packets in transport mode
    /// (IP 20 + SPI/seq 8 + IV 8 + 108 + 2 padded to 112 + ICV 16), 184 bytes in tunnel mode (20 more inside).</summary>
    private const int PingSize = 100;
    private const string TransportEspLength = "164";

    [Fact(Timeout = 120_000)]
    [Trait("Category", "Root")]
    public async Task Concentrator_to_Concentrator_transport_mode_carries_ping_and_tcp_as_esp_only_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 90);
        var bed = scope.Bed;
        string gw = NamespaceTestbed.GatewayOuter, peerAddress = bed.PeerOuter;
        Assert.Equal(bed.PeerOuter, bed.PeerSeenByGateway); // no NAT: transport mode is refused through one

        EspCounters.Install(bed.Gateway, bed.WorkDir);
        InstallPlaintextCounters(bed.Gateway, bed.WorkDir, peerAddress);
        await using var capture = await PacketCapture.StartAsync(bed.Gateway, NamespaceTestbed.GatewayOuterDevice, bed.WorkDir,
            $"host {peerAddress} and not udp port 500", seconds: 60, maxPackets: 60,
            fields: ["ip.proto", "ip.src", "ip.dst", "ip.len", "esp.spi"]);

        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator-gw"),
            ConcentratorYaml.Connection(gw, "%any", SwanctlConf.GatewayId, SwanctlConf.PeerId, Ike, Esp,
                gw + "/32", peerAddress + "/32", mode: "transport"), scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator gateway", () => gateway.Diagnostics());
        var peer = scope.Own(await ConcentratorProcess.StartAsync(bed.Peer, bed.Dir("concentrator-peer"),
            ConcentratorYaml.Connection(peerAddress, gw, SwanctlConf.PeerId, SwanctlConf.GatewayId, Ike, Esp,
                peerAddress + "/32", gw + "/32", startAction: "start", name: "gw", mode: "transport"),
            scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator peer", () => peer.Diagnostics());

        Assert.True(await peer.WaitForEventAsync(ConcentratorProcess.ChildSaInstalled, scope.Remaining(TimeSpan.FromSeconds(20))),
            "the initiating concentrator did not log Child SA installed (1003)");
        Assert.True(await gateway.WaitForEventAsync(ConcentratorProcess.ChildSaInstalled, scope.Remaining(TimeSpan.FromSeconds(5))),
            "the responding concentrator did not log Child SA installed (1003)");
        var (spiIn, spiOut) = ConcentratorYaml.SpisOf(Assert.Single(gateway.EventsWithId(ConcentratorProcess.ChildSaInstalled)).Message);

        var sas = await bed.Gateway.ExecCheckedAsync(scope.Remaining(TimeSpan.FromSeconds(30)), "dotnet", ConcentratorProcess.AssemblyPath, "sas",
            "--admin", "http://127.0.0.1:9400/");
        scope.Log("gateway sas:\n" + sas.Stdout);
        Assert.Contains("INSTALLED, TRANSPORT", sas.Stdout);
        scope.Log("gateway routes: " + bed.Gateway.Exec("ip", "route", "show", "table", "220").Stdout.Trim());

        var ping = await bed.Peer.ExecAsync(scope.Remaining(TimeSpan.FromSeconds(15)),
            "ping", "-n", "-c", "5", "-i", "0.2", "-W", "2", "-s", PingSize.ToString(), gw);
        scope.Log("ping peer -> gateway: " + PingOutput.Summary(ping));
        Assert.True(ping.Ok, "ping to the gateway's own address over transport mode failed: " + ping);
        var back = await bed.Gateway.ExecAsync(scope.Remaining(TimeSpan.FromSeconds(15)),
            "ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", peerAddress);
        scope.Log("ping gateway -> peer: " + PingOutput.Summary(back));
        Assert.True(back.Ok, "ping to the peer's own address over transport mode failed: " + back);

        const long bytes = 4 << 20;
        var (sent, sentHash, received, receivedHash) = await TcpTransfer.Sha256StreamAsync(bed.Gateway, gw, bed.Peer, peerAddress, bytes,
            bed.WorkDir, scope.Remaining(TimeSpan.FromSeconds(30)));
        scope.Log($"TCP peer -> gateway: sent {sent} B, received {received} B");
        Assert.Equal(bytes, sent);
        Assert.Equal(sent, received);
        Assert.Equal(sentHash, receivedHash);

        var lines = await capture.FinishAsync(scope.Remaining(TimeSpan.FromSeconds(3)));
        foreach (var l in lines) scope.Log("capture: " + string.Join(",", l));
        var esp = lines.Where(f => f.Length == 5 && f[0] == "50").ToList();
        Assert.Contains(esp, f => f[1] == peerAddress && f[2] == gw && Underlay.NormalizeSpi(f[4]) == spiIn && f[3] == TransportEspLength);
        Assert.Contains(esp, f => f[1] == gw && f[2] == peerAddress && Underlay.NormalizeSpi(f[4]) == spiOut && f[3] == TransportEspLength);
        Assert.DoesNotContain(lines, f => f.Length > 0 && f[0] is "1" or "6");

        var counters = EspCounters.Read(bed.Gateway);
        var plain = ReadPlaintextCounters(bed.Gateway);
        scope.Log("gateway underlay: " + EspCounters.Format(counters) + "; plaintext on g0: " + string.Join(", ", plain.Select(kv => $"{kv.Key}={kv.Value}")));
        Assert.True(counters["raw_esp_in"].Packets >= 8 + bytes / 1400, "too few ESP packets reached the gateway");
        Assert.True(counters["raw_esp_out"].Packets >= 8, "too few ESP packets left the gateway");
        Assert.All(plain, kv => Assert.Equal(0, kv.Value));
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        Assert.Empty(peer.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }

    /// <summary>
    /// An overlay over transport mode, as GRE over IPsec (this kernel has no GRE; VXLAN is the overlay it has): selectors
    /// narrowed to the overlay's protocol and port (UDP 4789 both ways: the links' source port is pinned to it) between
    /// the hosts, a VXLAN link on each side, and ping
    /// across the overlay. No plaintext VXLAN crosses the link; ESP does, both ways.
    /// </summary>
    [Fact(Timeout = 120_000)]
    [Trait("Category", "Root")]
    public async Task Overlay_over_transport_mode_with_port_narrowed_selectors_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 90);
        var bed = scope.Bed;
        string gw = NamespaceTestbed.GatewayOuter, peerAddress = bed.PeerOuter;
        string Vx(string host) => $"\"{host}/32[udp/4789]\"";

        EspCounters.Install(bed.Gateway, bed.WorkDir);
        InstallPlaintextCounters(bed.Gateway, bed.WorkDir, peerAddress);
        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator-gw"),
            ConcentratorYaml.Connection(gw, "%any", SwanctlConf.GatewayId, SwanctlConf.PeerId, Ike, Esp, Vx(gw), Vx(peerAddress),
                mode: "transport"), scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator gateway", () => gateway.Diagnostics());
        var peer = scope.Own(await ConcentratorProcess.StartAsync(bed.Peer, bed.Dir("concentrator-peer"),
            ConcentratorYaml.Connection(peerAddress, gw, SwanctlConf.PeerId, SwanctlConf.GatewayId, Ike, Esp, Vx(peerAddress), Vx(gw),
                startAction: "start", name: "gw", mode: "transport"), scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator peer", () => peer.Diagnostics());
        Assert.True(await peer.WaitForEventAsync(TransportModeEvent, scope.Remaining(TimeSpan.FromSeconds(20))),
            "the initiating concentrator did not install a transport-mode child (4642)");
        Assert.True(await gateway.WaitForEventAsync(TransportModeEvent, scope.Remaining(TimeSpan.FromSeconds(5))),
            "the responding concentrator did not install a transport-mode child (4642)");

        foreach (var (ns, local, remote, overlay) in new[] { (bed.Gateway, gw, peerAddress, "192.168.77.1/24"), (bed.Peer, peerAddress, gw, "192.168.77.2/24") })
        {
            foreach (var argv in new[]
                     {
                         new[] { "ip", "link", "add", "vx0", "type", "vxlan", "id", "77", "dstport", "4789", "srcport", "4789", "4790", "local", local, "remote", remote },
                         ["ip", "link", "set", "vx0", "mtu", "1300"], ["ip", "addr", "add", overlay, "dev", "vx0"], ["ip", "link", "set", "vx0", "up"],
                     })
            {
                var r = ns.Exec(argv);
                Assert.True(r.Ok, string.Join(' ', argv) + ": " + r);
            }
        }
        var ping = await bed.Peer.ExecAsync(scope.Remaining(TimeSpan.FromSeconds(15)), "ping", "-n", "-c", "5", "-i", "0.2", "-W", "2", "192.168.77.1");
        scope.Log("ping over the overlay: " + PingOutput.Summary(ping));
        Assert.True(ping.Ok, "ping across VXLAN over transport mode failed: " + ping);

        var counters = EspCounters.Read(bed.Gateway);
        var plain = ReadPlaintextCounters(bed.Gateway);
        scope.Log("gateway underlay: " + EspCounters.Format(counters) + "; plaintext on g0: " + string.Join(", ", plain.Select(kv => $"{kv.Key}={kv.Value}")));
        Assert.True(counters["raw_esp_in"].Packets >= 5, "too few ESP packets reached the gateway");
        Assert.True(counters["raw_esp_out"].Packets >= 5, "too few ESP packets left the gateway");
        Assert.All(plain, kv => Assert.Equal(0, kv.Value));
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }

    private const int TransportModeEvent = 4642;

    /// <summary>Counters of ICMP, TCP and VXLAN between the gateway and the peer's address on the gateway's outer link, both
    /// ways: in transport mode every such packet crosses the link inside ESP (decrypted ones arrive on the TUN device).</summary>
    private static void InstallPlaintextCounters(Netns ns, string workDir, string peer)
    {
        string rules = $$"""
            table inet cit_transport {
              counter icmp_in { }
              counter tcp_in { }
              counter icmp_out { }
              counter tcp_out { }
              counter vxlan_in { }
              counter vxlan_out { }
              chain input {
                type filter hook input priority 0; policy accept;
                iifname "{{NamespaceTestbed.GatewayOuterDevice}}" ip saddr {{peer}} meta l4proto icmp counter name "icmp_in"
                iifname "{{NamespaceTestbed.GatewayOuterDevice}}" ip saddr {{peer}} meta l4proto tcp counter name "tcp_in"
                iifname "{{NamespaceTestbed.GatewayOuterDevice}}" ip saddr {{peer}} udp dport 4789 counter name "vxlan_in"
              }
              chain postrouting {
                type filter hook postrouting priority 0; policy accept;
                oifname "{{NamespaceTestbed.GatewayOuterDevice}}" ip daddr {{peer}} meta l4proto icmp counter name "icmp_out"
                oifname "{{NamespaceTestbed.GatewayOuterDevice}}" ip daddr {{peer}} meta l4proto tcp counter name "tcp_out"
                oifname "{{NamespaceTestbed.GatewayOuterDevice}}" ip daddr {{peer}} udp dport 4789 counter name "vxlan_out"
              }
            }
            """;
        string file = Path.Combine(workDir, $"transport-counters-{ns.Name}.nft");
        File.WriteAllText(file, rules + "\n");
        var r = ns.Exec("nft", "-f", file);
        Assert.True(r.Ok, "nft: " + r);
    }

    private static Dictionary<string, long> ReadPlaintextCounters(Netns ns)
    {
        var text = ns.Exec("nft", "list", "counters", "table", "inet", "cit_transport").Stdout;
        var result = new Dictionary<string, long>();
        foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(text,
                     @"counter (?<name>\w+) \{\s*packets (?<packets>\d+)"))
        {
            result[m.Groups["name"].Value] = long.Parse(m.Groups["packets"].Value);
        }
        Assert.Equal(6, result.Count);
        return result;
    }
}
