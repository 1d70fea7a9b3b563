using Concentrator.Ipsec;

namespace Concentrator.Ike.Wire;

//                      1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// | Auth Method   |                RESERVED                       |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ~                      Authentication Data                      ~
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//                RFC 7296 §3.8, AUTH payload body

public sealed class AuthPayload : Payload
{
    private const int FixedLength = 4;

    public AuthPayload(AuthMethod method, byte[] data) { Method = method; Data = data; }
    public AuthMethod Method { get; }
    public byte[] Data { get; }
    public override PayloadType Type => PayloadType.Authentication;
    public override int BodyLength => FixedLength + Data.Length;

    public override void WriteBody(ref SpanWriter writer)
    {
        writer.WriteUInt8((byte)Method);
        writer.WriteZeros(3);
        writer.WriteBytes(Data);
    }

    /// <summary>
    /// The method is kept as received: an unknown or unconfigured method is an authentication failure
    /// (AUTHENTICATION_FAILED), not a syntax error, so the auth code decides.
    /// </summary>
    public static ParseStatus TryParse(ReadOnlySpan<byte> body, out AuthPayload? payload)
    {
        payload = null;
        var r = new SpanReader(body);
        if (!r.TryReadUInt8(out byte method) || !r.TrySkip(3)) return ParseStatus.Truncated;
        payload = new AuthPayload((AuthMethod)method, r.Rest.ToArray());
        return ParseStatus.Ok;
    }
}
