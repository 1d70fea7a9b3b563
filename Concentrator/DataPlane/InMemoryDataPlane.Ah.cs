using Concentrator.Ipsec;

namespace Concentrator.DataPlane;

public sealed partial class InMemoryDataPlane
{
    /// <summary>
    /// Protects <paramref name="innerPacket"/> with the AH SA whose inbound SPI is <paramref name="inboundSpiOfSa"/> into
    /// <paramref name="destination"/>, a whole outer IP packet (<see cref="AhPipeline.Protect"/>).
    /// </summary>
    public EspStatus ProtectAh(uint inboundSpiOfSa, ReadOnlySpan<byte> innerPacket, Span<byte> destination, out int written)
    {
        written = 0;
        if (!_sas.TryGet(inboundSpiOfSa, out var sa)) return EspStatus.UnknownSpi;
        long sample = _counters?.SampleStart() ?? 0;
        var status = AhPipeline.Protect(sa, innerPacket, destination, out written);
        if (status != EspStatus.UnknownSpi) _counters?.Outbound(status, written, sample);
        return status;
    }

    /// <summary>
    /// Verifies the whole IP packet carrying AH in <paramref name="buffer"/>[..<paramref name="length"/>] (with ESN the buffer
    /// holds 4 bytes more) and locates its inner packet (<see cref="AhPipeline.Open"/>, no selector check).
    /// </summary>
    public EspStatus OpenAh(Span<byte> buffer, int length, out Range inner)
    {
        long sample = _counters?.SampleStart() ?? 0;
        var status = AhPipeline.Open(_sas, buffer, length, checkPolicy: false, out inner, out _);
        _counters?.Inbound(status, length, sample);
        return status;
    }
}
