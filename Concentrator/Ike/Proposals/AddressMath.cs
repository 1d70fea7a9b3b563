namespace Concentrator.Ike.Proposals;

/// <summary>Big-endian address byte arithmetic for selector ranges (IPv4 4 bytes, IPv6 16 bytes).</summary>
internal static class AddressMath
{
    /// <summary>Lexicographic compare of equal-length big-endian byte strings = numeric compare.</summary>
    public static int Compare(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b) => a.SequenceCompareTo(b);

    public static (byte[] Low, byte[] High) CidrBounds(byte[] address, int prefix)
    {
        var lo = (byte[])address.Clone();
        var hi = (byte[])address.Clone();
        for (var i = 0; i < address.Length; i++)
        {
            var bitsInByte = Math.Clamp(prefix - i * 8, 0, 8);
            var mask = (byte)(0xFF << (8 - bitsInByte));
            lo[i] &= mask;
            hi[i] = (byte)(lo[i] | ~mask);
        }
        return (lo, hi);
    }

    /// <summary>Prefix length when [start, end] is exactly one CIDR block, else -1.</summary>
    public static int PrefixLength(byte[] start, byte[] end)
    {
        for (var prefix = 0; prefix <= start.Length * 8; prefix++)
        {
            var (lo, hi) = CidrBounds(start, prefix);
            if (lo.AsSpan().SequenceEqual(start) && hi.AsSpan().SequenceEqual(end))
            {
                return prefix;
            }
        }
        return -1;
    }
}
