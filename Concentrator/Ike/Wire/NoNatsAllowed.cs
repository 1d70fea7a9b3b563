using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Wire;

//                      1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// !            Source IPv4 address (or IPv6, 16 octets)           !
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// !         Destination IPv4 address (or IPv6, 16 octets)         !
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// !          Source port          !       Destination port        !
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//        RFC 4555 §4.2.6, NO_NATS_ALLOWED notification data (12 or 36 octets)

/// <summary>
/// The addresses and ports a NO_NATS_ALLOWED sender put in the IP and UDP headers (RFC 4555 §3.9): the receiver compares
/// them with what arrived and answers UNEXPECTED_NAT_DETECTED when they differ. Used for nothing else (§3.9).
/// </summary>
public sealed record NoNatsAllowed(IPEndPoint Source, IPEndPoint Destination)
{
    public const int V4Length = 4 + 4 + 2 + 2;
    public const int V6Length = 16 + 16 + 2 + 2;

    /// <summary>Never throws: any length but 12 or 36 is <see cref="ParseStatus.BadLength"/>.</summary>
    public static ParseStatus TryParse(ReadOnlySpan<byte> data, out NoNatsAllowed? value)
    {
        value = null;
        int addressLength = data.Length switch
        {
            V4Length => 4,
            V6Length => 16,
            _ => 0,
        };
        if (addressLength == 0) return ParseStatus.BadLength;
        var source = new IPAddress(data[..addressLength]);
        var destination = new IPAddress(data.Slice(addressLength, addressLength));
        ushort sourcePort = BinaryPrimitives.ReadUInt16BigEndian(data[(2 * addressLength)..]);
        ushort destinationPort = BinaryPrimitives.ReadUInt16BigEndian(data[(2 * addressLength + 2)..]);
        value = new NoNatsAllowed(new IPEndPoint(source, sourcePort), new IPEndPoint(destination, destinationPort));
        return ParseStatus.Ok;
    }

    /// <summary>The data for <paramref name="source"/> → <paramref name="destination"/> (one address family; IPv4-mapped
    /// addresses of a dual-mode socket are written as IPv4).</summary>
    public static byte[] Build(IPEndPoint source, IPEndPoint destination)
    {
        var s = Plain(source.Address);
        var d = Plain(destination.Address);
        if (s.AddressFamily != d.AddressFamily) throw new ArgumentException("source and destination differ in address family");
        int n = s.AddressFamily == AddressFamily.InterNetwork ? 4 : 16;
        var data = new byte[2 * n + 4];
        s.TryWriteBytes(data.AsSpan(0, n), out _);
        d.TryWriteBytes(data.AsSpan(n, n), out _);
        BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(2 * n), (ushort)source.Port);
        BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(2 * n + 2), (ushort)destination.Port);
        return data;
    }

    /// <summary>Whether these are the endpoints the packet travelled between.</summary>
    public bool Matches(IPEndPoint source, IPEndPoint destination) =>
        Plain(Source.Address).Equals(Plain(source.Address)) && Source.Port == source.Port &&
        Plain(Destination.Address).Equals(Plain(destination.Address)) && Destination.Port == destination.Port;

    private static IPAddress Plain(IPAddress a) => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a;
}
