// Ownership/thread-safety: a P/Invoke surface into OpenSSL 3's libcrypto, the library that .NET's own
// System.Security.Cryptography calls on Linux. Nothing here implements a primitive: it only reaches EVP
// cipher contexts directly so that the ESP transform can keep one keyed context per SA direction and
// verify an AEAD tag through EVP_CipherFinal_ex's return value instead of an exception.
// An EVP_CIPHER_CTX is not thread-safe; its owner (one EspCipher instance) is used by one thread at a
// time. All imports are source-generated ([LibraryImport]) and blittable; contexts are SafeHandles so
// a context is freed (and its key schedule cleansed by EVP_CIPHER_CTX_free) exactly once.
using System.Runtime.InteropServices;

namespace Concentrator.DataPlane.Native;

internal static unsafe partial class LibCrypto
{
    public const string Lib = "libcrypto.so.3";

    // <openssl/evp.h>
    public const int EVP_CTRL_AEAD_SET_IVLEN = 0x9;
    public const int EVP_CTRL_AEAD_GET_TAG = 0x10;
    public const int EVP_CTRL_AEAD_SET_TAG = 0x11;

    /// <summary>EVP_CipherInit_ex's enc argument: keep the direction the context already has.</summary>
    public const int KeepDirection = -1;

    /// <summary>Every symbol imported below; the availability probe checks each before the first call.</summary>
    public static readonly string[] Symbols =
    [
        "OpenSSL_version", "EVP_CIPHER_CTX_new", "EVP_CIPHER_CTX_free", "EVP_CipherInit_ex", "EVP_CipherUpdate",
        "EVP_CipherFinal_ex", "EVP_CIPHER_CTX_ctrl", "EVP_CIPHER_CTX_set_padding",
        "EVP_aes_128_gcm", "EVP_aes_192_gcm", "EVP_aes_256_gcm", "EVP_chacha20_poly1305",
        "EVP_aes_128_cbc", "EVP_aes_192_cbc", "EVP_aes_256_cbc", "EVP_des_ede3_cbc",
    ];

    [LibraryImport(Lib, EntryPoint = "OpenSSL_version")]
    public static partial byte* OpenSSL_version(int type);

    [LibraryImport(Lib, EntryPoint = "EVP_CIPHER_CTX_new")]
    public static partial SafeEvpCipherCtxHandle EVP_CIPHER_CTX_new();

    [LibraryImport(Lib, EntryPoint = "EVP_CIPHER_CTX_free")]
    public static partial void EVP_CIPHER_CTX_free(IntPtr ctx);

    [LibraryImport(Lib, EntryPoint = "EVP_CipherInit_ex")]
    public static partial int EVP_CipherInit_ex(SafeEvpCipherCtxHandle ctx, IntPtr cipher, IntPtr engine, byte* key, byte* iv, int enc);

    [LibraryImport(Lib, EntryPoint = "EVP_CipherUpdate")]
    public static partial int EVP_CipherUpdate(SafeEvpCipherCtxHandle ctx, byte* output, int* outputLength, byte* input, int inputLength);

    [LibraryImport(Lib, EntryPoint = "EVP_CipherFinal_ex")]
    public static partial int EVP_CipherFinal_ex(SafeEvpCipherCtxHandle ctx, byte* output, int* outputLength);

    [LibraryImport(Lib, EntryPoint = "EVP_CIPHER_CTX_ctrl")]
    public static partial int EVP_CIPHER_CTX_ctrl(SafeEvpCipherCtxHandle ctx, int type, int arg, void* ptr);

    [LibraryImport(Lib, EntryPoint = "EVP_CIPHER_CTX_set_padding")]
    public static partial int EVP_CIPHER_CTX_set_padding(SafeEvpCipherCtxHandle ctx, int padding);

    // The EVP_CIPHER getters return static descriptors that are never freed.
    [LibraryImport(Lib, EntryPoint = "EVP_aes_128_gcm")] public static partial IntPtr EVP_aes_128_gcm();
    [LibraryImport(Lib, EntryPoint = "EVP_aes_192_gcm")] public static partial IntPtr EVP_aes_192_gcm();
    [LibraryImport(Lib, EntryPoint = "EVP_aes_256_gcm")] public static partial IntPtr EVP_aes_256_gcm();
    [LibraryImport(Lib, EntryPoint = "EVP_chacha20_poly1305")] public static partial IntPtr EVP_chacha20_poly1305();
    [LibraryImport(Lib, EntryPoint = "EVP_aes_128_cbc")] public static partial IntPtr EVP_aes_128_cbc();
    [LibraryImport(Lib, EntryPoint = "EVP_aes_192_cbc")] public static partial IntPtr EVP_aes_192_cbc();
    [LibraryImport(Lib, EntryPoint = "EVP_aes_256_cbc")] public static partial IntPtr EVP_aes_256_cbc();
    [LibraryImport(Lib, EntryPoint = "EVP_des_ede3_cbc")] public static partial IntPtr EVP_des_ede3_cbc();

    /// <summary>
    /// A new context keyed for <paramref name="cipher"/> in direction <paramref name="encrypt"/>, IV left for
    /// each packet. Returns null if the library refuses (for example a cipher its providers lack).
    /// Control plane only.
    /// </summary>
    public static SafeEvpCipherCtxHandle? CreateKeyed(IntPtr cipher, ReadOnlySpan<byte> key, bool encrypt, bool noPadding)
    {
        if (cipher == IntPtr.Zero)
            return null;
        SafeEvpCipherCtxHandle ctx = EVP_CIPHER_CTX_new();
        if (ctx.IsInvalid)
        {
            ctx.Dispose();
            return null;
        }
        bool ok;
        fixed (byte* k = key)
            ok = EVP_CipherInit_ex(ctx, cipher, IntPtr.Zero, k, null, encrypt ? 1 : 0) == 1
                 && (!noPadding || EVP_CIPHER_CTX_set_padding(ctx, 0) == 1);
        if (ok)
            return ctx;
        ctx.Dispose();
        return null;
    }
}

/// <summary>Owns one EVP_CIPHER_CTX; freeing it cleanses the key schedule it holds.</summary>
internal sealed class SafeEvpCipherCtxHandle : SafeHandle
{
    public SafeEvpCipherCtxHandle() : base(IntPtr.Zero, ownsHandle: true) { }

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        LibCrypto.EVP_CIPHER_CTX_free(handle);
        return true;
    }
}
