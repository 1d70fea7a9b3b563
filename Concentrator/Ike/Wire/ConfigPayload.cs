using Concentrator.Ipsec;

namespace Concentrator.Ike.Wire;

//                      1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |   CFG Type    |                    RESERVED                   |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ~                   Configuration Attributes                    ~
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//                RFC 7296 §3.15, CP payload body
//
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |R|         Attribute Type      |            Length             |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ~                             Value                             ~
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//                RFC 7296 §3.15.1, Configuration Attribute

public sealed record ConfigAttribute(ConfigAttributeType Type, byte[] Value);

public sealed class ConfigPayload : Payload
{
    private const int FixedLength = 4;
    private const int AttributeHeaderLength = 4;
    private const ushort AttributeTypeMask = 0x7FFF;

    public ConfigPayload(ConfigType configType, IReadOnlyList<ConfigAttribute> attributes) { ConfigType = configType; Attributes = attributes; }
    public ConfigType ConfigType { get; }
    public IReadOnlyList<ConfigAttribute> Attributes { get; }
    public override PayloadType Type => PayloadType.Configuration;

    public override int BodyLength
    {
        get
        {
            int length = FixedLength;
            foreach (var a in Attributes) length += AttributeHeaderLength + a.Value.Length;
            return length;
        }
    }

    public override void WriteBody(ref SpanWriter writer)
    {
        writer.WriteUInt8((byte)ConfigType);
        writer.WriteZeros(3);
        foreach (var a in Attributes)
        {
            if ((ushort)a.Type > AttributeTypeMask) throw new InvalidOperationException("Configuration attribute type exceeds 15 bits.");
            if (a.Value.Length > ushort.MaxValue) throw new InvalidOperationException("Configuration attribute value too long.");
            writer.WriteUInt16((ushort)a.Type);
            writer.WriteUInt16((ushort)a.Value.Length);
            writer.WriteBytes(a.Value);
        }
    }

    /// <summary>
    /// CFG Type must be 1..4. The R bit is ignored (§3.15.1). Attribute types and values are kept as received:
    /// unknown attributes are ignored by the CP logic, and an empty value is the normal form of a request.
    /// </summary>
    public static ParseStatus TryParse(ReadOnlySpan<byte> body, out ConfigPayload? payload)
    {
        payload = null;
        var r = new SpanReader(body);
        if (!r.TryReadUInt8(out byte cfgType) || !r.TrySkip(3)) return ParseStatus.Truncated;
        if (cfgType < (byte)ConfigType.Request || cfgType > (byte)ConfigType.Ack) return ParseStatus.InvalidSyntax;

        var attributes = new List<ConfigAttribute>();
        while (r.Remaining > 0)
        {
            if (attributes.Count == WireLimits.MaxConfigAttributes) return ParseStatus.TooManyItems;
            if (!r.TryReadUInt16(out ushort type) || !r.TryReadUInt16(out ushort length)) return ParseStatus.Truncated;
            if (!r.TryReadBytes(length, out var value)) return ParseStatus.BadLength;
            attributes.Add(new ConfigAttribute((ConfigAttributeType)(type & AttributeTypeMask), value.ToArray()));
        }

        payload = new ConfigPayload((ConfigType)cfgType, attributes);
        return ParseStatus.Ok;
    }
}
