using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Concentrator.DataPlane.Native;

namespace Concentrator.DataPlane.Esp;

/// <summary>
/// RFC 4106 AES-GCM on intel-ipsec-mb's one-shot functions (<see cref="LibIpsecMb"/>): the key is expanded once
/// here into a native gcm_key_data; per packet one call seals (body in place, tag written) or opens (body decrypted
/// in place, the tag the library computes over the ciphertext compared with the ICV in constant time; on a mismatch
/// the body holds unspecified bytes and the packet is dropped, as <see cref="EspCipher.Open"/> allows).
/// The call's gcm_context_data lives beside the key data, so an instance is used by one thread at a time, like
/// every <see cref="EspCipher"/>. Both blocks are zeroed and freed exactly once when the transform is disposed.
/// </summary>
internal sealed unsafe class IpsecMbAeadEspCipher : AeadEspCipher
{
    private readonly LibIpsecMb.GcmFunctions _gcm;
    private readonly SafeImbKeyHandle _block;

    // Key data at 0 (the loaded version's size), context after it on a 64-byte boundary; the block is 64-byte aligned,
    // which suits every architecture's vector loads.
    private readonly int _contextOffset;

    /// <param name="keyLength">16 or 32 (the caller checked the suite).</param>
    public IpsecMbAeadEspCipher(ReadOnlySpan<byte> keyMaterial, int keyLength, LibIpsecMb.Resolved library) : base(keyMaterial, keyLength)
    {
        _gcm = keyLength == 16 ? library.Gcm128 : library.Gcm256;
        _contextOffset = (library.KeyDataLength + 63) & ~63;
        _block = SafeImbKeyHandle.Allocate(_contextOffset + LibIpsecMb.ContextDataLength);
        fixed (byte* k = keyMaterial)
            _gcm.Pre(k, _block.Pointer);
    }

    // Every nonce, AAD and length is valid input; a non-null pointer is passed for an empty body or AAD.
    protected internal override void SealCore(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> aad, Span<byte> body, Span<byte> tag)
    {
        byte empty = 0;
        byte* keyData = _block.Pointer;
        fixed (byte* n = nonce, a = aad, b = body, t = tag)
        {
            byte* data = body.IsEmpty ? &empty : b;
            _gcm.Encrypt(keyData, keyData + _contextOffset, data, data, (ulong)body.Length, n, aad.IsEmpty ? &empty : a, (ulong)aad.Length, t, TagLength);
        }
    }

    protected internal override bool OpenCore(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> aad, Span<byte> body, ReadOnlySpan<byte> tag)
    {
        byte empty = 0;
        byte* keyData = _block.Pointer;
        byte* computed = stackalloc byte[TagLength];
        fixed (byte* n = nonce, a = aad, b = body)
        {
            byte* data = body.IsEmpty ? &empty : b;
            _gcm.Decrypt(keyData, keyData + _contextOffset, data, data, (ulong)body.Length, n, aad.IsEmpty ? &empty : a, (ulong)aad.Length, computed, TagLength);
        }
        return CryptographicOperations.FixedTimeEquals(new ReadOnlySpan<byte>(computed, TagLength), tag);
    }

    public override void Dispose()
    {
        _block.Dispose();
        base.Dispose();
    }
}

/// <summary>Owns one 64-byte-aligned native block holding key material; zeroed before it is freed, once.</summary>
internal sealed unsafe class SafeImbKeyHandle : SafeHandle
{
    private int _length;

    private SafeImbKeyHandle() : base(IntPtr.Zero, ownsHandle: true) { }

    public static SafeImbKeyHandle Allocate(int length)
    {
        var handle = new SafeImbKeyHandle { _length = length };
        void* block = NativeMemory.AlignedAlloc((nuint)length, 64);
        NativeMemory.Clear(block, (nuint)length);
        handle.SetHandle((IntPtr)block);
        return handle;
    }

    /// <summary>The block; valid until Dispose, which the owner calls only when no call is in flight.</summary>
    public byte* Pointer => (byte*)handle;

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        CryptographicOperations.ZeroMemory(new Span<byte>((void*)handle, _length));
        NativeMemory.AlignedFree((void*)handle);
        return true;
    }
}
