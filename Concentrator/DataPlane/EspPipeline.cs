// ESP open and seal for every plane: the stages of Esp/EspPacket.cs around the SA's lifetime reference.
// Hot path: no allocation, LINQ, closures, locks or exceptions per packet; decryption is in place.
//   Open  [the worker owning the packet's inbound SPI]: runt check -> SA by SPI (a miss is reported to
//         SaTable's unknown-SPI hook) -> SA reference -> transport check -> replay check, ICV verify +
//         decrypt in place, replay update, trailer (EspPacket I1, I3-I7) -> inner traffic selector check
//         (RFC 4301 §5.2) -> a new packet from another endpoint than the SA's reported (the peer's NAT moved)
//         -> reference released. The transport and selector checks apply when the plane
//         says which transport the packet came on (the Linux plane); the in-memory plane has no transports.
//         A transport-mode SA's decrypted upper-layer data gets its IPv4 header back before the selector check
//         (Esp/EspTransportMode.cs T3).
//   Seal  [any thread]: SA reference -> inner packet (transport mode: its upper-layer data, T1-T2) copied behind the
//         SA's header room -> sequence
//         number (atomic) + encrypt in place (EspPacket O2-O4) -> reference released.
using System.Buffers.Binary;
using Concentrator.DataPlane.Esp;
using Concentrator.Ipsec;

namespace Concentrator.DataPlane;

public static class EspPipeline
{
    /// <summary>
    /// Decrypts an ESP packet in place (RFC 4303 only), its SA looked up by the packet's SPI. On <see cref="EspStatus.Ok"/>
    /// <paramref name="inner"/> locates the inner IP packet in <paramref name="packet"/>. Call for one inbound SPI from one
    /// worker at a time.
    /// </summary>
    public static EspStatus Open(SaTable sas, Span<byte> packet, out Range inner) =>
        Open(sas, packet, checkPolicy: false, default, false, 0, 0, 0, out inner, out _);

    /// <summary>
    /// As <see cref="Open(SaTable, Span{byte}, out Range)"/>, plus RFC 4301 §5.2: the SA must be one that receives on
    /// <paramref name="arrivedOn"/> (<see cref="EspStatus.WrongTransport"/>: its replay window belongs to another thread),
    /// and the decrypted packet's source must lie in its remote selectors and its destination in its local ones
    /// (<see cref="EspStatus.TsMismatch"/>).
    /// </summary>
    public static EspStatus Open(SaTable sas, Span<byte> packet, EspTransport arrivedOn, out Range inner) =>
        Open(sas, packet, checkPolicy: true, arrivedOn, false, 0, 0, 0, out inner, out _);

    /// <summary>As <see cref="Open(SaTable, Span{byte}, EspTransport, out Range)"/>, with the SA's if_id_in (its interface).</summary>
    public static EspStatus Open(SaTable sas, Span<byte> packet, EspTransport arrivedOn, out Range inner, out uint interfaceIn) =>
        Open(sas, packet, checkPolicy: true, arrivedOn, false, 0, 0, 0, out inner, out interfaceIn);

    /// <summary>
    /// As <see cref="Open(SaTable, Span{byte}, EspTransport, out Range)"/> for ESP-in-UDP that came from
    /// <paramref name="sourceAddress"/>:<paramref name="sourcePort"/> (IPv4, host order). A packet that passes every
    /// check, advances the replay window (newer than any before it, RFC 7296 §2.23: never an old or replayed one) and
    /// comes from elsewhere than the SA sends to is reported to the table's peer-moved hook: the peer's NAT mapping changed.
    /// </summary>
    public static EspStatus Open(SaTable sas, Span<byte> packet, uint sourceAddress, ushort sourcePort, out Range inner) =>
        Open(sas, packet, checkPolicy: true, EspTransport.UdpEncapsulated, false, sourceAddress, 0, sourcePort, out inner, out _);

    /// <summary>As <see cref="Open(SaTable, Span{byte}, uint, ushort, out Range)"/>, with the SA's if_id_in (its interface).</summary>
    public static EspStatus Open(SaTable sas, Span<byte> packet, uint sourceAddress, ushort sourcePort, out Range inner, out uint interfaceIn) =>
        Open(sas, packet, checkPolicy: true, EspTransport.UdpEncapsulated, false, sourceAddress, 0, sourcePort, out inner, out interfaceIn);

    /// <summary>
    /// As <see cref="Open(SaTable, Span{byte}, uint, ushort, out Range, out uint)"/> for ESP-in-UDP over IPv6 from
    /// <paramref name="sourceAddress"/> (host order, the 128-bit value of its octets).
    /// </summary>
    public static EspStatus Open6(SaTable sas, Span<byte> packet, UInt128 sourceAddress, ushort sourcePort, out Range inner, out uint interfaceIn) =>
        Open(sas, packet, checkPolicy: true, EspTransport.UdpEncapsulated, true, 0, sourceAddress, sourcePort, out inner, out interfaceIn);

    /// <summary>
    /// As <see cref="Open(SaTable, Span{byte}, out Range)"/> (no transport or selector check: the in-memory plane) with the
    /// peer-moved report of <see cref="Open(SaTable, Span{byte}, uint, ushort, out Range)"/> for a UDP-encapsulated SA.
    /// </summary>
    public static EspStatus OpenFrom(SaTable sas, Span<byte> packet, uint sourceAddress, ushort sourcePort, out Range inner) =>
        Open(sas, packet, checkPolicy: false, EspTransport.UdpEncapsulated, false, sourceAddress, 0, sourcePort, out inner, out _);

    /// <summary>As <see cref="OpenFrom"/> for ESP-in-UDP over IPv6 (host-order source, the 128-bit value of its octets).</summary>
    public static EspStatus OpenFrom6(SaTable sas, Span<byte> packet, UInt128 sourceAddress, ushort sourcePort, out Range inner) =>
        Open(sas, packet, checkPolicy: false, EspTransport.UdpEncapsulated, true, 0, sourceAddress, sourcePort, out inner, out _);

    private static EspStatus Open(SaTable sas, Span<byte> packet, bool checkPolicy, EspTransport arrivedOn, bool sourceV6, uint sourceAddress,
        UInt128 sourceAddress6, ushort sourcePort, out Range inner, out uint interfaceIn)
    {
        inner = default;
        interfaceIn = 0;
        if (packet.Length < EspPacket.HeaderLength) return EspStatus.Truncated;
        uint spi = BinaryPrimitives.ReadUInt32BigEndian(packet);
        if (!sas.TryGetInbound(spi, packet, out var sa)) return EspStatus.UnknownSpi;
        interfaceIn = sa.InterfaceIdIn;
        if (!sa.TryAcquire()) return EspStatus.UnknownSpi;
        try
        {
            if (sa.Protocol != IpsecProtocol.Esp || (checkPolicy && sa.Transport != arrivedOn)) return EspStatus.WrongTransport;
            ulong top = sa.Window.Top;
            var status = EspPacket.Decapsulate(sa, packet, out inner, out byte nextHeader);
            if (status != EspStatus.Ok) return status;
            if (sa.Mode == IpsecMode.Transport && (status = EspTransportMode.Rebuild(sa, packet, nextHeader, ref inner)) != EspStatus.Ok)
            {
                return status;
            }
            if (checkPolicy)
            {
                var ip = packet[inner];
                if (!SelectorMatch.Matches(sa.RemoteTs, ip, useSource: true) || !SelectorMatch.Matches(sa.LocalTs, ip, useSource: false))
                {
                    return EspStatus.TsMismatch;
                }
            }
            if (sourcePort != 0 && sa.Transport == EspTransport.UdpEncapsulated && sa.Window.Top > top &&
                Moved(sa, sourceV6, sourceAddress, sourceAddress6, sourcePort))
            {
                if (sourceV6) sas.ReportPeerMoved(sa.InboundSpi, sourceAddress6, sourcePort);
                else sas.ReportPeerMoved(sa.InboundSpi, sourceAddress, sourcePort);
            }
            return EspStatus.Ok;
        }
        finally
        {
            sa.Release();
        }
    }

    /// <summary>Whether the packet's source differs from the endpoint the SA sends to (another family counts as another address).</summary>
    private static bool Moved(EspSa sa, bool sourceV6, uint sourceAddress, UInt128 sourceAddress6, ushort sourcePort)
    {
        if (sa.RemotePort != sourcePort) return true;
        return sa.TryGetRemoteV6(out var remote6) ? !sourceV6 || remote6 != sourceAddress6 : sourceV6 || sa.RemoteAddressV4 != sourceAddress;
    }

    /// <summary>
    /// Whether <paramref name="packet"/> (ESP from its SPI on) authenticates with the inbound half of
    /// <paramref name="install"/>, not installed anywhere: its ICV verifies with the SA's keys and its sequence number lies
    /// above the SA's <see cref="ChildSaInstall.InboundSequenceFloor"/>, every number up to which counts as seen. Control
    /// plane only (builds and disposes the SA, zeroing the install's keys); decrypts <paramref name="packet"/> in place.
    /// A cluster node asks this before it moves an SA on ESP it received for it.
    /// </summary>
    public static bool Authenticates(ChildSaInstall install, Span<byte> packet)
    {
        using var sa = new EspSa(install, outboundLanes: 1);
        return sa.Protocol == IpsecProtocol.Esp && packet.Length >= EspPacket.HeaderLength && BinaryPrimitives.ReadUInt32BigEndian(packet) == install.InboundSpi &&
               EspPacket.Decapsulate(sa, packet, out _) == EspStatus.Ok;
    }

    /// <summary>
    /// Encrypts <paramref name="innerPacket"/> for <paramref name="sa"/> into <paramref name="destination"/>, the ESP packet
    /// written from offset 0. The inner packet is copied to the SA's header room first (memmove: passing
    /// destination[headroom..] as the inner packet makes this fully in place). <see cref="EspStatus.UnknownSpi"/> when the
    /// SA is being deleted.
    /// </summary>
    public static EspStatus Seal(EspSa sa, ReadOnlySpan<byte> innerPacket, Span<byte> destination, out int written)
    {
        written = 0;
        if (!sa.TryAcquire()) return EspStatus.UnknownSpi;
        try
        {
            if (sa.Protocol != IpsecProtocol.Esp) return EspStatus.WrongTransport;
            int headroom = sa.OutboundGeometry.HeaderLength;
            if (innerPacket.IsEmpty) return EspStatus.BadInnerPacket;
            if (destination.Length < headroom + innerPacket.Length) return EspStatus.BufferTooSmall;
            if (sa.Mode == IpsecMode.Transport)
            {
                var status = EspTransportMode.Payload(sa, innerPacket, out var payload, out byte protocol);
                if (status != EspStatus.Ok) return status;
                var data = innerPacket[payload];
                data.CopyTo(destination[headroom..]);
                return EspPacket.Encapsulate(sa, destination, data.Length, protocol, out written);
            }
            innerPacket.CopyTo(destination[headroom..]);
            return EspPacket.Encapsulate(sa, destination, innerPacket.Length, out written);
        }
        finally
        {
            sa.Release();
        }
    }
}
