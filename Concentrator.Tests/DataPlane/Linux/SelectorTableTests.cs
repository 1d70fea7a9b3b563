using System.Net;
using Concentrator.DataPlane;
using Concentrator.DataPlane.Linux;
using Concentrator.Ipsec;
using static Concentrator.Tests.DataPlane.Linux.TestPackets;

namespace Concentrator.Tests.DataPlane.Linux;

public class SelectorTableTests
{
    private sealed record Sa(string Name);

    private static readonly IReadOnlyList<TrafficSelector> AnyV4 = List("0.0.0.0/0");
    private static readonly IReadOnlyList<TrafficSelector> AnyV6 = List("::/0");

    private static string? Lookup(SelectorTable<Sa> table, byte[] packet)
        => table.TryLookup(packet, out Sa sa) ? sa.Name : null;

    [Fact]
    public void MostSpecificDestinationWins()
    {
        var table = new SelectorTable<Sa>();
        table.Add(AnyV4, List("10.0.0.0/8"), new Sa("/8"));
        table.Add(AnyV4, List("10.1.2.3/32"), new Sa("/32"));
        table.Add(AnyV4, List("10.1.0.0/16"), new Sa("/16"));

        Assert.Equal("/32", Lookup(table, Ip("192.168.0.1", "10.1.2.3")));
        Assert.Equal("/16", Lookup(table, Ip("192.168.0.1", "10.1.2.4")));
        Assert.Equal("/16", Lookup(table, Ip("192.168.0.1", "10.1.255.255")));
        Assert.Equal("/8", Lookup(table, Ip("192.168.0.1", "10.2.0.1")));
        Assert.Null(Lookup(table, Ip("192.168.0.1", "11.0.0.1")));
        Assert.Null(Lookup(table, [0x45, 0, 0])); // not a parseable packet
    }

    [Fact]
    public void SourceMustMatchLocalSelectors_ElseShorterPrefixesAreTried()
    {
        var table = new SelectorTable<Sa>();
        var branch = new Sa("branch");
        var wide = new Sa("wide");
        table.Add(List("192.168.1.0/24"), List("10.1.0.0/16"), branch);
        table.Add(List("172.16.0.0/12"), List("10.0.0.0/8"), wide);

        Assert.Equal("branch", Lookup(table, Ip("192.168.1.5", "10.1.0.1")));
        Assert.Equal("wide", Lookup(table, Ip("172.16.9.9", "10.1.0.1")));
        Assert.Null(Lookup(table, Ip("192.168.2.5", "10.1.0.1")));

        Assert.True(table.Remove(wide));
        Assert.Null(Lookup(table, Ip("172.16.9.9", "10.1.0.1")));
        Assert.Equal("branch", Lookup(table, Ip("192.168.1.5", "10.1.0.1")));
    }

    [Fact]
    public void ProtocolAndPortsRestrictTheMatch()
    {
        var table = new SelectorTable<Sa>();
        table.Add(AnyV4, [Ts("10.1.0.0/16", protocol: 17, startPort: 53, endPort: 53)], new Sa("dns"));
        table.Add(AnyV4, List("10.1.0.0/16"), new Sa("all"));
        table.Add([Ts("0.0.0.0/0", protocol: 6, startPort: 5000, endPort: 5999)], List("10.9.0.0/16"), new Sa("src-ports"));
        table.Add(AnyV4, [Ts("10.7.0.0/16", protocol: 1, startPort: 0x0800, endPort: 0x0800)], new Sa("echo-request"));
        table.Add(AnyV4, [Ts("10.8.0.0/16", protocol: 17, startPort: 65535, endPort: 0)], new Sa("opaque"));

        Assert.Equal("dns", Lookup(table, Ip("1.1.1.1", "10.1.0.1", protocol: 17, destinationPort: 53)));
        Assert.Equal("all", Lookup(table, Ip("1.1.1.1", "10.1.0.1", protocol: 17, destinationPort: 54)));
        Assert.Equal("all", Lookup(table, Ip("1.1.1.1", "10.1.0.1", protocol: 6, destinationPort: 53)));
        // the source port is checked against the local selector
        Assert.Equal("src-ports", Lookup(table, Ip("1.1.1.1", "10.9.0.1", protocol: 6, sourcePort: 5500)));
        Assert.Null(Lookup(table, Ip("1.1.1.1", "10.9.0.1", protocol: 6, sourcePort: 6000)));
        Assert.Null(Lookup(table, Ip("1.1.1.1", "10.9.0.1", protocol: 17, sourcePort: 5500)));
        // ICMP: type << 8 | code is the port (RFC 7296 §3.13.1)
        Assert.Equal("echo-request", Lookup(table, Icmp("1.1.1.1", "10.7.0.1", 8, 0)));
        Assert.Null(Lookup(table, Icmp("1.1.1.1", "10.7.0.1", 0, 0)));
        // OPAQUE ports: only packets whose ports are unavailable (a non-first fragment)
        Assert.Null(Lookup(table, Ip("1.1.1.1", "10.8.0.1", protocol: 17)));
        Assert.Equal("opaque", Lookup(table, Ip("1.1.1.1", "10.8.0.1", protocol: 17, fragmentOffset: 100)));
    }

    [Fact]
    public void Ipv6MostSpecificWins_AndFamiliesDoNotMix()
    {
        var table = new SelectorTable<Sa>();
        table.Add(AnyV6, List("2001:db8::/32"), new Sa("/32"));
        table.Add(AnyV6, List("2001:db8:1::/48"), new Sa("/48"));
        table.Add(AnyV6, List("2001:db8:1::7/128"), new Sa("/128"));
        table.Add(AnyV4, List("0.0.0.0/0"), new Sa("v4-default"));

        Assert.Equal("/128", Lookup(table, Ip("2001:db8:9::1", "2001:db8:1::7")));
        Assert.Equal("/48", Lookup(table, Ip("2001:db8:9::1", "2001:db8:1::8")));
        Assert.Equal("/32", Lookup(table, Ip("2001:db8:9::1", "2001:db8:2::1")));
        Assert.Null(Lookup(table, Ip("2001:db8:9::1", "2001:db9::1")));
        Assert.Equal("v4-default", Lookup(table, Ip("1.2.3.4", "5.6.7.8")));

        var local = new Sa("local-restricted");
        table.Add(List("fd00::/64"), [Ts("2001:db8:5::/48", protocol: 17, startPort: 500, endPort: 4500)], local);
        Assert.Equal("local-restricted", Lookup(table, Ip("fd00::1", "2001:db8:5::1", destinationPort: 4500)));
        Assert.Equal("/32", Lookup(table, Ip("fd00:1::1", "2001:db8:5::1", destinationPort: 4500)));
        Assert.Equal("/32", Lookup(table, Ip("fd00::1", "2001:db8:5::1", destinationPort: 4501)));
    }

    [Fact]
    public void NonCidrRangesAreDecomposedExactly()
    {
        var table = new SelectorTable<Sa>();
        table.Add(AnyV4, List("10.0.0.5-10.0.0.9"), new Sa("range"));
        table.Add(AnyV6, List("2001:db8::ff-2001:db8::1:0"), new Sa("range6"));

        Assert.Null(Lookup(table, Ip("1.1.1.1", "10.0.0.4")));
        for (int host = 5; host <= 9; host++)
            Assert.Equal("range", Lookup(table, Ip("1.1.1.1", $"10.0.0.{host}")));
        Assert.Null(Lookup(table, Ip("1.1.1.1", "10.0.0.10")));

        Assert.Null(Lookup(table, Ip("::1", "2001:db8::fe")));
        Assert.Equal("range6", Lookup(table, Ip("::1", "2001:db8::ff")));
        Assert.Equal("range6", Lookup(table, Ip("::1", "2001:db8::8000")));
        Assert.Equal("range6", Lookup(table, Ip("::1", "2001:db8::1:0")));
        Assert.Null(Lookup(table, Ip("::1", "2001:db8::1:1")));

        List<(UInt128 Block, int Length)> blocks = SelectorTable<Sa>.Decompose(0x0A000005, 0x0A000009, 32);
        Assert.Equal(new List<(UInt128, int)> { (0x0A000005, 32), (0x0A000006, 31), (0x0A000008, 31) }, blocks);
        Assert.Equal(new List<(UInt128, int)> { (0, 0) }, SelectorTable<Sa>.Decompose(0, uint.MaxValue, 32));
        Assert.Equal(new List<(UInt128, int)> { (0, 0) }, SelectorTable<Sa>.Decompose(0, UInt128.MaxValue, 128));
        Assert.Equal(2 * 32 - 2, SelectorTable<Sa>.Decompose(1, uint.MaxValue - 1, 32).Count);
    }

    [Fact]
    public void RemovalTakesOutOnlyThatValue()
    {
        var table = new SelectorTable<Sa>();
        var a = new Sa("a");
        var b = new Sa("b");
        table.Add(AnyV4, List("10.5.0.0/16", "10.6.0.0/16"), a);
        table.Add(List("192.168.0.0/16"), List("10.5.0.0/16"), b); // same key, more specific local
        Assert.Equal(2, table.Count);

        Assert.Equal("b", Lookup(table, Ip("192.168.1.1", "10.5.0.1")));
        Assert.True(table.Remove(b));
        Assert.False(table.Remove(b));
        Assert.Equal("a", Lookup(table, Ip("192.168.1.1", "10.5.0.1")));
        Assert.Equal("a", Lookup(table, Ip("192.168.1.1", "10.6.0.1")));
        Assert.True(table.Remove(a));
        Assert.Null(Lookup(table, Ip("192.168.1.1", "10.5.0.1")));
        Assert.Null(Lookup(table, Ip("192.168.1.1", "10.6.0.1")));
        Assert.Equal(0, table.Count);
        Assert.Equal(0, table.BlockCount);
    }

    [Fact]
    public void HundredThousandHostEntriesAndPrefixesLookUpCorrectly()
    {
        const int hosts = 100_000;
        var table = new SelectorTable<Sa>();
        var values = new Sa[hosts];
        uint baseAddress = 0x0A800000; // 10.128.0.0
        for (int i = 0; i < hosts; i++)
        {
            values[i] = new Sa($"h{i}");
            IPAddress address = PacketBatch.ToIPAddress(baseAddress + (uint)i);
            var ts = new TrafficSelector(TsType.Ipv4AddressRange, 0, 0, 65535, address, address);
            table.Add(AnyV4, [ts], values[i]);
        }
        table.Add(AnyV4, List("10.0.0.0/8"), new Sa("/8"));
        table.Add(AnyV4, List("10.128.0.0/16"), new Sa("10.128/16"));
        table.Add(AnyV4, List("10.200.0.0/16"), new Sa("10.200/16"));
        table.Add(AnyV4, List("10.129.128.0/17"), new Sa("10.129.128/17"));

        byte[] packet = Ip("192.168.0.1", "0.0.0.0");
        int wrong = 0;
        for (int i = 0; i < hosts; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(16), baseAddress + (uint)i);
            if (!table.TryLookup(packet, out Sa sa) || !ReferenceEquals(sa, values[i]))
                wrong++;
        }
        Assert.Equal(0, wrong);
        Assert.Equal(hosts + 4, table.Count);

        // 10.128.0.0 + 100000 = 10.129.134.160: beyond the hosts; inside 10.129.128.0/17
        Assert.Equal("10.129.128/17", Lookup(table, Ip("1.1.1.1", "10.129.200.1")));
        Assert.Equal("/8", Lookup(table, Ip("1.1.1.1", "10.130.1.1")));
        Assert.Equal("h65793", Lookup(table, Ip("1.1.1.1", "10.129.1.1")));
        Assert.Equal("10.200/16", Lookup(table, Ip("1.1.1.1", "10.200.3.4")));
        Assert.Equal("/8", Lookup(table, Ip("1.1.1.1", "10.3.3.3")));
        Assert.Equal("h65535", Lookup(table, Ip("1.1.1.1", "10.128.255.255")));
        Assert.Null(Lookup(table, Ip("1.1.1.1", "11.0.0.0")));

        // removing a host uncovers the /16 below it
        Assert.True(table.Remove(values[7]));
        Assert.Equal("10.128/16", Lookup(table, Ip("1.1.1.1", "10.128.0.7")));
    }

    [Fact]
    public void LookupAndInboundMatchingAllocateNothing()
    {
        var table = new SelectorTable<Sa>();
        for (int i = 0; i < 1000; i++)
        {
            IPAddress address = PacketBatch.ToIPAddress(0x0A010000u + (uint)i);
            table.Add(List("192.168.0.0/16"), [new TrafficSelector(TsType.Ipv4AddressRange, 0, 0, 65535, address, address)], new Sa($"h{i}"));
        }
        table.Add(AnyV4, List("10.0.0.0/8"), new Sa("/8"));
        table.Add(AnyV6, List("2001:db8::/32"), new Sa("v6"));
        IReadOnlyList<TrafficSelector> remoteTs = List("10.1.0.0/16");
        var matcher = new SelectorMatcher(remoteTs);
        byte[][] packets =
        [
            Ip("192.168.1.1", "10.1.0.5"),
            Ip("172.16.1.1", "10.1.0.5"),
            Ip("192.168.1.1", "10.9.9.9", protocol: 6),
            Ip("192.168.1.1", "11.9.9.9"),
            Ip("2001:db8::1", "2001:db8::2"),
            Icmp("192.168.1.1", "10.1.3.4", 8, 0),
        ];

        int found = 0;
        for (int i = 0; i < 2000; i++) // warm-up (tiered JIT)
            found += Work(table, matcher, remoteTs, packets, i);

        long before = GC.GetAllocatedBytesForCurrentThread();
        found = 0;
        for (int i = 0; i < 10_000; i++)
            found += Work(table, matcher, remoteTs, packets, i);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.True(found > 10_000, $"lookups found {found}");

        static int Work(SelectorTable<Sa> table, SelectorMatcher matcher, IReadOnlyList<TrafficSelector> ts, byte[][] packets, int i)
        {
            byte[] p = packets[i % packets.Length];
            int n = table.TryLookup(p, out _) ? 1 : 0;
            n += matcher.Matches(p, useSource: false) ? 1 : 0;
            n += SelectorMatch.Matches(ts, p, useSource: false) ? 1 : 0;
            return n;
        }
    }

    [Fact]
    public void ConcurrentReadersSeeStableEntriesWhileAWriterAddsAndRemoves()
    {
        var table = new SelectorTable<Sa>();
        const int stable = 512;
        var values = new Sa[stable];
        for (int i = 0; i < stable; i++)
        {
            values[i] = new Sa($"s{i}");
            IPAddress a = PacketBatch.ToIPAddress(0x0A010000u + (uint)i);
            table.Add(AnyV4, [new TrafficSelector(TsType.Ipv4AddressRange, 0, 0, 65535, a, a)], values[i]);
        }
        var churn = new Sa("churn");
        var churnShadow = new Sa("churn-/24"); // overlaps the stable /32s but is less specific

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(1.5));
        int errors = 0;
        long lookups = 0;
        void Reader()
        {
            byte[] packet = Ip("192.168.0.1", "0.0.0.0");
            byte[] churnPacket = Ip("192.168.0.1", "10.2.3.4");
            int i = 0;
            long local = 0;
            while (!stop.IsCancellationRequested && local < 50_000_000)
            {
                int k = i++ % stable;
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(16), 0x0A010000u + (uint)k);
                if (!table.TryLookup(packet, out Sa sa) || !ReferenceEquals(sa, values[k]))
                    Interlocked.Increment(ref errors);
                if (table.TryLookup(churnPacket, out Sa c) && !ReferenceEquals(c, churn))
                    Interlocked.Increment(ref errors);
                local++;
            }
            Interlocked.Add(ref lookups, local);
        }

        Thread[] readers = [new Thread(Reader), new Thread(Reader)];
        foreach (Thread t in readers)
            t.Start();
        int cycles = 0;
        while (!stop.IsCancellationRequested && cycles < 1_000_000)
        {
            table.Add(AnyV4, List("10.2.0.0/16"), churn);
            table.Add(AnyV4, List("10.1.0.0/24", "10.1.1.0/24"), churnShadow);
            table.Remove(churnShadow);
            table.Remove(churn);
            cycles++;
        }
        bool joined = true;
        foreach (Thread t in readers)
            joined &= t.Join(TimeSpan.FromSeconds(10));

        Assert.True(joined, "a reader did not stop");
        Assert.Equal(0, errors);
        Assert.True(cycles > 10 && lookups > 1000, $"cycles {cycles}, lookups {lookups}");
        Assert.Equal(stable, table.Count);
    }
}
