using System.Net;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Sa;

/// <summary>
/// What the protocol asks its host to do. <see cref="IkeSa"/> never performs I/O or starts timers itself;
/// the host (an actor, or a test) drains these after each call, in order.
/// </summary>
public abstract record IkeEffect;

/// <summary>Send an IKE message. <paramref name="NatT"/>: from port 4500 with the non-ESP marker (RFC 3948 §2.2).</summary>
public sealed record SendMessage(byte[] Datagram, IPEndPoint Remote, bool NatT) : IkeEffect;

/// <summary>(Re)arm the retransmission timer for the request in flight.</summary>
public sealed record ScheduleRetransmit(TimeSpan Delay) : IkeEffect;

public sealed record CancelRetransmit : IkeEffect;

public sealed record IkeSaEstablished(string Connection, string LocalId, string RemoteId, IkeSaSummary Summary) : IkeEffect;

/// <summary>
/// An IKE SA was adopted from another cluster node's snapshot (<see cref="IkeSa.Restore"/>), established without a new
/// negotiation: the host hosts it like an established SA but counts no negotiation (no setup time); its children
/// follow as <see cref="ChildSaEstablished"/>.
/// </summary>
public sealed record IkeSaRestored(string Connection, string RemoteId) : IkeEffect;

/// <summary>A Child SA is negotiated; the host installs it in the data plane (the record owns the keys).</summary>
public sealed record ChildSaEstablished(ChildSaInstall Install) : IkeEffect;

/// <summary>The IKE SA was rekeyed: the host routes the successor's SPI here and runs it; this SA only finishes its Delete.</summary>
public sealed record IkeSaRekeyed(IkeSa Successor) : IkeEffect;

/// <summary>
/// A simultaneous IKE rekey (RFC 7296 §2.8.2) left this redundant IKE SA without children: the host routes its SPI
/// and runs it (like a rekeyed predecessor) until its Delete, sent by us or by the peer, completes.
/// </summary>
public sealed record IkeSaRedundant(IkeSa Sa) : IkeEffect;

/// <summary>What showed that the peer moved: an authenticated IKE message, authenticated ESP of one of its Child SAs, or the
/// peer's MOBIKE UPDATE_SA_ADDRESSES (RFC 4555).</summary>
public enum PeerMoveTrigger
{
    Ike = 0,
    Esp = 1,
    Mobike = 2,
}

/// <summary>
/// The established SA follows the peer to <paramref name="Remote"/> (RFC 7296 §2.23: its NAT's mapping changed, shown by
/// an authenticated message newer than any before it; or RFC 4555 §3.5: the peer asked to move with MOBIKE): the host points
/// every Child SA's outbound ESP there.
/// </summary>
public sealed record PeerMoved(IPEndPoint From, IPEndPoint Remote, PeerMoveTrigger Trigger) : IkeEffect;

/// <summary>A rekeyed Child SA installed without outbound may now send (its predecessor is gone).</summary>
public sealed record ChildSaActivated(uint InboundSpi) : IkeEffect;

/// <summary>
/// The Child SA with this inbound SPI is gone; the host removes it from the data plane. <paramref name="Rekeyed"/>:
/// a successor carries its traffic now, and the host may keep the old inbound SA for a short grace so that ESP
/// the peer sent on it just before the switch (still in flight, or reordered behind the Delete) is not dropped.
/// </summary>
public sealed record ChildSaRemoved(uint InboundSpi, bool Rekeyed = false) : IkeEffect;

/// <summary>
/// The peer was not authenticated in IKE_AUTH (counted already); the host logs it. <paramref name="PeerId"/> and
/// <paramref name="Detail"/> are peer-chosen text (identity, certificate names), never key material.
/// </summary>
public sealed record PeerAuthFailed(AuthFailure Reason, string PeerId, string Detail) : IkeEffect;

/// <summary>
/// The peer's certificate was trusted although an OCSP responder gave no good or revoked answer (remote.revocation
/// relaxed, as strongSwan); the host logs it. Counted already in concentrator_ocsp_requests_total.
/// </summary>
public sealed record RevocationUnverified(string PeerId, string Detail) : IkeEffect;

/// <summary>The childless policies (RFC 6023) of the two ends do not meet (<see cref="IkeSa.ChildlessMismatch"/>); the
/// host logs it, and the SA closes with <see cref="CloseReason.ChildlessMismatch"/>.</summary>
public sealed record ChildlessMismatched(string Detail) : IkeEffect;

/// <summary>
/// IKE_AUTH waits for OCSP answers (<see cref="Tasks.TaskOutcome.Deferred"/>): the host runs
/// <see cref="Connections.OcspChecker.FetchAsync"/> off the SA's thread, then calls <see cref="IkeSa.ResumeDeferredRequest"/>.
/// </summary>
public sealed record FetchRevocation(Connections.OcspFetch Fetch) : IkeEffect;

/// <summary>
/// IKE_AUTH authenticated a peer of a connection with unique keep or replace and waits (<see cref="Tasks.TaskOutcome.Deferred"/>)
/// while the host looks for the duplicates of (<paramref name="LocalId"/>, <paramref name="User"/>) on this node and in the
/// cluster, deletes them (replace) or finds one to keep, then calls <see cref="IkeSa.ResumeUniqueCheck"/>.
/// </summary>
public sealed record CheckUniqueness(Connections.UniquePolicy Policy, string Connection, string LocalId, string User) : IkeEffect;

/// <summary>
/// IKE_AUTH waits for one EAP step (<see cref="Tasks.TaskOutcome.Deferred"/>, RFC 7296 §2.16): the host awaits
/// <see cref="Eap.IEapSession.StartAsync"/> (<paramref name="Response"/> null; <paramref name="EapId"/> null asks the peer
/// with EAP-Identity) or <see cref="Eap.IEapSession.ProcessAsync"/> off the SA's thread with a timeout, then calls
/// <see cref="IkeSa.ResumeEap"/> with what came back. The SA owns the session; the host never disposes it.
/// </summary>
public sealed record RunEap(Eap.IEapSession Session, Connections.Identity PeerIdentity, Connections.Identity? EapId, byte[]? Response) : IkeEffect;

/// <summary>The IKE SA failed or was deleted; the host stops after draining the remaining effects.</summary>
public sealed record IkeSaClosed(CloseReason Reason) : IkeEffect;

/// <summary>Negotiated facts for logs, the demo summary and the admin view; never key material.</summary>
public sealed record IkeSaSummary(string Proposal, TimeSpan SetupTime, bool NatDetected, int ChildCount);
