namespace Concentrator.Ike.Wire;

/// <summary>Decodes and encodes whole IKE messages and payload chains.</summary>
public static class IkeCodec
{
    /// <summary>
    /// Parses the header and the unencrypted payload chain. An SK payload must be the last one and is
    /// returned as an <see cref="EncryptedPayload"/> with its <see cref="EncryptedPayload.Offset"/> set.
    /// </summary>
    public static ParseStatus TryDecode(ReadOnlySpan<byte> datagram, out IkeMessage? message) => throw new NotImplementedException();

    /// <summary>Parses a chain of payloads starting with <paramref name="first"/> (used for SK contents).</summary>
    public static ParseStatus TryDecodeChain(PayloadType first, ReadOnlySpan<byte> data, List<Payload> into) => throw new NotImplementedException();

    /// <summary>Encoded length of a chain, generic headers included.</summary>
    public static int GetChainLength(IReadOnlyList<Payload> payloads) => throw new NotImplementedException();

    /// <summary>Writes the chain with next-payload fields linked; returns bytes written.</summary>
    public static int WriteChain(IReadOnlyList<Payload> payloads, Span<byte> destination) => throw new NotImplementedException();

    /// <summary>Encodes a whole unencrypted message; the header's NextPayload and Length are filled in.</summary>
    public static byte[] Encode(IkeHeader header, IReadOnlyList<Payload> payloads) => throw new NotImplementedException();
}
