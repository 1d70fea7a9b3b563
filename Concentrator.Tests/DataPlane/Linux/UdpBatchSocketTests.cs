using System.Buffers.Binary;
using System.Net;
using Concentrator.DataPlane.Linux;
using Xunit.Abstractions;

namespace Concentrator.Tests.DataPlane.Linux;

/// <summary>Loopback only (127.0.0.1, ephemeral ports); no root needed.</summary>
public class UdpBatchSocketTests(ITestOutputHelper output)
{
    private const uint Loopback = 0x7F000001;

    [Fact]
    public void SteeringIndexIsSpiModuloSockets()
    {
        Assert.Equal(0, UdpBatchSocket.SteeringIndex(0, 4)); // IKE non-ESP marker
        Assert.Equal(3, UdpBatchSocket.SteeringIndex(7, 4));
        Assert.Equal((int)(0xFFFFFFFFu % 3), UdpBatchSocket.SteeringIndex(0xFFFFFFFF, 3)); // unsigned, not negative
        Assert.Equal(0, UdpBatchSocket.SteeringIndex(0x80000000, 2));
        LibC.SockFilter[] program = UdpBatchSocket.BuildSpiSteeringProgram(5);
        Assert.Equal(3, program.Length);
        Assert.Equal(0x20, program[0].Code); // ld [0]
        Assert.Equal(0x94, program[1].Code); // mod #5
        Assert.Equal(5u, program[1].K);
        Assert.Equal(0x16, program[2].Code); // ret a
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void KernelSteersEachDatagramToTheSocketSteeringIndexPredicts(int sockets)
    {
        UdpBatchSocket[] group = UdpBatchSocket.OpenGroup(IPAddress.Loopback, 0, sockets, steerBySpi: true);
        using var sender = new UdpBatchSocket(IPAddress.Loopback, 0, reusePort: false);
        using var tx = new PacketBatch(64);
        using var rx = new PacketBatch(64);
        try
        {
            int port = group[0].LocalPort;
            Assert.All(group, s => Assert.Equal(port, s.LocalPort));

            const int total = 1000;
            var random = new Random(4500 + sockets);
            var expected = new int[total];
            var arrivedOn = new int[total];
            Array.Fill(arrivedOn, -1);
            int keepalivesSent = 0, keepalivesOnZero = 0, keepalivesElsewhere = 0, misrouted = 0, maxBatch = 0, unknown = 0;
            var spis = new HashSet<int>();

            for (int start = 0; start < total; start += 64)
            {
                int count = Math.Min(64, total - start);
                for (int j = 0; j < count; j++)
                {
                    int id = start + j;
                    Span<byte> slot = tx.Slot(j).Slice(tx.Headroom);
                    int length;
                    if (id % 25 == 1)
                    {
                        slot[0] = 0xFF; // NAT-T keepalive (RFC 3948 §2.3): shorter than an SPI
                        length = 1;
                        expected[id] = 0;
                        keepalivesSent++;
                    }
                    else
                    {
                        uint spi = id % 10 == 0 ? 0u : (uint)random.NextInt64(256, 1L << 32); // 0 = IKE non-ESP marker
                        BinaryPrimitives.WriteUInt32BigEndian(slot, spi);
                        BinaryPrimitives.WriteInt32BigEndian(slot.Slice(4), id);
                        length = 8 + random.Next(0, 200);
                        expected[id] = UdpBatchSocket.SteeringIndex(spi, sockets);
                        if (spi != 0)
                            spis.Add(expected[id]);
                    }
                    tx.Offsets[j] = tx.Headroom;
                    tx.Lengths[j] = length;
                    tx.Addresses[j] = Loopback;
                    tx.Ports[j] = (ushort)port;
                }
                Assert.Equal(count, sender.SendBatch(tx, count));

                int received = 0;
                var deadline = DateTime.UtcNow.AddSeconds(10);
                while (received < count && DateTime.UtcNow < deadline)
                {
                    for (int s = 0; s < sockets; s++)
                    {
                        int n = group[s].ReceiveBatch(rx, 5);
                        Assert.True(n >= 0, $"recvmmsg failed: errno {-n}");
                        maxBatch = Math.Max(maxBatch, n);
                        for (int k = 0; k < n; k++)
                        {
                            received++;
                            Assert.Equal(sender.LocalPort, rx.Ports[k]);
                            Assert.Equal(Loopback, rx.Addresses[k]);
                            ReadOnlySpan<byte> p = rx.Packet(k);
                            if (p.Length == 1)
                            {
                                if (s == 0) keepalivesOnZero++; else keepalivesElsewhere++;
                                continue;
                            }
                            int id = BinaryPrimitives.ReadInt32BigEndian(p.Slice(4));
                            if ((uint)id >= total || arrivedOn[id] != -1)
                            {
                                unknown++;
                                continue;
                            }
                            arrivedOn[id] = s;
                            if (expected[id] != s)
                                misrouted++;
                        }
                    }
                }
                Assert.Equal(count, received);
            }

            output.WriteLine($"{sockets} sockets: largest recvmmsg batch {maxBatch}");
            Assert.Equal(0, unknown);
            Assert.Equal(0, misrouted);
            for (int id = 0; id < total; id++)
            {
                if (id % 25 != 1)
                    Assert.True(arrivedOn[id] == expected[id], $"datagram {id} arrived on {arrivedOn[id]}, expected {expected[id]}");
                if (id % 10 == 0 && id % 25 != 1)
                    Assert.Equal(0, arrivedOn[id]); // IKE marker
            }
            Assert.Equal(keepalivesSent, keepalivesOnZero);
            Assert.Equal(0, keepalivesElsewhere);
            Assert.Equal(sockets, spis.Count); // ESP really went to every socket
            Assert.True(maxBatch > 1, $"recvmmsg never returned more than {maxBatch} datagram(s)");
        }
        finally
        {
            foreach (UdpBatchSocket s in group)
                s.Dispose();
        }
    }

    [Fact]
    public void SendAndReceiveBatchesAllocateNothingInSteadyState()
    {
        using var receiver = new UdpBatchSocket(IPAddress.Loopback, 0, reusePort: false);
        using var sender = new UdpBatchSocket(IPAddress.Loopback, 0, reusePort: false);
        using var tx = new PacketBatch(32, 2048);
        using var rx = new PacketBatch(64, 2048);
        Span<byte> payload = stackalloc byte[1200];
        for (int i = 0; i < 32; i++)
        {
            payload.Fill((byte)i);
            tx.Set(i, payload, Loopback, (ushort)receiver.LocalPort);
        }

        int failures = 0;
        for (int i = 0; i < 50; i++)
            failures += RoundTrip(sender, receiver, tx, rx);
        Assert.Equal(0, failures);

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 300; i++)
            failures += RoundTrip(sender, receiver, tx, rx);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, failures);
        Assert.Equal(0, allocated);
        Assert.Equal(1200, rx.Lengths[0]);
        Assert.Equal(sender.LocalPort, rx.Ports[0]);

        static int RoundTrip(UdpBatchSocket sender, UdpBatchSocket receiver, PacketBatch tx, PacketBatch rx)
        {
            int failures = sender.SendBatch(tx, 32) == 32 ? 0 : 1;
            int got = 0;
            for (int attempt = 0; got < 32 && attempt < 100; attempt++)
            {
                int n = receiver.ReceiveBatch(rx, 100);
                if (n < 0)
                    return failures + 1;
                for (int k = 0; k < n; k++)
                {
                    if (rx.Lengths[k] != 1200)
                        failures++;
                }
                got += n;
            }
            return failures + (got == 32 ? 0 : 1);
        }
    }

    [Fact]
    public void ReceiveTimesOutWithZeroAndSocketsShareThePortOnlyWithReusePort()
    {
        using var a = new UdpBatchSocket(IPAddress.Loopback, 0, reusePort: true);
        using var batch = new PacketBatch(8);
        var started = DateTime.UtcNow;
        Assert.Equal(0, a.ReceiveBatch(batch, 50));
        Assert.True(DateTime.UtcNow - started >= TimeSpan.FromMilliseconds(40));

        using var b = new UdpBatchSocket(IPAddress.Loopback, a.LocalPort, reusePort: true);
        Assert.Equal(a.LocalPort, b.LocalPort);
        var refused = Assert.Throws<Concentrator.Transport.PortBindException>(() => new UdpBatchSocket(IPAddress.Loopback, a.LocalPort, reusePort: false));
        Assert.Equal(System.Net.Sockets.SocketError.AddressAlreadyInUse, refused.Error);
        Assert.Equal(a.LocalPort, refused.Endpoint.Port);
        Assert.True(a.GetBufferSize(receive: true) >= 256 * 1024, $"SO_RCVBUF {a.GetBufferSize(true)}");

        a.Dispose();
        Assert.Equal(-LibC.EBADF, a.ReceiveBatch(batch, 0)); // a closed socket is an errno, not an exception
    }
}
