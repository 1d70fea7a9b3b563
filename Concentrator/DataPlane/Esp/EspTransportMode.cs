// Transport mode's framing around Esp/EspPacket.cs (RFC 4303 §3.1.1; RFC 7296 §1.3.1 USE_TRANSPORT_MODE), IPv4 only.
// An SA in transport mode carries packets between the two IKE endpoints themselves (host-to-host selectors):
//   Outbound  T1  the IPv4 packet read from the TUN: version 4, header length, total length within the read, not a
//                 fragment (RFC 4301 §4.1: transport-mode SAs carry whole packets), source our address and destination
//                 the peer's (the SA's selectors)
//             T2  its upper-layer data moved to the SA's header room; next header = the IPv4 protocol (then EspPacket O3-O4)
//   Inbound   T3  after EspPacket I1-I7: a fresh IPv4 header written in front of the decrypted upper-layer data (source
//                 the peer, destination us, protocol = next header, DF, TTL 64, length and header checksum computed), the
//                 data moved back first when the ESP header and IV are shorter than 20 bytes (the ICV behind it makes room)
// The upper-layer checksums are the peer's, over the same addresses: the IKE layer never agrees transport mode through
// a NAT (RFC 3948 §3.1.2's fix-up is not needed, see Ike/Tasks/ChildCreateTask.Mode.cs).
// Hot path: spans in, status out; no allocation, LINQ, closures, locks or exceptions.
using System.Buffers.Binary;
using Concentrator.Ipsec;

namespace Concentrator.DataPlane.Esp;

public static class EspTransportMode
{
    /// <summary>IPv4 header without options (RFC 791).</summary>
    public const int Ipv4HeaderLength = 20;

    private const byte DefaultTtl = 64;

    /// <summary>
    /// Stage T1: where <paramref name="ip"/>'s upper-layer data lies and its protocol; <see cref="EspStatus.BadInnerPacket"/>
    /// for anything that is not a whole IPv4 packet from our address to the peer's of <paramref name="sa"/>.
    /// </summary>
    public static EspStatus Payload(EspSa sa, ReadOnlySpan<byte> ip, out Range payload, out byte protocol)
    {
        payload = default;
        protocol = 0;
        if (ip.Length < Ipv4HeaderLength || ip[0] >> 4 != 4) return EspStatus.BadInnerPacket;
        int headerLength = (ip[0] & 0x0F) * 4;
        int total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        if (headerLength < Ipv4HeaderLength || total < headerLength || total > ip.Length) return EspStatus.BadInnerPacket;
        // More fragments set, or a fragment offset: not a whole packet.
        if ((BinaryPrimitives.ReadUInt16BigEndian(ip[6..]) & 0x3FFF) != 0) return EspStatus.BadInnerPacket;
        if (sa.TransportLocalV4 == 0 || BinaryPrimitives.ReadUInt32BigEndian(ip[12..]) != sa.TransportLocalV4 ||
            BinaryPrimitives.ReadUInt32BigEndian(ip[16..]) != sa.TransportRemoteV4)
        {
            return EspStatus.BadInnerPacket;
        }
        protocol = ip[9];
        payload = new Range(headerLength, total);
        return EspStatus.Ok;
    }

    /// <summary>
    /// Stage T3 on a packet EspPacket.Decapsulate opened: <paramref name="inner"/> (the upper-layer data) becomes the
    /// IPv4 packet around it, within <paramref name="packet"/>. <see cref="EspStatus.BadLength"/> when it does not fit.
    /// </summary>
    public static EspStatus Rebuild(EspSa sa, Span<byte> packet, byte protocol, ref Range inner)
    {
        var (offset, length) = inner.GetOffsetAndLength(packet.Length);
        if (length + Ipv4HeaderLength > ushort.MaxValue) return EspStatus.Oversize;
        int start = offset - Ipv4HeaderLength;
        if (start < 0)
        {
            // The ESP header and IV are shorter than an IPv4 header (AEAD: 16 bytes): the data moves towards the trailer.
            if (Ipv4HeaderLength + length > packet.Length) return EspStatus.BadLength;
            packet.Slice(offset, length).CopyTo(packet[Ipv4HeaderLength..]);
            start = 0;
        }
        var h = packet.Slice(start, Ipv4HeaderLength);
        h[0] = 0x45;
        h[1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(h[2..], (ushort)(Ipv4HeaderLength + length));
        BinaryPrimitives.WriteUInt16BigEndian(h[4..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(h[6..], 0x4000); // DF: a whole packet, as it was sent
        h[8] = DefaultTtl;
        h[9] = protocol;
        BinaryPrimitives.WriteUInt16BigEndian(h[10..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(h[12..], sa.TransportRemoteV4);
        BinaryPrimitives.WriteUInt32BigEndian(h[16..], sa.TransportLocalV4);
        BinaryPrimitives.WriteUInt16BigEndian(h[10..], HeaderChecksum(h));
        inner = new Range(start, start + Ipv4HeaderLength + length);
        return EspStatus.Ok;
    }

    /// <summary>The Internet checksum (RFC 1071) of an IPv4 header whose checksum field is 0.</summary>
    internal static ushort HeaderChecksum(ReadOnlySpan<byte> header)
    {
        uint sum = 0;
        for (int i = 0; i + 1 < header.Length; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(header[i..]);
        while (sum > 0xFFFF) sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }
}
