using System.Buffers.Binary;
using Concentrator.Ipsec;

namespace Concentrator.Transport;

/// <summary>What a datagram on the NAT-T port carries.</summary>
public enum NattDatagram
{
    /// <summary>A NAT-keepalive: one 0xFF octet (RFC 3948 §2.3), there only to keep a NAT mapping open.</summary>
    Keepalive,

    /// <summary>An IKE message behind the non-ESP marker (RFC 3948 §2.2).</summary>
    Ike,

    /// <summary>ESP-in-UDP (RFC 3948 §2.1): the ESP packet is the whole datagram.</summary>
    Esp,
}

/// <summary>
/// The one classification of datagrams on the NAT-T port, used by every loop that receives there (UdpIkeTransport's
/// NAT-T socket, the Linux data plane's per-worker sockets). Port 500 carries only IKE and is not classified.
/// Allocation-free and total: every datagram is exactly one kind.
/// </summary>
public static class NattDemux
{
    /// <summary>
    /// Four zero octets where ESP's SPI would be (an SPI is never 0) mark IKE, which <paramref name="ike"/> then holds
    /// without the marker; a single 0xFF is a keepalive; anything else is ESP.
    /// </summary>
    public static NattDatagram Classify(ReadOnlySpan<byte> datagram, out ReadOnlySpan<byte> ike)
    {
        ike = default;
        if (datagram.Length == 1 && datagram[0] == UdpEncapsulation.NatKeepalive) return NattDatagram.Keepalive;
        if (datagram.Length >= UdpEncapsulation.NonEspMarkerLength && BinaryPrimitives.ReadUInt32BigEndian(datagram) == 0)
        {
            ike = datagram[UdpEncapsulation.NonEspMarkerLength..];
            return NattDatagram.Ike;
        }
        return NattDatagram.Esp;
    }
}
