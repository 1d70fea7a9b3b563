using System.Formats.Asn1;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Concentrator.Ike.Wire;

namespace Concentrator.Ike.Connections;

/// <summary>
/// Whether a certificate names an identity (strongSwan's x509 has_subject): an FQDN, e-mail address or IP address must be
/// one of its subjectAltNames (dNSName, rfc822Name, iPAddress; equal, ignoring case for names), a DN must equal its
/// subject (or a directoryName), a KEY_ID its subjectKeyIdentifier. The CN of the subject never stands in for a
/// subjectAltName (as in strongSwan). A malformed extension binds nothing.
/// </summary>
public static class CertificateIdentity
{
    private const string SubjectAltNameOid = "2.5.29.17";
    private const string SubjectKeyIdentifierOid = "2.5.29.14";

    private static readonly Asn1Tag Rfc822Name = new(TagClass.ContextSpecific, 1);
    private static readonly Asn1Tag DnsName = new(TagClass.ContextSpecific, 2);
    private static readonly Asn1Tag DirectoryName = new(TagClass.ContextSpecific, 4, isConstructed: true);
    private static readonly Asn1Tag IpAddress = new(TagClass.ContextSpecific, 7);

    /// <summary>True when <paramref name="certificate"/> names the concrete identity <paramref name="id"/>.</summary>
    public static bool Binds(X509Certificate2 certificate, Identity id)
    {
        if (id.IsAny) return false;
        switch (id.Type)
        {
            case IdType.DerAsn1Dn:
                return Identity.FromDistinguishedName(certificate.SubjectName.RawData) is { } subject && subject.Equals(id)
                       || AltNames(certificate, DirectoryName).Any(dn => Identity.FromDistinguishedName(dn) is { } alt && alt.Equals(id));
            case IdType.Fqdn:
                return AltNames(certificate, DnsName).Any(name => Ascii.EqualsIgnoreCase(name, id.Data));
            case IdType.Rfc822Address:
                return AltNames(certificate, Rfc822Name).Any(name => Ascii.EqualsIgnoreCase(name, id.Data));
            case IdType.Ipv4Address or IdType.Ipv6Address:
                return AltNames(certificate, IpAddress).Any(address => address.AsSpan().SequenceEqual(id.Data));
            case IdType.KeyId:
                return certificate.Extensions[SubjectKeyIdentifierOid] is X509SubjectKeyIdentifierExtension ski &&
                       ski.SubjectKeyIdentifierBytes.Span.SequenceEqual(id.Data);
            default:
                return false;
        }
    }

    /// <summary>
    /// True when the configured identity <paramref name="pattern"/> (wildcards allowed, <see cref="Identity.Match"/>) matches
    /// a name <paramref name="certificate"/> carries: for a DN its subject or a directoryName, otherwise a subjectAltName of
    /// the pattern's type (dNSName, rfc822Name, iPAddress). %any matches nothing here: a caller that accepts any
    /// certificate of its CAs says so itself.
    /// </summary>
    public static bool Matches(X509Certificate2 certificate, Identity pattern)
    {
        if (pattern.IsAny) return false;
        if (pattern.Type == IdType.DerAsn1Dn)
        {
            return Matches(pattern, Identity.FromDistinguishedName(certificate.SubjectName.RawData))
                   || AltNames(certificate, DirectoryName).Any(dn => Matches(pattern, Identity.FromDistinguishedName(dn)));
        }
        var (tag, lengths) = pattern.Type switch
        {
            IdType.Fqdn => (DnsName, 0),
            IdType.Rfc822Address => (Rfc822Name, 0),
            IdType.Ipv4Address => (IpAddress, 4),
            IdType.Ipv6Address => (IpAddress, 16),
            _ => (default(Asn1Tag?), 0),
        };
        if (tag is not { } t) return false;
        return AltNames(certificate, t).Any(value => (lengths == 0 || value.Length == lengths)
            && Matches(pattern, Identity.FromPayload(new IdPayload(PayloadType.IdResponder, pattern.Type, value))));
    }

    private static bool Matches(Identity pattern, Identity? name) => name is not null && pattern.Match(name) != IdMatch.None;

    /// <summary>The subject DN and subjectAltNames in strongSwan's notation, for errors and logs.</summary>
    public static string Describe(X509Certificate2 certificate)
    {
        var sb = new StringBuilder();
        sb.Append('"').Append(Identity.FromDistinguishedName(certificate.SubjectName.RawData)?.Text ?? certificate.Subject).Append('"');
        var names = AltNames(certificate, DnsName).Select(n => Encoding.ASCII.GetString(n))
            .Concat(AltNames(certificate, Rfc822Name).Select(n => Encoding.ASCII.GetString(n)))
            .Concat(AltNames(certificate, IpAddress).Where(a => a.Length is 4 or 16).Select(a => new IPAddress(a).ToString()))
            .ToList();
        if (names.Count > 0) sb.Append(" (subjectAltName ").Append(string.Join(", ", names)).Append(')');
        return sb.ToString();
    }

    /// <summary>The values of one GeneralName choice in the subjectAltName extension (a directoryName as its DER Name).</summary>
    private static List<byte[]> AltNames(X509Certificate2 certificate, Asn1Tag tag)
    {
        var result = new List<byte[]>();
        if (certificate.Extensions[SubjectAltNameOid] is not { } extension) return result;
        try
        {
            var reader = new AsnReader(extension.RawData, AsnEncodingRules.DER);
            var names = reader.ReadSequence();
            while (names.HasData)
            {
                var next = names.PeekTag();
                if (next == tag && tag.IsConstructed)
                {
                    result.Add(names.ReadSequence(tag).ReadEncodedValue().ToArray());
                }
                else if (next == tag)
                {
                    result.Add(names.ReadOctetString(tag));
                }
                else
                {
                    names.ReadEncodedValue();
                }
            }
        }
        catch (Exception e) when (e is AsnContentException or CryptographicException)
        {
            result.Clear();
        }
        return result;
    }
}
