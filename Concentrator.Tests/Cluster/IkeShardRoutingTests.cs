using System.Net;
using Concentrator.Cluster;
using Concentrator.Ike.Wire;
using Concentrator.Net;

namespace Concentrator.Tests.Cluster;

public sealed class IkeShardRoutingTests
{
    private static IkeInbound Message(ulong spiI, ulong spiR, ExchangeType exchange, IkeFlags flags, uint messageId = 1)
    {
        var datagram = new byte[28];
        new IkeHeader(spiI, spiR, PayloadType.None, 2, 0, exchange, flags, messageId, 28).Write(datagram);
        var peer = new IPEndPoint(IPAddress.Loopback, 500);
        return new IkeInbound(datagram, peer, peer, ViaNatT: false);
    }

    [Fact]
    public void New_spis_carry_their_shard_in_the_top_bits_and_stay_random_below()
    {
        var seen = new HashSet<ulong>();
        foreach (int shard in new[] { 0, 1, 77, IkeShardSpi.ShardCount - 1 })
        {
            for (int i = 0; i < 200; i++)
            {
                ulong spi = IkeShardSpi.NewSpi(shard);
                Assert.NotEqual(0UL, spi);
                Assert.Equal(shard, IkeShardSpi.ShardOf(spi));
                Assert.True(seen.Add(spi), "56 random bits do not repeat in 800 draws");
            }
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => IkeShardSpi.NewSpi(IkeShardSpi.ShardCount));
        Assert.Throws<ArgumentOutOfRangeException>(() => IkeShardSpi.NewSpi(-1));
    }

    [Fact]
    public void Messages_route_by_the_spi_this_node_chose_whichever_side_sent_them()
    {
        var extractor = new IkeMessageExtractor();
        ulong ours = IkeShardSpi.NewSpi(42), theirs = 0x1122334455667788;

        // We are responder: the peer (initiator) names our SPI as the responder SPI.
        var asResponder = Message(theirs, ours, ExchangeType.Informational, IkeFlags.Initiator);
        Assert.Equal(ours.ToString("x16"), extractor.EntityId(asResponder));
        Assert.Equal("42", extractor.ShardId(asResponder));
        Assert.Same(asResponder, extractor.EntityMessage(asResponder));

        // We are initiator: the peer's responses and requests carry our SPI as the initiator SPI.
        var asInitiator = Message(ours, theirs, ExchangeType.Informational, IkeFlags.Response);
        Assert.Equal(ours.ToString("x16"), extractor.EntityId(asInitiator));
        Assert.Equal("42", extractor.ShardId(asInitiator));
        Assert.Equal("42", extractor.ShardId(ours.ToString("x16")));
    }

    [Fact]
    public void Ike_sa_init_requests_and_malformed_datagrams_name_no_entity()
    {
        var extractor = new IkeMessageExtractor();
        var init = Message(0x1122334455667788, 0, ExchangeType.IkeSaInit, IkeFlags.Initiator, messageId: 0);
        Assert.Null(extractor.EntityId(init));
        Assert.Null(extractor.ShardId(init));

        var peer = new IPEndPoint(IPAddress.Loopback, 500);
        Assert.Null(extractor.EntityId(new IkeInbound(new byte[11], peer, peer, false)));
        Assert.Null(extractor.EntityId("not an IKE message"));
        Assert.Equal("0", extractor.ShardId("not-hex"));
    }
}
