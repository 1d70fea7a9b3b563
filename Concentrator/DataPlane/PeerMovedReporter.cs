using System.Buffers.Binary;
using System.Net;

namespace Concentrator.DataPlane;

/// <summary>A data plane that tells the control plane when a peer's ESP arrives from a new address (its NAT moved).</summary>
public interface IPeerMovedSource
{
    /// <summary>
    /// <paramref name="report"/> (inbound SPI, the packet's source) runs on a packet thread when UDP-encapsulated ESP that
    /// passed its ICV and replay checks and advanced the SA's replay window came from another address or port than the SA
    /// sends to; at most once per SPI per <see cref="SpiReportLimiter.Interval"/> and <see cref="SpiReportLimiter.MaxPerSecond"/>
    /// times a second in all. It must only hand the report over (e.g. Tell).
    /// </summary>
    void OnPeerMoved(Action<uint, IPEndPoint> report);
}

/// <summary>
/// Hands peers whose NAT mapping changed (RFC 7296 §2.23, RFC 3948) to the control plane: only packets that
/// authenticated and were newer than any before them get here, so a forged or replayed packet can never move an SA.
/// Allocation-free until it reports (the report's endpoint is the one allocation, bounded by the limiter's rate).
/// </summary>
public sealed class PeerMovedReporter(Action<uint, IPEndPoint> report)
{
    private readonly SpiReportLimiter _limiter = new();

    /// <param name="address">The packet's IPv4 source, host order.</param>
    /// <param name="port">The packet's UDP source port, host order.</param>
    public void Report(uint spi, uint address, ushort port)
    {
        if (!_limiter.TryReport(spi)) return;
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, address);
        report(spi, new IPEndPoint(new IPAddress(bytes), port));
    }

    /// <param name="address6">The packet's IPv6 source, host order (the 128-bit value of its octets).</param>
    /// <param name="port">The packet's UDP source port, host order.</param>
    public void Report(uint spi, UInt128 address6, ushort port)
    {
        if (!_limiter.TryReport(spi)) return;
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(bytes, address6);
        report(spi, new IPEndPoint(new IPAddress(bytes), port));
    }
}
