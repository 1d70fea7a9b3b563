// Ownership/thread-safety: a P/Invoke surface into intel-ipsec-mb (Debian's libipsec-mb1, the crypto library of VPP
// and DPDK). Nothing here implements a primitive: it reaches the library's AES-GCM one-shot functions, which the
// library dispatches per CPU through function pointers in its IMB_MGR. Those pointers are read once from one manager
// initialised by init_mb_mgr_auto, and each is accepted only when it equals the library's own exported function of
// that name for one architecture (aes_gcm_enc_256_vaes_avx512, ...): a struct offset that is wrong for the loaded
// build therefore refuses the library instead of calling a foreign pointer. The GCM functions keep no state outside
// their gcm_key_data (per SA, read-only after PRE) and gcm_context_data (per call owner), so they may be called from
// any thread once resolved.
using System.Runtime.InteropServices;

namespace Concentrator.DataPlane.Native;

internal static unsafe partial class LibIpsecMb
{
    public const string Lib = "libIPSec_MB.so.1";

    // offsetof(IMB_MGR, member) on x86-64, the same in the headers of 1.3.0 (Debian bookworm's libipsec-mb-dev 1.3-2),
    // 1.4.0 and 1.5.0 (Ubuntu noble's; tags v1.4 and v1.5 of github.com/intel/intel-ipsec-mb), printed by a C program
    // compiled against each header. sizeof(struct gcm_key_data) differs: see KeyDataLengthOf.
    private const int FeaturesOffset = 8;
    private const int Gcm128EncOffset = 256;
    private const int Gcm256EncOffset = 272;
    private const int Gcm128DecOffset = 280;
    private const int Gcm256DecOffset = 296;
    private const int Gcm128PreOffset = 448;
    private const int Gcm256PreOffset = 464;

    /// <summary>sizeof(struct gcm_context_data) in 1.3, 1.4 and 1.5: one call's running GHASH state.</summary>
    public const int ContextDataLength = 88;

    /// <summary>
    /// sizeof(struct gcm_key_data) (expanded AES keys and GHASH key powers) for an IMB_VERSION whose layout is known;
    /// null for any other version, which is then refused: a larger key data would overrun the block we allocate.
    /// </summary>
    public static int? KeyDataLengthOf(uint version) => version switch
    {
        0x10300 => 1008,
        0x10400 or 0x10500 => 1264,
        _ => null,
    };

    // IMB_FEATURE_* bits of IMB_MGR.features that say which code path this CPU gets.
    private const ulong FeatureAvx512Skx = 0x1f << 7, FeatureVaes = 1 << 12, FeatureVpclmulqdq = 1 << 13;

    /// <summary>The architecture suffixes of the exported GCM functions, slowest first.</summary>
    private static readonly string[] Architectures = ["sse", "avx_gen2", "avx_gen4", "vaes_avx2", "avx512", "vaes_avx512"];

    [LibraryImport(Lib, EntryPoint = "imb_get_version")]
    private static partial uint imb_get_version();

    [LibraryImport(Lib, EntryPoint = "imb_get_version_str")]
    private static partial byte* imb_get_version_str();

    [LibraryImport(Lib, EntryPoint = "alloc_mb_mgr")]
    private static partial IntPtr alloc_mb_mgr(ulong flags);

    [LibraryImport(Lib, EntryPoint = "init_mb_mgr_auto")]
    private static partial void init_mb_mgr_auto(IntPtr manager, int* architecture);

    /// <summary>aes_gcm_pre_t: expands <c>key</c> into a gcm_key_data (AES round keys and GHASH key powers).</summary>
    internal readonly struct GcmFunctions(
        delegate* unmanaged<byte*, byte*, void> pre,
        delegate* unmanaged<byte*, byte*, byte*, byte*, ulong, byte*, byte*, ulong, byte*, ulong, void> encrypt,
        delegate* unmanaged<byte*, byte*, byte*, byte*, ulong, byte*, byte*, ulong, byte*, ulong, void> decrypt)
    {
        public readonly delegate* unmanaged<byte*, byte*, void> Pre = pre;

        /// <summary>aes_gcm_enc_dec_t (key_data, context, out, in, len, iv[12], aad, aad_len, tag, tag_len).</summary>
        public readonly delegate* unmanaged<byte*, byte*, byte*, byte*, ulong, byte*, byte*, ulong, byte*, ulong, void> Encrypt = encrypt;

        /// <summary>As <see cref="Encrypt"/>; writes the tag it computes over the ciphertext, which the caller compares.</summary>
        public readonly delegate* unmanaged<byte*, byte*, byte*, byte*, ulong, byte*, byte*, ulong, byte*, ulong, void> Decrypt = decrypt;
    }

    /// <summary>The resolved library: AES-GCM-128 and -256 functions of one architecture.</summary>
    internal sealed record Resolved(string Version, string Architecture, ulong Features, int KeyDataLength, GcmFunctions Gcm128, GcmFunctions Gcm256);

    /// <summary>
    /// Loads the library and resolves the GCM functions, or returns null with the reason. Control plane, once per
    /// process; the manager it allocates is never freed (the resolved pointers live as long as the process).
    /// </summary>
    public static Resolved? TryResolve(out string reason)
    {
        if (!OperatingSystem.IsLinux() || !NativeLibrary.TryLoad(Lib, out IntPtr library))
        {
            reason = $"{Lib} not loadable";
            return null;
        }
        foreach (string symbol in (string[])["imb_get_version", "imb_get_version_str", "alloc_mb_mgr", "init_mb_mgr_auto"])
        {
            if (!NativeLibrary.TryGetExport(library, symbol, out _))
            {
                reason = $"{Lib} lacks {symbol}";
                return null;
            }
        }
        string version = Marshal.PtrToStringUTF8((IntPtr)imb_get_version_str()) ?? "?";
        if (KeyDataLengthOf(imb_get_version()) is not { } keyDataLength)
        {
            reason = $"{Lib} is version {version}; its layout is known for 1.3.0, 1.4.0 and 1.5.0";
            return null;
        }
        IntPtr manager = alloc_mb_mgr(0);
        if (manager == IntPtr.Zero)
        {
            reason = "alloc_mb_mgr failed";
            return null;
        }
        int architecture;
        init_mb_mgr_auto(manager, &architecture);
        ulong features = *(ulong*)(manager + FeaturesOffset);

        foreach (string arch in Architectures)
        {
            if (Match(library, manager, arch, 128, Gcm128PreOffset, Gcm128EncOffset, Gcm128DecOffset) is not { } gcm128
                || Match(library, manager, arch, 256, Gcm256PreOffset, Gcm256EncOffset, Gcm256DecOffset) is not { } gcm256)
            {
                continue;
            }
            reason = "";
            return new Resolved(version, arch, features, keyDataLength, gcm128, gcm256);
        }
        reason = $"{Lib} {version}: the manager's GCM pointers match no exported aes_gcm_*_<arch> function";
        return null;
    }

    private static GcmFunctions? Match(IntPtr library, IntPtr manager, string arch, int bits, int pre, int enc, int dec)
    {
        IntPtr p = *(IntPtr*)(manager + pre), e = *(IntPtr*)(manager + enc), d = *(IntPtr*)(manager + dec);
        if (!Is(library, $"aes_gcm_pre_{bits}_{arch}", p) || !Is(library, $"aes_gcm_enc_{bits}_{arch}", e)
            || !Is(library, $"aes_gcm_dec_{bits}_{arch}", d))
        {
            return null;
        }
        return new GcmFunctions(
            (delegate* unmanaged<byte*, byte*, void>)p,
            (delegate* unmanaged<byte*, byte*, byte*, byte*, ulong, byte*, byte*, ulong, byte*, ulong, void>)e,
            (delegate* unmanaged<byte*, byte*, byte*, byte*, ulong, byte*, byte*, ulong, byte*, ulong, void>)d);
    }

    private static bool Is(IntPtr library, string symbol, IntPtr pointer) =>
        pointer != IntPtr.Zero && NativeLibrary.TryGetExport(library, symbol, out IntPtr export) && export == pointer;

    /// <summary>The CPU features behind the chosen path, e.g. "AVX-512 VAES VPCLMULQDQ".</summary>
    public static string DescribeFeatures(ulong features) =>
        string.Join(' ', new[]
        {
            (features & FeatureAvx512Skx) == FeatureAvx512Skx ? "AVX-512" : null,
            (features & FeatureVaes) != 0 ? "VAES" : null,
            (features & FeatureVpclmulqdq) != 0 ? "VPCLMULQDQ" : null,
        }.Where(f => f is not null));
}
