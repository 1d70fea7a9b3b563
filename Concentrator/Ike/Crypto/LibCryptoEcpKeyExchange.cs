using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Concentrator.DataPlane.Native;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Crypto;

/// <summary>
/// ECDH over a NIST prime curve (RFC 5903) with libcrypto's EC_KEY on one process-wide EC_GROUP per curve
/// (<see cref="LibCrypto"/>'s ECDH surface says why not through .NET's ECDiffieHellman). The same encodings as
/// <see cref="EcpKeyExchange"/>, the fallback where libcrypto.so.3 or a symbol is missing: Key Exchange Data
/// X | Y without the point-format octet (RFC 5903 §7), the shared secret the x-coordinate (RFC 5903 §9).
/// </summary>
internal sealed unsafe class LibCryptoEcpKeyExchange : IKeyExchange
{
    // Indexed by Curve(group); zero where the probe failed. Never freed: they live as long as the process.
    private static readonly IntPtr[] s_groups = Probe();

    private readonly IntPtr _group;
    private readonly int _coordinateLength;
    private SafeEcKeyHandle? _key;

    /// <summary>Whether this process has libcrypto's EC groups for <paramref name="group"/>.</summary>
    public static bool IsAvailable(DhGroup group) => Curve(group) is int i and >= 0 && s_groups[i] != IntPtr.Zero;

    public LibCryptoEcpKeyExchange(DhGroup group, int coordinateLength, byte[]? privateKey)
    {
        if (!IsAvailable(group)) throw new NotSupportedException($"libcrypto has no EC group for {group}");
        Group = group;
        _group = s_groups[Curve(group)];
        _coordinateLength = coordinateLength;
        _key = LibCrypto.EC_KEY_new();
        bool made = !_key.IsInvalid && LibCrypto.EC_KEY_set_group(_key, _group) == 1
            && (privateKey is null ? LibCrypto.EC_KEY_generate_key(_key) == 1 : SetPrivateKey(_key, privateKey));
        PublicValue = new byte[2 * coordinateLength];
        if (!made || !TryEncodePublic(_key, PublicValue))
        {
            LibCrypto.ERR_clear_error();
            _key.Dispose();
            throw new CryptographicException($"libcrypto could not make a {group} key pair");
        }
    }

    public DhGroup Group { get; }
    public byte[] PublicValue { get; }

    // RFC 6989 §2.3: the NIST curves have cofactor 1, so a peer's point is valid when its coordinates are below p
    // and it lies on the curve (the point at infinity has no X | Y encoding). EC_POINT_oct2point refuses both
    // (EC_POINT_set_affine_coordinates checks the curve equation); that is the one check of the peer's value.
    public bool TryDeriveSharedSecret(ReadOnlySpan<byte> peerPublicValue, out byte[] sharedSecret)
    {
        sharedSecret = [];
        var key = _key ?? throw new ObjectDisposedException(nameof(LibCryptoEcpKeyExchange));
        if (peerPublicValue.Length != 2 * _coordinateLength) return false;

        Span<byte> encoded = stackalloc byte[1 + peerPublicValue.Length];
        encoded[0] = 0x04; // SEC 1 §2.3.3 uncompressed: the form RFC 5903 §7 strips
        peerPublicValue.CopyTo(encoded[1..]);

        IntPtr peer = LibCrypto.EC_POINT_new(_group);
        var secret = new byte[_coordinateLength];
        try
        {
            fixed (byte* input = encoded)
            fixed (byte* output = secret)
            {
                if (peer != IntPtr.Zero
                    && LibCrypto.EC_POINT_oct2point(_group, peer, input, (nuint)encoded.Length, IntPtr.Zero) == 1
                    && LibCrypto.ECDH_compute_key(output, (nuint)secret.Length, peer, key, IntPtr.Zero) == secret.Length)
                {
                    sharedSecret = secret;
                    return true;
                }
            }
            LibCrypto.ERR_clear_error();
            CryptographicOperations.ZeroMemory(secret);
            return false;
        }
        finally
        {
            if (peer != IntPtr.Zero) LibCrypto.EC_POINT_free(peer);
        }
    }

    public void Dispose()
    {
        _key?.Dispose();
        _key = null;
    }

    private static int Curve(DhGroup group) => group switch
    {
        DhGroup.Ecp256 => 0,
        DhGroup.Ecp384 => 1,
        DhGroup.Ecp521 => 2,
        _ => -1,
    };

    private static IntPtr[] Probe()
    {
        var groups = new IntPtr[3];
        if (!OperatingSystem.IsLinux() || !NativeLibrary.TryLoad(LibCrypto.Lib, out IntPtr library)) return groups;
        foreach (string symbol in LibCrypto.EcdhSymbols)
        {
            if (!NativeLibrary.TryGetExport(library, symbol, out _)) return groups;
        }
        groups[0] = LibCrypto.EC_GROUP_new_by_curve_name(LibCrypto.NID_X9_62_prime256v1);
        groups[1] = LibCrypto.EC_GROUP_new_by_curve_name(LibCrypto.NID_secp384r1);
        groups[2] = LibCrypto.EC_GROUP_new_by_curve_name(LibCrypto.NID_secp521r1);
        LibCrypto.ERR_clear_error();
        return groups;
    }

    // The test seam's fixed private scalar: Q = d·G computed by libcrypto, the BIGNUM cleared when freed.
    private bool SetPrivateKey(SafeEcKeyHandle key, byte[] privateKey)
    {
        IntPtr d;
        fixed (byte* bytes = privateKey) d = LibCrypto.BN_bin2bn(bytes, privateKey.Length, IntPtr.Zero);
        if (d == IntPtr.Zero) return false;
        IntPtr q = LibCrypto.EC_POINT_new(_group);
        try
        {
            return q != IntPtr.Zero
                && LibCrypto.EC_POINT_mul(_group, q, d, IntPtr.Zero, IntPtr.Zero, IntPtr.Zero) == 1
                && LibCrypto.EC_KEY_set_private_key(key, d) == 1
                && LibCrypto.EC_KEY_set_public_key(key, q) == 1;
        }
        finally
        {
            if (q != IntPtr.Zero) LibCrypto.EC_POINT_free(q);
            LibCrypto.BN_clear_free(d);
        }
    }

    private bool TryEncodePublic(SafeEcKeyHandle key, byte[] publicValue)
    {
        Span<byte> encoded = stackalloc byte[1 + publicValue.Length];
        IntPtr q = LibCrypto.EC_KEY_get0_public_key(key);
        nuint written;
        fixed (byte* output = encoded)
            written = q == IntPtr.Zero ? 0 : LibCrypto.EC_POINT_point2oct(_group, q, LibCrypto.POINT_CONVERSION_UNCOMPRESSED,
                output, (nuint)encoded.Length, IntPtr.Zero);
        if (written != (nuint)encoded.Length || encoded[0] != 0x04) return false;
        encoded[1..].CopyTo(publicValue);
        return true;
    }
}
