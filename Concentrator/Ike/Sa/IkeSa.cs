using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Crypto;
using Concentrator.Ike.Tasks;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;
using Concentrator.Telemetry;

namespace Concentrator.Ike.Sa;

/// <summary>
/// One IKE SA (after strongSwan's ike_sa): its identity, keys and state, its Child SAs (<see cref="ChildTable"/>) and
/// its exchanges (<see cref="TaskManager"/>), and the host API an actor or a test drives it with. No I/O and no timers:
/// every action is an <see cref="IkeEffect"/> drained by the host, in order. Not thread-safe; owned by one host.
/// </summary>
public sealed partial class IkeSa : IDisposable
{
    private readonly List<IkeEffect> _effects = new();
    private readonly long _createdTimestamp = Stopwatch.GetTimestamp();
    private int _initialChildrenLeft;
    private PassiveIkeRekey? _passiveIkeRekey;

    private IkeSa(IkeSaContext context, bool isInitiator, ulong spiI, ulong spiR, IPEndPoint local, IPEndPoint remote, bool natT)
    {
        Context = context;
        IsInitiator = isInitiator;
        SpiI = spiI;
        SpiR = spiR;
        LocalEndpoint = local;
        RemoteEndpoint = remote;
        NatT = natT;
        OriginalInitiator = isInitiator;
        Telemetry = new IkeSaTelemetry(context.Metrics, isInitiator);
        ChildTable = new ChildSaTable(this);
        TaskManager = new TaskManager(this);
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

    /// <summary>An SA rebuilt from a snapshot (<see cref="IkeSaSnapshotter.Restore"/>); its state is set by the caller.</summary>
    internal static IkeSa CreateRestored(IkeSaContext context, bool isInitiator, ulong spiI, ulong spiR, IPEndPoint local, IPEndPoint remote,
        bool natT) => new(context, isInitiator, spiI, spiR, local, remote, natT);

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
            PeerCertificateSubject = old.PeerCertificateSubject,
            EapIdentity = old.EapIdentity,
            EapOutcome = old.EapOutcome,
            LoginMethod = old.LoginMethod,
            NatDetected = old.NatDetected,
            BehindNat = old.BehindNat,
            PeerSupportsFragmentation = old.PeerSupportsFragmentation,
            PeerSupportsMobike = old.PeerSupportsMobike,
            OriginalInitiator = old.OriginalInitiator,
            NatMappingHash = old.NatMappingHash,
            Suite = suite,
            ProposalText = IkeInitTask.Describe(suite),
            Keys = keys,
            Protector = new IkeMessageProtector(suite, keys, isInitiator),
        };
        // The new SA holds the tunnel's leases too (each SA releases its own hold when it ends).
        sa.VirtualIps.TakeOver(old.VirtualIps.All, old.Context.Pools, old.User, old.RemoteEndpoint);
        sa.Move(IkeSaState.Established);
        sa.EstablishedUtc = DateTime.UtcNow;
        if (sa.LoginMethod is { } method) sa.Telemetry.UserOnline(method);
        return sa;
    }

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

    /// <summary>The peer announced IKEV2_FRAGMENTATION_SUPPORTED in IKE_SA_INIT (RFC 7383 §2.3); kept across IKE rekeys.</summary>
    public bool PeerSupportsFragmentation { get; internal set; }
    public Identity? LocalId { get; internal set; }
    public Identity? RemoteId { get; internal set; }

    /// <summary>The subject of the certificate the peer authenticated with (strongSwan's notation); null for a PSK peer.</summary>
    public string? PeerCertificateSubject { get; internal set; }


    /// <summary>The Child SAs, by inbound SPI, with their phases.</summary>
    public ChildSaTable ChildTable { get; }

    /// <summary>Virtual IPs: leased to the peer from our pools (responder), or assigned to us (initiator, <c>vips</c>).</summary>
    public VirtualIps VirtualIps { get; } = new();

    /// <summary>Our requests and the peer's, one exchange in flight each way.</summary>
    public TaskManager TaskManager { get; }

    public IReadOnlyCollection<ChildSaRecord> Children => ChildTable.Records;
    public TimeSpan Age => Stopwatch.GetElapsedTime(_createdTimestamp);

    /// <summary>Environment.TickCount64 of the last authenticated (or IKE_SA_INIT) message from the peer.</summary>
    public long LastInbound { get; internal set; } = Environment.TickCount64;

    /// <summary>Initiator: send INITIAL_CONTACT in IKE_AUTH (not when reauthenticating next to a live SA).</summary>
    public bool SendInitialContact { get; private init; } = true;

    /// <summary>Responder: the peer sent INITIAL_CONTACT (RFC 7296 §2.4): older SAs with it are stale.</summary>
    public bool InitialContact { get; internal set; }

    /// <summary>True while a request of ours awaits its response.</summary>
    public bool RequestInFlight => TaskManager.RequestInFlight;

    /// <summary>Set once this SA was replaced by a rekey; it only waits for its Delete now.</summary>
    public IkeSa? Successor { get; internal set; }

    /// <summary>An IKE rekey of ours is queued or in flight.</summary>
    public bool RekeyingIke { get; internal set; }

    /// <summary>When this SA was established (or created by an IKE rekey): the host's IKE lifetime timers count from it.</summary>
    public DateTime EstablishedUtc { get; internal set; }

    /// <summary>
    /// Changes whenever anything a snapshot holds changes: message IDs either way, the cached response, children added,
    /// replaced or removed, IKE rekey (the children leave), endpoints / NAT state, state. A dropped message leaves it alone.
    /// A restored SA continues from its snapshot's version, so a replica keeps the highest.
    /// </summary>
    public long StateVersion { get; internal set; }

    // Negotiation material shared by the tasks. Owned by this SA; zeroed in Dispose.
    internal IReadOnlyList<ConnectionConfig> Candidates { get; set; } = [];
    internal IReadOnlyList<ChildConfig> InitialChildren { get; private set; } = [];
    internal IkeSuite Suite { get; set; }
    public string ProposalText { get; internal set; } = "";
    internal byte[] NonceI { get; set; } = [];
    internal byte[] NonceR { get; set; } = [];
    internal byte[] InitRequest { get; set; } = [];
    internal byte[] InitResponse { get; set; } = [];

    /// <summary>The peer's SIGNATURE_HASH_ALGORITHMS (RFC 7427) from IKE_SA_INIT; empty: it signs and verifies the classic methods only.</summary>
    internal IReadOnlyList<SignatureHash> PeerSignatureHashes { get; set; } = [];

    /// <summary>The peer sent a CERTREQ for X.509 certificates (send_cert ifasked then sends ours).</summary>
    internal bool PeerRequestedCertificate { get; set; }
    internal IkeKeys? Keys { get; set; }
    internal IkeMessageProtector? Protector { get; set; }
    internal IkeSaTelemetry Telemetry { get; }

    /// <summary>Raw bytes of the message being processed (request or response).</summary>
    internal byte[] CurrentDatagram => TaskManager.CurrentDatagram;

    /// <summary>Bytes of our request in flight, as last sent.</summary>
    internal byte[] ActiveRequest => TaskManager.ActiveRequest;

    // ---- Host API ----

    /// <summary>Effects produced since the last drain, in order.</summary>
    public List<IkeEffect> DrainEffects()
    {
        var copy = new List<IkeEffect>(_effects);
        _effects.Clear();
        return copy;
    }

    /// <summary>Processes one IKE datagram routed to this SA, its header parsed where it entered the node.</summary>
    public void HandleDatagram(IkeInbound inbound) =>
        TaskManager.HandleDatagram(inbound.Datagram, inbound.Header, inbound.Remote, inbound.Local, inbound.ViaNatT);

    /// <summary>Answers the request a task deferred (<see cref="TaskOutcome.Deferred"/>), after the host did what it asked.</summary>
    public void ResumeDeferredRequest() => TaskManager.ResumeDeferred();

    /// <summary>True while a deferred request runs again: a task that deferred for what the host did must decide now.</summary>
    internal bool ResumingDeferred => TaskManager.Resuming;

    /// <summary>Processes raw IKE bytes (without the non-ESP marker) routed to this SA: protocol tests drive an SA this way.</summary>
    public void HandleDatagram(byte[] datagram, IPEndPoint remote, IPEndPoint local, bool viaNatT)
    {
        var status = IkeHeader.TryParse(datagram, out var header);
        if (status != ParseStatus.Ok)
        {
            Context.Metrics.CountMalformed(status);
            return;
        }
        TaskManager.HandleDatagram(datagram, header, remote, local, viaNatT);
    }

    public void OnRetransmitTimer() => TaskManager.OnRetransmitTimer();

    /// <summary>Initiator: IKE_SA_INIT, then IKE_AUTH with the first child; further children with CREATE_CHILD_SA.</summary>
    public void Initiate()
    {
        if (!IsInitiator || State != IkeSaState.Created) throw new InvalidOperationException("Initiate is for a new initiator SA");
        Move(IkeSaState.Connecting);
        Telemetry.NegotiationStarted(Connection?.Name, RemoteEndpoint);
        TaskManager.Enqueue(ExchangeType.IkeSaInit, new IkeInitTask(), new IkeCertPreTask());
        var auth = new List<IIkeTask> { new IkeAuthTask(), new IkeConfigTask() };
        _initialChildrenLeft = InitialChildren.Count;
        if (InitialChildren.Count > 0) auth.Add(new ChildCreateTask(InitialChildren[0], initial: true));
        auth.Add(new IkeMobikeTask());
        TaskManager.Enqueue(ExchangeType.IkeAuth, auth.ToArray());
        for (int i = 1; i < InitialChildren.Count; i++)
        {
            TaskManager.Enqueue(ExchangeType.CreateChildSa, new ChildCreateTask(InitialChildren[i], initial: true));
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
    public void CreateChild(ChildConfig child) => TaskManager.Enqueue(ExchangeType.CreateChildSa, new ChildCreateTask(child));

    /// <summary>
    /// Rekeys one Child SA (RFC 7296 §2.8, make-before-break): CREATE_CHILD_SA with REKEY_SA; the new SA
    /// takes over outbound once the response is in, then the old one is deleted. False when the child is
    /// unknown, its config is gone, or a rekey of it is already in flight.
    /// </summary>
    public bool RekeyChild(uint inboundSpi)
    {
        if (State != IkeSaState.Established || ChildTable.Find(inboundSpi) is not { IsRekeyable: true } old ||
            Connection is null || !Connection.Children.TryGetValue(old.Record.Child, out var config) || !ChildTable.TryStartRekey(inboundSpi))
        {
            return false;
        }

        TaskManager.Enqueue(ExchangeType.CreateChildSa, new ChildRekeyTask(config, old.Record));
        return true;
    }

    /// <summary>True while a rekey of this child (initiated by us) is in flight.</summary>
    public bool IsRekeying(uint inboundSpi) => ChildTable.IsRekeying(inboundSpi);

    /// <summary>Our rekey of this child (CREATE_CHILD_SA) is the request on the wire.</summary>
    internal bool ChildRekeyInFlight(uint old) =>
        TaskManager.ActiveTasks is [ChildRekeyTask { Old: var of }] && of.InboundSpi == old;

    /// <summary>Liveness check (dead peer detection): an empty INFORMATIONAL; no answer means the SA times out.</summary>
    public void SendDpd()
    {
        Telemetry.DpdProbe();
        // RFC 4555 §3.8: an original initiator behind a NAT checks with its probes whether the NAT's mapping changed.
        if (PeerSupportsMobike && OriginalInitiator && BehindNat) TaskManager.Enqueue(ExchangeType.Informational, new DpdTask(), IkeMobikeTask.NatCheck());
        else TaskManager.Enqueue(ExchangeType.Informational, new DpdTask());
    }

    /// <summary>Deletes one Child SA with the peer (identified by our inbound SPI).</summary>
    public void DeleteChild(uint inboundSpi)
    {
        if (!ChildTable.TryStartDelete(inboundSpi)) return;
        TaskManager.Enqueue(ExchangeType.Informational, new ChildDeleteTask(inboundSpi));
    }

    /// <summary>Rekeys this IKE SA (CREATE_CHILD_SA with an IKE proposal); false when not possible now.</summary>
    public bool RekeyIke()
    {
        if (State != IkeSaState.Established || RekeyingIke) return false;
        RekeyingIke = true;
        TaskManager.Enqueue(ExchangeType.CreateChildSa, new IkeRekeyTask());
        return true;
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
        TaskManager.Clear(keepActive: true);
        if (TaskManager.RequestInFlight)
        {
            // RFC 7296 §2.3 allows one exchange in flight; the delete goes out once the current one ends.
            TaskManager.EnqueueAfterActive(ExchangeType.Informational, new IkeDeleteTask());
            return;
        }

        TaskManager.Enqueue(ExchangeType.Informational, new IkeDeleteTask());
    }

    // ---- IKE rekey (RFC 7296 §2.18, collisions §2.8.2) ----

    /// <summary>
    /// Makes <paramref name="successor"/> (from <see cref="CreateRekeyed"/>) the SA that carries on: the Child SAs
    /// move over (their actors and data-plane entries stay as they are) and the host routes the new SPI here.
    /// </summary>
    internal void HandOver(IkeSa successor)
    {
        // Child Deletes we queued on this SA are lost with it; the successor deletes those children again.
        var pendingDeletes = ChildTable.MoveTo(successor.ChildTable);
        successor.Touch();
        Touch();
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
    internal bool IkeRekeyInFlight => TaskManager.ActiveTasks is [IkeRekeyTask];

    /// <summary>Announces a rekey collision's redundant IKE SA: the host routes its SPI until its Delete completes.</summary>
    internal void Redundant(IkeSa redundant) => Emit(new IkeSaRedundant(redundant));

    /// <summary>A request of ours is in flight (used to refuse a colliding IKE rekey with TEMPORARY_FAILURE).</summary>
    internal bool HasExchangeInFlight => TaskManager.RequestInFlight;

    // ---- Used by the task manager and the tasks ----

    internal void Touch() => StateVersion++;

    internal void Move(IkeSaState to)
    {
        var from = State;
        State = IkeSaStateMachine.Move(State, to);
        if (from != to) Touch();
        Telemetry.StateChanged(from, to);
    }

    internal void Emit(IkeEffect effect)
    {
        if (effect is SendMessage send) Telemetry.Sent(send.Datagram);
        _effects.Add(effect);
    }

    /// <summary>
    /// RFC 7296 §2.23: behind a NAT, follow the peer's address from authenticated messages (the task manager calls this
    /// only for a new request or the response to ours, never a retransmission). Once established, the Child SAs follow
    /// too (<see cref="PeerMoved"/>), and the change is replicated with the next snapshot (<see cref="StateVersion"/>).
    /// </summary>
    internal void FollowPeer(IPEndPoint remote, IPEndPoint local, bool viaNatT, PeerMoveTrigger trigger = PeerMoveTrigger.Ike)
    {
        if (!NatDetected && !viaNatT) return;
        // RFC 4555 §3.8: with MOBIKE a host not behind a NAT takes no address from IKE messages (an INFORMATIONAL without
        // UPDATE_SA_ADDRESSES may be a path test, or a late message from an address the peer left); strongSwan: "with
        // MOBIKE, we do no implicit updates". ESP still may (§3.8), from new packets only.
        if (trigger == PeerMoveTrigger.Ike && PeerSupportsMobike && !BehindNat) return;
        MoveTo(remote, local, viaNatT, trigger);
    }

    private void MoveTo(IPEndPoint remote, IPEndPoint local, bool viaNatT, PeerMoveTrigger trigger)
    {
        var before = RemoteEndpoint;
        if (!remote.Equals(RemoteEndpoint) || !local.Equals(LocalEndpoint) || NatT != viaNatT) Touch();
        RemoteEndpoint = remote;
        LocalEndpoint = local;
        NatT = viaNatT;
        if (State == IkeSaState.Established && !remote.Equals(before))
        {
            if (trigger != PeerMoveTrigger.Mobike) Context.Metrics.CountPeerMove(trigger == PeerMoveTrigger.Esp);
            Emit(new PeerMoved(before, remote, trigger));
        }
    }

    /// <summary>
    /// The data plane saw ESP of our Child SA <paramref name="inboundSpi"/> arrive from <paramref name="remote"/>, another
    /// endpoint than the SA's, after it passed its ICV and replay checks and advanced the replay window (a new packet,
    /// never a replayed or reordered one). Followed like an IKE message (strongSwan follows the kernel's NAT mapping
    /// events the same way) when the peer is behind a NAT and ESP is UDP-encapsulated; not when we initiated from behind
    /// a NAT ourselves (RFC 7296 §2.23: such a host SHOULD NOT update; strongSwan's rule too).
    /// </summary>
    public void FollowEsp(uint inboundSpi, IPEndPoint remote)
    {
        if (State != IkeSaState.Established || !NatT || !NatDetected || (BehindNat && IsInitiator)) return;
        // RFC 4555 §3.5: with MOBIKE the peer moves to another address by UPDATE_SA_ADDRESSES; ESP only follows its NAT's
        // new port (§3.8), so ESP the peer sent from an address it left, arriving late, never moves the SA back.
        if (PeerSupportsMobike && !remote.Address.Equals(RemoteEndpoint.Address)) return;
        if (ChildTable.Find(inboundSpi) is null) return;
        FollowPeer(remote, LocalEndpoint, viaNatT: true, PeerMoveTrigger.Esp);
    }

    internal void MarkEstablished()
    {
        Move(IkeSaState.Established);
        EstablishedUtc = DateTime.UtcNow;
        if (!IsInitiator && LoginMethod is { } method)
        {
            Context.Metrics.CountLogin(method, null);
            Telemetry.UserOnline(method);
        }
        Telemetry.Established(Age, Connection?.Name, ProposalText);
        Emit(new IkeSaEstablished(Connection?.Name ?? "", LocalId?.Text ?? "", RemoteId?.Text ?? "",
            new IkeSaSummary(ProposalText, Age, NatDetected, ChildTable.Count)));
    }

    /// <summary>A newly negotiated child: counted, kept with a copy of its keys, handed to the host to install.</summary>
    internal void AddChild(ChildSaRecord record, ChildSaInstall install)
    {
        Context.Metrics.CountChildCreated();
        ChildTable.Add(record, install, DateTime.UtcNow);
    }

    /// <summary>Ends the SA: every Child SA removed, timers cancelled, keys zeroed.</summary>
    internal void Close(CloseReason reason)
    {
        if (State == IkeSaState.Destroyed) return;
        var before = State;
        ChildTable.RemoveAll();
        // A colliding IKE rekey of the peer that never got the children dies with us (its keys zeroed).
        TakePassiveIkeRekey()?.Sa.Dispose();
        TaskManager.Clear(keepActive: false);
        Emit(new CancelRetransmit());
        Move(IkeSaState.Destroyed);
        Telemetry.Closed(before, reason);
        Emit(new IkeSaClosed(reason));
        Dispose();
    }

    /// <summary>Fails the SA for a local reason (initiator side or unrecoverable response).</summary>
    internal TaskOutcome Fail(CloseReason reason)
    {
        Close(reason);
        return TaskOutcome.Failed;
    }

    /// <summary>Responder: answer with this error only, then close (RFC 7296 §2.21).</summary>
    internal TaskOutcome RejectWith(NotifyType notify, CloseReason reason, byte[]? data = null)
    {
        TaskManager.FatalResponseNotify = new NotifyPayload(notify, data);
        TaskManager.CloseAfterResponse = reason;
        return TaskOutcome.Failed;
    }

    /// <summary>
    /// The peer was not authenticated: counted by reason, logged with <paramref name="detail"/>, then answered
    /// AUTHENTICATION_FAILED (responder) or, as initiator (the IKE_AUTH response did not authenticate the responder), told
    /// so in one INFORMATIONAL and closed.
    /// </summary>
    internal TaskOutcome AuthFailed(AuthFailure reason, Identity? peer, string detail)
    {
        CountAuthFailure(reason, peer, detail);
        if (!IsInitiator) return RejectWith(NotifyType.AuthenticationFailed, CloseReason.AuthFailed);
        TellResponderAuthFailed();
        return Fail(CloseReason.AuthFailed);
    }

    /// <summary>A peer not authenticated, counted by reason (and as responder a failed login of its method) and logged.</summary>
    internal void CountAuthFailure(AuthFailure reason, Identity? peer, string detail)
    {
        Context.Metrics.CountAuthFailure(IsInitiator, reason);
        if (!IsInitiator) Context.Metrics.CountLogin(LoginMethod ?? "", reason);
        Emit(new PeerAuthFailed(reason, peer?.Text ?? "", detail));
    }

    /// <summary>
    /// The responder established when it sent its IKE_AUTH response; without word from us it would hold the SA and its
    /// Child SAs until its liveness checks fail. As strongSwan's send_auth_failed_informational (RFC 7296 §2.21.2): one
    /// INFORMATIONAL request with AUTHENTICATION_FAILED and the IKE_AUTH's message ID plus one, never retransmitted.
    /// </summary>
    private void TellResponderAuthFailed()
    {
        if (Protector is null) return;
        var header = new IkeHeader(SpiI, SpiR, PayloadType.None, ProtocolConstants.MajorVersion, ProtocolConstants.MinorVersion,
            ExchangeType.Informational, IkeFlags.Initiator, TaskManager.NextRequestId + 1, 0);
        Emit(new SendMessage(Protector.Seal(header, [new NotifyPayload(NotifyType.AuthenticationFailed)]), RemoteEndpoint, NatT));
    }

    /// <summary>When the child was negotiated (on whichever node): its lifetimes count from then, also after a move.</summary>
    public DateTime ChildCreatedUtc(uint inboundSpi) => ChildTable.Find(inboundSpi)?.Keys.CreatedUtc ?? DateTime.UtcNow;

    /// <summary>This SA's own copies of a child's four ESP keys (tests check they are zeroed on removal); empty when unknown.</summary>
    internal IReadOnlyList<byte[]> ChildKeyMaterial(uint inboundSpi) =>
        ChildTable.Find(inboundSpi)?.Keys is { } k ? [k.InboundEncryption, k.InboundIntegrity, k.OutboundEncryption, k.OutboundIntegrity] : [];

    internal byte[] NewNonce() => Context.NonceSource(Context.Tunables.NonceLength);

    // ---- Protocol helpers ----

    /// <summary>An error notify; INVALID_KE_PAYLOAD carries the group we want (RFC 7296 §3.10.1).</summary>
    internal static NotifyPayload ErrorNotify(NotifyType type, DhGroup wanted)
    {
        if (type != NotifyType.InvalidKePayload) return new NotifyPayload(type);
        var data = new byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(data, (ushort)wanted);
        return new NotifyPayload(type, data);
    }

    /// <summary>Lexicographic order of nonces (the lowest-nonce rule, §2.8.1); a shorter common prefix sorts first.</summary>
    internal static int CompareNonces(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b) => a.SequenceCompareTo(b);

    /// <summary>The lower of an exchange's two nonces.</summary>
    internal static byte[] LowerNonce(byte[] a, byte[] b) => CompareNonces(a, b) <= 0 ? a : b;

    /// <summary>A random non-zero IKE SPI (RFC 7296 §2.6); callers that must avoid SPIs in use check and retry.</summary>
    public static ulong RandomIkeSpi()
    {
        Span<byte> b = stackalloc byte[8];
        ulong spi;
        do
        {
            RandomNumberGenerator.Fill(b);
            spi = BinaryPrimitives.ReadUInt64BigEndian(b);
        } while (spi == 0);
        return spi;
    }

    internal static byte[] SpiBytes(ulong spi)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(b, spi);
        return b;
    }

    internal static byte[] SpiBytes(uint spi)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, spi);
        return b;
    }

    public void Dispose()
    {
        // Leases are the user's (the EAP identity when it logged in by EAP, as strongSwan's pools key them).
        VirtualIps.Release(Context.Pools, User);
        Telemetry.Disposed();
        TaskManager.ReleaseFragments();
        Protector?.Dispose();
        Protector = null;
        Keys?.Dispose();
        Keys = null;
        CryptographicOperations.ZeroMemory(NonceI);
        CryptographicOperations.ZeroMemory(NonceR);
        ChildTable.ZeroKeys();
        EndEap();
    }
}

/// <summary>The peer's IKE rekey that collided with ours: its new SA (no children yet) and its lower nonce.</summary>
internal sealed record PassiveIkeRekey(IkeSa Sa, byte[] LowerNonce);
