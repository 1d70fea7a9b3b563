// IPv6 as ESP's outer protocol below the namespace tests: the sockaddr_in6 the plane writes against the kernel's and
// .NET's layout, a batch over IPv6 loopback UDP, the AF_INET6 raw ESP socket (payload without an IPv6 header) in a
// namespace of its own, and the peer-moved report of ESP-in-UDP from a new IPv6 source.
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Concentrator.DataPlane;
using Concentrator.DataPlane.Esp;
using Concentrator.DataPlane.Linux;
using Concentrator.Ipsec;
using Xunit.Abstractions;

namespace Concentrator.Tests.DataPlane.Linux;

public unsafe class Ipv6OuterTests(ITestOutputHelper output)
{
    private static readonly IPAddress Peer6 = IPAddress.Parse("2001:db8:1:2::abcd");

    [Fact]
    public void Sockaddr_in6_is_the_kernel_layout_byte_for_byte()
    {
        Assert.Equal(28, sizeof(LibC.SockAddrIn6));
        LibC.SockAddrIn6 sa;
        var garbage = new Span<byte>(&sa, sizeof(LibC.SockAddrIn6));
        garbage.Fill(0xA5); // every byte written, flow label and scope included
        LibC.Fill6(&sa, PacketBatch.ToUInt128(Peer6), 4500);
        var ours = new Span<byte>(&sa, sizeof(LibC.SockAddrIn6)).ToArray();

        // .NET's own encoder of the platform's sockaddr_in6 (family 10 on Linux, port and address big-endian).
        var theirs = new IPEndPoint(Peer6, 4500).Serialize();
        Assert.Equal(28, theirs.Size);
        var expected = new byte[theirs.Size];
        for (int i = 0; i < expected.Length; i++) expected[i] = theirs[i];
        Assert.Equal(expected, ours);
        Assert.Equal(LibC.AF_INET6, BinaryPrimitives.ReadUInt16LittleEndian(ours));
        Assert.Equal(4500, BinaryPrimitives.ReadUInt16BigEndian(ours.AsSpan(2)));
        Assert.Equal(Peer6.GetAddressBytes(), ours[8..24]);
        Assert.Equal(PacketBatch.ToUInt128(Peer6), LibC.Address6(&sa));
        Assert.Equal(Peer6, PacketBatch.ToIPAddress(PacketBatch.ToUInt128(Peer6)));
        Assert.Throws<ArgumentException>(() => PacketBatch.ToUInt128(IPAddress.Loopback));
    }

    [Fact]
    public void A_batch_crosses_ipv6_loopback_with_its_peers_as_sockaddr_in6()
    {
        using var receiver = new UdpBatchSocket(IPAddress.IPv6Loopback, 0, reusePort: false);
        using var sender = new UdpBatchSocket(IPAddress.IPv6Loopback, 0, reusePort: false);
        Assert.True(receiver.IsV6);
        Assert.Equal(IPAddress.IPv6Loopback, receiver.LocalEndPoint.Address);
        UInt128 loopback = PacketBatch.ToUInt128(IPAddress.IPv6Loopback);
        using var tx = new PacketBatch(16);
        using var rx = new PacketBatch(16);
        const int count = 10;
        for (int i = 0; i < count; i++)
        {
            var payload = new byte[16 + i];
            BinaryPrimitives.WriteUInt32BigEndian(payload, 0x2000u + (uint)i);
            tx.Set6(i, payload, loopback, (ushort)receiver.LocalPort);
        }
        Assert.Equal(count, sender.SendBatch(tx, count));

        int received = 0;
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (received < count && DateTime.UtcNow < deadline)
        {
            int n = receiver.ReceiveBatch(rx, 100);
            Assert.True(n >= 0, $"recvmmsg errno {-n}");
            for (int k = 0; k < n; k++)
            {
                Assert.True(rx.IsV6[k]);
                Assert.Equal(loopback, rx.Addresses6[k]);
                Assert.Equal(sender.LocalPort, rx.Ports[k]);
                Assert.Equal(new IPEndPoint(IPAddress.IPv6Loopback, sender.LocalPort), rx.EndPoint(k));
                int index = (int)(BinaryPrimitives.ReadUInt32BigEndian(rx.Packet(k)) - 0x2000u);
                Assert.Equal(16 + index, rx.Lengths[k]);
                received++;
            }
        }
        Assert.Equal(count, received);
        // A single datagram by sendto reaches it too (the plane's NAT-T port sends IKE and keepalives this way).
        Assert.Equal(1, sender.SendTo6([0xFF], loopback, (ushort)receiver.LocalPort));
        Assert.Equal(1, receiver.ReceiveBatch(rx, 2000));
        Assert.Equal(1, rx.Lengths[0]);
    }

    [Fact]
    [Trait("Category", "Root")]
    public void Ipv6_raw_esp_socket_receives_esp_without_an_ip_header_Root()
    {
        if (!RootPrerequisites.Check(output, needTun: false, "ip"))
            return;
        using TestNamespace ns = TestNamespace.Create("cesp6");
        Commands.MustRun("ip", "netns", "exec", ns.Name, "sysctl", "-q", "-w", "net.ipv6.conf.lo.disable_ipv6=0");
        (RawEspSocket sender, RawEspSocket receiver) = NetworkNamespace.Run(ns.Path,
            () => (new RawEspSocket(IPAddress.IPv6Any), new RawEspSocket(IPAddress.IPv6Loopback)));
        using (sender)
        using (receiver)
        using (var tx = new PacketBatch(16))
        using (var rx = new PacketBatch(16))
        {
            Assert.True(receiver.IsV6);
            UInt128 loopback = PacketBatch.ToUInt128(IPAddress.IPv6Loopback);
            const int count = 8;
            var sent = new byte[count + 1][];
            for (int i = 0; i < count; i++)
            {
                var esp = new byte[8 + 40 + i * 5];
                BinaryPrimitives.WriteUInt32BigEndian(esp, 0x6000u + (uint)i); // SPI
                BinaryPrimitives.WriteUInt32BigEndian(esp.AsSpan(4), (uint)i + 1); // sequence number
                for (int b = 8; b < esp.Length; b++) esp[b] = (byte)(b * 13 + i);
                sent[i] = esp;
                tx.Set6(i, esp, loopback, 4500); // a port: the socket must send it as 0 (or the kernel reads a protocol)
            }
            sent[count] = [0x00, 0x00, 0x60, 0x08]; // a runt: shorter than SPI + sequence number
            tx.Set6(count, sent[count], loopback, 0);
            Assert.Equal(count + 1, sender.SendBatch(tx, count + 1));

            int received = 0, runts = 0;
            var deadline = DateTime.UtcNow.AddSeconds(5);
            while (received + runts < count + 1 && DateTime.UtcNow < deadline)
            {
                int n = receiver.ReceiveBatch(rx, 100);
                Assert.True(n >= 0, $"recvmmsg errno {-n}");
                for (int k = 0; k < n; k++)
                {
                    if (rx.Lengths[k] == 0)
                    {
                        runts++;
                        continue;
                    }
                    ReadOnlySpan<byte> esp = rx.Packet(k);
                    int index = (int)(BinaryPrimitives.ReadUInt32BigEndian(esp) - 0x6000u);
                    Assert.InRange(index, 0, count - 1);
                    Assert.True(esp.SequenceEqual(sent[index]), $"packet {index} differs");
                    Assert.Equal(rx.Headroom, rx.Offsets[k]); // nothing skipped: IPv6 raw sockets deliver the payload alone
                    Assert.True(rx.IsV6[k]);
                    Assert.Equal(loopback, rx.Addresses6[k]);
                    Assert.Equal(0, rx.Ports[k]);
                    received++;
                }
            }
            Assert.Equal(count, received);
            Assert.Equal(1, runts);
            Assert.Equal(1, receiver.Malformed);
        }
    }

    [Fact]
    public void Esp_in_udp_from_a_new_ipv6_source_is_reported_once_it_authenticates()
    {
        var any4 = new TrafficSelector(TsType.Ipv4AddressRange, 0, 0, 65535, IPAddress.Any, IPAddress.Broadcast);
        var key = EspTestSupport.Key(36, 7);
        var salt = EspTestSupport.Key(36, 9);
        var known = new IPEndPoint(Peer6, 4500);
        ChildSaInstall Side(uint inSpi, uint outSpi, byte[] inKey, byte[] outKey, IPEndPoint remote) => new(
            inSpi, outSpi, EspTestSupport.Gcm256, (byte[])inKey.Clone(), [], (byte[])outKey.Clone(), [], [any4], [any4],
            new IPEndPoint(IPAddress.Parse("2001:db8::1"), 4500), remote, EspTransport.UdpEncapsulated, 128, "conn", "child");
        using var sender = new SaTable();
        using var gateway = new SaTable();
        var seal = sender.Add(Side(0xc0de0051, 0xc0de0061, salt, key, new IPEndPoint(IPAddress.Parse("2001:db8::1"), 4500)));
        var opened = gateway.Add(Side(0xc0de0061, 0xc0de0051, key, salt, known));
        Assert.True(opened.TryGetRemoteV6(out var remote6));
        Assert.Equal(PacketBatch.ToUInt128(Peer6), remote6);
        var reports = new List<(uint Spi, IPEndPoint From)>();
        gateway.OnPeerMoved((spi, from) => reports.Add((spi, from)));

        var buffer = new byte[256];
        EspStatus Deliver(IPEndPoint from)
        {
            Assert.Equal(EspStatus.Ok, EspPipeline.Seal(seal, EspTestSupport.Ipv4(40), buffer, out int written));
            return EspPipeline.Open6(gateway, buffer.AsSpan(0, written), PacketBatch.ToUInt128(from.Address), (ushort)from.Port, out _, out _);
        }

        Assert.Equal(EspStatus.Ok, Deliver(known));
        Assert.Empty(reports);
        var moved = new IPEndPoint(IPAddress.Parse("2001:db8:99::7"), 61000);
        Assert.Equal(EspStatus.Ok, Deliver(moved));
        Assert.Equal((0xc0de0061u, moved), Assert.Single(reports));

        // A forgery from the new source (its ICV broken) is never reported.
        reports.Clear();
        Assert.Equal(EspStatus.Ok, EspPipeline.Seal(seal, EspTestSupport.Ipv4(40), buffer, out int length));
        buffer[length - 1] ^= 1;
        var forged = IPAddress.Parse("2001:db8:66::6");
        Assert.Equal(EspStatus.AuthFailed, EspPipeline.Open6(gateway, buffer.AsSpan(0, length), PacketBatch.ToUInt128(forged), 4500, out _, out _));
        Assert.Empty(reports);
    }

    [Fact]
    public void The_in_memory_plane_reports_an_sa_whose_peer_now_sends_over_ipv6()
    {
        using var pair = new EspTestSupport.Pair(EspTestSupport.Gcm128);
        var reports = new List<(uint Spi, IPEndPoint From)>();
        pair.B.OnPeerMoved((spi, from) => reports.Add((spi, from)));
        var from = new IPEndPoint(IPAddress.Parse("2001:db8:7::1"), 4500);
        Assert.Equal(EspStatus.Ok, pair.B.Decapsulate(pair.Send(EspTestSupport.Ipv4(60)), from, out _));
        Assert.Equal((EspTestSupport.Pair.SpiB, from), Assert.Single(reports));
    }
}
