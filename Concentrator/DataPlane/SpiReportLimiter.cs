namespace Concentrator.DataPlane;

/// <summary>
/// Rate limit between the packet path and the control plane for reports about one SPI: ESP with an unknown SPI (a
/// cluster node adopts the SA when its peer's traffic moves here, once a packet authenticates with the SA's keys) and
/// authenticated ESP from a new peer address (NAT rebinding). Lock-free and allocation-free per packet; packet threads
/// race on the slots benignly (at worst one SPI is let through twice). Its users ask it only about SPIs worth reporting
/// (the replica knows them; the packet authenticated), so forged SPIs cost one table probe each and do not spend its
/// budget.
/// </summary>
public sealed class SpiReportLimiter
{
    /// <summary>Minimum gap between two reports of one SPI: adoption takes about this long when the holder is gone, and an IKE SA has moved long before it ends.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);

    public const int MaxPerSecond = 500;

    private const int Slots = 1024;

    private readonly uint[] _spis = new uint[Slots];
    private readonly long[] _times = new long[Slots];
    private long _windowStart;
    private int _inWindow;

    /// <summary>True at most once per <paramref name="spi"/> per <see cref="Interval"/> and <see cref="MaxPerSecond"/> times a second in all.</summary>
    public bool TryReport(uint spi)
    {
        long now = Environment.TickCount64;
        int slot = (int)((spi * 2654435761u) >> 22); // Fibonacci hash onto 1024 slots
        if (Volatile.Read(ref _spis[slot]) == spi && now - Volatile.Read(ref _times[slot]) < (long)Interval.TotalMilliseconds) return false;
        if (now - Volatile.Read(ref _windowStart) >= 1000)
        {
            Volatile.Write(ref _windowStart, now);
            Volatile.Write(ref _inWindow, 0);
        }
        if (Interlocked.Increment(ref _inWindow) > MaxPerSecond) return false;
        Volatile.Write(ref _spis[slot], spi);
        Volatile.Write(ref _times[slot], now);
        return true;
    }
}
