namespace Concentrator.Config.Swanctl;

/// <summary>secrets, pools, authorities, include, the strongswan.conf charon keys, and the lookup.</summary>
internal static partial class SwanctlKeys
{
    private const string Pools = "pools.<name>.";
    private const string Radius = "charon.plugins.eap-radius.";
    private const string RadiusServer = "charon.plugins.eap-radius.servers.<name>.";

    public static readonly IReadOnlyList<SwanctlKey> Others =
    [
        new("include", S, Val, "read in place, a relative pattern from the including file's directory"),
        new("secrets", S, Sec),
        new("secrets.eap<suffix>", S, Sec, "EAP-MSCHAPv2 passwords"),
        new("secrets.eap<suffix>.secret", S, Val),
        new("secrets.eap<suffix>.id<suffix>", S, Val),
        new("secrets.xauth<suffix>", Y, Sec, "IKEv1 XAUTH passwords; the YAML takes them, the converter does not carry them yet"),
        new("secrets.xauth<suffix>.secret", Y, Val, "IKEv1 XAUTH passwords; the YAML takes them, the converter does not carry them yet"),
        new("secrets.xauth<suffix>.id<suffix>", Y, Val, "IKEv1 XAUTH passwords; the YAML takes them, the converter does not carry them yet"),
        new("secrets.ntlm<suffix>", Y, Sec, "NT hashes for EAP-MSCHAPv2; give the password in an eap secret"),
        new("secrets.ntlm<suffix>.secret", Y, Val, "NT hashes for EAP-MSCHAPv2"),
        new("secrets.ntlm<suffix>.id<suffix>", Y, Val, "NT hashes for EAP-MSCHAPv2"),
        new("secrets.ike<suffix>", S, Sec, "preshared keys"),
        new("secrets.ike<suffix>.secret", S, Val),
        new("secrets.ike<suffix>.id<suffix>", S, Val),
        new("secrets.ppk<suffix>", Y, Sec, "postquantum preshared keys (RFC 8784)"),
        new("secrets.ppk<suffix>.secret", Y, Val, "postquantum preshared keys (RFC 8784)"),
        new("secrets.ppk<suffix>.id<suffix>", Y, Val, "postquantum preshared keys (RFC 8784)"),
        new("secrets.private<suffix>", S, Sec, "also every key file in private/ (as swanctl --load-creds)"),
        new("secrets.private<suffix>.file", S, KeyShape.KeyFile, "relative to private/"),
        new("secrets.private<suffix>.secret", S, Val, "the passphrase of an encrypted PKCS#8 key"),
        new("secrets.rsa<suffix>", S, Sec, "also every key file in rsa/"),
        new("secrets.rsa<suffix>.file", S, KeyShape.KeyFile, "relative to rsa/"),
        new("secrets.rsa<suffix>.secret", S, Val, "the passphrase of an encrypted PKCS#8 key"),
        new("secrets.ecdsa<suffix>", S, Sec, "also every key file in ecdsa/"),
        new("secrets.ecdsa<suffix>.file", S, KeyShape.KeyFile, "relative to ecdsa/"),
        new("secrets.ecdsa<suffix>.secret", S, Val, "the passphrase of an encrypted PKCS#8 key"),
        new("secrets.pkcs8<suffix>", S, Sec, "also every key file in pkcs8/"),
        new("secrets.pkcs8<suffix>.file", S, KeyShape.KeyFile, "relative to pkcs8/"),
        new("secrets.pkcs8<suffix>.secret", S, Val, "the passphrase of an encrypted PKCS#8 key"),
        new("secrets.pkcs12<suffix>", Y, Sec, "PKCS#12 containers; give the key and certificates as files"),
        new("secrets.pkcs12<suffix>.file", Y, Val, "PKCS#12 containers"),
        new("secrets.pkcs12<suffix>.secret", Y, Val, "PKCS#12 containers"),
        new("secrets.token<suffix>", Y, Sec, Token),
        new("secrets.token<suffix>.handle", Y, Val, Token),
        new("secrets.token<suffix>.slot", Y, Val, Token),
        new("secrets.token<suffix>.module", Y, Val, Token),
        new("secrets.token<suffix>.pin", Y, Val, Token),

        new("pools", S, Sec),
        new("pools.<name>", S, Sec),
        new(Pools + "addrs", S, Val),
        new(Pools + "dns", S, Lst),
        new(Pools + "nbns", S, Lst),
        new(Pools + "subnet", S, Lst),
        new(Pools + "<attr>", S, Lst, "numbered attributes (e.g. 25, INTERNAL_DNS_DOMAIN)"),
        new(Pools + "dhcp", Y, Lst, "DHCP relay"),
        new(Pools + "netmask", Y, Lst, "RFC 7296 §3.15.1 advises against INTERNAL_IP4_NETMASK; use subnet"),
        new(Pools + "server", Y, Lst, "INTERNAL_IP4/6_SERVER (Microsoft's)"),
        new(Pools + "p_cscf", Y, Lst, "RFC 7651 P-CSCF"),
        new(Pools + "split_include", N, Lst, "Cisco Unity (IKEv1); narrow the child's local_ts"),
        new(Pools + "split_exclude", N, Lst, "Cisco Unity (IKEv1); narrow the child's local_ts"),

        new("authorities", S, Sec, "OCSP responders of a CA"),
        new("authorities.<name>", S, Sec),
        new("authorities.<name>.cacert", S, KeyShape.CaFile, "relative to x509ca/"),
        new("authorities.<name>.file", Y, Val, "give cacert"),
        new("authorities.<name>.handle", Y, Val, Token),
        new("authorities.<name>.slot", Y, Val, Token),
        new("authorities.<name>.module", Y, Val, Token),
        new("authorities.<name>.crl_uris", Y, Lst, "CRLs are not fetched; files in x509crl/ are read"),
        new("authorities.<name>.ocsp_uris", S, Lst),
        new("authorities.<name>.cert_uri_base", Y, Val, "hash-and-URL certificates (RFC 7296 §3.6)"),
    ];

    /// <summary>strongswan.conf: the charon keys we read, under <c>charon:</c>; every other key is refused.</summary>
    public static readonly IReadOnlyList<SwanctlKey> Charon =
    [
        new("charon", S, Sec),
        new("charon.retransmit_timeout", S, Val),
        new("charon.retransmit_base", S, Val),
        new("charon.retransmit_tries", S, Val),
        new("charon.cookie_threshold", S, Val),
        new("charon.cookie_threshold_ip", S, Val),
        new("charon.init_limit_half_open", S, Val),
        new("charon.block_threshold", S, Val),
        new("charon.half_open_timeout", S, Val),
        new("charon.keep_alive", S, Val),
        new("charon.init_limit_job_load", S, Val),
        new("charon.max_packet", S, Val),
        new("charon.ikesa_limit", S, Val),
        new("charon.child_sa_limit", S, Val),
        new("charon.routing_table", S, Val),
        new("charon.routing_table_prio", S, Val),
        new("charon.fragment_size", S, Val),
        new("charon.fragment_size_v4", S, Val),
        new("charon.fragment_size_v6", S, Val),
        new("charon.plugins", S, Sec, "eap-radius and ipsec-mb only"),
        new("charon.plugins.ipsec-mb", S, Sec, "intel-ipsec-mb for ESP AES-GCM"),
        new("charon.plugins.ipsec-mb.load", S, Val, "yes or no"),
        new("charon.plugins.eap-radius", S, Sec),
        new(Radius + "servers", S, Sec),
        new(Radius + "servers.<name>", S, Sec),
        new(RadiusServer + "address", S, Val),
        new(RadiusServer + "secret", S, Val),
        new(RadiusServer + "auth_port", S, Val),
        new(RadiusServer + "port", S, Val),
        new(RadiusServer + "acct_port", S, Val),
        new(RadiusServer + "nas_identifier", S, Val),
        new(RadiusServer + "retransmit_tries", S, Val),
        new(RadiusServer + "retransmit_timeout", S, Val),
        new(RadiusServer + "retransmit_base", S, Val),
        new(RadiusServer + "preference", S, Val),
        new(Radius + "accounting", S, Val),
        new(Radius + "accounting_interval", S, Val),
        new(Radius + "accounting_send_class", S, Val),
        new(Radius + "class_group", S, Val),
        new(Radius + "station_id_with_port", S, Val),
        new(Radius + "nas_identifier", S, Val),
        new(Radius + "retransmit_tries", S, Val),
        new(Radius + "retransmit_timeout", S, Val),
        new(Radius + "retransmit_base", S, Val),
    ];

    public static IEnumerable<SwanctlKey> All => Swanctl.Concat(Others).Concat(Charon);

    private static readonly Dictionary<string, List<SwanctlKey>> ByParent = All
        .GroupBy(k => Parent(k.Path), StringComparer.Ordinal)
        .ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);

    public static string Parent(string path)
    {
        int dot = LastDot(path);
        return dot < 0 ? "" : path[..dot];
    }

    public static string LastSegment(string path) => path[(LastDot(path) + 1)..];

    /// <summary>The last '.' outside &lt;...&gt; (names like eap-radius hold none, placeholders hold none either).</summary>
    private static int LastDot(string path) => path.LastIndexOf('.');

    /// <summary>
    /// The row for <paramref name="name"/> under the row path <paramref name="parent"/>: a literal name (of either kind:
    /// the caller names the mismatch), else a prefix (<c>local&lt;suffix&gt;</c>) or any name (<c>&lt;conn&gt;</c>;
    /// <c>&lt;attr&gt;</c>: a number) of the wanted kind, section or value.
    /// </summary>
    public static SwanctlKey? Find(string parent, string name, bool section)
    {
        if (!ByParent.TryGetValue(parent, out var rows)) return null;
        var literal = rows.Where(r => LastSegment(r.Path) == name).ToList();
        if (literal.Count > 0) return literal.FirstOrDefault(r => (r.Shape == KeyShape.Section) == section) ?? literal[0];
        return rows.Where(r => (r.Shape == KeyShape.Section) == section).FirstOrDefault(r => LastSegment(r.Path) switch
        {
            "<conn>" or "<child>" or "<name>" => true,
            "<attr>" => name.Length > 0 && name.All(char.IsAsciiDigit),
            var s when s.EndsWith("<suffix>", StringComparison.Ordinal) => name.StartsWith(s[..^"<suffix>".Length], StringComparison.Ordinal),
            _ => false,
        });
    }
}
