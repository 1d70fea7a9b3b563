using Concentrator.Ike.Sa;

namespace Concentrator.Tests.Ike.Sa;

/// <summary>The child table's phases: the transition function, and the phases a real rekey walks through on each side.</summary>
public sealed class ChildSaTableTests
{
    [Fact]
    public void The_transition_function_allows_exactly_the_moves_of_a_childs_life()
    {
        var allowed = new HashSet<(ChildSaPhase, ChildSaPhase)>
        {
            (ChildSaPhase.AwaitingActivation, ChildSaPhase.Installed),
            (ChildSaPhase.AwaitingActivation, ChildSaPhase.Rekeyed),
            (ChildSaPhase.AwaitingActivation, ChildSaPhase.Redundant),
            (ChildSaPhase.Installed, ChildSaPhase.Rekeyed),
            (ChildSaPhase.Installed, ChildSaPhase.Redundant),
            (ChildSaPhase.Redundant, ChildSaPhase.Rekeyed),
        };
        foreach (var from in Enum.GetValues<ChildSaPhase>())
        {
            foreach (var to in Enum.GetValues<ChildSaPhase>())
            {
                bool expected = from == to || allowed.Contains((from, to));
                Assert.True(ChildSaTable.CanMove(from, to) == expected, $"{from} -> {to} should be {(expected ? "allowed" : "refused")}");
            }
        }
    }

    [Fact]
    public void A_rekey_walks_both_sides_through_their_phases_and_the_successor_sends_only_after_the_old_sa_is_deleted()
    {
        var (i, r) = RekeyHarness.Established();
        var old = i.Sa.Children.Single();
        uint rOld = r.Sa.Children.Single().InboundSpi;
        Assert.Equal(ChildSaPhase.Installed, i.Sa.ChildTable.Find(old.InboundSpi)!.Phase);

        Assert.True(i.Sa.RekeyChild(old.InboundSpi));
        Assert.True(i.Sa.ChildTable.Find(old.InboundSpi)!.Rekeying);
        Assert.False(i.Sa.RekeyChild(old.InboundSpi), "a second rekey of a child being rekeyed is refused");

        // The responder answers the rekey: its new SA waits inbound-only, the old one is replaced.
        foreach (var m in i.Drain()) r.Receive(m.Datagram, i.Self);
        var rNew = Assert.Single(r.Sa.ChildTable.Entries, e => e.Record.InboundSpi != rOld);
        Assert.Equal(ChildSaPhase.AwaitingActivation, rNew.Phase);
        var rOldEntry = r.Sa.ChildTable.Find(rOld)!;
        Assert.Equal(ChildSaPhase.Rekeyed, rOldEntry.Phase);
        Assert.Equal(rNew.Record.InboundSpi, rOldEntry.Successor);
        Assert.False(rOldEntry.IsRekeyable);

        // The initiator takes its response: the old SA is replaced and its Delete is queued.
        foreach (var m in r.Drain()) i.Receive(m.Datagram, r.Self);
        var iOldEntry = i.Sa.ChildTable.Find(old.InboundSpi)!;
        Assert.Equal(ChildSaPhase.Rekeyed, iOldEntry.Phase);
        Assert.False(iOldEntry.Rekeying);
        Assert.True(iOldEntry.Deleting);
        Assert.Equal(ChildSaPhase.Installed, Assert.Single(i.Sa.ChildTable.Entries, e => e.Record.InboundSpi != old.InboundSpi).Phase);
        Assert.DoesNotContain(rNew.Record.InboundSpi, r.OutboundActive);

        // The Delete reaches the responder: the old SA goes and the successor is activated.
        RekeyHarness.Pump(i, r);
        Assert.Equal(ChildSaPhase.Installed, Assert.Single(r.Sa.ChildTable.Entries).Phase);
        Assert.Contains(rNew.Record.InboundSpi, r.OutboundActive);
        Assert.Single(i.Sa.ChildTable.Entries);
        var removed = Assert.Single(r.Seen.OfType<ChildSaRemoved>());
        Assert.True(removed.Rekeyed, "a rekeyed SA is removed with the inbound grace");
    }

    [Fact]
    public void A_delete_of_a_child_being_deleted_is_not_sent_twice()
    {
        var (i, _) = RekeyHarness.Established();
        uint spi = i.Sa.Children.Single().InboundSpi;
        i.Sa.DeleteChild(spi);
        Assert.True(i.Sa.ChildTable.Find(spi)!.Deleting);
        Assert.Single(i.Drain());
        i.Sa.DeleteChild(spi);
        Assert.Empty(i.Drain());
        Assert.False(i.Sa.RekeyChild(spi), "a child being deleted is not rekeyed");
    }
}
