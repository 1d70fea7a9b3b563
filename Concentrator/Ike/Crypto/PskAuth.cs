using System.Security.Cryptography;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Crypto;

/// <summary>Shared-key AUTH payload data (RFC 7296 §2.15).</summary>
public static class PskAuth
{
    /// <summary>The 17 ASCII octets "Key Pad for IKEv2", without terminator (RFC 7296 §2.15).</summary>
    private static ReadOnlySpan<byte> KeyPad => "Key Pad for IKEv2"u8;

    /// <summary>RFC 7296 §2.15: prf(prf(PSK, "Key Pad for IKEv2"), signedMessage | peerNonce | prf(SK_p, idBody)).</summary>
    public static byte[] Compute(PrfAlgorithm prf, ReadOnlySpan<byte> psk, ReadOnlySpan<byte> signedMessage, ReadOnlySpan<byte> peerNonce, ReadOnlySpan<byte> skP, ReadOnlySpan<byte> idBody)
    {
        var p = Prf.Create(prf);
        var signedOctets = AuthOctets.Build(prf, signedMessage, peerNonce, skP, idBody);

        var padKey = p.Compute(psk, KeyPad);
        try
        {
            return p.Compute(padKey, signedOctets);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(padKey);
        }
    }

    /// <summary>Constant-time check of a received AUTH value.</summary>
    public static bool Verify(PrfAlgorithm prf, ReadOnlySpan<byte> psk, ReadOnlySpan<byte> signedMessage, ReadOnlySpan<byte> peerNonce, ReadOnlySpan<byte> skP, ReadOnlySpan<byte> idBody, ReadOnlySpan<byte> received)
    {
        var expected = Compute(prf, psk, signedMessage, peerNonce, skP, idBody);
        try
        {
            return received.Length == expected.Length && CryptographicOperations.FixedTimeEquals(expected, received);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(expected);
        }
    }
}
