namespace Concentrator.Ike.Wire;

//                      1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// | Next Payload  |C|  RESERVED   |         Payload Length        |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//                RFC 7296 §3.2, generic payload header

/// <summary>
/// A decoded IKE payload. The generic header (next payload, critical bit, length) is written by
/// <see cref="IkeCodec"/>; a payload writes only its body. Bodies are parsed by each payload's
/// static <c>TryParse(PayloadType, ReadOnlySpan&lt;byte&gt; body, out T)</c>, which never throws.
/// </summary>
public abstract class Payload
{
    public abstract PayloadType Type { get; }

    /// <summary>The critical bit as received; we always send 0 for payloads we define (RFC 7296 §2.5).</summary>
    public bool Critical { get => _critical; init => _critical = value; }

    private bool _critical;

    /// <summary>Records the critical bit of a received generic header (payloads are built by their TryParse).</summary>
    internal void SetReceivedCritical(bool critical) => _critical = critical;

    /// <summary>Length of the body (without the 4-octet generic header).</summary>
    public abstract int BodyLength { get; }

    public abstract void WriteBody(ref SpanWriter writer);
}
