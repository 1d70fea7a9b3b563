using Concentrator.Ike.Wire;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Proposals;

/// <summary>
/// strongSwan proposal keywords (libstrongswan crypto/proposal/proposal_keywords_static.txt),
/// limited to algorithms that have an IANA value in <see cref="Iana"/>-style enums here.
/// </summary>
internal static class ProposalKeywords
{
    internal readonly record struct Token(TransformType Type, ushort Algorithm, int KeyBits);

    private static readonly Dictionary<string, Token> Tokens = Build();

    public static bool TryGet(string keyword, out Token token) => Tokens.TryGetValue(keyword, out token);

    private static Dictionary<string, Token> Build()
    {
        var t = new Dictionary<string, Token>(StringComparer.OrdinalIgnoreCase);
        void Encr(string name, EncrAlgorithm alg, int bits) => t[name] = new(TransformType.Encryption, (ushort)alg, bits);
        void Integ(string name, IntegAlgorithm alg) => t[name] = new(TransformType.Integrity, (ushort)alg, 0);
        void Prf(string name, PrfAlgorithm alg) => t[name] = new(TransformType.Prf, (ushort)alg, 0);
        void Dh(string name, DhGroup g) => t[name] = new(TransformType.DiffieHellman, (ushort)g, 0);

        Encr("null", EncrAlgorithm.Null, 0);
        Encr("des", EncrAlgorithm.Des, 64);
        Encr("3des", EncrAlgorithm.TripleDes, 192);
        Encr("aes", EncrAlgorithm.AesCbc, 128);
        foreach (var bits in new[] { 128, 192, 256 })
        {
            Encr($"aes{bits}", EncrAlgorithm.AesCbc, bits);
            Encr($"aes{bits}ctr", EncrAlgorithm.AesCtr, bits);
            // ICV length in octets (8/12/16) or bits (64/96/128); no suffix means 16 octets.
            foreach (var (suffixes, gcm, ccm) in new[]
            {
                (new[] { "8", "64" }, EncrAlgorithm.AesGcm8, EncrAlgorithm.AesCcm8),
                (new[] { "12", "96" }, EncrAlgorithm.AesGcm12, EncrAlgorithm.AesCcm12),
                (new[] { "16", "128", "" }, EncrAlgorithm.AesGcm16, EncrAlgorithm.AesCcm16),
            })
            {
                foreach (var s in suffixes)
                {
                    Encr($"aes{bits}gcm{s}", gcm, bits);
                    Encr($"aes{bits}ccm{s}", ccm, bits);
                }
            }
        }
        Encr("chacha20poly1305", EncrAlgorithm.ChaCha20Poly1305, 256);

        Integ("md5", IntegAlgorithm.HmacMd5_96);
        Integ("sha", IntegAlgorithm.HmacSha1_96);
        Integ("sha1", IntegAlgorithm.HmacSha1_96);
        Integ("sha256", IntegAlgorithm.HmacSha2_256_128);
        Integ("sha2_256", IntegAlgorithm.HmacSha2_256_128);
        Integ("sha384", IntegAlgorithm.HmacSha2_384_192);
        Integ("sha2_384", IntegAlgorithm.HmacSha2_384_192);
        Integ("sha512", IntegAlgorithm.HmacSha2_512_256);
        Integ("sha2_512", IntegAlgorithm.HmacSha2_512_256);
        Integ("aesxcbc", IntegAlgorithm.AesXcbc96);

        Prf("prfmd5", PrfAlgorithm.HmacMd5);
        Prf("prfsha1", PrfAlgorithm.HmacSha1);
        Prf("prfsha256", PrfAlgorithm.HmacSha2_256);
        Prf("prfsha384", PrfAlgorithm.HmacSha2_384);
        Prf("prfsha512", PrfAlgorithm.HmacSha2_512);
        Prf("prfaesxcbc", PrfAlgorithm.AesXcbc);
        Prf("prfaescmac", PrfAlgorithm.AesCmac);

        // "none" is the explicit "no PFS" DH transform (ESP only; strongSwan drops it from IKE).
        Dh("none", DhGroup.None);
        Dh("modpnone", DhGroup.None);
        Dh("modp768", DhGroup.Modp768);
        Dh("modp1024", DhGroup.Modp1024);
        Dh("modp1536", DhGroup.Modp1536);
        Dh("modp2048", DhGroup.Modp2048);
        Dh("modp3072", DhGroup.Modp3072);
        Dh("modp4096", DhGroup.Modp4096);
        Dh("modp6144", DhGroup.Modp6144);
        Dh("modp8192", DhGroup.Modp8192);
        Dh("ecp256", DhGroup.Ecp256);
        Dh("ecp384", DhGroup.Ecp384);
        Dh("ecp521", DhGroup.Ecp521);
        Dh("curve25519", DhGroup.Curve25519);
        Dh("x25519", DhGroup.Curve25519);
        Dh("curve448", DhGroup.Curve448);
        Dh("x448", DhGroup.Curve448);

        t["esn"] = new(TransformType.ExtendedSequenceNumbers, (ushort)EsnMode.Esn, 0);
        t["noesn"] = new(TransformType.ExtendedSequenceNumbers, (ushort)EsnMode.NoEsn, 0);
        return t;
    }

    /// <summary>Integrity algorithm to the PRF built on the same hash (strongSwan integ_prf_map).</summary>
    public static PrfAlgorithm ImpliedPrf(IntegAlgorithm integ) => integ switch
    {
        IntegAlgorithm.HmacSha1_96 => PrfAlgorithm.HmacSha1,
        IntegAlgorithm.HmacSha2_256_128 => PrfAlgorithm.HmacSha2_256,
        IntegAlgorithm.HmacSha2_384_192 => PrfAlgorithm.HmacSha2_384,
        IntegAlgorithm.HmacSha2_512_256 => PrfAlgorithm.HmacSha2_512,
        IntegAlgorithm.HmacMd5_96 => PrfAlgorithm.HmacMd5,
        IntegAlgorithm.AesXcbc96 => PrfAlgorithm.AesXcbc,
        _ => PrfAlgorithm.None,
    };

    public static string Name(EncryptionChoice c) => c.Algorithm switch
    {
        EncrAlgorithm.Null => "null",
        EncrAlgorithm.Des => "des",
        EncrAlgorithm.TripleDes => "3des",
        EncrAlgorithm.AesCbc => $"aes{c.KeyBits}",
        EncrAlgorithm.AesCtr => $"aes{c.KeyBits}ctr",
        EncrAlgorithm.AesGcm8 => $"aes{c.KeyBits}gcm8",
        EncrAlgorithm.AesGcm12 => $"aes{c.KeyBits}gcm12",
        EncrAlgorithm.AesGcm16 => $"aes{c.KeyBits}gcm16",
        EncrAlgorithm.AesCcm8 => $"aes{c.KeyBits}ccm8",
        EncrAlgorithm.AesCcm12 => $"aes{c.KeyBits}ccm12",
        EncrAlgorithm.AesCcm16 => $"aes{c.KeyBits}ccm16",
        EncrAlgorithm.ChaCha20Poly1305 => "chacha20poly1305",
        _ => $"encr{(ushort)c.Algorithm}_{c.KeyBits}",
    };

    public static string Name(IntegAlgorithm a) => a switch
    {
        IntegAlgorithm.HmacMd5_96 => "md5",
        IntegAlgorithm.HmacSha1_96 => "sha1",
        IntegAlgorithm.HmacSha2_256_128 => "sha256",
        IntegAlgorithm.HmacSha2_384_192 => "sha384",
        IntegAlgorithm.HmacSha2_512_256 => "sha512",
        IntegAlgorithm.AesXcbc96 => "aesxcbc",
        _ => $"integ{(ushort)a}",
    };

    public static string Name(PrfAlgorithm a) => a switch
    {
        PrfAlgorithm.HmacMd5 => "prfmd5",
        PrfAlgorithm.HmacSha1 => "prfsha1",
        PrfAlgorithm.HmacSha2_256 => "prfsha256",
        PrfAlgorithm.HmacSha2_384 => "prfsha384",
        PrfAlgorithm.HmacSha2_512 => "prfsha512",
        PrfAlgorithm.AesXcbc => "prfaesxcbc",
        PrfAlgorithm.AesCmac => "prfaescmac",
        _ => $"prf{(ushort)a}",
    };

    public static string Name(DhGroup g) => g switch
    {
        DhGroup.None => "none",
        DhGroup.Curve25519 => "curve25519",
        DhGroup.Curve448 => "curve448",
        DhGroup.Ecp256 => "ecp256",
        DhGroup.Ecp384 => "ecp384",
        DhGroup.Ecp521 => "ecp521",
        DhGroup.Modp768 => "modp768",
        DhGroup.Modp1024 => "modp1024",
        DhGroup.Modp1536 => "modp1536",
        DhGroup.Modp2048 => "modp2048",
        DhGroup.Modp3072 => "modp3072",
        DhGroup.Modp4096 => "modp4096",
        DhGroup.Modp6144 => "modp6144",
        DhGroup.Modp8192 => "modp8192",
        _ => $"dh{(ushort)g}",
    };

    public static string Name(EsnMode e) => e == EsnMode.Esn ? "esn" : "noesn";
}
