namespace Concentrator.Ipsec;

/// <summary>Why an IKE datagram was dropped before or during processing. Values become metric label values.</summary>
public enum IkeDropReason
{
    Malformed = 0,
    UnknownSpi,
    UnexpectedResponse,
    InvalidMessageId,
    IntegrityCheckFailed,
    BadPayloadSequence,
    NotAuthenticated,
    CookieRequired,
    HalfOpenLimit,
    SendFailed,
    EspWithoutDataPlane,
    /// <summary>charon.block_threshold: the source already has that many half-open IKE SAs.</summary>
    PerSourceLimit,
    /// <summary>charon.init_limit_job_load: that many IKE_SA_INIT requests already wait for the supervisor.</summary>
    InitQueueFull,
    /// <summary>charon.init_limit_rate: the token bucket of new responder IKE SAs (their DH work) is empty.</summary>
    InitRateLimit,
    /// <summary>charon.auth_failed_threshold: the source is backing off after repeated AUTHENTICATION_FAILED.</summary>
    AuthFailedBackoff,
    /// <summary>A configured resource bound (charon.max_packet, max_payloads, ikesa_limit...), see LimitReporter.</summary>
    ResourceLimit,
    /// <summary>A request of an exchange the IKE SA does not take in its state: anything but IKE_AUTH before the peer is
    /// authenticated, IKE_AUTH after it is (RFC 7296 §1.2: IKE_SA_INIT and IKE_AUTH come first, once).</summary>
    UnexpectedExchange,
    /// <summary>An IKE fragment (RFC 7383) whose number the reassembly already holds (a retransmission).</summary>
    FragmentDuplicate,
    /// <summary>An IKE fragment with fewer Total Fragments than the reassembly in progress (RFC 7383 §2.6: discarded).</summary>
    FragmentStale,
    /// <summary>An IKE fragment whose Total Fragments exceeds the bound (255, strongSwan's MAX_FRAGMENTS).</summary>
    TooManyFragments,
    /// <summary>An IKEv1 aggressive mode first message no connection with aggressive: yes accepts (refused before any state).</summary>
    AggressiveModeRefused,
    Count,
}

/// <summary>The configured resource bounds (<c>charon:</c> keys); the label value of each is its key.</summary>
public enum ResourceLimit
{
    MaxPacket = 0,
    MaxPayloads,
    IkeSaLimit,
    IkeSaLimitPerPeer,
    ChildSaLimit,
    AcquireQueue,
    AdminRate,
    FragmentMemory,
}

/// <summary>Why a node stopped holding an IKE SA without deleting it with the peer (cluster SA mobility).</summary>
public enum SaReleaseReason
{
    Moved = 0,
    HandOff = 1,
    Fenced = 2,
}

/// <summary>Why a node dropped a message another cluster node (or something posing as one) sent it.</summary>
public enum ClusterMessageDrop
{
    /// <summary>The sender's address is not a member Up in this node's view (or is this node's own).</summary>
    NotMember = 0,
    /// <summary>An answer to a release this node did not ask that node for (or no longer waits for).</summary>
    Unrequested = 1,
    /// <summary>A released snapshot that does not decode or names another SA.</summary>
    Malformed = 2,
}

/// <summary>How an attempt to take over an IKE SA from another node (or from the replica of a gone one) ended.</summary>
public enum SaAdoptionOutcome
{
    Adopted = 0,
    /// <summary>The snapshot did not decode, or names a connection or algorithms this node does not have.</summary>
    Failed = 1,
    /// <summary>The holder refused the release, or holds no such SA.</summary>
    Refused = 2,
    /// <summary>The message that would have moved it did not authenticate as its peer's new traffic (forged, replayed, or a
    /// retransmission while its holder lives): nothing was asked.</summary>
    Unauthenticated = 3,
    /// <summary>More such messages than the node checks a second (<c>SaMobilityActor.MaxProofChecksPerSecond</c>).</summary>
    Throttled = 4,
    /// <summary>Another node claimed the SA under the same or a later epoch first (<c>SaClaimActor</c>): this one never ran it.</summary>
    Contended = 5,
}
