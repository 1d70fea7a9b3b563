using System.Security.Cryptography;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Crypto;

/// <summary>Truncated-HMAC integrity transforms (RFC 2404, RFC 4868 §2.3): the ICV is the leftmost bytes of the HMAC.</summary>
public static class Integrity
{
    /// <summary>Writes the <see cref="Algorithms.IntegrityIcvLength"/>-byte ICV of <paramref name="data"/> to <paramref name="icv"/>.</summary>
    /// <exception cref="NotSupportedException">The algorithm is not one of <see cref="Algorithms.IsSupported(IntegAlgorithm)"/>.</exception>
    public static void Compute(IntegAlgorithm alg, ReadOnlySpan<byte> key, ReadOnlySpan<byte> data, Span<byte> icv)
    {
        Span<byte> full = stackalloc byte[64];
        int n = alg switch
        {
            IntegAlgorithm.HmacSha1_96 => HMACSHA1.HashData(key, data, full),
            IntegAlgorithm.HmacSha2_256_128 => HMACSHA256.HashData(key, data, full),
            IntegAlgorithm.HmacSha2_384_192 => HMACSHA384.HashData(key, data, full),
            IntegAlgorithm.HmacSha2_512_256 => HMACSHA512.HashData(key, data, full),
            _ => throw new NotSupportedException($"integrity algorithm {alg} is not supported"),
        };
        full[..Algorithms.IntegrityIcvLength(alg)].CopyTo(icv);
        CryptographicOperations.ZeroMemory(full[..n]);
    }

    public static byte[] Compute(IntegAlgorithm alg, ReadOnlySpan<byte> key, ReadOnlySpan<byte> data)
    {
        var icv = new byte[Algorithms.IntegrityIcvLength(alg)];
        Compute(alg, key, data, icv);
        return icv;
    }

    /// <summary>Constant-time comparison of the expected ICV with <paramref name="received"/>.</summary>
    public static bool Verify(IntegAlgorithm alg, ReadOnlySpan<byte> key, ReadOnlySpan<byte> data, ReadOnlySpan<byte> received)
    {
        int len = Algorithms.IntegrityIcvLength(alg);
        if (received.Length != len) return false;
        Span<byte> expected = stackalloc byte[32];
        Compute(alg, key, data, expected);
        return CryptographicOperations.FixedTimeEquals(expected[..len], received);
    }
}
