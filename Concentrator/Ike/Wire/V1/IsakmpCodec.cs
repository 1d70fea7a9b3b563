using Concentrator.Ipsec;

namespace Concentrator.Ike.Wire.V1;

/// <summary>
/// A decoded ISAKMP message. With the E flag set the payloads are not yet readable: <see cref="Payloads"/> is empty
/// and <see cref="EncryptedBody"/> holds the ciphertext after the header (RFC 2409 Appendix B), for the SA's
/// <c>V1MessageProtector</c> to decrypt and <see cref="IsakmpCodec.TryDecodeChain"/> to parse.
/// </summary>
public sealed record IsakmpMessage(IsakmpHeader Header, IReadOnlyList<V1Payload> Payloads, byte[] EncryptedBody)
{
    public T? Find<T>() where T : V1Payload => Payloads.OfType<T>().FirstOrDefault();
}

/// <summary>Decodes and encodes whole ISAKMP messages and payload chains.</summary>
/// <remarks>
/// The walk follows the generic headers (RFC 2408 §3.2): every payload length is at least 4 and within the bytes left,
/// so the walk always advances and ends; the count is capped by <c>maxPayloads</c>. Proposal and Transform are
/// substructures of an SA payload (§3.5, §3.6) and refused at the top of a chain. Nothing here throws on peer input;
/// encoding is local and throws on a payload that cannot be encoded.
/// </remarks>
public static class IsakmpCodec
{
    /// <summary>Parses the header and, unless the E flag is set, the payload chain, which must fill the message exactly.</summary>
    public static ParseStatus TryDecode(ReadOnlySpan<byte> datagram, out IsakmpMessage? message, int maxPayloads = WireLimits.MaxPayloadsPerMessage)
    {
        message = null;
        var status = IsakmpHeader.TryParse(datagram, out var header);
        if (status != ParseStatus.Ok) return status;
        var body = datagram[V1Constants.HeaderLength..];
        if (header.Encrypted)
        {
            // CBC: the ciphertext is whole blocks of at least 8 octets (DES/3DES; AES blocks are 16), checked again by the cipher.
            if (body.Length == 0 || body.Length % 8 != 0) return ParseStatus.BadLength;
            message = new IsakmpMessage(header, [], body.ToArray());
            return ParseStatus.Ok;
        }

        var payloads = new List<V1Payload>();
        status = DecodeChain(header.NextPayload, body, allowPadding: false, payloads, maxPayloads);
        if (status != ParseStatus.Ok) return status;
        message = new IsakmpMessage(header, payloads, []);
        return ParseStatus.Ok;
    }

    /// <summary>
    /// Parses a decrypted chain starting with <paramref name="first"/>. Octets after the last payload are the cipher's
    /// padding (RFC 2409 Appendix B: the Length field covers it) and are allowed when <paramref name="allowPadding"/>;
    /// <paramref name="into"/> is only appended to on Ok.
    /// </summary>
    public static ParseStatus TryDecodeChain(V1PayloadType first, ReadOnlySpan<byte> data, bool allowPadding, List<V1Payload> into,
        int maxPayloads = WireLimits.MaxPayloadsPerMessage)
    {
        ArgumentNullException.ThrowIfNull(into);
        var payloads = new List<V1Payload>();
        var status = DecodeChain(first, data, allowPadding, payloads, maxPayloads);
        if (status == ParseStatus.Ok) into.AddRange(payloads);
        return status;
    }

    private static ParseStatus DecodeChain(V1PayloadType next, ReadOnlySpan<byte> data, bool allowPadding, List<V1Payload> payloads, int maxPayloads)
    {
        var r = new SpanReader(data);
        while (next != V1PayloadType.None)
        {
            if (payloads.Count >= maxPayloads) return ParseStatus.TooManyPayloads;
            if (!r.TryReadUInt8(out byte following) || !r.TrySkip(1) || !r.TryReadUInt16(out ushort length)) return ParseStatus.Truncated;
            if (length < V1Constants.GenericHeaderLength) return ParseStatus.BadLength;
            if (!r.TryReadBytes(length - V1Constants.GenericHeaderLength, out var body)) return ParseStatus.BadLength;
            var status = ParseBody(next, body, out var payload);
            if (status != ParseStatus.Ok) return status;
            payloads.Add(payload!);
            next = (V1PayloadType)following;
        }

        // RFC 2408 §3.1: the header's Length is the whole message; without encryption nothing may follow the last payload.
        if (r.Remaining != 0 && !allowPadding) return ParseStatus.BadLength;
        return ParseStatus.Ok;
    }

    private static ParseStatus ParseBody(V1PayloadType type, ReadOnlySpan<byte> body, out V1Payload? payload)
    {
        payload = null;
        ParseStatus status;
        switch (type)
        {
            case V1PayloadType.SecurityAssociation: status = V1SaPayload.TryParse(body, out var sa); payload = sa; break;
            case V1PayloadType.Identification: status = V1IdPayload.TryParse(body, out var id); payload = id; break;
            case V1PayloadType.Certificate or V1PayloadType.CertificateRequest:
                status = V1CertPayload.TryParse(type, body, out var cert); payload = cert; break;
            case V1PayloadType.Notification: status = V1NotificationPayload.TryParse(body, out var n); payload = n; break;
            case V1PayloadType.Delete: status = V1DeletePayload.TryParse(body, out var d); payload = d; break;
            case V1PayloadType.Attribute: status = AttributePayload.TryParse(body, out var attr); payload = attr; break;
            case V1PayloadType.NatOa or V1PayloadType.NatOaDraft: status = NatOaPayload.TryParse(type, body, out var oa); payload = oa; break;
            case V1PayloadType.Proposal or V1PayloadType.Transform: return ParseStatus.BadPayloadSequence;
            default:
                if (V1DataPayload.IsDataType(type))
                {
                    status = V1DataPayload.TryParse(type, body, out var data);
                    payload = data;
                }
                else
                {
                    payload = new V1UnknownPayload(type, body.ToArray());
                    status = ParseStatus.Ok;
                }

                break;
        }

        return status;
    }

    /// <summary>Encoded length of a chain, generic headers included.</summary>
    public static int GetChainLength(IReadOnlyList<V1Payload> payloads)
    {
        int length = 0;
        foreach (var p in payloads) length += V1Constants.GenericHeaderLength + p.BodyLength;
        return length;
    }

    /// <summary>The chain with its Next Payload fields linked (the plaintext of an encrypted message, before padding).</summary>
    public static byte[] EncodeChain(IReadOnlyList<V1Payload> payloads)
    {
        var buffer = new byte[GetChainLength(payloads)];
        var w = new SpanWriter(buffer);
        WriteChain(ref w, payloads);
        return buffer;
    }

    /// <summary>
    /// A cleartext message: <paramref name="header"/>'s Next Payload and Length are set from the payloads, its E flag
    /// must be clear (an encrypted message is built by the protector from <see cref="EncodeChain"/>).
    /// </summary>
    public static byte[] Encode(IsakmpHeader header, IReadOnlyList<V1Payload> payloads)
    {
        if (header.Encrypted) throw new InvalidOperationException("An encrypted message is sealed by the protector.");
        int length = V1Constants.HeaderLength + GetChainLength(payloads);
        var buffer = new byte[length];
        var sent = header with { NextPayload = payloads.Count == 0 ? V1PayloadType.None : payloads[0].Type, Length = (uint)length };
        sent.Write(buffer);
        var w = new SpanWriter(buffer.AsSpan(V1Constants.HeaderLength));
        WriteChain(ref w, payloads);
        return buffer;
    }

    private static void WriteChain(ref SpanWriter w, IReadOnlyList<V1Payload> payloads)
    {
        for (int i = 0; i < payloads.Count; i++)
        {
            var p = payloads[i];
            int length = V1Constants.GenericHeaderLength + p.BodyLength;
            if (length > ushort.MaxValue) throw new InvalidOperationException($"{p.Type} payload longer than 65535 octets.");
            w.WriteUInt8((byte)(i + 1 < payloads.Count ? payloads[i + 1].Type : V1PayloadType.None));
            w.WriteUInt8(0);
            w.WriteUInt16((ushort)length);
            int before = w.Position;
            p.WriteBody(ref w);
            if (w.Position - before != p.BodyLength) throw new InvalidOperationException($"{p.Type} wrote a body of the wrong length.");
        }
    }
}
