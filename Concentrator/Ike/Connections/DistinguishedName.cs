using System.Text;

namespace Concentrator.Ike.Connections;

/// <summary>
/// X.501 distinguished names as IKE carries them in ID_DER_ASN1_DN (RFC 7296 §3.5): DER
/// <c>SEQUENCE OF SET OF SEQUENCE { OID, string }</c>. Text is converted as strongSwan's atodn/dntoa do
/// (libstrongswan utils/identification.c), so a DN written in a swanctl.conf encodes to the same bytes here:
/// "C=CH, O=strongSwan, CN=moon" (or "/C=CH/O=strongSwan/CN=moon"), RDNs in the order written, its table of
/// attribute names, PrintableString where the value allows it and UTF8String otherwise (IA5String for e-mail).
/// Received DER is never trusted: every reader here is bounds-checked and answers false instead of throwing.
/// </summary>
internal static class DistinguishedName
{
    private const byte Sequence = 0x30;
    private const byte Set = 0x31;
    private const byte Oid = 0x06;
    private const byte PrintableString = 0x13;
    private const byte Ia5String = 0x16;
    private const byte Utf8String = 0x0C;

    /// <summary>strongSwan's RDN_MAX: a longer DN is not a DN (it becomes a KEY_ID, as there).</summary>
    private const int MaxRdns = 20;

    private sealed record Attribute(string Name, byte[] Oid, byte StringType);

    // strongSwan's x501rdns table (name, OID, string type); aliases share an OID. The first name of an OID is printed.
    private static readonly Attribute[] Attributes =
    [
        new("ND", [0x02, 0x82, 0x06, 0x01, 0x0A, 0x07, 0x14], PrintableString),
        new("UID", [0x09, 0x92, 0x26, 0x89, 0x93, 0xF2, 0x2C, 0x64, 0x01, 0x01], PrintableString),
        new("DC", [0x09, 0x92, 0x26, 0x89, 0x93, 0xF2, 0x2C, 0x64, 0x01, 0x19], PrintableString),
        new("CN", [0x55, 0x04, 0x03], PrintableString),
        new("SN", [0x55, 0x04, 0x04], PrintableString),
        new("serialNumber", [0x55, 0x04, 0x05], PrintableString),
        new("C", [0x55, 0x04, 0x06], PrintableString),
        new("L", [0x55, 0x04, 0x07], PrintableString),
        new("ST", [0x55, 0x04, 0x08], PrintableString),
        new("STREET", [0x55, 0x04, 0x09], PrintableString),
        new("O", [0x55, 0x04, 0x0A], PrintableString),
        new("OU", [0x55, 0x04, 0x0B], PrintableString),
        new("organizationIdentifier", [0x55, 0x04, 0x61], PrintableString),
        new("T", [0x55, 0x04, 0x0C], PrintableString),
        new("D", [0x55, 0x04, 0x0D], PrintableString),
        new("postalAddress", [0x55, 0x04, 0x10], PrintableString),
        new("postalCode", [0x55, 0x04, 0x11], PrintableString),
        new("N", [0x55, 0x04, 0x29], PrintableString),
        new("G", [0x55, 0x04, 0x2A], PrintableString),
        new("I", [0x55, 0x04, 0x2B], PrintableString),
        new("dnQualifier", [0x55, 0x04, 0x2E], PrintableString),
        new("dmdName", [0x55, 0x04, 0x36], PrintableString),
        new("pseudonym", [0x55, 0x04, 0x41], PrintableString),
        new("ID", [0x55, 0x04, 0x2D], PrintableString),
        new("employeeNumber", [0x60, 0x86, 0x48, 0x01, 0x86, 0xF8, 0x42, 0x03, 0x01, 0x03], PrintableString),
        new("EN", [0x60, 0x86, 0x48, 0x01, 0x86, 0xF8, 0x42, 0x03, 0x01, 0x03], PrintableString),
        new("E", [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x01], Ia5String),
        new("Email", [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x01], Ia5String),
        new("emailAddress", [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x01], Ia5String),
        new("unstructuredName", [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x02], Ia5String),
        new("UN", [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x02], Ia5String),
        new("unstructuredAddress", [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x08], PrintableString),
        new("UA", [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x08], PrintableString),
        new("TCGID", [0x2B, 0x06, 0x01, 0x04, 0x01, 0x89, 0x31, 0x01, 0x01, 0x02, 0x02, 0x4B], PrintableString),
    ];

    private static readonly byte[] EmailOid = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x01];

    /// <summary>One attribute of a DN as it sits in the DER: the OID's content bytes, the string tag, the value bytes.</summary>
    internal readonly record struct Rdn(byte[] Oid, byte Type, byte[] Value)
    {
        public bool IsWildcard => Value is [(byte)'*'];
    }

    /// <summary>
    /// strongSwan's atodn: the text to DER, or false when it is not a DN there (an unknown attribute name, an attribute
    /// without '=', more than 20 RDNs), in which case strongSwan (and <see cref="Identity.Parse"/>) makes it a KEY_ID.
    /// </summary>
    public static bool TryEncode(string text, out byte[] der)
    {
        der = [];
        var rdns = new List<byte[]>();
        char separator = '\0';
        int i = 0;
        while (true)
        {
            // Search the attribute name; a leading '/' makes '/' the separator, ',' otherwise.
            while (i < text.Length && text[i] == ' ') i++;
            if (separator == '\0' && i < text.Length && text[i] == '/')
            {
                separator = '/';
                i++;
                continue;
            }
            if (i >= text.Length) break;
            if (separator == '\0') separator = ',';
            int nameStart = i;
            while (i < text.Length && text[i] != ' ' && text[i] != '=') i++;
            if (i >= text.Length) return false; // unterminated attribute name
            var attribute = Find(text.AsSpan(nameStart, i - nameStart));
            if (attribute is null) return false;

            while (i < text.Length && (text[i] == ' ' || text[i] == '=')) i++;
            int valueStart = i;
            while (i < text.Length && text[i] != separator) i++;
            var value = text.AsSpan(valueStart, i - valueStart).TrimEnd(' ');
            if (i < text.Length) i++; // the separator
            if (rdns.Count == MaxRdns) return false;
            var bytes = Encoding.UTF8.GetBytes(value.ToString());
            byte type = attribute.StringType == PrintableString && !IsPrintableString(bytes) ? Utf8String : attribute.StringType;
            rdns.Add(Tlv(Set, Tlv(Sequence, [.. Tlv(Oid, attribute.Oid), .. Tlv(type, bytes)])));
        }
        der = Tlv(Sequence, rdns.SelectMany(r => r).ToArray());
        return true;
    }

    /// <summary>The RDNs of a DER DN in order; false for anything that is not exactly one well-formed DN.</summary>
    public static bool TryReadRdns(ReadOnlySpan<byte> der, out List<Rdn> rdns)
    {
        rdns = [];
        if (!TryRead(ref der, Sequence, out var sets) || !der.IsEmpty) return false;
        while (!sets.IsEmpty)
        {
            if (!TryRead(ref sets, Set, out var set) || set.IsEmpty) return false;
            while (!set.IsEmpty)
            {
                if (!TryRead(ref set, Sequence, out var seq) || !TryRead(ref seq, Oid, out var oid) ||
                    !TryReadAny(ref seq, out byte type, out var value) || !seq.IsEmpty)
                {
                    return false;
                }
                rdns.Add(new Rdn(oid.ToArray(), type, value.ToArray()));
            }
        }
        return true;
    }

    /// <summary>strongSwan's dntoa: "C=CH, O=strongSwan, CN=moon"; unknown attributes by dotted OID, unprintable octets as '?'.</summary>
    public static string ToText(IReadOnlyList<Rdn> rdns)
    {
        var sb = new StringBuilder();
        foreach (var rdn in rdns)
        {
            if (sb.Length > 0) sb.Append(", ");
            sb.Append(NameOf(rdn.Oid)).Append('=');
            var value = rdn.Type == Utf8String ? Encoding.UTF8.GetString(rdn.Value) : Encoding.Latin1.GetString(rdn.Value);
            foreach (char c in value) sb.Append(char.IsControl(c) || (rdn.Type != Utf8String && c > '~') ? '?' : c);
        }
        return sb.ToString();
    }

    /// <summary>
    /// strongSwan's compare_dn: the same attributes in the same order, equal values (PrintableStrings, and e-mail
    /// addresses in IA5String, ignoring case). With <paramref name="wildcards"/> a pattern value of exactly "*" matches
    /// any value and is counted. RDN_MATCHING "reordered"/"relaxed" are not offered.
    /// </summary>
    public static bool Matches(IReadOnlyList<Rdn> text, IReadOnlyList<Rdn> pattern, bool wildcards, out int wildcardCount)
    {
        wildcardCount = 0;
        if (text.Count != pattern.Count) return false;
        for (int n = 0; n < text.Count; n++)
        {
            var t = text[n];
            var p = pattern[n];
            if (!t.Oid.AsSpan().SequenceEqual(p.Oid)) return false;
            if (wildcards && p.IsWildcard)
            {
                wildcardCount++;
                continue;
            }
            if (t.Value.Length != p.Value.Length || !ValueEquals(t, p)) return false;
        }
        return true;
    }

    public static bool ContainsWildcards(IReadOnlyList<Rdn> rdns) => rdns.Any(r => r.IsWildcard);

    private static bool ValueEquals(Rdn a, Rdn b)
    {
        bool ignoreCase = a.Type == b.Type &&
            (a.Type == PrintableString || (a.Type == Ia5String && a.Oid.AsSpan().SequenceEqual(EmailOid)));
        return ignoreCase ? Ascii.EqualsIgnoreCase(a.Value, b.Value) : a.Value.AsSpan().SequenceEqual(b.Value);
    }

    private static Attribute? Find(ReadOnlySpan<char> name)
    {
        foreach (var a in Attributes)
        {
            if (name.Equals(a.Name, StringComparison.OrdinalIgnoreCase)) return a;
        }
        return null;
    }

    private static string NameOf(byte[] oid)
    {
        foreach (var a in Attributes)
        {
            if (a.Oid.AsSpan().SequenceEqual(oid)) return a.Name;
        }
        return DottedOid(oid);
    }

    private static string DottedOid(byte[] oid)
    {
        if (oid.Length == 0) return "?";
        var parts = new List<string> { (oid[0] / 40).ToString(System.Globalization.CultureInfo.InvariantCulture),
            (oid[0] % 40).ToString(System.Globalization.CultureInfo.InvariantCulture) };
        ulong arc = 0;
        for (int n = 1; n < oid.Length; n++)
        {
            if (arc > ulong.MaxValue >> 7) return Convert.ToHexString(oid);
            arc = (arc << 7) | (uint)(oid[n] & 0x7F);
            if ((oid[n] & 0x80) != 0) continue;
            parts.Add(arc.ToString(System.Globalization.CultureInfo.InvariantCulture));
            arc = 0;
        }
        return string.Join('.', parts);
    }

    /// <summary>ASN.1 PrintableString's alphabet (X.680 §41.4), as strongSwan's asn1_is_printablestring.</summary>
    private static bool IsPrintableString(byte[] value)
    {
        foreach (byte b in value)
        {
            bool ok = b is >= (byte)'a' and <= (byte)'z' or >= (byte)'A' and <= (byte)'Z' or >= (byte)'0' and <= (byte)'9' ||
                "'()+,-./:=? "u8.IndexOf(b) >= 0;
            if (!ok) return false;
        }
        return true;
    }

    private static byte[] Tlv(byte tag, byte[] content)
    {
        int n = content.Length;
        byte[] length = n < 0x80 ? [(byte)n] : n <= 0xFF ? [0x81, (byte)n] : n <= 0xFFFF ? [0x82, (byte)(n >> 8), (byte)n]
            : [0x83, (byte)(n >> 16), (byte)(n >> 8), (byte)n];
        return [tag, .. length, .. content];
    }

    private static bool TryRead(ref ReadOnlySpan<byte> input, byte tag, out ReadOnlySpan<byte> content) =>
        TryReadAny(ref input, out byte actual, out content) && actual == tag;

    /// <summary>One DER TLV with a one-byte tag and a definite length of at most 3 length octets.</summary>
    private static bool TryReadAny(ref ReadOnlySpan<byte> input, out byte tag, out ReadOnlySpan<byte> content)
    {
        tag = 0;
        content = default;
        if (input.Length < 2 || (input[0] & 0x1F) == 0x1F) return false;
        tag = input[0];
        int length = input[1];
        int header = 2;
        if (length >= 0x80)
        {
            int octets = length & 0x7F;
            if (octets is 0 or > 3 || input.Length < 2 + octets) return false;
            length = 0;
            for (int n = 0; n < octets; n++) length = (length << 8) | input[2 + n];
            header += octets;
        }
        if (input.Length - header < length) return false;
        content = input.Slice(header, length);
        input = input[(header + length)..];
        return true;
    }
}
