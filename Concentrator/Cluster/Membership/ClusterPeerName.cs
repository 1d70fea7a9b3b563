using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Concentrator.Cluster.Membership;

/// <summary>
/// <c>cluster.tls.remote_id</c>: the name every other node's certificate must carry, matched as strongSwan matches a
/// connection's remote.id against a certificate. An FQDN (<c>fqdn:</c> prefix optional) is compared with the
/// certificate's DNS subjectAltNames, case-insensitively; a leading <c>*</c> matches any prefix (<c>*.cluster.test</c>
/// accepts <c>n1.cluster.test</c>, not <c>cluster.test</c>). A DN (<c>asn1dn:</c> prefix, or any text with <c>=</c>) is
/// compared with the subject RDN by RDN in order, a value of <c>*</c> matching any one value. An IP address is compared
/// with the iPAddress subjectAltNames. A bare <c>*</c> or <c>%any</c> is refused: it would admit any certificate the CA
/// ever issued, for any purpose.
/// </summary>
public sealed class ClusterPeerName
{
    private enum Kind { Fqdn, Dn, Address }

    private readonly Kind _kind;
    private readonly string _fqdn = "";
    private readonly IPAddress? _address;
    private readonly List<(string Oid, string Value)> _rdns = [];

    private ClusterPeerName(string text, Kind kind)
    {
        Text = text;
        _kind = kind;
    }

    private ClusterPeerName(string text, string fqdn) : this(text, Kind.Fqdn) => _fqdn = fqdn;

    private ClusterPeerName(string text, IPAddress address) : this(text, Kind.Address) => _address = address;

    public string Text { get; }

    /// <summary>The parsed name, or null with <paramref name="error"/> saying why.</summary>
    public static ClusterPeerName? TryParse(string text, out string error)
    {
        error = "";
        var t = text.Trim();
        if (t is "*" or "%any" or "%any6" or "fqdn:*" or "asn1dn:*")
        {
            error = $"'{text}' would accept any certificate the CA issued; name the nodes (e.g. *.concentrator-cluster.vpn.svc.cluster.local)";
            return null;
        }
        int colon = t.IndexOf(':', StringComparison.Ordinal);
        string prefix = colon > 0 && !IPAddress.TryParse(t, out _) ? t[..colon] : "";
        string value = prefix.Length > 0 ? t[(colon + 1)..] : t;
        switch (prefix)
        {
            case "fqdn":
                return Fqdn(text, value, out error);
            case "asn1dn":
                return Dn(text, value, out error);
            case "":
                if (IPAddress.TryParse(value, out var address)) return new ClusterPeerName(text, address);
                return value.Contains('=', StringComparison.Ordinal) ? Dn(text, value, out error) : Fqdn(text, value, out error);
            default:
                error = $"'{text}': identity type '{prefix}' is not supported for cluster nodes (fqdn:, asn1dn: or an IP address)";
                return null;
        }
    }

    private static ClusterPeerName? Fqdn(string text, string value, out string error)
    {
        error = "";
        var host = value.StartsWith('*') ? value[1..] : value;
        if (host.Length == 0 || host.Contains('*', StringComparison.Ordinal) || host.Contains('@', StringComparison.Ordinal) ||
            Uri.CheckHostName(host.TrimStart('.')) != UriHostNameType.Dns)
        {
            error = $"'{text}' is not a DNS name (a leading * matches any prefix)";
            return null;
        }
        return new ClusterPeerName(text, value);
    }

    private static ClusterPeerName? Dn(string text, string value, out string error)
    {
        error = "";
        X500DistinguishedName dn;
        try
        {
            dn = new X500DistinguishedName(value);
        }
        catch (CryptographicException e)
        {
            error = $"'{text}' is not a distinguished name: {e.Message}";
            return null;
        }
        var name = new ClusterPeerName(text, Kind.Dn);
        foreach (var rdn in dn.EnumerateRelativeDistinguishedNames(reversed: false))
        {
            if (rdn.HasMultipleElements || rdn.GetSingleElementValue() is not { } v)
            {
                error = $"'{text}': multi-valued RDNs are not supported";
                return null;
            }
            name._rdns.Add((rdn.GetSingleElementType().Value!, v));
        }
        if (name._rdns.Count == 0)
        {
            error = $"'{text}' is an empty distinguished name";
            return null;
        }
        return name;
    }

    public bool Matches(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        switch (_kind)
        {
            case Kind.Dn:
                return MatchesSubject(certificate.SubjectName);
            case Kind.Address:
                foreach (var address in AltNames(certificate)?.EnumerateIPAddresses() ?? [])
                {
                    if (address.Equals(_address)) return true;
                }
                return false;
            default:
                foreach (var dns in AltNames(certificate)?.EnumerateDnsNames() ?? [])
                {
                    if (MatchesFqdn(dns)) return true;
                }
                return false;
        }
    }

    private static X509SubjectAlternativeNameExtension? AltNames(X509Certificate2 certificate) =>
        certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().FirstOrDefault();

    /// <summary>strongSwan's matches_string: equal ignoring case, or a leading * and the rest a suffix of the name.</summary>
    private bool MatchesFqdn(string name)
    {
        if (string.Equals(name, _fqdn, StringComparison.OrdinalIgnoreCase)) return true;
        if (!_fqdn.StartsWith('*')) return false;
        var suffix = _fqdn.AsSpan(1);
        return name.Length > suffix.Length && name.AsSpan().EndsWith(suffix, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>strongSwan's compare_dn with wildcards: the same RDN types in the same order, each value equal or "*".</summary>
    private bool MatchesSubject(X500DistinguishedName subject)
    {
        int i = 0;
        foreach (var rdn in subject.EnumerateRelativeDistinguishedNames(reversed: false))
        {
            if (i >= _rdns.Count || rdn.HasMultipleElements) return false;
            var (oid, value) = _rdns[i++];
            if (rdn.GetSingleElementType().Value != oid) return false;
            if (value != "*" && !string.Equals(rdn.GetSingleElementValue(), value, StringComparison.OrdinalIgnoreCase)) return false;
        }
        return i == _rdns.Count;
    }

    public override string ToString() => Text;
}
