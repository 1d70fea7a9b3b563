using System.Net;
using Akka.Actor;
using Concentrator.Ike.Wire;
using Concentrator.Transport;
using Concentrator.Telemetry;
using Concentrator.Ipsec;
using Concentrator.Ike.Admission;
using Concentrator.Ike.Sa;

namespace Concentrator.Actors;

/// <summary>
/// Parent of every IKE SA actor. Routes each IKE datagram by the SPI we chose (the message extractor:
/// responder SPI for messages from the original initiator, initiator SPI otherwise), admits new
/// IKE_SA_INIT requests and stops, never restarts, an SA actor that throws: its children and data-plane
/// state go with it, every other SA is untouched.
/// Admission, cheapest check first, each refusal counted by reason: AUTHENTICATION_FAILED back-off of the
/// source, the global half-open cap, the per-source half-open cap (block_threshold), a COOKIE above
/// cookie_threshold (stateless, so spoofed sources cost a hash and a reply, never state), and the rate of new
/// responder SAs, which bounds their DH work. Messages of existing SAs bypass all of it; the
/// <see cref="InitGate"/> in front of the mailbox bounds how many new IKE_SA_INIT requests can wait ahead of them.
/// A half-open SA lives at most half_open_timeout, so a flood's state drains by itself.
/// </summary>
public sealed partial class IkeSaSupervisor : ReceiveActor, IWithTimers
{
    private const string SweepTimer = "admission-sweep";

    /// <summary>How often half-open SAs are checked for expiry and how often a back-off is reported at most.</summary>
    private static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan ReportInterval = TimeSpan.FromSeconds(10);

    private readonly IkeSaContext _context;
    private readonly IIkeSender _sender;
    private readonly ILogger _log;
    private readonly AdmissionOptions _admission;
    private readonly CookieGuard _cookies = new();
    private readonly InitGate? _gate;
    private readonly InitRateLimiter? _rate;
    private readonly SourceAdmission _sources;
    private long? _lastBackoffReport;
    private int _unreportedBackoffs;
    private readonly IkeSaQuota _quota;
    private readonly Dictionary<ulong, IActorRef> _sas = new();
    private readonly Dictionary<IActorRef, HashSet<ulong>> _spiOf = new();
    private readonly Dictionary<(IPEndPoint Peer, ulong SpiI), ulong> _halfOpenByPeer = new();
    private readonly Dictionary<ulong, (IPEndPoint Peer, ulong SpiI, long Since)> _halfOpen = new();
    private readonly Dictionary<ulong, string> _acquiring = new();
    // Reauthentication: new IKE SA SPI -> the SPI of the IKE SA it replaces once established.
    private readonly Dictionary<ulong, ulong> _replacing = new();
    private readonly Dictionary<ulong, (string Connection, string RemoteId)> _established = new();
    private readonly Cluster.SaReplicaIndex? _replicaIndex;

    /// <param name="replicaIndex">Set on a cluster node: SAs are replicated and move between nodes (IkeSaSupervisor.Mobility.cs).</param>
    public IkeSaSupervisor(IkeSaContext context, IIkeSender sender, ILogger log, AdmissionOptions admission, InitGate? gate = null,
        Cluster.SaReplicaIndex? replicaIndex = null)
    {
        _replicaIndex = replicaIndex;
        _context = context;
        _sender = sender;
        _log = log;
        _admission = admission;
        _gate = gate;
        _rate = admission.InitRate > 0 ? new InitRateLimiter(admission.InitRate, Environment.TickCount64) : null;
        _sources = new SourceAdmission(admission);
        _quota = new IkeSaQuota(context.Limits, context.Metrics);

        Receive<IkeInbound>(Route);
        Receive<Initiate>(StartInitiator);
        Receive<Established>(m =>
        {
            RemoveHalfOpen(m.Spi);
            _acquiring.Remove(m.Spi);
            if (m.InitialContact)
            {
                // RFC 7296 §2.4: a peer that restarted replaces its old SAs at once, without a Delete exchange.
                foreach (var (spi, who) in _established)
                {
                    if (who == (m.Connection, m.RemoteId) && _sas.TryGetValue(spi, out var stale)) stale.Tell(IkeSaActor.Replace.Instance);
                }
            }
            _established[m.Spi] = (m.Connection, m.RemoteId);
        });
        Receive<ChildrenUp>(m =>
        {
            if (_replacing.Remove(m.Spi, out var replaced) && _sas.TryGetValue(replaced, out var old))
            {
                // Make-before-break: the new IKE SA and all its children are up, so the old one can go (with a Delete).
                old.Tell(IkeSaActor.DeleteIkeSa.Instance);
                _context.Metrics.CountReauth(success: true);
            }
        });
        Receive<Terminated>(m =>
        {
            _quota.Remove(m.ActorRef);
            if (!_spiOf.Remove(m.ActorRef, out var spis)) return;
            foreach (var spi in spis)
            {
                _sas.Remove(spi);
                RemoveHalfOpen(spi);
                _acquiring.Remove(spi);
                _established.Remove(spi);
                if (_replacing.Remove(spi)) _context.Metrics.CountReauth(success: false);
            }
        });
        Receive<Rekeyed>(m =>
        {
            // The same actor now also owns the successor's SPI (RFC 7296 §2.18).
            _sas[m.NewSpi] = Sender;
            if (_spiOf.TryGetValue(Sender, out var spis)) spis.Add(m.NewSpi);
        });
        Receive<Retired>(m =>
        {
            if (_sas.Remove(m.Spi) && _spiOf.TryGetValue(Sender, out var spis)) spis.Remove(m.Spi);
            if (_established.Remove(m.Spi, out var who) && _spiOf.TryGetValue(Sender, out var left) && left.Count > 0)
            {
                foreach (var spi in left) _established[spi] = who;
            }
        });
        Receive<DeleteAll>(_ =>
        {
            Log.ShuttingDown(_log, _sas.Count);
            foreach (var sa in _spiOf.Keys) sa.Tell(IkeSaActor.DeleteIkeSa.Instance);
        });
        Receive<IkeSaDown>(OnIkeSaDown);
        Receive<Sweep>(_ => ExpireHalfOpen());
        Receive<GetSaCount>(_ => Sender.Tell(_spiOf.Count));
        Receive<GetHalfOpenCount>(_ => Sender.Tell(_halfOpen.Count));
        Receive<GetSas>(_ => Sender.Tell(_spiOf.Keys.ToList()));
        StartMobility();
    }

    public static Props Props(IkeSaContext context, IIkeSender sender, ILogger log, AdmissionOptions admission, InitGate? gate = null,
        Cluster.SaReplicaIndex? replicaIndex = null) =>
        Akka.Actor.Props.Create(() => new IkeSaSupervisor(context, sender, log, admission, gate, replicaIndex));

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart()
    {
        Context.System.EventStream.Subscribe(Self, typeof(IkeSaDown));
        Timers.StartPeriodicTimer(SweepTimer, Sweep.Instance, SweepInterval);
    }

    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);

    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(ex =>
        {
            Log.IkeSaActorFailed(_log, ex, "?");
            return Directive.Stop;
        });

    private void Route(IkeInbound inbound)
    {
        if (_gate is not null && InitGate.IsInitialInitRequest(inbound.Datagram)) _gate.Leave();
        var status = IkeHeader.TryParse(inbound.Datagram, out var header);
        if (status != ParseStatus.Ok)
        {
            _context.Metrics.CountMalformed(status);
            return;
        }

        _context.Metrics.CountReceived(header.Exchange);
        if (header.Exchange == ExchangeType.IkeSaInit && header.FromInitiator && !header.IsResponse &&
            header.ResponderSpi == 0 && header.MessageId == 0)
        {
            AdmitInit(inbound, header);
            return;
        }

        ulong spi = IkeSaLineage.RecipientSpi(header);
        if (_sas.TryGetValue(spi, out var sa))
        {
            sa.Forward(inbound);
        }
        else if (Replicated && spi != 0 && (_replicaIndex!.TryGet(spi, out _) || IsFirstAuthRequest(header)))
        {
            // Another node holds (or held) this SA; it moves here, where its peer's traffic now arrives.
            Acquire(spi, inbound);
        }
        else
        {
            _context.Metrics.CountDrop(IkeDropReason.UnknownSpi);
        }
    }

    /// <summary>The IKE_AUTH request that follows IKE_SA_INIT: its half-open SA may be on another node (not replicated).</summary>
    private bool IsFirstAuthRequest(in IkeHeader header) =>
        header.Exchange == ExchangeType.IkeAuth && header.FromInitiator && !header.IsResponse && header.MessageId == 1 &&
        _acquiringSas.Count < MaxAcquiring;

    /// <summary>Concurrent acquisitions (each holds a few messages and a timer): bounds what forged SPIs can cost.</summary>
    private const int MaxAcquiring = 1000;

    private void AdmitInit(IkeInbound inbound, IkeHeader header)
    {
        if (_halfOpenByPeer.TryGetValue((inbound.Remote, header.InitiatorSpi), out var existing) && _sas.TryGetValue(existing, out var sa))
        {
            sa.Forward(inbound); // retransmitted IKE_SA_INIT: the SA answers from its response cache
            return;
        }

        var source = inbound.Remote.Address;
        long now = Environment.TickCount64;
        if (_sources.IsBlocked(source, now))
        {
            _context.Metrics.CountDrop(IkeDropReason.AuthFailedBackoff);
            return;
        }

        if (_halfOpen.Count >= _admission.MaxHalfOpen)
        {
            _context.Metrics.CountDrop(IkeDropReason.HalfOpenLimit);
            return;
        }

        if (_sources.AtBlockThreshold(source))
        {
            _context.Metrics.CountDrop(IkeDropReason.PerSourceLimit);
            return;
        }

        if (_halfOpen.Count >= _admission.CookieThreshold && !HasValidCookie(inbound, header))
        {
            return;
        }

        if (!_quota.TryAdmit(inbound.Remote.Address)) return;

        // Last, so that only requests that would otherwise become an SA spend a token.
        if (_rate is not null && !_rate.TryTake(now))
        {
            _context.Metrics.CountDrop(IkeDropReason.InitRateLimit);
            return;
        }

        ulong spi = NewSpi();
        var ikeSa = IkeSa.CreateResponder(_context, header.InitiatorSpi, spi, inbound.Local, inbound.Remote, inbound.ViaNatT);
        var actor = Context.ActorOf(IkeSaActor.Props(ikeSa, _sender, _log, ReplicationFor(1)), IkeSaActor.NameFor(spi));
        Register(spi, actor);
        _halfOpen[spi] = (inbound.Remote, header.InitiatorSpi, now);
        _sources.AddHalfOpen(source);
        _quota.Add(actor, inbound.Remote.Address);
        _halfOpenByPeer[(inbound.Remote, header.InitiatorSpi)] = spi;
        _context.Metrics.SetHalfOpen(_halfOpen.Count);
        Log.IkeSaCreated(_log, $"{spi:x16}", inbound.Remote);
        actor.Forward(inbound);
    }

    /// <summary>Stateless check; sends the COOKIE challenge and returns false when the request lacks a valid one.</summary>
    private bool HasValidCookie(IkeInbound inbound, IkeHeader header)
    {
        if (IkeCodec.TryDecode(inbound.Datagram, out var message) != ParseStatus.Ok || message!.Get<NoncePayload>() is not { } nonce)
        {
            _context.Metrics.CountMalformed(ParseStatus.InvalidSyntax);
            return false;
        }

        if (message.GetNotify(NotifyType.Cookie) is { } cookie &&
            _cookies.Verify(cookie.Data, nonce.Data, inbound.Remote.Address, header.InitiatorSpi))
        {
            return true;
        }

        _context.Metrics.CountDrop(IkeDropReason.CookieRequired);
        _context.Metrics.CountCookieSent();
        var response = CookieGuard.BuildResponse(header, _cookies.Compute(nonce.Data, inbound.Remote.Address, header.InitiatorSpi));
        _sender.Send(response, inbound.Remote, inbound.ViaNatT);
        _context.Metrics.CountSent(response);
        return false;
    }

    private void StartInitiator(Initiate m)
    {
        if (m.Acquire && _acquiring.ContainsValue(m.Connection.Name)) return;
        ulong spi = NewSpi();
        if (m.Acquire) _acquiring[spi] = m.Connection.Name;
        bool natT = m.Remote.Port == _context.NattPort;
        var local = _sender.LocalEndpointFor(m.Remote, natT);
        var ikeSa = IkeSa.CreateInitiator(_context, m.Connection, spi, local, m.Remote, m.Children, initialContact: m.Replaces == 0);
        if (m.Replaces != 0) _replacing[spi] = m.Replaces;
        var actor = Context.ActorOf(IkeSaActor.Props(ikeSa, _sender, _log, ReplicationFor(1)), IkeSaActor.NameFor(spi));
        Register(spi, actor);
        _quota.Add(actor, m.Remote.Address);
    }

    private void Register(ulong spi, IActorRef actor)
    {
        _sas[spi] = actor;
        _spiOf[actor] = [spi];
        Context.Watch(actor);
    }

    private void RemoveHalfOpen(ulong spi)
    {
        if (!_halfOpen.Remove(spi, out var entry)) return;
        _halfOpenByPeer.Remove((entry.Peer, entry.SpiI));
        _sources.RemoveHalfOpen(entry.Peer.Address);
        _context.Metrics.SetHalfOpen(_halfOpen.Count);
    }

    /// <summary>A responder that failed to authenticate its peer counts against the peer's source address.</summary>
    private void OnIkeSaDown(IkeSaDown down)
    {
        if (down.Initiator || down.Reason != CloseReason.AuthFailed || !_halfOpen.TryGetValue(down.Spi, out var entry)) return;
        long now = Environment.TickCount64;
        if (!_sources.CountAuthFailure(entry.Peer.Address, now)) return;
        if (now - _lastBackoffReport < ReportInterval.TotalMilliseconds) // null (never reported) compares false
        {
            _unreportedBackoffs++;
            return;
        }
        Log.AuthFailedBackoff(_log, entry.Peer.Address, _admission.AuthFailedBackoff.TotalSeconds, _admission.AuthFailedThreshold, _unreportedBackoffs);
        _lastBackoffReport = now;
        _unreportedBackoffs = 0;
    }

    /// <summary>charon.half_open_timeout: abandoned handshakes are stopped (the actor's PostStop zeroes their keys).</summary>
    private void ExpireHalfOpen()
    {
        long now = Environment.TickCount64;
        _sources.Sweep(now);
        long limit = (long)_admission.HalfOpenTimeout.TotalMilliseconds;
        List<ulong>? expired = null;
        foreach (var (spi, entry) in _halfOpen)
        {
            if (now - entry.Since >= limit) (expired ??= new()).Add(spi);
        }
        if (expired is null) return;
        foreach (var spi in expired)
        {
            // Removed from the books now, so the cap frees at once; Terminated finds nothing more to remove.
            if (_sas.TryGetValue(spi, out var actor)) Context.Stop(actor);
            RemoveHalfOpen(spi);
        }
        Log.HalfOpenExpired(_log, expired.Count, _admission.HalfOpenTimeout.TotalSeconds);
    }

    private ulong NewSpi()
    {
        while (true)
        {
            ulong spi = IkeSa.RandomIkeSpi();
            if (!_sas.ContainsKey(spi)) return spi;
        }
    }

    /// <summary>An IKE SA of ours is up (from its actor); InitialContact: the peer says it has no other SA with us.</summary>
    public sealed record Established(ulong Spi, string Connection = "", string RemoteId = "", bool InitialContact = false);

    /// <summary>From an initiator's IKE SA actor: the children it was started with are answered (or the wait timed out).</summary>
    public sealed record ChildrenUp(ulong Spi);

    /// <summary>From an IKE SA actor: its SA was rekeyed; route <paramref name="NewSpi"/> to it too.</summary>
    public sealed record Rekeyed(ulong NewSpi);

    /// <summary>From an IKE SA actor: its rekeyed predecessor with <paramref name="Spi"/> is gone.</summary>
    public sealed record Retired(ulong Spi);

    public sealed record GetSas
    {
        public static readonly GetSas Instance = new();
    }

    /// <summary>Asks for the number of half-open responder IKE SAs (an int).</summary>
    public sealed record GetHalfOpenCount
    {
        public static readonly GetHalfOpenCount Instance = new();
    }

    private sealed record Sweep
    {
        public static readonly Sweep Instance = new();
    }
}
