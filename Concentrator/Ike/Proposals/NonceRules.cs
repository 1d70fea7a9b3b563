using Concentrator.Ike.Wire;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Proposals;

/// <summary>
/// RFC 7296 §2.10: nonces MUST be at least 128 bits and at least half the key size of the negotiated PRF
/// (HMAC-SHA2 PRFs use their output length as key size, RFC 4868 §2.1). The 16..256 octet range is checked
/// when the payload is parsed; the PRF half can only be checked once a suite is chosen.
/// </summary>
public static class NonceRules
{
    public static int MinLength(PrfAlgorithm prf) => Math.Max(ProtocolConstants.MinNonceLength, PrfKeyLength(prf) / 2);

    public static bool IsLongEnough(ReadOnlySpan<byte> nonce, PrfAlgorithm prf) => nonce.Length >= MinLength(prf);

    private static int PrfKeyLength(PrfAlgorithm prf) => prf switch
    {
        PrfAlgorithm.HmacSha2_256 => 32,
        PrfAlgorithm.HmacSha2_384 => 48,
        PrfAlgorithm.HmacSha2_512 => 64,
        PrfAlgorithm.HmacSha1 => 20,
        PrfAlgorithm.HmacMd5 => 16,
        _ => 16, // AES-XCBC/CMAC: 128-bit keys
    };
}
