using System.Buffers.Binary;
using System.Security.Cryptography;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Crypto.V1;

/// <summary>
/// The IKEv1 key derivation of RFC 2409 §5 and Appendix B, composed of the HMAC PRFs of <see cref="Prf"/> and the
/// hashes of System.Security.Cryptography. IKEv1's PRF is the HMAC of the negotiated hash (§4: no PRF attribute is
/// negotiated by any peer we interoperate with); its hash (phase 1 IV, §4.6 of Appendix B) is that hash.
/// Proven by NIST CAVP SP 800-135 IKEv1 vectors in Concentrator.Tests/Ike/Crypto/V1.
/// </summary>
public static class V1KeyDerivation
{
    /// <summary>The PRF of a phase 1 hash attribute (RFC 2409 Appendix A); MD5 and Tiger are refused.</summary>
    public static Prf PrfOf(Phase1Hash hash) => Prf.Create(hash switch
    {
        Phase1Hash.Sha1 => PrfAlgorithm.HmacSha1,
        Phase1Hash.Sha2_256 => PrfAlgorithm.HmacSha2_256,
        Phase1Hash.Sha2_384 => PrfAlgorithm.HmacSha2_384,
        Phase1Hash.Sha2_512 => PrfAlgorithm.HmacSha2_512,
        _ => throw new NotSupportedException($"IKEv1 hash {hash} is not supported"),
    });

    /// <summary>The plain hash behind an HMAC PRF.</summary>
    public static byte[] Hash(Prf prf, ReadOnlySpan<byte> data) => prf.Algorithm switch
    {
        PrfAlgorithm.HmacSha1 => SHA1.HashData(data),
        PrfAlgorithm.HmacSha2_256 => SHA256.HashData(data),
        PrfAlgorithm.HmacSha2_384 => SHA384.HashData(data),
        _ => SHA512.HashData(data),
    };

    /// <summary>§5: for pre-shared keys, SKEYID = prf(pre-shared-key, Ni_b | Nr_b).</summary>
    public static byte[] SkeyidPsk(Prf prf, ReadOnlySpan<byte> psk, ReadOnlySpan<byte> ni, ReadOnlySpan<byte> nr) =>
        prf.Compute(psk, Concat(ni, nr));

    /// <summary>§5: for signatures, SKEYID = prf(Ni_b | Nr_b, g^xy).</summary>
    public static byte[] SkeyidSignature(Prf prf, ReadOnlySpan<byte> ni, ReadOnlySpan<byte> nr, ReadOnlySpan<byte> gxy) =>
        prf.Compute(Concat(ni, nr), gxy);

    /// <summary>
    /// §5: SKEYID_d = prf(SKEYID, g^xy | CKY-I | CKY-R | 0), SKEYID_a = prf(SKEYID, SKEYID_d | g^xy | CKY-I | CKY-R | 1),
    /// SKEYID_e = prf(SKEYID, SKEYID_a | g^xy | CKY-I | CKY-R | 2).
    /// </summary>
    public static (byte[] D, byte[] A, byte[] E) DeriveSkeyids(Prf prf, ReadOnlySpan<byte> skeyid, ReadOnlySpan<byte> gxy,
        ReadOnlySpan<byte> ckyI, ReadOnlySpan<byte> ckyR)
    {
        byte[] d = prf.Compute(skeyid, Concat([], gxy, ckyI, ckyR, 0));
        byte[] a = prf.Compute(skeyid, Concat(d, gxy, ckyI, ckyR, 1));
        byte[] e = prf.Compute(skeyid, Concat(a, gxy, ckyI, ckyR, 2));
        return (d, a, e);
    }

    /// <summary>
    /// Appendix B: the cipher key is the first <paramref name="keyLength"/> octets of SKEYID_e, or, when SKEYID_e is
    /// shorter, of Ka = K1 | K2 | ... with K1 = prf(SKEYID_e, 0) (one zero octet) and Kn = prf(SKEYID_e, Kn-1).
    /// </summary>
    public static byte[] EncryptionKey(Prf prf, ReadOnlySpan<byte> skeyidE, int keyLength)
    {
        if (skeyidE.Length >= keyLength) return skeyidE[..keyLength].ToArray();
        var key = new byte[keyLength];
        byte[] previous = [0];
        for (int at = 0; at < keyLength; at += prf.OutputLength)
        {
            byte[] block = prf.Compute(skeyidE, previous);
            block.AsSpan(0, Math.Min(block.Length, keyLength - at)).CopyTo(key.AsSpan(at));
            CryptographicOperations.ZeroMemory(previous);
            previous = block;
        }

        CryptographicOperations.ZeroMemory(previous);
        return key;
    }

    /// <summary>Appendix B: the phase 1 IV is hash(g^xi | g^xr), cut to the cipher's block.</summary>
    public static byte[] Phase1Iv(Prf prf, ReadOnlySpan<byte> gxi, ReadOnlySpan<byte> gxr, int blockSize) =>
        Hash(prf, Concat(gxi, gxr))[..blockSize];

    /// <summary>
    /// Appendix B: the first IV of a phase 2 or informational exchange is hash(last phase 1 CBC block | M-ID),
    /// cut to the block; the M-ID is in network order.
    /// </summary>
    public static byte[] Phase2Iv(Prf prf, ReadOnlySpan<byte> lastPhase1Block, uint messageId)
    {
        Span<byte> mid = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(mid, messageId);
        return Hash(prf, Concat(lastPhase1Block, mid))[..lastPhase1Block.Length];
    }

    /// <summary>§5: HASH_I = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b). SAi_b and IDii_b are bodies, without generic headers.</summary>
    public static byte[] HashI(Prf prf, ReadOnlySpan<byte> skeyid, ReadOnlySpan<byte> gxi, ReadOnlySpan<byte> gxr,
        ReadOnlySpan<byte> ckyI, ReadOnlySpan<byte> ckyR, ReadOnlySpan<byte> saiBody, ReadOnlySpan<byte> idiiBody) =>
        prf.Compute(skeyid, Concat(gxi, gxr, ckyI, ckyR, saiBody, idiiBody));

    /// <summary>§5: HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b).</summary>
    public static byte[] HashR(Prf prf, ReadOnlySpan<byte> skeyid, ReadOnlySpan<byte> gxi, ReadOnlySpan<byte> gxr,
        ReadOnlySpan<byte> ckyI, ReadOnlySpan<byte> ckyR, ReadOnlySpan<byte> saiBody, ReadOnlySpan<byte> idirBody) =>
        prf.Compute(skeyid, Concat(gxr, gxi, ckyR, ckyI, saiBody, idirBody));

    /// <summary>
    /// §5.5: HASH(1) = prf(SKEYID_a, M-ID | SA | Ni [ | KE ] [ | IDci | IDcr ]) and the informational HASH of §5.7 —
    /// <paramref name="payloadsAfterHash"/> is the message's chain after its HASH payload, generic headers included.
    /// </summary>
    public static byte[] QuickHash1(Prf prf, ReadOnlySpan<byte> skeyidA, uint messageId, ReadOnlySpan<byte> payloadsAfterHash) =>
        prf.Compute(skeyidA, Concat(Mid(messageId), payloadsAfterHash));

    /// <summary>§5.5: HASH(2) = prf(SKEYID_a, M-ID | Ni_b | SA | Nr [ | KE ] [ | IDci | IDcr ]).</summary>
    public static byte[] QuickHash2(Prf prf, ReadOnlySpan<byte> skeyidA, uint messageId, ReadOnlySpan<byte> niBody, ReadOnlySpan<byte> payloadsAfterHash) =>
        prf.Compute(skeyidA, Concat(Mid(messageId), niBody, payloadsAfterHash));

    /// <summary>§5.5: HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b).</summary>
    public static byte[] QuickHash3(Prf prf, ReadOnlySpan<byte> skeyidA, uint messageId, ReadOnlySpan<byte> niBody, ReadOnlySpan<byte> nrBody) =>
        prf.Compute(skeyidA, Concat([0], Mid(messageId), niBody, nrBody));

    /// <summary>
    /// §5.5: KEYMAT = prf(SKEYID_d, [ g(qm)^xy | ] protocol | SPI | Ni_b | Nr_b), expanded to <paramref name="length"/>
    /// octets as K1 | K2 | ... with Kn = prf(SKEYID_d, Kn-1 | [ g(qm)^xy | ] protocol | SPI | Ni_b | Nr_b). With PFS
    /// <paramref name="gqmxy"/> is the quick mode shared secret, without it empty. The SPI is the one of the SA being
    /// keyed (the receiver's choice of each direction).
    /// </summary>
    public static byte[] Keymat(Prf prf, ReadOnlySpan<byte> skeyidD, ReadOnlySpan<byte> gqmxy, V1ProtocolId protocol,
        ReadOnlySpan<byte> spi, ReadOnlySpan<byte> niBody, ReadOnlySpan<byte> nrBody, int length)
    {
        byte[] seed = Concat(gqmxy, [(byte)protocol], spi, niBody, nrBody);
        var keymat = new byte[length];
        byte[] previous = [];
        for (int at = 0; at < length; at += prf.OutputLength)
        {
            byte[] input = Concat(previous, seed);
            byte[] block = prf.Compute(skeyidD, input);
            CryptographicOperations.ZeroMemory(input);
            block.AsSpan(0, Math.Min(block.Length, length - at)).CopyTo(keymat.AsSpan(at));
            CryptographicOperations.ZeroMemory(previous);
            previous = block;
        }

        CryptographicOperations.ZeroMemory(previous);
        CryptographicOperations.ZeroMemory(seed);
        return keymat;
    }

    private static byte[] Mid(uint messageId)
    {
        var mid = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(mid, messageId);
        return mid;
    }

    private static byte[] Concat(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b) => [.. a, .. b];

    private static byte[] Concat(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, ReadOnlySpan<byte> c, ReadOnlySpan<byte> d) => [.. a, .. b, .. c, .. d];

    private static byte[] Concat(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, ReadOnlySpan<byte> c, ReadOnlySpan<byte> d, byte last) =>
        [.. a, .. b, .. c, .. d, last];

    private static byte[] Concat(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, ReadOnlySpan<byte> c) => [.. a, .. b, .. c];

    private static byte[] Concat(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, ReadOnlySpan<byte> c, ReadOnlySpan<byte> d, ReadOnlySpan<byte> e) =>
        [.. a, .. b, .. c, .. d, .. e];

    private static byte[] Concat(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, ReadOnlySpan<byte> c, ReadOnlySpan<byte> d, ReadOnlySpan<byte> e,
        ReadOnlySpan<byte> f) => [.. a, .. b, .. c, .. d, .. e, .. f];
}
