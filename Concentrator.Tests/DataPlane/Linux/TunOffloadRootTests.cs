// Root test: its own network namespace (unique name, deleted in Dispose) with a uniquely named TUN moved
// into it; 10.98.x.y exists only there. The traffic is the namespace's own stack sending to an address
// routed into the TUN. Loops are bounded in count and time.
using System.Diagnostics;
using Concentrator.DataPlane.Linux;
using Xunit.Abstractions;

namespace Concentrator.Tests.DataPlane.Linux;

[Trait("Category", "Root")]
public sealed unsafe class TunOffloadRootTests(ITestOutputHelper output)
{
    /// <summary>
    /// With IFF_VNET_HDR and TUNSETOFFLOAD 0, what the kernel hands to user space is never a GSO frame and
    /// never carries a partial checksum: UDP datagrams, IP fragments, a TCP SYN and ICMP sent by the
    /// namespace's own stack (which would leave checksums to a device offering checksum offload) all come
    /// with gso_type NONE and complete checksums, read raw from the queue fd.
    /// </summary>
    [Fact]
    public void Reads_carry_a_zero_gso_header_and_complete_checksums_Root()
    {
        if (!RootPrerequisites.Check(output, needTun: true, "ip", "python3"))
            return;
        int x = Random.Shared.Next(1, 250);
        string tunName = "cv" + Guid.NewGuid().ToString("N")[..10];
        using TestNamespace ns = TestNamespace.Create("cvnet");
        using TunDevice tun = TunDevice.Create(tunName, queues: 1, mtu: 1400);
        LibC.IfReq req = default;
        Assert.Equal(0, LibC.ioctl(tun.QueueHandle(0), LibC.TUNGETIFF, &req));
        Assert.Equal(LibC.IFF_VNET_HDR, req.Flags & LibC.IFF_VNET_HDR);
        Commands.MustRun("ip", "link", "set", tunName, "netns", ns.Name);
        NetworkNamespace.Run(ns.Path, () => tun.SetUp(true));
        ns.Ip("addr", "add", $"10.98.{x}.1/24", "dev", tunName);

        // UDP of 1300 and 4000 bytes (the latter fragments), a TCP connect (SYN, unanswered) and ping.
        string script = $$"""
            import socket, subprocess, time
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for i in range(5):
                u.sendto(bytes([i]) * 1300, ("10.98.{{x}}.2", 9))
                u.sendto(bytes([i]) * 4000, ("10.98.{{x}}.2", 9))
            t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            t.settimeout(1.5)
            try:
                t.connect(("10.98.{{x}}.2", 80))
            except OSError:
                pass
            subprocess.run(["ping", "-c", "2", "-i", "0.2", "-W", "1", "10.98.{{x}}.2"], capture_output=True)
            """;
        using Process sender = Commands.Start("ip", "netns", "exec", ns.Name, "python3", "-c", script);

        var frame = new byte[70000];
        int udp = 0, tcp = 0, icmp = 0, fragments = 0, frames = 0;
        var deadline = Stopwatch.StartNew();
        fixed (byte* p = frame)
        {
            while (deadline.Elapsed < TimeSpan.FromSeconds(8) && (udp < 5 || tcp < 1 || icmp < 1 || fragments < 5))
            {
                nint n = LibC.read(tun.QueueHandle(0), p, (nuint)frame.Length);
                if (n < 0)
                {
                    Assert.True(LibC.IsTransient(LibC.Errno()), $"TUN read errno {LibC.Errno()}");
                    Thread.Sleep(10);
                    continue;
                }
                frames++;
                Assert.True(n > LibC.VirtioNetHdrLength, $"a {n}-byte read is shorter than the virtio-net header");
                Assert.Equal(LibC.VIRTIO_NET_HDR_GSO_NONE, frame[1]);
                Assert.Equal(0, frame[0] & LibC.VIRTIO_NET_HDR_F_NEEDS_CSUM);
                var packet = frame.AsSpan(LibC.VirtioNetHdrLength, (int)n - LibC.VirtioNetHdrLength);
                if (packet[0] >> 4 != 4)
                    continue; // IPv6 router/neighbour traffic of the namespace
                Assert.True(packet.Length <= 1400, $"a {packet.Length}-byte packet on a 1400-byte MTU device");
                Assert.True(TunOffload.Ipv4HeaderChecksumValid(packet[..20]));
                bool fragment = (packet[6] & 0x3F) != 0 || packet[7] != 0;
                if (fragment)
                {
                    fragments++;
                    continue;
                }
                var l4 = packet[20..];
                ulong pseudo = TunOffload.PseudoHeaderSum(packet, v6: false, packet[9], l4.Length);
                switch (packet[9])
                {
                    case 17:
                        Assert.Equal(0xFFFF, TunOffload.Fold(TunOffload.Sum(l4, pseudo)));
                        udp++;
                        break;
                    case 6:
                        Assert.True(TunOffload.TcpChecksumValid(packet, 20, v6: false), "TCP checksum incomplete");
                        tcp++;
                        break;
                    case 1:
                        Assert.Equal(0xFFFF, TunOffload.Fold(TunOffload.Sum(l4, 0)));
                        icmp++;
                        break;
                }
            }
        }
        Commands.Finish(sender, TimeSpan.FromSeconds(10));
        output.WriteLine($"{frames} frames: {udp} UDP, {fragments} fragments, {tcp} TCP, {icmp} ICMP; all gso_type NONE with complete checksums");
        Assert.True(udp >= 5, $"read {udp} whole UDP datagrams");
        Assert.True(fragments >= 5, $"read {fragments} fragments");
        Assert.True(tcp >= 1, $"read {tcp} TCP segments");
        Assert.True(icmp >= 1, $"read {icmp} ICMP messages");
        Assert.Equal(0, tun.UnexpectedOffloads);
    }
}
