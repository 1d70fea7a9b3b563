using Concentrator.Ipsec;

namespace Concentrator.Ike.Wire;

/// <summary>Decodes and encodes whole IKE messages and payload chains.</summary>
/// <remarks>
/// Decoding walks the chain by the generic headers (RFC 7296 §3.2): every payload length is at least 4
/// and within the bytes left, so the walk always advances and ends; the payload count is capped by
/// <c>maxPayloads</c> (charon.max_payloads, default <see cref="WireLimits.MaxPayloadsPerMessage"/>). Nothing here throws on peer input.
/// Encoding is local: a payload that cannot be encoded (too long, inconsistent fields) throws.
/// </remarks>
public static class IkeCodec
{
    /// <summary>
    /// Parses the header and the unencrypted payload chain. An SK payload must be the last one and is
    /// returned as an <see cref="EncryptedPayload"/> with its <see cref="EncryptedPayload.Offset"/> set.
    /// </summary>
    public static ParseStatus TryDecode(ReadOnlySpan<byte> datagram, out IkeMessage? message) =>
        TryDecode(datagram, out message, out _);

    /// <summary>
    /// As <see cref="TryDecode(ReadOnlySpan{byte}, out IkeMessage?)"/>; on
    /// <see cref="ParseStatus.UnsupportedCriticalPayload"/> <paramref name="offendingType"/> is the type to put
    /// in the UNSUPPORTED_CRITICAL_PAYLOAD notification (RFC 7296 §3.10.1), otherwise None.
    /// On any non-Ok status <paramref name="message"/> is null; the header alone is available from
    /// <see cref="IkeHeader.TryParse"/>.
    /// </summary>
    public static ParseStatus TryDecode(ReadOnlySpan<byte> datagram, out IkeMessage? message, out PayloadType offendingType,
        int maxPayloads = WireLimits.MaxPayloadsPerMessage)
    {
        message = null;
        offendingType = PayloadType.None;
        var status = IkeHeader.TryParse(datagram, out var header);
        return status != ParseStatus.Ok ? status : TryDecode(datagram, header, out message, out offendingType, maxPayloads);
    }

    /// <summary>
    /// As <see cref="TryDecode(ReadOnlySpan{byte}, out IkeMessage?, out PayloadType, int)"/> for a datagram whose
    /// <paramref name="header"/> was already parsed (and checked) by <see cref="IkeHeader.TryParse"/>: the header is
    /// parsed once per datagram, where it enters the node.
    /// </summary>
    public static ParseStatus TryDecode(ReadOnlySpan<byte> datagram, in IkeHeader header, out IkeMessage? message, out PayloadType offendingType,
        int maxPayloads = WireLimits.MaxPayloadsPerMessage)
    {
        message = null;
        var payloads = new List<Payload>();
        var status = DecodeChain(header.NextPayload, datagram[ProtocolConstants.IkeHeaderLength..],
            ProtocolConstants.IkeHeaderLength, allowEncrypted: true, payloads, maxPayloads, out offendingType);
        if (status != ParseStatus.Ok) return status;
        message = new IkeMessage(header, payloads);
        return ParseStatus.Ok;
    }

    /// <summary>Parses a chain of payloads starting with <paramref name="first"/> (used for SK contents).</summary>
    /// <remarks>An SK/SKF payload inside is <see cref="ParseStatus.BadPayloadSequence"/>. <paramref name="into"/> is only appended to on Ok.</remarks>
    public static ParseStatus TryDecodeChain(PayloadType first, ReadOnlySpan<byte> data, List<Payload> into) =>
        TryDecodeChain(first, data, into, out _);

    /// <summary>As <see cref="TryDecodeChain(PayloadType, ReadOnlySpan{byte}, List{Payload})"/>, reporting the unsupported critical payload type.</summary>
    public static ParseStatus TryDecodeChain(PayloadType first, ReadOnlySpan<byte> data, List<Payload> into, out PayloadType offendingType,
        int maxPayloads = WireLimits.MaxPayloadsPerMessage)
    {
        ArgumentNullException.ThrowIfNull(into);
        var payloads = new List<Payload>();
        var status = DecodeChain(first, data, baseOffset: -1, allowEncrypted: false, payloads, maxPayloads, out offendingType);
        if (status == ParseStatus.Ok) into.AddRange(payloads);
        return status;
    }

    /// <summary>Encoded length of a chain, generic headers included.</summary>
    public static int GetChainLength(IReadOnlyList<Payload> payloads)
    {
        int length = 0;
        foreach (var p in payloads) length += ProtocolConstants.GenericPayloadHeaderLength + p.BodyLength;
        return length;
    }

    /// <summary>Writes the chain with next-payload fields linked; returns bytes written.</summary>
    /// <remarks>
    /// An SK/SKF payload must be last; its Next Payload is <see cref="EncryptedPayload.FirstInner"/> (§3.14).
    /// The critical bit is sent as 0 for every payload we define (§2.5); an <see cref="UnknownPayload"/> keeps its own.
    /// </remarks>
    public static int WriteChain(IReadOnlyList<Payload> payloads, Span<byte> destination)
    {
        int total = GetChainLength(payloads);
        if (destination.Length < total) throw new ArgumentException("Destination is shorter than the chain.", nameof(destination));

        var w = new SpanWriter(destination);
        for (int i = 0; i < payloads.Count; i++)
        {
            var p = payloads[i];
            bool isLast = i == payloads.Count - 1;
            PayloadType next;
            if (p is EncryptedPayload sk)
            {
                if (!isLast) throw new InvalidOperationException("An SK/SKF payload must be the last payload of its chain.");
                next = sk.FirstInner;
            }
            else
            {
                next = isLast ? PayloadType.None : payloads[i + 1].Type;
            }

            int bodyLength = p.BodyLength;
            int length = ProtocolConstants.GenericPayloadHeaderLength + bodyLength;
            if (length > ushort.MaxValue) throw new InvalidOperationException($"{p.Type} payload longer than 65535 octets.");
            w.WriteUInt8((byte)next);
            w.WriteUInt8(p is UnknownPayload && p.Critical ? ProtocolConstants.CriticalFlag : (byte)0);
            w.WriteUInt16((ushort)length);
            int start = w.Position;
            p.WriteBody(ref w);
            if (w.Position - start != bodyLength)
            {
                throw new InvalidOperationException($"{p.Type} payload wrote {w.Position - start} octets but declared {bodyLength}.");
            }
        }

        return w.Position;
    }

    /// <summary>Encodes a whole unencrypted message; the header's NextPayload and Length are filled in.</summary>
    public static byte[] Encode(IkeHeader header, IReadOnlyList<Payload> payloads)
    {
        int length = ProtocolConstants.IkeHeaderLength + GetChainLength(payloads);
        var buffer = new byte[length];
        var h = header with
        {
            NextPayload = payloads.Count > 0 ? payloads[0].Type : PayloadType.None,
            Length = (uint)length,
        };
        h.Write(buffer);
        WriteChain(payloads, buffer.AsSpan(ProtocolConstants.IkeHeaderLength));
        return buffer;
    }

    /// <param name="baseOffset">Offset of <paramref name="data"/> in the datagram, or -1 for SK contents.</param>
    private static ParseStatus DecodeChain(PayloadType first, ReadOnlySpan<byte> data, int baseOffset, bool allowEncrypted,
        List<Payload> into, int maxPayloads, out PayloadType offendingType)
    {
        offendingType = PayloadType.None;
        var r = new SpanReader(data);
        var next = first;
        while (next != PayloadType.None)
        {
            if (into.Count >= maxPayloads) return ParseStatus.TooManyPayloads;
            int headerOffset = r.Position;
            if (!r.TryReadUInt8(out byte following) || !r.TryReadUInt8(out byte flags) || !r.TryReadUInt16(out ushort length))
            {
                return ParseStatus.Truncated;
            }

            if (length < ProtocolConstants.GenericPayloadHeaderLength ||
                !r.TryReadBytes(length - ProtocolConstants.GenericPayloadHeaderLength, out var body))
            {
                return ParseStatus.BadLength;
            }

            bool critical = (flags & ProtocolConstants.CriticalFlag) != 0;
            if (next is PayloadType.Encrypted or PayloadType.EncryptedFragment)
            {
                // §3.14: SK's Next Payload names the first inner payload, so nothing can follow it in clear.
                if (!allowEncrypted || r.Remaining != 0) return ParseStatus.BadPayloadSequence;
                var status = TryParseEncrypted(next, (PayloadType)following, body,
                    baseOffset < 0 ? -1 : baseOffset + headerOffset, out var sk);
                if (status != ParseStatus.Ok) return status;
                sk!.SetReceivedCritical(critical);
                into.Add(sk);
                return ParseStatus.Ok;
            }

            var bodyStatus = TryParseBody(next, body, out var payload);
            if (bodyStatus != ParseStatus.Ok) return bodyStatus;
            if (payload is null)
            {
                // §2.5: an unrecognised payload is rejected if critical, otherwise skipped (kept for the chain).
                if (critical)
                {
                    offendingType = next;
                    return ParseStatus.UnsupportedCriticalPayload;
                }

                payload = new UnknownPayload(next, body.ToArray());
            }

            payload.SetReceivedCritical(critical);
            into.Add(payload);
            next = (PayloadType)following;
        }

        return r.Remaining == 0 ? ParseStatus.Ok : ParseStatus.BadLength;
    }

    /// <summary>Parses a known payload body; Ok with a null payload means the type is not one we know.</summary>
    private static ParseStatus TryParseBody(PayloadType type, ReadOnlySpan<byte> body, out Payload? payload)
    {
        ParseStatus status;
        switch (type)
        {
            case PayloadType.SecurityAssociation: status = SaPayload.TryParse(body, out var sa); payload = sa; break;
            case PayloadType.KeyExchange: status = KePayload.TryParse(body, out var ke); payload = ke; break;
            case PayloadType.IdInitiator:
            case PayloadType.IdResponder: status = IdPayload.TryParse(type, body, out var id); payload = id; break;
            case PayloadType.Certificate:
            case PayloadType.CertificateRequest: status = CertPayload.TryParse(type, body, out var cert); payload = cert; break;
            case PayloadType.Authentication: status = AuthPayload.TryParse(body, out var auth); payload = auth; break;
            case PayloadType.Nonce: status = NoncePayload.TryParse(body, out var nonce); payload = nonce; break;
            case PayloadType.Notify: status = NotifyPayload.TryParse(body, out var notify); payload = notify; break;
            case PayloadType.Delete: status = DeletePayload.TryParse(body, out var delete); payload = delete; break;
            case PayloadType.VendorId: status = VendorIdPayload.TryParse(body, out var vid); payload = vid; break;
            case PayloadType.TsInitiator:
            case PayloadType.TsResponder: status = TsPayload.TryParse(type, body, out var ts); payload = ts; break;
            case PayloadType.Configuration: status = ConfigPayload.TryParse(body, out var cp); payload = cp; break;
            case PayloadType.Eap: status = EapPayload.TryParse(body, out var eap); payload = eap; break;
            default: payload = null; return ParseStatus.Ok;
        }

        return status;
    }

    private static ParseStatus TryParseEncrypted(PayloadType type, PayloadType firstInner, ReadOnlySpan<byte> body, int offset,
        out EncryptedPayload? payload)
    {
        payload = null;
        bool fragment = type == PayloadType.EncryptedFragment;
        if (fragment)
        {
            var r = new SpanReader(body);
            if (!r.TryReadUInt16(out ushort number) || !r.TryReadUInt16(out ushort total)) return ParseStatus.BadLength;
            // RFC 7383 §2.5/§2.6.1: fragments are numbered 1..Total.
            if (number == 0 || number > total) return ParseStatus.InvalidSyntax;
        }

        payload = new EncryptedPayload(firstInner, body.ToArray(), offset) { IsFragment = fragment };
        return ParseStatus.Ok;
    }
}
