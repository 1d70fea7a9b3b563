namespace Concentrator.Ike.Wire;
public sealed record ConfigAttribute(ConfigAttributeType Type, byte[] Value);
public sealed class ConfigPayload : Payload
{
    public ConfigPayload(ConfigType configType, IReadOnlyList<ConfigAttribute> attributes) { ConfigType = configType; Attributes = attributes; }
    public ConfigType ConfigType { get; }
    public IReadOnlyList<ConfigAttribute> Attributes { get; }
    public override PayloadType Type => PayloadType.Configuration;
    public override int BodyLength => throw new NotImplementedException();
    public override void WriteBody(ref SpanWriter writer) => throw new NotImplementedException();
    public static ParseStatus TryParse(ReadOnlySpan<byte> body, out ConfigPayload? payload) => throw new NotImplementedException();
}
