// Root test: the plane, its TUN device and the sending socket live in a namespace the test creates and deletes;
// traffic only on that namespace's loopback. Waits are bounded in time.
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Concentrator.DataPlane.Linux;
using Concentrator.Telemetry;
using Concentrator.Tests.Telemetry;
using Concentrator.Transport;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace Concentrator.Tests.DataPlane.Linux;

/// <summary>
/// IKE that reaches the plane's NAT-T port (after NAT-T floated) is as large as an IKE_AUTH with certificates: an RSA
/// end entity with its intermediate is over 2 kB unfragmented. The plane hands such a datagram to the IKE sink whole,
/// up to charon.max_packet; a longer one is dropped and counted, and the worker goes on.
/// </summary>
[Trait("Category", "Root")]
public sealed class NattIkeRootTests(ITestOutputHelper output)
{
    private sealed class Sink : IIkeDatagramSink
    {
        public readonly BlockingCollection<byte[]> Received = new();

        public void Deliver(ReadOnlySpan<byte> datagram, IPEndPoint remote, IPEndPoint local, bool viaNatT) => Received.Add(datagram.ToArray());
    }

    private static byte[] MarkedIke(int ikeLength)
    {
        var datagram = new byte[4 + ikeLength]; // the non-ESP marker (four zero octets), then the IKE message
        for (int i = 4; i < datagram.Length; i++) datagram[i] = (byte)(i * 7 + 1);
        return datagram;
    }

    [Fact(Timeout = 60_000)]
    public async Task Ike_larger_than_a_packet_slot_reaches_the_sink_whole_and_past_max_packet_is_dropped_and_counted_Root()
    {
        if (!RootPrerequisites.Check(output, needTun: true, "ip")) return;
        using var ns = TestNamespace.Create("cnik");
        var metrics = new ConcentratorMetrics();
        var options = new LinuxDataPlaneOptions
        {
            Device = "cnik" + Environment.ProcessId % 100000, Workers = 2, InstallRoutes = false, PlainEsp = false,
            ListenAddress = IPAddress.Loopback, NattPort = 0, MaxIkePacket = 6000,
        };
        var (plane, client) = NetworkNamespace.Run(ns.Path, () => (new LinuxDataPlane(options, NullLogger.Instance),
            new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp)));
        using (plane)
        using (client)
        {
            plane.AttachMetrics(metrics.DataPlane);
            var sink = new Sink();
            plane.Start(sink);
            var target = new IPEndPoint(IPAddress.Loopback, plane.NattPort);

            // 2366 bytes: strongSwan's IKE_AUTH with an RSA-2048 end entity and its intermediate; then exactly max_packet.
            foreach (int length in new[] { 2366, 6000 })
            {
                var sent = MarkedIke(length);
                client.SendTo(sent, target);
                Assert.True(sink.Received.TryTake(out var got, TimeSpan.FromSeconds(5)), $"{length} bytes of IKE never reached the sink");
                Assert.Equal(sent.AsSpan(4).ToArray(), got);
            }

            client.SendTo(MarkedIke(6001), target);
            client.SendTo(MarkedIke(100), target);
            Assert.True(sink.Received.TryTake(out var after, TimeSpan.FromSeconds(5)), "the worker stopped after an oversized datagram");
            Assert.Equal(100, after!.Length);
            Assert.Empty(sink.Received);
            // The worker publishes its counters after the batch that delivered the last datagram.
            double dropped = 0;
            for (int i = 0; i < 50 && dropped == 0; i++)
            {
                await Task.Delay(100);
                var scraped = new MetricsText(await MetricsEndpointTests.ExportAsync(metrics.Registry));
                dropped = scraped.Sum("concentrator_esp_dropped_packets_total", ("reason", "malformed"));
            }
            Assert.Equal(1, dropped);
        }
    }
}
