using System.Net;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Tasks;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Sa;

/// <summary>MOBIKE (RFC 4555) on the IKE SA: what was negotiated, and the moves <see cref="IkeMobikeTask"/> makes.</summary>
public sealed partial class IkeSa
{
    /// <summary>
    /// MOBIKE (RFC 4555) was negotiated in IKE_AUTH: both ends announced MOBIKE_SUPPORTED and our connection allows it
    /// (<see cref="ConnectionConfig.Mobike"/>). Then only the original initiator's UPDATE_SA_ADDRESSES moves the SA as
    /// IKE (§3.8: no implicit updates from IKE messages); kept across IKE rekeys and in cluster snapshots.
    /// </summary>
    public bool PeerSupportsMobike { get; internal set; }

    /// <summary>We initiated the tunnel's first IKE SA (strongSwan's COND_ORIGINAL_INITIATOR): MOBIKE's initiator, which
    /// decides the addresses, whoever initiated the last IKE rekey (<see cref="IsInitiator"/>).</summary>
    public bool OriginalInitiator { get; internal set; }

    /// <summary>The peer's MOBIKE_SUPPORTED arrived in an IKE_AUTH request (responder; decided with the final response).</summary>
    internal bool PeerAnnouncedMobike { get; set; }

    /// <summary>MOBIKE: the responder's addresses besides the one in use (ADDITIONAL_IP4/6_ADDRESS, RFC 4555 §3.4, at most
    /// <see cref="Tasks.IkeMobikeTask.MaxAdditionalAddresses"/>); this node's knowledge only, not replicated.</summary>
    public IReadOnlyList<IPAddress> PeerAdditionalAddresses { get; internal set; } = [];

    /// <summary>
    /// Initiator behind a NAT: the peer's last NAT_DETECTION_DESTINATION_IP (IKE_SA_INIT or a MOBIKE exchange), the hash of
    /// the address and port our NAT maps us to. One that differs in a later exchange shows the mapping changed (RFC 4555 §3.8).
    /// </summary>
    internal byte[]? NatMappingHash { get; set; }

    /// <summary>
    /// MOBIKE initiator (RFC 4555 §3.5): our path changed (our address <paramref name="local"/> replaced the one the SA
    /// used, or the NAT in front of us maps us elsewhere: null keeps the local endpoint). The SA moves to it and an
    /// INFORMATIONAL with UPDATE_SA_ADDRESSES, NAT detection and COOKIE2 goes out from it. False when MOBIKE was not
    /// negotiated, we are not the original initiator, or the SA is not established.
    /// </summary>
    public bool UpdateAddresses(IPEndPoint? local = null)
    {
        if (State != IkeSaState.Established || !PeerSupportsMobike || !OriginalInitiator) return false;
        if (local is not null && !local.Equals(LocalEndpoint))
        {
            LocalEndpoint = local;
            Touch();
        }
        TaskManager.Enqueue(ExchangeType.Informational, IkeMobikeTask.Update());
        return true;
    }

    /// <summary>
    /// RFC 4555 §3.5: the peer's authenticated UPDATE_SA_ADDRESSES (or, as original initiator, the responder's address list
    /// from a new address) moves the IKE SA to the addresses of that request's IP header, and every Child SA with it
    /// (<see cref="PeerMoved"/> with <see cref="PeerMoveTrigger.Mobike"/>). True when the remote endpoint changed.
    /// </summary>
    internal bool MoveByMobike(IPEndPoint remote, IPEndPoint local, bool viaNatT)
    {
        bool moved = !remote.Equals(RemoteEndpoint);
        MoveTo(remote, local, viaNatT, PeerMoveTrigger.Mobike);
        return moved;
    }
}
