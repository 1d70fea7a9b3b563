using Concentrator.Cluster.Replication;

namespace Concentrator.Tests.Cluster.Replication;

/// <summary><see cref="SaReplicaIndex"/> holds every SA's replicated keys: its own copies, zeroed when they go.</summary>
public sealed class SaReplicaIndexTests
{
    private static byte[] Secret(byte seed) => Enumerable.Range(1, 64).Select(i => (byte)(seed + i)).ToArray();

    [Fact]
    public void An_entry_replaced_or_removed_is_zeroed_and_the_callers_bytes_are_not_the_index_s()
    {
        var index = new SaReplicaIndex();
        const ulong spi = 0x1234_5678_9abc_def0UL;
        var first = SaReplicaEntry.Create("akka.tcp://concentrator@10.0.0.1:4053", 1, false, [0xc000_0001u], Secret(1));
        index.Set(spi, first);
        Assert.True(index.TryGet(spi, out var held));
        var heldBytes = held.Raw;
        Assert.True(held.TryCopySnapshot(out var copy));
        Assert.Equal(Secret(1), copy);

        // Replaced by the SA's next snapshot: the previous one's bytes are zeros now.
        index.Set(spi, SaReplicaEntry.Create("akka.tcp://concentrator@10.0.0.1:4053", 1, false, [0xc000_0002u], Secret(2)));
        Assert.All(heldBytes, b => Assert.Equal(0, b));
        Assert.False(held.TryCopySnapshot(out _), "a zeroed entry gives no snapshot");
        Assert.NotEqual(0, first.Raw.Sum(b => (int)b)); // what the caller passed (also in Distributed Data) is not the index's copy

        Assert.True(index.TryGet(spi, out var second));
        var secondBytes = second.Raw;
        index.Remove(spi);
        Assert.All(secondBytes, b => Assert.Equal(0, b));
        Assert.False(index.TryGet(spi, out _));
        Assert.False(index.TryGetIkeSpiOfEsp(0xc000_0002u, out _));
    }
}
