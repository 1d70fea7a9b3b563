using System.Buffers.Binary;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Eap;

//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |     Code      |  Identifier   |            Length             |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |     Type      |  Type-Data ...
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//          RFC 3748 §4: Request/Response (Code 1/2); Success/Failure (3/4) end after Length.

/// <summary>EAP codes (RFC 3748 §4).</summary>
public enum EapCode : byte
{
    Request = 1,
    Response = 2,
    Success = 3,
    Failure = 4,
}

/// <summary>EAP method types the gateway speaks or must recognise (RFC 3748 §5, IANA EAP registry).</summary>
public enum EapType : byte
{
    None = 0,
    Identity = 1,
    Notification = 2,
    Nak = 3,
    MsChapV2 = 26,
}

/// <summary>One EAP packet, read in place from the peer's bytes; <see cref="TryParse"/> never throws.</summary>
public readonly ref struct EapPacket
{
    public const int HeaderLength = 4;

    public EapCode Code { get; init; }
    public byte Identifier { get; init; }
    /// <summary>The method of a Request or Response; <see cref="EapType.None"/> for Success and Failure.</summary>
    public EapType Type { get; init; }
    public ReadOnlySpan<byte> TypeData { get; init; }

    /// <summary>A whole EAP packet: its Length equals the bytes given; a Request or Response has its Type.</summary>
    public static ParseStatus TryParse(ReadOnlySpan<byte> data, out EapPacket packet)
    {
        packet = default;
        var r = new SpanReader(data);
        if (!r.TryReadUInt8(out byte code) || !r.TryReadUInt8(out byte identifier) || !r.TryReadUInt16(out ushort length)) return ParseStatus.Truncated;
        if (length != data.Length) return ParseStatus.BadLength;
        if (code is < (byte)EapCode.Request or > (byte)EapCode.Failure) return ParseStatus.InvalidSyntax;
        if (code is (byte)EapCode.Success or (byte)EapCode.Failure)
        {
            if (length != HeaderLength) return ParseStatus.BadLength;
            packet = new EapPacket { Code = (EapCode)code, Identifier = identifier };
            return ParseStatus.Ok;
        }
        if (!r.TryReadUInt8(out byte type) || !r.TryReadBytes(r.Remaining, out var typeData)) return ParseStatus.Truncated;
        packet = new EapPacket { Code = (EapCode)code, Identifier = identifier, Type = (EapType)type, TypeData = typeData };
        return ParseStatus.Ok;
    }

    /// <summary>A Request or Response with its type data.</summary>
    public static byte[] Build(EapCode code, byte identifier, EapType type, ReadOnlySpan<byte> typeData)
    {
        var packet = new byte[HeaderLength + 1 + typeData.Length];
        packet[0] = (byte)code;
        packet[1] = identifier;
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), (ushort)packet.Length);
        packet[4] = (byte)type;
        typeData.CopyTo(packet.AsSpan(5));
        return packet;
    }

    /// <summary>EAP-Success with the Identifier of the peer's last Response (RFC 3748 §4.2).</summary>
    public static byte[] Success(byte identifier) => [(byte)EapCode.Success, identifier, 0, HeaderLength];

    /// <summary>EAP-Failure with the Identifier of the peer's last Response (RFC 3748 §4.2).</summary>
    public static byte[] Failure(byte identifier) => [(byte)EapCode.Failure, identifier, 0, HeaderLength];
}
