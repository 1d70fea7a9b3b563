using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using Concentrator.DataPlane;
using Concentrator.Ipsec;

namespace Concentrator.Simulation;

/// <summary>Result of pushing ESP through in-memory tunnels.</summary>
public sealed record TrafficResult(long Packets, long InnerBytes, long Failures, TimeSpan Elapsed, int Workers, int PacketSize)
{
    public double PacketsPerSecond => Packets / Elapsed.TotalSeconds;
    public double GigabitsPerSecond => InnerBytes * 8 / Elapsed.TotalSeconds / 1e9;
}

/// <summary>
/// Pushes real ESP through established tunnels between two in-memory data planes (a peer fleet and a
/// gateway), both directions, without a NIC: encapsulate on one side, decapsulate on the other.
/// Stage layout: W parallel workers; worker w owns tunnels with index % W == w, so every inbound SA
/// (and its replay window) is touched by exactly one worker. Buffers are per worker; nothing is
/// allocated per packet.
/// </summary>
public static class TrafficPump
{
    public static TrafficResult Run(InMemoryDataPlane peers, InMemoryDataPlane gateway, TimeSpan duration, int packetSize = 1400,
        int workers = 0)
    {
        if (workers <= 0) workers = Environment.ProcessorCount;
        var pairs = new List<(uint PeerSpi, uint GatewaySpi, IPAddress Inner)>();
        foreach (uint spi in peers.InstalledSpis())
        {
            if (!peers.TryGetSa(spi, out var sa) || sa.LocalTs.Count == 0) continue;
            pairs.Add((spi, sa.OutboundSpi, sa.LocalTs[0].StartAddress));
        }

        long packets = 0, bytes = 0, failures = 0;
        var clock = Stopwatch.StartNew();
        var threads = new Thread[workers];
        for (int w = 0; w < workers; w++)
        {
            int worker = w;
            threads[w] = new Thread(() =>
            {
                var mine = pairs.Where((_, i) => i % workers == worker).ToArray();
                if (mine.Length == 0) return;
                var up = mine.Select(p => BuildPacket(p.Inner, IPAddress.Parse("10.10.0.1"), packetSize)).ToArray();
                var down = mine.Select(p => BuildPacket(IPAddress.Parse("10.10.0.1"), p.Inner, packetSize)).ToArray();
                var wire = new byte[packetSize + 256];
                long n = 0, b = 0, f = 0;
                var deadline = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
                int k = 0;
                while ((n & 255) != 0 || Stopwatch.GetTimestamp() < deadline)
                {
                    var pair = mine[k];
                    f += Carry(peers, gateway, pair.PeerSpi, up[k], wire, ref n, ref b);
                    f += Carry(gateway, peers, pair.GatewaySpi, down[k], wire, ref n, ref b);
                    if (++k == mine.Length) k = 0;
                }
                Interlocked.Add(ref packets, n);
                Interlocked.Add(ref bytes, b);
                Interlocked.Add(ref failures, f);
            }) { IsBackground = true, Name = $"traffic-{w}" };
            threads[w].Start();
        }

        foreach (var t in threads) t.Join();
        peers.FlushAll();
        gateway.FlushAll();
        return new TrafficResult(packets, bytes, failures, clock.Elapsed, workers, packetSize);
    }

    private static int Carry(InMemoryDataPlane from, InMemoryDataPlane to, uint spi, byte[] packet, byte[] wire, ref long n, ref long b)
    {
        if (from.Encapsulate(spi, packet, wire, out int written) != EspStatus.Ok) return 1;
        if (to.Decapsulate(wire.AsSpan(0, written), out var inner) != EspStatus.Ok) return 1;
        n++;
        b += wire.AsSpan(0, written)[inner].Length;
        return 0;
    }

    /// <summary>An IPv4/UDP packet of <paramref name="size"/> octets (header checksum left zero: never routed).</summary>
    public static byte[] BuildPacket(IPAddress src, IPAddress dst, int size)
    {
        var p = new byte[Math.Max(size, 28)];
        p[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)p.Length);
        p[8] = 64;
        p[9] = 17;
        src.GetAddressBytes().CopyTo(p, 12);
        dst.GetAddressBytes().CopyTo(p, 16);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(20), 5000);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(22), 5001);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(24), (ushort)(p.Length - 20));
        return p;
    }
}
