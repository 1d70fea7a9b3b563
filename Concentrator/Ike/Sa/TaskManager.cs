using System.Net;
using System.Security.Cryptography;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Tasks;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Sa;

/// <summary>
/// The exchanges of one IKE SA (after strongSwan's task_manager): our requests queued and sent one at a time (window
/// size 1, RFC 7296 §2.3) with their message IDs and retransmissions (back-off, the retransmission budget, and
/// dpd_timeout for a probe), and the peer's requests answered in order with the last response cached for its
/// retransmissions (§2.1). An exchange is a list of tasks whose payloads share one message. A message may travel as
/// SKF fragments (RFC 7383): each is verified on arrival and reassembled per direction, and a retransmission sends the
/// same fragments again. No I/O and no timers: everything goes out as effects of the owning <see cref="IkeSa"/>. Not
/// thread-safe; owned by the SA's host.
/// </summary>
public sealed class TaskManager
{
    private readonly IkeSa _sa;
    private readonly Queue<PendingExchange> _queue = new();
    // The peer's request, and the response to ours, each with the one message ID taken in its direction.
    private readonly FragmentReassembly _requestFragments;
    private readonly FragmentReassembly _responseFragments;

    private PendingExchange? _active;
    // The peer's request a task deferred, opened and checked, with the exchange's tasks, waiting for the host's ResumeDeferred.
    private (IkeMessage Message, byte[] Datagram, IPEndPoint Remote, IPEndPoint Local, bool ViaNatT, List<IIkeTask> Tasks)? _deferred;
    // A responder exchange of several rounds (TaskOutcome.NeedMore: IKE_AUTH with EAP): its tasks and its first request,
    // kept for the peer's next request of the exchange. One at a time, like every exchange of the peer's.
    private (ExchangeType Exchange, List<IIkeTask> Tasks, IkeMessage First)? _rounds;
    private uint _activeMessageId;
    private int _attempt;
    // The dpd_timeout deadline (Clock ms) of the probe on the wire; null for any other exchange.
    private long? _activeDeadline;
    // Our request in flight as sent: one datagram, or its fragments.
    private byte[][] _activePackets = [];

    internal TaskManager(IkeSa sa)
    {
        _sa = sa;
        _requestFragments = new FragmentReassembly(sa.Context.Reassembly);
        _responseFragments = new FragmentReassembly(sa.Context.Reassembly);
    }

    /// <summary>The message ID our next request gets.</summary>
    public uint NextRequestId { get; internal set; }

    /// <summary>The message ID the peer's next request must carry.</summary>
    public uint PeerNextRequestId { get; internal set; }

    /// <summary>Our response to the peer's last request, for its retransmissions.</summary>
    internal CachedResponse? LastResponse { get; set; }

    /// <summary>True while a request of ours awaits its response.</summary>
    public bool RequestInFlight => _active is not null;

    /// <summary>The tasks of our request on the wire, if any.</summary>
    internal IReadOnlyList<IIkeTask>? ActiveTasks => _active?.Tasks;

    /// <summary>Bytes of our request in flight, as last sent (its first fragment when fragmented; IKE_SA_INIT never is).</summary>
    internal byte[] ActiveRequest { get; private set; } = [];

    /// <summary>Raw bytes of the message being processed (request or response); of a reassembled message, its first fragment.</summary>
    internal byte[] CurrentDatagram { get; private set; } = [];

    /// <summary>
    /// Where the message being processed travelled: its source, the address it arrived on, and whether on the NAT-T port.
    /// MOBIKE takes the SA's new addresses from here (RFC 4555 §3.5: those of the request's IP header).
    /// </summary>
    internal (IPEndPoint Remote, IPEndPoint Local, bool ViaNatT) CurrentPath { get; private set; }

    /// <summary>Octets of fragments held for reassembly by this SA (both directions).</summary>
    internal int FragmentBytesHeld => _requestFragments.HeldBytes + _responseFragments.HeldBytes;

    /// <summary>Gives back every fragment held (the SA is gone).</summary>
    internal void ReleaseFragments()
    {
        _requestFragments.Clear();
        _responseFragments.Clear();
    }

    /// <summary>Responder: an error that replaces the whole response (RFC 7296 §2.21).</summary>
    internal NotifyPayload? FatalResponseNotify { get; set; }

    /// <summary>Responder: close with this reason once the response is sent.</summary>
    internal CloseReason? CloseAfterResponse { get; set; }

    /// <summary>Queues an exchange of ours and starts it if nothing else is in flight.</summary>
    internal void Enqueue(ExchangeType exchange, params IIkeTask[] tasks)
    {
        if (_sa.State == IkeSaState.Destroyed) return;
        _queue.Enqueue(new PendingExchange(exchange, tasks.ToList()));
        StartNext();
    }

    /// <summary>As <see cref="Enqueue"/>, ahead of the queued exchanges (a childless initiator's first child, RFC 6023).</summary>
    internal void EnqueueFirst(ExchangeType exchange, params IIkeTask[] tasks)
    {
        var queued = _queue.ToArray();
        _queue.Clear();
        _queue.Enqueue(new PendingExchange(exchange, tasks.ToList()));
        foreach (var pending in queued) _queue.Enqueue(pending);
        StartNext();
    }

    /// <summary>Drops every queued exchange of ours and, when <paramref name="keepActive"/> is false, the one in flight.</summary>
    internal void Clear(bool keepActive)
    {
        _queue.Clear();
        if (keepActive) return;
        _active = null;
        _responseFragments.Clear();
    }

    /// <summary>Queues an exchange behind the one in flight without starting anything (the Delete of a busy SA).</summary>
    internal void EnqueueAfterActive(ExchangeType exchange, params IIkeTask[] tasks) =>
        _queue.Enqueue(new PendingExchange(exchange, tasks.ToList()));

    internal void StartNext()
    {
        if (_active is not null || _sa.State == IkeSaState.Destroyed) return;
        // A queued rekey of a child that the peer rekeyed (or deleted) meanwhile has nothing left to do.
        while (_queue.Count > 0 && _queue.Peek().Tasks is [ChildRekeyTask { Old: var stale }] &&
               _sa.ChildTable.Find(stale.InboundSpi) is not { IsRekeyable: true })
        {
            _queue.Dequeue();
            _sa.ChildTable.RekeyDone(stale.InboundSpi);
        }
        if (_queue.Count == 0) return;
        var next = _queue.Peek();
        if (next.Exchange != ExchangeType.IkeSaInit && _sa.Protector is null) return;
        _active = _queue.Dequeue();
        _activeMessageId = NextRequestId;
        _responseFragments.Clear();
        _sa.Telemetry.ExchangeStarted(_active.Exchange, weRequest: true, _sa.Connection?.Name, _sa.ProposalText);
        SendActive();
    }

    /// <summary>(Re)builds and sends the request in flight: first send, a COOKIE / INVALID_KE_PAYLOAD retry, or (with
    /// <paramref name="leadOnly"/>) the next round of an exchange of several, built by its first task alone.</summary>
    private void SendActive(bool leadOnly = false)
    {
        var exchange = _active!;
        var payloads = new List<Payload>();
        foreach (var task in leadOnly ? exchange.Tasks.Take(1) : exchange.Tasks)
        {
            task.BuildRequest(_sa, payloads);
            if (_sa.State == IkeSaState.Destroyed) return;
        }

        var header = new IkeHeader(_sa.SpiI, _sa.SpiR, PayloadType.None, ProtocolConstants.MajorVersion, ProtocolConstants.MinorVersion,
            exchange.Exchange, _sa.IsInitiator ? IkeFlags.Initiator : IkeFlags.None, _activeMessageId, 0);
        _activePackets = exchange.Exchange == ExchangeType.IkeSaInit
            ? [IkeCodec.Encode(header, payloads)]
            : Seal(header, payloads, _sa.RemoteEndpoint, _sa.NatT);
        ActiveRequest = _activePackets[0];
        _attempt = 0;
        long now = _sa.Context.Clock();
        // dpd_timeout (IKEv2 here too): an unanswered probe declares the peer dead when it or the retransmission
        // budget runs out, whichever is first.
        _activeDeadline = exchange.Tasks is [DpdTask, ..] && _sa.Connection is { DpdTimeout: var dpdTimeout } && dpdTimeout > TimeSpan.Zero
            ? now + (long)dpdTimeout.TotalMilliseconds
            : null;
        Send(_activePackets, _sa.RemoteEndpoint, _sa.NatT);
        _sa.Emit(new ScheduleRetransmit(NextRetransmit(now)));
    }

    internal void OnRetransmitTimer()
    {
        if (_active is null || _sa.State == IkeSaState.Destroyed) return;
        _attempt++;
        long now = _sa.Context.Clock();
        if (_attempt > _sa.Context.Tunables.RetransmitTries || now >= _activeDeadline)
        {
            _sa.Close(CloseReason.Timeout);
            return;
        }

        // RFC 7383 §2.6.1: every fragment again, as first sent.
        _sa.Telemetry.Retransmit(_active.Exchange);
        Send(_activePackets, _sa.RemoteEndpoint, _sa.NatT);
        _sa.Emit(new ScheduleRetransmit(NextRetransmit(now)));
    }

    /// <summary>The back-off delay of the current attempt, cut short at the exchange's deadline (dpd_timeout).</summary>
    private TimeSpan NextRetransmit(long now)
    {
        var delay = _sa.Context.Tunables.RetransmitDelay(_attempt);
        if (_activeDeadline is not { } deadline) return delay;
        var left = TimeSpan.FromMilliseconds(Math.Max(0, deadline - now));
        return left < delay ? left : delay;
    }

    /// <summary>Processes one IKE datagram (without the non-ESP marker) routed to the SA; <paramref name="header"/> was parsed from it.</summary>
    internal void HandleDatagram(byte[] datagram, in IkeHeader header, IPEndPoint remote, IPEndPoint local, bool viaNatT)
    {
        if (_sa.State == IkeSaState.Destroyed) return;
        var context = _sa.Context;
        var status = IkeCodec.TryDecode(datagram, header, out var message, out _, context.Limits.MaxPayloads);
        if (status != ParseStatus.Ok || message is null)
        {
            context.Metrics.CountMalformed(status);
            if (status == ParseStatus.TooManyPayloads) context.Metrics.Limits.Hit(ResourceLimit.MaxPayloads, context.Limits.MaxPayloads);
            CloseIfUnanswered();
            return;
        }

        CurrentDatagram = datagram;
        CurrentPath = (remote, local, viaNatT);
        if (message.Header.IsResponse)
        {
            HandleResponse(message, remote, local, viaNatT);
        }
        else
        {
            HandleRequest(message, remote, local, viaNatT);
        }
        CurrentDatagram = [];
        CloseIfUnanswered();
    }

    /// <summary>
    /// A new responder SA exists for its first IKE_SA_INIT alone: when that request could not be answered (malformed,
    /// or refused by the payload table) the SA ends at once instead of holding a half-open slot of its source until
    /// half_open_timeout (strongSwan destroys an SA still in IKE_CREATED the same way). Admission drops such requests
    /// before an SA is made; this holds the same for any path to a new SA.
    /// </summary>
    private void CloseIfUnanswered()
    {
        if (!_sa.IsInitiator && _sa.State == IkeSaState.Created) _sa.Close(CloseReason.InvalidSyntax);
    }

    private void HandleResponse(IkeMessage message, IPEndPoint remote, IPEndPoint local, bool viaNatT)
    {
        var header = message.Header;
        if (_active is null || header.MessageId != _activeMessageId || header.Exchange != _active.Exchange ||
            header.FromInitiator == _sa.IsInitiator)
        {
            _sa.Context.Metrics.CountDrop(IkeDropReason.UnexpectedResponse);
            return;
        }

        if (!OpenAndCheck(ref message, isResponse: true)) return;
        _sa.LastInbound = Environment.TickCount64;
        if (header.Exchange != ExchangeType.IkeSaInit) _sa.FollowPeer(remote, local, viaNatT);

        _sa.Emit(new CancelRetransmit());
        var exchange = _active;
        bool retry = false;
        foreach (var task in exchange.Tasks)
        {
            var status = task.ProcessResponse(_sa, message);
            if (status == TaskOutcome.Failed || _sa.State == IkeSaState.Destroyed) return;
            if (status == TaskOutcome.NeedMore)
            {
                // One round of several (our EAP login, RFC 7296 §2.16): the first task sends the next request of the same
                // exchange with the next message ID; the others see only the last response.
                _responseFragments.Clear();
                NextRequestId++;
                _activeMessageId = NextRequestId;
                _sa.Touch();
                SendActive(leadOnly: true);
                return;
            }
            retry |= status == TaskOutcome.Retry;
        }

        if (retry)
        {
            SendActive();
            return;
        }

        _active = null;
        _responseFragments.Clear();
        _sa.Telemetry.ExchangeEnded("ok", error: false, _sa.ProposalText);
        NextRequestId++;
        _sa.Touch();
        StartNext();
    }

    private void HandleRequest(IkeMessage message, IPEndPoint remote, IPEndPoint local, bool viaNatT)
    {
        var header = message.Header;
        var metrics = _sa.Context.Metrics;
        if (header.FromInitiator == _sa.IsInitiator)
        {
            metrics.CountDrop(IkeDropReason.UnexpectedResponse);
            return;
        }

        if (LastResponse is { } cached && header.MessageId == cached.MessageId)
        {
            // RFC 7296 §2.1: a retransmitted request gets the same response, not a new exchange. A fragmented request was
            // cached by its first fragment, so only that one is answered, with every fragment of the response
            // (RFC 7383 §2.6.1); its other fragments match nothing and are ignored.
            if (cached.Request.AsSpan().SequenceEqual(CurrentDatagram))
            {
                Send(cached.Packets(), remote, viaNatT);
            }
            return;
        }

        if (header.MessageId != PeerNextRequestId)
        {
            metrics.CountDrop(IkeDropReason.InvalidMessageId);
            return;
        }

        // The peer's retransmissions of a deferred request: it is answered once, when the host resumes it.
        if (_deferred is not null) return;

        // An exchange of several rounds takes only its own next request (RFC 7296 §2.16: IKE_AUTH until the final AUTH).
        if (!Takes(header.Exchange) || (_rounds is { } rounds && rounds.Exchange != header.Exchange))
        {
            metrics.CountDrop(IkeDropReason.UnexpectedExchange);
            return;
        }

        if (!OpenAndCheck(ref message, isResponse: false)) return;
        _sa.LastInbound = Environment.TickCount64;
        if (header.Exchange == ExchangeType.IkeAuth && message.GetNotify(NotifyType.InitialContact) is not null) _sa.InitialContact = true;
        if (header.Exchange == ExchangeType.IkeSaInit)
        {
            _sa.Move(IkeSaState.Connecting);
            _sa.RemoteEndpoint = remote;
            _sa.LocalEndpoint = local;
            _sa.Telemetry.NegotiationStarted(null, remote);
        }
        else
        {
            _sa.FollowPeer(remote, local, viaNatT);
        }

        _sa.Telemetry.ExchangeStarted(header.Exchange, weRequest: false, _sa.Connection?.Name, _sa.ProposalText);
        Answer(message, remote, viaNatT, _rounds?.Tasks ?? ResponderTasks.For(header.Exchange, message));
    }

    /// <summary>Whether a deferred request is running again (<see cref="IkeSa.ResumingDeferred"/>).</summary>
    internal bool Resuming { get; private set; }

    /// <summary>Runs the deferred request's tasks again and answers it, unless the SA ended meanwhile.</summary>
    internal void ResumeDeferred()
    {
        if (_deferred is not { } d) return;
        _deferred = null;
        if (_sa.State == IkeSaState.Destroyed) return;
        CurrentDatagram = d.Datagram;
        CurrentPath = (d.Remote, d.Local, d.ViaNatT);
        Resuming = true;
        try
        {
            Answer(d.Message, d.Remote, d.ViaNatT, d.Tasks);
        }
        finally
        {
            Resuming = false;
            CurrentDatagram = [];
        }
    }

    /// <summary>
    /// The exchange's tasks on an opened request, and the response; or the request kept, with the same tasks, when a task
    /// defers it. In an exchange of several rounds the first task leads every round and the others act on its first request.
    /// </summary>
    private void Answer(IkeMessage message, IPEndPoint remote, bool viaNatT, List<IIkeTask> tasks)
    {
        var header = message.Header;
        FatalResponseNotify = null;
        CloseAfterResponse = null;
        var first = _rounds?.First ?? message;
        int answering = tasks.Count;
        bool more = false;
        for (int i = 0; i < tasks.Count; i++)
        {
            var outcome = tasks[i].ProcessRequest(_sa, i == 0 ? message : first);
            // A task defers once per thing it waits for (OCSP answers, an EAP step, the unique check), so a resumed request may wait again.
            if (outcome == TaskOutcome.Deferred)
            {
                _deferred = (message, CurrentDatagram, remote, CurrentPath.Local, viaNatT, tasks);
                return;
            }
            if (outcome == TaskOutcome.NeedMore)
            {
                answering = i + 1;
                more = true;
                break;
            }
            if (outcome == TaskOutcome.Failed || FatalResponseNotify is not null) break;
        }
        _rounds = more && FatalResponseNotify is null && CloseAfterResponse is null ? (header.Exchange, tasks, first) : null;

        var payloads = new List<Payload>();
        if (FatalResponseNotify is not null)
        {
            payloads.Add(FatalResponseNotify);
        }
        else
        {
            for (int i = 0; i < answering; i++) tasks[i].BuildResponse(_sa, payloads);
        }

        bool initError = header.Exchange == ExchangeType.IkeSaInit && FatalResponseNotify is not null;
        var responseHeader = new IkeHeader(_sa.SpiI, initError ? 0 : _sa.SpiR, PayloadType.None, ProtocolConstants.MajorVersion,
            ProtocolConstants.MinorVersion, header.Exchange,
            IkeFlags.Response | (_sa.IsInitiator ? IkeFlags.Initiator : IkeFlags.None), header.MessageId, 0);
        byte[][] response = header.Exchange == ExchangeType.IkeSaInit
            ? [IkeCodec.Encode(responseHeader, payloads)]
            : Seal(responseHeader, payloads, remote, viaNatT);
        if (header.Exchange == ExchangeType.IkeSaInit) _sa.InitResponse = response[0];

        LastResponse = new CachedResponse(header.MessageId, CurrentDatagram, CachedResponse.Join(response));
        PeerNextRequestId++;
        _sa.Touch();
        Send(response, remote, viaNatT);
        _sa.Telemetry.ExchangeEnded(FatalResponseNotify is null ? "ok" : FatalResponseNotify.NotifyType.ToString(),
            error: FatalResponseNotify is not null, _sa.ProposalText);

        if (CloseAfterResponse is { } reason)
        {
            _sa.Close(reason);
        }
        else if (header.Exchange == ExchangeType.IkeAuth && _sa.State == IkeSaState.Established)
        {
            StartNext();
        }
    }

    /// <summary>
    /// Whether a request of <paramref name="exchange"/> is taken in the SA's state (RFC 7296 §1.2): IKE_SA_INIT by a new
    /// responder, IKE_AUTH by a responder between the two, everything else once the peer is authenticated. A
    /// CREATE_CHILD_SA right after IKE_SA_INIT comes from a peer that has done a DH exchange and nothing more: no Child SA
    /// may come of it (strongSwan: "received CREATE_CHILD_SA request for unestablished IKE_SA, rejected").
    /// </summary>
    private bool Takes(ExchangeType exchange) => exchange switch
    {
        ExchangeType.IkeSaInit => !_sa.IsInitiator && _sa.State == IkeSaState.Created,
        ExchangeType.IkeAuth => !_sa.IsInitiator && _sa.State == IkeSaState.Connecting && _sa.Protector is not null,
        _ => _sa.State is IkeSaState.Established or IkeSaState.Deleting && _sa.Protector is not null,
    };

    /// <summary>
    /// Opens the SK payload (all exchanges but IKE_SA_INIT) and applies the per-exchange payload table. An SKF fragment is
    /// verified and kept (false until the last one arrives); the message it completes replaces <paramref name="message"/>.
    /// </summary>
    private bool OpenAndCheck(ref IkeMessage message, bool isResponse)
    {
        var context = _sa.Context;
        if (message.Header.Exchange != ExchangeType.IkeSaInit)
        {
            if (_sa.Protector is null)
            {
                context.Metrics.CountDrop(IkeDropReason.NotAuthenticated);
                return false;
            }

            if (message.Payloads is [.., EncryptedPayload { IsFragment: true } fragment])
            {
                if (Reassemble(message, fragment, isResponse ? _responseFragments : _requestFragments) is not { } whole) return false;
                message = whole;
            }
            else
            {
                var opened = _sa.Protector.TryOpen(CurrentDatagram, message, context.Limits.MaxPayloads);
                if (opened != ParseStatus.Ok)
                {
                    CountOpenFailure(opened);
                    return false;
                }
            }
        }

        var rules = PayloadRules.Check(message.Header.Exchange, isResponse, message.Payloads);
        if (rules != ParseStatus.Ok)
        {
            context.Metrics.CountDrop(IkeDropReason.BadPayloadSequence);
            return false;
        }

        return true;
    }

    private void CountOpenFailure(ParseStatus opened)
    {
        var context = _sa.Context;
        if (opened == ParseStatus.TooManyPayloads) context.Metrics.Limits.Hit(ResourceLimit.MaxPayloads, context.Limits.MaxPayloads);
        context.Metrics.CountDrop(opened == ParseStatus.IntegrityCheckFailed ? IkeDropReason.IntegrityCheckFailed : IkeDropReason.Malformed);
        if (opened != ParseStatus.IntegrityCheckFailed) context.Metrics.CountMalformed(opened);
    }

    /// <summary>
    /// One SKF fragment of the message ID this direction takes (RFC 7383 §2.6): what cannot be kept is dropped before any
    /// cryptography (too many fragments, a duplicate, fewer Total Fragments than the reassembly's); the rest is verified
    /// (a forgery is dropped and counted, nothing kept) and added. The fragment that completes the message yields it,
    /// opened: the first fragment's clear payloads and header, the inner payloads decoded from the joined pieces.
    /// </summary>
    private IkeMessage? Reassemble(IkeMessage message, EncryptedPayload fragment, FragmentReassembly reassembly)
    {
        var context = _sa.Context;
        var metrics = context.Metrics;
        var header = message.Header;
        ushort number = fragment.FragmentNumber, total = fragment.TotalFragments;
        switch (reassembly.Check(header.MessageId, header.Exchange, number, total))
        {
            case FragmentResult.TooMany:
                metrics.CountDrop(IkeDropReason.TooManyFragments);
                return null;
            case FragmentResult.Duplicate:
                metrics.CountDrop(IkeDropReason.FragmentDuplicate);
                return null;
            case FragmentResult.Stale:
                metrics.CountDrop(IkeDropReason.FragmentStale);
                return null;
        }

        var opened = _sa.Protector!.TryOpenFragment(CurrentDatagram, fragment, out var first, out var content, out int contentLength);
        if (opened != ParseStatus.Ok)
        {
            CountOpenFailure(opened);
            return null;
        }

        metrics.CountFragmentReceived();
        // Authenticated: the peer is alive even while its message is incomplete (strongSwan updates its inbound time too).
        _sa.LastInbound = Environment.TickCount64;
        var outer = message.Payloads.GetRange(0, message.Payloads.Count - 1);
        switch (reassembly.Add(header.MessageId, header.Exchange, number, total, first, content, contentLength, CurrentDatagram, outer,
                    context.Limits.MaxPacket))
        {
            case FragmentResult.TooLarge:
                metrics.CountLimitDrop(ResourceLimit.MaxPacket, context.Limits.MaxPacket);
                return null;
            case FragmentResult.NoMemory:
                metrics.CountLimitDrop(ResourceLimit.FragmentMemory, context.Limits.FragmentMemory);
                return null;
            case FragmentResult.Complete:
                break;
            default:
                return null;
        }

        var whole = reassembly.Take();
        try
        {
            var payloads = whole.Outer;
            var status = whole.Chain.Length == 0 && whole.First == PayloadType.None
                ? ParseStatus.Ok
                : IkeCodec.TryDecodeChain(whole.First, whole.Chain, payloads, out _, context.Limits.MaxPayloads);
            if (status != ParseStatus.Ok)
            {
                CountOpenFailure(status);
                return null;
            }

            metrics.CountReassembled();
            CurrentDatagram = whole.FirstDatagram;
            return new IkeMessage(header, payloads);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(whole.Chain);
        }
    }

    /// <summary>
    /// Protects a message for the peer at <paramref name="remote"/>: as SKF fragments when it is larger than
    /// charon.fragment_size allows and the connection's fragmentation says so (yes: the peer announced support; force:
    /// always), otherwise as one datagram.
    /// </summary>
    private byte[][] Seal(IkeHeader header, List<Payload> payloads, IPEndPoint remote, bool natT)
    {
        var protector = _sa.Protector!;
        bool fragment = _sa.Connection?.Fragmentation switch
        {
            Fragmentation.Force => true,
            Fragmentation.Yes => _sa.PeerSupportsFragmentation,
            _ => false,
        };
        return fragment
            ? protector.SealFragments(header, payloads, _sa.Context.Tunables.FragmentMessageLength(remote.Address, natT))
            : [protector.Seal(header, payloads)];
    }

    /// <summary>Sends a message as it was built, one datagram per fragment.</summary>
    private void Send(byte[][] packets, IPEndPoint remote, bool natT)
    {
        foreach (var packet in packets)
        {
            if (packets.Length > 1) _sa.Context.Metrics.CountFragmentSent();
            _sa.Emit(new SendMessage(packet, remote, natT));
        }
    }

    private sealed record PendingExchange(ExchangeType Exchange, List<IIkeTask> Tasks);
}
