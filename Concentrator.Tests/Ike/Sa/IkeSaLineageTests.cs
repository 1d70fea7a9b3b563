using Concentrator.Ike.Sa;
using Concentrator.Ike.Wire;

namespace Concentrator.Tests.Ike.Sa;

public sealed class IkeSaLineageTests
{
    [Fact]
    public void Messages_route_by_the_recipients_spi_to_a_retiring_sa_or_else_the_current_one()
    {
        var (i, r) = RekeyHarness.Established();
        var original = i.Sa;
        Assert.True(i.Sa.RekeyIke());
        // The initiator has the successor once the response arrives; the predecessor awaits its Delete.
        foreach (var m in i.Drain()) r.Receive(m.Datagram, i.Self);
        foreach (var m in r.Drain()) i.Receive(m.Datagram, r.Self);
        var deleteOfPredecessor = i.Drain();
        Assert.NotSame(original, i.Lineage.Current);
        Assert.Same(original, Assert.Single(i.Lineage.Retiring));
        Assert.Same(original, i.Lineage.Route(original.OurSpi));
        Assert.Same(i.Lineage.Current, i.Lineage.Route(i.Lineage.Current.OurSpi));
        Assert.Same(i.Lineage.Current, i.Lineage.Route(0xDEAD_BEEF));
        Assert.Null(i.Lineage.Find(0xDEAD_BEEF));
        Assert.False(i.Lineage.Retire(i.Lineage.Current), "the current SA is not retired: its close ends the tunnel");

        foreach (var m in deleteOfPredecessor) r.Receive(m.Datagram, i.Self);
        RekeyHarness.Pump(i, r);
        Assert.Empty(i.Lineage.Retiring);
    }

    [Fact]
    public void The_recipient_spi_is_the_one_the_receiver_chose()
    {
        var fromInitiator = new IkeHeader(0x1111, 0x2222, PayloadType.None, 2, 0, Concentrator.Ipsec.ExchangeType.Informational, IkeFlags.Initiator, 5, 28);
        var fromResponder = fromInitiator with { Flags = IkeFlags.Response };
        Assert.Equal(0x2222UL, IkeSaLineage.RecipientSpi(fromInitiator));
        Assert.Equal(0x1111UL, IkeSaLineage.RecipientSpi(fromResponder));
    }
}
