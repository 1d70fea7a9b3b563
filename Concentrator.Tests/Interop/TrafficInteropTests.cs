using System.Diagnostics;
using Concentrator.Testbed.Interop;
using Xunit.Abstractions;

namespace Concentrator.Tests.Interop;


/// <summary>
/// Traffic through the concentrator's TUN data plane beyond ping: a fixed-size TCP transfer, the
/// concentrator as initiator (start_action start and trap) against a strongSwan responder, two
/// concentrators over plain ESP (IP protocol 50), and replayed / forged ESP packets counted by reason.
/// </summary>
[Collection(InteropCollection.Name)]
[Trait("Category", "Root")]
public sealed class TrafficInteropTests(ITestOutputHelper output)
{
    private const string Ike = "aes256gcm16-prfsha256-ecp256";
    private const string Esp = "aes256gcm16";
    private const long TransferBytes = 20L * 1024 * 1024; // iperf3 -n 20M
    private const long ShaBytes = 4L * 1024 * 1024;

    // ------------------------------------------------------------------------------------------------
    // 1. strongSwan initiator -> concentrator responder, TCP.

    [Fact(Timeout = 120_000)]
    [Trait("Category", "Root")]
    public async Task StrongSwan_initiator_to_Concentrator_responder_tcp_transfer_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 75);
        var bed = scope.Bed;

        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer"));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics());
        await peer.LoadAsync(SwanctlConf.Connection("gw", bed.PeerOuter, NamespaceTestbed.GatewayOuter, SwanctlConf.PeerId, SwanctlConf.GatewayId,
            Ike, "net", NamespaceTestbed.PeerInner + "/32", NamespaceTestbed.LanSubnet, Esp));
        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"),
            ConcentratorYaml.Responder(Ike, Esp), scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics());
        EspCounters.Install(bed.Gateway, bed.WorkDir);

        var init = await peer.InitiateAsync("gw", "net", timeoutSeconds: 20);
        Assert.True(init.Ok, "swanctl --initiate to the concentrator failed: " + init);
        var installed = await peer.WaitInstalledAsync("gw", "net", scope.Remaining(TimeSpan.FromSeconds(10)));
        Assert.True(installed is not null, "peer: no ESTABLISHED IKE SA with an INSTALLED child");
        scope.Log("peer: " + installed!.Value.Ike);
        Assert.True(await gateway.WaitForEventAsync(ConcentratorProcess.ChildSaInstalled, scope.Remaining(TimeSpan.FromSeconds(5))),
            "the concentrator did not log Child SA installed (1003)");

        var before = EspCounters.Read(bed.Gateway);
        double inBefore = await GatewayMetrics.ReadAsync(bed.Gateway, "concentrator_esp_packets_total", "direction=\"in\"");

        // iperf3: 20 MiB from the peer's inner address to the LAN host (peer -> concentrator direction).
        var iperf = await TcpTransfer.IperfAsync(bed.Lan, NamespaceTestbed.LanHost, bed.Peer, NamespaceTestbed.PeerInner, "20M", bed.WorkDir,
            scope.Remaining(TimeSpan.FromSeconds(45)));
        scope.Log($"iperf3: sent {iperf.BytesSent} B, received {iperf.BytesReceived} B in {iperf.SecondsReceived:F2} s, " +
                  $"{iperf.BitsPerSecond / 1e6:F1} Mbit/s, {iperf.Retransmits} retransmits");
        // iperf3 3.12's server stops counting at the client's TEST_END, before draining its socket: its
        // "received" can miss the last in-flight megabytes. Exact delivery is proven by the SHA-256 streams.
        // iperf3 writes 128 KiB blocks: -n may round the sent total up to the next block.
        Assert.InRange(iperf.BytesSent, TransferBytes, TransferBytes + 128 * 1024);
        Assert.InRange(iperf.BytesReceived, TransferBytes / 2, iperf.BytesSent);

        // SHA-256-verified streams both ways (peer -> LAN: the concentrator decrypts; LAN -> peer: it encrypts).
        var shaUp = await TcpTransfer.Sha256StreamAsync(bed.Lan, NamespaceTestbed.LanHost, bed.Peer, NamespaceTestbed.PeerInner, ShaBytes, bed.WorkDir,
            scope.Remaining(TimeSpan.FromSeconds(30)));
        scope.Log($"sha256 stream peer -> LAN: sent {shaUp.Sent} B {shaUp.SentHash[..16]}..., received {shaUp.Received} B {shaUp.ReceivedHash[..16]}...");
        Assert.Equal(ShaBytes, shaUp.Sent);
        Assert.Equal(ShaBytes, shaUp.Received);
        Assert.Equal(shaUp.SentHash, shaUp.ReceivedHash);
        var sha = await TcpTransfer.Sha256StreamAsync(bed.Peer, NamespaceTestbed.PeerInner, bed.Lan, NamespaceTestbed.LanHost, ShaBytes, bed.WorkDir,
            scope.Remaining(TimeSpan.FromSeconds(30)));
        scope.Log($"sha256 stream LAN -> peer: sent {sha.Sent} B {sha.SentHash[..16]}..., received {sha.Received} B {sha.ReceivedHash[..16]}...");
        Assert.Equal(ShaBytes, sha.Sent);
        Assert.Equal(ShaBytes, sha.Received);
        Assert.Equal(sha.SentHash, sha.ReceivedHash);

        var after = EspCounters.Read(bed.Gateway);
        scope.Log("gateway underlay before: " + EspCounters.Format(before));
        scope.Log("gateway underlay after:  " + EspCounters.Format(after));
        long espInBytes = after["udp_esp_in"].Bytes - before["udp_esp_in"].Bytes;
        long espInPackets = after["udp_esp_in"].Packets - before["udp_esp_in"].Packets;
        long espOutBytes = after["udp_esp_out"].Bytes - before["udp_esp_out"].Bytes;
        Assert.True(espInBytes > iperf.BytesReceived + ShaBytes,
            $"only {espInBytes} B of ESP-in-UDP reached the gateway, less than the {iperf.BytesReceived + ShaBytes} B the receivers counted");
        Assert.True(espOutBytes > ShaBytes, $"only {espOutBytes} B of ESP-in-UDP left the gateway for a {ShaBytes} B transfer");
        Assert.Equal(0, after["raw_esp_in"].Packets + after["raw_esp_out"].Packets);

        var child = (await peer.WaitInstalledAsync("gw", "net", TimeSpan.FromSeconds(5)))!.Value.Child;
        scope.Log("peer child after the transfers: " + child);
        long charonOut = child.Number("bytes-out"), charonIn = child.Number("bytes-in");
        // charon counts inner IP bytes: the payload plus TCP/IP headers (a few %) and the ACKs of the other stream.
        // (iperf3's server closes its data socket at TEST_END, so at least what it counted crossed the tunnel.)
        Assert.InRange(charonOut, iperf.BytesReceived + ShaBytes, (long)((iperf.BytesSent + ShaBytes) * 1.15) + ShaBytes / 10);
        Assert.InRange(charonIn, ShaBytes, (long)(ShaBytes * 1.15) + (iperf.BytesSent + ShaBytes) / 10);
        // The ESP on the wire carries charon's inner bytes plus per-packet overhead (IP+UDP+ESP+IV+ICV+padding < 80 B).
        Assert.InRange(espInBytes, charonOut, charonOut + espInPackets * 80);

        double inAfter = await GatewayMetrics.ReadAsync(bed.Gateway, "concentrator_esp_packets_total", "direction=\"in\"");
        double decrypted = inAfter - inBefore;
        scope.Log($"concentrator decrypted {decrypted} packets; charon sent {child.Number("packets-out")}, underlay saw {espInPackets}");
        Assert.InRange(decrypted, espInPackets * 0.98, espInPackets);
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }

    // ------------------------------------------------------------------------------------------------
    // 4/5. Concentrator initiator -> strongSwan responder (site to site), start_action start / trap.

    [Fact(Timeout = 90_000)]
    [Trait("Category", "Root")]
    public Task Concentrator_initiator_to_StrongSwan_responder_site_to_site_Root() => SiteToSite(trap: false);

    [Fact(Timeout = 90_000)]
    [Trait("Category", "Root")]
    public Task Concentrator_initiator_to_StrongSwan_responder_trap_Root() => SiteToSite(trap: true);

    private async Task SiteToSite(bool trap)
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 55);
        var bed = scope.Bed;

        // strongSwan responder in the peer namespace, protecting its inner subnet.
        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer"));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics());
        await peer.LoadAsync(SwanctlConf.Connection("gw", bed.PeerOuter, "%any", SwanctlConf.PeerId, SwanctlConf.GatewayId,
            Ike, "net", NamespaceTestbed.PeerInnerSubnet, NamespaceTestbed.LanSubnet, Esp));
        EspCounters.Install(bed.Gateway, bed.WorkDir);

        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"),
            ConcentratorYaml.Connection(NamespaceTestbed.GatewayOuter, bed.PeerOuter, SwanctlConf.GatewayId, SwanctlConf.PeerId, Ike, Esp,
                NamespaceTestbed.LanSubnet, NamespaceTestbed.PeerInnerSubnet, startAction: trap ? "trap" : "start", name: "site"),
            scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics());
        scope.Log("concentrator listening");

        CommandResult? trapPing = null;
        if (trap)
        {
            // No tunnel until interesting traffic: nothing negotiated after a while, but the trap route exists (in the
            // tunnel routes' own table, charon.routing_table).
            await Task.Delay(2500);
            Assert.Empty(await peer.ListSasAsync());
            Assert.Empty(gateway.EventsWithId(ConcentratorProcess.IkeSaEstablished));
            Assert.Equal(0, EspCounters.Read(bed.Gateway)["udp4500_out"].Packets);
            var routes = bed.Gateway.Exec("ip", "route", "show", "table", "220", NamespaceTestbed.PeerInnerSubnet).Stdout;
            scope.Log("gateway route before traffic: " + routes.Trim());
            Assert.Contains("dev ipsec0", routes);

            // The first echo requests hit the trap: queued while the SA is negotiated, then sent.
            trapPing = await bed.Lan.ExecAsync(scope.Remaining(TimeSpan.FromSeconds(20)),
                "ping", "-n", "-c", "5", "-i", "0.5", "-W", "5", NamespaceTestbed.PeerInner);
            scope.Log("trap ping: " + PingOutput.Summary(trapPing) + " answered seq " + string.Join(",", PingOutput.AnsweredSequences(trapPing)));
        }

        var onPeer = await peer.WaitInstalledAsync("gw", "net", scope.Remaining(TimeSpan.FromSeconds(20)));
        Assert.True(onPeer is not null, "peer (responder): no ESTABLISHED IKE SA with an INSTALLED child");
        var (ike, child) = onPeer!.Value;
        scope.Log("peer: " + ike);
        Assert.NotEqual("yes", ike.Get("initiator"));
        Assert.Equal("AES_GCM_16", child.Get("encr-alg"));
        Assert.Equal(NamespaceTestbed.PeerInnerSubnet, Assert.Single(child.LocalTs));
        Assert.Equal(NamespaceTestbed.LanSubnet, Assert.Single(child.RemoteTs));

        Assert.True(await gateway.WaitForEventAsync(ConcentratorProcess.ChildSaInstalled, scope.Remaining(TimeSpan.FromSeconds(5))),
            "the concentrator did not log Child SA installed (1003)");
        var established = Assert.Single(gateway.EventsWithId(ConcentratorProcess.IkeSaEstablished));
        var installedEvent = Assert.Single(gateway.EventsWithId(ConcentratorProcess.ChildSaInstalled));
        scope.Log("concentrator: " + established.Message);
        scope.Log("concentrator: " + installedEvent.Message);
        Assert.Contains("initiator", established.Message);
        var (spiIn, spiOut) = ConcentratorYaml.SpisOf(installedEvent.Message);
        Assert.Equal(Underlay.NormalizeSpi(child.SpiOut), spiIn);
        Assert.Equal(Underlay.NormalizeSpi(child.SpiIn), spiOut);

        if (trapPing is not null)
        {
            var answered = PingOutput.AnsweredSequences(trapPing);
            Assert.True(answered.Contains(1),
                "the first echo request (queued by the trap while negotiating) was not answered: " + trapPing);
            Assert.True(PingOutput.Received(trapPing) >= 4, "fewer than 4 of 5 echo requests answered after the trap: " + trapPing);
        }

        var route = bed.Gateway.Exec("ip", "route", "show", "table", "220", NamespaceTestbed.PeerInnerSubnet).Stdout;
        scope.Log("gateway route: " + route.Trim());
        Assert.Contains("dev ipsec0", route);

        var ping = await bed.Lan.ExecAsync(scope.Remaining(TimeSpan.FromSeconds(15)),
            "ping", "-n", "-c", "3", "-i", "0.3", "-W", "2", NamespaceTestbed.PeerInner);
        scope.Log("ping LAN -> peer inner: " + PingOutput.Summary(ping));
        Assert.True(ping.Ok, "ping from the LAN host to the peer's inner address failed: " + ping);

        var counters = EspCounters.Read(bed.Gateway);
        scope.Log("gateway underlay: " + EspCounters.Format(counters));
        Assert.True(counters["udp_esp_out"].Packets >= 3, "fewer than 3 ESP-in-UDP packets left the concentrator");
        Assert.True(counters["udp_esp_in"].Packets >= 3, "fewer than 3 ESP-in-UDP packets reached the concentrator");
        var afterChild = (await peer.WaitInstalledAsync("gw", "net", TimeSpan.FromSeconds(5)))!.Value.Child;
        scope.Log("peer child after ping: " + afterChild);
        long expected = trap ? 3 + 4 : 3;
        Assert.True(afterChild.Number("packets-in") >= expected, $"charon decrypted fewer than {expected} packets from the concentrator");
        Assert.True(afterChild.Number("packets-out") >= expected, $"charon sent fewer than {expected} packets to the concentrator");
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }

    // ------------------------------------------------------------------------------------------------
    // 6/7. Concentrator <-> concentrator, no NAT: plain ESP (IP protocol 50).

    /// <summary>Gateway (responder) then peer (initiator, start_action start); returns both once each logged 1003.</summary>
    private static async Task<(ConcentratorProcess Gateway, ConcentratorProcess Peer)> StartPairAsync(InteropScope scope)
    {
        var bed = scope.Bed;
        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator-gw"),
            ConcentratorYaml.Connection(NamespaceTestbed.GatewayOuter, "%any", SwanctlConf.GatewayId, SwanctlConf.PeerId, Ike, Esp,
                NamespaceTestbed.LanSubnet, NamespaceTestbed.PeerInnerSubnet), scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator gateway", () => gateway.Diagnostics());
        var peer = scope.Own(await ConcentratorProcess.StartAsync(bed.Peer, bed.Dir("concentrator-peer"),
            ConcentratorYaml.Connection(bed.PeerOuter, NamespaceTestbed.GatewayOuter, SwanctlConf.PeerId, SwanctlConf.GatewayId, Ike, Esp,
                NamespaceTestbed.PeerInnerSubnet, NamespaceTestbed.LanSubnet, startAction: "start", name: "gw"), scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator peer", () => peer.Diagnostics());
        scope.Log("both concentrators listening");

        Assert.True(await peer.WaitForEventAsync(ConcentratorProcess.ChildSaInstalled, scope.Remaining(TimeSpan.FromSeconds(20))),
            "the initiating concentrator did not log Child SA installed (1003)");
        Assert.True(await gateway.WaitForEventAsync(ConcentratorProcess.ChildSaInstalled, scope.Remaining(TimeSpan.FromSeconds(5))),
            "the responding concentrator did not log Child SA installed (1003)");
        return (gateway, peer);
    }

    [Fact(Timeout = 120_000)]
    [Trait("Category", "Root")]
    public async Task Concentrator_to_Concentrator_plain_esp_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 75);
        var bed = scope.Bed;
        EspCounters.Install(bed.Gateway, bed.WorkDir);
        await using var capture = await PacketCapture.StartAsync(bed.Gateway, NamespaceTestbed.GatewayOuterDevice, bed.WorkDir,
            "esp or udp port 4500", seconds: 40, maxPackets: 12);

        var (gateway, peer) = await StartPairAsync(scope);
        var gwInstalled = Assert.Single(gateway.EventsWithId(ConcentratorProcess.ChildSaInstalled));
        var peerInstalled = Assert.Single(peer.EventsWithId(ConcentratorProcess.ChildSaInstalled));
        var gwEstablished = Assert.Single(gateway.EventsWithId(ConcentratorProcess.IkeSaEstablished));
        scope.Log("gateway: " + gwEstablished.Message);
        scope.Log("gateway: " + gwInstalled.Message);
        scope.Log("peer:    " + peerInstalled.Message);
        Assert.EndsWith("NAT False", gwEstablished.Message);
        var (gwIn, gwOut) = ConcentratorYaml.SpisOf(gwInstalled.Message);
        var (peerIn, peerOut) = ConcentratorYaml.SpisOf(peerInstalled.Message);
        Assert.Equal(gwIn, peerOut);
        Assert.Equal(gwOut, peerIn);

        var ping = await bed.Peer.ExecAsync(scope.Remaining(TimeSpan.FromSeconds(15)),
            "ping", "-n", "-c", "3", "-i", "0.3", "-W", "2", "-I", NamespaceTestbed.PeerInner, NamespaceTestbed.LanHost);
        scope.Log("ping peer inner -> LAN: " + PingOutput.Summary(ping));
        var lines = await capture.FinishAsync(scope.Remaining(TimeSpan.FromSeconds(3)));
        foreach (var l in lines) scope.Log("capture: " + string.Join(",", l));
        Assert.True(ping.Ok, "ping through the concentrator-to-concentrator tunnel failed: " + ping);

        // Protocol 50 with exactly the logged SPIs, in both directions; nothing on UDP 4500.
        var esp = lines.Where(f => f.Length == PacketCapture.EspFields.Length && f[0] == "50").ToList();
        Assert.Contains(esp, f => f[1] == bed.PeerOuter && f[2] == NamespaceTestbed.GatewayOuter && Underlay.NormalizeSpi(f[5]) == gwIn);
        Assert.Contains(esp, f => f[1] == NamespaceTestbed.GatewayOuter && f[2] == bed.PeerOuter && Underlay.NormalizeSpi(f[5]) == gwOut);
        Assert.All(esp, f => Assert.Contains(Underlay.NormalizeSpi(f[5]), new[] { gwIn, gwOut }));
        Assert.DoesNotContain(lines, f => f.Length > 4 && (f[3] == "4500" || f[4] == "4500"));

        var iperf = await TcpTransfer.IperfAsync(bed.Lan, NamespaceTestbed.LanHost, bed.Peer, NamespaceTestbed.PeerInner, "20M", bed.WorkDir,
            scope.Remaining(TimeSpan.FromSeconds(40)));
        scope.Log($"iperf3 peer -> LAN: {iperf.BytesReceived} B in {iperf.SecondsReceived:F2} s, {iperf.BitsPerSecond / 1e6:F1} Mbit/s, " +
                  $"{iperf.Retransmits} retransmits");
        Assert.InRange(iperf.BytesReceived, TransferBytes / 2, iperf.BytesSent);
        var shaUp = await TcpTransfer.Sha256StreamAsync(bed.Lan, NamespaceTestbed.LanHost, bed.Peer, NamespaceTestbed.PeerInner, ShaBytes, bed.WorkDir,
            scope.Remaining(TimeSpan.FromSeconds(25)));
        scope.Log($"sha256 stream peer -> LAN: {shaUp.Received} B, hashes {(shaUp.SentHash == shaUp.ReceivedHash ? "equal" : "DIFFER")}");
        Assert.Equal(ShaBytes, shaUp.Received);
        Assert.Equal(shaUp.SentHash, shaUp.ReceivedHash);
        var sha = await TcpTransfer.Sha256StreamAsync(bed.Peer, NamespaceTestbed.PeerInner, bed.Lan, NamespaceTestbed.LanHost, ShaBytes, bed.WorkDir,
            scope.Remaining(TimeSpan.FromSeconds(25)));
        scope.Log($"sha256 stream LAN -> peer: {sha.Received} B, hashes {(sha.SentHash == sha.ReceivedHash ? "equal" : "DIFFER")}");
        Assert.Equal(ShaBytes, sha.Received);
        Assert.Equal(sha.SentHash, sha.ReceivedHash);

        var counters = EspCounters.Read(bed.Gateway);
        scope.Log("gateway underlay: " + EspCounters.Format(counters));
        Assert.True(counters["raw_esp_in"].Bytes > iperf.BytesReceived + ShaBytes, "less plain ESP reached the gateway than the TCP transfers carried");
        Assert.True(counters["raw_esp_out"].Bytes > ShaBytes, "less plain ESP left the gateway than the SHA-256 stream's size");
        Assert.Equal(0, counters["udp4500_in"].Packets);
        Assert.Equal(0, counters["udp4500_out"].Packets);
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        Assert.Empty(peer.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }

    /// <summary>
    /// Two ESP packets of the peer are captured on the gateway's link while nft drops them (so their
    /// sequence numbers are fresh), then injected from the peer namespace: the first one with a flipped
    /// ICV byte (auth_failed, and the replay window must stay untouched), then the intact one three
    /// times (accepted once, then replay twice). The tunnel keeps working.
    /// </summary>
    [Fact(Timeout = 120_000)]
    [Trait("Category", "Root")]
    public async Task Concentrator_to_Concentrator_replay_and_corrupted_icv_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 75);
        var bed = scope.Bed;
        var (gateway, _) = await StartPairAsync(scope);
        var (gwIn, _) = ConcentratorYaml.SpisOf(Assert.Single(gateway.EventsWithId(ConcentratorProcess.ChildSaInstalled)).Message);

        var warm = await bed.Peer.ExecAsync(scope.Remaining(TimeSpan.FromSeconds(15)),
            "ping", "-n", "-c", "2", "-i", "0.3", "-W", "2", "-I", NamespaceTestbed.PeerInner, NamespaceTestbed.LanHost);
        Assert.True(warm.Ok, "ping through the tunnel failed before the injection: " + warm);

        // Hold back the peer's ESP at the gateway (AF_PACKET still sees it) and capture two packets.
        string dropFile = Path.Combine(bed.WorkDir, "drop-esp.nft");
        File.WriteAllText(dropFile, $$"""
            table ip cit_hold {
              chain pre {
                type filter hook prerouting priority raw; policy accept;
                ip protocol esp ip saddr {{bed.PeerOuter}} counter drop
              }
            }

            """);
        bed.Gateway.Exec("nft", "-f", dropFile);
        string hexFile = Path.Combine(bed.WorkDir, "captured-esp.hex");
        string sniffScript = $$"""
            from scapy.all import sniff, raw
            import sys
            pkts = sniff(iface="{{NamespaceTestbed.GatewayOuterDevice}}", filter="ip proto 50 and src host {{bed.PeerOuter}}", count=2, timeout=20,
                         started_callback=lambda: print("ready", flush=True))
            with open(sys.argv[1], "w") as f:
                for p in pkts: f.write(raw(p["IP"]).hex() + "\n")
            print("captured", len(pkts), flush=True)
            """;
        var sniffer = bed.Gateway.Start([TcpTransfer.Python, "-c", sniffScript, hexFile],
            Path.Combine(bed.WorkDir, "sniff.txt"), Path.Combine(bed.WorkDir, "sniff.stderr"), termGrace: TimeSpan.FromSeconds(2));
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(20) && !sniffer.HasExited && !sniffer.ReadStdout().Contains("ready"))
        {
            await Task.Delay(100);
        }
        Assert.True(sniffer.ReadStdout().Contains("ready"), "scapy sniff did not start: " + sniffer.ReadStdout() + sniffer.ReadStderr());
        await Task.Delay(300);
        var held = await bed.Peer.ExecAsync(scope.Remaining(TimeSpan.FromSeconds(10)),
            "ping", "-n", "-c", "2", "-i", "0.3", "-W", "1", "-I", NamespaceTestbed.PeerInner, NamespaceTestbed.LanHost);
        scope.Log("ping while the gateway drops ESP: " + PingOutput.Summary(held));
        Assert.True(await sniffer.WaitForExitAsync(scope.Remaining(TimeSpan.FromSeconds(20))), "scapy sniff did not finish");
        scope.Log("sniff: " + sniffer.ReadStdout().Trim().Replace('\n', ' ') + " " + sniffer.ReadStderr().Trim());
        bed.Gateway.Exec("nft", "delete", "table", "ip", "cit_hold");
        var captured = File.ReadAllLines(hexFile).Where(l => l.Length > 0).ToList();
        Assert.Equal(2, captured.Count);
        Assert.Equal(0, PingOutput.Received(held));

        // The captured packet is ESP to the gateway with its inbound SPI.
        byte[] first = Convert.FromHexString(captured[0]);
        int ihl = (first[0] & 0x0f) * 4;
        Assert.Equal(50, first[9]);
        Assert.Equal(gwIn, Convert.ToHexString(first, ihl, 4).ToLowerInvariant());
        uint seq = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(first.AsSpan(ihl + 4));
        scope.Log($"captured ESP SPI {gwIn} seq {seq}, {first.Length} B");

        string metricsBefore = await GatewayMetrics.ScrapeAsync(bed.Gateway);
        double replay0 = GatewayMetrics.Sum(metricsBefore, "concentrator_esp_dropped_packets_total", "reason=\"replay\"");
        double auth0 = GatewayMetrics.Sum(metricsBefore, "concentrator_esp_dropped_packets_total", "reason=\"auth_failed\"");
        double in0 = GatewayMetrics.Sum(metricsBefore, "concentrator_esp_packets_total", "direction=\"in\"");

        // Inject from the peer namespace: flipped last ICV byte, then the intact packet three times.
        string injectScript = """
            from scapy.all import IP, send
            import sys, time
            pkt = bytes.fromhex(open(sys.argv[1]).readline().strip())
            bad = bytearray(pkt); bad[-1] ^= 0x01
            for p in (bytes(bad), pkt, pkt, pkt):
                send(IP(p), verbose=0)
                time.sleep(0.3)
            print("injected", flush=True)
            """;
        var inject = await bed.Peer.ExecAsync(scope.Remaining(TimeSpan.FromSeconds(20)), TcpTransfer.Python, "-c", injectScript, hexFile);
        Assert.True(inject.Ok, "scapy injection failed: " + inject);

        double replay = await GatewayMetrics.WaitAtLeastAsync(bed.Gateway, replay0 + 2, scope.Remaining(TimeSpan.FromSeconds(5)),
            "concentrator_esp_dropped_packets_total", "reason=\"replay\"");
        double auth = await GatewayMetrics.WaitAtLeastAsync(bed.Gateway, auth0 + 1, scope.Remaining(TimeSpan.FromSeconds(5)),
            "concentrator_esp_dropped_packets_total", "reason=\"auth_failed\"");
        double inbound = await GatewayMetrics.ReadAsync(bed.Gateway, "concentrator_esp_packets_total", "direction=\"in\"");
        scope.Log($"gateway drops: replay {replay0} -> {replay}, auth_failed {auth0} -> {auth}; decrypted {in0} -> {inbound}");
        Assert.True(auth - auth0 >= 1, $"auth_failed rose by {auth - auth0}, expected at least 1 (flipped ICV byte)");
        Assert.True(replay - replay0 >= 2, $"replay rose by {replay - replay0}, expected at least 2 (the packet re-injected twice)");
        // The forged copy did not advance the window: the intact packet with the same number was accepted once.
        Assert.True(inbound - in0 >= 1, "the intact held-back packet was not accepted after its forged copy");

        var ping = await bed.Peer.ExecAsync(scope.Remaining(TimeSpan.FromSeconds(15)),
            "ping", "-n", "-c", "3", "-i", "0.3", "-W", "2", "-I", NamespaceTestbed.PeerInner, NamespaceTestbed.LanHost);
        scope.Log("ping after the injection: " + PingOutput.Summary(ping));
        Assert.True(ping.Ok, "ping through the tunnel failed after the injected packets: " + ping);
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }
}
