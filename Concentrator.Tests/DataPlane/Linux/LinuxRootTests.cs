// Root tests: each creates its own network namespace (unique name, deleted in finally/Dispose);
// the TUN device is created with a unique name and moved into that namespace; 10.98.x.y addresses
// exist only inside it. Loops are bounded in count and time.
using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using Concentrator.DataPlane.Linux;
using Xunit.Abstractions;

namespace Concentrator.Tests.DataPlane.Linux;

[Trait("Category", "Root")]
public class LinuxRootTests(ITestOutputHelper output)
{
    private const uint Loopback = 0x7F000001;

    [Fact]
    public void RawEspSocketSendsAndReceivesEspWithIpHeaderStrippedRoot()
    {
        if (!RootPrerequisites.Check(output, needTun: false, "ip"))
            return;
        using TestNamespace ns = TestNamespace.Create("cesp");
        // Sockets keep the namespace they were created in.
        (RawEspSocket sender, RawEspSocket receiver) = NetworkNamespace.Run(ns.Path, () => (new RawEspSocket(), new RawEspSocket(IPAddress.Loopback)));
        using (sender)
        using (receiver)
        using (var tx = new PacketBatch(16))
        using (var rx = new PacketBatch(16))
        {
            const int count = 12;
            var sent = new byte[count][];
            for (int i = 0; i < count; i++)
            {
                var esp = new byte[8 + 40 + i * 7];
                BinaryPrimitives.WriteUInt32BigEndian(esp, 0x1000u + (uint)i); // SPI
                BinaryPrimitives.WriteUInt32BigEndian(esp.AsSpan(4), (uint)i + 1); // sequence number
                for (int b = 8; b < esp.Length; b++)
                    esp[b] = (byte)(b * 31 + i);
                sent[i] = esp;
                tx.Set(i, esp, Loopback, 0);
            }
            Assert.Equal(count, sender.SendBatch(tx, count));

            var seen = new bool[count];
            int received = 0, maxBatch = 0;
            var deadline = DateTime.UtcNow.AddSeconds(5);
            while (received < count && DateTime.UtcNow < deadline)
            {
                int n = receiver.ReceiveBatch(rx, 100);
                Assert.True(n >= 0, $"recvmmsg errno {-n}");
                maxBatch = Math.Max(maxBatch, n);
                for (int k = 0; k < n; k++)
                {
                    ReadOnlySpan<byte> esp = rx.Packet(k);
                    Assert.True(esp.Length >= 8, "ESP shorter than its header");
                    int index = (int)(BinaryPrimitives.ReadUInt32BigEndian(esp) - 0x1000u);
                    Assert.InRange(index, 0, count - 1);
                    Assert.False(seen[index], $"packet {index} twice");
                    Assert.True(esp.SequenceEqual(sent[index]), $"packet {index} differs after IP header removal");
                    Assert.Equal(Loopback, rx.Addresses[k]);
                    Assert.Equal(rx.Headroom + 20, rx.Offsets[k]); // a 20-byte IPv4 header was skipped
                    seen[index] = true;
                    received++;
                }
            }
            Assert.Equal(count, received);
            Assert.Equal(0, receiver.Malformed);
            output.WriteLine($"raw ESP: {received} packets, largest batch {maxBatch}");
        }
    }

    [Fact]
    public void TunDeviceAnswersPingInsideANamespaceRoot()
    {
        if (!RootPrerequisites.Check(output, needTun: true, "ip", "ping"))
            return;
        int x = Random.Shared.Next(1, 250);
        string tunName = "ct" + Guid.NewGuid().ToString("N")[..10];
        using TestNamespace ns = TestNamespace.Create("ctun");
        using TunDevice tun = TunDevice.Create(tunName, queues: 2, mtu: 1380);
        Assert.Equal(tunName, tun.Name);
        Assert.True(tun.MultiQueue);

        // MTU set by ioctl is what ip(8) reports.
        Assert.Equal(1380, tun.GetMtu());
        Assert.Contains("mtu 1380", Commands.MustRun("ip", "link", "show", "dev", tunName));

        // Into the namespace (the queue fds stay attached), then configure it there.
        Commands.MustRun("ip", "link", "set", tunName, "netns", ns.Name);
        Assert.False(Commands.Run("ip", "link", "show", "dev", tunName).ExitCode == 0, "device still in the root namespace");
        NetworkNamespace.Run(ns.Path, () =>
        {
            tun.SetMtu(1400);
            tun.SetUp(true);
        });
        ns.Ip("addr", "add", $"10.98.{x}.1/24", "dev", tunName);
        string link = ns.Ip("link", "show", "dev", tunName);
        Assert.Contains("mtu 1400", link);
        Assert.Contains("UP", link);

        // ping 10.98.x.2 from inside: requests come out of the TUN fds, our replies go back in.
        string target = $"10.98.{x}.2";
        using Process ping = Commands.Start("ip", "netns", "exec", ns.Name, "ping", "-c", "3", "-W", "1", "-i", "0.3", target);
        var buffer = new byte[2048];
        int requests = 0, replies = 0;
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!ping.HasExited && DateTime.UtcNow < deadline)
        {
            for (int q = 0; q < tun.QueueCount; q++)
            {
                int n = tun.Read(q, buffer, 50);
                Assert.True(n >= 0, $"TUN read errno {-n}");
                if (n == 0 || !TryMakeEchoReply(buffer.AsSpan(0, n), target))
                    continue;
                requests++;
                Assert.Equal(n, tun.Write(q, buffer.AsSpan(0, n)));
                replies++;
            }
        }
        CommandResult result = Commands.Finish(ping, TimeSpan.FromSeconds(5));
        output.WriteLine(result.StdOut);
        Assert.True(result.ExitCode == 0, $"ping failed: {result}");
        Assert.True(requests >= 3, $"read {requests} echo requests");
        Assert.Contains("3 received", result.StdOut);
    }

    /// <summary>Turns an ICMP echo request to <paramref name="target"/> into its reply in place.</summary>
    private static bool TryMakeEchoReply(Span<byte> packet, string target)
    {
        if (packet.Length < 28 || packet[0] >> 4 != 4 || packet[9] != 1)
            return false;
        int ihl = (packet[0] & 0x0F) * 4;
        if (packet.Length < ihl + 8 || packet[ihl] != 8)
            return false;
        if (!new IPAddress(packet.Slice(16, 4)).Equals(IPAddress.Parse(target)))
            return false;
        Span<byte> source = stackalloc byte[4];
        packet.Slice(12, 4).CopyTo(source);
        packet.Slice(16, 4).CopyTo(packet.Slice(12, 4));
        source.CopyTo(packet.Slice(16, 4));
        packet[8] = 64;
        packet[10] = packet[11] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(packet.Slice(10), TestPackets.Checksum(packet.Slice(0, ihl)));
        Span<byte> icmp = packet.Slice(ihl);
        icmp[0] = 0; // echo reply
        icmp[2] = icmp[3] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(icmp.Slice(2), TestPackets.Checksum(icmp));
        return true;
    }
}

