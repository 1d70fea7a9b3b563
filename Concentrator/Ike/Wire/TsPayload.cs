using System.Net;
using System.Net.Sockets;
using Concentrator.Ipsec;
namespace Concentrator.Ike.Wire;

//                      1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// | Number of TSs |                 RESERVED                      |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ~                       <Traffic Selectors>                     ~
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//                RFC 7296 §3.13, TSi / TSr payload body
//
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |   TS Type     |IP Protocol ID*|       Selector Length         |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |           Start Port*         |           End Port*           |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ~                         Starting Address*                     ~
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ~                         Ending Address*                       ~
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//                RFC 7296 §3.13.1, Traffic Selector (16 octets IPv4, 40 IPv6)

public sealed class TsPayload : Payload
{
    private const int FixedLength = 4;
    private const int SelectorHeaderLength = 8;
    private const int Ipv4SelectorLength = SelectorHeaderLength + 2 * 4;
    private const int Ipv6SelectorLength = SelectorHeaderLength + 2 * 16;

    public TsPayload(PayloadType type, IReadOnlyList<TrafficSelector> selectors) { Type = type; Selectors = selectors; }
    public override PayloadType Type { get; }
    public IReadOnlyList<TrafficSelector> Selectors { get; }

    public override int BodyLength
    {
        get
        {
            int length = FixedLength;
            foreach (var ts in Selectors) length += SelectorLength(ts.Type);
            return length;
        }
    }

    public override void WriteBody(ref SpanWriter writer)
    {
        if (Selectors.Count > byte.MaxValue) throw new InvalidOperationException("Too many traffic selectors for one TS payload.");
        writer.WriteUInt8((byte)Selectors.Count);
        writer.WriteZeros(3);
        foreach (var ts in Selectors)
        {
            int length = SelectorLength(ts.Type);
            var family = ts.Type == TsType.Ipv4AddressRange ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
            if (ts.StartAddress.AddressFamily != family || ts.EndAddress.AddressFamily != family)
            {
                throw new InvalidOperationException("Traffic selector addresses do not match its TS type.");
            }

            writer.WriteUInt8((byte)ts.Type);
            writer.WriteUInt8(ts.IpProtocol);
            writer.WriteUInt16((ushort)length);
            writer.WriteUInt16(ts.StartPort);
            writer.WriteUInt16(ts.EndPort);
            writer.WriteBytes(ts.StartAddress.GetAddressBytes());
            writer.WriteBytes(ts.EndAddress.GetAddressBytes());
        }
    }

    /// <summary>
    /// <paramref name="type"/> must be TSi or TSr. At least one selector; an unknown TS type is
    /// <see cref="ParseStatus.InvalidSyntax"/> (its length cannot be judged); the Selector Length must be
    /// exactly 16 (IPv4) or 40 (IPv6). Port and address ranges are kept as received (start &gt; end is the
    /// RFC 7296 §3.13.1 "OPAQUE" encoding and is for the selector logic to judge).
    /// </summary>
    public static ParseStatus TryParse(PayloadType type, ReadOnlySpan<byte> body, out TsPayload? payload)
    {
        payload = null;
        if (type != PayloadType.TsInitiator && type != PayloadType.TsResponder) return ParseStatus.InvalidSyntax;
        var r = new SpanReader(body);
        if (!r.TryReadUInt8(out byte count) || !r.TrySkip(3)) return ParseStatus.Truncated;
        if (count == 0) return ParseStatus.InvalidSyntax;
        if (count > WireLimits.MaxTrafficSelectors) return ParseStatus.TooManyItems;

        var selectors = new TrafficSelector[count];
        for (int i = 0; i < count; i++)
        {
            if (!r.TryReadUInt8(out byte tsType) || !r.TryReadUInt8(out byte ipProtocol) || !r.TryReadUInt16(out ushort length) ||
                !r.TryReadUInt16(out ushort startPort) || !r.TryReadUInt16(out ushort endPort))
            {
                return ParseStatus.Truncated;
            }

            int expected = (TsType)tsType switch
            {
                TsType.Ipv4AddressRange => Ipv4SelectorLength,
                TsType.Ipv6AddressRange => Ipv6SelectorLength,
                _ => 0,
            };
            if (expected == 0) return ParseStatus.InvalidSyntax;
            if (length != expected) return ParseStatus.BadLength;
            int addressLength = (expected - SelectorHeaderLength) / 2;
            if (!r.TryReadBytes(addressLength, out var start) || !r.TryReadBytes(addressLength, out var end))
            {
                return ParseStatus.BadLength;
            }

            selectors[i] = new TrafficSelector((TsType)tsType, ipProtocol, startPort, endPort, new IPAddress(start), new IPAddress(end));
        }

        if (r.Remaining != 0) return ParseStatus.BadLength;
        payload = new TsPayload(type, selectors);
        return ParseStatus.Ok;
    }

    private static int SelectorLength(TsType type) => type switch
    {
        TsType.Ipv4AddressRange => Ipv4SelectorLength,
        TsType.Ipv6AddressRange => Ipv6SelectorLength,
        _ => throw new InvalidOperationException($"Cannot encode traffic selector type {type}."),
    };
}
