using System.Net;
using Akka.Actor;
using Concentrator.Transport;
using Concentrator.Telemetry;
using Concentrator.Ike.Sa;
using Concentrator.Ipsec;
using Concentrator.Ike.Connections;

namespace Concentrator.Actors;

/// <summary>
/// Hosts one IKE SA (<see cref="IkeSa"/>): feeds it datagrams and timer ticks, carries out its effects,
/// and starts one <see cref="ChildSaActor"/> per Child SA. The protocol state is owned here exclusively;
/// the actor itself holds no protocol logic. After an IKE rekey the successor becomes current and the
/// old SA lives on here (routed by its SPI) only until its Delete completes; the Child SA actors stay.
/// Named timers: "retransmit-SPI" per SA, "dpd", "ike-rekey", "ike-expire".
/// </summary>
public sealed class IkeSaActor : ReceiveActor, IWithTimers
{
    private const string DpdTimer = "dpd";
    private const string KeepaliveTimer = "natt-keepalive";

    /// <summary>NAT-T keepalive interval (strongSwan's charon.keep_alive default, 20 s).</summary>
    public static readonly TimeSpan KeepaliveInterval = TimeSpan.FromSeconds(20);
    private const string IkeRekeyTimer = "ike-rekey";
    private const string IkeExpireTimer = "ike-expire";
    private const string IkeReauthTimer = "ike-reauth";

    /// <summary>Retry interval when a reauthentication did not replace this SA (tunable).</summary>
    private static readonly TimeSpan ReauthRetry = TimeSpan.FromSeconds(30);

    private const string ChildrenUpTimer = "children-up";

    /// <summary>Longest wait for the children of a new initiator SA before a reauthentication deletes the SA it
    /// replaces anyway (tunable; each CREATE_CHILD_SA ends within the retransmission budget or closes the SA).</summary>
    public static readonly TimeSpan ChildrenUpBound = TimeSpan.FromSeconds(30);

    /// <summary>Retry interval when an IKE rekey could not start or failed (tunable).</summary>
    private static readonly TimeSpan IkeRekeyRetry = TimeSpan.FromSeconds(5);

    private IkeSa _sa;
    private readonly List<IkeSa> _retiring = new();
    private readonly IIkeSender _sender;
    private readonly ILogger _log;
    private string _spiText;
    private bool _established;
    private bool _childrenUpSent;
    // Cluster SA mobility (null on a node without a cluster): where snapshots go and under which ownership epoch.
    private readonly Replication? _replication;
    private long _publishedVersion = long.MinValue;
    // Stopped without a Delete (released, handed off or fenced): the replica entry is no longer ours to remove.
    private bool _silent;

    public IkeSaActor(IkeSa sa, IIkeSender sender, ILogger log, Replication? replication = null)
    {
        _sa = sa;
        _sender = sender;
        _log = log;
        _replication = replication;
        _spiText = $"{sa.OurSpi:x16}";

        Receive<IkeInbound>(m =>
        {
            var target = _sa;
            if (_retiring.Count > 0 && Ike.Wire.IkeHeader.TryParse(m.Datagram, out var header) == ParseStatus.Ok)
            {
                ulong spi = IkeSaLineage.RecipientSpi(header);
                target = _retiring.Find(r => r.OurSpi == spi) ?? _sa;
            }
            target.HandleDatagram(m.Datagram, m.Remote, m.Local, m.ViaNatT);
            Drain(target);
        });
        Receive<RetransmitTick>(m =>
        {
            var target = m.Spi == _sa.OurSpi ? _sa : _retiring.Find(r => r.OurSpi == m.Spi);
            if (target is null) return;
            target.OnRetransmitTimer();
            Drain(target);
        });
        Receive<IkeRekeyDue>(_ =>
        {
            if (!_sa.RekeyIke()) Timers.StartSingleTimer(IkeRekeyTimer, IkeRekeyDue.Instance, IkeRekeyRetry);
            Drain();
        });
        Receive<IkeReauthDue>(_ => Reauthenticate());
        Receive<ChildrenUpDue>(_ => ReportChildrenUp(force: true));
        Receive<IkeExpireDue>(_ =>
        {
            _sa.Delete();
            Drain();
        });
        Receive<DeleteIkeSa>(_ =>
        {
            bool wasEstablished = _sa.State == IkeSaState.Established;
            _sa.Delete();
            if (wasEstablished && _sa.State == IkeSaState.Deleting)
                Log.IkeSaDeleting(_log, _spiText, _sa.Connection?.Name ?? "", _sa.RemoteEndpoint);
            Drain();
        });
        Receive<DeleteChildSa>(m =>
        {
            _sa.DeleteChild(m.InboundSpi);
            Drain();
        });
        Receive<KeepaliveTick>(_ =>
        {
            if (_sa.NatT && _sa.BehindNat) _sender.SendNatKeepalive(_sa.RemoteEndpoint);
        });
        Receive<DpdTick>(_ =>
        {
            if (IsIdle()) _sa.SendDpd();
            Drain();
        });
        Receive<Replace>(_ =>
        {
            _sa.Replace();
            Drain();
        });
        Receive<RekeyChildSa>(m =>
        {
            _sa.RekeyChild(m.InboundSpi);
            Drain();
        });
        Receive<SendDpd>(_ =>
        {
            _sa.SendDpd();
            Drain();
        });
        Receive<GetInfo>(_ => Sender.Tell(new Info(_sa.OurSpi, _sa.State, _sa.Connection?.Name ?? "", _sa.RemoteEndpoint, _sa.Children.ToList(),
            _sa.IsInitiator, _sa.ProposalText, _sa.RemoteId?.Text ?? "", _sa.Age)));
        Receive<CreateChildSa>(m =>
        {
            _sa.CreateChild(m.Child);
            Drain();
        });
        Receive<InjectFault>(m => throw new InvalidOperationException(m.Reason));
        Receive<Release>(m =>
        {
            if (_replication is null || !IkeSaSnapshotter.CanSnapshot(_sa)) return; // the requester falls back to the replica
            using (var snapshot = IkeSaSnapshotter.Snapshot(_sa, SequenceMarks))
            {
                m.ReplyTo.Tell(new IkeSaSupervisor.SaReleased(_sa.OurSpi, _replication.Epoch, IkeSaSnapshotCodec.Encode(snapshot)));
            }
            StopWithoutDelete(SaReleaseReason.Moved);
        });
        Receive<HandOff>(_ =>
        {
            if (_sa.State == IkeSaState.Established) Publish(released: true);
            StopWithoutDelete(SaReleaseReason.HandOff);
        });
        Receive<StopSilently>(_ => StopWithoutDelete(SaReleaseReason.Fenced));
        Receive<ReplicateNow>(_ =>
        {
            _publishedVersion = long.MinValue;
            Publish();
        });
        Receive<Terminated>(m =>
        {
            // A Child SA actor that failed was stopped (its data-plane entry went with it): if the IKE SA
            // still lists the child, tell the peer with a Delete so both ends agree; siblings are untouched.
            if (m.ActorRef.Path.Name is { } name && name.StartsWith("child-", StringComparison.Ordinal) &&
                uint.TryParse(name.AsSpan(6), System.Globalization.NumberStyles.HexNumber, null, out uint spi) &&
                _sa.Children.Any(c => c.InboundSpi == spi))
            {
                _sa.DeleteChild(spi);
                Drain();
            }
        });
    }

    /// <summary>Child SA actors are stopped, never restarted: a restart would reinstall keys that were already zeroed.</summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Stop);

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IkeSa sa, IIkeSender sender, ILogger log, Replication? replication = null) =>
        Akka.Actor.Props.Create(() => new IkeSaActor(sa, sender, log, replication));

    public static string NameFor(ulong spi) => $"ike-{spi:x16}";

    protected override void PreStart()
    {
        if (_sa.IsInitiator && _sa.State == IkeSaState.Created)
        {
            Log.Initiating(_log, _sa.Connection!.Name, _sa.RemoteEndpoint);
            _sa.Initiate();
        }
        // A restored SA (adopted from another node) has its IkeSaRestored and child effects waiting.
        Drain();
    }

    protected override void PostStop()
    {
        // Children stop before this runs, so their data-plane entries are already gone.
        if (_replication is not null && !_silent) _replication.Replica.Tell(new Cluster.SaReplicaActor.Remove(_sa.OurSpi));
        _sa.Dispose();
        foreach (var old in _retiring) old.Dispose();
    }

    /// <summary>DPD, lifetimes and NAT-T keepalives of an SA that is established (negotiated here or adopted).</summary>
    private void StartEstablishedTimers()
    {
        // Checked at half the delay so a probe goes out between dpd_delay and 1.5 x dpd_delay of silence.
        if (_sa.Connection is { DpdDelay: var dpd } && dpd > TimeSpan.Zero) Timers.StartPeriodicTimer(DpdTimer, DpdTick.Instance, dpd / 2);
        StartIkeLifetime();
        // Behind a NAT we keep its mapping alive (RFC 3948 §2.3); the peer ignores these octets.
        if (_sa.BehindNat) Timers.StartPeriodicTimer(KeepaliveTimer, KeepaliveTick.Instance, KeepaliveInterval);
    }

    /// <summary>IKE SA lifetimes (swanctl rekey_time with rand_time jitter, then over_time as the hard limit), counted from
    /// the SA's establishment, which for one adopted from another node lies in the past.</summary>
    private void StartIkeLifetime()
    {
        var age = _sa.EstablishedUtc == default ? TimeSpan.Zero : DateTime.UtcNow - _sa.EstablishedUtc;
        TimeSpan Left(TimeSpan lifetime) => age < TimeSpan.FromSeconds(1) ? lifetime : TimeSpan.FromTicks(Math.Max((lifetime - age).Ticks, TimeSpan.TicksPerSecond));

        if (_sa.Connection is { ReauthTime: var reauth } withReauth && reauth > TimeSpan.Zero)
        {
            var spread = withReauth.RandTime > TimeSpan.Zero && withReauth.RandTime < reauth
                ? TimeSpan.FromTicks(Random.Shared.NextInt64(withReauth.RandTime.Ticks)) : TimeSpan.Zero;
            Timers.StartSingleTimer(IkeReauthTimer, IkeReauthDue.Instance, Left(reauth - spread));
        }

        if (_sa.Connection is not { RekeyTime: var rekey } conn || rekey <= TimeSpan.Zero) return;
        var jitter = conn.RandTime > TimeSpan.Zero && conn.RandTime < rekey ? TimeSpan.FromTicks(Random.Shared.NextInt64(conn.RandTime.Ticks)) : TimeSpan.Zero;
        Timers.StartSingleTimer(IkeRekeyTimer, IkeRekeyDue.Instance, Left(rekey - jitter));
        if (conn.OverTime > TimeSpan.Zero) Timers.StartSingleTimer(IkeExpireTimer, IkeExpireDue.Instance, Left(rekey + conn.OverTime));
    }

    /// <summary>
    /// Dead peer detection (RFC 7296 §2.4): a probe is due when neither an IKE message nor ESP has come
    /// from the peer for dpd_delay. The probe is an ordinary INFORMATIONAL; its retransmission budget
    /// running out closes the SA with Timeout, and then dpd_action applies.
    /// </summary>
    private bool IsIdle()
    {
        var delay = _sa.Connection!.DpdDelay;
        if (_sa.RequestInFlight || Environment.TickCount64 - _sa.LastInbound < delay.TotalMilliseconds) return false;
        long recent = DateTime.UtcNow.Ticks - delay.Ticks;
        foreach (var child in _sa.Children)
        {
            if (_sa.Context.DataPlane.TryGetCounters(child.InboundSpi, out var c) && c.LastInboundTicks > recent) return false;
        }
        return true;
    }

    /// <summary>
    /// reauth_time (make-before-break): a fresh IKE_SA_INIT + IKE_AUTH with every child of this SA, started
    /// by the supervisor; once it is established this SA is deleted. Retried until it succeeds or we go.
    /// </summary>
    private void Reauthenticate()
    {
        if (_sa.State != IkeSaState.Established || _sa.Connection is not { } conn) return;
        var children = _sa.Children.Select(c => c.Child).Distinct()
            .Select(name => conn.Children.TryGetValue(name, out var config) ? config : null).OfType<ChildConfig>().ToList();
        // The peer's current IKE endpoint (port 4500 when NAT-T is in use: initiating there is allowed, RFC 3948).
        Context.Parent.Tell(new Initiate(conn, _sa.RemoteEndpoint, children, Replaces: _sa.OurSpi));
        Timers.StartSingleTimer(IkeReauthTimer, IkeReauthDue.Instance, ReauthRetry);
    }

    /// <summary>dpd_action: clear (default, nothing more), trap (policies stay armed in the data plane), restart (initiate again).</summary>
    private void DeadPeerAction()
    {
        var conn = _sa.Connection;
        if (conn is null) return;
        var restart = conn.Children.Values.Where(c => c.DpdAction == "restart").ToList();
        if (restart.Count > 0) Context.Parent.Tell(new Initiate(conn, _sa.RemoteEndpoint, restart));
    }

    private void Drain() => Drain(_sa);

    /// <summary>
    /// Tells the supervisor once every child asked for at initiation is answered (or <see cref="ChildrenUpBound"/>
    /// passed): a reauthentication deletes the IKE SA it replaces only then (make-before-break for every child).
    /// </summary>
    private void ReportChildrenUp(bool force = false)
    {
        if (_childrenUpSent || !_established || !_sa.IsInitiator || _sa.State != IkeSaState.Established ||
            (_sa.InitialChildrenPending && !force)) return;
        _childrenUpSent = true;
        Timers.Cancel(ChildrenUpTimer);
        Context.Parent.Tell(new IkeSaSupervisor.ChildrenUp(_sa.OurSpi));
    }

    private void Drain(IkeSa sa)
    {
        foreach (var effect in sa.DrainEffects())
        {
            switch (effect)
            {
                case SendMessage send:
                    _sender.Send(send.Datagram, send.Remote, send.NatT);
                    break;
                case ScheduleRetransmit schedule:
                    Timers.StartSingleTimer(RetransmitKey(sa), new RetransmitTick(sa.OurSpi), schedule.Delay);
                    break;
                case CancelRetransmit:
                    Timers.Cancel(RetransmitKey(sa));
                    break;
                case IkeSaRekeyed rekeyed:
                    _retiring.Add(sa);
                    _sa = rekeyed.Successor;
                    _spiText = $"{_sa.OurSpi:x16}";
                    Context.Parent.Tell(new IkeSaSupervisor.Rekeyed(_sa.OurSpi));
                    // The successor carries the children now; the predecessor's entry would point their ESP at it.
                    _replication?.Replica.Tell(new Cluster.SaReplicaActor.Remove(sa.OurSpi));
                    _publishedVersion = long.MinValue; // the successor's StateVersion counts from its own start
                    Log.IkeSaRekeyed(_log, $"{sa.OurSpi:x16}", _spiText, _sa.Connection?.Name ?? "");
                    StartIkeLifetime();
                    Drain(_sa);
                    break;
                case IkeSaRedundant redundant:
                    // The loser of a simultaneous IKE rekey: routed here until its Delete completes, then Retired.
                    _retiring.Add(redundant.Sa);
                    Context.Parent.Tell(new IkeSaSupervisor.Rekeyed(redundant.Sa.OurSpi));
                    Drain(redundant.Sa);
                    break;
                case IkeSaEstablished up:
                    _established = true;
                    Log.IkeSaEstablished(_log, _spiText, up.Connection, _sa.RemoteEndpoint, up.RemoteId, _sa.IsInitiator ? "initiator" : "responder",
                        up.Summary.Proposal, up.Summary.SetupTime.TotalMilliseconds, up.Summary.NatDetected);
                    Context.Parent.Tell(new IkeSaSupervisor.Established(_sa.OurSpi, up.Connection, up.RemoteId, _sa.InitialContact));
                    StartEstablishedTimers();
                    if (_sa.IsInitiator && _sa.InitialChildrenPending) Timers.StartSingleTimer(ChildrenUpTimer, ChildrenUpDue.Instance, ChildrenUpBound);
                    Context.System.EventStream.Publish(new IkeSaUp(_sa.OurSpi, _sa.IsInitiator, up.Connection, _sa.RemoteEndpoint, up.Summary));
                    break;
                case IkeSaRestored restored:
                    // Adopted from another node: established already, so no negotiation is counted; its timers start
                    // here, its lifetimes counted from when it was negotiated.
                    _established = true;
                    _childrenUpSent = true;
                    Context.Parent.Tell(new IkeSaSupervisor.Established(_sa.OurSpi, restored.Connection, restored.RemoteId));
                    StartEstablishedTimers();
                    break;
                case ChildSaEstablished child:
                    var lifetime = _sa.Connection is { } conn && conn.Children.TryGetValue(child.Install.Child, out var childConfig)
                        ? ChildLifetime.From(childConfig)
                        : ChildLifetime.None;
                    // Installed here, synchronously: effects run in order, so the SA is in the data plane before the
                    // response that lets the peer use it leaves (an actor's PreStart would run later, on another thread).
                    // An adopted SA's children keep the peer's view of them; only our end of the ESP flow is this node's.
                    var install = child.Install.LocalEndpoint.Equals(_sa.LocalEndpoint) ? child.Install : child.Install with { LocalEndpoint = _sa.LocalEndpoint };
                    try
                    {
                        _sa.Context.DataPlane.AddSa(install);
                    }
                    catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or System.Security.Cryptography.CryptographicException)
                    {
                        Log.IkeSaActorFailed(_log, ex, _spiText);
                        _sa.DeleteChild(child.Install.InboundSpi);
                        break;
                    }
                    Context.Watch(Context.ActorOf(ChildSaActor.Props(install, _sa.Context.DataPlane, _log, _sa.Context.Metrics, lifetime,
                        preinstalled: true, sequenceReportStep: _replication is null ? 0 : IkeSaSupervisor.SequenceMargin / 2,
                        age: DateTime.UtcNow - _sa.ChildCreatedUtc(install.InboundSpi)),
                        ChildSaActor.NameFor(install.InboundSpi)));
                    break;
                case ChildSaActivated activated:
                    // Synchronously, before the predecessor's actor stops (its PostStop removes the old SA from the
                    // data plane on another thread): told through the child's mailbox, the old SA could be gone
                    // before the successor sends, and packets in between found no outbound SA (no_sa drops).
                    // Only if the successor's actor has not installed it yet does the child activate it itself.
                    if (!_sa.Context.DataPlane.ActivateOutbound(activated.InboundSpi))
                        Context.Child(ChildSaActor.NameFor(activated.InboundSpi)).Tell(ChildSaActor.Activate.Instance);
                    break;
                case ChildSaRemoved removed:
                    var childRef = Context.Child(ChildSaActor.NameFor(removed.InboundSpi));
                    if (childRef.IsNobody()) break;
                    // A rekeyed SA lingers inbound-only in effect (its successor is newer and wins the outbound
                    // lookup) for a short grace, like strongSwan's delete_rekeyed_delay; any other SA goes now.
                    if (removed.Rekeyed) childRef.Tell(ChildSaActor.Retire.Instance);
                    else Context.Stop(childRef);
                    break;
                case IkeSaClosed when sa != _sa:
                    // A rekeyed predecessor finished its Delete; the tunnel lives on in the successor.
                    _retiring.Remove(sa);
                    Context.Parent.Tell(new IkeSaSupervisor.Retired(sa.OurSpi));
                    sa.Dispose();
                    break;
                case IkeSaClosed closed:
                    Log.IkeSaClosed(_log, _spiText, _sa.Connection?.Name ?? "", _sa.RemoteEndpoint, closed.Reason, _established ? "established" : "connecting");
                    Context.System.EventStream.Publish(new IkeSaDown(_sa.OurSpi, _sa.IsInitiator, _sa.Connection?.Name ?? "", closed.Reason, _established));
                    if (closed.Reason == CloseReason.Timeout && _established) DeadPeerAction();
                    Context.Stop(Self);
                    break;
            }
        }

        if (sa == _sa)
        {
            ReportChildrenUp();
            Publish();
        }
    }

    /// <summary>
    /// Replicates the established SA whenever anything a snapshot holds changed (an exchange completed, a child came or
    /// went, a rekey) or a child used half the sequence margin; half-open SAs are not replicated (a flood of
    /// IKE_SA_INIT must not become cluster writes), they move only by a direct release.
    /// </summary>
    private void Publish(bool released = false)
    {
        if (_replication is null || _silent || _sa.State != IkeSaState.Established || !IkeSaSnapshotter.CanSnapshot(_sa)) return;
        if (!released && _sa.StateVersion == _publishedVersion) return;
        _publishedVersion = _sa.StateVersion;
        if (_replication.Index.Alone && !released)
        {
            // Nobody could adopt it: no snapshot, only the ceilings move on (as if one had been replicated).
            foreach (var child in _sa.Children)
                _sa.Context.DataPlane.SetOutboundCeiling(child.InboundSpi, SequenceMarks(child.InboundSpi).LastOutbound + IkeSaSupervisor.SequenceMargin);
            return;
        }
        using var snapshot = IkeSaSnapshotter.Snapshot(_sa, SequenceMarks);
        var esp = new uint[snapshot.Children.Count];
        for (int i = 0; i < esp.Length; i++) esp[i] = snapshot.Children[i].InboundSpi;
        _replication.Replica.Tell(new Cluster.SaReplicaActor.Put(_sa.OurSpi, _replication.Epoch, released, esp,
            IkeSaSnapshotCodec.Encode(snapshot)));
        // An adopter starts above mark + margin, so this node must stay at or below it until the next snapshot.
        foreach (var child in snapshot.Children)
            _sa.Context.DataPlane.SetOutboundCeiling(child.InboundSpi, child.OutboundSequenceMark + IkeSaSupervisor.SequenceMargin);
    }

    private (ulong LastOutbound, ulong InboundTop) SequenceMarks(uint inboundSpi) =>
        _sa.Context.DataPlane.TryGetSequenceMarks(inboundSpi, out var outbound, out var inbound) ? (outbound, inbound) : (0, 0);

    /// <summary>Another node holds this SA from now on: stop here (children leave the data plane) without a Delete.</summary>
    private void StopWithoutDelete(SaReleaseReason reason)
    {
        if (_silent) return;
        _silent = true;
        _sa.Context.Metrics.CountSaRelease(reason);
        Log.SaReleased(_log, _spiText, reason.ToString());
        Context.Stop(Self);
    }

    private static string RetransmitKey(IkeSa sa) => $"retransmit-{sa.OurSpi:x16}";

    public sealed record RetransmitTick(ulong Spi);

    private sealed record IkeRekeyDue
    {
        public static readonly IkeRekeyDue Instance = new();
    }

    private sealed record IkeReauthDue
    {
        public static readonly IkeReauthDue Instance = new();
    }

    private sealed record ChildrenUpDue
    {
        public static readonly ChildrenUpDue Instance = new();
    }

    private sealed record IkeExpireDue
    {
        public static readonly IkeExpireDue Instance = new();
    }

    public sealed record DeleteIkeSa
    {
        public static readonly DeleteIkeSa Instance = new();
    }

    public sealed record DeleteChildSa(uint InboundSpi);

    /// <summary>Close silently: the peer restarted and a newer IKE SA with INITIAL_CONTACT replaces this one.</summary>
    public sealed record Replace
    {
        public static readonly Replace Instance = new();
    }

    private sealed record KeepaliveTick
    {
        public static readonly KeepaliveTick Instance = new();
    }

    private sealed record DpdTick
    {
        public static readonly DpdTick Instance = new();
    }

    /// <summary>A Child SA reached its soft lifetime: rekey it (ignored while a rekey of it is in flight).</summary>
    public sealed record RekeyChildSa(uint InboundSpi);

    public sealed record SendDpd
    {
        public static readonly SendDpd Instance = new();
    }

    public sealed record GetInfo
    {
        public static readonly GetInfo Instance = new();
    }

    public sealed record Info(ulong Spi, IkeSaState State, string Connection, IPEndPoint Remote, IReadOnlyList<ChildSaRecord> Children,
        bool Initiator = false, string Proposal = "", string RemoteId = "", TimeSpan Age = default);

    /// <summary>Operator: negotiate one more Child SA under this IKE SA (CREATE_CHILD_SA).</summary>
    public sealed record CreateChildSa(ChildConfig Child);

    /// <summary>Cluster SA mobility of one IKE SA actor: the node's replica and the SA's ownership epoch here.</summary>
    public sealed record Replication(IActorRef Replica, Cluster.SaReplicaIndex Index, long Epoch);

    /// <summary>Another node receives this SA's traffic: snapshot it to <paramref name="ReplyTo"/> and stop without a Delete.</summary>
    public sealed record Release(IActorRef ReplyTo);

    /// <summary>The node leaves the cluster: replicate as released and stop without a Delete.</summary>
    public sealed record HandOff
    {
        public static readonly HandOff Instance = new();
    }

    /// <summary>Another node adopted this SA under a newer epoch: stop without a Delete.</summary>
    public sealed record StopSilently
    {
        public static readonly StopSilently Instance = new();
    }

    /// <summary>Replicate again now: a child used half the sequence margin since the last snapshot, or a second member came Up.</summary>
    public sealed record ReplicateNow
    {
        public static readonly ReplicateNow Instance = new();
    }

    /// <summary>Makes the actor throw: for supervision tests and chaos drills only.</summary>
    public sealed record InjectFault(string Reason);
}
