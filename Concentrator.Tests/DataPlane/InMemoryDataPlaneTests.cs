using System.Net;
using Concentrator.DataPlane;
using Concentrator.DataPlane.Esp;
using Concentrator.Ipsec;
using static Concentrator.Tests.DataPlane.EspTestSupport;

namespace Concentrator.Tests.DataPlane;

public class InMemoryDataPlaneTests
{
    [Fact]
    public void AllocateSpi_IsNeverReserved_AndUnique()
    {
        using var plane = new InMemoryDataPlane();
        var seen = new HashSet<uint>();
        for (int i = 0; i < 20_000; i++)
        {
            uint spi = plane.AllocateSpi();
            Assert.True(spi > 255, $"reserved SPI {spi}");
            Assert.True(seen.Add(spi), $"duplicate SPI {spi}");
        }
    }

    [Fact]
    public void AllocateSpi_IsUniqueUnderConcurrency()
    {
        using var plane = new InMemoryDataPlane();
        var all = new uint[8][];
        Parallel.For(0, 8, t =>
        {
            all[t] = new uint[5000];
            for (int i = 0; i < all[t].Length; i++)
                all[t][i] = plane.AllocateSpi();
        });
        uint[] flat = all.SelectMany(a => a).ToArray();
        Assert.Equal(flat.Length, flat.Distinct().Count());
    }

    [Fact]
    public void AddSa_Lifecycle_DeleteZeroesKeys()
    {
        using var plane = new InMemoryDataPlane();
        uint spi = plane.AllocateSpi();
        byte[] inEnc = Key(32, 1), inInteg = Key(32, 2), outEnc = Key(32, 3), outInteg = Key(32, 4);
        var suite = new EspSuite(EncrAlgorithm.AesCbc, 256, IntegAlgorithm.HmacSha2_256_128, DhGroup.None, false);
        plane.AddSa(Install(suite, spi, 0x9999, inEnc, inInteg, outEnc, outInteg));
        Assert.Equal(1, plane.InstalledCount);
        Assert.Throws<InvalidOperationException>(() => plane.AddSa(Install(suite, spi, 0x9998, Key(32, 1), Key(32, 2), Key(32, 3), Key(32, 4))));
        Assert.Equal(1, plane.InstalledCount);

        Assert.True(plane.TryGetCounters(spi, out SaCounters counters));
        Assert.Equal(default, counters);
        Assert.False(plane.TryGetCounters(spi + 1, out _));

        var moved = new IPEndPoint(IPAddress.Parse("203.0.113.9"), 31337);
        Assert.True(plane.UpdateRemote(spi, moved));
        Assert.True(plane.TryGetSa(spi, out EspSa sa));
        Assert.Equal(moved, sa.RemoteEndpoint);
        Assert.False(plane.UpdateRemote(spi + 1, moved));

        Assert.Contains(inEnc, b => b != 0);
        Assert.True(plane.DeleteSa(spi));
        Assert.False(plane.DeleteSa(spi));
        Assert.Equal(0, plane.InstalledCount);
        foreach (byte[] key in new[] { inEnc, inInteg, outEnc, outInteg })
            Assert.All(key, b => Assert.Equal(0, b));
        Assert.True(sa.IsDestroyed);
    }

    [Fact]
    public void DeleteWhilePacketInFlight_ZeroesKeysOnlyAfterTheLastPacket()
    {
        using var plane = new InMemoryDataPlane();
        byte[] inEnc = Key(20, 1);
        plane.AddSa(Install(Gcm128, 0x1234, 0x4321, inEnc, [], Key(20, 2), []));
        Assert.True(plane.TryGetSa(0x1234, out EspSa sa));
        Assert.True(sa.TryAcquire()); // a worker holds the SA mid-packet

        Assert.True(plane.DeleteSa(0x1234));
        Assert.Contains(inEnc, b => b != 0);
        Assert.False(sa.IsDestroyed);
        Assert.False(sa.TryAcquire()); // no new packet may start

        sa.Release();
        Assert.True(sa.IsDestroyed);
        Assert.All(inEnc, b => Assert.Equal(0, b));
    }

    [Fact]
    public void ReleaseSpi_AndReservedSpisRefused()
    {
        using var plane = new InMemoryDataPlane();
        uint spi = plane.AllocateSpi();
        plane.ReleaseSpi(spi);
        plane.ReleaseSpi(spi); // idempotent
        Assert.Throws<ArgumentException>(() => plane.AddSa(Install(Gcm128, 255, 0x4321, Key(20, 1), [], Key(20, 2), [])));
        Assert.Throws<ArgumentException>(() => plane.AddSa(Install(Gcm128, 0x4321, 0, Key(20, 1), [], Key(20, 2), [])));
        Assert.Equal(0, plane.InstalledCount);
    }

    [Fact]
    public void AddSa_RefusesWrongKeyLengthsAndUnsupportedSuites()
    {
        using var plane = new InMemoryDataPlane();
        Assert.Throws<ArgumentException>(() => plane.AddSa(Install(Gcm128, 0x1000, 0x2000, Key(16, 1), [], Key(20, 2), [])));      // salt missing
        Assert.Throws<ArgumentException>(() => plane.AddSa(Install(Cbc128Sha256, 0x1000, 0x2000, Key(16, 1), Key(20, 1), Key(16, 2), Key(32, 2))));
        Assert.Throws<NotSupportedException>(() => plane.AddSa(Install(Gcm128 with { Integrity = IntegAlgorithm.HmacSha2_256_128 }, 0x1000, 0x2000, Key(20, 1), Key(32, 1), Key(20, 2), Key(32, 2))));
        Assert.Throws<NotSupportedException>(() => plane.AddSa(Install(Gcm128 with { Encryption = EncrAlgorithm.TripleDes }, 0x1000, 0x2000, Key(24, 1), [], Key(24, 2), [])));
        Assert.Equal(0, plane.InstalledCount);
    }

    [Fact]
    public void CountersArePublishedInBatchesAndOnFlush()
    {
        using var pair = new Pair(Gcm128);
        for (int i = 0; i < 5; i++)
            Assert.Equal(EspStatus.Ok, pair.B.Decapsulate(pair.Send(Ipv4(100)), out _));
        Assert.True(pair.B.TryGetCounters(Pair.SpiB, out SaCounters before));
        Assert.Equal(0UL, before.PacketsIn); // below the batch: still in the worker's lane

        Assert.True(pair.B.FlushCounters(Pair.SpiB));
        Assert.True(pair.B.TryGetCounters(Pair.SpiB, out SaCounters after));
        Assert.Equal(5UL, after.PacketsIn);
        Assert.Equal(500UL, after.BytesIn);
        Assert.True(after.LastInboundTicks > DateTime.UtcNow.AddMinutes(-1).Ticks);
        Assert.Equal(0L, after.LastOutboundTicks);

        for (int i = 0; i < EspSa.CounterBatch; i++)
            Assert.Equal(EspStatus.Ok, pair.B.Decapsulate(pair.Send(Ipv4(20)), out _));
        Assert.True(pair.B.TryGetCounters(Pair.SpiB, out SaCounters batched));
        Assert.Equal(5UL + EspSa.CounterBatch, batched.PacketsIn); // a full batch published itself
    }
}
