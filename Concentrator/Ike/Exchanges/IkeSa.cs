using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using Concentrator.DataPlane;
using Concentrator.Ike.Crypto;
using Concentrator.Ike.Exchanges.Tasks;
using Concentrator.Ike.Wire;
using Concentrator.Ike.Sa;
using Concentrator.Telemetry;
using Concentrator.Ipsec;
using Concentrator.Ike.Admission;
using Concentrator.Ike.Connections;

namespace Concentrator.Ike.Exchanges;

/// <summary>Services an IKE SA uses; shared by all SAs of a gateway.</summary>
public sealed class IkeSaContext
{
    public required IConnectionResolver Resolver { get; init; }
    public required IDataPlane DataPlane { get; init; }
    public IkeTunables Tunables { get; init; } = IkeTunables.Default;
    public int NattPort { get; init; } = UdpEncapsulation.NatTraversalPort;

    /// <summary>Where this node counts; the default is never scraped (protocol tests).</summary>
    public ConcentratorMetrics Metrics { get; init; } = ConcentratorMetrics.Detached;

    /// <summary>Resource bounds (charon: section); enforced where each resource is spent.</summary>
    public ResourceLimits Limits { get; init; } = ResourceLimits.Default;

    /// <summary>Source of every nonce we send (length in bytes). Tests replace it to decide the lowest-nonce rule
    /// of a rekey collision (RFC 7296 §2.8.1, §2.8.2); production uses the CSPRNG.</summary>
    internal Func<int, byte[]> NonceSource { get; set; } = RandomNumberGenerator.GetBytes;

    /// <summary>Monotonic milliseconds (dpd_timeout); tests replace it to step time.</summary>
    internal Func<long> Clock { get; set; } = () => Environment.TickCount64;
}

/// <summary>A Child SA as the IKE SA knows it (its keys: the data plane's, and the IKE SA's own copy for snapshots).</summary>
public sealed record ChildSaRecord(string Child, uint InboundSpi, uint OutboundSpi, EspSuite Suite,
    IReadOnlyList<TrafficSelector> LocalTs, IReadOnlyList<TrafficSelector> RemoteTs);

/// <summary>
/// The protocol state of one IKE SA and its task manager (after strongSwan's ike_sa + task_manager):
/// one request of ours in flight (window size 1), requests from the peer answered in order with the
/// last response cached for retransmissions. No I/O and no timers: every action is an
/// <see cref="IkeEffect"/> drained by the host. Not thread-safe; owned by one actor.
/// </summary>
public sealed class IkeSa : IDisposable
{
    private readonly Queue<PendingExchange> _queue = new();
    private readonly List<IkeEffect> _effects = new();
    private readonly Dictionary<uint, ChildSaRecord> _children = new();
    // Inbound SPIs of children with a rekey in flight (ours), so a second rekey is not started.
    private readonly HashSet<uint> _rekeying = new();
    // Rekey responder: old inbound SPI -> successor whose outbound starts when the old one is deleted.
    private readonly Dictionary<uint, uint> _activateOnDelete = new();
    // Children replaced by a rekey (either role) whose Delete is pending: removed with Rekeyed = true.
    private readonly HashSet<uint> _replaced = new();
    // Children we sent (or queued) a Delete for: a rekey request for one gets TEMPORARY_FAILURE (§2.25.1).
    private readonly HashSet<uint> _deleting = new();
    // Rekey collisions (§2.8.1): old inbound SPI -> the peer's rekey of it that we answered while ours was in flight.
    private readonly Dictionary<uint, PassiveChildRekey> _passiveChildRekeys = new();
    // Collision losers awaiting their Delete (ours or the peer's): never rekeyed, never activated.
    private readonly HashSet<uint> _redundant = new();
    // Our own copy of each child's ESP keys and install facts (the data plane zeroes the arrays handed to it), for
    // snapshots; zeroed when the child is removed and in Dispose.
    private readonly Dictionary<uint, ChildKeyCopy> _childKeys = new();
    private readonly long _createdTimestamp = Stopwatch.GetTimestamp();
    private readonly IkeSaTelemetry _telemetry;

    private PendingExchange? _active;
    private int _initialChildrenLeft;
    // The DPD probe's task while it is queued or in flight, and the dpd_timeout deadline (Clock ms) once it is sent.
    private InformationalTask? _dpdProbe;
    private long? _activeDeadline;
    private PassiveIkeRekey? _passiveIkeRekey;
    private uint _activeMessageId;
    private int _attempt;
    private uint _nextRequestId;
    private uint _peerNextRequestId;
    private CachedResponse? _lastResponse;

    private IkeSa(IkeSaContext context, bool isInitiator, ulong spiI, ulong spiR, IPEndPoint local, IPEndPoint remote, bool natT)
    {
        Context = context;
        IsInitiator = isInitiator;
        SpiI = spiI;
        SpiR = spiR;
        LocalEndpoint = local;
        RemoteEndpoint = remote;
        NatT = natT;
        _telemetry = new IkeSaTelemetry(context.Metrics, isInitiator);
    }

    public static IkeSa CreateInitiator(IkeSaContext context, ConnectionConfig connection, ulong spi,
        IPEndPoint local, IPEndPoint remote, IEnumerable<ChildConfig>? children = null, bool initialContact = true)
    {
        var sa = new IkeSa(context, true, spi, 0, local, remote, natT: remote.Port == context.NattPort)
        {
            Connection = connection,
            SendInitialContact = initialContact,
        };
        sa.Candidates = [connection];
        sa.InitialChildren = (children ?? connection.Children.Values).ToList();
        return sa;
    }

    public static IkeSa CreateResponder(IkeSaContext context, ulong spiI, ulong spiR, IPEndPoint local, IPEndPoint remote, bool natT) =>
        new(context, false, spiI, spiR, local, remote, natT);

    /// <summary>
    /// A new IKE SA from a rekey of <paramref name="old"/> (RFC 7296 §1.3.2, §2.18): new SPIs and keys, message IDs
    /// from zero, the initiator of the rekey exchange as its initiator. It has no Child SAs until
    /// <see cref="HandOver"/> makes it the successor; a collision's redundant SA never gets any (§2.8.2).
    /// </summary>
    internal static IkeSa CreateRekeyed(IkeSa old, bool isInitiator, ulong spiI, ulong spiR, IkeSuite suite, IkeKeys keys)
    {
        var sa = new IkeSa(old.Context, isInitiator, spiI, spiR, old.LocalEndpoint, old.RemoteEndpoint, old.NatT)
        {
            Connection = old.Connection,
            Candidates = old.Candidates,
            LocalId = old.LocalId,
            RemoteId = old.RemoteId,
            NatDetected = old.NatDetected,
            BehindNat = old.BehindNat,
            Suite = suite,
            ProposalText = Tasks.IkeInitTask.Describe(suite),
            Keys = keys,
            Protector = new IkeMessageProtector(suite, keys, isInitiator),
        };
        sa.Move(IkeSaState.Established);
        sa.EstablishedUtc = DateTime.UtcNow;
        return sa;
    }

    /// <summary>
    /// Makes <paramref name="successor"/> (from <see cref="CreateRekeyed"/>) the SA that carries on: the Child SAs
    /// move over (their actors and data-plane entries stay as they are) and the host routes the new SPI here.
    /// </summary>
    internal void HandOver(IkeSa successor)
    {
        foreach (var child in _children.Values) successor._children[child.InboundSpi] = child;
        foreach (var (spi, keys) in _childKeys) successor._childKeys[spi] = keys;
        successor.Touch();
        Touch();
        foreach (var (from, to) in _activateOnDelete) successor._activateOnDelete[from] = to;
        successor._replaced.UnionWith(_replaced);
        successor._redundant.UnionWith(_redundant);
        // Child Deletes we queued on this SA are lost with it; the successor deletes those children again.
        var pendingDeletes = _deleting.Where(successor._children.ContainsKey).ToList();
        _children.Clear();
        _childKeys.Clear();
        _activateOnDelete.Clear();
        _replaced.Clear();
        _redundant.Clear();
        _rekeying.Clear();
        _deleting.Clear();
        _passiveChildRekeys.Clear();
        Successor = successor;
        Emit(new IkeSaRekeyed(successor));
        foreach (var spi in pendingDeletes) successor.DeleteChild(spi);
    }

    /// <summary>
    /// Rekey responder while our own IKE rekey is on the wire (§2.8.2): the peer's new SA waits here, without
    /// children, until our response decides which of the two survives.
    /// </summary>
    internal void PassiveIkeRekey(IkeSa created, byte[] lowerNonce) => _passiveIkeRekey = new PassiveIkeRekey(created, lowerNonce);

    internal PassiveIkeRekey? TakePassiveIkeRekey()
    {
        var passive = _passiveIkeRekey;
        _passiveIkeRekey = null;
        return passive;
    }

    /// <summary>A colliding IKE rekey of the peer is waiting for our own to end.</summary>
    internal bool HasPassiveIkeRekey => _passiveIkeRekey is not null;

    /// <summary>Our IKE rekey (CREATE_CHILD_SA) is the request on the wire.</summary>
    internal bool IkeRekeyInFlight => _active is { Tasks: [IkeRekeyTask] };

    /// <summary>Announces a rekey collision's redundant IKE SA: the host routes its SPI until its Delete completes.</summary>
    internal void Redundant(IkeSa redundant) => Emit(new IkeSaRedundant(redundant));

    /// <summary>Rekeys this IKE SA (CREATE_CHILD_SA with an IKE proposal); false when not possible now.</summary>
    public bool RekeyIke()
    {
        if (State != IkeSaState.Established || RekeyingIke) return false;
        RekeyingIke = true;
        Enqueue(ExchangeType.CreateChildSa, new IkeRekeyTask());
        return true;
    }

    /// <summary>An IKE rekey of ours is queued or in flight.</summary>
    public bool RekeyingIke { get; internal set; }

    /// <summary>Set once this SA was replaced by a rekey; it only waits for its Delete now.</summary>
    public IkeSa? Successor { get; internal set; }

    public IkeSaContext Context { get; }
    public bool IsInitiator { get; }
    public ulong SpiI { get; private set; }
    public ulong SpiR { get; internal set; }

    /// <summary>The SPI we chose: routing key of this SA.</summary>
    public ulong OurSpi => IsInitiator ? SpiI : SpiR;

    public IkeSaState State { get; private set; } = IkeSaState.Created;
    public ConnectionConfig? Connection { get; internal set; }
    public IPEndPoint LocalEndpoint { get; internal set; }
    public IPEndPoint RemoteEndpoint { get; internal set; }

    /// <summary>IKE and ESP use UDP 4500 with the non-ESP marker (RFC 3948).</summary>
    public bool NatT { get; internal set; }

    public bool NatDetected { get; internal set; }

    /// <summary>Our own address is translated (the peer's NAT_DETECTION_DESTINATION_IP did not match): we send NAT-T keepalives.</summary>
    public bool BehindNat { get; internal set; }
    public Identity? LocalId { get; internal set; }
    public Identity? RemoteId { get; internal set; }
    public IReadOnlyCollection<ChildSaRecord> Children => _children.Values;
    public TimeSpan Age => Stopwatch.GetElapsedTime(_createdTimestamp);

    /// <summary>Environment.TickCount64 of the last authenticated (or IKE_SA_INIT) message from the peer.</summary>
    public long LastInbound { get; private set; } = Environment.TickCount64;

    /// <summary>Initiator: send INITIAL_CONTACT in IKE_AUTH (not when reauthenticating next to a live SA).</summary>
    public bool SendInitialContact { get; private init; } = true;

    /// <summary>Responder: the peer sent INITIAL_CONTACT (RFC 7296 §2.4): older SAs with it are stale.</summary>
    public bool InitialContact { get; private set; }

    /// <summary>True while a request of ours awaits its response.</summary>
    public bool RequestInFlight => _active is not null;

    // Negotiation material shared by the tasks. Owned by this SA; zeroed in Dispose.
    internal IReadOnlyList<ConnectionConfig> Candidates { get; set; } = [];
    internal IReadOnlyList<ChildConfig> InitialChildren { get; private set; } = [];
    internal IkeSuite Suite { get; set; }
    public string ProposalText { get; internal set; } = "";
    internal byte[] NonceI { get; set; } = [];
    internal byte[] NonceR { get; set; } = [];
    internal byte[] InitRequest { get; set; } = [];
    internal byte[] InitResponse { get; set; } = [];
    internal IkeKeys? Keys { get; set; }
    internal IkeMessageProtector? Protector { get; set; }

    /// <summary>Raw bytes of the message being processed (request or response).</summary>
    internal byte[] CurrentDatagram { get; private set; } = [];

    /// <summary>Bytes of our request in flight, as last sent.</summary>
    internal byte[] ActiveRequest { get; private set; } = [];

    /// <summary>Responder: an error that replaces the whole response (RFC 7296 §2.21).</summary>
    internal NotifyPayload? FatalResponseNotify { get; set; }

    /// <summary>Responder: close with this reason once the response is sent.</summary>
    internal CloseReason? CloseAfterResponse { get; set; }

    // ---- Cluster failover: snapshot and restore ----

    /// <summary>
    /// Changes whenever anything a snapshot holds changes: message IDs either way, the cached response, children added,
    /// replaced or removed, IKE rekey (the children leave), endpoints / NAT state, state. A dropped message leaves it alone.
    /// A restored SA continues from its snapshot's version, so a replica keeps the highest.
    /// </summary>
    public long StateVersion { get; private set; }

    /// <summary>When this SA was established (or created by an IKE rekey): the host's IKE lifetime timers count from it.</summary>
    public DateTime EstablishedUtc { get; private set; }

    /// <summary>
    /// Established (and not replaced by an IKE rekey), or a responder whose IKE_SA_INIT response is sent and whose
    /// IKE_AUTH is not processed yet; false otherwise (Created, Deleting, Destroyed, initiator before establishment).
    /// </summary>
    public bool CanSnapshot => Keys is not null && Protector is not null && Successor is null &&
                               (State == IkeSaState.Established ||
                                (State == IkeSaState.Connecting && !IsInitiator && InitResponse.Length > 0));

    private void Touch() => StateVersion++;

    /// <summary>
    /// The state after the last completed exchange, with copies of every key (the caller disposes the snapshot). Transient
    /// negotiation state is left out: a request of ours in flight (see <see cref="IkeSaSnapshot.NextRequestId"/>), queued
    /// exchanges (a DPD, a child rekey, an initial child not created yet), rekey collisions. <paramref name="sequenceMarks"/>
    /// gives the data plane's (last outbound sequence number used, highest inbound accepted) of a child by its inbound SPI
    /// (the host reads <see cref="IDataPlane.TryGetSequenceMarks"/>).
    /// </summary>
    /// <exception cref="InvalidOperationException"><see cref="CanSnapshot"/> is false.</exception>
    public IkeSaSnapshot Snapshot(Func<uint, (ulong LastOutbound, ulong InboundTop)> sequenceMarks)
    {
        ArgumentNullException.ThrowIfNull(sequenceMarks);
        if (!CanSnapshot) throw new InvalidOperationException($"IKE SA in state {State} cannot be snapshot");
        bool halfOpen = State == IkeSaState.Connecting;
        var children = new List<ChildSaSnapshot>(_children.Count);
        foreach (var c in _children.Values)
        {
            var k = _childKeys[c.InboundSpi];
            var (lastOutbound, inboundTop) = sequenceMarks(c.InboundSpi);
            children.Add(new ChildSaSnapshot(c.Child, c.InboundSpi, c.OutboundSpi, c.Suite,
                k.InboundEncryption.ToArray(), k.InboundIntegrity.ToArray(), k.OutboundEncryption.ToArray(), k.OutboundIntegrity.ToArray(),
                c.LocalTs, c.RemoteTs, k.Transport, k.ReplayWindow, k.CreatedUtc, lastOutbound, inboundTop)
            {
                Replaced = _replaced.Contains(c.InboundSpi),
                Successor = _activateOnDelete.GetValueOrDefault(c.InboundSpi),
            });
        }

        var keys = Keys!;
        return new IkeSaSnapshot
        {
            SpiI = SpiI,
            SpiR = SpiR,
            IsInitiator = IsInitiator,
            State = State,
            // A half-open responder picks its connection in IKE_AUTH, by identity, from the candidates.
            Connection = halfOpen ? "" : Connection!.Name,
            Candidates = halfOpen ? Candidates.Select(c => c.Name).ToList() : [],
            Local = LocalEndpoint,
            Remote = RemoteEndpoint,
            NatT = NatT,
            NatDetected = NatDetected,
            BehindNat = BehindNat,
            StateVersion = StateVersion,
            EstablishedUtc = EstablishedUtc,
            LocalId = LocalId,
            RemoteId = RemoteId,
            Suite = Suite,
            Keys = CopyKeys(keys),
            // Nonces and the IKE_SA_INIT messages only serve IKE_AUTH (AUTH payloads, the first child's KEYMAT).
            NonceI = halfOpen ? NonceI.ToArray() : [],
            NonceR = halfOpen ? NonceR.ToArray() : [],
            InitRequest = halfOpen ? InitRequest.ToArray() : [],
            InitResponse = halfOpen ? InitResponse.ToArray() : [],
            NextRequestId = _nextRequestId,
            PeerNextRequestId = _peerNextRequestId,
            LastResponse = _lastResponse is { } r ? new CachedIkeResponse(r.MessageId, r.Request.ToArray(), r.Response.ToArray()) : null,
            Children = children,
        };
    }

    /// <summary>
    /// Rebuilds the SA on another node (<paramref name="context"/>: its data plane, the same configuration). Established:
    /// emits <see cref="IkeSaRestored"/>, then one <see cref="ChildSaEstablished"/> per child whose install starts outbound
    /// at the snapshot's mark + <paramref name="outboundSequenceMargin"/> and refuses inbound at or below the snapshot's
    /// floor (the host installs them as it does new children); a child our completed rekey replaced gets its Delete
    /// queued again (it may have been lost with the old node). Half-open responder: no effect; the next IKE_AUTH is
    /// processed normally. Connection names resolve through <see cref="IConnectionResolver.FindConnection"/>; a name that
    /// no longer exists, or a suite this node cannot run, makes it return null. Not counted as a new negotiation.
    /// The snapshot stays the caller's (every array is copied).
    /// </summary>
    public static IkeSa? Restore(IkeSaContext context, IkeSaSnapshot snapshot, ulong outboundSequenceMargin)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(snapshot);
        var s = snapshot;
        bool halfOpen = s.State == IkeSaState.Connecting;
        if (halfOpen ? s.IsInitiator : s.State != IkeSaState.Established) return null;

        ConnectionConfig? connection = null;
        var candidates = new List<ConnectionConfig>();
        foreach (var name in halfOpen ? s.Candidates : [s.Connection])
        {
            if (context.Resolver.FindConnection(name) is not { } found) return null;
            candidates.Add(found);
        }
        if (candidates.Count == 0) return null;
        if (!halfOpen) connection = candidates[0];

        var keys = CopyKeys(s.Keys);
        IkeMessageProtector protector;
        try
        {
            protector = new IkeMessageProtector(s.Suite, keys, s.IsInitiator);
        }
        catch (Exception e) when (e is NotSupportedException or ArgumentException)
        {
            // A suite or key length this node cannot run (replicated from a differently built node): not adoptable.
            keys.Dispose();
            return null;
        }

        var sa = new IkeSa(context, s.IsInitiator, s.SpiI, s.SpiR, s.Local, s.Remote, s.NatT)
        {
            Connection = connection,
            Candidates = candidates,
            LocalId = s.LocalId,
            RemoteId = s.RemoteId,
            NatDetected = s.NatDetected,
            BehindNat = s.BehindNat,
            Suite = s.Suite,
            ProposalText = IkeInitTask.Describe(s.Suite),
            Keys = keys,
            Protector = protector,
            NonceI = s.NonceI.ToArray(),
            NonceR = s.NonceR.ToArray(),
            InitRequest = s.InitRequest.ToArray(),
            InitResponse = s.InitResponse.ToArray(),
            EstablishedUtc = s.EstablishedUtc,
        };
        sa._nextRequestId = s.NextRequestId;
        sa._peerNextRequestId = s.PeerNextRequestId;
        if (s.LastResponse is { } cached)
        {
            sa._lastResponse = new CachedResponse(cached.MessageId, cached.Request.ToArray(), cached.Response.ToArray());
        }
        sa.Move(s.State);
        sa.LastInbound = Environment.TickCount64;
        if (halfOpen)
        {
            sa.StateVersion = s.StateVersion;
            return sa;
        }

        sa.Emit(new IkeSaRestored(connection!.Name, s.RemoteId?.Text ?? ""));
        var awaitingActivation = new HashSet<uint>();
        foreach (var c in s.Children)
        {
            if (c.Successor != 0) awaitingActivation.Add(c.Successor);
        }

        foreach (var c in s.Children)
        {
            if (sa._children.ContainsKey(c.InboundSpi)) continue;
            var install = new ChildSaInstall(c.InboundSpi, c.OutboundSpi, c.Suite,
                c.InboundEncryptionKey.ToArray(), c.InboundIntegrityKey.ToArray(), c.OutboundEncryptionKey.ToArray(), c.OutboundIntegrityKey.ToArray(),
                c.LocalTs, c.RemoteTs, s.Local, s.Remote, c.Transport, c.ReplayWindow, connection.Name, c.Child,
                OutboundActive: !awaitingActivation.Contains(c.InboundSpi),
                // The old node may have sent up to its last replicated mark plus whatever it sent since: skip a margin.
                OutboundSequenceStart: c.OutboundSequenceMark > ulong.MaxValue - outboundSequenceMargin ? ulong.MaxValue : c.OutboundSequenceMark + outboundSequenceMargin,
                InboundSequenceFloor: c.InboundSequenceFloor);
            sa.TrackChild(new ChildSaRecord(c.Child, c.InboundSpi, c.OutboundSpi, c.Suite, c.LocalTs, c.RemoteTs), install, c.CreatedUtc);
        }

        var ourDeletes = new List<uint>();
        foreach (var c in s.Children)
        {
            if (c.Successor != 0 && sa._children.ContainsKey(c.Successor))
            {
                sa.ActivateWhenDeleted(c.InboundSpi, c.Successor);
            }
            else if (c.Replaced)
            {
                sa._replaced.Add(c.InboundSpi);
                ourDeletes.Add(c.InboundSpi);
            }
        }

        sa.StateVersion = s.StateVersion;
        foreach (var spi in ourDeletes) sa.DeleteChild(spi);
        return sa;
    }

    private static IkeKeys CopyKeys(IkeKeys k) => new()
    {
        SkD = k.SkD.ToArray(),
        SkAi = k.SkAi.ToArray(),
        SkAr = k.SkAr.ToArray(),
        SkEi = k.SkEi.ToArray(),
        SkEr = k.SkEr.ToArray(),
        SkPi = k.SkPi.ToArray(),
        SkPr = k.SkPr.ToArray(),
    };

    /// <summary>This SA's own copies of a child's four ESP keys (tests check they are zeroed on removal); empty when unknown.</summary>
    /// <summary>When the child was negotiated (on whichever node): its lifetimes count from then, also after a move.</summary>
    public DateTime ChildCreatedUtc(uint inboundSpi) => _childKeys.TryGetValue(inboundSpi, out var k) ? k.CreatedUtc : DateTime.UtcNow;

    internal IReadOnlyList<byte[]> ChildKeyMaterial(uint inboundSpi) =>
        _childKeys.TryGetValue(inboundSpi, out var k) ? [k.InboundEncryption, k.InboundIntegrity, k.OutboundEncryption, k.OutboundIntegrity] : [];

    // ---- Host API ----

    /// <summary>Effects produced since the last drain, in order.</summary>
    public List<IkeEffect> DrainEffects()
    {
        var copy = new List<IkeEffect>(_effects);
        _effects.Clear();
        return copy;
    }

    /// <summary>Initiator: IKE_SA_INIT, then IKE_AUTH with the first child; further children with CREATE_CHILD_SA.</summary>
    public void Initiate()
    {
        if (!IsInitiator || State != IkeSaState.Created) throw new InvalidOperationException("Initiate is for a new initiator SA");
        Move(IkeSaState.Connecting);
        _telemetry.NegotiationStarted(Connection?.Name, RemoteEndpoint);
        Enqueue(ExchangeType.IkeSaInit, new IkeInitTask());
        var auth = new List<IIkeTask> { new IkeAuthTask() };
        _initialChildrenLeft = InitialChildren.Count;
        if (InitialChildren.Count > 0) auth.Add(new ChildCreateTask(InitialChildren[0], initial: true));
        Enqueue(ExchangeType.IkeAuth, auth.ToArray());
        for (int i = 1; i < InitialChildren.Count; i++)
        {
            Enqueue(ExchangeType.CreateChildSa, new ChildCreateTask(InitialChildren[i], initial: true));
        }
    }

    /// <summary>
    /// Initiator: some of the children asked for at <see cref="Initiate"/> are still being negotiated (the first rides
    /// in IKE_AUTH, the others follow with CREATE_CHILD_SA). A reauthentication deletes the SA it replaces only once
    /// this is false, so no child of the old SA loses its traffic before its replacement is installed.
    /// </summary>
    public bool InitialChildrenPending => _initialChildrenLeft > 0;

    /// <summary>One of the children of <see cref="Initiate"/> was answered (installed or refused).</summary>
    internal void InitialChildDone() => _initialChildrenLeft--;

    /// <summary>Creates one more Child SA under this established IKE SA.</summary>
    public void CreateChild(ChildConfig child) => Enqueue(ExchangeType.CreateChildSa, new ChildCreateTask(child));

    /// <summary>
    /// Rekeys one Child SA (RFC 7296 §2.8, make-before-break): CREATE_CHILD_SA with REKEY_SA; the new SA
    /// takes over outbound once the response is in, then the old one is deleted. False when the child is
    /// unknown, its config is gone, or a rekey of it is already in flight.
    /// </summary>
    public bool RekeyChild(uint inboundSpi)
    {
        if (State != IkeSaState.Established || !_children.TryGetValue(inboundSpi, out var old) || !IsRekeyable(inboundSpi) ||
            Connection is null || !Connection.Children.TryGetValue(old.Child, out var config) || !_rekeying.Add(inboundSpi))
        {
            return false;
        }

        Enqueue(ExchangeType.CreateChildSa, new ChildCreateTask(config, old));
        return true;
    }

    /// <summary>True while a rekey of this child (initiated by us) is in flight.</summary>
    public bool IsRekeying(uint inboundSpi) => _rekeying.Contains(inboundSpi);

    /// <summary>A Delete of ours for this child is queued or in flight.</summary>
    internal bool IsDeleting(uint inboundSpi) => _deleting.Contains(inboundSpi);

    /// <summary>Neither replaced by a rekey, nor a collision's redundant SA, nor being deleted.</summary>
    internal bool IsRekeyable(uint inboundSpi, bool requirePresent = false) =>
        (!requirePresent || _children.ContainsKey(inboundSpi)) &&
        !_replaced.Contains(inboundSpi) && !_redundant.Contains(inboundSpi) && !_deleting.Contains(inboundSpi);

    /// <summary>Liveness check (dead peer detection): an empty INFORMATIONAL; no answer means the SA times out.</summary>
    public void SendDpd()
    {
        _telemetry.DpdProbe();
        _dpdProbe = new InformationalTask([]);
        Enqueue(ExchangeType.Informational, _dpdProbe);
    }

    /// <summary>Deletes one Child SA with the peer (identified by our inbound SPI).</summary>
    public void DeleteChild(uint inboundSpi)
    {
        if (!_children.ContainsKey(inboundSpi) || !_deleting.Add(inboundSpi)) return;
        Enqueue(ExchangeType.Informational, new InformationalTask([new DeletePayload(ProtocolId.Esp, [SpiBytes(inboundSpi)])]));
    }

    /// <summary>Ends the SA locally without telling the peer (it restarted and sent INITIAL_CONTACT).</summary>
    public void Replace() => Close(CloseReason.Replaced);

    /// <summary>Deletes the IKE SA (and with it every Child SA) with the peer.</summary>
    public void Delete()
    {
        if (State is IkeSaState.Destroyed or IkeSaState.Deleting) return;
        if (State != IkeSaState.Established)
        {
            Close(CloseReason.Deleted);
            return;
        }

        Move(IkeSaState.Deleting);
        _queue.Clear();
        if (_active is not null)
        {
            // RFC 7296 §2.3 allows one exchange in flight; the delete goes out once the current one ends.
            _queue.Enqueue(new PendingExchange(ExchangeType.Informational, [new InformationalTask([new DeletePayload(ProtocolId.Ike, [])])]));
            return;
        }

        Enqueue(ExchangeType.Informational, new InformationalTask([new DeletePayload(ProtocolId.Ike, [])]));
    }

    public void OnRetransmitTimer()
    {
        if (_active is null || State == IkeSaState.Destroyed) return;
        _attempt++;
        long now = Context.Clock();
        if (_attempt > Context.Tunables.RetransmitTries || now >= _activeDeadline)
        {
            Close(CloseReason.Timeout);
            return;
        }

        _telemetry.Retransmit(_active.Exchange);
        Emit(new SendMessage(ActiveRequest, RemoteEndpoint, NatT));
        Emit(new ScheduleRetransmit(NextRetransmit(now)));
    }

    /// <summary>The back-off delay of the current attempt, cut short at the exchange's deadline (dpd_timeout).</summary>
    private TimeSpan NextRetransmit(long now)
    {
        var delay = Context.Tunables.RetransmitDelay(_attempt);
        if (_activeDeadline is not { } deadline) return delay;
        var left = TimeSpan.FromMilliseconds(Math.Max(0, deadline - now));
        return left < delay ? left : delay;
    }

    /// <summary>Processes one IKE datagram (without the non-ESP marker) routed to this SA.</summary>
    public void HandleDatagram(byte[] datagram, IPEndPoint remote, IPEndPoint local, bool viaNatT)
    {
        if (State == IkeSaState.Destroyed) return;
        var status = IkeCodec.TryDecode(datagram, out var message, out _, Context.Limits.MaxPayloads);
        if (status != ParseStatus.Ok || message is null)
        {
            Context.Metrics.CountMalformed(status);
            if (status == ParseStatus.TooManyPayloads) Context.Metrics.Limits.Hit(ResourceLimit.MaxPayloads, Context.Limits.MaxPayloads);
            return;
        }

        CurrentDatagram = datagram;
        if (message.Header.IsResponse)
        {
            HandleResponse(message, remote, local, viaNatT);
        }
        else
        {
            HandleRequest(message, remote, local, viaNatT);
        }
        CurrentDatagram = [];
    }

    // ---- Task manager ----

    private void Enqueue(ExchangeType exchange, params IIkeTask[] tasks)
    {
        if (State == IkeSaState.Destroyed) return;
        _queue.Enqueue(new PendingExchange(exchange, tasks.ToList()));
        StartNext();
    }

    private void StartNext()
    {
        if (_active is not null || State == IkeSaState.Destroyed) return;
        // A queued rekey of a child that the peer rekeyed (or deleted) meanwhile has nothing left to do.
        while (_queue.Count > 0 && _queue.Peek().Tasks is [ChildCreateTask { RekeyOf: { } stale }] && !IsRekeyable(stale.InboundSpi, requirePresent: true))
        {
            _queue.Dequeue();
            _rekeying.Remove(stale.InboundSpi);
        }
        if (_queue.Count == 0) return;
        var next = _queue.Peek();
        if (next.Exchange != ExchangeType.IkeSaInit && Protector is null) return;
        _active = _queue.Dequeue();
        _activeMessageId = _nextRequestId;
        _telemetry.ExchangeStarted(_active.Exchange, weRequest: true, Connection?.Name, ProposalText);
        SendActive();
    }

    private void SendActive()
    {
        var exchange = _active!;
        var payloads = new List<Payload>();
        foreach (var task in exchange.Tasks)
        {
            task.BuildRequest(this, payloads);
            if (State == IkeSaState.Destroyed) return;
        }

        var header = new IkeHeader(SpiI, SpiR, PayloadType.None, ProtocolConstants.MajorVersion, ProtocolConstants.MinorVersion,
            exchange.Exchange, IsInitiator ? IkeFlags.Initiator : IkeFlags.None, _activeMessageId, 0);
        ActiveRequest = exchange.Exchange == ExchangeType.IkeSaInit
            ? IkeCodec.Encode(header, payloads)
            : Protector!.Seal(header, payloads);
        _attempt = 0;
        long now = Context.Clock();
        // dpd_timeout (IKEv2 here too): an unanswered probe declares the peer dead when it or the retransmission
        // budget runs out, whichever is first.
        _activeDeadline = exchange.Tasks is [var only] && only == _dpdProbe && Connection is { DpdTimeout: var dpdTimeout } &&
                          dpdTimeout > TimeSpan.Zero
            ? now + (long)dpdTimeout.TotalMilliseconds
            : null;
        Emit(new SendMessage(ActiveRequest, RemoteEndpoint, NatT));
        Emit(new ScheduleRetransmit(NextRetransmit(now)));
    }

    private void HandleResponse(IkeMessage message, IPEndPoint remote, IPEndPoint local, bool viaNatT)
    {
        var header = message.Header;
        if (_active is null || header.MessageId != _activeMessageId || header.Exchange != _active.Exchange ||
            header.FromInitiator == IsInitiator)
        {
            Context.Metrics.CountDrop(IkeDropReason.UnexpectedResponse);
            return;
        }

        if (!OpenAndCheck(message, isResponse: true)) return;
        LastInbound = Environment.TickCount64;
        if (header.Exchange != ExchangeType.IkeSaInit) FollowPeer(remote, local, viaNatT);

        Emit(new CancelRetransmit());
        var exchange = _active;
        bool retry = false;
        foreach (var task in exchange.Tasks)
        {
            var status = task.ProcessResponse(this, message);
            if (status == TaskStatus.Failed || State == IkeSaState.Destroyed) return;
            retry |= status == TaskStatus.Retry;
        }

        if (retry)
        {
            SendActive();
            return;
        }

        _active = null;
        _telemetry.ExchangeEnded("ok", error: false, ProposalText);
        _nextRequestId++;
        Touch();
        StartNext();
    }

    private void HandleRequest(IkeMessage message, IPEndPoint remote, IPEndPoint local, bool viaNatT)
    {
        var header = message.Header;
        if (header.FromInitiator == IsInitiator)
        {
            Context.Metrics.CountDrop(IkeDropReason.UnexpectedResponse);
            return;
        }

        if (_lastResponse is { } cached && header.MessageId == cached.MessageId)
        {
            // RFC 7296 §2.1: a retransmitted request gets the same response, not a new exchange.
            if (cached.Request.AsSpan().SequenceEqual(CurrentDatagram))
            {
                Emit(new SendMessage(cached.Response, remote, viaNatT));
            }
            return;
        }

        if (header.MessageId != _peerNextRequestId)
        {
            Context.Metrics.CountDrop(IkeDropReason.InvalidMessageId);
            return;
        }

        if (header.Exchange == ExchangeType.IkeSaInit ? State != IkeSaState.Created : Protector is null)
        {
            Context.Metrics.CountDrop(IkeDropReason.NotAuthenticated);
            return;
        }

        if (!OpenAndCheck(message, isResponse: false)) return;
        LastInbound = Environment.TickCount64;
        if (header.Exchange == ExchangeType.IkeAuth && message.GetNotify(NotifyType.InitialContact) is not null) InitialContact = true;
        if (header.Exchange == ExchangeType.IkeSaInit)
        {
            Move(IkeSaState.Connecting);
            RemoteEndpoint = remote;
            LocalEndpoint = local;
            _telemetry.NegotiationStarted(null, remote);
        }
        else
        {
            FollowPeer(remote, local, viaNatT);
        }

        _telemetry.ExchangeStarted(header.Exchange, weRequest: false, Connection?.Name, ProposalText);

        FatalResponseNotify = null;
        CloseAfterResponse = null;
        var tasks = ResponderTasks(header.Exchange, message);
        foreach (var task in tasks)
        {
            if (task.ProcessRequest(this, message) == TaskStatus.Failed || FatalResponseNotify is not null) break;
        }

        var payloads = new List<Payload>();
        if (FatalResponseNotify is not null)
        {
            payloads.Add(FatalResponseNotify);
        }
        else
        {
            foreach (var task in tasks) task.BuildResponse(this, payloads);
        }

        bool initError = header.Exchange == ExchangeType.IkeSaInit && FatalResponseNotify is not null;
        var responseHeader = new IkeHeader(SpiI, initError ? 0 : SpiR, PayloadType.None, ProtocolConstants.MajorVersion,
            ProtocolConstants.MinorVersion, header.Exchange,
            IkeFlags.Response | (IsInitiator ? IkeFlags.Initiator : IkeFlags.None), header.MessageId, 0);
        byte[] response = header.Exchange == ExchangeType.IkeSaInit
            ? IkeCodec.Encode(responseHeader, payloads)
            : Protector!.Seal(responseHeader, payloads);
        if (header.Exchange == ExchangeType.IkeSaInit) InitResponse = response;

        _lastResponse = new CachedResponse(header.MessageId, CurrentDatagram, response);
        _peerNextRequestId++;
        Touch();
        Emit(new SendMessage(response, remote, viaNatT));
        _telemetry.ExchangeEnded(FatalResponseNotify is null ? "ok" : FatalResponseNotify.NotifyType.ToString(),
            error: FatalResponseNotify is not null, ProposalText);

        if (CloseAfterResponse is { } reason)
        {
            Close(reason);
        }
        else if (header.Exchange == ExchangeType.IkeAuth && State == IkeSaState.Established)
        {
            StartNext();
        }
    }

    private static List<IIkeTask> ResponderTasks(ExchangeType exchange, IkeMessage request) => exchange switch
    {
        ExchangeType.IkeSaInit => [new IkeInitTask()],
        ExchangeType.IkeAuth => [new IkeAuthTask(), new ChildCreateTask(null)],
        // CREATE_CHILD_SA rekeys the IKE SA when its SA payload proposes protocol IKE (§1.3.2).
        ExchangeType.CreateChildSa when request.Get<SaPayload>() is { Proposals: [{ Protocol: ProtocolId.Ike }, ..] } => [new IkeRekeyTask()],
        ExchangeType.CreateChildSa => [new ChildCreateTask(null)],
        _ => [new InformationalTask([])],
    };

    /// <summary>Opens the SK payload (all exchanges but IKE_SA_INIT) and applies the per-exchange payload table.</summary>
    private bool OpenAndCheck(IkeMessage message, bool isResponse)
    {
        if (message.Header.Exchange != ExchangeType.IkeSaInit)
        {
            if (Protector is null)
            {
                Context.Metrics.CountDrop(IkeDropReason.NotAuthenticated);
                return false;
            }

            var opened = Protector.TryOpen(CurrentDatagram, message, Context.Limits.MaxPayloads);
            if (opened != ParseStatus.Ok)
            {
                if (opened == ParseStatus.TooManyPayloads) Context.Metrics.Limits.Hit(ResourceLimit.MaxPayloads, Context.Limits.MaxPayloads);
                Context.Metrics.CountDrop(opened == ParseStatus.IntegrityCheckFailed ? IkeDropReason.IntegrityCheckFailed : IkeDropReason.Malformed);
                if (opened != ParseStatus.IntegrityCheckFailed) Context.Metrics.CountMalformed(opened);
                return false;
            }
        }

        var rules = PayloadRules.Check(message.Header.Exchange, isResponse, message.Payloads);
        if (rules != ParseStatus.Ok)
        {
            Context.Metrics.CountDrop(IkeDropReason.BadPayloadSequence);
            return false;
        }

        return true;
    }

    /// <summary>RFC 7296 §2.23: behind a NAT, follow the peer's address from authenticated messages.</summary>
    private void FollowPeer(IPEndPoint remote, IPEndPoint local, bool viaNatT)
    {
        if (!NatDetected && !viaNatT) return;
        if (!remote.Equals(RemoteEndpoint) || !local.Equals(LocalEndpoint) || NatT != viaNatT) Touch();
        RemoteEndpoint = remote;
        LocalEndpoint = local;
        NatT = viaNatT;
    }

    // ---- Used by tasks ----

    /// <summary>A request of ours is in flight (used to refuse a colliding IKE rekey with TEMPORARY_FAILURE).</summary>
    internal bool HasExchangeInFlight => _active is not null;

    internal void Move(IkeSaState to)
    {
        var from = State;
        State = IkeSaStateMachine.Move(State, to);
        if (from != to) Touch();
        _telemetry.StateChanged(from, to);
    }

    internal void Emit(IkeEffect effect)
    {
        if (effect is SendMessage send) _telemetry.Sent(send.Datagram);
        _effects.Add(effect);
    }

    internal void MarkEstablished()
    {
        Move(IkeSaState.Established);
        EstablishedUtc = DateTime.UtcNow;
        _telemetry.Established(Age, Connection?.Name, ProposalText);
        Emit(new IkeSaEstablished(Connection?.Name ?? "", LocalId?.Text ?? "", RemoteId?.Text ?? "",
            new IkeSaSummary(ProposalText, Age, NatDetected, _children.Count)));
    }

    internal void AddChild(ChildSaRecord record, ChildSaInstall install)
    {
        Context.Metrics.CountChildCreated();
        TrackChild(record, install, DateTime.UtcNow);
    }

    /// <summary>Keeps the child and a copy of its keys (the install's arrays become the data plane's), then hands it to the host.</summary>
    private void TrackChild(ChildSaRecord record, ChildSaInstall install, DateTime createdUtc)
    {
        _children[record.InboundSpi] = record;
        _childKeys.Remove(record.InboundSpi, out var stale);
        stale?.Zero();
        _childKeys[record.InboundSpi] = new ChildKeyCopy(install.InboundEncryptionKey.ToArray(), install.InboundIntegrityKey.ToArray(),
            install.OutboundEncryptionKey.ToArray(), install.OutboundIntegrityKey.ToArray(), install.Transport, install.ReplayWindow, createdUtc);
        Touch();
        Emit(new ChildSaEstablished(install));
    }

    internal ChildSaRecord? FindChildByOutbound(uint outboundSpi)
    {
        foreach (var c in _children.Values)
        {
            if (c.OutboundSpi == outboundSpi) return c;
        }
        return null;
    }

    internal ChildSaRecord? FindChild(uint inboundSpi) => _children.GetValueOrDefault(inboundSpi);

    internal void RemoveChild(uint inboundSpi)
    {
        _rekeying.Remove(inboundSpi);
        _deleting.Remove(inboundSpi);
        bool rekeyed = _replaced.Remove(inboundSpi);
        _redundant.Remove(inboundSpi);
        if (!_children.Remove(inboundSpi)) return;
        if (_childKeys.Remove(inboundSpi, out var keys)) keys.Zero();
        Touch();
        // The successor takes over outbound before the old SA leaves the data plane: effects run in order,
        // so no packet meets a moment without an outbound SA.
        if (_activateOnDelete.Remove(inboundSpi, out uint successor) && _children.ContainsKey(successor))
        {
            Emit(new ChildSaActivated(successor));
        }
        Emit(new ChildSaRemoved(inboundSpi, rekeyed && State != IkeSaState.Destroyed));
    }

    /// <summary>Counts a completed Child SA rekey (ours); <paramref name="old"/> now only awaits its Delete.</summary>
    internal void Rekeyed(uint old)
    {
        _replaced.Add(old);
        Touch();
        Context.Metrics.CountRekey("child", success: true);
    }

    /// <summary>Our rekey of <paramref name="old"/> finished (either way); a new attempt may start later.</summary>
    internal void RekeyDone(uint old) => _rekeying.Remove(old);

    /// <summary>
    /// Rekey responder while our own rekey of <paramref name="old"/> is in flight (§2.8.1): remember the peer's
    /// successor and the lower nonce of its exchange, for the comparison once our response arrives.
    /// </summary>
    internal void PassiveChildRekey(uint old, uint successor, byte[] lowerNonce) =>
        _passiveChildRekeys[old] = new PassiveChildRekey(successor, lowerNonce);

    /// <summary>The peer's colliding rekey of <paramref name="old"/>, if any; taken by our own rekey task as it ends.</summary>
    internal PassiveChildRekey? TakePassiveChildRekey(uint old) =>
        _passiveChildRekeys.Remove(old, out var passive) ? passive : null;

    /// <summary>
    /// Our rekey of <paramref name="old"/> won the collision: the peer's successor is redundant (the peer deletes it)
    /// and must never take over outbound.
    /// </summary>
    internal void CollisionWon(uint old, uint redundant)
    {
        if (_activateOnDelete.TryGetValue(old, out var pending) && pending == redundant) _activateOnDelete.Remove(old);
        if (_children.ContainsKey(redundant)) _redundant.Add(redundant);
    }

    /// <summary>Our successor of a rekey collision we lost (§2.8.1): we delete it; the peer's successor takes over.</summary>
    internal void CollisionLost(uint redundant)
    {
        _redundant.Add(redundant);
        DeleteChild(redundant);
    }

    /// <summary>Whether we are the active rekeyer of <paramref name="old"/> right now (its CREATE_CHILD_SA is on the wire).</summary>
    internal bool RekeyInFlight(uint old) =>
        _active is { Tasks: [ChildCreateTask { RekeyOf: { } of }] } && of.InboundSpi == old;

    /// <summary>Lexicographic order of nonces (the lowest-nonce rule, §2.8.1); a shorter common prefix sorts first.</summary>
    internal static int CompareNonces(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b) => a.SequenceCompareTo(b);

    /// <summary>The lower of an exchange's two nonces.</summary>
    internal static byte[] LowerNonce(byte[] a, byte[] b) => CompareNonces(a, b) <= 0 ? a : b;

    /// <summary>Rekey responder: <paramref name="successor"/> starts sending once <paramref name="old"/> is deleted.</summary>
    internal void ActivateWhenDeleted(uint old, uint successor)
    {
        _activateOnDelete[old] = successor;
        _replaced.Add(old);
        Touch();
    }

    /// <summary>Ends the SA: every Child SA removed, timers cancelled, keys zeroed.</summary>
    internal void Close(CloseReason reason)
    {
        if (State == IkeSaState.Destroyed) return;
        var before = State;
        foreach (var spi in _children.Keys.ToList()) RemoveChild(spi);
        // A colliding IKE rekey of the peer that never got the children dies with us (its keys zeroed).
        TakePassiveIkeRekey()?.Sa.Dispose();
        _active = null;
        _queue.Clear();
        Emit(new CancelRetransmit());
        Move(IkeSaState.Destroyed);
        _telemetry.Closed(before, reason);
        Emit(new IkeSaClosed(reason));
        Dispose();
    }

    /// <summary>Fails the SA for a local reason (initiator side or unrecoverable response).</summary>
    internal TaskStatus Fail(CloseReason reason)
    {
        Close(reason);
        return TaskStatus.Failed;
    }

    /// <summary>Responder: answer with this error only, then close (RFC 7296 §2.21).</summary>
    internal TaskStatus RejectWith(NotifyType notify, CloseReason reason, byte[]? data = null)
    {
        FatalResponseNotify = new NotifyPayload(notify, data);
        CloseAfterResponse = reason;
        return TaskStatus.Failed;
    }

    /// <summary>An error notify; INVALID_KE_PAYLOAD carries the group we want (RFC 7296 §3.10.1).</summary>
    internal static NotifyPayload ErrorNotify(NotifyType type, DhGroup wanted)
    {
        if (type != NotifyType.InvalidKePayload) return new NotifyPayload(type);
        var data = new byte[2];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(data, (ushort)wanted);
        return new NotifyPayload(type, data);
    }

    /// <summary>A random non-zero IKE SPI (RFC 7296 §2.6); callers that must avoid SPIs in use check and retry.</summary>
    public static ulong RandomIkeSpi()
    {
        Span<byte> b = stackalloc byte[8];
        ulong spi;
        do
        {
            RandomNumberGenerator.Fill(b);
            spi = System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(b);
        } while (spi == 0);
        return spi;
    }

    internal static byte[] SpiBytes(ulong spi)
    {
        var b = new byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(b, spi);
        return b;
    }

    internal static byte[] SpiBytes(uint spi)
    {
        var b = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(b, spi);
        return b;
    }

    internal byte[] NewNonce() => Context.NonceSource(Context.Tunables.NonceLength);

    public void Dispose()
    {
        _telemetry.Disposed();
        Protector?.Dispose();
        Protector = null;
        Keys?.Dispose();
        Keys = null;
        CryptographicOperations.ZeroMemory(NonceI);
        CryptographicOperations.ZeroMemory(NonceR);
        foreach (var keys in _childKeys.Values) keys.Zero();
        _childKeys.Clear();
    }

    private sealed record PendingExchange(ExchangeType Exchange, List<IIkeTask> Tasks);

    private sealed record CachedResponse(uint MessageId, byte[] Request, byte[] Response);

    /// <summary>A child's ESP keys as installed (this SA's own copies) and the install facts a snapshot needs.</summary>
    private sealed record ChildKeyCopy(byte[] InboundEncryption, byte[] InboundIntegrity, byte[] OutboundEncryption, byte[] OutboundIntegrity,
        EspTransport Transport, int ReplayWindow, DateTime CreatedUtc)
    {
        public void Zero()
        {
            CryptographicOperations.ZeroMemory(InboundEncryption);
            CryptographicOperations.ZeroMemory(InboundIntegrity);
            CryptographicOperations.ZeroMemory(OutboundEncryption);
            CryptographicOperations.ZeroMemory(OutboundIntegrity);
        }
    }
}

/// <summary>The peer's IKE rekey that collided with ours: its new SA (no children yet) and its lower nonce.</summary>
internal sealed record PassiveIkeRekey(IkeSa Sa, byte[] LowerNonce);

/// <summary>The peer's rekey of a child that collided with ours: its successor (our inbound SPI) and its lower nonce.</summary>
internal sealed record PassiveChildRekey(uint Successor, byte[] LowerNonce);
