using Concentrator.Testbed.Interop;
using Concentrator.Tests.Interop;
using Xunit.Abstractions;

namespace Concentrator.Tests.DataPlane;

/// <summary>
/// The outbound offloads (tunnel.tso, tunnel.udp_gso) against a stock strongSwan peer over ESP-in-UDP: a TCP
/// stream the gateway itself sends into the tunnel (locally generated TCP is what a TSO device receives as
/// super-packets) must arrive intact at the peer, and the gateway's counters must show that super-packets were
/// read and split (<c>concentrator_tun_tso_*</c>) and that the segments' ESP left in UDP GSO sends of more than
/// one datagram (<c>concentrator_udp_gso_*</c>). A stream forwarded from the LAN host (single segments on the
/// TUN) must arrive intact through the same path.
/// </summary>
[Collection(InteropCollection.Name)]
[Trait("Category", "Root")]
public sealed class TunTsoRootTests(ITestOutputHelper output)
{
    private const string Ike = "aes256gcm16-prfsha256-ecp256";
    private const string Esp = "aes256gcm16";
    private const long ShaBytes = 8L * 1024 * 1024;

    [Fact(Timeout = 120_000)]
    [Trait("Category", "Root")]
    public async Task StrongSwan_peer_receives_split_super_packets_sent_as_udp_gso_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 100);
        var bed = scope.Bed;
        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer"));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics());
        await peer.LoadAsync(SwanctlConf.Connection("gw", bed.PeerOuter, NamespaceTestbed.GatewayOuter, SwanctlConf.PeerId, SwanctlConf.GatewayId,
            Ike, "net", NamespaceTestbed.PeerInner + "/32", NamespaceTestbed.LanSubnet, Esp));
        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"),
            ConcentratorYaml.Connection(NamespaceTestbed.GatewayOuter, "%any", SwanctlConf.GatewayId, SwanctlConf.PeerId, Ike, Esp,
                NamespaceTestbed.LanSubnet, NamespaceTestbed.PeerInnerSubnet, tunnelKeys: "tso: yes, udp_gso: yes"), scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics());
        var init = await peer.InitiateAsync("gw", "net", timeoutSeconds: 20);
        Assert.True(init.Ok, "swanctl --initiate to the concentrator failed: " + init);
        Assert.True(await peer.WaitInstalledAsync("gw", "net", scope.Remaining(TimeSpan.FromSeconds(10))) is not null,
            "peer: no ESTABLISHED IKE SA with an INSTALLED child");
        Assert.True(await gateway.WaitForEventAsync(ConcentratorProcess.ChildSaInstalled, scope.Remaining(TimeSpan.FromSeconds(5))),
            "the concentrator did not log Child SA installed (1003)");

        var before = await ReadAsync(bed.Gateway);
        var local = await TcpTransfer.Sha256StreamAsync(bed.Peer, NamespaceTestbed.PeerInner, bed.Gateway, NamespaceTestbed.GatewayInner, ShaBytes,
            bed.WorkDir, scope.Remaining(TimeSpan.FromSeconds(30)));
        var after = await ReadAsync(bed.Gateway);
        scope.Log($"gateway -> peer: sent {local.Sent} B, received {local.Received} B; {after - before}");
        AssertIntact(local);
        var d = after - before;
        Assert.True(d.TsoFrames > 0, $"no TSO super-packet was read during an {ShaBytes >> 20} MiB locally sent TCP stream ({d})");
        Assert.True(d.TsoSegments >= 2 * d.TsoFrames, $"super-packets split into fewer than two segments each ({d})");
        Assert.True(d.TsoSegments * 1300 >= ShaBytes / 4, $"only {d.TsoSegments} segments came from super-packets for {ShaBytes} bytes");
        Assert.True(d.GsoMessages > 0, $"no UDP GSO send carried the segments' ESP ({d})");
        Assert.True(d.GsoSegments >= 2 * d.GsoMessages, $"UDP GSO sends of fewer than two datagrams each ({d})");
        Assert.True(d.GsoSegments <= d.EspOut, $"more datagrams in GSO sends than ESP packets sealed ({d})");
        Assert.Equal(0, d.Malformed);

        var forwarded = await TcpTransfer.Sha256StreamAsync(bed.Peer, NamespaceTestbed.PeerInner, bed.Lan, NamespaceTestbed.LanHost, ShaBytes,
            bed.WorkDir, scope.Remaining(TimeSpan.FromSeconds(30)), port: 5302);
        scope.Log($"LAN -> peer (forwarded): sent {forwarded.Sent} B, received {forwarded.Received} B");
        AssertIntact(forwarded);
        Assert.Equal(0, (await ReadAsync(bed.Gateway)).Malformed);
        Assert.False(gateway.HasExited, "the concentrator exited");
        scope.Passed();
    }

    private sealed record Reading(double TsoFrames, double TsoSegments, double GsoMessages, double GsoSegments, double EspOut, double Malformed)
    {
        public static Reading operator -(Reading a, Reading b) => new(a.TsoFrames - b.TsoFrames, a.TsoSegments - b.TsoSegments,
            a.GsoMessages - b.GsoMessages, a.GsoSegments - b.GsoSegments, a.EspOut - b.EspOut, a.Malformed - b.Malformed);
    }

    private static async Task<Reading> ReadAsync(Netns ns)
    {
        string text = await GatewayMetrics.ScrapeAsync(ns);
        Assert.Contains("# TYPE concentrator_tun_tso_frames_total counter", text);
        Assert.Contains("# TYPE concentrator_udp_gso_messages_total counter", text);
        return new Reading(GatewayMetrics.Sum(text, "concentrator_tun_tso_frames_total"), GatewayMetrics.Sum(text, "concentrator_tun_tso_segments_total"),
            GatewayMetrics.Sum(text, "concentrator_udp_gso_messages_total"), GatewayMetrics.Sum(text, "concentrator_udp_gso_segments_total"),
            GatewayMetrics.Sum(text, "concentrator_esp_packets_total", "direction=\"out\""),
            GatewayMetrics.Sum(text, "concentrator_esp_dropped_packets_total", "reason=\"malformed\""));
    }

    private static void AssertIntact((long Sent, string SentHash, long Received, string ReceivedHash) stream)
    {
        Assert.Equal(ShaBytes, stream.Sent);
        Assert.Equal(ShaBytes, stream.Received);
        Assert.Equal(stream.SentHash, stream.ReceivedHash);
    }
}
