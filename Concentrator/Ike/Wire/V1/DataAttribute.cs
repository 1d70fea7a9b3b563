using Concentrator.Ipsec;

namespace Concentrator.Ike.Wire.V1;

//                      1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// !A!       Attribute Type        !    AF=0  Attribute Length     !
// !F!                             !    AF=1  Attribute Value      !
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// .                   AF=0  Attribute Value                       .
// .                   AF=1  Not Transmitted                       .
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//                RFC 2408 §3.3, Data Attributes (Transform payloads; the Attribute payload of Mode Config)

/// <summary>
/// One data attribute: basic (TV, <see cref="Basic"/> true, the 16-bit value in <see cref="BasicValue"/>) or variable
/// (TLV, the octets in <see cref="Value"/>). Which type numbers mean what is the caller's table (phase 1, phase 2 or
/// Mode Config); the codec keeps every attribute.
/// </summary>
public sealed record DataAttribute(ushort Type, bool Basic, ushort BasicValue, byte[] Value)
{
    public static DataAttribute OfBasic(ushort type, ushort value) => new(type, true, value, []);
    public static DataAttribute OfVariable(ushort type, byte[] value) => new(type, false, 0, value);

    public int Length => 4 + (Basic ? 0 : Value.Length);

    /// <summary>
    /// The attribute as a number: a basic value, or a variable one of 1..4 octets (RFC 2409 Appendix A sends a
    /// life duration of more than 16 bits as a variable attribute); false for longer or empty values.
    /// </summary>
    public bool TryGetNumber(out uint value)
    {
        if (Basic) { value = BasicValue; return true; }
        value = 0;
        if (Value.Length is 0 or > 4) return false;
        foreach (byte b in Value) value = (value << 8) | b;
        return true;
    }

    public void Write(ref SpanWriter writer)
    {
        if (Type >= V1Constants.AttributeFormatBasic) throw new InvalidOperationException("Attribute type exceeds 15 bits.");
        if (Basic)
        {
            writer.WriteUInt16((ushort)(V1Constants.AttributeFormatBasic | Type));
            writer.WriteUInt16(BasicValue);
            return;
        }

        if (Value.Length > ushort.MaxValue) throw new InvalidOperationException("Attribute value longer than 65535 octets.");
        writer.WriteUInt16(Type);
        writer.WriteUInt16((ushort)Value.Length);
        writer.WriteBytes(Value);
    }

    /// <summary>Reads attributes until <paramref name="data"/> ends; at most <paramref name="max"/> of them.</summary>
    public static ParseStatus TryParseAll(ReadOnlySpan<byte> data, int max, out List<DataAttribute> attributes)
    {
        attributes = [];
        var r = new SpanReader(data);
        while (r.Remaining > 0)
        {
            if (attributes.Count == max) return ParseStatus.TooManyItems;
            if (!r.TryReadUInt16(out ushort type) || !r.TryReadUInt16(out ushort lengthOrValue)) return ParseStatus.Truncated;
            ushort kind = (ushort)(type & ~V1Constants.AttributeFormatBasic);
            if ((type & V1Constants.AttributeFormatBasic) != 0)
            {
                attributes.Add(OfBasic(kind, lengthOrValue));
                continue;
            }

            if (!r.TryReadBytes(lengthOrValue, out var value)) return ParseStatus.BadLength;
            attributes.Add(OfVariable(kind, value.ToArray()));
        }

        return ParseStatus.Ok;
    }

    public static int TotalLength(IReadOnlyList<DataAttribute> attributes)
    {
        int length = 0;
        foreach (var a in attributes) length += a.Length;
        return length;
    }
}
