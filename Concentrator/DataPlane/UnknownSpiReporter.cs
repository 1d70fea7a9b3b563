namespace Concentrator.DataPlane;

/// <summary>A data plane that can tell the control plane about ESP for inbound SPIs it has not installed.</summary>
public interface IUnknownSpiSource
{
    /// <summary>
    /// <paramref name="report"/> runs on a packet thread, at most once per SPI per <see cref="UnknownSpiReporter.Interval"/>
    /// and <see cref="UnknownSpiReporter.MaxPerSecond"/> times a second in all; it must only hand the SPI over (e.g. Tell).
    /// </summary>
    void OnUnknownSpi(Action<uint> report);
}

/// <summary>
/// Rate limiter between the packet path and the control plane for ESP with an unknown SPI (a cluster node adopts
/// the SA when its peer's traffic moves here). Lock-free and allocation-free per packet; packet threads race on the
/// slots benignly (at worst one SPI is reported twice). Forged SPIs cost one table probe each and at most
/// <see cref="MaxPerSecond"/> reports.
/// </summary>
public sealed class UnknownSpiReporter
{
    /// <summary>Minimum gap between two reports of one SPI: adoption takes about this long when the holder is gone.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);

    public const int MaxPerSecond = 500;

    private const int Slots = 1024;

    private readonly uint[] _spis = new uint[Slots];
    private readonly long[] _times = new long[Slots];
    private readonly Action<uint> _report;
    private long _windowStart;
    private int _inWindow;

    public UnknownSpiReporter(Action<uint> report) => _report = report;

    public void Report(uint spi)
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
        _report(spi);
    }
}
