using Concentrator.Ike.Proposals;

namespace Concentrator.Ike.Connections;

/// <summary>
/// An IKE connection (swanctl connections.&lt;conn&gt;). Defaults as swanctl.conf documents them;
/// when loaded from YAML, OverTime defaults to 10% of max(rekey_time, reauth_time) and RandTime to
/// OverTime, and Proposals to the strongSwan "default" set.
/// </summary>
public sealed partial class ConnectionConfig
{
    public string Name { get; init; } = "";
    public int Version { get; init; } = 2;

    /// <summary>IKEv1 (swanctl's aggressive): phase 1 in aggressive mode instead of main mode, both as initiator and as
    /// responder (strongSwan's select_config). It sends the PSK hash where an eavesdropper can attack it offline.</summary>
    public bool Aggressive { get; init; }
    public IReadOnlyList<string> LocalAddrs { get; init; } = ["%any"];
    public IReadOnlyList<string> RemoteAddrs { get; init; } = ["%any"];
    /// <summary>Only listen.ike_port is accepted (the loader refuses another): a connection has no socket of its own.</summary>
    public int? LocalPort { get; init; }
    public int? RemotePort { get; init; }
    public IReadOnlyList<IkeProposal> Proposals { get; init; } = [];
    public AuthConfig Local { get; init; } = new();
    public AuthConfig Remote { get; init; } = new();
    public IReadOnlyDictionary<string, ChildConfig> Children { get; init; } = new Dictionary<string, ChildConfig>();
    /// <summary>
    /// swanctl encap: force UDP encapsulation (RFC 3948) without a NAT. Our NAT_DETECTION_SOURCE_IP hashes a made-up
    /// address, so the peer sees a NAT and both ends use UDP 4500 for IKE and ESP (strongSwan's behaviour, either role).
    /// </summary>
    public bool Encap { get; init; }

    /// <summary>
    /// swanctl mobike (RFC 4555): MOBIKE_SUPPORTED goes out in IKE_AUTH (as responder only to a peer that announced it), and
    /// once both ends did, the peer's UPDATE_SA_ADDRESSES moves the IKE SA and every Child SA; no: the notify is neither
    /// sent nor taken, and an update is ignored.
    /// </summary>
    public bool Mobike { get; init; } = true;
    public TimeSpan RekeyTime { get; init; } = TimeSpan.FromHours(4);
    public TimeSpan ReauthTime { get; init; } = TimeSpan.Zero;
    public TimeSpan OverTime { get; init; } = TimeSpan.Zero;
    public TimeSpan RandTime { get; init; } = TimeSpan.Zero;
    public TimeSpan DpdDelay { get; init; } = TimeSpan.Zero;
    /// <summary>Upper bound on how long an unanswered DPD probe is retransmitted before the peer is declared dead; the
    /// retransmission budget (charon retransmit_*) ends it earlier if it is shorter. 0 = the budget alone (swanctl's
    /// dpd_timeout is IKEv1 only; here it applies to IKEv2 too).</summary>
    public TimeSpan DpdTimeout { get; init; } = TimeSpan.Zero;
    /// <summary>1: an initiation is tried once (the loader refuses other values until retries are built).</summary>
    public int KeyingTries { get; init; } = 1;
    /// <summary>swanctl send_certreq: a CERTREQ naming the remote round's CAs goes out (IKE_SA_INIT response as responder,
    /// IKE_AUTH request as initiator) when the remote round is pubkey with cacerts.</summary>
    public bool SendCertReq { get; init; } = true;

    /// <summary>swanctl send_cert: when our certificate and intermediates go out with a signature AUTH.</summary>
    public SendCertPolicy SendCert { get; init; } = SendCertPolicy.IfAsked;

    /// <summary>
    /// weak_algorithms: the weak algorithms (3des, sha1, prfsha1, modp1024) may appear in this connection's
    /// proposals and its children's esp_proposals, for legacy peers; logged as a warning at start. Not a
    /// swanctl.conf key (strongSwan has no such gate). DES, MD5 and MODP-768 stay refused.
    /// </summary>
    public bool WeakAlgorithms { get; init; }
    /// <summary>swanctl unique: what a new login does to the same user's existing IKE SAs (<see cref="UniquePolicy"/>).</summary>
    public UniquePolicy Unique { get; init; } = UniquePolicy.No;

    /// <summary>swanctl pools: the pools (top-level <c>pools:</c>, by name) a peer's CFG_REQUEST is answered from, in
    /// order; a peer that asks for no address is then refused a Child SA (FAILED_CP_REQUIRED), as in strongSwan.</summary>
    public IReadOnlyList<string> Pools { get; init; } = [];

    /// <summary>swanctl vips: virtual IPs we request as initiator (0.0.0.0 or :: for any address of that family).</summary>
    public IReadOnlyList<System.Net.IPAddress> Vips { get; init; } = [];

    /// <summary>swanctl fragmentation: IKE fragmentation (RFC 7383) announced and used as strongSwan does.</summary>
    public Fragmentation Fragmentation { get; init; } = Fragmentation.Yes;

    /// <summary>swanctl childless: childless IKE SAs (RFC 6023) announced and used as strongSwan does.</summary>
    public ChildlessPolicy Childless { get; init; } = ChildlessPolicy.Allow;
}

/// <summary>
/// swanctl's fragmentation values, as strongSwan's ike_cfg behaves with IKEv2: IKEV2_FRAGMENTATION_SUPPORTED is announced in
/// IKE_SA_INIT unless <see cref="No"/> (a responder announces it only to an initiator that did); messages too large for
/// charon.fragment_size go as SKF fragments with <see cref="Yes"/> when the peer announced support and with
/// <see cref="Force"/> in any case; <see cref="Accept"/> announces but never fragments. Fragments a peer sends are
/// reassembled whatever the value (strongSwan: "always accepted ... even when set to no").
/// </summary>
public enum Fragmentation
{
    Yes = 0,
    Accept,
    Force,
    No,
}
