// Root test: the plane, its TUN device and raw sockets live in a namespace the test creates and deletes, joined by a veth
// pair to a second one where scapy runs; traffic only on those links. Every wait is bounded in time.
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Concentrator.DataPlane.Linux;
using Concentrator.Ipsec;
using Concentrator.Telemetry;
using Concentrator.Testbed.Interop;
using Concentrator.Tests.Telemetry;
using Concentrator.Transport;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;
using ScapyRunner = Concentrator.Tests.DataPlane.ScapyCrossCheckTests.ScapyRunner;

namespace Concentrator.Tests.DataPlane.Linux;

/// <summary>
/// AH (RFC 4302) on real packets against scapy: an AH SA with known keys installed in the Linux plane (its AddSa, the
/// control-plane seam; never config or admin output), scapy in the other namespace sends AH-protected echo requests
/// over raw IP protocol 51 that the plane verifies onto its TUN device, the kernel answers, and scapy verifies the AH
/// replies the plane sends. A replayed packet and one with a flipped ICV bit get no reply and move the drop counters
/// (ah_replay, ah_icv); the intact packet with the forged one's sequence number is still accepted afterwards.
/// </summary>
[Trait("Category", "Root")]
public sealed class AhScapyRootTests(ITestOutputHelper output)
{
    private sealed class NoIke : IIkeDatagramSink
    {
        public void Deliver(ReadOnlySpan<byte> datagram, IPEndPoint remote, IPEndPoint local, bool viaNatT) { }
    }

    private const uint GatewayInSpi = 0xa4000001, GatewayOutSpi = 0xa4000002;
    private const int Pings = 5;

    [Theory(Timeout = 120_000)]
    [InlineData(IntegAlgorithm.HmacSha2_256_128, "SHA2-256-128")]
    [InlineData(IntegAlgorithm.HmacSha2_512_256, "SHA2-512-256")]
    public async Task Scapy_pings_through_AH_and_replays_and_forgeries_are_dropped_and_counted_Root(IntegAlgorithm integrity, string scapyName)
    {
        if (!RootPrerequisites.Check(output, needTun: true, "ip")) return;
        var scapy = await ScapyRunner.GetAsync(output);
        if (scapy is null) return;
        using var ns = TestNamespace.Create("cnah");
        using var peer = TestNamespace.Create("cnahp");
        ns.Ip("link", "add", "ah0", "type", "veth", "peer", "name", "ah1", "netns", peer.Name);
        ns.Ip("addr", "add", "10.231.0.1/24", "dev", "ah0");
        ns.Ip("link", "set", "ah0", "up");
        peer.Ip("addr", "add", "10.231.0.2/24", "dev", "ah1");
        peer.Ip("link", "set", "ah1", "up");
        Commands.MustRun("ip", "netns", "exec", ns.Name, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0");

        var metrics = new ConcentratorMetrics();
        string device = "cnah" + Environment.ProcessId % 100000;
        var options = new LinuxDataPlaneOptions
        {
            Device = device, Workers = 1, InstallRoutes = false, PlainEsp = true,
            ListenAddress = IPAddress.Parse("10.231.0.1"), NattPort = 0,
        };
        using var plane = NetworkNamespace.Run(ns.Path, () => new LinuxDataPlane(options, NullLogger.Instance));
        plane.AttachMetrics(metrics.DataPlane);
        plane.Start(new NoIke());
        int keyLength = Algorithms.IntegrityKeyLength(integrity);
        byte[] peerToGateway = EspTestSupport.Key(keyLength, 0x31), gatewayToPeer = EspTestSupport.Key(keyLength, 0x75);
        plane.AddSa(new ChildSaInstall(GatewayInSpi, GatewayOutSpi, new EspSuite(EncrAlgorithm.Null, 0, integrity, DhGroup.None, false, IpsecProtocol.Ah),
            [], (byte[])peerToGateway.Clone(), [], (byte[])gatewayToPeer.Clone(),
            [TestPackets.Ts("10.88.0.0/24")], [TestPackets.Ts("10.99.0.0/24")],
            new IPEndPoint(IPAddress.Parse("10.231.0.1"), 0), new IPEndPoint(IPAddress.Parse("10.231.0.2"), 0),
            EspTransport.RawEsp, 128, "ah", "scapy"));
        ns.Ip("addr", "add", "10.88.0.1/32", "dev", device);
        ns.Ip("route", "add", "10.99.0.0/24", "dev", device);

        var job = new JsonObject
        {
            ["auth_algo"] = scapyName,
            ["key_out"] = EspTestSupport.ToHex(peerToGateway),
            ["key_in"] = EspTestSupport.ToHex(gatewayToPeer),
            ["spi_out"] = GatewayInSpi,
            ["spi_in"] = GatewayOutSpi,
            ["outer_src"] = "10.231.0.2",
            ["outer_dst"] = "10.231.0.1",
            ["inner_src"] = "10.99.0.2",
            ["inner_dst"] = "10.88.0.1",
            ["count"] = Pings,
            ["timeout"] = 5.0,
        };
        var run = await Command.RunAsync("ip", ["netns", "exec", peer.Name, scapy.Python, ScapyRunner.Script("ah_netns_peer.py")],
            TimeSpan.FromSeconds(90), stdin: job.ToJsonString());
        output.WriteLine($"scapy peer: {run}");
        Assert.True(run.Ok, run.ToString());
        var result = JsonNode.Parse(run.Stdout)!.AsObject();
        Assert.True(result["ok"]!.GetValue<bool>(), result.ToJsonString());
        var replies = result["replies"]!.AsArray().Select(n => n!.GetValue<int>()).ToArray();
        Assert.Equal(Enumerable.Range(1, Pings).ToArray(), replies);
        Assert.Equal(0, result["bad_replies"]!.GetValue<int>());
        Assert.Equal(0, result["after_replay"]!.GetValue<int>());
        Assert.Equal(0, result["after_forged"]!.GetValue<int>());
        Assert.Equal(1, result["after_recovery"]!.GetValue<int>());

        var m = await ReadAsync(metrics, Pings + 1);
        output.WriteLine($"AH in {m.In}, out {m.Out}, ah_replay {m.Replay}, ah_icv {m.Icv}");
        Assert.Equal(Pings + 1, m.In);
        Assert.Equal(Pings + 1, m.Out);
        Assert.Equal(1, m.Replay);
        Assert.Equal(1, m.Icv);
    }

    private sealed record Reading(double In, double Out, double Replay, double Icv);

    /// <summary>The threads publish once per batch: waits (bounded) until <paramref name="inbound"/> packets and both drops show.</summary>
    private static async Task<Reading> ReadAsync(ConcentratorMetrics metrics, int inbound)
    {
        Reading r = new(0, 0, 0, 0);
        for (int i = 0; i < 50; i++)
        {
            var m = new MetricsText(await MetricsEndpointTests.ExportAsync(metrics.Registry));
            r = new Reading(m.Sum("concentrator_esp_packets_total", ("direction", "in")), m.Sum("concentrator_esp_packets_total", ("direction", "out")),
                m.Sum("concentrator_esp_dropped_packets_total", ("reason", "ah_replay")),
                m.Sum("concentrator_esp_dropped_packets_total", ("reason", "ah_icv")));
            if (r.In >= inbound && r.Replay >= 1 && r.Icv >= 1) return r;
            await Task.Delay(100);
        }
        return r;
    }
}
