// Root test: the plane, its device ipsec1 and every socket live in a namespace the test creates and deletes; traffic
// only on that namespace's loopback and TUN devices. Waits are bounded in time.
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Concentrator.DataPlane;
using Concentrator.DataPlane.Linux;
using Concentrator.Ipsec;
using Concentrator.Telemetry;
using Concentrator.Tests.Telemetry;
using Concentrator.Transport;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;
using static Concentrator.Tests.DataPlane.Linux.RouteInterfaceRootTests;

namespace Concentrator.Tests.DataPlane.Linux;

/// <summary>
/// tunnel.udp_gro with the kernel's real coalescing: a peer's ESP-in-UDP sent as one UDP_SEGMENT burst (as a GSO sender
/// or a NIC's GRO delivers it) reaches a UDP_GRO socket as one read; the plane splits it and decrypts every segment,
/// the short last one too. Without udp_gro the kernel cuts the burst up before the socket. A burst mixing SAs of two
/// workers: with udp_gro the segments of the SA the other worker owns are dropped and counted (foreign_worker), never
/// decrypted by a second thread; without it the kernel steers each datagram to its owner.
/// </summary>
[Trait("Category", "Root")]
public sealed class UdpGroRootTests(ITestOutputHelper output)
{
    private sealed class NoIke : IIkeDatagramSink
    {
        public void Deliver(ReadOnlySpan<byte> datagram, IPEndPoint remote, IPEndPoint local, bool viaNatT) { }
    }

    private const uint SpiWorker1 = 0xa0000001, SpiWorker0 = 0xb0000002; // inbound SPIs: SPI mod 2 picks the worker
    private const int Payload = 1200, ShortPayload = 333;

    [Theory(Timeout = 60_000)]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_coalesced_burst_is_split_and_every_segment_decrypted_Root(bool udpGro)
    {
        if (!RootPrerequisites.Check(output, needTun: true, "ip")) return;
        using var ns = TestNamespace.Create("cngro");
        var metrics = new ConcentratorMetrics();
        var options = new LinuxDataPlaneOptions
        {
            Device = "cngr" + Environment.ProcessId % 100000, Workers = 2, InstallRoutes = false, PlainEsp = false, UdpGro = udpGro,
            ListenAddress = IPAddress.Loopback, NattPort = 0, InterfaceIds = [1u],
        };
        var (plane, peer) = NetworkNamespace.Run(ns.Path, () => (new LinuxDataPlane(options, NullLogger.Instance), Bound("127.0.0.2", 0)));
        using (plane)
        using (peer)
        using (var sealer = new InMemoryDataPlane())
        {
            plane.AttachMetrics(metrics.DataPlane);
            plane.Start(new NoIke());
            var a = Keys(0x10);
            var b = Keys(0x20);
            var peerEndpoint = (IPEndPoint)peer.LocalEndPoint!;
            NetworkNamespace.Run(ns.Path, () =>
            {
                plane.AddSa(RouteBased(SpiWorker1, 0xa0000002, a, peerEndpoint, 1));
                plane.AddSa(RouteBased(SpiWorker0, 0xb0000003, b, peerEndpoint, 1));
            });
            sealer.AddSa(Reverse(0xa0000002, SpiWorker1, a, peerEndpoint));
            sealer.AddSa(Reverse(0xb0000003, SpiWorker0, b, peerEndpoint));
            ns.Ip("addr", "add", "169.254.10.1/30", "dev", "ipsec1");
            Commands.MustRun("ip", "netns", "exec", ns.Name, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0");
            using var listener = NetworkNamespace.Run(ns.Path, () => Bound("169.254.10.1", 7001));
            var natt = new IPEndPoint(IPAddress.Loopback, plane.NattPort);

            // One SA's burst: eight full segments and a short last one, in one send.
            var burst = new List<byte[]>();
            for (int i = 0; i < 8; i++) burst.Add(Seal(sealer, 0xa0000002, Payload, (byte)(0x40 + i)));
            burst.Add(Seal(sealer, 0xa0000002, ShortPayload, 0x48));
            SendSegmented(peer, burst, natt);
            var got = ReceivePayloads(listener, 9);
            output.WriteLine($"udp_gro {udpGro}: one SA's burst of 9 segments: received {string.Join(",", got.Select(x => x.ToString("x2")))}");
            Assert.Equal(Enumerable.Range(0x40, 9).ToArray(), got.Order().ToArray());
            var afterOne = await ReadAsync(metrics, 9);
            Assert.Equal(9, afterOne.Decrypted);
            Assert.Equal(udpGro ? 1 : 0, afterOne.Datagrams);
            Assert.Equal(udpGro ? 9 : 0, afterOne.Segments);
            Assert.Equal(0, afterOne.BadSize);

            // Two workers' SAs in one burst: the first segment's SPI (worker 1) steers the whole coalesced read.
            var mixed = new List<byte[]>();
            for (int i = 0; i < 4; i++) mixed.Add(Seal(sealer, 0xa0000002, Payload, (byte)(0x60 + i)));
            for (int i = 0; i < 4; i++) mixed.Add(Seal(sealer, 0xb0000003, Payload, (byte)(0x70 + i)));
            SendSegmented(peer, mixed, natt);
            int expected = udpGro ? 4 : 8;
            got = ReceivePayloads(listener, expected);
            Assert.Null(TryReceivePayload(listener, 300));
            output.WriteLine($"udp_gro {udpGro}: a burst of two workers' SAs: received {string.Join(",", got.Select(x => x.ToString("x2")))}");
            var afterMixed = await ReadAsync(metrics, 9 + expected);
            Assert.Equal(9 + expected, afterMixed.Decrypted);
            if (udpGro)
            {
                Assert.Equal([0x60, 0x61, 0x62, 0x63], got.Order().ToArray());
                Assert.Equal(2, afterMixed.Datagrams);
                Assert.Equal(4, afterMixed.Foreign);
            }
            else
            {
                Assert.Equal([0x60, 0x61, 0x62, 0x63, 0x70, 0x71, 0x72, 0x73], got.Order().ToArray());
                Assert.Equal(0, afterMixed.Datagrams + afterMixed.Foreign);
            }
        }
    }

    private sealed record Reading(double Decrypted, double Datagrams, double Segments, double BadSize, double Foreign);

    /// <summary>The workers publish once per batch, after it: waits (bounded) until <paramref name="decrypted"/> show.</summary>
    private static async Task<Reading> ReadAsync(ConcentratorMetrics metrics, int decrypted)
    {
        Reading r = new(0, 0, 0, 0, 0);
        for (int i = 0; i < 50; i++)
        {
            var m = new MetricsText(await MetricsEndpointTests.ExportAsync(metrics.Registry));
            r = new Reading(m.Sum("concentrator_esp_packets_total", ("direction", "in")),
                m.Sum("concentrator_udp_gro_total", ("kind", "datagrams")), m.Sum("concentrator_udp_gro_total", ("kind", "segments")),
                m.Sum("concentrator_udp_gro_total", ("kind", "bad_segment_size")), m.Sum("concentrator_udp_gro_total", ("kind", "foreign_worker")));
            if (r.Decrypted >= decrypted) return r;
            await Task.Delay(100);
        }
        return r;
    }

    /// <summary>All of <paramref name="packets"/> in one sendto with UDP_SEGMENT = the first's length (the last may be shorter).</summary>
    private static void SendSegmented(Socket socket, List<byte[]> packets, IPEndPoint to)
    {
        Assert.All(packets.SkipLast(1), p => Assert.Equal(packets[0].Length, p.Length));
        UdpGroTests.SetUdpSegment(socket, packets[0].Length);
        socket.SendTo(packets.SelectMany(p => p).ToArray(), to);
    }

    private static List<int> ReceivePayloads(Socket s, int count)
    {
        var got = new List<int>();
        while (got.Count < count && TryReceivePayload(s, 3000) is { } p) got.Add(p);
        return got;
    }

    /// <summary>ESP of a UDP packet to 169.254.10.1:7001 whose payload is <paramref name="payload"/> bytes of <paramref name="fill"/>.</summary>
    private static byte[] Seal(InMemoryDataPlane sealer, uint spi, int payload, byte fill)
    {
        var inner = TestPackets.Ip("10.99.50.1", "169.254.10.1", 17, 40000, 7001, payload: payload);
        BinaryPrimitives.WriteUInt16BigEndian(inner.AsSpan(24), (ushort)(payload + 8)); // UDP length; checksum 0 (none, IPv4)
        inner.AsSpan(28).Fill(fill);
        var buffer = new byte[inner.Length + 128];
        Assert.Equal(EspStatus.Ok, sealer.Encapsulate(spi, inner, buffer, out int written));
        return buffer[..written];
    }
}
