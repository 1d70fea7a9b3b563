using Concentrator.DataPlane.Linux;
using Concentrator.Ipsec;
using static Concentrator.Tests.DataPlane.Linux.TestPackets;

namespace Concentrator.Tests.DataPlane.Linux;

/// <summary>
/// Route-based interfaces (swanctl if_id_out): each interface ID has its own outbound selector table, so 0.0.0.0/0 SAs and
/// overlapping branch subnets of different interfaces coexist; the packet's interface alone decides among them.
/// </summary>
public class OutboundTablesTests
{
    private sealed record Sa(string Name);

    private static readonly IReadOnlyList<TrafficSelector> AnyV4 = List("0.0.0.0/0");

    private static string? Lookup(OutboundTables<Sa> tables, uint id, byte[] packet) =>
        tables.TryLookup(id, packet, out Sa sa) ? sa.Name : null;

    [Fact]
    public void Zero_selector_sas_on_two_interfaces_each_carry_only_their_interfaces_packets()
    {
        var tables = new OutboundTables<Sa>();
        var a = new Sa("a");
        var b = new Sa("b");
        tables.For(1).Add(AnyV4, AnyV4, a);
        tables.For(2).Add(AnyV4, AnyV4, b); // newer, and as wide: in one shared table it would win for everyone

        var packet = Ip("169.254.10.1", "10.99.50.1");
        Assert.Equal("a", Lookup(tables, 1, packet));
        Assert.Equal("b", Lookup(tables, 2, packet));
        Assert.Null(Lookup(tables, 0, packet)); // the shared table (and its routes) never sees them
        Assert.Null(Lookup(tables, 3, packet)); // an interface without SAs drops, it never borrows another's
        Assert.Same(tables.Shared, tables.For(0));

        // One interface's SA leaving changes nothing for the other.
        Assert.True(tables.For(2).Remove(b));
        Assert.Equal("a", Lookup(tables, 1, packet));
        Assert.Null(Lookup(tables, 2, packet));
    }

    [Fact]
    public void Overlapping_branch_subnets_coexist_and_the_newest_sa_wins_within_one_interface()
    {
        var tables = new OutboundTables<Sa>();
        tables.For(1).Add(List("10.0.0.0/16"), List("192.168.1.0/24"), new Sa("branch-1"));
        tables.For(2).Add(List("10.0.0.0/16"), List("192.168.1.0/24"), new Sa("branch-2"));
        tables.Shared.Add(List("10.0.0.0/16"), List("192.168.0.0/16"), new Sa("policy"));

        var packet = Ip("10.0.3.4", "192.168.1.20");
        Assert.Equal("branch-1", Lookup(tables, 1, packet));
        Assert.Equal("branch-2", Lookup(tables, 2, packet));
        Assert.Equal("policy", Lookup(tables, 0, packet));
        Assert.Null(Lookup(tables, 1, Ip("10.0.3.4", "192.168.2.20"))); // outside interface 1's selectors

        // A rekey on interface 1: the successor takes over there, interface 2 keeps its own SA.
        var successor = new Sa("branch-1-rekeyed");
        tables.For(1).Add(List("10.0.0.0/16"), List("192.168.1.0/24"), successor);
        Assert.Equal("branch-1-rekeyed", Lookup(tables, 1, packet));
        Assert.Equal("branch-2", Lookup(tables, 2, packet));
    }

    [Fact]
    public void A_table_is_made_once_per_interface_even_when_asked_from_many_threads()
    {
        var tables = new OutboundTables<Sa>();
        var seen = new SelectorTable<Sa>[16];
        Parallel.For(0, seen.Length, i => seen[i] = tables.For(7));
        Assert.All(seen, t => Assert.Same(seen[0], t));
        Assert.True(tables.TryGet(7, out var got));
        Assert.Same(seen[0], got);
        Assert.False(tables.TryGet(8, out _));
    }
}
