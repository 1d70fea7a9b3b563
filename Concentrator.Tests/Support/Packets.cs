using System.Buffers.Binary;
using System.Net;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;

namespace Concentrator.Tests.Support;

public static class Packets
{
    /// <summary>An INFORMATIONAL request of <paramref name="length"/> bytes whose IKE header parses (the rest is padding).</summary>
    public static byte[] IkeOfLength(int length)
    {
        var datagram = new byte[length];
        new IkeHeader(0x1122334455667788, 0x99AABBCCDDEEFF00, PayloadType.None, 2, 0, ExchangeType.Informational, IkeFlags.Initiator, 1,
            (uint)length).Write(datagram);
        return datagram;
    }

    /// <summary>A minimal IPv4/UDP packet from <paramref name="src"/> to <paramref name="dst"/> with a patterned payload.</summary>
    public static byte[] Ipv4Udp(IPAddress src, IPAddress dst, int payloadLength, byte seed = 1)
    {
        int total = 20 + 8 + payloadLength;
        var p = new byte[total];
        p[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)total);
        p[8] = 64;
        p[9] = 17;
        src.GetAddressBytes().CopyTo(p, 12);
        dst.GetAddressBytes().CopyTo(p, 16);
        ushort sum = Checksum(p.AsSpan(0, 20));
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(10), sum);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(20), 40000);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(22), 9);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(24), (ushort)(8 + payloadLength));
        for (int i = 0; i < payloadLength; i++) p[28 + i] = (byte)(seed + i);
        return p;
    }

    private static ushort Checksum(ReadOnlySpan<byte> header)
    {
        uint sum = 0;
        for (int i = 0; i < header.Length; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(header[i..]);
        while (sum > 0xFFFF) sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }
}
