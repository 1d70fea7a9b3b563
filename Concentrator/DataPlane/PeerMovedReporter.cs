using System.Buffers.Binary;
using System.Net;

namespace Concentrator.DataPlane;

/// <summary>A data plane that tells the control plane when a peer's ESP arrives from a new address (its NAT moved).</summary>
public interface IPeerMovedSource
{
    /// <summary>
    /// <paramref name="report"/> (inbound SPI, the packet's source) runs on a packet thread when UDP-encapsulated ESP that
    /// passed its ICV and replay checks and advanced the SA's replay window came from another address or port than the SA
    /// sends to; at most once per SPI per <see cref="PeerMovedReporter.Interval"/> and <see cref="PeerMovedReporter.MaxPerSecond"/>
    /// times a second in all. It must only hand the report over (e.g. Tell).
    /// </summary>
    void OnPeerMoved(Action<uint, IPEndPoint> report);
}

/// <summary>
/// Rate limiter between the packet path and the control plane for peers whose NAT mapping changed (RFC 7296 §2.23,
/// RFC 3948): only packets that authenticated and were newer than any before them get here, so a forged or replayed
/// packet can never move an SA. Lock-free and allocation-free until it reports (the report's endpoint is the one
/// allocation, bounded by the rate); packet threads race on the slots benignly (at worst one SPI is reported twice).
/// </summary>
public sealed class PeerMovedReporter
{
    /// <summary>Minimum gap between two reports of one SPI: the IKE SA has moved long before it ends.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);

    public const int MaxPerSecond = 500;

    private const int Slots = 1024;

    private readonly uint[] _spis = new uint[Slots];
    private readonly long[] _times = new long[Slots];
    private readonly Action<uint, IPEndPoint> _report;
    private long _windowStart;
    private int _inWindow;

    public PeerMovedReporter(Action<uint, IPEndPoint> report) => _report = report;

    /// <param name="address">The packet's IPv4 source, host order.</param>
    /// <param name="port">The packet's UDP source port, host order.</param>
    public void Report(uint spi, uint address, ushort port)
    {
        long now = Environment.TickCount64;
        int slot = (int)((spi * 2654435761u) >> 22); // Fibonacci hash onto 1024 slots
        if (Volatile.Read(ref _spis[slot]) == spi && now - Volatile.Read(ref _times[slot]) < (long)Interval.TotalMilliseconds) return;
        if (now - Volatile.Read(ref _windowStart) >= 1000)
        {
            Volatile.Write(ref _windowStart, now);
            Volatile.Write(ref _inWindow, 0);
        }
        if (Interlocked.Increment(ref _inWindow) > MaxPerSecond) return;
        Volatile.Write(ref _spis[slot], spi);
        Volatile.Write(ref _times[slot], now);
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, address);
        _report(spi, new IPEndPoint(new IPAddress(bytes), port));
    }
}
