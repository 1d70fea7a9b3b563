// AH packet pipeline (RFC 4302) for one SA, beside EspPacket.cs: the outer IP header, AH and the payload are one
// authenticated packet (the ICV covers the IP header, AhIcv.cs), so AH writes and reads whole IP packets.
// Outbound (any number of sender threads per SA):
//   A1 frame     payload (tunnel: the inner packet; transport: its upper-layer data, EspTransportMode T1) copied behind
//                an outer IP header and the AH header of the SA's ICV length                               [parallel]
//   A2 sequence  Interlocked.Increment of the SA's 64-bit counter, refused past 2^32-1 without ESN        [shared, atomic]
//   A3 header    outer IPv4 (identification = the low 16 bits of the sequence number, never 0, so the kernel
//                keeps it: IP_HDRINCL fills a zero one in after the ICV) or IPv6, AH with a zero ICV   [parallel]
//   A4 ICV       HMAC over the packet with mutable fields zeroed (+ ESN high bits), written; IPv4 checksum [parallel]
// Inbound (ONE worker owns an inbound SPI: replay window and inbound counters are its own):
//   B1 parse     the IP header up to AH (AhIcv.Locate), AH itself (AhHeader.TryParse), lengths           [owner]
//   B2 lookup    SA by the SPI (AhPipeline), an AH SA whose ICV length makes this header length        [owner]
//   B3 replay    ESN high bits inferred, Check before the ICV (cheap reject)                            [owner]
//   B4 ICV       the received ICV saved and zeroed, recomputed, compared in constant time             [owner]
//   B5 window    Update only now that the ICV verified                                                 [owner]
//   B6 payload   tunnel: next header 4/41 matching the inner version (59: dummy); transport: a fresh IPv4 header
//                in front of the upper-layer data (EspTransportMode T3)                                   [owner]
// Hot path: spans in, status out; no allocation, LINQ, closures, locks or exceptions.
using System.Buffers.Binary;
using System.Security.Cryptography;
using Concentrator.Ipsec;

namespace Concentrator.DataPlane.Esp;

public static class AhPacket
{
    private const int Ipv4Header = 20;
    private const int Ipv6Header = 40;
    private const byte DefaultTtl = 64;

    /// <summary>Bytes of the outer IP and AH headers of <paramref name="sa"/> in front of the payload.</summary>
    public static int Overhead(EspSa sa)
    {
        bool v6 = sa.TryGetRemoteV6(out _);
        return (v6 ? Ipv6Header : Ipv4Header) + sa.AhHeaderLength(v6);
    }

    /// <summary>
    /// Stages A1-A4: <paramref name="payload"/> (next header <paramref name="nextHeader"/>) protected into
    /// <paramref name="destination"/> from offset 0 as a whole IP packet to the SA's peer. The caller holds an SA reference.
    /// <paramref name="destination"/> needs <see cref="AhIcv.EsnRoom"/> bytes beyond the packet with ESN.
    /// </summary>
    internal static EspStatus Protect(EspSa sa, ReadOnlySpan<byte> payload, byte nextHeader, Span<byte> destination, out int written)
    {
        written = 0;
        bool v6 = sa.TryGetRemoteV6(out var remote6);
        int ipLength = v6 ? Ipv6Header : Ipv4Header;
        int ahLength = sa.AhHeaderLength(v6);
        int total = ipLength + ahLength + payload.Length;
        if (total - (v6 ? Ipv6Header : 0) > ushort.MaxValue) return EspStatus.Oversize;
        if (destination.Length < total + (sa.Esn ? AhIcv.EsnRoom : 0)) return EspStatus.BufferTooSmall;
        var status = sa.NextSequence(out ulong seq);
        if (status != EspStatus.Ok) return status;

        payload.CopyTo(destination[(ipLength + ahLength)..]);
        var ip = destination[..ipLength];
        if (v6)
        {
            BinaryPrimitives.WriteUInt32BigEndian(ip, 0x6000_0000);
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)(total - Ipv6Header));
            ip[6] = AhHeader.Protocol;
            ip[7] = DefaultTtl;
            BinaryPrimitives.WriteUInt128BigEndian(ip[8..], sa.LocalAddressV6);
            BinaryPrimitives.WriteUInt128BigEndian(ip[24..], remote6);
        }
        else
        {
            ip[0] = 0x45;
            ip[1] = 0;
            BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)total);
            ushort id = (ushort)seq;
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], id == 0 ? (ushort)1 : id);
            BinaryPrimitives.WriteUInt16BigEndian(ip[6..], 0);
            ip[8] = DefaultTtl;
            ip[9] = AhHeader.Protocol;
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], 0);
            BinaryPrimitives.WriteUInt32BigEndian(ip[12..], sa.LocalAddressV4);
            BinaryPrimitives.WriteUInt32BigEndian(ip[16..], sa.RemoteAddressV4);
        }
        AhHeader.Write(destination[ipLength..], nextHeader, ahLength, sa.OutboundSpi, (uint)seq);

        Span<byte> mac = stackalloc byte[AhIcv.MaxMacLength];
        status = AhIcv.Compute(sa.Suite.Integrity, sa.AhOutboundKey, destination, total, ipLength, v6, sa.Esn, (uint)(seq >> 32), mac);
        if (status != EspStatus.Ok) return status;
        mac[..sa.AhIcvLength].CopyTo(destination[(ipLength + AhHeader.FixedLength)..]);
        if (!v6) BinaryPrimitives.WriteUInt16BigEndian(ip[10..], EspTransportMode.HeaderChecksum(ip));

        var lane = sa.RentLane(out int laneIndex);
        EspSa.CountOutbound(lane, payload.Length);
        sa.ReturnLane(laneIndex, lane);
        written = total;
        return EspStatus.Ok;
    }

    /// <summary>
    /// Stages B3-B6 for a packet whose AH (<paramref name="ah"/>, at <paramref name="ahOffset"/>) names
    /// <paramref name="sa"/>: <paramref name="buffer"/>[..<paramref name="length"/>] is the whole IP packet (with ESN the
    /// buffer holds <see cref="AhIcv.EsnRoom"/> bytes more). On Ok <paramref name="inner"/> locates the inner IP packet.
    /// The caller holds an SA reference and owns the SA's inbound state.
    /// </summary>
    internal static EspStatus Open(EspSa sa, Span<byte> buffer, int length, int ahOffset, bool ipv6, byte nextHeader, int ahLength,
        uint sequenceLow, out Range inner)
    {
        inner = default;
        if (ahLength != sa.AhHeaderLength(ipv6)) return EspStatus.BadLength;
        ulong seq = sequenceLow;
        if (sa.Esn && !sa.Window.TryInfer(sequenceLow, out seq)) return EspStatus.AhReplay;
        if (!sa.Window.Check(seq)) return EspStatus.AhReplay;
        if (sa.Esn && buffer.Length < length + AhIcv.EsnRoom) return EspStatus.Oversize;

        int icvLength = sa.AhIcvLength;
        var icvField = buffer.Slice(ahOffset + AhHeader.FixedLength, icvLength);
        Span<byte> received = stackalloc byte[AhIcv.MaxIcvLength];
        icvField.CopyTo(received);
        icvField.Clear();
        Span<byte> mac = stackalloc byte[AhIcv.MaxMacLength];
        var status = AhIcv.Compute(sa.Suite.Integrity, sa.AhInboundKey, buffer, length, ahOffset, ipv6, sa.Esn, (uint)(seq >> 32), mac);
        received[..icvLength].CopyTo(icvField);
        if (status != EspStatus.Ok) return status;
        if (!CryptographicOperations.FixedTimeEquals(mac[..icvLength], received[..icvLength])) return EspStatus.AhIcvFailed;
        sa.Window.Update(seq);

        int start = ahOffset + ahLength;
        inner = new Range(start, length);
        if (sa.Mode == IpsecMode.Transport)
        {
            if (ipv6) return EspStatus.BadNextHeader;
            status = EspTransportMode.Rebuild(sa, buffer[..length], nextHeader, ref inner);
            if (status != EspStatus.Ok) return status;
        }
        else
        {
            if (nextHeader == EspPacket.NextHeaderNone) return EspStatus.Dummy;
            int version = start < length ? buffer[start] >> 4 : 0;
            if (!(nextHeader == EspPacket.NextHeaderIpv4 && version == 4) && !(nextHeader == EspPacket.NextHeaderIpv6 && version == 6))
                return EspStatus.BadNextHeader;
        }
        sa.CountInbound(length - start);
        return EspStatus.Ok;
    }
}
