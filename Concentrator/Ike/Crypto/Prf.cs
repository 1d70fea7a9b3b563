using System.Security.Cryptography;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Crypto;

/// <summary>
/// An IKEv2 PRF (RFC 7296 §2.13). Only HMAC-based PRFs, which accept any key length (RFC 4868 §2.1.2);
/// fixed-key PRFs such as AES-XCBC-PRF-128 need the special rules of §2.14 and are not supported.
/// </summary>
public sealed class Prf
{
    private Prf(PrfAlgorithm algorithm, int outputLength)
    {
        Algorithm = algorithm;
        OutputLength = outputLength;
    }

    private static readonly Prf Sha1 = new(PrfAlgorithm.HmacSha1, 20);
    private static readonly Prf Sha256 = new(PrfAlgorithm.HmacSha2_256, 32);
    private static readonly Prf Sha384 = new(PrfAlgorithm.HmacSha2_384, 48);
    private static readonly Prf Sha512 = new(PrfAlgorithm.HmacSha2_512, 64);

    /// <exception cref="NotSupportedException">The PRF is not one of <see cref="Algorithms.IsSupported(PrfAlgorithm)"/>.</exception>
    public static Prf Create(PrfAlgorithm algorithm) => algorithm switch
    {
        PrfAlgorithm.HmacSha1 => Sha1,
        PrfAlgorithm.HmacSha2_256 => Sha256,
        PrfAlgorithm.HmacSha2_384 => Sha384,
        PrfAlgorithm.HmacSha2_512 => Sha512,
        _ => throw new NotSupportedException($"PRF {algorithm} is not supported"),
    };

    public PrfAlgorithm Algorithm { get; }

    /// <summary>Output bytes; also the preferred key length (RFC 4868 §2.1.2).</summary>
    public int OutputLength { get; }

    public byte[] Compute(ReadOnlySpan<byte> key, ReadOnlySpan<byte> data)
    {
        var output = new byte[OutputLength];
        Compute(key, data, output);
        return output;
    }

    /// <summary>Writes <see cref="OutputLength"/> bytes to <paramref name="destination"/>.</summary>
    public void Compute(ReadOnlySpan<byte> key, ReadOnlySpan<byte> data, Span<byte> destination)
    {
        switch (Algorithm)
        {
            case PrfAlgorithm.HmacSha1: HMACSHA1.HashData(key, data, destination); break;
            case PrfAlgorithm.HmacSha2_256: HMACSHA256.HashData(key, data, destination); break;
            case PrfAlgorithm.HmacSha2_384: HMACSHA384.HashData(key, data, destination); break;
            default: HMACSHA512.HashData(key, data, destination); break;
        }
    }
}
