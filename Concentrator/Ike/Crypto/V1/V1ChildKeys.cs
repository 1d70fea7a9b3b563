using System.Buffers.Binary;
using System.Security.Cryptography;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Crypto.V1;

/// <summary>
/// Quick mode KEYMAT (RFC 2409 §5.5) split into the keys of <see cref="ChildKeys"/>. Each direction has its own KEYMAT,
/// keyed by the SPI its receiver chose: traffic from the quick mode initiator to its responder uses the responder's SPI,
/// the other direction the initiator's. Each KEYMAT is the encryption key (with the 4-octet salt last for GCM, RFC 4106
/// §8.1; 3 octets for CCM, RFC 4309 §7.1; the 4-octet nonce for CTR, RFC 3686 §5.1) followed by the integrity key, in
/// the lengths the data plane uses for IKEv2 (strongSwan keymat_v1.c derive_child_keys).
/// </summary>
public static class V1ChildKeys
{
    /// <param name="gqmxy">The quick mode DH shared secret with PFS, empty without.</param>
    /// <param name="initiatorSpi">The SPI the quick mode initiator chose (its inbound SA).</param>
    /// <param name="responderSpi">The SPI the quick mode responder chose (its inbound SA).</param>
    public static ChildKeys Derive(Prf prf, ReadOnlySpan<byte> skeyidD, EspSuite suite, ReadOnlySpan<byte> gqmxy,
        uint initiatorSpi, uint responderSpi, ReadOnlySpan<byte> niBody, ReadOnlySpan<byte> nrBody)
    {
        int encLen = Algorithms.EncryptionKeyMaterialLength(suite.Encryption, suite.KeyBits);
        int integLen = Algorithms.IntegrityKeyLength(suite.Integrity);
        Span<byte> spi = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(spi, responderSpi);
        byte[] toResponder = V1KeyDerivation.Keymat(prf, skeyidD, gqmxy, V1ProtocolId.Esp, spi, niBody, nrBody, encLen + integLen);
        BinaryPrimitives.WriteUInt32BigEndian(spi, initiatorSpi);
        byte[] toInitiator = V1KeyDerivation.Keymat(prf, skeyidD, gqmxy, V1ProtocolId.Esp, spi, niBody, nrBody, encLen + integLen);
        try
        {
            return new ChildKeys
            {
                EncrInitiator = toResponder[..encLen],
                IntegInitiator = toResponder[encLen..],
                EncrResponder = toInitiator[..encLen],
                IntegResponder = toInitiator[encLen..],
            };
        }
        finally
        {
            CryptographicOperations.ZeroMemory(toResponder);
            CryptographicOperations.ZeroMemory(toInitiator);
        }
    }
}
