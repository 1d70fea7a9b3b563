using Concentrator.Ike.Proposals;

namespace Concentrator.Ike.Connections;

/// <summary>
/// An IKE connection (swanctl connections.&lt;conn&gt;). Defaults as swanctl.conf documents them;
/// when loaded from YAML, OverTime defaults to 10% of max(rekey_time, reauth_time) and RandTime to
/// OverTime, and Proposals to the strongSwan "default" set.
/// </summary>
public sealed class ConnectionConfig
{
    public string Name { get; init; } = "";
    public int Version { get; init; } = 2;
    public IReadOnlyList<string> LocalAddrs { get; init; } = ["%any"];
    public IReadOnlyList<string> RemoteAddrs { get; init; } = ["%any"];
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
    public TimeSpan RekeyTime { get; init; } = TimeSpan.FromHours(4);
    public TimeSpan ReauthTime { get; init; } = TimeSpan.Zero;
    public TimeSpan OverTime { get; init; } = TimeSpan.Zero;
    public TimeSpan RandTime { get; init; } = TimeSpan.Zero;
    public TimeSpan DpdDelay { get; init; } = TimeSpan.Zero;
    /// <summary>Upper bound on how long an unanswered DPD probe is retransmitted before the peer is declared dead; the
    /// retransmission budget (charon retransmit_*) ends it earlier if it is shorter. 0 = the budget alone (swanctl's
    /// dpd_timeout is IKEv1 only; here it applies to IKEv2 too).</summary>
    public TimeSpan DpdTimeout { get; init; } = TimeSpan.Zero;
    /// <summary>0 = retry forever (swanctl).</summary>
    public int KeyingTries { get; init; } = 1;
    public bool SendCertReq { get; init; } = true;

    /// <summary>
    /// weak_algorithms: the weak algorithms (3des, sha1, prfsha1, modp1024) may appear in this connection's
    /// proposals and its children's esp_proposals, for legacy peers; logged as a warning at start. Not a
    /// swanctl.conf key (strongSwan has no such gate). DES, MD5 and MODP-768 stay refused.
    /// </summary>
    public bool WeakAlgorithms { get; init; }
    /// <summary>no | never | keep | replace.</summary>
    public string Unique { get; init; } = "no";
}
