using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Concentrator.Ike.Wire;

namespace Concentrator.Ike.Connections;

/// <summary>How well a configured identity matches a concrete one: strongSwan's id_match_t, higher is better.</summary>
public enum IdMatch
{
    None = 0,
    /// <summary>The configured identity is %any (or a bare "*").</summary>
    Any = 1,
    /// <summary>The floor of wildcard matches: a DN with many wildcard RDNs never ranks below this.</summary>
    MaxWildcards = 2,
    /// <summary>One wildcard: "*@example.net", "*.example.net", a DN with one "*" RDN (each further one is one less).</summary>
    OneWildcard = 19,
    Perfect = 20,
}

/// <summary>
/// An IKE identity (RFC 7296 §3.5) in strongSwan's notation (libstrongswan utils/identification.c), both as
/// configured (where it may be a pattern) and as received or sent (always concrete). Text parses as
/// identification_create_from_string does: swanctl's typed prefixes (<c>fqdn:</c>/<c>dns:</c>, <c>email:</c>/
/// <c>rfc822:</c>/<c>userfqdn:</c>, <c>asn1dn:</c>, <c>asn1gn:</c>, <c>keyid:</c>, <c>ipv4:</c>, <c>ipv6:</c>,
/// <c>{n}:</c>, a value after the prefix may be <c>#hex</c>); otherwise text with '=' is a DN (a KEY_ID when it is
/// not one), "", "%any", "%any6", "*", "0.0.0.0" and "::" are %any, an IPv4 or IPv6 address is itself, "@fqdn",
/// "@@user" and "@#hex" pick FQDN, RFC822 and KEY_ID, text with '@' is an RFC822 address, text with ':' a KEY_ID,
/// anything else an FQDN.
/// </summary>
/// <remarks>
/// Where this parses differently it refuses what strongSwan would silently mis-encode: <c>asn1dn:</c> text is
/// parsed as a DN (strongSwan copies the characters as if they were DER), <c>ipv4:</c>/<c>ipv6:</c> text as an
/// address, and a '*' that is not the first character of an FQDN or e-mail pattern (strongSwan matches only a
/// leading one, so "vpn.*" would never match) is an error. Subnet and range identities, regular expressions
/// (<c>fqdn:^...$</c>) and <c>xmppaddr:</c>/<c>uri:</c> are refused as not supported yet.
/// A received identity is never a pattern: only a configured one is ever the receiver of <see cref="Match"/>.
/// </remarks>
public sealed class Identity : IEquatable<Identity>
{
    public const string Any = "%any";

    /// <summary>%any: matches every identity as a pattern; as a concrete identity it matches only %any.</summary>
    public static readonly Identity AnyIdentity = new(0, [], Any, isAny: true);

    private static readonly string[] AnyForms = ["", "%any", "%any6", "0.0.0.0", "*", "::", "0::0"];

    private static readonly (string Prefix, IdType? Type, bool Regex)[] Prefixes =
    [
        ("ipv4:", IdType.Ipv4Address, false), ("ipv6:", IdType.Ipv6Address, false),
        ("ipv4net:", null, false), ("ipv6net:", null, false), ("ipv4range:", null, false), ("ipv6range:", null, false),
        ("rfc822:", IdType.Rfc822Address, true), ("email:", IdType.Rfc822Address, true), ("userfqdn:", IdType.Rfc822Address, true),
        ("fqdn:", IdType.Fqdn, true), ("dns:", IdType.Fqdn, true), ("asn1dn:", IdType.DerAsn1Dn, true),
        ("asn1gn:", IdType.DerAsn1Gn, false), ("xmppaddr:", null, false), ("keyid:", IdType.KeyId, false), ("uri:", null, false),
    ];

    /// <summary>The RDNs when this is a well-formed ID_DER_ASN1_DN, else null (then it compares as bytes).</summary>
    private readonly List<DistinguishedName.Rdn>? _rdns;

    private Identity(IdType type, byte[] data, string text, bool isAny = false, List<DistinguishedName.Rdn>? rdns = null)
    {
        Type = type;
        Data = data;
        Text = text;
        IsAny = isAny;
        _rdns = rdns;
    }

    /// <summary>The ID Type on the wire; meaningless for %any, which is never sent.</summary>
    public IdType Type { get; }
    public byte[] Data { get; }

    /// <summary>For people (logs, admin output), as strongSwan prints identities; not a key for matching.</summary>
    public string Text { get; }

    /// <summary>Only a configured "%any" (or its synonyms) is %any; nothing received ever is.</summary>
    public bool IsAny { get; }

    /// <summary>True when this identity is a pattern rather than one identity (strongSwan's contains_wildcards): it is not sent as IDr.</summary>
    public bool ContainsWildcards =>
        IsAny || Type switch
        {
            IdType.Fqdn or IdType.Rfc822Address => Data.AsSpan().IndexOf((byte)'*') >= 0,
            IdType.DerAsn1Dn => _rdns is not null && DistinguishedName.ContainsWildcards(_rdns),
            _ => false,
        };

    /// <summary>Parses configured text; a <see cref="FormatException"/> names the problem (the config loader checks first with <see cref="TryParse"/>).</summary>
    public static Identity Parse(string text) =>
        TryParse(text, out var identity, out var error) ? identity! : throw new FormatException($"identity '{text}': {error}");

    public static bool TryParse(string? text, out Identity? identity, out string? error)
    {
        identity = null;
        error = null;
        text ??= Any;
        foreach (var (prefix, type, regex) in Prefixes)
        {
            if (text.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                return TryTyped(prefix, type, regex, text[prefix.Length..], out identity, out error);
            }
        }
        if (NumberedPrefix(text) is { } numbered)
        {
            return TryNumbered(text, numbered, out identity, out error);
        }
        if (text.Contains('='))
        {
            identity = DistinguishedName.TryEncode(text, out var der) ? FromDer(der)! : Binary(IdType.KeyId, Encoding.UTF8.GetBytes(text));
            return true;
        }
        if (!text.Contains('@'))
        {
            if (AnyForms.Contains(text))
            {
                identity = AnyIdentity;
                return true;
            }
            if (text.Contains(':'))
            {
                return TryAddressOrKeyId(text, out identity, out error);
            }
            if (IsSubnetOrRange(text, AddressFamily.InterNetwork))
            {
                error = "IP subnet and range identities are not supported yet";
                return false;
            }
            identity = StrictIpv4(text) is { } v4 ? FromAddress(v4) : null;
            return identity is not null || TryString(IdType.Fqdn, text, out identity, out error);
        }
        if (text.StartsWith("@#", StringComparison.Ordinal))
        {
            return TryHex(text[2..], out var bytes, out error) && NonEmpty(identity = Binary(IdType.KeyId, bytes), out error);
        }
        if (text.StartsWith("@@", StringComparison.Ordinal))
        {
            return TryString(IdType.Rfc822Address, text[2..], out identity, out error);
        }
        return text.StartsWith('@') ? TryString(IdType.Fqdn, text[1..], out identity, out error) : TryString(IdType.Rfc822Address, text, out identity, out error);
    }

    public static Identity FromAddress(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        return new(address.AddressFamily == AddressFamily.InterNetworkV6 ? IdType.Ipv6Address : IdType.Ipv4Address,
            address.GetAddressBytes(), address.ToString());
    }

    /// <summary>A received (or replicated) identity: always concrete, never %any, never a pattern. Never throws.</summary>
    public static Identity FromPayload(IdPayload payload) => payload.IdType switch
    {
        IdType.Ipv4Address when payload.Data.Length == 4 => FromAddress(new IPAddress(payload.Data)),
        IdType.Ipv6Address when payload.Data.Length == 16 => FromAddress(new IPAddress(payload.Data)),
        IdType.Fqdn or IdType.Rfc822Address => new(payload.IdType, payload.Data, Printable(payload.Data)),
        IdType.DerAsn1Dn => FromDer(payload.Data) ?? Binary(IdType.DerAsn1Dn, payload.Data),
        _ => Binary(payload.IdType, payload.Data),
    };

    /// <summary>The ID_DER_ASN1_DN identity of a DER distinguished name (a certificate's subject); null when it is not one.</summary>
    public static Identity? FromDistinguishedName(byte[] der) => FromDer(der);

    public IdPayload ToPayload(PayloadType type) =>
        IsAny ? throw new InvalidOperationException("%any is a pattern, not an identity to send") : new(type, Type, Data);

    /// <summary>
    /// How well this configured identity (a pattern) matches the concrete identity <paramref name="id"/>: strongSwan's
    /// <c>id-&gt;matches(id, this)</c>. %any matches everything as <see cref="IdMatch.Any"/>; an FQDN or e-mail pattern
    /// is equal (ignoring case) or has one leading '*' (a bare "*" counts as %any); a DN pattern has the same RDNs in the
    /// same order, each "*" value matching any value and costing one; everything else is equal bytes.
    /// </summary>
    public IdMatch Match(Identity id)
    {
        if (IsAny) return IdMatch.Any;
        if (id.IsAny || id.Type != Type) return IdMatch.None;
        switch (Type)
        {
            case IdType.Fqdn or IdType.Rfc822Address:
                if (Ascii.EqualsIgnoreCase(id.Data, Data)) return IdMatch.Perfect;
                if (Data.Length == 0 || id.Data.Length < Data.Length || Data[0] != (byte)'*') return IdMatch.None;
                if (Data.Length == 1) return IdMatch.Any;
                return Ascii.EqualsIgnoreCase(id.Data.AsSpan(id.Data.Length - (Data.Length - 1)), Data.AsSpan(1)) ? IdMatch.OneWildcard : IdMatch.None;
            case IdType.DerAsn1Dn when _rdns is not null && id._rdns is not null:
                if (id.Data.AsSpan().SequenceEqual(Data)) return IdMatch.Perfect;
                if (!DistinguishedName.Matches(id._rdns, _rdns, wildcards: true, out int wildcards)) return IdMatch.None;
                return IdMatch.Perfect - Math.Min(wildcards, IdMatch.OneWildcard - IdMatch.MaxWildcards);
            default:
                return id.Data.AsSpan().SequenceEqual(Data) ? IdMatch.Perfect : IdMatch.None;
        }
    }

    /// <summary>strongSwan's equals: case-insensitive for FQDN and e-mail, RDN by RDN for DNs, bytes otherwise.</summary>
    public bool Equals(Identity? other)
    {
        if (other is null || IsAny != other.IsAny) return false;
        if (IsAny) return true;
        if (Type != other.Type || Data.Length != other.Data.Length) return false;
        return Type switch
        {
            IdType.Fqdn or IdType.Rfc822Address => Ascii.EqualsIgnoreCase(Data, other.Data),
            IdType.DerAsn1Dn when _rdns is not null && other._rdns is not null =>
                DistinguishedName.Matches(_rdns, other._rdns, wildcards: false, out _),
            _ => Data.AsSpan().SequenceEqual(other.Data),
        };
    }

    public override bool Equals(object? obj) => obj is Identity i && Equals(i);

    public override int GetHashCode() => IsAny ? 0 : Type switch
    {
        IdType.Fqdn or IdType.Rfc822Address => HashCode.Combine(Type, Encoding.Latin1.GetString(Data).ToLowerInvariant()),
        IdType.DerAsn1Dn => HashCode.Combine(Type, Data.Length),
        _ => HashCode.Combine(Type, Convert.ToHexString(Data)),
    };

    public override string ToString() => Text;

    // ---- parsing ----

    private static bool TryTyped(string prefix, IdType? type, bool regex, string value, out Identity? identity, out string? error)
    {
        identity = null;
        error = null;
        if (type is null)
        {
            error = $"'{prefix}' identities are not supported yet";
            return false;
        }
        if (regex && value.Length > 1 && value[0] == '^' && value[^1] == '$')
        {
            error = "regular expression identities are not supported yet";
            return false;
        }
        if (value.StartsWith('#'))
        {
            if (!TryHex(value[1..], out var bytes, out error)) return false;
            return TryFromBytes(type.Value, bytes, out identity, out error);
        }
        switch (type.Value)
        {
            case IdType.Ipv4Address or IdType.Ipv6Address:
                var family = type == IdType.Ipv4Address ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
                var address = family == AddressFamily.InterNetwork ? StrictIpv4(value) : StrictIpv6(value);
                identity = address is null ? null : FromAddress(address);
                error = identity is null ? $"not an {(family == AddressFamily.InterNetwork ? "IPv4" : "IPv6")} address" : null;
                return identity is not null;
            case IdType.DerAsn1Dn:
                identity = DistinguishedName.TryEncode(value, out var der) ? FromDer(der) : null;
                error = identity is null ? "not a distinguished name (e.g. \"C=CH, O=Example, CN=gw\")" : null;
                return identity is not null;
            case IdType.Fqdn or IdType.Rfc822Address:
                return TryString(type.Value, value, out identity, out error);
            default:
                return NonEmpty(identity = Binary(type.Value, Encoding.UTF8.GetBytes(value)), out error);
        }
    }

    /// <summary>The type number and prefix length of strongSwan's "{n}:value" (n decimal or 0x hex), or null.</summary>
    private static (long Number, int Length)? NumberedPrefix(string text)
    {
        int close = text.IndexOf("}:", StringComparison.Ordinal);
        if (!text.StartsWith('{') || close < 2) return null;
        var digits = text.AsSpan(1, close - 1);
        bool hex = digits.StartsWith("0x", StringComparison.OrdinalIgnoreCase);
        return long.TryParse(hex ? digits[2..] : digits, hex ? NumberStyles.AllowHexSpecifier : NumberStyles.None, CultureInfo.InvariantCulture, out long n)
            ? (n, close + 2)
            : null;
    }

    /// <summary>strongSwan's "{n}:value" with the ID type n, which must be one IKE defines.</summary>
    private static bool TryNumbered(string text, (long Number, int Length) prefix, out Identity? identity, out string? error)
    {
        identity = null;
        if (prefix.Number is < 1 or > 255 || !Enum.IsDefined((IdType)prefix.Number))
        {
            error = $"'{{n}}:' needs an IKE ID type n ({string.Join(", ", Enum.GetValues<IdType>().Select(t => (int)t))})";
            return false;
        }
        return TryTyped(text[..prefix.Length], (IdType)prefix.Number, regex: false, text[prefix.Length..], out identity, out error);
    }

    private static bool TryFromBytes(IdType type, byte[] bytes, out Identity? identity, out string? error)
    {
        identity = null;
        error = null;
        switch (type)
        {
            case IdType.Ipv4Address or IdType.Ipv6Address:
                if (bytes.Length != (type == IdType.Ipv4Address ? 4 : 16))
                {
                    error = $"an {(type == IdType.Ipv4Address ? "IPv4" : "IPv6")} address has {(type == IdType.Ipv4Address ? 4 : 16)} bytes, not {bytes.Length}";
                    return false;
                }
                identity = FromAddress(new IPAddress(bytes));
                return true;
            case IdType.DerAsn1Dn:
                identity = FromDer(bytes);
                error = identity is null ? "the bytes are not a DER distinguished name" : null;
                return identity is not null;
            case IdType.Fqdn or IdType.Rfc822Address:
                return TryString(type, Encoding.Latin1.GetString(bytes), out identity, out error);
            default:
                return NonEmpty(identity = Binary(type, bytes), out error);
        }
    }

    private static bool TryString(IdType type, string value, out Identity? identity, out string? error)
    {
        identity = null;
        if (value.Length == 0)
        {
            error = "identity is empty (use %any to accept any)";
            return false;
        }
        if (value.IndexOf('*', 1) >= 0)
        {
            error = "'*' is a wildcard only as the first character (\"*.example.net\", \"*@example.net\")";
            return false;
        }
        if (!Ascii.IsValid(value))
        {
            error = "FQDN and e-mail identities are ASCII (IDNA: use the xn-- form)";
            return false;
        }
        error = null;
        identity = new Identity(type, Encoding.ASCII.GetBytes(value), value);
        return true;
    }

    /// <summary>strongSwan: text with ':' is an IPv6 address (subnets and ranges not supported yet) or else a KEY_ID.</summary>
    private static bool TryAddressOrKeyId(string text, out Identity? identity, out string? error)
    {
        error = null;
        if (IsSubnetOrRange(text, AddressFamily.InterNetworkV6))
        {
            identity = null;
            error = "IP subnet and range identities are not supported yet";
            return false;
        }
        identity = StrictIpv6(text) is { } v6 ? FromAddress(v6) : Binary(IdType.KeyId, Encoding.UTF8.GetBytes(text));
        return true;
    }

    private static bool NonEmpty(Identity? identity, out string? error)
    {
        error = identity is { Data.Length: 0 } ? "identity is empty (use %any to accept any)" : null;
        return error is null;
    }

    private static Identity? FromDer(byte[] der) =>
        DistinguishedName.TryReadRdns(der, out var rdns) ? new Identity(IdType.DerAsn1Dn, der, DistinguishedName.ToText(rdns), rdns: rdns) : null;

    private static Identity Binary(IdType type, byte[] data)
    {
        string prefix = type switch
        {
            IdType.KeyId => "keyid:",
            IdType.DerAsn1Dn => "asn1dn:",
            IdType.DerAsn1Gn => "asn1gn:",
            _ => $"{{{(int)type}}}:",
        };
        bool printable = type == IdType.KeyId && data.Length > 0 && data.All(b => b is >= 0x20 and < 0x7F);
        return new(type, data, prefix + (printable ? Encoding.ASCII.GetString(data) : "#" + Convert.ToHexStringLower(data)));
    }

    private static string Printable(byte[] data) =>
        string.Create(data.Length, data, static (span, d) =>
        {
            for (int n = 0; n < d.Length; n++) span[n] = d[n] is >= 0x20 and < 0x7F ? (char)d[n] : '?';
        });

    /// <summary>strongSwan's chunk_from_hex: optional "0x", optional ':' separators, an odd digit count padded on the left.</summary>
    private static bool TryHex(string hex, out byte[] bytes, out string? error)
    {
        if (hex.StartsWith("0x", StringComparison.OrdinalIgnoreCase)) hex = hex[2..];
        hex = hex.Replace(":", "", StringComparison.Ordinal);
        if (hex.Length % 2 == 1) hex = "0" + hex;
        try
        {
            bytes = Convert.FromHexString(hex);
            error = bytes.Length == 0 ? "identity is empty (use %any to accept any)" : null;
            return error is null;
        }
        catch (FormatException)
        {
            bytes = [];
            error = "the value after '#' is not hexadecimal";
            return false;
        }
    }

    /// <summary>inet_pton(AF_INET): exactly four decimal octets without leading zeros (IPAddress.TryParse also takes "1" or "1.2").</summary>
    private static IPAddress? StrictIpv4(string text)
    {
        var parts = text.Split('.');
        if (parts.Length != 4) return null;
        foreach (var p in parts)
        {
            if (p.Length is 0 or > 3 || (p.Length > 1 && p[0] == '0') || !p.All(char.IsAsciiDigit) || int.Parse(p, CultureInfo.InvariantCulture) > 255)
            {
                return null;
            }
        }
        return IPAddress.Parse(text);
    }

    /// <summary>inet_pton(AF_INET6): no zone, no brackets, no port.</summary>
    private static IPAddress? StrictIpv6(string text) =>
        text.AsSpan().IndexOfAny("%[]/ ") < 0 && IPAddress.TryParse(text, out var a) && a.AddressFamily == AddressFamily.InterNetworkV6 ? a : null;

    /// <summary>What strongSwan would read as an address subnet ("a/n") or range ("a-b"), which this does not implement.</summary>
    private static bool IsSubnetOrRange(string text, AddressFamily family)
    {
        int slash = text.IndexOf('/');
        int dash = text.IndexOf('-');
        Func<string, IPAddress?> parse = family == AddressFamily.InterNetwork ? StrictIpv4 : StrictIpv6;
        if (slash > 0) return parse(text[..slash]) is not null;
        return dash > 0 && parse(text[..dash]) is not null && parse(text[(dash + 1)..]) is not null;
    }
}
