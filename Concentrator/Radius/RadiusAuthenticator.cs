using System.Security.Cryptography;

namespace Concentrator.Radius;

//  0                   1                   2
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |     Type      |    Length     |             String...
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//      RFC 3579 §3.2, Message-Authenticator (Type 80, Length 18, a 16-octet HMAC-MD5)
//
// Response Authenticator (RFC 2865 §3):
//     MD5(Code | Identifier | Length | Request Authenticator | Attributes | Secret)
// Accounting-Request Authenticator (RFC 2866 §3):
//     MD5(Code | Identifier | Length | 16 zero octets | Attributes | Secret)
// Message-Authenticator (RFC 3579 §3.2):
//     HMAC-MD5(Secret, packet with the attribute's value zeroed; a response with the request's authenticator in its header)

/// <summary>
/// The MD5 compositions that make a RADIUS packet authentic. Compositions of .NET's MD5 and HMAC-MD5 only; proven by
/// RFC 2865 §7's example packets and by FreeRADIUS accepting what this signs.
/// </summary>
public static class RadiusAuthenticator
{
    public const int Length = 16;

    /// <summary>A fresh Request Authenticator for an Access-Request (§3: unpredictable and unique over the secret's life).</summary>
    public static void NewRequestAuthenticator(Span<byte> destination) => RandomNumberGenerator.Fill(destination[..Length]);

    /// <summary>MD5(packet with <paramref name="authenticatorField"/> in place of its own | secret).</summary>
    private static void Md5Over(ReadOnlySpan<byte> packet, ReadOnlySpan<byte> authenticatorField, ReadOnlySpan<byte> secret, Span<byte> hash)
    {
        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        md5.AppendData(packet[..4]);
        md5.AppendData(authenticatorField);
        md5.AppendData(packet[RadiusPacket.HeaderLength..]);
        md5.AppendData(secret);
        md5.GetHashAndReset(hash);
    }

    /// <summary>Writes the Accounting-Request authenticator into a finished packet (RFC 2866 §3).</summary>
    public static void SignAccountingRequest(Span<byte> packet, ReadOnlySpan<byte> secret)
    {
        Span<byte> zero = stackalloc byte[Length];
        zero.Clear();
        Span<byte> hash = stackalloc byte[Length];
        Md5Over(packet, zero, secret, hash);
        hash.CopyTo(packet.Slice(4, Length));
    }

    /// <summary>Writes the Response Authenticator into a finished response (what a server does; the tests' fake server).</summary>
    public static void SignResponse(Span<byte> packet, ReadOnlySpan<byte> requestAuthenticator, ReadOnlySpan<byte> secret)
    {
        Span<byte> hash = stackalloc byte[Length];
        Md5Over(packet, requestAuthenticator, secret, hash);
        hash.CopyTo(packet.Slice(4, Length));
    }

    /// <summary>True when the response's authenticator is the MD5 over it with the request's authenticator (constant time).</summary>
    public static bool VerifyResponse(ReadOnlySpan<byte> packet, ReadOnlySpan<byte> requestAuthenticator, ReadOnlySpan<byte> secret)
    {
        Span<byte> hash = stackalloc byte[Length];
        Md5Over(packet, requestAuthenticator, secret, hash);
        return CryptographicOperations.FixedTimeEquals(hash, packet.Slice(4, Length));
    }

    /// <summary>
    /// Fills the Message-Authenticator whose value starts at <paramref name="valueOffset"/> in a finished packet (zero on
    /// entry). <paramref name="headerAuthenticator"/>: the authenticator the HMAC sees in the header (a request's own; a
    /// response's request authenticator); empty = the packet's own.
    /// </summary>
    public static void SignMessageAuthenticator(Span<byte> packet, int valueOffset, ReadOnlySpan<byte> headerAuthenticator, ReadOnlySpan<byte> secret)
    {
        Span<byte> mac = stackalloc byte[Length];
        MessageAuthenticator(packet, valueOffset, headerAuthenticator, secret, mac);
        mac.CopyTo(packet.Slice(valueOffset, Length));
    }

    /// <summary>
    /// Checks the one Message-Authenticator of a response against the request's authenticator (RFC 3579 §3.2).
    /// False when it is missing, repeated, of the wrong length, or wrong.
    /// </summary>
    public static bool VerifyMessageAuthenticator(RadiusPacket packet, ReadOnlySpan<byte> requestAuthenticator, ReadOnlySpan<byte> secret)
    {
        int valueOffset = -1;
        var reader = packet.Attributes;
        while (reader.TryNext(out var type, out var value))
        {
            if (type != RadiusAttributeType.MessageAuthenticator) continue;
            if (valueOffset >= 0 || value.Length != Length) return false;
            valueOffset = RadiusPacket.HeaderLength + reader.Offset + 2;
        }
        if (valueOffset < 0) return false;
        Span<byte> mac = stackalloc byte[Length];
        MessageAuthenticator(packet.Bytes, valueOffset, requestAuthenticator, secret, mac);
        return CryptographicOperations.FixedTimeEquals(mac, packet.Bytes.Slice(valueOffset, Length));
    }

    private static void MessageAuthenticator(ReadOnlySpan<byte> packet, int valueOffset, ReadOnlySpan<byte> headerAuthenticator,
        ReadOnlySpan<byte> secret, Span<byte> mac)
    {
        Span<byte> copy = packet.Length <= 1024 ? stackalloc byte[packet.Length] : new byte[packet.Length];
        packet.CopyTo(copy);
        if (!headerAuthenticator.IsEmpty) headerAuthenticator.CopyTo(copy.Slice(4, Length));
        copy.Slice(valueOffset, Length).Clear();
        HMACMD5.HashData(secret, copy, mac);
    }

    /// <summary>
    /// The RFC 2865 §5.2 / RFC 2548 §2.4.2 stream: b(1) = MD5(S | R | A), b(i) = MD5(S | c(i-1)), c(i) = p(i) xor b(i).
    /// <paramref name="salt"/> is empty for User-Password. Decrypts when <paramref name="decrypt"/> (the chain then runs
    /// over the ciphertext). Lengths are multiples of 16 (callers check).
    /// </summary>
    internal static void Crypt(ReadOnlySpan<byte> input, Span<byte> output, ReadOnlySpan<byte> secret, ReadOnlySpan<byte> requestAuthenticator,
        ReadOnlySpan<byte> salt, bool decrypt)
    {
        Span<byte> b = stackalloc byte[Length];
        Span<byte> previous = stackalloc byte[Length];
        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        md5.AppendData(secret);
        md5.AppendData(requestAuthenticator);
        md5.AppendData(salt);
        md5.GetHashAndReset(b);
        for (int i = 0; i < input.Length; i += Length)
        {
            var c = input.Slice(i, Length);
            c.CopyTo(previous);
            for (int j = 0; j < Length; j++) output[i + j] = (byte)(c[j] ^ b[j]);
            var chained = decrypt ? previous : output.Slice(i, Length);
            md5.AppendData(secret);
            md5.AppendData(chained);
            md5.GetHashAndReset(b);
        }
        CryptographicOperations.ZeroMemory(b);
    }

    /// <summary>User-Password hiding (RFC 2865 §5.2): the password padded with zeros to a multiple of 16 (at most 128).</summary>
    public static byte[] HidePassword(ReadOnlySpan<byte> password, ReadOnlySpan<byte> requestAuthenticator, ReadOnlySpan<byte> secret)
    {
        if (password.Length > 128) throw new ArgumentException("User-Password above 128 octets", nameof(password));
        int length = Math.Max(Length, (password.Length + Length - 1) / Length * Length);
        var padded = new byte[length];
        password.CopyTo(padded);
        var hidden = new byte[length];
        Crypt(padded, hidden, secret, requestAuthenticator, [], decrypt: false);
        CryptographicOperations.ZeroMemory(padded);
        return hidden;
    }
}
