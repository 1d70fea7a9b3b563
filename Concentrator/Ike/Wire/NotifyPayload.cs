namespace Concentrator.Ike.Wire;
public sealed class NotifyPayload : Payload
{
    public NotifyPayload(NotifyType notifyType, byte[]? data = null, ProtocolId protocol = ProtocolId.None, byte[]? spi = null)
    { NotifyType = notifyType; Data = data ?? []; Protocol = protocol; Spi = spi ?? []; }
    public NotifyType NotifyType { get; }
    public ProtocolId Protocol { get; }
    public byte[] Spi { get; }
    public byte[] Data { get; }
    public bool IsError => (ushort)NotifyType < 16384;
    public override PayloadType Type => PayloadType.Notify;
    public override int BodyLength => throw new NotImplementedException();
    public override void WriteBody(ref SpanWriter writer) => throw new NotImplementedException();
    public static ParseStatus TryParse(ReadOnlySpan<byte> body, out NotifyPayload? payload) => throw new NotImplementedException();
}
