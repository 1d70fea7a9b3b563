using Concentrator.DataPlane.Native;

namespace Concentrator.DataPlane.Esp;

/// <summary>
/// Whether AES-GCM-128/256 run on intel-ipsec-mb, decided once per process at the first SA (or the first read of
/// <see cref="Description"/>): the operator allows it (<see cref="ConfigureIpsecMb"/>, config key
/// <c>charon.plugins.ipsec-mb.load</c>), the library loads, is a version whose layout we know with every GCM pointer matching its
/// own export (<see cref="LibIpsecMb.TryResolve"/>), and the self-test below passes; otherwise OpenSSL, with the
/// reason in <see cref="Description"/>.
/// </summary>
public static partial class EspCrypto
{
    private static readonly Lock s_ipsecMbGate = new();
    private static bool s_ipsecMbAllowed = true;
    private static bool s_ipsecMbConfigured;
    private static IpsecMbChoice? s_ipsecMb;

    // Benchmarks and tests install SAs with a chosen AES-GCM library on the calling thread; the product never sets it.
    [ThreadStatic] internal static EspCryptoLibrary? t_gcmOverride;

    /// <summary>The outcome of the selection: the resolved library, or null and why not.</summary>
    internal sealed record IpsecMbChoice(LibIpsecMb.Resolved? Library, string Note);

    /// <summary>
    /// The operator's switch (strongswan.conf <c>charon.plugins.ipsec-mb.load</c>, default yes). Call once before the
    /// data plane installs an SA; a different answer after the selection was made throws (control plane only).
    /// </summary>
    public static void ConfigureIpsecMb(bool load)
    {
        lock (s_ipsecMbGate)
        {
            if (s_ipsecMb is not null && load != s_ipsecMbAllowed)
                throw new InvalidOperationException("The ESP AES-GCM library was already selected for this process.");
            s_ipsecMbAllowed = load;
            s_ipsecMbConfigured = true;
        }
    }

    private static bool UseIpsecMb() =>
        t_gcmOverride is { } forced ? forced == EspCryptoLibrary.IpsecMb : IpsecMbSelection().Library is not null;

    /// <summary>The library whether or not it is selected (tests and benchmarks compare it with OpenSSL); null if unusable.</summary>
    internal static LibIpsecMb.Resolved? IpsecMbIfUsable => s_usable.Value.Library;

    private static readonly Lazy<IpsecMbChoice> s_usable = new(Probe);

    internal static IpsecMbChoice IpsecMbSelection()
    {
        if (s_ipsecMb is { } made)
            return made;
        lock (s_ipsecMbGate)
        {
            if (s_ipsecMb is null)
            {
                string origin = s_ipsecMbConfigured ? "charon.plugins.ipsec-mb.load" : "default";
                s_ipsecMb = s_ipsecMbAllowed
                    ? s_usable.Value
                    : new IpsecMbChoice(null, $"AES-GCM: OpenSSL (intel-ipsec-mb off: {origin} no)");
            }
            return s_ipsecMb;
        }
    }

    private static IpsecMbChoice Probe()
    {
        LibIpsecMb.Resolved? library;
        string reason;
        try
        {
            library = LibIpsecMb.TryResolve(out reason);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            library = null;
            reason = e.Message;
        }
        if (library is null)
            return new IpsecMbChoice(null, $"AES-GCM: OpenSSL (intel-ipsec-mb unusable: {reason})");
        if (SelfTest(library) is { } failure)
            return new IpsecMbChoice(null, $"AES-GCM: OpenSSL (intel-ipsec-mb {library.Version} {library.Architecture} failed its self-test: {failure})");
        return new IpsecMbChoice(library,
            $"AES-GCM-128/256: intel-ipsec-mb {library.Version} {library.Architecture} ({LibIpsecMb.DescribeFeatures(library.Features)})");
    }

    /// <summary>
    /// McGrew &amp; Viega, "The Galois/Counter Mode of Operation", Appendix B test cases 4 (AES-128) and 16 (AES-256):
    /// 60-byte plaintext (not a multiple of 16), 20-byte AAD, 96-bit IV; sealed, opened, and a flipped tag refused.
    /// Returns null when all pass, else what failed.
    /// </summary>
    private static string? SelfTest(LibIpsecMb.Resolved library)
    {
        const string Iv = "cafebabefacedbaddecaf888";
        const string Aad = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
        const string Plain = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
        (string Name, string Key, string Cipher, string Tag)[] cases =
        [
            ("test case 4", "feffe9928665731c6d6a8f9467308308",
                "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
                "5bc94fbc3221a5db94fae95ae7121a47"),
            ("test case 16", "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
                "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
                "76fc6ece0f4e1768cddf8853bb2d551b"),
        ];
        foreach (var c in cases)
        {
            byte[] key = Convert.FromHexString(c.Key), iv = Convert.FromHexString(Iv), aad = Convert.FromHexString(Aad);
            byte[] body = Convert.FromHexString(Plain), tag = new byte[16];
            using var cipher = new IpsecMbAeadEspCipher([.. key, 0, 0, 0, 0], key.Length, library);
            cipher.SealCore(iv, aad, body, tag);
            if (!Convert.ToHexStringLower(body).Equals(c.Cipher, StringComparison.Ordinal)
                || !Convert.ToHexStringLower(tag).Equals(c.Tag, StringComparison.Ordinal))
            {
                return $"{c.Name} sealed wrong bytes";
            }
            if (!cipher.OpenCore(iv, aad, body, tag) || !Convert.ToHexStringLower(body).Equals(Plain, StringComparison.Ordinal))
                return $"{c.Name} did not open";
            tag[0] ^= 1;
            if (cipher.OpenCore(iv, aad, Convert.FromHexString(c.Cipher), tag))
                return $"{c.Name} accepted a forged tag";
        }
        return null;
    }
}
