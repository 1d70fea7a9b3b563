using Concentrator.Ike.Connections;

namespace Concentrator.Config;

/// <summary>
/// The top-level <c>authorities</c> of swanctl.conf: <c>authorities.&lt;name&gt;.cacert</c> (one CA certificate, PEM or
/// DER, relative to the file naming it) and <c>ocsp_uris</c> (http URLs of OCSP responders answering for the
/// certificates that CA issued). An authority attaches responders to a CA; it makes nothing trusted (remote.cacerts does).
/// All pubkey rounds share one <see cref="OcspChecker"/> (one cache, one HTTP client), also without authorities: under
/// remote.revocation strict and ifuri it asks the OCSP responder a certificate's AIA names.
/// </summary>
internal static partial class ConfigLoader
{
    private const string AuthoritiesKey = "authorities";

    /// <summary>swanctl authority keys not built, with the reason (an error at load, never read and ignored).</summary>
    private static readonly Dictionary<string, string> UnsupportedAuthorityKeys = new(StringComparer.Ordinal)
    {
        ["crl_uris"] = "is not supported yet: CRLs are not fetched over HTTP; list CRL files under the top-level crls, or give ocsp_uris",
        ["cert_uri_base"] = "is not supported yet (hash-and-URL certificates, RFC 7296 §3.6)",
        ["file"] = "is not supported yet (smartcard CA certificates); give cacert",
        ["handle"] = "is not supported yet (smartcard CA certificates); give cacert",
        ["slot"] = "is not supported yet (smartcard CA certificates); give cacert",
        ["module"] = "is not supported yet (smartcard CA certificates); give cacert",
    };

    private static readonly string[] AuthorityKeys = ["cacert", "ocsp_uris", .. UnsupportedAuthorityKeys.Keys];

    private static OcspChecker ReadAuthorities(YamlSection root)
    {
        var authorities = new List<OcspAuthority>();
        foreach (var (name, m) in root.Sections(AuthoritiesKey, AuthorityKeys))
        {
            foreach (var key in m.Keys)
            {
                if (UnsupportedAuthorityKeys.TryGetValue(key, out var why)) throw m.Fail(key, why);
            }
            if (m.Scalar("cacert") is null) throw m.Fail("cacert", "missing (the CA certificate whose issued certificates the responders answer for)");
            var certs = ReadCertificates(m, "cacert");
            if (certs.Count != 1) throw m.Fail("cacert", $"holds {certs.Count} certificates; an authority is one CA");
            if (!IsCa(certs[0])) throw m.Fail("cacert", $"{CertificateIdentity.Describe(certs[0])} is not a CA certificate (basicConstraints CA)");

            var uris = new List<Uri>();
            foreach (var item in m.List("ocsp_uris") ?? [])
            {
                if (!Uri.TryCreate(item.Value, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttp || uri.Host.Length == 0)
                {
                    throw m.Fail(item, $"'{item.Value}' is not an http URL (OCSP over HTTP, RFC 6960 Appendix A; the response is signed, so https adds nothing)");
                }
                uris.Add(uri);
            }
            if (uris.Count == 0) throw m.Fail("ocsp_uris", "missing: an authority here only gives OCSP responders for its CA");
            authorities.Add(new OcspAuthority(name, certs[0], uris));
        }
        return new OcspChecker(authorities);
    }
}
