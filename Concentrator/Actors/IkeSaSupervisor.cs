using System.Net;
using Akka.Actor;
using Concentrator.Ike.Admission;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;
using Concentrator.Telemetry;
using Concentrator.Transport;

namespace Concentrator.Actors;

/// <summary>
/// Parent of every IKE SA actor. Routes each IKE datagram by the SPI we chose (<see cref="IkeSaLineage.RecipientSpi"/>),
/// admits new IKE_SA_INIT requests through the <see cref="AdmissionPolicy"/>, spawns initiators, and stops, never
/// restarts, an SA actor that throws: its children and data-plane state go with it, every other SA is untouched. Its
/// books are the <see cref="SaDirectory"/>. Messages of existing SAs bypass admission; the <see cref="InitGate"/> in
/// front of the mailbox bounds how many new IKE_SA_INIT requests can wait ahead of them. A half-open SA lives at most
/// half_open_timeout, so a flood's state drains by itself. On a cluster node the mobility actor (a child, from
/// <see cref="IClusterMobility"/>) acquires SAs whose traffic arrives here while another node holds them.
/// </summary>
public sealed partial class IkeSaSupervisor : ReceiveActor, IWithTimers
{
    private const string SweepTimer = "sweep";

    /// <summary>How often half-open SAs are checked against half_open_timeout, and how often an auth-failure back-off is reported at most.</summary>
    private static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan ReportInterval = TimeSpan.FromSeconds(10);

    private readonly IkeSaContext _context;
    private readonly IIkeSender _sender;
    private readonly ILogger _log;
    private readonly AdmissionPolicy _admission;
    private readonly InitGate? _gate;
    private readonly IClusterMobility? _cluster;
    private readonly SaDirectory _directory = new();
    private IActorRef? _mobility;
    private long? _lastBackoffReport;
    private int _unreportedBackoffs;
    // swanctl's #N: numbers the tunnels of this node in the order they were spawned (adopted ones included).
    private long _lastUniqueId;

    /// <param name="cluster">Set on a cluster node: SAs are replicated and move between nodes.</param>
    public IkeSaSupervisor(IkeSaContext context, IIkeSender sender, ILogger log, AdmissionOptions admission, InitGate? gate = null,
        IClusterMobility? cluster = null)
    {
        _context = context;
        _sender = sender;
        _log = log;
        _gate = gate;
        _cluster = cluster;
        _admission = new AdmissionPolicy(admission, context.Limits, context.Metrics);

        Receive<IkeInbound>(Route);
        Receive<Initiate>(StartInitiator);
        Receive<Established>(OnEstablished);
        Receive<CheckUnique>(OnCheckUnique);
        Receive<ChildrenUp>(m =>
        {
            ulong replaced = _directory.TakeReplaced(m.Spi);
            if (replaced != 0 && _directory.TryGet(replaced, out var old))
            {
                // Make-before-break: the new IKE SA and all its children are up, so the old one can go (with a Delete).
                old.Tell(IkeSaActor.DeleteIkeSa.Instance);
                _context.Metrics.CountReauth(success: true);
            }
        });
        Receive<Terminated>(m =>
        {
            _admission.Quota.Remove(m.ActorRef);
            for (int failed = _directory.Remove(m.ActorRef, HalfOpenRemoved); failed > 0; failed--) _context.Metrics.CountReauth(success: false);
        });
        // The same actor now also owns the successor's SPI (RFC 7296 §2.18).
        Receive<Rekeyed>(m => _directory.AddSpi(Sender, m.NewSpi));
        Receive<Retired>(m => _directory.RetireSpi(Sender, m.Spi));
        Receive<ChildInstalled>(m => _directory.AddChild(m.InboundSpi, Sender));
        Receive<ChildUninstalled>(m => _directory.RemoveChild(m.InboundSpi, Sender));
        // Authenticated, new ESP from another address (the data plane checked it): the owning IKE SA decides whether to follow.
        Receive<EspPeerMoved>(m =>
        {
            if (_directory.TryGetChildOwner(m.InboundSpi, out var owner)) owner.Tell(new IkeSaActor.EspFromNewAddress(m.InboundSpi, m.From));
        });
        Receive<DeleteAll>(_ =>
        {
            Log.ShuttingDown(_log, _directory.SpiCount);
            foreach (var sa in _directory.Actors) sa.Tell(IkeSaActor.DeleteIkeSa.Instance);
        });
        Receive<IkeSaDown>(OnIkeSaDown);
        Receive<Sweep>(_ => ExpireHalfOpen());
        Receive<GetSaCount>(_ => Sender.Tell(_directory.ActorCount));
        Receive<GetHalfOpenCount>(_ => Sender.Tell(_directory.HalfOpenCount));
        Receive<GetSas>(_ => Sender.Tell(_directory.Actors.ToList()));
        ReceiveMobility();
        ReceiveV1();
    }

    public static Props Props(IkeSaContext context, IIkeSender sender, ILogger log, AdmissionOptions admission, InitGate? gate = null,
        IClusterMobility? cluster = null) =>
        Akka.Actor.Props.Create(() => new IkeSaSupervisor(context, sender, log, admission, gate, cluster));

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart()
    {
        Context.System.EventStream.Subscribe(Self, typeof(IkeSaDown));
        Timers.StartPeriodicTimer(SweepTimer, Sweep.Instance, SweepInterval);
        if (_cluster is not null) _mobility = Context.ActorOf(_cluster.MobilityProps(Self), "mobility");
    }

    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);

    protected override SupervisorStrategy SupervisorStrategy() => new StopAndLogOnce(_log);

    /// <summary>Stops a failed SA actor and logs the failure once, under our event ID and with the actor's name (its SPI);
    /// Akka's own failure log would repeat the same stack trace under another category.</summary>
    private sealed class StopAndLogOnce(ILogger log) : OneForOneStrategy(_ => Directive.Stop)
    {
        protected override void LogFailure(IActorContext context, IActorRef child, Exception cause, Directive directive) =>
            Log.IkeSaActorFailed(log, cause, child.Path.Name);
    }

    private void Route(IkeInbound inbound)
    {
        bool initial = InitGate.IsInitialInitRequest(inbound.Header);
        if (initial) _gate?.Leave();
        _context.Metrics.CountReceived(inbound.Header.Exchange);
        if (initial) AdmitInit(inbound);
        else RouteToHolder(inbound);
    }

    private void RouteToHolder(IkeInbound inbound)
    {
        var header = inbound.Header;
        ulong spi = IkeSaLineage.RecipientSpi(header);
        if (_directory.TryGet(spi, out var sa))
        {
            sa.Forward(inbound);
        }
        else if (_mobility is not null && spi != 0)
        {
            // Another node may hold (or have held) this SA; it moves here, where its peer's traffic now arrives.
            _mobility.Tell(new AcquireSa(spi, inbound, IsFirstAuthRequest(header)));
        }
        else
        {
            _context.Metrics.CountDrop(IkeDropReason.UnknownSpi);
        }
    }

    /// <summary>The IKE_AUTH request that follows IKE_SA_INIT: its half-open SA may be on another node (not replicated).</summary>
    private static bool IsFirstAuthRequest(in IkeHeader header) =>
        header.Exchange == ExchangeType.IkeAuth && header.FromInitiator && !header.IsResponse && header.MessageId == 1;

    private void AdmitInit(IkeInbound inbound)
    {
        var header = inbound.Header;
        if (_directory.TryGetHalfOpenOf(inbound.Remote, header.InitiatorSpi, out var existing) && _directory.TryGet(existing, out var sa))
        {
            sa.Forward(inbound); // retransmitted IKE_SA_INIT: the SA answers from its response cache
            return;
        }

        long now = Environment.TickCount64;
        var decision = _admission.Decide(header, inbound.Datagram, inbound.Remote, _directory.HalfOpenCount, now);
        if (decision.Verdict == AdmissionVerdict.Challenge)
        {
            _sender.Send(decision.CookieResponse!, inbound.Remote, inbound.ViaNatT);
            _context.Metrics.CountSent(decision.CookieResponse);
        }
        if (decision.Verdict != AdmissionVerdict.Admit) return;

        ulong spi = NewSpi();
        var ikeSa = IkeSa.CreateResponder(_context, header.InitiatorSpi, spi, inbound.Local, inbound.Remote, inbound.ViaNatT);
        var actor = Spawn(spi, ikeSa, epoch: 1);
        AddHalfOpen(spi, inbound.Remote, header.InitiatorSpi, now, decision.Proven);
        if (_log.IsEnabled(LogLevel.Debug)) Log.IkeSaCreated(_log, $"{spi:x16}", inbound.Remote);
        actor.Forward(inbound);
    }

    private void StartInitiator(Initiate m)
    {
        if (m.Acquire && _directory.IsAcquiring(m.Connection.Name)) return;
        if (m.Connection.Version == 1) { StartV1Initiator(m); return; }
        ulong spi = NewSpi();
        if (m.Acquire) _directory.TryStartAcquire(spi, m.Connection.Name);
        bool natT = m.Remote.Port == _context.NattPort;
        var local = _sender.LocalEndpointFor(m.Remote, natT);
        // strongSwan's initiator sends no INITIAL_CONTACT when its own unique policy is never (nor when reauthenticating).
        var ikeSa = IkeSa.CreateInitiator(_context, m.Connection, spi, local, m.Remote, m.Children,
            initialContact: m.Replaces == 0 && m.Connection.Unique != UniquePolicy.Never);
        if (m.Replaces != 0) _directory.Replacing(spi, m.Replaces);
        Spawn(spi, ikeSa, epoch: 1);
    }

    /// <summary>Starts the actor of a new (or adopted) SA under our SPI, watched and counted against the quota.</summary>
    private IActorRef Spawn(ulong spi, IkeSa sa, long epoch)
    {
        var replication = _mobility is null ? null : _cluster!.For(_mobility, epoch);
        var actor = Context.ActorOf(IkeSaActor.Props(sa, _sender, _log, replication, _cluster?.SequenceMargin ?? 0, ++_lastUniqueId),
            IkeSaActor.NameFor(spi));
        _directory.Register(spi, actor);
        Context.Watch(actor);
        _admission.Quota.Add(actor, sa.RemoteEndpoint.Address);
        return actor;
    }

    /// <param name="proven">Admitted with a valid COOKIE; an adopted SA's peer has its IKE_SA_INIT response, so it is too.</param>
    private void AddHalfOpen(ulong spi, System.Net.IPEndPoint peer, ulong spiI, long now, bool proven = true)
    {
        _directory.AddHalfOpen(spi, peer, spiI, now, proven);
        _admission.Sources.AddHalfOpen(peer.Address, proven);
        _context.Metrics.SetHalfOpen(_directory.HalfOpenCount);
    }

    private void RemoveHalfOpen(ulong spi)
    {
        if (_directory.RemoveHalfOpen(spi) is { } entry) HalfOpenRemoved(entry);
    }

    private void HalfOpenRemoved(SaDirectory.HalfOpenSa entry)
    {
        _admission.Sources.RemoveHalfOpen(entry.Peer.Address, entry.Proven);
        _context.Metrics.SetHalfOpen(_directory.HalfOpenCount);
    }

    private void OnEstablished(Established m)
    {
        RemoveHalfOpen(m.Spi);
        var user = new SaDirectory.SaUser(m.Connection, m.LocalId, m.User, m.Remote ?? new IPEndPoint(IPAddress.None, 0));
        if (m.InitialContact && m.Unique != UniquePolicy.Never && m.User.Length > 0)
        {
            // RFC 7296 §2.4: a peer that restarted replaces its old SAs at once, without a Delete exchange; strongSwan's
            // check_uniqueness with INITIAL_CONTACT, whatever the connection of the duplicate.
            foreach (var (spi, stale, _) in _directory.DuplicatesOf(user, except: Sender))
            {
                stale.Tell(IkeSaActor.Replace.Instance);
                _context.Metrics.CountUnique(UniqueRules.Name(m.Unique), UniqueOutcome.InitialContact);
                Log.UniqueReplaced(_log, $"{spi:x16}", m.User, m.Connection, "INITIAL_CONTACT");
            }
            foreach (var remote in Elsewhere(user))
            {
                _mobility!.Tell(new DeleteElsewhere(remote.Owner, remote.Spi, Silent: true));
                _context.Metrics.CountUnique(UniqueRules.Name(m.Unique), UniqueOutcome.InitialContact);
                Log.UniqueRemoteDuplicate(_log, $"{remote.Spi:x16}", m.User, remote.Owner, "close it (INITIAL_CONTACT)");
            }
        }
        _directory.Established(m.Spi, user);
    }

    /// <summary>
    /// strongSwan's check_uniqueness for unique keep and replace, asked by an IKE_AUTH that authenticated its peer and waits
    /// for the answer: duplicates of the same connection that are established; replace deletes them with their peer (one
    /// from the new SA's own address after <see cref="UniqueRules.ReauthDelay"/>: a suspected reauthentication), keep
    /// refuses the new SA when one is from another address and deletes any further ones.
    /// </summary>
    private void OnCheckUnique(CheckUnique m)
    {
        var user = new SaDirectory.SaUser(m.Connection, m.LocalId, m.User, m.Remote);
        var policy = m.Policy;
        bool refuse = false;
        foreach (var (spi, duplicate, who) in _directory.DuplicatesOf(user, except: Sender))
        {
            if (who.Connection != m.Connection) continue;
            if (policy == UniquePolicy.Keep)
            {
                if (who.Remote.Equals(m.Remote)) continue; // a reauthentication from the same address: allowed
                refuse = true;
                // strongSwan keeps the first duplicate and deletes all others that might exist.
                policy = UniquePolicy.Replace;
                continue;
            }
            string name = UniqueRules.Name(m.Policy);
            if (who.Remote.Equals(m.Remote))
            {
                Context.System.Scheduler.ScheduleTellOnce(UniqueRules.ReauthDelay, duplicate, IkeSaActor.DeleteIkeSa.Instance, Self);
                _context.Metrics.CountUnique(name, UniqueOutcome.DeletedAfterReauth);
                Log.UniqueReplaced(_log, $"{spi:x16}", m.User, m.Connection, "suspected reauthentication, deleting it in 10 s");
            }
            else
            {
                duplicate.Tell(IkeSaActor.DeleteIkeSa.Instance);
                _context.Metrics.CountUnique(name, UniqueOutcome.Deleted);
                Log.UniqueReplaced(_log, $"{spi:x16}", m.User, m.Connection, $"a new login from {m.Remote}");
            }
        }
        // The other members' SAs of the user, from their replicas: the same rules, carried out by their holders.
        foreach (var remote in Elsewhere(user))
        {
            if (remote.Connection != m.Connection) continue;
            if (policy == UniquePolicy.Keep)
            {
                if (remote.Remote.Equals(m.Remote)) continue;
                refuse = true;
                policy = UniquePolicy.Replace;
                continue;
            }
            var ask = new DeleteElsewhere(remote.Owner, remote.Spi, Silent: false);
            bool reauth = remote.Remote.Equals(m.Remote);
            if (reauth) Context.System.Scheduler.ScheduleTellOnce(UniqueRules.ReauthDelay, _mobility, ask, Self);
            else _mobility!.Tell(ask);
            _context.Metrics.CountUnique(UniqueRules.Name(m.Policy), reauth ? UniqueOutcome.DeletedAfterReauth : UniqueOutcome.Deleted);
            Log.UniqueRemoteDuplicate(_log, $"{remote.Spi:x16}", m.User, remote.Owner, reauth ? "delete it in 10 s (suspected reauthentication)" : "delete it");
        }
        if (refuse)
        {
            _context.Metrics.CountUnique(UniqueRules.Name(m.Policy), UniqueOutcome.Refused);
            Log.UniqueRefused(_log, $"{m.Spi:x16}", m.User, m.Connection, m.Remote);
        }
        Sender.Tell(new IkeSaActor.UniqueChecked(m.Spi, refuse));
    }

    /// <summary>The user's SAs other members hold (none without a cluster), except any this node holds itself meanwhile.</summary>
    private IEnumerable<RemoteSaUser> Elsewhere(SaDirectory.SaUser user) =>
        _cluster is null || _mobility is null || user.User.Length == 0
            ? []
            : _cluster.UsersElsewhere(user.LocalId, user.User, user.Remote.AddressFamily).Where(r => !_directory.Holds(r.Spi));

    /// <summary>A responder that failed to authenticate its peer counts against the peer's source address.</summary>
    private void OnIkeSaDown(IkeSaDown down)
    {
        if (down.Initiator || down.Reason != CloseReason.AuthFailed || !_directory.TryGetHalfOpen(down.Spi, out var entry)) return;
        long now = Environment.TickCount64;
        if (!_admission.Sources.CountAuthFailure(entry.Peer.Address, now)) return;
        if (now - _lastBackoffReport < ReportInterval.TotalMilliseconds) // null (never reported) compares false
        {
            _unreportedBackoffs++;
            return;
        }
        Log.AuthFailedBackoff(_log, entry.Peer.Address, _admission.Options.AuthFailedBackoff.TotalSeconds, _admission.Options.AuthFailedThreshold,
            _unreportedBackoffs);
        _lastBackoffReport = now;
        _unreportedBackoffs = 0;
    }

    /// <summary>charon.half_open_timeout: abandoned handshakes are stopped (the actor's PostStop zeroes their keys).</summary>
    private void ExpireHalfOpen()
    {
        long now = Environment.TickCount64;
        _admission.Sources.Sweep(now);
        var expired = _directory.ExpiredHalfOpen(now, (long)_admission.Options.HalfOpenTimeout.TotalMilliseconds);
        if (expired is null) return;
        foreach (var spi in expired)
        {
            // Removed from the books now, so the cap frees at once; Terminated finds nothing more to remove.
            if (_directory.TryGet(spi, out var actor)) Context.Stop(actor);
            RemoveHalfOpen(spi);
        }
        Log.HalfOpenExpired(_log, expired.Count, _admission.Options.HalfOpenTimeout.TotalSeconds);
    }

    private ulong NewSpi()
    {
        while (true)
        {
            ulong spi = IkeSa.RandomIkeSpi();
            if (!_directory.Holds(spi)) return spi;
        }
    }

    // ---- Cluster SA mobility: what the mobility actor (Cluster/Replication) and other nodes ask of this node's books ----

    private void ReceiveMobility()
    {
        Receive<EspMiss>(m =>
        {
            if (_mobility is not null && !_directory.Holds(m.IkeSpi)) _mobility.Tell(new AcquireSa(m.IkeSpi, null, FirstAuth: false, EspPacket: m.Packet));
        });
        Receive<AdoptOrphan>(m =>
        {
            if (_mobility is not null && !_directory.Holds(m.Spi)) _mobility.Tell(new AcquireSa(m.Spi, null, FirstAuth: false, AskHolder: false));
        });
        Receive<ReleaseSa>(m =>
        {
            // Another node receives this SA's traffic now (the mobility actor checked it is a member); the SA's actor
            // answers the requester itself, and a node that does not hold it says so.
            if (_directory.TryGet(m.Spi, out var sa)) sa.Tell(new IkeSaActor.Release(m.Requester, m.Proof, m.EspProof));
            else _cluster?.RefuseRelease(m.Requester, m.Spi);
        });
        Receive<AdoptSa>(Adopt);
        Receive<DeleteDuplicate>(m =>
        {
            if (_directory.TryGet(m.Spi, out var sa)) sa.Tell(m.Silent ? IkeSaActor.Replace.Instance : IkeSaActor.DeleteIkeSa.Instance);
        });
        Receive<Redeliver>(m => RouteToHolder(m.Inbound));
        Receive<Fence>(m =>
        {
            // Another node adopted this SA under a newer epoch: ours must stop without telling the peer.
            if (_directory.TryGet(m.Spi, out var sa)) sa.Tell(IkeSaActor.StopSilently.Instance);
        });
        Receive<ReplicateAll>(_ =>
        {
            foreach (var sa in _directory.Actors) sa.Tell(IkeSaActor.ReplicateNow.Instance);
        });
        Receive<HandOffAll>(_ =>
        {
            Log.HandingOff(_log, _directory.ActorCount);
            foreach (var sa in _directory.Actors) sa.Tell(IkeSaActor.HandOff.Instance);
        });
    }

    /// <summary>The mobility actor restored an SA: it runs here from now on, unless this node already holds it.</summary>
    private void Adopt(AdoptSa m)
    {
        var sa = m.Sa;
        ulong spi = sa.OurSpi;
        // Acknowledged first: messages for this SPI that reach the mobility actor after the acknowledgement are new.
        Sender.Tell(new SaAdopted(spi));
        if (_directory.Holds(spi))
        {
            sa.Dispose();
            return;
        }

        sa.LocalEndpoint = _sender.LocalEndpointFor(sa.RemoteEndpoint, sa.NatT);
        var actor = Spawn(spi, sa, m.Epoch);
        if (sa.State != IkeSaState.Established) AddHalfOpen(spi, sa.RemoteEndpoint, sa.SpiI, Environment.TickCount64);
        _context.Metrics.CountSaAdoption(SaAdoptionOutcome.Adopted);
        Log.SaAdopted(_log, $"{spi:x16}", m.Epoch, sa.Children.Count);
        foreach (var message in m.Pending) actor.Tell(message);
    }

    /// <summary>An IKE SA of ours is up (from its actor); InitialContact: the peer says it has no other SA with us.
    /// <paramref name="User"/>: the EAP identity, else the IKE identity; with <paramref name="LocalId"/> what makes two SAs
    /// duplicates. <paramref name="Unique"/>: the connection's policy (never ignores INITIAL_CONTACT).</summary>
    public sealed record Established(ulong Spi, string Connection = "", string RemoteId = "", bool InitialContact = false,
        string LocalId = "", string User = "", IPEndPoint? Remote = null, UniquePolicy Unique = UniquePolicy.No);

    /// <summary>From an IKE SA actor whose IKE_AUTH waits (<see cref="CheckUniqueness"/>): look for the duplicates of this
    /// login; the answer is <see cref="IkeSaActor.UniqueChecked"/>.</summary>
    public sealed record CheckUnique(ulong Spi, UniquePolicy Policy, string Connection, string LocalId, string User, IPEndPoint Remote);

    /// <summary>From an initiator's IKE SA actor: the children it was started with are answered (or the wait timed out).</summary>
    public sealed record ChildrenUp(ulong Spi);

    /// <summary>From an IKE SA actor: its SA was rekeyed; route <paramref name="NewSpi"/> to it too.</summary>
    public sealed record Rekeyed(ulong NewSpi);

    /// <summary>From an IKE SA actor: its rekeyed predecessor with <paramref name="Spi"/> is gone.</summary>
    public sealed record Retired(ulong Spi);

    /// <summary>From an IKE SA actor: it installed the Child SA with this inbound SPI in the data plane.</summary>
    public sealed record ChildInstalled(uint InboundSpi);

    /// <summary>From an IKE SA actor: the Child SA left the data plane.</summary>
    public sealed record ChildUninstalled(uint InboundSpi);

    /// <summary>From the data plane (<c>IPeerMovedSource</c>): authenticated, new ESP of the Child SA came from <paramref name="From"/>.</summary>
    public sealed record EspPeerMoved(uint InboundSpi, IPEndPoint From);

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

    /// <summary>From the data plane (rate-limited per SPI): ESP arrived for a replicated IKE SA this node does not hold;
    /// <paramref name="Packet"/> is a copy of it from its SPI on (what must authenticate before the SA moves).</summary>
    public sealed record EspMiss(ulong IkeSpi, byte[] Packet);

    /// <summary>From the replica: a member holding <paramref name="Spi"/> left; this node was picked to adopt it.</summary>
    public sealed record AdoptOrphan(ulong Spi);

    /// <summary>From the replica: another node holds <paramref name="Spi"/> under a newer epoch; stop ours silently.</summary>
    public sealed record Fence(ulong Spi);

    /// <summary>From the mobility actor: a member asks for the SA (its peer's traffic reaches that node now) with the
    /// peer's message as <paramref name="Proof"/>; the SA's actor answers <paramref name="Requester"/>.</summary>
    public sealed record ReleaseSa(ulong Spi, IActorRef Requester, byte[] Proof, bool EspProof);

    /// <summary>From the replica: a second member came Up; every SA, not replicated while this node was alone, is now.</summary>
    public sealed record ReplicateAll
    {
        public static readonly ReplicateAll Instance = new();
    }

    /// <summary>Leaving the cluster: every SA is replicated as released and stopped without a Delete.</summary>
    public sealed record HandOffAll
    {
        public static readonly HandOffAll Instance = new();
    }

    /// <summary>To the mobility actor: traffic (or an orphan) for <paramref name="Spi"/>, which this node does not hold: an
    /// IKE message (<paramref name="Inbound"/>) or an ESP packet (<paramref name="EspPacket"/>), or neither for an orphan.
    /// <paramref name="FirstAuth"/>: the IKE_AUTH after IKE_SA_INIT, whose half-open SA is not replicated;
    /// <paramref name="AskHolder"/>: false when the replica is to be restored without asking its holder.</summary>
    public sealed record AcquireSa(ulong Spi, IkeInbound? Inbound, bool FirstAuth, bool AskHolder = true, byte[]? EspPacket = null);

    /// <summary>From the mobility actor: run this restored SA (epoch: its ownership here) and deliver what waited for it.</summary>
    public sealed record AdoptSa(IkeSa Sa, long Epoch, IReadOnlyList<IkeInbound> Pending);

    /// <summary>To the mobility actor: the adoption of <paramref name="Spi"/> was handled (spawned, or it was held already).</summary>
    public sealed record SaAdopted(ulong Spi);

    /// <summary>From the mobility actor: a member's unique policy found SA <paramref name="Spi"/> of ours a duplicate; delete
    /// it with its peer, or close it silently (<paramref name="Silent"/>: the new SA's peer sent INITIAL_CONTACT).</summary>
    public sealed record DeleteDuplicate(ulong Spi, bool Silent);

    /// <summary>To the mobility actor: ask member <paramref name="Owner"/> to delete its SA <paramref name="Spi"/>, a duplicate.</summary>
    public sealed record DeleteElsewhere(string Owner, ulong Spi, bool Silent);

    /// <summary>From the mobility actor: a message that arrived while its SA's adoption was on the way here.</summary>
    public sealed record Redeliver(IkeInbound Inbound);
}
