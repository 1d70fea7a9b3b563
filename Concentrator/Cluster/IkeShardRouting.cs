using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using Akka.Cluster.Sharding;
using Concentrator.Actors;
using Concentrator.Ike.Wire;
using Concentrator.Net;

namespace Concentrator.Cluster;

/// <summary>
/// Groundwork for hosting IKE SA actors as Cluster.Sharding entities (not wired yet: the supervisor still routes
/// locally). The SPI this node chooses for an IKE SA carries its shard in the top <see cref="ShardBits"/> bits, so
/// any node maps a message to its shard from the header alone, with no lookup table and no allocation beyond the
/// id strings sharding needs.
/// </summary>
public static class IkeShardSpi
{
    /// <summary>256 shards: about ten per node for clusters of up to 25 nodes (Akka's guidance for rebalancing).</summary>
    public const int ShardBits = 8;

    public const int ShardCount = 1 << ShardBits;

    public static int ShardOf(ulong spi) => (int)(spi >> (64 - ShardBits));

    /// <summary>A random non-zero SPI in <paramref name="shard"/> (56 random bits stay: RFC 7296 §2.6 asks only for uniqueness).</summary>
    public static ulong NewSpi(int shard)
    {
        if ((uint)shard >= ShardCount) throw new ArgumentOutOfRangeException(nameof(shard));
        Span<byte> b = stackalloc byte[8];
        ulong spi;
        do
        {
            RandomNumberGenerator.Fill(b);
            spi = ((ulong)shard << (64 - ShardBits)) | (BinaryPrimitives.ReadUInt64BigEndian(b) >> ShardBits);
        } while (spi == 0);
        return spi;
    }
}

/// <summary>
/// Entity and shard ids of inbound IKE messages: the entity is the IKE SA named by the SPI this node chose
/// (<see cref="IkeSaSupervisor.EntitySpi"/>), the shard is that SPI's top bits. Messages that name no SA of ours
/// (an IKE_SA_INIT request, a malformed datagram) get no entity id: admission stays on the receiving node.
/// </summary>
public sealed class IkeMessageExtractor : IMessageExtractor
{
    public string? EntityId(object message) =>
        Spi(message) is { } spi ? spi.ToString("x16", CultureInfo.InvariantCulture) : null;

    public object? EntityMessage(object message) => message;

    public string? ShardId(object message) =>
        Spi(message) is { } spi ? IkeShardSpi.ShardOf(spi).ToString(CultureInfo.InvariantCulture) : null;

    public string ShardId(string entityId, object? messageHint = null) =>
        ulong.TryParse(entityId, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var spi)
            ? IkeShardSpi.ShardOf(spi).ToString(CultureInfo.InvariantCulture)
            : "0";

    private static ulong? Spi(object message)
    {
        if (message is not IkeInbound inbound || IkeHeader.TryParse(inbound.Datagram, out var header) != ParseStatus.Ok) return null;
        ulong spi = IkeSaSupervisor.EntitySpi(header);
        return spi == 0 ? null : spi;
    }
}
