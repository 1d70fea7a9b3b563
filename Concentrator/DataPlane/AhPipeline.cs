// AH open and protect for every plane (RFC 4302), beside EspPipeline.cs: the stages of Esp/AhPacket.cs around the SA's
// lifetime reference. AH SAs live in the same SaTable as ESP ones (one SPI space); a packet of one protocol naming an SA
// of the other is dropped as wrong_transport, so an SA's replay window has one writer.
//   Open     [the worker owning the packet's inbound SPI]: IP header to AH (AhIcv.Locate), AH parsed -> SA by SPI (a miss
//            to SaTable's unknown-SPI hook) -> SA reference -> an AH SA -> replay check, ICV, replay update, payload
//            (AhPacket B3-B6) -> inner traffic selector check (RFC 4301 §5.2) -> reference released
//   Protect  [any thread]: SA reference -> transport mode: upper-layer data (EspTransportMode T1) -> AhPacket A1-A4 ->
//            reference released
// Hot path: no allocation, LINQ, closures, locks or exceptions per packet; verification in place.
using System.Buffers.Binary;
using Concentrator.DataPlane.Esp;
using Concentrator.Ipsec;

namespace Concentrator.DataPlane;

public static class AhPipeline
{
    /// <summary>
    /// Verifies the whole IPv4 or IPv6 packet in <paramref name="buffer"/>[..<paramref name="length"/>] (AH after the IP
    /// header) against its SA and, on <see cref="EspStatus.Ok"/>, locates the inner IP packet in <paramref name="buffer"/>.
    /// With <paramref name="checkPolicy"/> the inner packet must lie in the SA's selectors. With ESN the buffer holds
    /// <see cref="AhIcv.EsnRoom"/> bytes beyond the packet (else the packet counts as oversize).
    /// </summary>
    public static EspStatus Open(SaTable sas, Span<byte> buffer, int length, bool checkPolicy, out Range inner, out uint interfaceIn)
    {
        inner = default;
        interfaceIn = 0;
        if (length > buffer.Length) return EspStatus.BadLength;
        var packet = buffer[..length];
        var status = AhIcv.Locate(packet, out bool ipv6, out int ahOffset);
        if (status != EspStatus.Ok) return status;
        int declared = ipv6 ? 40 + BinaryPrimitives.ReadUInt16BigEndian(packet[4..]) : BinaryPrimitives.ReadUInt16BigEndian(packet[2..]);
        if (declared > length || declared < ahOffset) return EspStatus.BadLength;
        length = declared;
        var parse = AhHeader.TryParse(packet[ahOffset..length], ipv6, out var ah);
        if (parse != ParseStatus.Ok) return parse == ParseStatus.Truncated ? EspStatus.Truncated : EspStatus.BadLength;
        byte nextHeader = ah.NextHeader;
        int ahLength = ah.Length;
        uint sequence = ah.Sequence;
        if (!sas.TryGetInbound(ah.Spi, packet[ahOffset..], out var sa)) return EspStatus.UnknownSpi;
        interfaceIn = sa.InterfaceIdIn;
        if (!sa.TryAcquire()) return EspStatus.UnknownSpi;
        try
        {
            if (sa.Protocol != IpsecProtocol.Ah) return EspStatus.WrongTransport;
            status = AhPacket.Open(sa, buffer, length, ahOffset, ipv6, nextHeader, ahLength, sequence, out inner);
            if (status != EspStatus.Ok) return status;
            if (checkPolicy)
            {
                var ip = buffer[inner];
                if (!SelectorMatch.Matches(sa.RemoteTs, ip, useSource: true) || !SelectorMatch.Matches(sa.LocalTs, ip, useSource: false))
                    return EspStatus.TsMismatch;
            }
            return EspStatus.Ok;
        }
        finally
        {
            sa.Release();
        }
    }

    /// <summary>
    /// Protects <paramref name="innerPacket"/> for the AH SA <paramref name="sa"/> into <paramref name="destination"/>, a whole
    /// outer IP packet from offset 0 (the inner packet must not overlap it). <see cref="EspStatus.UnknownSpi"/> when the SA
    /// is being deleted.
    /// </summary>
    public static EspStatus Protect(EspSa sa, ReadOnlySpan<byte> innerPacket, Span<byte> destination, out int written)
    {
        written = 0;
        if (!sa.TryAcquire()) return EspStatus.UnknownSpi;
        try
        {
            if (sa.Protocol != IpsecProtocol.Ah) return EspStatus.WrongTransport;
            if (innerPacket.IsEmpty) return EspStatus.BadInnerPacket;
            if (sa.Mode == IpsecMode.Transport)
            {
                var status = EspTransportMode.Payload(sa, innerPacket, out var payload, out byte protocol);
                if (status != EspStatus.Ok) return status;
                return AhPacket.Protect(sa, innerPacket[payload], protocol, destination, out written);
            }
            byte nextHeader = (innerPacket[0] >> 4) switch
            {
                4 => EspPacket.NextHeaderIpv4,
                6 => EspPacket.NextHeaderIpv6,
                _ => 0,
            };
            if (nextHeader == 0) return EspStatus.BadInnerPacket;
            return AhPacket.Protect(sa, innerPacket, nextHeader, destination, out written);
        }
        finally
        {
            sa.Release();
        }
    }
}
