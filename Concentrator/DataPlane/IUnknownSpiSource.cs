namespace Concentrator.DataPlane;

/// <summary>
/// Runs on a packet thread for every ESP packet whose SPI is not installed, with the packet from its SPI on (valid only
/// during the call). It must cost little (a table lookup) and bound itself (<see cref="SpiReportLimiter"/>) before it
/// copies anything or hands the packet over.
/// </summary>
public delegate void UnknownSpiHandler(uint spi, ReadOnlySpan<byte> packet);

/// <summary>A data plane that can tell the control plane about ESP for inbound SPIs it has not installed.</summary>
public interface IUnknownSpiSource
{
    /// <summary>Every packet with an SPI this plane has not installed goes to <paramref name="report"/>; replaces an earlier handler.</summary>
    void OnUnknownSpi(UnknownSpiHandler report);
}
