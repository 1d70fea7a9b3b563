// The IP Authentication Header, RFC 4302 §2:
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// | Next Header   |  Payload Len  |          RESERVED             |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                 Security Parameters Index (SPI)               |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                    Sequence Number Field                      |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                                                               |
// +                Integrity Check Value-ICV (variable)           |
// |                                                               |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Payload Len is the header's length in 32-bit words minus 2 (§2.2); the ICV field (ICV + padding) makes the header a
// multiple of 32 bits over IPv4 and of 64 bits over IPv6 (§2.6). RESERVED is sent as zero and ignored on receipt
// (§2.3: it is covered by the ICV). Spans in, status out: the reader never throws.
using System.Buffers.Binary;
using Concentrator.Ipsec;

namespace Concentrator.DataPlane.Esp;

/// <summary>One AH header read from (or to be written to) a span.</summary>
public readonly ref struct AhHeader
{
    /// <summary>Next Header, Payload Len, RESERVED, SPI, Sequence Number: the fixed part before the ICV.</summary>
    public const int FixedLength = 12;

    /// <summary>IP protocol number of AH (IANA).</summary>
    public const byte Protocol = 51;

    public byte NextHeader { get; init; }

    /// <summary>Bytes of the whole header, ICV field included ((Payload Len + 2) * 4).</summary>
    public int Length { get; init; }

    public uint Spi { get; init; }

    /// <summary>The low 32 bits of the sequence number (the only ones on the wire, §2.5).</summary>
    public uint Sequence { get; init; }

    /// <summary>The ICV field: ICV followed by any padding.</summary>
    public ReadOnlySpan<byte> IcvField { get; init; }

    /// <summary>
    /// Reads the header at the start of <paramref name="data"/>: <see cref="ParseStatus.Truncated"/> when the fixed part or
    /// the length Payload Len announces is not there, <see cref="ParseStatus.BadLength"/> when that length leaves no ICV
    /// or (<paramref name="ipv6"/>) is not a multiple of 8.
    /// </summary>
    public static ParseStatus TryParse(ReadOnlySpan<byte> data, bool ipv6, out AhHeader header)
    {
        header = default;
        if (data.Length < FixedLength) return ParseStatus.Truncated;
        int length = (data[1] + 2) * 4;
        if (length <= FixedLength || (ipv6 && length % 8 != 0)) return ParseStatus.BadLength;
        if (length > data.Length) return ParseStatus.Truncated;
        header = new AhHeader
        {
            NextHeader = data[0],
            Length = length,
            Spi = BinaryPrimitives.ReadUInt32BigEndian(data[4..]),
            Sequence = BinaryPrimitives.ReadUInt32BigEndian(data[8..]),
            IcvField = data.Slice(FixedLength, length - FixedLength),
        };
        return ParseStatus.Ok;
    }

    /// <summary>Bytes of the header for an ICV of <paramref name="icvLength"/> bytes: padded to 4 (IPv4) or 8 (IPv6) bytes.</summary>
    public static int LengthFor(int icvLength, bool ipv6)
    {
        int unpadded = FixedLength + icvLength;
        int unit = ipv6 ? 8 : 4;
        return (unpadded + unit - 1) / unit * unit;
    }

    /// <summary>
    /// Writes the fixed part and a zero ICV field of <paramref name="length"/> bytes (<see cref="LengthFor"/>) at the start
    /// of <paramref name="destination"/>, which must hold it.
    /// </summary>
    public static void Write(Span<byte> destination, byte nextHeader, int length, uint spi, uint sequence)
    {
        destination[0] = nextHeader;
        destination[1] = (byte)(length / 4 - 2);
        destination[2] = 0;
        destination[3] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], spi);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], sequence);
        destination.Slice(FixedLength, length - FixedLength).Clear();
    }
}
