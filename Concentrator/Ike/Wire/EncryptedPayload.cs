namespace Concentrator.Ike.Wire;

//                      1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                     Initialization Vector                     |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ~                    Encrypted IKE Payloads                     ~
// +               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |               |             Padding (0-255 octets)            |
// +-+-+-+-+-+-+-+-+                               +-+-+-+-+-+-+-+-+
// |                                               |  Pad Length   |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ~                    Integrity Checksum Data                    ~
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//                RFC 7296 §3.14, SK payload body
//
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |        Fragment Number        |        Total Fragments        |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ~             IV | Encrypted content | Padding | ICV             ~
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//                RFC 7383 §2.5, SKF payload body

/// <summary>
/// The SK payload (or, with <see cref="IsFragment"/>, an SKF payload). The bytes stay opaque here;
/// opening them is <c>IkeMessageProtector</c>'s job. An SK/SKF payload is always the last of its chain.
/// </summary>
public sealed class EncryptedPayload : Payload
{
    /// <summary>Octets of Fragment Number + Total Fragments at the start of an SKF body (RFC 7383 §2.5).</summary>
    public const int FragmentHeaderLength = 4;

    public EncryptedPayload(PayloadType firstInner, byte[] data, int offset = -1) { FirstInner = firstInner; Data = data; Offset = offset; }
    /// <summary>The generic header's Next Payload: type of the first payload inside (RFC 7296 §3.14).</summary>
    public PayloadType FirstInner { get; }
    /// <summary>IV | ciphertext | ICV, as on the wire. For SKF it starts with Fragment Number | Total Fragments.</summary>
    public byte[] Data { get; }
    /// <summary>Offset of this payload's generic header in the received datagram (-1 when built locally).</summary>
    public int Offset { get; }

    /// <summary>True for an SKF payload (type 53, RFC 7383); then <see cref="Type"/> is EncryptedFragment.</summary>
    public bool IsFragment { get; init; }

    /// <summary>SKF only: Fragment Number (1-based).</summary>
    public ushort FragmentNumber => IsFragment && Data.Length >= FragmentHeaderLength ? (ushort)((Data[0] << 8) | Data[1]) : (ushort)0;

    /// <summary>SKF only: Total Fragments.</summary>
    public ushort TotalFragments => IsFragment && Data.Length >= FragmentHeaderLength ? (ushort)((Data[2] << 8) | Data[3]) : (ushort)0;

    public override PayloadType Type => IsFragment ? PayloadType.EncryptedFragment : PayloadType.Encrypted;
    public override int BodyLength => Data.Length;
    public override void WriteBody(ref SpanWriter writer) => writer.WriteBytes(Data);
}
