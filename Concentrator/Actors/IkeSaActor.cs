using System.Net;
using Akka.Actor;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Eap;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;
using Concentrator.Telemetry;
using Concentrator.Transport;

namespace Concentrator.Actors;

/// <summary>
/// Hosts one tunnel's IKE SAs (<see cref="IkeSaLineage"/>: the current SA and, after an IKE rekey, its predecessors
/// until their Delete completes) and one <see cref="ChildSaActor"/> per Child SA. A mailbox and named timers: each
/// message becomes a call on the protocol (<see cref="IkeSa"/>, which holds all protocol logic), whose effects the
/// <see cref="EffectRunner"/> carries out. Named timers: "retransmit-SPI" per SA, "dpd", "natt-keepalive", "ike-rekey",
/// "ike-reauth", "ike-expire", "children-up".
/// </summary>
public sealed class IkeSaActor : ReceiveActor, IWithTimers
{
    private const string DpdTimer = "dpd";
    private const string KeepaliveTimer = "natt-keepalive";
    private const string IkeRekeyTimer = "ike-rekey";
    private const string IkeExpireTimer = "ike-expire";
    private const string IkeReauthTimer = "ike-reauth";
    private const string ChildrenUpTimer = "children-up";


    /// <summary>Retry interval when a reauthentication did not replace this SA.</summary>
    private static readonly TimeSpan ReauthRetry = TimeSpan.FromSeconds(30);

    /// <summary>Longest wait for the children of a new initiator SA before a reauthentication deletes the SA it
    /// replaces anyway (each CREATE_CHILD_SA ends within the retransmission budget or closes the SA).</summary>
    public static readonly TimeSpan ChildrenUpBound = TimeSpan.FromSeconds(30);

    /// <summary>Retry interval when an IKE rekey could not start or failed.</summary>
    private static readonly TimeSpan IkeRekeyRetry = TimeSpan.FromSeconds(5);

    private readonly IkeSaLineage _lineage;
    private readonly IIkeSender _sender;
    private readonly ILogger _log;
    private readonly ISaReplication? _replication;
    private readonly EffectRunner _runner;
    // The IKE SA's timers as last started (shown by sas); null where the connection sets none.
    private DateTime? _rekeyAt, _reauthAt, _expireAt;

    public IkeSaActor(IkeSa sa, IIkeSender sender, ILogger log, ISaReplication? replication = null, ulong sequenceMargin = 0, long uniqueId = 0)
    {
        UniqueId = uniqueId;
        _lineage = new IkeSaLineage(sa);
        _sender = sender;
        _log = log;
        _replication = replication;
        SequenceMargin = sequenceMargin;
        _runner = new EffectRunner(this, _lineage, sender, log, replication);

        Receive<IkeInbound>(m =>
        {
            var target = _lineage.Route(IkeSaLineage.RecipientSpi(m.Header));
            target.HandleDatagram(m);
            _runner.Drain(target);
        });
        Receive<RevocationFetched>(m =>
        {
            if (_lineage.Find(m.Spi) is not { } target) return;
            target.ResumeDeferredRequest();
            _runner.Drain(target);
        });
        Receive<UniqueChecked>(m =>
        {
            if (_lineage.Find(m.Spi) is not { } target) return;
            target.ResumeUniqueCheck(m.Refused);
            _runner.Drain(target);
        });
        Receive<EapStepDone>(m =>
        {
            if (_lineage.Find(m.Spi) is not { } target)
            {
                if (m.Result?.Msk is { } msk) System.Security.Cryptography.CryptographicOperations.ZeroMemory(msk);
                return;
            }
            target.ResumeEap(m.Result);
            _runner.Drain(target);
        });
        Receive<RetransmitTick>(m =>
        {
            if (_lineage.Find(m.Spi) is not { } target) return;
            target.OnRetransmitTimer();
            _runner.Drain(target);
        });
        Receive<IkeRekeyDue>(_ =>
        {
            if (!Sa.RekeyIke())
            {
                Timers.StartSingleTimer(IkeRekeyTimer, IkeRekeyDue.Instance, IkeRekeyRetry);
                _rekeyAt = DateTime.UtcNow + IkeRekeyRetry;
            }
            Drain();
        });
        Receive<IkeReauthDue>(_ => Reauthenticate());
        // The operator's rekey takes the timer's path, so that it retries and is refused exactly as the timer's would be.
        Receive<RekeyIkeSa>(m => Self.Tell(m.Reauth ? IkeReauthDue.Instance : IkeRekeyDue.Instance));
        Receive<ChildrenUpDue>(_ => ReportChildrenUp(force: true));
        Receive<IkeExpireDue>(_ =>
        {
            Sa.Delete();
            Drain();
        });
        Receive<DeleteIkeSa>(_ =>
        {
            bool wasEstablished = Sa.State == IkeSaState.Established;
            Sa.Delete();
            if (wasEstablished && Sa.State == IkeSaState.Deleting)
                Log.IkeSaDeleting(_log, $"{Sa.OurSpi:x16}", Sa.Connection?.Name ?? "", Sa.RemoteEndpoint);
            Drain();
        });
        Receive<DeleteChildSa>(m =>
        {
            Sa.DeleteChild(m.InboundSpi);
            Drain();
        });
        Receive<KeepaliveTick>(_ =>
        {
            if (Sa.NatT && Sa.BehindNat) _sender.SendNatKeepalive(Sa.RemoteEndpoint);
        });
        Receive<DpdTick>(_ =>
        {
            if (IsIdle()) Sa.SendDpd();
            Drain();
        });
        Receive<Replace>(_ =>
        {
            Sa.Replace();
            Drain();
        });
        Receive<RekeyChildSa>(m =>
        {
            Sa.RekeyChild(m.InboundSpi);
            Drain();
        });
        Receive<SendDpd>(_ =>
        {
            Sa.SendDpd();
            Drain();
        });
        Receive<EspFromNewAddress>(m =>
        {
            Sa.FollowEsp(m.InboundSpi, m.From);
            Drain();
        });
        Receive<GetInfo>(_ => Sender.Tell(new Info(Sa.OurSpi, Sa.State, Sa.Connection?.Name ?? "", Sa.RemoteEndpoint, Sa.Children.ToList(),
            Sa.IsInitiator, Sa.ProposalText, Sa.RemoteId?.Text ?? "", Sa.Age, Sa.PeerCertificateSubject,
            Sa.VirtualIps.All.Select(v => v.Address.ToString()).ToList(), UniqueId, Sa.LocalId?.Text ?? "", Sa.User?.Text ?? "",
            Sa.EapIdentity?.Text, _runner.Traffic(), Sa.Suite, Sa.EstablishedUtc, _rekeyAt, _reauthAt, _expireAt, ChildStates())));
        Receive<CreateChildSa>(m =>
        {
            Sa.CreateChild(m.Child);
            Drain();
        });
        Receive<InjectFault>(m => throw new InvalidOperationException(m.Reason));
        Receive<Release>(m =>
        {
            // The replication answers the requester either way; the SA moves only on a proof it authenticates.
            if (_replication is null || !_replication.Release(Sa, m.Requester, m.Proof, m.EspProof)) return;
            StopWithoutDelete(SaReleaseReason.Moved);
        });
        Receive<HandOff>(_ =>
        {
            if (Sa.State == IkeSaState.Established) _runner.Publish(released: true);
            StopWithoutDelete(SaReleaseReason.HandOff);
        });
        Receive<StopSilently>(_ => StopWithoutDelete(SaReleaseReason.Fenced));
        Receive<ReplicateNow>(_ => _runner.Republish());
        Receive<MarksReplicated>(m => _runner.RaiseCeilings(m.Marks));
        Receive<Terminated>(m => _runner.OnChildTerminated(m.ActorRef));
    }

    /// <summary>Child SA actors are stopped, never restarted: a restart would reinstall keys that were already zeroed.</summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Stop);

    public ITimerScheduler Timers { get; set; } = null!;

    /// <param name="uniqueId">This node's number of the tunnel (swanctl's #N), stable across IKE rekeys.</param>
    public static Props Props(IkeSa sa, IIkeSender sender, ILogger log, ISaReplication? replication = null, ulong sequenceMargin = 0,
        long uniqueId = 0) =>
        Akka.Actor.Props.Create(() => new IkeSaActor(sa, sender, log, replication, sequenceMargin, uniqueId));

    /// <summary>This node's number of the tunnel (swanctl's #N): what <c>terminate --ike-id</c> names and updown's PLUTO_UNIQUEID.</summary>
    internal long UniqueId { get; }

    public static string NameFor(ulong spi) => $"ike-{spi:x16}";

    /// <summary>The cluster's adoption margin (0 without a cluster): children report after half of it is used.</summary>
    internal ulong SequenceMargin { get; }

    internal IUntypedActorContext ActorContext => Context;

    /// <summary>The children asked for at initiation were reported answered (or did not need to be).</summary>
    internal bool ChildrenUpSent { get; set; }

    private IkeSa Sa => _lineage.Current;

    protected override void PreStart()
    {
        if (Sa.IsInitiator && Sa.State == IkeSaState.Created)
        {
            Log.Initiating(_log, Sa.Connection!.Name, Sa.RemoteEndpoint);
            Sa.Initiate();
        }
        // A restored SA (adopted from another node) has its IkeSaRestored and child effects waiting.
        Drain();
    }

    protected override void PostStop()
    {
        // The children's actors are stopped by now; their SAs leave the data plane here, whatever the reason for the stop.
        _runner.UninstallAll();
        if (_replication is not null && !_runner.Silent) _replication.Remove(Sa.OurSpi);
        _stopping.Cancel();
        _lineage.Dispose();
    }

    private void Drain() => _runner.Drain(Sa);

    internal void ScheduleRetransmit(IkeSa sa, TimeSpan delay) =>
        Timers.StartSingleTimer(RetransmitKey(sa), new RetransmitTick(sa.OurSpi), delay);

    internal void CancelRetransmit(IkeSa sa) => Timers.Cancel(RetransmitKey(sa));

    /// <summary>
    /// The OCSP requests of a deferred IKE_AUTH, asynchronous (one timeout in all), then back to this actor, which
    /// stays free for the SA's other messages meanwhile; the SA answers the request when resumed, whatever came back.
    /// </summary>
    internal void FetchRevocation(IkeSa sa, OcspFetch fetch)
    {
        var metrics = sa.Context.Metrics;
        fetch.Checker.FetchAsync(fetch, metrics).ContinueWith(_ => new RevocationFetched(sa.OurSpi), TaskScheduler.Default).PipeTo(Self);
    }

    /// <summary>The longest one EAP step may take (a RADIUS server's retransmissions and failover included); the SA's
    /// half_open_timeout bounds the whole IKE_AUTH anyway.</summary>
    public static readonly TimeSpan EapStepTimeout = TimeSpan.FromSeconds(30);

    // Cancelled when this actor stops: an EAP step still running (a RADIUS request) gives up.
    private readonly CancellationTokenSource _stopping = new();

    /// <summary>
    /// One EAP step of a deferred IKE_AUTH, off this actor's thread with <see cref="EapStepTimeout"/>, then back here, the
    /// actor staying free for the SA's other messages meanwhile; a step that throws, is cancelled or times out resumes the
    /// SA with no result (it refuses the peer).
    /// </summary>
    internal void RunEap(IkeSa sa, RunEap run)
    {
        var spi = sa.OurSpi;
        var self = Self;
        var token = _stopping.Token;
        var log = _log;
        _ = Task.Run(async () =>
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
            timeout.CancelAfter(EapStepTimeout);
            EapResult? result = null;
            Task<EapResult>? step = null;
            try
            {
                step = (run.Response is null
                    ? run.Session.StartAsync(run.PeerIdentity, run.EapId, timeout.Token)
                    : run.Session.ProcessAsync(run.Response, timeout.Token)).AsTask();
                result = await step.WaitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                // A step that ignores the token and answers after the timeout: nobody takes its MSK, so it is zeroed then.
                step?.ContinueWith(t => { if (t.Result.Msk is { } late) System.Security.Cryptography.CryptographicOperations.ZeroMemory(late); },
                    CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
                // Cancelled, timed out or failed: the SA refuses the peer (EapTimeout); a session never throws by design.
                if (!token.IsCancellationRequested)
                {
                    Log.EapStepFailed(log, $"{spi:x16}", run.Session.Method, e is OperationCanceledException ? $"no answer within {EapStepTimeout.TotalSeconds:0} s" : e.GetType().Name);
                }
                result = null;
            }
            if (token.IsCancellationRequested)
            {
                // The actor stopped meanwhile (the SA is gone): nobody takes the answer, its MSK is zeroed here.
                if (result?.Msk is { } msk) System.Security.Cryptography.CryptographicOperations.ZeroMemory(msk);
                return;
            }
            self.Tell(new EapStepDone(spi, result));
        });
    }

    /// <summary>DPD, lifetimes and NAT-T keepalives of an SA that is established (negotiated here or adopted).</summary>
    internal void StartEstablishedTimers(bool waitForChildren)
    {
        // Checked at half the delay so a probe goes out between dpd_delay and 1.5 x dpd_delay of silence.
        if (Sa.Connection is { DpdDelay: var dpd } && dpd > TimeSpan.Zero) Timers.StartPeriodicTimer(DpdTimer, DpdTick.Instance, dpd / 2);
        StartIkeLifetime();
        // Behind a NAT we keep its mapping alive (RFC 3948 §2.3); the peer ignores these octets.
        if (Sa.BehindNat && Sa.Context.Tunables.KeepAliveInterval is { } keepAlive && keepAlive > TimeSpan.Zero)
            Timers.StartPeriodicTimer(KeepaliveTimer, KeepaliveTick.Instance, keepAlive);
        if (waitForChildren) Timers.StartSingleTimer(ChildrenUpTimer, ChildrenUpDue.Instance, ChildrenUpBound);
    }

    /// <summary>IKE SA lifetimes, counted from the SA's establishment, which for one adopted from another node lies in the past.</summary>
    internal void StartIkeLifetime()
    {
        if (Sa.Connection is not { } conn) return;
        var age = Sa.EstablishedUtc == default ? TimeSpan.Zero : DateTime.UtcNow - Sa.EstablishedUtc;
        var schedule = IkeLifetimes.ForIke(conn, age, Random.Shared);
        if (schedule.Reauth is { } reauth) Timers.StartSingleTimer(IkeReauthTimer, IkeReauthDue.Instance, reauth);
        if (schedule.Rekey is { } rekey) Timers.StartSingleTimer(IkeRekeyTimer, IkeRekeyDue.Instance, rekey);
        if (schedule.Expire is { } expire) Timers.StartSingleTimer(IkeExpireTimer, IkeExpireDue.Instance, expire);
        var now = DateTime.UtcNow;
        (_reauthAt, _rekeyAt, _expireAt) = (now + schedule.Reauth, now + schedule.Rekey, now + schedule.Expire);
    }

    /// <summary>Each child of the current SA with its phase, our exchanges in flight on it and its timers (<c>sas</c>).</summary>
    private List<ChildStatus> ChildStates()
    {
        var result = new List<ChildStatus>();
        foreach (var e in Sa.ChildTable.Entries)
        {
            _runner.TryGetChildTimers(e.Record.InboundSpi, out var rekeyAt, out var expireAt);
            result.Add(new ChildStatus(e.Record.InboundSpi, e.Phase, e.Rekeying, e.Deleting, Sa.ChildCreatedUtc(e.Record.InboundSpi), rekeyAt, expireAt,
                e.Keys.Transport == EspTransport.UdpEncapsulated));
        }
        return result;
    }

    /// <summary>
    /// Dead peer detection (RFC 7296 §2.4): a probe is due when neither an IKE message nor ESP has come
    /// from the peer for dpd_delay. The probe is an ordinary INFORMATIONAL; its retransmission budget
    /// running out closes the SA with Timeout, and then dpd_action applies.
    /// </summary>
    private bool IsIdle()
    {
        var delay = Sa.Connection!.DpdDelay;
        if (Sa.RequestInFlight || Environment.TickCount64 - Sa.LastInbound < delay.TotalMilliseconds) return false;
        long recent = DateTime.UtcNow.Ticks - delay.Ticks;
        foreach (var child in Sa.Children)
        {
            if (Sa.Context.DataPlane.TryGetCounters(child.InboundSpi, out var c) && c.LastInboundTicks > recent) return false;
        }
        return true;
    }

    /// <summary>
    /// reauth_time (make-before-break): a fresh IKE_SA_INIT + IKE_AUTH with every child of this SA, started
    /// by the supervisor; once it is established this SA is deleted. Retried until it succeeds or we go.
    /// </summary>
    private void Reauthenticate()
    {
        if (Sa.State != IkeSaState.Established || Sa.Connection is not { } conn) return;
        var children = Sa.Children.Select(c => c.Child).Distinct()
            .Select(name => conn.Children.TryGetValue(name, out var config) ? config : null).OfType<ChildConfig>().ToList();
        // The peer's current IKE endpoint (port 4500 when NAT-T is in use: initiating there is allowed, RFC 3948).
        Context.Parent.Tell(new Initiate(conn, Sa.RemoteEndpoint, children, Replaces: Sa.OurSpi));
        Timers.StartSingleTimer(IkeReauthTimer, IkeReauthDue.Instance, ReauthRetry);
    }

    /// <summary>dpd_action: clear (default, nothing more), trap (policies stay armed in the data plane), restart (initiate again).</summary>
    internal void DeadPeerAction()
    {
        var conn = Sa.Connection;
        if (conn is null) return;
        var restart = conn.Children.Values.Where(c => c.DpdAction == "restart").ToList();
        if (restart.Count > 0) Context.Parent.Tell(new Initiate(conn, Sa.RemoteEndpoint, restart));
    }

    /// <summary>
    /// Tells the supervisor once every child asked for at initiation is answered (or <see cref="ChildrenUpBound"/>
    /// passed): a reauthentication deletes the IKE SA it replaces only then (make-before-break for every child).
    /// </summary>
    internal void ReportChildrenUp(bool force = false)
    {
        if (ChildrenUpSent || !_runner.Established || !Sa.IsInitiator || Sa.State != IkeSaState.Established ||
            (Sa.InitialChildrenPending && !force)) return;
        ChildrenUpSent = true;
        Timers.Cancel(ChildrenUpTimer);
        Context.Parent.Tell(new IkeSaSupervisor.ChildrenUp(Sa.OurSpi));
    }

    /// <summary>Another node holds this SA from now on: stop here (children leave the data plane) without a Delete.</summary>
    private void StopWithoutDelete(SaReleaseReason reason)
    {
        if (_runner.Silent) return;
        _runner.Silent = true;
        Sa.Context.Metrics.CountSaRelease(reason);
        Log.SaReleased(_log, $"{Sa.OurSpi:x16}", reason.ToString());
        Context.Stop(Self);
    }

    private static string RetransmitKey(IkeSa sa) => $"retransmit-{sa.OurSpi:x16}";

    public sealed record RetransmitTick(ulong Spi);

    private sealed record RevocationFetched(ulong Spi);

    private sealed record EapStepDone(ulong Spi, EapResult? Result);

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

    /// <summary>Authenticated, new ESP of our Child SA <paramref name="InboundSpi"/> came from <paramref name="From"/> (the data plane saw it).</summary>
    public sealed record EspFromNewAddress(uint InboundSpi, IPEndPoint From);

    public sealed record GetInfo
    {
        public static readonly GetInfo Instance = new();
    }

    /// <param name="RemoteCertificate">The subject (and subjectAltNames) of the certificate the peer authenticated with; null for a PSK peer.</param>
    /// <param name="VirtualIps">Leased to the peer (responder) or assigned to us (initiator).</param>
    /// <param name="EapId">The identity the peer proved by EAP; null when it did not log in by EAP.</param>
    /// <param name="Traffic">Totals of all its Child SAs, rekeyed ones included (RADIUS accounting's Interim-Update).</param>
    public sealed record Info(ulong Spi, IkeSaState State, string Connection, IPEndPoint Remote, IReadOnlyList<ChildSaRecord> Children,
        bool Initiator = false, string Proposal = "", string RemoteId = "", TimeSpan Age = default, string? RemoteCertificate = null,
        IReadOnlyList<string>? VirtualIps = null, long UniqueId = 0, string LocalId = "", string User = "", string? EapId = null,
        SaCounters Traffic = default, IkeSuite Suite = default, DateTime EstablishedUtc = default, DateTime? RekeyAt = null,
        DateTime? ReauthAt = null, DateTime? ExpireAt = null, IReadOnlyList<ChildStatus>? ChildStates = null);

    /// <summary>Where a Child SA stands (<see cref="ChildSaTable"/>'s phase and flags) and its timers, for the operator.</summary>
    /// <param name="UdpEncapsulated">Its ESP travels in UDP (RFC 3948): swanctl's "-in-UDP".</param>
    public sealed record ChildStatus(uint InboundSpi, ChildSaPhase Phase, bool Rekeying, bool Deleting, DateTime InstalledUtc,
        DateTime? RekeyAt, DateTime? ExpireAt, bool UdpEncapsulated = false);

    /// <summary>The supervisor's answer to <see cref="IkeSaSupervisor.CheckUnique"/>: resume the IKE_AUTH of SA
    /// <paramref name="Spi"/>, refused when unique keep found a duplicate.</summary>
    public sealed record UniqueChecked(ulong Spi, bool Refused);

    /// <summary>Operator: rekey this IKE SA now (CREATE_CHILD_SA), or reauthenticate it (<paramref name="Reauth"/>: a new IKE SA
    /// make-before-break, as reauth_time does).</summary>
    public sealed record RekeyIkeSa(bool Reauth);

    /// <summary>Operator: negotiate one more Child SA under this IKE SA (CREATE_CHILD_SA).</summary>
    public sealed record CreateChildSa(ChildConfig Child);

    /// <summary>Another node receives this SA's traffic (<paramref name="Proof"/>: the peer's message that reached it):
    /// snapshot it to <paramref name="Requester"/> and stop without a Delete.</summary>
    public sealed record Release(IActorRef Requester, byte[] Proof, bool EspProof);

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

    /// <summary>From the replication: every member holds these outbound sequence marks of the SA's children.</summary>
    public sealed record MarksReplicated(IReadOnlyList<(uint InboundSpi, ulong OutboundMark)> Marks);

    /// <summary>Makes the actor throw: for supervision tests and chaos drills only.</summary>
    public sealed record InjectFault(string Reason);
}
