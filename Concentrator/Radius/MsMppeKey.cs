using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Concentrator.Radius;

//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |     Type      |  Length       |            Vendor-Id
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//      Vendor-Id (cont)           |  String...
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//                RFC 2865 §5.26, Vendor-Specific (Type 26); Microsoft's Vendor-Id is 311
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |  Vendor-Type  | Vendor-Length |             Salt
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//                               String...
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//      RFC 2548 §2.4.2 MS-MPPE-Send-Key (Vendor-Type 16), §2.4.3 MS-MPPE-Recv-Key (17). Salt: 2 octets, the high bit
//      set. String: encrypted (Key-Length octet | Key | zero padding), a multiple of 16 octets, with the
//      RFC 2548 stream over (secret, the Access-Request's authenticator, salt).

/// <summary>The MSK a RADIUS server hands over in MS-MPPE-Recv-Key and MS-MPPE-Send-Key.</summary>
public static class MsMppeKey
{
    public const uint MicrosoftVendorId = 311;
    public const byte SendKeyType = 16, RecvKeyType = 17;
    /// <summary>RFC 5247's MSK is 64 octets; strongSwan pads a shorter Recv|Send with zeros to that (radius_socket.c).</summary>
    public const int MskLength = 64;

    /// <summary>
    /// MSK = MS-MPPE-Recv-Key | MS-MPPE-Send-Key, zero-padded to 64 octets, as strongSwan's eap-radius builds it; null when
    /// either key is missing or does not decrypt to a sane length. The caller owns and zeroes the result.
    /// </summary>
    public static byte[]? DecryptMsk(RadiusPacket response, ReadOnlySpan<byte> requestAuthenticator, ReadOnlySpan<byte> secret)
    {
        byte[]? send = null, recv = null;
        try
        {
            var reader = response.Attributes;
            while (reader.TryNext(out var type, out var value))
            {
                if (type != RadiusAttributeType.VendorSpecific || value.Length < 4 + 2 + 2 + 16) continue;
                if (BinaryPrimitives.ReadUInt32BigEndian(value) != MicrosoftVendorId) continue;
                var vsa = value[4..];
                byte vendorType = vsa[0];
                if (vendorType is not (SendKeyType or RecvKeyType) || vsa[1] != vsa.Length) continue;
                var key = TryDecrypt(vsa.Slice(2, 2), vsa[4..], requestAuthenticator, secret);
                if (key is null) continue;
                ref var slot = ref vendorType == SendKeyType ? ref send : ref recv;
                if (slot is not null) CryptographicOperations.ZeroMemory(slot);
                slot = key;
            }
            if (send is null || recv is null) return null;
            var msk = new byte[Math.Max(MskLength, send.Length + recv.Length)];
            recv.CopyTo(msk, 0);
            send.CopyTo(msk, recv.Length);
            return msk;
        }
        finally
        {
            if (send is not null) CryptographicOperations.ZeroMemory(send);
            if (recv is not null) CryptographicOperations.ZeroMemory(recv);
        }
    }

    /// <summary>One key: null when the salt's high bit is clear, the string is not a positive multiple of 16, or the
    /// decrypted Key-Length does not fit.</summary>
    internal static byte[]? TryDecrypt(ReadOnlySpan<byte> salt, ReadOnlySpan<byte> encrypted, ReadOnlySpan<byte> requestAuthenticator,
        ReadOnlySpan<byte> secret)
    {
        if ((salt[0] & 0x80) == 0 || encrypted.Length == 0 || encrypted.Length % RadiusAuthenticator.Length != 0) return null;
        var plain = new byte[encrypted.Length];
        try
        {
            RadiusAuthenticator.Crypt(encrypted, plain, secret, requestAuthenticator, salt, decrypt: true);
            int keyLength = plain[0];
            if (keyLength == 0 || keyLength >= plain.Length) return null;
            return plain.AsSpan(1, keyLength).ToArray();
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plain);
        }
    }

    /// <summary>Encrypts one key as a server does (the tests' fake server): Key-Length | key | zero padding.</summary>
    public static byte[] Encrypt(ReadOnlySpan<byte> key, ReadOnlySpan<byte> salt, ReadOnlySpan<byte> requestAuthenticator, ReadOnlySpan<byte> secret)
    {
        int length = (1 + key.Length + 15) / 16 * 16;
        var plain = new byte[length];
        plain[0] = (byte)key.Length;
        key.CopyTo(plain.AsSpan(1));
        var encrypted = new byte[length];
        RadiusAuthenticator.Crypt(plain, encrypted, secret, requestAuthenticator, salt, decrypt: false);
        CryptographicOperations.ZeroMemory(plain);
        return encrypted;
    }
}
