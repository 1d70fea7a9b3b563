using Concentrator.Testbed.Interop;
using Xunit.Abstractions;

namespace Concentrator.Tests.Interop;

/// <summary>
/// tunnel.udp_gro between two concentrators over ESP-in-UDP (encap: yes, so NAT-T's UDP path carries the ESP): with
/// UDP_GRO on the gateway's sockets ping and a SHA-256-verified TCP stream pass both ways, the gateway decrypts the
/// upload on its UDP workers, and its concentrator_udp_gro_total series report no unusable segment size.
/// </summary>
[Collection(InteropCollection.Name)]
[Trait("Category", "Root")]
public sealed class UdpGroInteropTests(ITestOutputHelper output)
{
    private const string Ike = "aes256gcm16-prfsha256-ecp256";
    private const string Esp = "aes256gcm16";
    private const long ShaBytes = 8L * 1024 * 1024;

    [Fact(Timeout = 120_000)]
    [Trait("Category", "Root")]
    public async Task Concentrator_pair_over_esp_in_udp_with_udp_gro_passes_ping_and_tcp_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 100);
        var bed = scope.Bed;
        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator-gw"),
            ConcentratorYaml.Connection(NamespaceTestbed.GatewayOuter, "%any", SwanctlConf.GatewayId, SwanctlConf.PeerId, Ike, Esp,
                NamespaceTestbed.LanSubnet, NamespaceTestbed.PeerInnerSubnet, tunnelKeys: "udp_gro: yes"), scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator gateway", () => gateway.Diagnostics());
        var peer = scope.Own(await ConcentratorProcess.StartAsync(bed.Peer, bed.Dir("concentrator-peer"),
            ConcentratorYaml.Connection(bed.PeerOuter, NamespaceTestbed.GatewayOuter, SwanctlConf.PeerId, SwanctlConf.GatewayId, Ike, Esp,
                NamespaceTestbed.PeerInnerSubnet, NamespaceTestbed.LanSubnet, startAction: "start", name: "gw", encap: true, tunnelKeys: "udp_gro: yes"),
            scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator peer", () => peer.Diagnostics());
        Assert.True(await peer.WaitForEventAsync(ConcentratorProcess.ChildSaInstalled, scope.Remaining(TimeSpan.FromSeconds(20))),
            "the initiating concentrator did not log Child SA installed (1003)");
        Assert.True(await gateway.WaitForEventAsync(ConcentratorProcess.ChildSaInstalled, scope.Remaining(TimeSpan.FromSeconds(5))),
            "the responding concentrator did not log Child SA installed (1003)");
        Assert.EndsWith("NAT True", Assert.Single(gateway.EventsWithId(ConcentratorProcess.IkeSaEstablished)).Message);
        var receive = Assert.Single(gateway.EventsWithId(DataPlaneReceiveEvent));
        Assert.Contains("UDP GRO True", receive.Message); // the kernel took UDP_GRO on every socket

        var ping = await bed.Peer.ExecAsync(scope.Remaining(TimeSpan.FromSeconds(15)),
            "ping", "-n", "-c", "3", "-i", "0.3", "-W", "2", "-I", NamespaceTestbed.PeerInner, NamespaceTestbed.LanHost);
        Assert.True(ping.Ok, "ping through the tunnel failed: " + ping);

        string before = await GatewayMetrics.ScrapeAsync(bed.Gateway);
        double udpInBefore = GatewayMetrics.Sum(before, "concentrator_esp_packets_total", "direction=\"in\"");
        var up = await TcpTransfer.Sha256StreamAsync(bed.Lan, NamespaceTestbed.LanHost, bed.Peer, NamespaceTestbed.PeerInner, ShaBytes, bed.WorkDir,
            scope.Remaining(TimeSpan.FromSeconds(30)));
        var down = await TcpTransfer.Sha256StreamAsync(bed.Peer, NamespaceTestbed.PeerInner, bed.Lan, NamespaceTestbed.LanHost, ShaBytes, bed.WorkDir,
            scope.Remaining(TimeSpan.FromSeconds(30)));
        string after = await GatewayMetrics.ScrapeAsync(bed.Gateway);
        Assert.Contains("# TYPE concentrator_udp_gro_total counter", after);
        double udpIn = GatewayMetrics.Sum(after, "concentrator_esp_packets_total", "direction=\"in\"") - udpInBefore;
        double datagrams = GatewayMetrics.Sum(after, "concentrator_udp_gro_total", "kind=\"datagrams\"");
        double segments = GatewayMetrics.Sum(after, "concentrator_udp_gro_total", "kind=\"segments\"");
        double bad = GatewayMetrics.Sum(after, "concentrator_udp_gro_total", "kind=\"bad_segment_size\"");
        scope.Log($"upload {up.Received} B, download {down.Received} B; gateway ESP in {udpIn}, UDP GRO datagrams {datagrams}, segments {segments}, bad sizes {bad}");
        Assert.Equal(ShaBytes, up.Received);
        Assert.Equal(up.SentHash, up.ReceivedHash);
        Assert.Equal(ShaBytes, down.Received);
        Assert.Equal(down.SentHash, down.ReceivedHash);
        Assert.True(udpIn >= ShaBytes / 1500, $"the gateway decrypted only {udpIn} ESP packets for an {ShaBytes >> 20} MiB upload");
        Assert.True(segments <= udpIn + 2 * datagrams, $"more GRO segments ({segments}) than the gateway's ESP packets ({udpIn})");
        Assert.Equal(0, bad);
        // The peer reads TSO super-packets from its TUN and sends their ESP as UDP GSO messages, which stay whole over the veth.
        Assert.True(datagrams > 0, $"no coalesced read at the gateway (segments {segments}, ESP in {udpIn})");
        Assert.False(gateway.HasExited || peer.HasExited, "a concentrator exited");
        scope.Passed();
    }

    /// <summary>Event 4741: what the data plane's receive side runs with.</summary>
    private const int DataPlaneReceiveEvent = 4741;
}
