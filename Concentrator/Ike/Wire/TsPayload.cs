using System.Net;
namespace Concentrator.Ike.Wire;
public sealed record TrafficSelector(TsType Type, byte IpProtocol, ushort StartPort, ushort EndPort, IPAddress StartAddress, IPAddress EndAddress);
public sealed class TsPayload : Payload
{
    public TsPayload(PayloadType type, IReadOnlyList<TrafficSelector> selectors) { Type = type; Selectors = selectors; }
    public override PayloadType Type { get; }
    public IReadOnlyList<TrafficSelector> Selectors { get; }
    public override int BodyLength => throw new NotImplementedException();
    public override void WriteBody(ref SpanWriter writer) => throw new NotImplementedException();
    public static ParseStatus TryParse(PayloadType type, ReadOnlySpan<byte> body, out TsPayload? payload) => throw new NotImplementedException();
}
