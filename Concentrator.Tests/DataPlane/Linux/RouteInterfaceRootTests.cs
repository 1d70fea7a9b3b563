// Root test: the plane, its devices ipsec1/ipsec2 and every socket live in a namespace the test creates and deletes;
// traffic only on that namespace's loopback and TUN devices. Waits are bounded in time.
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Concentrator.DataPlane;
using Concentrator.DataPlane.Linux;
using Concentrator.Ipsec;
using Concentrator.Transport;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;
using static Concentrator.Tests.DataPlane.EspTestSupport;

namespace Concentrator.Tests.DataPlane.Linux;

/// <summary>
/// Two 0.0.0.0/0 SAs on interfaces 1 and 2 of one plane: what the kernel routes into ipsec1 leaves as ESP of the first
/// SA to its peer only, into ipsec2 of the second only; ESP of the first SA arrives decrypted on ipsec1, of the second on
/// ipsec2; the plane installs no route; the interfaces' reader allocates nothing per packet.
/// </summary>
[Trait("Category", "Root")]
public sealed class RouteInterfaceRootTests(ITestOutputHelper output)
{
    private sealed class NoIke : IIkeDatagramSink
    {
        public void Deliver(ReadOnlySpan<byte> datagram, IPEndPoint remote, IPEndPoint local, bool viaNatT) { }
    }

    private static readonly TrafficSelector Any = TestPackets.Ts("0.0.0.0/0");

    [Fact]
    public void Zero_selector_sas_on_two_interfaces_each_carry_their_own_interfaces_traffic_Root()
    {
        if (!RootPrerequisites.Check(output, needTun: true, "ip")) return;
        using var ns = TestNamespace.Create("cnif");
        var options = new LinuxDataPlaneOptions
        {
            Device = "cnif" + Environment.ProcessId % 100000, Workers = 1, InstallRoutes = false, PlainEsp = false,
            ListenAddress = IPAddress.Loopback, NattPort = 0, InterfaceIds = [1u],
        };
        var (plane, peerA, peerB, app) = NetworkNamespace.Run(ns.Path, () => (new LinuxDataPlane(options, NullLogger.Instance),
            Bound("127.0.0.2"), Bound("127.0.0.3"), new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp)));
        using (plane)
        using (peerA)
        using (peerB)
        using (app)
        using (var sealer = new InMemoryDataPlane())
        {
            plane.Start(new NoIke());
            Assert.Equal(["ipsec1"], plane.RouteInterfaceDevices); // made at start from the options
            string routesBefore = ns.Ip("-4", "route", "show", "table", "all");

            // ipsec2 is made by its first SA (the fallback when the config did not name it).
            var a = Keys(0x10);
            var b = Keys(0x20);
            // (Devices are made in the calling thread's namespace: the test's control calls run inside it, as the gateway's do.)
            NetworkNamespace.Run(ns.Path, () =>
            {
                plane.AddSa(RouteBased(0xa0000001, 0xa0000002, a, (IPEndPoint)peerA.LocalEndPoint!, 1));
                plane.AddSa(RouteBased(0xb0000001, 0xb0000002, b, (IPEndPoint)peerB.LocalEndPoint!, 2));
            });
            Assert.Equal(["ipsec1", "ipsec2"], plane.RouteInterfaceDevices);
            // A reload naming a new ID (ConfigReloader calls this) makes its device on the running plane; known IDs stay.
            NetworkNamespace.Run(ns.Path, () => plane.EnsureInterfaces([1u, 3u]));
            Assert.Equal(["ipsec1", "ipsec2", "ipsec3"], plane.RouteInterfaceDevices);
            Assert.Contains("ipsec3", ns.Ip("link", "show", "up"));
            Assert.Equal(routesBefore, ns.Ip("-4", "route", "show", "table", "all")); // no route installed for either SA
            ns.Ip("addr", "add", "169.254.10.1/30", "dev", "ipsec1");
            ns.Ip("addr", "add", "169.254.20.1/30", "dev", "ipsec2");
            Commands.MustRun("ip", "netns", "exec", ns.Name, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0");

            // Outbound: the same 0/0 selectors on both interfaces; the interface the packet was routed into decides.
            NetworkNamespace.Run(ns.Path, () => app.SendTo(new byte[40], new IPEndPoint(IPAddress.Parse("169.254.10.2"), 9)));
            Assert.Equal(0xa0000002u, ReceiveSpi(peerA));
            Assert.Null(TryReceiveSpi(peerB, 300));
            NetworkNamespace.Run(ns.Path, () => app.SendTo(new byte[40], new IPEndPoint(IPAddress.Parse("169.254.20.2"), 9)));
            Assert.Equal(0xb0000002u, ReceiveSpi(peerB));
            Assert.Null(TryReceiveSpi(peerA, 300));

            // Inbound: each SA's decrypted packets arrive on its own interface (a listener on that interface's address).
            sealer.AddSa(Reverse(0xa0000002, 0xa0000001, a, (IPEndPoint)peerA.LocalEndPoint!));
            sealer.AddSa(Reverse(0xb0000002, 0xb0000001, b, (IPEndPoint)peerB.LocalEndPoint!));
            using var onIf1 = NetworkNamespace.Run(ns.Path, () => Bound("169.254.10.1", 7001));
            using var onIf2 = NetworkNamespace.Run(ns.Path, () => Bound("169.254.20.1", 7002));
            var natt = new IPEndPoint(IPAddress.Loopback, plane.NattPort);
            peerA.SendTo(Seal(sealer, 0xa0000002, "10.99.50.1", "169.254.10.1", 7001, 0x5a), natt);
            peerB.SendTo(Seal(sealer, 0xb0000002, "10.99.50.1", "169.254.20.1", 7002, 0x5b), natt);
            Assert.Equal(0x5a, ReceivePayload(onIf1));
            Assert.Equal(0x5b, ReceivePayload(onIf2));
            // SA A's packet for interface 2's address passes A's 0/0 selectors and still enters through ipsec1: the SA, not
            // the destination, picks the interface (the kernel then delivers it locally, whichever interface owns the address).
            long rx1 = RxPackets(ns, "ipsec1"), rx2 = RxPackets(ns, "ipsec2");
            peerA.SendTo(Seal(sealer, 0xa0000002, "10.99.50.1", "169.254.20.1", 7002, 0x5c), natt);
            Assert.Equal(0x5c, ReceivePayload(onIf2));
            Assert.Equal(rx1 + 1, RxPackets(ns, "ipsec1"));
            Assert.Equal(rx2, RxPackets(ns, "ipsec2"));

            // The interfaces' reader allocates nothing per packet: the fewest bytes of up to six bursts of 2,000 is zero (a
            // per-packet allocation shows in every burst; the runtime's tiering can still allocate in the first few under load).
            long fewest = long.MaxValue;
            for (int burst = 0; burst < 6 && fewest > 0; burst++)
            {
                long before = plane.PacketThreadAllocatedBytes();
                var drain = Task.Run(() =>
                {
                    int n = 0;
                    while (n < 2000 && TryReceiveSpi(peerA, 500) is not null) n++;
                    return n;
                });
                NetworkNamespace.Run(ns.Path, () =>
                {
                    var payload = new byte[100];
                    var target = new IPEndPoint(IPAddress.Parse("169.254.10.2"), 9);
                    // Paced (the TUN's transmit queue holds 500 packets, the peer socket's buffer a few hundred).
                    for (int i = 0; i < 2000; i++)
                    {
                        app.SendTo(payload, target);
                        if (i % 50 == 49) Thread.Sleep(2);
                    }
                });
                Assert.True(drain.Wait(TimeSpan.FromSeconds(15)), "the peer's receive loop did not end");
                int received = drain.Result;
                output.WriteLine($"burst {burst}: {received} of 2,000 packets left through ipsec1's SA");
                Thread.Sleep(200); // the reader samples its bytes once per batch, after the batch
                Assert.True(received >= 1000, $"only {received} of 2,000 packets left through ipsec1's SA");
                long allocated = plane.PacketThreadAllocatedBytes() - before;
                output.WriteLine($"burst {burst}: {allocated} bytes allocated by the packet threads");
                fewest = Math.Min(fewest, allocated);
            }
            output.WriteLine($"route-based reader: fewest bytes allocated in a burst of 2,000 packets: {fewest}");
            Assert.Equal(0, fewest);
        }
        // The devices are not persistent: closing the plane removes them.
        Assert.DoesNotContain("ipsec1", Commands.Run("ip", "-n", ns.Name, "link", "show").StdOut);
    }

    private static long RxPackets(TestNamespace ns, string device)
    {
        using var json = System.Text.Json.JsonDocument.Parse(ns.Ip("-j", "-s", "link", "show", "dev", device));
        return json.RootElement[0].GetProperty("stats64").GetProperty("rx").GetProperty("packets").GetInt64();
    }

    private static Socket Bound(string address) => Bound(address, 0);

    internal static Socket Bound(string address, int port)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(IPAddress.Parse(address), port));
        return s;
    }

    internal static (byte[] Out, byte[] In) Keys(byte seed) => (Key(20, seed), Key(20, (byte)(seed + 1))); // AES-GCM-128 + salt

    internal static ChildSaInstall RouteBased(uint inbound, uint outbound, (byte[] Out, byte[] In) keys, IPEndPoint peer, uint interfaceId) =>
        new(inbound, outbound, Gcm128, (byte[])keys.In.Clone(), [], (byte[])keys.Out.Clone(), [], [Any], [Any],
            new IPEndPoint(IPAddress.Loopback, 4500), peer, EspTransport.UdpEncapsulated, 128, "cloud", "vpc",
            InterfaceIdIn: interfaceId, InterfaceIdOut: interfaceId);

    /// <summary>The peer's half: it sends with the plane's inbound keys.</summary>
    internal static ChildSaInstall Reverse(uint inbound, uint outbound, (byte[] Out, byte[] In) keys, IPEndPoint peer) =>
        new(inbound, outbound, Gcm128, (byte[])keys.Out.Clone(), [], (byte[])keys.In.Clone(), [], [Any], [Any],
            peer, new IPEndPoint(IPAddress.Loopback, 4500), EspTransport.UdpEncapsulated, 128, "peer", "vpc");

    private static byte[] Seal(InMemoryDataPlane sealer, uint spi, string source, string destination, ushort port, byte fill)
    {
        var inner = TestPackets.Ip(source, destination, 17, 40000, port, payload: 16);
        BinaryPrimitives.WriteUInt16BigEndian(inner.AsSpan(24), 24); // UDP length; checksum 0 (none, IPv4)
        inner.AsSpan(28).Fill(fill);
        var buffer = new byte[inner.Length + 128];
        Assert.Equal(EspStatus.Ok, sealer.Encapsulate(spi, inner, buffer, out int written));
        return buffer[..written];
    }

    private static uint ReceiveSpi(Socket s) => TryReceiveSpi(s, 3000) ?? throw new Xunit.Sdk.XunitException("no ESP arrived");

    private static uint? TryReceiveSpi(Socket s, int timeoutMs)
    {
        if (!s.Poll(timeoutMs * 1000, SelectMode.SelectRead)) return null;
        var buffer = new byte[2048];
        int n = s.Receive(buffer);
        return n >= 8 ? BinaryPrimitives.ReadUInt32BigEndian(buffer) : null;
    }

    private static int ReceivePayload(Socket s) => TryReceivePayload(s, 3000) ?? throw new Xunit.Sdk.XunitException("nothing arrived on the interface");

    internal static int? TryReceivePayload(Socket s, int timeoutMs)
    {
        if (!s.Poll(timeoutMs * 1000, SelectMode.SelectRead)) return null;
        var buffer = new byte[2048];
        int n = s.Receive(buffer);
        return n > 0 ? buffer[0] : null;
    }
}
