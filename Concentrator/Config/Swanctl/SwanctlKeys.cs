namespace Concentrator.Config.Swanctl;

/// <summary>Whether Concentrator reads a swanctl.conf or strongswan.conf key.</summary>
internal enum KeySupport { Supported, NotYet, Never }

/// <summary>How a supported key's value becomes YAML.</summary>
internal enum KeyShape
{
    /// <summary>A section: its keys are rows below it.</summary>
    Section,

    /// <summary>The value as written.</summary>
    Scalar,

    /// <summary>swanctl's comma-separated list: a YAML list.</summary>
    List,

    /// <summary>Certificate files, comma-separated, relative to swanctl's x509/ (absolute as written).</summary>
    X509,

    /// <summary>CA certificate files, comma-separated, relative to swanctl's x509ca/.</summary>
    X509Ca,

    /// <summary>One CA certificate file relative to swanctl's x509ca/.</summary>
    CaFile,

    /// <summary>A private key file relative to the directory of its secret's type (private/, rsa/, ecdsa/, pkcs8/).</summary>
    KeyFile,
}

/// <summary>
/// One row of the compatibility table: a key path in the swanctl.conf reference's notation (<c>&lt;conn&gt;</c>,
/// <c>&lt;child&gt;</c>, <c>&lt;name&gt;</c> stand for any name, <c>x&lt;suffix&gt;</c> for any name starting with x,
/// <c>&lt;attr&gt;</c> for a numbered pool attribute), whether we read it, and why not or what to know.
/// </summary>
internal sealed record SwanctlKey(string Path, KeySupport Support, KeyShape Shape, string Note = "");

/// <summary>
/// Every swanctl.conf key (strongSwan's swanctl.opt) and the strongswan.conf <c>charon.*</c> keys we read: the one table
/// the converter walks and the README's compatibility table shows (a test keeps the two equal). Supporting a key here
/// is one row; the loader must accept it (another test).
/// </summary>
internal static partial class SwanctlKeys
{
    private const KeySupport S = KeySupport.Supported, Y = KeySupport.NotYet, N = KeySupport.Never;
    private const KeyShape Sec = KeyShape.Section, Val = KeyShape.Scalar, Lst = KeyShape.List;

    private const string Conn = "connections.<conn>.";
    private const string Child = "connections.<conn>.children.<child>.";
    private const string Local = "connections.<conn>.local<suffix>.";
    private const string Remote = "connections.<conn>.remote<suffix>.";
    private const string Token = "smartcards (PKCS#11) are not supported yet; give the file";

    public static readonly IReadOnlyList<SwanctlKey> Swanctl =
    [
        new("connections", S, Sec),
        new("connections.<conn>", S, Sec),
        new(Conn + "version", S, Val, "2, or 1 (IKEv1: main mode, aggressive mode with `aggressive`, PSK or certificates, quick mode with PFS, NAT-T, DPD, XAUTH and Mode Config as the server; mobike, childless, fragmentation, reauth_time, unique, if_id_*, vips are load errors with it)"),
        new(Conn + "local_addrs", S, Lst),
        new(Conn + "remote_addrs", S, Lst),
        new(Conn + "local_port", S, Val, "only listen.ike_port"),
        new(Conn + "remote_port", S, Val),
        new(Conn + "proposals", S, Lst),
        new(Conn + "vips", S, Lst),
        new(Conn + "aggressive", S, Val, "`version: 1` only (a load error on IKEv2): aggressive mode both roles, refused unless yes; warned at start"),
        new(Conn + "pull", Y, Val, "IKEv1 Mode Config push; the YAML takes it with `version: 1`, the converter does not carry it yet"),
        new(Conn + "dscp", Y, Val, "DSCP of IKE packets"),
        new(Conn + "encap", S, Val),
        new(Conn + "mobike", S, Val),
        new(Conn + "dpd_delay", S, Val),
        new(Conn + "dpd_timeout", S, Val, "IKEv1: silence after which the peer is dead; applies to IKEv2 too (a cap on the probe's retransmissions)"),
        new(Conn + "fragmentation", S, Val),
        new(Conn + "childless", S, Val, "RFC 6023: allow, prefer, force, never"),
        new(Conn + "send_certreq", S, Val),
        new(Conn + "send_cert", S, Val),
        new(Conn + "ocsp", Y, Val, "OCSP status requests in IKE (RFC 4806)"),
        new(Conn + "ppk_id", Y, Val, "postquantum preshared keys (RFC 8784)"),
        new(Conn + "ppk_required", Y, Val, "postquantum preshared keys (RFC 8784)"),
        new(Conn + "keyingtries", S, Val, "1 only"),
        new(Conn + "unique", S, Val),
        new(Conn + "reauth_time", S, Val),
        new(Conn + "rekey_time", S, Val),
        new(Conn + "over_time", S, Val),
        new(Conn + "rand_time", S, Val),
        new(Conn + "pools", S, Lst),
        new(Conn + "if_id_in", S, Val, "a number: the route-based interface ipsec<N>; %unique is not supported"),
        new(Conn + "if_id_out", S, Val, "a number: the route-based interface ipsec<N>; %unique is not supported"),
        new(Conn + "mediation", N, Val, "strongSwan's proprietary mediation extension"),
        new(Conn + "mediated_by", N, Val, "strongSwan's proprietary mediation extension"),
        new(Conn + "mediation_peer", N, Val, "strongSwan's proprietary mediation extension"),

        new("connections.<conn>.local<suffix>", S, Sec, "one local round (local, or one local-1 or the like)"),
        new(Local + "round", Y, Val, "multiple authentication rounds (RFC 4739)"),
        new(Local + "certs", S, KeyShape.X509, "one end-entity certificate and the CA certificates sent with it"),
        new(Local + "cert<suffix>", Y, Sec, Token),
        new(Local + "cert<suffix>.file", Y, Val, Token),
        new(Local + "cert<suffix>.handle", Y, Val, Token),
        new(Local + "cert<suffix>.slot", Y, Val, Token),
        new(Local + "cert<suffix>.module", Y, Val, Token),
        new(Local + "pubkeys", Y, Val, "raw public keys; use certs"),
        new(Local + "auth", S, Val, "psk, pubkey, rsa/pss, eap-mschapv2"),
        new(Local + "id", S, Val),
        new(Local + "eap_id", S, Val),
        new(Local + "aaa_id", Y, Val, "AAA identity of eap-radius"),
        new(Local + "xauth_id", Y, Val, "IKEv1 XAUTH client: not implemented (the gateway is an XAUTH server)"),

        new("connections.<conn>.remote<suffix>", S, Sec, "one remote round (remote, or one remote-1 or the like)"),
        new(Remote + "round", Y, Val, "multiple authentication rounds (RFC 4739)"),
        new(Remote + "id", S, Val),
        new(Remote + "eap_id", S, Val),
        new(Remote + "groups", Y, Val, "group membership from certificates or RADIUS"),
        new(Remote + "cert_policy", Y, Val, "certificate policy OIDs"),
        new(Remote + "certs", S, KeyShape.X509, "pinned peer certificates"),
        new(Remote + "cert<suffix>", Y, Sec, Token),
        new(Remote + "cert<suffix>.file", Y, Val, Token),
        new(Remote + "cert<suffix>.handle", Y, Val, Token),
        new(Remote + "cert<suffix>.slot", Y, Val, Token),
        new(Remote + "cert<suffix>.module", Y, Val, Token),
        new(Remote + "cacerts", S, KeyShape.X509Ca, "without cacerts or certs, every CA of x509ca/ (as swanctl trusts every loaded CA)"),
        new(Remote + "cacert<suffix>", Y, Sec, Token),
        new(Remote + "cacert<suffix>.file", Y, Val, Token),
        new(Remote + "cacert<suffix>.handle", Y, Val, Token),
        new(Remote + "cacert<suffix>.slot", Y, Val, Token),
        new(Remote + "cacert<suffix>.module", Y, Val, Token),
        new(Remote + "ca_id", Y, Val, "CA identity constraint"),
        new(Remote + "pubkeys", Y, Val, "raw public keys; use certs"),
        new(Remote + "revocation", S, Val),
        new(Remote + "auth", S, Val, "psk, pubkey, eap, eap-mschapv2, eap-radius"),

        new("connections.<conn>.children", S, Sec),
        new("connections.<conn>.children.<child>", S, Sec),
        new(Child + "ah_proposals", S, Lst, "AH over IPv4 raw IP 51; not beside esp_proposals"),
        new(Child + "esp_proposals", S, Lst),
        new(Child + "sha256_96", N, Val, "the truncation of pre-RFC 4868 Linux; a peer needing it is broken"),
        new(Child + "local_ts", S, Lst),
        new(Child + "remote_ts", S, Lst),
        new(Child + "rekey_time", S, Val),
        new(Child + "life_time", S, Val),
        new(Child + "rand_time", S, Val),
        new(Child + "rekey_bytes", S, Val),
        new(Child + "life_bytes", S, Val),
        new(Child + "rand_bytes", S, Val),
        new(Child + "rekey_packets", S, Val),
        new(Child + "life_packets", S, Val),
        new(Child + "rand_packets", S, Val),
        new(Child + "updown", S, Val, "an executable file, run without a shell"),
        new(Child + "hostaccess", Y, Val, "a setting of strongSwan's updown script"),
        new(Child + "mode", S, Val, "tunnel, transport"),
        new(Child + "policies", Y, Val, "kernel policies: the TUN data plane routes instead"),
        new(Child + "policies_fwd_out", Y, Val, "kernel policies: the TUN data plane routes instead"),
        new(Child + "dpd_action", S, Val),
        new(Child + "ipcomp", Y, Val, "IP compression (RFC 3173)"),
        new(Child + "inactivity", Y, Val, "closing idle children"),
        new(Child + "reqid", N, Val, "a kernel XFRM detail; the TUN data plane has none"),
        new(Child + "priority", N, Val, "a kernel XFRM policy priority; the TUN data plane has none"),
        new(Child + "interface", Y, Val, "restricting policies to an interface"),
        new(Child + "mark_in", Y, Val, "XFRM marks"),
        new(Child + "mark_in_sa", Y, Val, "XFRM marks"),
        new(Child + "mark_out", Y, Val, "XFRM marks"),
        new(Child + "set_mark_in", Y, Val, "XFRM marks"),
        new(Child + "set_mark_out", Y, Val, "XFRM marks"),
        new(Child + "if_id_in", S, Val, "a number: the route-based interface ipsec<N>; %unique is not supported"),
        new(Child + "if_id_out", S, Val, "a number: the route-based interface ipsec<N>; %unique is not supported"),
        new(Child + "label", Y, Val, "security labels (SELinux)"),
        new(Child + "label_mode", Y, Val, "security labels (SELinux)"),
        new(Child + "tfc_padding", Y, Val, "traffic flow confidentiality padding"),
        new(Child + "replay_window", S, Val),
        new(Child + "per_cpu_sas", N, Val, "a kernel XFRM feature"),
        new(Child + "hw_offload", N, Val, "kernel NIC offload; the TUN data plane has its own"),
        new(Child + "copy_df", Y, Val, "copying the DF bit to the outer header"),
        new(Child + "copy_ecn", Y, Val, "copying ECN to the outer header"),
        new(Child + "copy_dscp", Y, Val, "copying DSCP to the outer header"),
        new(Child + "icmp", Y, Val, "ICMP errors in the tunnel"),
        new(Child + "start_action", S, Val),
        new(Child + "close_action", S, Val, "none only"),
    ];
}
