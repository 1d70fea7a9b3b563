using Concentrator.Ipsec;

namespace Concentrator.Ike.Wire.V1;

//                      1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// !     Type      !   RESERVED    !           Identifier          !
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// !                                                               !
// ~                           Attributes                          ~
// !                                                               !
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//                draft-dukes-ike-mode-cfg-02 §3.2, Attribute payload body (Mode Config, XAUTH)

/// <summary>
/// The Attribute payload of a Transaction exchange: a Mode Config or XAUTH request, reply, set or ack. Attributes use
/// the data attribute format of RFC 2408 §3.3; an empty variable attribute in a request asks for a value.
/// </summary>
public sealed class AttributePayload : V1Payload
{
    private const int FixedLength = 4;

    public AttributePayload(CfgMessageType messageType, ushort identifier, IReadOnlyList<DataAttribute> attributes)
    {
        MessageType = messageType;
        Identifier = identifier;
        Attributes = attributes;
    }

    public CfgMessageType MessageType { get; }
    /// <summary>Matches a reply to its request (draft-dukes §3.2).</summary>
    public ushort Identifier { get; }
    public IReadOnlyList<DataAttribute> Attributes { get; }
    public override V1PayloadType Type => V1PayloadType.Attribute;
    public override int BodyLength => FixedLength + DataAttribute.TotalLength(Attributes);

    public override void WriteBody(ref SpanWriter writer)
    {
        writer.WriteUInt8((byte)MessageType);
        writer.WriteUInt8(0);
        writer.WriteUInt16(Identifier);
        foreach (var a in Attributes) a.Write(ref writer);
    }

    /// <summary>The type is one of request, reply, set, ack; at most <see cref="WireLimits.MaxConfigAttributes"/> attributes, each within the payload.</summary>
    public static ParseStatus TryParse(ReadOnlySpan<byte> body, out AttributePayload? payload)
    {
        payload = null;
        var r = new SpanReader(body);
        if (!r.TryReadUInt8(out byte type) || !r.TrySkip(1) || !r.TryReadUInt16(out ushort identifier)) return ParseStatus.Truncated;
        if (type is < (byte)CfgMessageType.Request or > (byte)CfgMessageType.Ack) return ParseStatus.InvalidSyntax;
        var status = DataAttribute.TryParseAll(r.Rest, WireLimits.MaxConfigAttributes, out var attributes);
        if (status != ParseStatus.Ok) return status == ParseStatus.Truncated ? ParseStatus.BadLength : status;
        payload = new AttributePayload((CfgMessageType)type, identifier, attributes);
        return ParseStatus.Ok;
    }
}
