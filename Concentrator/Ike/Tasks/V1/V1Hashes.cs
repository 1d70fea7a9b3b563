using System.Security.Cryptography;
using Concentrator.Ike.Crypto.V1;
using Concentrator.Ike.Sa.V1;
using Concentrator.Ike.Wire.V1;

namespace Concentrator.Ike.Tasks.V1;

/// <summary>
/// The HASH payloads of the exchanges after phase 1 (RFC 2409 §5.5 quick mode, §5.7 informational), computed with the
/// SA's SKEYID_a and compared in constant time: what a handler calls before <see cref="IkeV1Sa.CommitReceived"/>.
/// </summary>
public static class V1Hashes
{
    /// <summary>The first payload is HASH and equals prf(SKEYID_a, M-ID | rest of the chain): HASH(1) and the informational HASH.</summary>
    public static bool VerifyHash1(IkeV1Sa sa, V1Received message)
    {
        if (First(message) is not { } hash) return false;
        byte[] expected = V1KeyDerivation.QuickHash1(sa.Prf!, sa.SkeyidA, message.MessageId, message.AfterHash);
        return CryptographicOperations.FixedTimeEquals(expected, hash);
    }

    /// <summary>HASH(2) = prf(SKEYID_a, M-ID | Ni_b | rest of the chain).</summary>
    public static bool VerifyHash2(IkeV1Sa sa, V1Received message, ReadOnlySpan<byte> niBody)
    {
        if (First(message) is not { } hash) return false;
        byte[] expected = V1KeyDerivation.QuickHash2(sa.Prf!, sa.SkeyidA, message.MessageId, niBody, message.AfterHash);
        return CryptographicOperations.FixedTimeEquals(expected, hash);
    }

    /// <summary>HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b); the message carries nothing else that counts.</summary>
    public static bool VerifyHash3(IkeV1Sa sa, V1Received message, ReadOnlySpan<byte> niBody, ReadOnlySpan<byte> nrBody)
    {
        if (First(message) is not { } hash) return false;
        byte[] expected = V1KeyDerivation.QuickHash3(sa.Prf!, sa.SkeyidA, message.MessageId, niBody, nrBody);
        return CryptographicOperations.FixedTimeEquals(expected, hash);
    }

    /// <summary>
    /// A protected message whose HASH(1)-style payload covers <paramref name="rest"/>: the HASH payload first, then
    /// <paramref name="rest"/>, its value computed over the encoded chain of <paramref name="rest"/>.
    /// </summary>
    public static List<V1Payload> WithHash1(IkeV1Sa sa, uint messageId, IReadOnlyList<V1Payload> rest)
    {
        byte[] chain = IsakmpCodec.EncodeChain(rest);
        byte[] hash = V1KeyDerivation.QuickHash1(sa.Prf!, sa.SkeyidA, messageId, chain);
        var payloads = new List<V1Payload>(rest.Count + 1) { new V1DataPayload(V1PayloadType.Hash, hash) };
        payloads.AddRange(rest);
        return payloads;
    }

    /// <summary>HASH(2)-style: prf(SKEYID_a, M-ID | Ni_b | chain of <paramref name="rest"/>) first, then <paramref name="rest"/>.</summary>
    public static List<V1Payload> WithHash2(IkeV1Sa sa, uint messageId, ReadOnlySpan<byte> niBody, IReadOnlyList<V1Payload> rest)
    {
        byte[] chain = IsakmpCodec.EncodeChain(rest);
        byte[] hash = V1KeyDerivation.QuickHash2(sa.Prf!, sa.SkeyidA, messageId, niBody, chain);
        var payloads = new List<V1Payload>(rest.Count + 1) { new V1DataPayload(V1PayloadType.Hash, hash) };
        payloads.AddRange(rest);
        return payloads;
    }

    private static byte[]? First(V1Received message) =>
        message.Protected && message.Payloads.Count > 0 && message.Payloads[0] is V1DataPayload { Type: V1PayloadType.Hash } h ? h.Data : null;
}
