using System.Buffers.Binary;

namespace Concentrator.Radius;

//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |     Code      |  Identifier   |            Length             |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                                                               |
// |                         Authenticator                         |
// |                                                               |
// |                                                               |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |  Attributes ...
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//                RFC 2865 §3, packet format (RFC 2866 §3 for accounting)
//
//  0                   1                   2
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |     Type      |    Length     |  Value ...
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//                RFC 2865 §5, attribute format (Length counts Type and Length)

/// <summary>RADIUS codes this client sends or accepts (RFC 2865 §3, RFC 2866 §4).</summary>
public enum RadiusCode : byte
{
    AccessRequest = 1,
    AccessAccept = 2,
    AccessReject = 3,
    AccountingRequest = 4,
    AccountingResponse = 5,
    AccessChallenge = 11,
}

/// <summary>Why a datagram is not a RADIUS packet; every value but Ok is counted and the datagram dropped.</summary>
public enum RadiusParseStatus
{
    Ok = 0,
    /// <summary>Shorter than the 20-octet header, or than its own Length field.</summary>
    Truncated,
    /// <summary>Length outside 20..4096 (RFC 2865 §3).</summary>
    BadLength,
    /// <summary>An attribute whose Length is below 2 or runs past the packet.</summary>
    BadAttribute,
}

/// <summary>
/// One received RADIUS packet, checked for shape only: the header and every attribute's length are valid, so walking the
/// attributes cannot fail. Authenticity (<see cref="RadiusAuthenticator"/>) is the caller's next step. Octets past
/// Length are padding and ignored (§3).
/// </summary>
public readonly ref struct RadiusPacket
{
    public const int HeaderLength = 20;
    public const int MaxLength = 4096;
    public const int AuthenticatorLength = 16;

    private RadiusPacket(ReadOnlySpan<byte> bytes) => Bytes = bytes;

    /// <summary>The packet up to its Length field.</summary>
    public ReadOnlySpan<byte> Bytes { get; }
    public RadiusCode Code => (RadiusCode)Bytes[0];
    public byte Identifier => Bytes[1];
    public ReadOnlySpan<byte> Authenticator => Bytes.Slice(4, AuthenticatorLength);
    public ReadOnlySpan<byte> AttributeBytes => Bytes[HeaderLength..];
    public RadiusAttributeReader Attributes => new(AttributeBytes);

    public static RadiusParseStatus TryParse(ReadOnlySpan<byte> datagram, out RadiusPacket packet)
    {
        packet = default;
        if (datagram.Length < HeaderLength) return RadiusParseStatus.Truncated;
        int length = BinaryPrimitives.ReadUInt16BigEndian(datagram[2..]);
        if (length is < HeaderLength or > MaxLength) return RadiusParseStatus.BadLength;
        if (datagram.Length < length) return RadiusParseStatus.Truncated;
        var bytes = datagram[..length];
        var rest = bytes[HeaderLength..];
        while (rest.Length > 0)
        {
            if (rest.Length < 2) return RadiusParseStatus.BadAttribute;
            int attributeLength = rest[1];
            if (attributeLength < 2 || attributeLength > rest.Length) return RadiusParseStatus.BadAttribute;
            rest = rest[attributeLength..];
        }
        packet = new RadiusPacket(bytes);
        return RadiusParseStatus.Ok;
    }

    /// <summary>The first attribute of <paramref name="type"/>; empty span and false when absent.</summary>
    public bool TryFind(RadiusAttributeType type, out ReadOnlySpan<byte> value)
    {
        var reader = Attributes;
        while (reader.TryNext(out var t, out value))
        {
            if (t == type) return true;
        }
        value = default;
        return false;
    }
}

/// <summary>Walks attributes whose lengths <see cref="RadiusPacket.TryParse"/> has already checked.</summary>
public ref struct RadiusAttributeReader
{
    private ReadOnlySpan<byte> _rest;

    public RadiusAttributeReader(ReadOnlySpan<byte> attributes) => _rest = attributes;

    /// <summary>Offset of the last attribute returned, from the start of the attribute area.</summary>
    public int Offset { get; private set; }

    private int _consumed;

    public bool TryNext(out RadiusAttributeType type, out ReadOnlySpan<byte> value)
    {
        type = default;
        value = default;
        if (_rest.Length < 2 || _rest[1] < 2 || _rest[1] > _rest.Length) return false;
        int length = _rest[1];
        type = (RadiusAttributeType)_rest[0];
        value = _rest[2..length];
        Offset = _consumed;
        _consumed += length;
        _rest = _rest[length..];
        return true;
    }
}

/// <summary>
/// Builds one packet into a caller's buffer (at most <see cref="RadiusPacket.MaxLength"/>): the header, then attributes
/// appended in order; <see cref="Finish"/> writes the Length. Adding past the buffer returns false and leaves it as it was.
/// </summary>
public ref struct RadiusWriter
{
    private readonly Span<byte> _buffer;
    private int _length;

    public RadiusWriter(Span<byte> buffer, RadiusCode code, byte identifier, ReadOnlySpan<byte> authenticator)
    {
        if (buffer.Length < RadiusPacket.HeaderLength) throw new ArgumentException("buffer below the RADIUS header", nameof(buffer));
        _buffer = buffer.Length > RadiusPacket.MaxLength ? buffer[..RadiusPacket.MaxLength] : buffer;
        _buffer[0] = (byte)code;
        _buffer[1] = identifier;
        if (authenticator.IsEmpty) _buffer.Slice(4, 16).Clear();
        else authenticator.CopyTo(_buffer.Slice(4, 16));
        _length = RadiusPacket.HeaderLength;
    }

    public int Length => _length;

    /// <summary>One attribute; false when the value exceeds 253 octets or the packet would exceed its buffer.</summary>
    public bool TryAdd(RadiusAttributeType type, scoped ReadOnlySpan<byte> value)
    {
        if (value.Length > RadiusAttribute.MaxValueLength || _length + 2 + value.Length > _buffer.Length) return false;
        _buffer[_length] = (byte)type;
        _buffer[_length + 1] = (byte)(value.Length + 2);
        value.CopyTo(_buffer[(_length + 2)..]);
        _length += 2 + value.Length;
        return true;
    }

    public bool TryAddUInt32(RadiusAttributeType type, uint value)
    {
        Span<byte> v = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(v, value);
        return TryAdd(type, v);
    }

    /// <summary>Writes the Length field; the packet is <c>buffer[..Length]</c>.</summary>
    public int Finish()
    {
        BinaryPrimitives.WriteUInt16BigEndian(_buffer[2..], (ushort)_length);
        return _length;
    }
}
