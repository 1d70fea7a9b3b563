namespace Concentrator.Ike.Wire;

// RFC 7296 §3.3: SA payload = one or more Proposal substructures (§3.3.1), each with Transforms
// (§3.3.2) which may carry attributes (§3.3.5, only Key Length is defined).

public sealed record Transform(TransformType Type, ushort Id, ushort KeyLength = 0);

public sealed record Proposal(byte Number, ProtocolId Protocol, byte[] Spi, IReadOnlyList<Transform> Transforms);

public sealed class SaPayload : Payload
{
    public SaPayload(IReadOnlyList<Proposal> proposals) => Proposals = proposals;
    public IReadOnlyList<Proposal> Proposals { get; }
    public override PayloadType Type => PayloadType.SecurityAssociation;
    public override int BodyLength => throw new NotImplementedException();
    public override void WriteBody(ref SpanWriter writer) => throw new NotImplementedException();
    public static ParseStatus TryParse(ReadOnlySpan<byte> body, out SaPayload? payload) => throw new NotImplementedException();
}
