namespace Concentrator.Tests.Ike.Crypto;

internal static class Hex
{
    /// <summary>Hex with any whitespace, as copied from the RFCs.</summary>
    public static byte[] B(string hex) => Convert.FromHexString(string.Concat(hex.Where(c => !char.IsWhiteSpace(c))));

    public static byte[] Repeat(byte value, int count) => Enumerable.Repeat(value, count).ToArray();

    public static byte[] Ascii(string s) => System.Text.Encoding.ASCII.GetBytes(s);
}
