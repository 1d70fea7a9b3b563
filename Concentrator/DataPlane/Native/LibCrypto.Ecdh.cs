// Ownership/thread-safety: the EC_KEY surface behind Ike/Crypto/EcpKeyExchange (ECDH over P-256/384/521).
// .NET's ECDiffieHellman builds every key through OpenSSL 3's provider layer: each key generation, peer
// import and derivation creates its EC_GROUP anew (Montgomery set-up, modular inversions), fetches the
// provider's key management and exchange methods, and checks the peer's point at import and again in
// EVP_PKEY_derive_set_peer. Here one EC_GROUP per curve lives for the process (read-only after creation, so
// shared by every thread), keys are EC_KEYs on it, and a peer's point is checked once, by EC_POINT_oct2point
// (coordinates below p, point on the curve). Nothing here is a primitive of ours: ECDH_compute_key is libcrypto's.
// An EC_KEY is used by one thread at a time (its IKE SA's); EC_KEY_free clears its private scalar.
using System.Runtime.InteropServices;

namespace Concentrator.DataPlane.Native;

internal static unsafe partial class LibCrypto
{
    // <openssl/obj_mac.h>
    public const int NID_X9_62_prime256v1 = 415;
    public const int NID_secp384r1 = 715;
    public const int NID_secp521r1 = 716;

    // <openssl/ec.h> point_conversion_form_t
    public const int POINT_CONVERSION_UNCOMPRESSED = 4;

    /// <summary>Every symbol the ECDH path imports; its probe checks each before the first call.</summary>
    public static readonly string[] EcdhSymbols =
    [
        "EC_GROUP_new_by_curve_name", "EC_KEY_new", "EC_KEY_set_group", "EC_KEY_generate_key", "EC_KEY_free",
        "EC_KEY_get0_public_key", "EC_KEY_set_private_key", "EC_KEY_set_public_key", "EC_POINT_new", "EC_POINT_free",
        "EC_POINT_mul", "EC_POINT_point2oct", "EC_POINT_oct2point", "ECDH_compute_key", "BN_bin2bn", "BN_clear_free",
        "ERR_clear_error",
    ];

    [LibraryImport(Lib, EntryPoint = "EC_GROUP_new_by_curve_name")]
    public static partial IntPtr EC_GROUP_new_by_curve_name(int nid);

    [LibraryImport(Lib, EntryPoint = "EC_KEY_new")]
    public static partial SafeEcKeyHandle EC_KEY_new();

    [LibraryImport(Lib, EntryPoint = "EC_KEY_set_group")]
    public static partial int EC_KEY_set_group(SafeEcKeyHandle key, IntPtr group);

    [LibraryImport(Lib, EntryPoint = "EC_KEY_generate_key")]
    public static partial int EC_KEY_generate_key(SafeEcKeyHandle key);

    [LibraryImport(Lib, EntryPoint = "EC_KEY_free")]
    public static partial void EC_KEY_free(IntPtr key);

    [LibraryImport(Lib, EntryPoint = "EC_KEY_get0_public_key")]
    public static partial IntPtr EC_KEY_get0_public_key(SafeEcKeyHandle key);

    [LibraryImport(Lib, EntryPoint = "EC_KEY_set_private_key")]
    public static partial int EC_KEY_set_private_key(SafeEcKeyHandle key, IntPtr privateKey);

    [LibraryImport(Lib, EntryPoint = "EC_KEY_set_public_key")]
    public static partial int EC_KEY_set_public_key(SafeEcKeyHandle key, IntPtr point);

    [LibraryImport(Lib, EntryPoint = "EC_POINT_new")]
    public static partial IntPtr EC_POINT_new(IntPtr group);

    [LibraryImport(Lib, EntryPoint = "EC_POINT_free")]
    public static partial void EC_POINT_free(IntPtr point);

    [LibraryImport(Lib, EntryPoint = "EC_POINT_mul")]
    public static partial int EC_POINT_mul(IntPtr group, IntPtr result, IntPtr generatorScalar, IntPtr point, IntPtr pointScalar, IntPtr bnCtx);

    [LibraryImport(Lib, EntryPoint = "EC_POINT_point2oct")]
    public static partial nuint EC_POINT_point2oct(IntPtr group, IntPtr point, int form, byte* buffer, nuint length, IntPtr bnCtx);

    [LibraryImport(Lib, EntryPoint = "EC_POINT_oct2point")]
    public static partial int EC_POINT_oct2point(IntPtr group, IntPtr point, byte* buffer, nuint length, IntPtr bnCtx);

    [LibraryImport(Lib, EntryPoint = "ECDH_compute_key")]
    public static partial int ECDH_compute_key(byte* output, nuint outputLength, IntPtr peerPoint, SafeEcKeyHandle key, IntPtr kdf);

    [LibraryImport(Lib, EntryPoint = "BN_bin2bn")]
    public static partial IntPtr BN_bin2bn(byte* bytes, int length, IntPtr reuse);

    [LibraryImport(Lib, EntryPoint = "BN_clear_free")]
    public static partial void BN_clear_free(IntPtr bn);

    /// <summary>Failures leave entries on the thread's OpenSSL error queue, which .NET's own calls would read.</summary>
    [LibraryImport(Lib, EntryPoint = "ERR_clear_error")]
    public static partial void ERR_clear_error();
}

/// <summary>Owns one EC_KEY; freeing it clears its private scalar.</summary>
internal sealed class SafeEcKeyHandle : SafeHandle
{
    public SafeEcKeyHandle() : base(IntPtr.Zero, ownsHandle: true) { }

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        LibCrypto.EC_KEY_free(handle);
        return true;
    }
}
