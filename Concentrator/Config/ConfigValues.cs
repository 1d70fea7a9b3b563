using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Concentrator.Ike.Proposals;

namespace Concentrator.Config;

/// <summary>swanctl value syntax. Each parser returns an error text naming the expected form, or null.</summary>
internal static class ConfigValues
{
    /// <summary>Seconds, or a number with s/m/h/d suffix ("30s", "90m", "4h", "2d").</summary>
    public static string? TryDuration(string text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        var s = text.Trim();
        long unit = 1;
        if (s.Length > 0)
        {
            switch (char.ToLowerInvariant(s[^1]))
            {
                case 's': unit = 1; s = s[..^1]; break;
                case 'm': unit = 60; s = s[..^1]; break;
                case 'h': unit = 3600; s = s[..^1]; break;
                case 'd': unit = 86400; s = s[..^1]; break;
            }
        }
        if (!ulong.TryParse(s.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n > (ulong)(TimeSpan.MaxValue.TotalSeconds / unit / 2))
        {
            return $"'{text}' is not a duration (seconds, or a whole number with s, m, h or d suffix)";
        }
        value = TimeSpan.FromSeconds((double)(n * (ulong)unit));
        return null;
    }

    /// <summary>Bytes, or a number with k/m/g suffix (either case, 1024-based as strongSwan).</summary>
    public static string? TryBytes(string text, out ulong value) => TryScaled(text, out value, "byte count");

    /// <summary>Packet counts take the same suffixes as bytes in swanctl.</summary>
    public static string? TryPackets(string text, out ulong value) => TryScaled(text, out value, "packet count");

    private static string? TryScaled(string text, out ulong value, string what)
    {
        value = 0;
        var s = text.Trim();
        ulong scale = 1;
        if (s.Length > 0)
        {
            switch (char.ToLowerInvariant(s[^1]))
            {
                case 'k': scale = 1UL << 10; s = s[..^1]; break;
                case 'm': scale = 1UL << 20; s = s[..^1]; break;
                case 'g': scale = 1UL << 30; s = s[..^1]; break;
            }
        }
        if (!TryUnsigned(s.Trim(), out var n) || (n != 0 && ulong.MaxValue / n < scale))
        {
            return $"'{text}' is not a {what} (whole number, optional k, m or g suffix = 1024-based)";
        }
        value = n * scale;
        return null;
    }

    /// <summary>yes/no, true/false, enabled/disabled, 1/0 (strongSwan settings booleans).</summary>
    public static string? TryBool(string text, out bool value)
    {
        switch (text.Trim().ToLowerInvariant())
        {
            case "yes": case "true": case "enabled": case "1":
                value = true;
                return null;
            case "no": case "false": case "disabled": case "0":
                value = false;
                return null;
            default:
                value = false;
                return $"'{text}' is not a boolean (yes/no, true/false)";
        }
    }

    /// <summary>Decimal or 0x-prefixed hexadecimal integer within [min, max].</summary>
    public static string? TryInt(string text, int min, int max, out int value)
    {
        value = 0;
        var s = text.Trim();
        var negative = s.StartsWith('-');
        if (negative)
        {
            s = s[1..];
        }
        if (!TryUnsigned(s, out var u) || u > long.MaxValue)
        {
            return $"'{text}' is not an integer";
        }
        var n = negative ? -(long)u : (long)u;
        if (n < min || n > max)
        {
            return $"{n} is out of range {min}..{max}";
        }
        value = (int)n;
        return null;
    }

    /// <summary>A finite decimal number ("1.5", "2e3").</summary>
    public static string? TryNumber(string text, out double value) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && double.IsFinite(value)
            ? null
            : $"'{text}' is not a number";

    /// <summary>A finite decimal number within [min, max].</summary>
    public static string? TryNumber(string text, double min, double max, out double value)
    {
        if (TryNumber(text, out value) is { } error)
        {
            return error;
        }
        return value >= min && value <= max ? null : $"{value.ToString(CultureInfo.InvariantCulture)} is out of range {min}..{max}";
    }

    private static bool TryUnsigned(string s, out ulong value)
    {
        if (s.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            return ulong.TryParse(s.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value) && s.Length > 2;
        }
        return ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>"host:port" or "[v6]:port"; the host an IP address or DNS name.</summary>
    public static string? TryHostPort(string text) =>
        IsHostPort(text) ? null : $"'{text}' is not host:port (e.g. 127.0.0.1:9400 or [::1]:9400)";

    private static bool IsHostPort(string s)
    {
        int colon;
        if (s.StartsWith('['))
        {
            var close = s.IndexOf(']');
            if (close < 0 || close + 1 >= s.Length || s[close + 1] != ':')
            {
                return false;
            }
            colon = close + 1;
            if (!IPAddress.TryParse(s[1..close], out var v6) || v6.AddressFamily != AddressFamily.InterNetworkV6)
            {
                return false;
            }
        }
        else
        {
            colon = s.LastIndexOf(':');
            if (colon <= 0 || s.IndexOf(':') != colon)
            {
                return false;
            }
            var host = s[..colon];
            if (!IPAddress.TryParse(host, out _) && Uri.CheckHostName(host) != UriHostNameType.Dns)
            {
                return false;
            }
        }
        return int.TryParse(s.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port <= 65535;
    }

    /// <summary>A swanctl local_addrs/remote_addrs entry: IP, CIDR, range, DNS name, %any, %any4, %any6.</summary>
    public static string? TryAddressSpec(string text) =>
        IsAddressSpec(text) ? null : $"'{text}' is not an address, subnet, range, DNS name or %any";

    private static bool IsAddressSpec(string v)
    {
        if (v is "%any" or "%any4" or "%any6")
        {
            return true;
        }
        if (v.Contains('/') || v.Contains('-') && v.Contains(':') || v.Count(c => c == '-') == 1 && IPAddress.TryParse(v.Split('-')[0], out _))
        {
            return TrafficSelectorSpec.TryParse(v, out _, out _);
        }
        if (IPAddress.TryParse(v, out _))
        {
            return true;
        }
        return Uri.CheckHostName(v) == UriHostNameType.Dns;
    }

    /// <summary>swanctl secret encodings: "0x..." hex, "0s..." base64, anything else is the literal text (UTF-8).</summary>
    public static string? TrySecret(string text, out byte[] value)
    {
        value = [];
        if (text.Length == 0)
        {
            return "secret is empty";
        }
        if (text.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                value = Convert.FromHexString(text.AsSpan(2));
            }
            catch (FormatException)
            {
                return "secret starting with 0x must be hexadecimal with an even number of digits";
            }
        }
        else if (text.StartsWith("0s", StringComparison.Ordinal))
        {
            try
            {
                value = Convert.FromBase64String(text[2..]);
            }
            catch (FormatException)
            {
                return "secret starting with 0s must be base64";
            }
        }
        else
        {
            value = Encoding.UTF8.GetBytes(text);
        }
        return value.Length == 0 ? "secret is empty" : null;
    }
}
