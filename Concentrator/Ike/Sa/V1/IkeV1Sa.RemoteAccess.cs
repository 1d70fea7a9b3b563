using System.Net;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Tasks.V1;

namespace Concentrator.Ike.Sa.V1;

// IKEv1 remote access on the phase 1 SA: the XAUTH round (the SA stays Authenticating until it succeeds, so no quick
// mode runs before), the Mode Config leases (released when the SA dies), and what quick mode accepts as the client's
// traffic selector. The exchanges are TransactionExchange's.
public sealed partial class IkeV1Sa
{
    /// <summary>The addresses leased to the client by Mode Config (the same record IKEv2 SAs keep).</summary>
    public VirtualIps VirtualIps { get; } = new();

    /// <summary>The user XAUTH authenticated; null without an XAUTH round (or before it succeeded).</summary>
    public Identity? XauthUser { get; internal set; }

    /// <summary>The identity leases are keyed by: the XAUTH user, else the phase 1 identity (strongSwan's get_other_eap_id).</summary>
    public Identity? LeaseIdentity => XauthUser ?? RemoteId;

    /// <summary>The gateway's XAUTH exchange while it runs or after it ended; null when the connection has no XAUTH round.</summary>
    internal XauthServer? Xauth { get; set; }

    /// <summary>A failed XAUTH was counted (once, whichever way it ended).</summary>
    internal bool XauthReported { get; set; }

    /// <summary>The gateway's Mode Config, created by the client's first CFG_REQUEST (pull) or after XAUTH (push).</summary>
    internal ModeConfigServer? ModeConfig { get; set; }

    /// <summary>
    /// Why quick mode may not run on this SA yet, or null: phase 1 (and its XAUTH round) is complete, and Mode Config did
    /// not fail (a connection with pools whose client got no address, as IKEv2's FAILED_CP_REQUIRED / INTERNAL_ADDRESS_FAILURE).
    /// </summary>
    public string? QuickModeRefusal() => State != V1Phase1State.Established
        ? State == V1Phase1State.Authenticating ? "XAUTH has not succeeded" : $"phase 1 is {State}"
        : VirtualIps.Failed ? "Mode Config assigned no virtual IP" : null;

    /// <summary>
    /// What the client's side of a quick mode may name (IKEv2's "dynamic" remote selector, <see cref="VirtualIps.DynamicHosts"/>):
    /// the addresses Mode Config leased; none when the connection has pools but none was leased (quick mode then finds no
    /// selector); else the client's IKE address.
    /// </summary>
    public IReadOnlyList<IPAddress> DynamicRemoteHosts()
    {
        if (VirtualIps.All.Count > 0) return VirtualIps.All.Select(v => v.Address).ToList();
        return Connection is { Pools.Count: > 0 } ? [] : [RemoteEndpoint.Address];
    }

    /// <summary>The leases go back to their pools (the last SA of the user takes them offline); idempotent.</summary>
    partial void OnDisposing() => VirtualIps.Release(Context.Pools, LeaseIdentity);

    partial void OnDisposing();

    /// <summary>Each retransmission: XAUTH past its deadline gives up too; an XAUTH given up is counted as its timeout.</summary>
    partial void OnRetransmitTick(ref bool giveUp)
    {
        if (Xauth is not { } xauth) return;
        if (xauth.CheckTimeout()) giveUp = true;
        if (giveUp) TransactionExchange.TimedOut(this);
    }

    partial void OnRetransmitTick(ref bool giveUp);
}
