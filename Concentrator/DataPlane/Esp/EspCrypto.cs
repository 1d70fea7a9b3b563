using System.Runtime.InteropServices;
using Concentrator.DataPlane.Native;
using Concentrator.Ipsec;

namespace Concentrator.DataPlane.Esp;

/// <summary>Which library an ESP transform calls.</summary>
public enum EspCryptoLibrary
{
    /// <summary>OpenSSL EVP contexts through P/Invoke: one keyed context per transform, single-pass verification.</summary>
    OpenSslEvp,

    /// <summary>System.Security.Cryptography (AesGcm, ChaCha20Poly1305, Aes): the fallback.</summary>
    DotNet,

    /// <summary>intel-ipsec-mb's AES-GCM-128/256 one-shot functions (<see cref="IpsecMbAeadEspCipher"/>).</summary>
    IpsecMb,
}

/// <summary>
/// The ESP crypto library, selected once per process: OpenSSL EVP for every cipher that libcrypto.so.3
/// loads with and keys, System.Security.Cryptography for the rest (or for all when the library is missing);
/// AES-GCM-128/256 go to intel-ipsec-mb when <c>EspCrypto.IpsecMb.cs</c> selects it.
/// The probe runs at first use, on the control plane.
/// </summary>
public static partial class EspCrypto
{
    private static readonly IntPtr[] s_evpCiphers;

    static EspCrypto() => s_evpCiphers = Probe(out s_description);

    private static readonly string s_description;

    /// <summary>
    /// One line for the start-up log and /dataplane, e.g. "OpenSSL 3.0.19 27 Jan 2026 EVP; AES-GCM-128/256:
    /// intel-ipsec-mb 1.3.0 vaes_avx512". Reading it completes the selection.
    /// </summary>
    public static string Description => $"{s_description}; {IpsecMbSelection().Note}";

    /// <summary>The library for <paramref name="encryption"/> at <paramref name="keyBits"/>.</summary>
    public static EspCryptoLibrary For(EncrAlgorithm encryption, int keyBits)
    {
        if (encryption == EncrAlgorithm.AesGcm16 && keyBits is 128 or 256 && UseIpsecMb())
            return EspCryptoLibrary.IpsecMb;
        return EvpCipher(encryption, keyBits) != IntPtr.Zero ? EspCryptoLibrary.OpenSslEvp : EspCryptoLibrary.DotNet;
    }

    /// <summary>The EVP_CIPHER for a suite, or zero when this process uses .NET for it.</summary>
    internal static IntPtr EvpCipher(EncrAlgorithm encryption, int keyBits)
    {
        int index = Index(encryption, keyBits);
        return index < 0 ? IntPtr.Zero : s_evpCiphers[index];
    }

    private static int Index(EncrAlgorithm encryption, int keyBits) => (encryption, keyBits) switch
    {
        (EncrAlgorithm.AesGcm16, 128) => 0,
        (EncrAlgorithm.AesGcm16, 192) => 1,
        (EncrAlgorithm.AesGcm16, 256) => 2,
        (EncrAlgorithm.ChaCha20Poly1305, 0 or 256) => 3,
        (EncrAlgorithm.AesCbc, 128) => 4,
        (EncrAlgorithm.AesCbc, 192) => 5,
        (EncrAlgorithm.AesCbc, 256) => 6,
        (EncrAlgorithm.TripleDes, 0 or 192) => 7,
        _ => -1,
    };

    private static readonly string[] Names =
        ["AES-GCM-128", "AES-GCM-192", "AES-GCM-256", "ChaCha20-Poly1305", "AES-CBC-128", "AES-CBC-192", "AES-CBC-256", "3DES-CBC"];

    private static IntPtr[] Probe(out string description)
    {
        var ciphers = new IntPtr[Names.Length];
        if (!OperatingSystem.IsLinux() || !NativeLibrary.TryLoad(LibCrypto.Lib, out IntPtr library))
        {
            description = $"System.Security.Cryptography ({LibCrypto.Lib} not loadable)";
            return ciphers;
        }
        foreach (string symbol in LibCrypto.Symbols)
        {
            if (!NativeLibrary.TryGetExport(library, symbol, out _))
            {
                description = $"System.Security.Cryptography ({LibCrypto.Lib} lacks {symbol})";
                return ciphers;
            }
        }

        IntPtr[] candidates =
        [
            LibCrypto.EVP_aes_128_gcm(), LibCrypto.EVP_aes_192_gcm(), LibCrypto.EVP_aes_256_gcm(), LibCrypto.EVP_chacha20_poly1305(),
            LibCrypto.EVP_aes_128_cbc(), LibCrypto.EVP_aes_192_cbc(), LibCrypto.EVP_aes_256_cbc(), LibCrypto.EVP_des_ede3_cbc(),
        ];
        Span<byte> zeroKey = stackalloc byte[32];
        var missing = new List<string>();
        for (int i = 0; i < candidates.Length; i++)
        {
            // A cipher counts only if the library keys a context for it (a provider may lack it, e.g. FIPS and ChaCha).
            using SafeEvpCipherCtxHandle? probe = LibCrypto.CreateKeyed(candidates[i], zeroKey, encrypt: true, noPadding: false);
            if (probe is null)
                missing.Add(Names[i]);
            else
                ciphers[i] = candidates[i];
        }

        string version;
        unsafe { version = Marshal.PtrToStringUTF8((IntPtr)LibCrypto.OpenSSL_version(0)) ?? "OpenSSL"; }
        description = missing.Count == 0
            ? $"{version} EVP"
            : $"{version} EVP; System.Security.Cryptography for {string.Join(", ", missing)} (not keyed by {LibCrypto.Lib})";
        return ciphers;
    }
}
