using System.Buffers.Binary;
using System.Security.Cryptography;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Crypto;

/// <summary>IKEv2 key derivation (RFC 7296 §2.13, §2.14, §2.17, §2.18).</summary>
public static class KeyDerivation
{
    /// <summary>
    /// prf+ (RFC 7296 §2.13): T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n), output T1 | T2 | ...
    /// truncated to <paramref name="length"/>. At most 255 blocks exist.
    /// </summary>
    public static byte[] PrfPlus(Prf prf, ReadOnlySpan<byte> key, ReadOnlySpan<byte> seed, int length)
    {
        ArgumentNullException.ThrowIfNull(prf);
        int outLen = prf.OutputLength;
        if (length < 0 || length > 255 * outLen)
        {
            throw new ArgumentOutOfRangeException(nameof(length), $"prf+ yields at most {255 * outLen} bytes");
        }

        var result = new byte[length];
        // input = Tn-1 | S | n; T0 is empty.
        var input = new byte[outLen + seed.Length + 1];
        var block = new byte[outLen];
        try
        {
            int prevLen = 0;
            int written = 0;
            for (int n = 1; written < length; n++)
            {
                seed.CopyTo(input.AsSpan(prevLen));
                input[prevLen + seed.Length] = (byte)n;
                prf.Compute(key, input.AsSpan(0, prevLen + seed.Length + 1), block);
                int take = Math.Min(outLen, length - written);
                block.AsSpan(0, take).CopyTo(result.AsSpan(written));
                written += take;
                block.CopyTo(input, 0);
                prevLen = outLen;
            }
            return result;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(input);
            CryptographicOperations.ZeroMemory(block);
        }
    }

    /// <summary>RFC 7296 §2.14: SKEYSEED = prf(Ni | Nr, g^ir); {SK_d | SK_ai | ... | SK_pr} = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr).</summary>
    public static IkeKeys DeriveIkeSaKeys(IkeSuite suite, ReadOnlySpan<byte> sharedSecret, ReadOnlySpan<byte> ni, ReadOnlySpan<byte> nr, ulong spii, ulong spir)
    {
        var prf = Prf.Create(suite.Prf);
        var nonces = Concat(ni, nr);
        var skeyseed = prf.Compute(nonces, sharedSecret);
        try
        {
            return FromSkeyseed(suite, prf, skeyseed, ni, nr, spii, spir);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(skeyseed);
        }
    }

    /// <summary>
    /// RFC 7296 §2.18: SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr), computed with the old IKE SA's PRF;
    /// the keys then follow §2.14 with the new SA's PRF, nonces and SPIs.
    /// </summary>
    public static IkeKeys DeriveRekeyedIkeSaKeys(IkeSuite newSuite, PrfAlgorithm oldPrf, ReadOnlySpan<byte> oldSkD, ReadOnlySpan<byte> sharedSecret, ReadOnlySpan<byte> ni, ReadOnlySpan<byte> nr, ulong spii, ulong spir)
    {
        var old = Prf.Create(oldPrf);
        var prf = Prf.Create(newSuite.Prf);
        var data = Concat(sharedSecret, ni, nr);
        var skeyseed = old.Compute(oldSkD, data);
        try
        {
            return FromSkeyseed(newSuite, prf, skeyseed, ni, nr, spii, spir);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(data);
            CryptographicOperations.ZeroMemory(skeyseed);
        }
    }

    /// <summary>
    /// RFC 7296 §2.17: KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr), taken as encr_i | integ_i | encr_r | integ_r.
    /// An empty <paramref name="sharedSecret"/> means no PFS exchange (also the first Child SA in IKE_AUTH).
    /// </summary>
    public static ChildKeys DeriveChildSaKeys(PrfAlgorithm prf, ReadOnlySpan<byte> skD, EspSuite suite, ReadOnlySpan<byte> sharedSecret, ReadOnlySpan<byte> ni, ReadOnlySpan<byte> nr)
    {
        var p = Prf.Create(prf);
        int encLen = Algorithms.EncryptionKeyMaterialLength(suite.Encryption, suite.KeyBits);
        int integLen = IntegrityLength(suite.Encryption, suite.Integrity, allowNone: true);
        var seed = Concat(sharedSecret, ni, nr);
        var keymat = PrfPlus(p, skD, seed, 2 * (encLen + integLen));
        try
        {
            int at = 0;
            return new ChildKeys
            {
                EncrInitiator = Take(keymat, ref at, encLen),
                IntegInitiator = Take(keymat, ref at, integLen),
                EncrResponder = Take(keymat, ref at, encLen),
                IntegResponder = Take(keymat, ref at, integLen),
            };
        }
        finally
        {
            CryptographicOperations.ZeroMemory(seed);
            CryptographicOperations.ZeroMemory(keymat);
        }
    }

    private static IkeKeys FromSkeyseed(IkeSuite suite, Prf prf, byte[] skeyseed, ReadOnlySpan<byte> ni, ReadOnlySpan<byte> nr, ulong spii, ulong spir)
    {
        int dLen = prf.OutputLength;
        int aLen = IntegrityLength(suite.Encryption, suite.Integrity, allowNone: false);
        int eLen = Algorithms.EncryptionKeyMaterialLength(suite.Encryption, suite.KeyBits);
        int pLen = prf.OutputLength;

        var seed = new byte[ni.Length + nr.Length + 16];
        ni.CopyTo(seed);
        nr.CopyTo(seed.AsSpan(ni.Length));
        BinaryPrimitives.WriteUInt64BigEndian(seed.AsSpan(ni.Length + nr.Length), spii);
        BinaryPrimitives.WriteUInt64BigEndian(seed.AsSpan(ni.Length + nr.Length + 8), spir);

        var keymat = PrfPlus(prf, skeyseed, seed, dLen + 2 * aLen + 2 * eLen + 2 * pLen);
        try
        {
            int at = 0;
            return new IkeKeys
            {
                SkD = Take(keymat, ref at, dLen),
                SkAi = Take(keymat, ref at, aLen),
                SkAr = Take(keymat, ref at, aLen),
                SkEi = Take(keymat, ref at, eLen),
                SkEr = Take(keymat, ref at, eLen),
                SkPi = Take(keymat, ref at, pLen),
                SkPr = Take(keymat, ref at, pLen),
            };
        }
        finally
        {
            CryptographicOperations.ZeroMemory(keymat);
        }
    }

    /// <summary>
    /// Integrity key bytes for a suite. AEADs carry no integrity transform (RFC 5282 §8, RFC 7634 §2), so SK_a is empty;
    /// a non-AEAD IKE cipher without integrity is not a valid IKE suite.
    /// </summary>
    private static int IntegrityLength(EncrAlgorithm encr, IntegAlgorithm integ, bool allowNone)
    {
        if (Algorithms.IsAead(encr))
        {
            return integ == IntegAlgorithm.None
                ? 0
                : throw new ArgumentException($"AEAD cipher {encr} must not be combined with integrity {integ}", nameof(integ));
        }

        if (integ == IntegAlgorithm.None && !allowNone)
        {
            throw new ArgumentException($"non-AEAD cipher {encr} needs an integrity algorithm", nameof(integ));
        }

        return Algorithms.IntegrityKeyLength(integ);
    }

    private static byte[] Take(byte[] keymat, ref int at, int length)
    {
        var key = keymat.AsSpan(at, length).ToArray();
        at += length;
        return key;
    }

    private static byte[] Concat(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        var r = new byte[a.Length + b.Length];
        a.CopyTo(r);
        b.CopyTo(r.AsSpan(a.Length));
        return r;
    }

    private static byte[] Concat(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, ReadOnlySpan<byte> c)
    {
        var r = new byte[a.Length + b.Length + c.Length];
        a.CopyTo(r);
        b.CopyTo(r.AsSpan(a.Length));
        c.CopyTo(r.AsSpan(a.Length + b.Length));
        return r;
    }
}
