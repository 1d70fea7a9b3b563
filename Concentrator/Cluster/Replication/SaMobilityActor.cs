using System.Security.Cryptography;
using Akka.Actor;
using Akka.Cluster;
using Concentrator.Actors;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;
using Concentrator.Telemetry;

namespace Concentrator.Cluster.Replication;

/// <summary>
/// SA mobility between cluster nodes: an SA follows the node where its peer's traffic lands. A load balancer hashing the
/// UDP 5-tuple sends a peer's IKE_SA_INIT (port 500) and everything after it (port 4500 once NAT-T floated, ESP
/// included) to possibly different nodes, and moves a dead node's peers elsewhere; ESP must be processed where it
/// arrives. So when the supervisor (this actor's parent) receives IKE, or ESP, for an SA it does not hold, this actor
/// acquires the SA:
/// <list type="number">
/// <item>it asks the holder (the replica entry's owner, or every other member for a half-open SA that is not
/// replicated) to release it: the holder snapshots it, stops it without a Delete, and answers with the snapshot;</item>
/// <item>with no answer within <see cref="ReleaseWait"/> (the holder died), or when the entry is marked released
/// (handed off on leave) or names this node (it restarted), it restores the SA from the replica;</item>
/// <item>either way the restored SA is claimed under the next epoch (<see cref="SaClaimActor"/>): only when no other node
/// claimed it at that epoch or later does it go to the supervisor (<see cref="IkeSaSupervisor.AdoptSa"/>), so two nodes
/// restoring it at once never both seal with its keys; it installs its Child SAs here with the outbound sequence numbers
/// moved past anything the previous holder may have sent (<see cref="ClusterMobility.SequenceMargin"/>) and replicates
/// itself under that epoch, which fences a holder that was only slow. A lost claim of an orphan is tried again, a few
/// times, after a random pause, unless an entry under that epoch (its winner's) has arrived by then.</item>
/// </list>
/// Messages for an SA being acquired wait (a few, bounded) and go with it. Until the supervisor acknowledges an
/// adoption, messages it forwards for that SA are sent back to it (<see cref="IkeSaSupervisor.Redeliver"/>): by then the
/// SA runs there. Also the parent of this node's <see cref="SaReplicaActor"/>; writes from SA actors pass through here.
/// <para>
/// It is this node's one door for the <see cref="IClusterMessage"/>s of other nodes: a release request is passed on only
/// from a member Up other than this node, and an answer (released, refused) is taken only from a node it asked, for an
/// SA it asked about, within <see cref="LateReleaseWindow"/>. Everything else is dropped, counted
/// (<c>concentrator_cluster_messages_dropped_total{reason}</c>) and logged at most every <see cref="DropReportInterval"/>.
/// </para>
/// </summary>
public sealed class SaMobilityActor : ReceiveActor, IWithTimers
{
    /// <summary>How long a holder has to release an SA before the replica is used (it is gone or partitioned away).</summary>
    public static readonly TimeSpan ReleaseWait = TimeSpan.FromMilliseconds(400);

    /// <summary>How long to wait for the holder of a half-open SA (nothing replicated to fall back on; the peer retransmits).</summary>
    public static readonly TimeSpan HalfOpenReleaseWait = TimeSpan.FromSeconds(3);

    /// <summary>Messages held per SA while it is acquired (a retransmitting peer fills it; more are dropped).</summary>
    private const int AcquireQueue = 8;

    /// <summary>Concurrent acquisitions of half-open SAs (each holds a few messages and a timer): bounds what forged SPIs can cost.</summary>
    private const int MaxAcquiring = 1000;

    /// <summary>How long after asking a holder its release is still taken: it stopped its copy, nobody else runs the SA.</summary>
    public static readonly TimeSpan LateReleaseWindow = TimeSpan.FromSeconds(30);

    /// <summary>Dropped cluster messages are logged at most this often (anyone who reaches the port can send them).</summary>
    public static readonly TimeSpan DropReportInterval = TimeSpan.FromSeconds(10);

    /// <summary>Messages checked against a replica's keys a second at most (<see cref="MoveProof"/>: a snapshot decoded and
    /// one decryption each): what a flood of forged traffic for known SPIs can cost this node.</summary>
    public const int MaxProofChecksPerSecond = 500;

    private readonly SaReplicaIndex _index;
    private readonly IActorRef _supervisor;
    private readonly IkeSaContext _context;
    private readonly ILogger _log;
    /// <summary>Attempts at an orphan whose claim was lost to a concurrent one (both may lose).</summary>
    private const int OrphanAttempts = 3;

    private readonly Dictionary<ulong, List<IkeInbound>> _acquiring = new();
    // Restored and claimed, not yet won: nothing of them runs anywhere on this node.
    private readonly Dictionary<ulong, Claiming> _claiming = new();
    // Acquisitions of orphans (no traffic asked for them), and how often each was tried after a lost claim.
    private readonly HashSet<ulong> _orphans = new();
    private readonly Dictionary<ulong, int> _orphanAttempts = new();
    private readonly IActorRef _claims;
    // Handed to the supervisor, not yet acknowledged: what arrives for these goes back to it.
    private readonly HashSet<ulong> _handedOver = new();
    private readonly IActorRef _replica;
    private readonly string _self;
    private readonly Akka.Cluster.Cluster _cluster;
    // Releases asked for: the nodes asked that have not refused, and until when (Environment.TickCount64) an answer counts.
    private readonly Dictionary<ulong, Asked> _asked = new();
    private long _lastDropReport;
    private int _unreportedDrops;
    private long _checkWindowStart;
    private int _checksInWindow;

    public SaMobilityActor(SaReplicaIndex index, IActorRef supervisor, IkeSaContext context, ILogger log)
    {
        _index = index;
        _supervisor = supervisor;
        _context = context;
        _log = log;
        _cluster = Akka.Cluster.Cluster.Get(Context.System);
        _self = _cluster.SelfAddress.ToString();
        _replica = Context.ActorOf(SaReplicaActor.Props(index, supervisor, log), "replica");
        _claims = Context.ActorOf(SaClaimActor.Props(), "claims");

        Receive<IkeSaSupervisor.AcquireSa>(OnAcquire);
        Receive<ReleaseRequest>(OnReleaseRequest);
        Receive<Released>(OnReleased);
        Receive<ReleaseRefused>(OnRefused);
        Receive<DuplicateDelete>(m =>
        {
            // A member's unique policy (or its peer's INITIAL_CONTACT) found a duplicate this node holds.
            if (!FromOtherMember(out var from))
            {
                Drop(ClusterMessageDrop.NotMember, "duplicate deletion", from);
                return;
            }
            _supervisor.Tell(new IkeSaSupervisor.DeleteDuplicate(m.Spi, m.Silent));
        });
        Receive<IkeSaSupervisor.DeleteElsewhere>(m =>
        {
            // The owner named by a replica entry, only while it is a member Up other than this node.
            foreach (var member in _cluster.State.Members)
            {
                if (member.Status != MemberStatus.Up || member.Address.Equals(_cluster.SelfAddress) || member.Address.ToString() != m.Owner) continue;
                Context.ActorSelection(member.Address + "/user/ike/mobility").Tell(new DuplicateDelete(m.Spi, m.Silent));
                return;
            }
        });
        Receive<PruneAsked>(_ => PruneExpiredAsks());
        Receive<AcquireTimedOut>(m =>
        {
            if (!_acquiring.ContainsKey(m.Spi)) return;
            if (_index.TryGet(m.Spi, out var entry) && entry.TryCopySnapshot(out var encoded)) Complete(m.Spi, entry.Epoch, encoded);
            else Abandon(m.Spi);
        });
        Receive<IkeSaSupervisor.SaAdopted>(m => _handedOver.Remove(m.Spi));
        Receive<SaReplicaActor.Put>(m => _replica.Forward(m));
        Receive<SaReplicaActor.Remove>(m =>
        {
            _replica.Forward(m);
            _claims.Tell(new SaClaimActor.Forget(m.Spi));
        });
        Receive<SaClaimActor.ClaimResult>(OnClaimResult);
        Receive<RetryOrphan>(m =>
        {
            // Nobody won it meanwhile (no entry under the epoch claimed, or later, has arrived): this node tries again.
            if (_index.TryGet(m.Spi, out var entry) && entry.Epoch < m.Epoch) _supervisor.Tell(new IkeSaSupervisor.AdoptOrphan(m.Spi));
        });
        Receive<SaReplicaActor.WaitIdle>(m => _replica.Forward(m));
    }

    public static Props Props(SaReplicaIndex index, IActorRef supervisor, IkeSaContext context, ILogger log) =>
        Akka.Actor.Props.Create(() => new SaMobilityActor(index, supervisor, context, log));

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart() => Timers.StartPeriodicTimer("prune-asked", PruneAsked.Instance, LateReleaseWindow);

    private void OnAcquire(IkeSaSupervisor.AcquireSa m)
    {
        if (_handedOver.Contains(m.Spi))
        {
            if (m.Inbound is not null) _supervisor.Tell(new IkeSaSupervisor.Redeliver(m.Inbound));
            return;
        }

        bool known = _index.TryGet(m.Spi, out var entry);
        if (m.Inbound is not null && !known && !(m.FirstAuth && _acquiring.Count < MaxAcquiring))
        {
            _context.Metrics.CountDrop(IkeDropReason.UnknownSpi);
            return;
        }
        var waiting = _acquiring.GetValueOrDefault(m.Spi) ?? _claiming.GetValueOrDefault(m.Spi)?.Pending;
        if (waiting is not null)
        {
            // Under way already: no second check; what waits is the SA's to authenticate once it runs here.
            if (m.Inbound is not null && waiting.Count < AcquireQueue) waiting.Add(m.Inbound);
            return;
        }
        if (!m.AskHolder && m.Inbound is null && m.EspPacket is null) _orphans.Add(m.Spi);

        byte[] proof = m.Inbound?.Datagram ?? m.EspPacket ?? [];
        bool esp = m.Inbound is null;
        // Traffic moves a replicated SA only once it authenticates with the replica's keys (an orphan, with no traffic,
        // is adopted on the membership change alone). A half-open SA is not replicated: its holder checks the proof.
        if (known && (m.Inbound is not null || m.EspPacket is not null) && !Authenticated(entry, proof, esp)) return;
        Acquire(m.Spi, m.Inbound, m.AskHolder, proof, esp);
    }

    /// <summary><see cref="MoveProof"/> against the replica, within <see cref="MaxProofChecksPerSecond"/>; counted when not.</summary>
    private bool Authenticated(SaReplicaEntry entry, byte[] proof, bool esp)
    {
        long now = Environment.TickCount64;
        if (now - _checkWindowStart >= 1000)
        {
            _checkWindowStart = now;
            _checksInWindow = 0;
        }
        if (++_checksInWindow > MaxProofChecksPerSecond)
        {
            _context.Metrics.CountSaAdoption(SaAdoptionOutcome.Throttled);
            return false;
        }
        var verdict = MoveProof.Verdict.Refused;
        if (entry.TryCopySnapshot(out var encoded))
        {
            try
            {
                if (IkeSaSnapshotCodec.TryDecode(encoded, out var snapshot) == ParseStatus.Ok)
                {
                    using (snapshot) verdict = MoveProof.Check(snapshot!, proof, esp, _context.Limits.MaxPayloads);
                }
            }
            finally
            {
                CryptographicOperations.ZeroMemory(encoded);
            }
        }
        // A retransmission of the peer's last request moves the SA only away from a holder that cannot answer it.
        if (verdict == MoveProof.Verdict.Fresh || (verdict == MoveProof.Verdict.Retransmission && !HolderAnswers(entry))) return true;
        _context.Metrics.CountSaAdoption(SaAdoptionOutcome.Unauthenticated);
        return false;
    }

    /// <summary>The entry's owner is another member, Up and reachable: it took the peer's traffic until now.</summary>
    private bool HolderAnswers(SaReplicaEntry entry)
    {
        if (entry.Released || entry.Owner == _self || !ActorPath.TryParseAddress(entry.Owner, out var owner)) return false;
        var state = _cluster.State;
        foreach (var member in state.Unreachable)
        {
            if (member.Address.Equals(owner)) return false;
        }
        foreach (var member in state.Members)
        {
            if (member.Address.Equals(owner)) return member.Status == MemberStatus.Up;
        }
        return false;
    }

    /// <summary>An IKE message or ESP for <paramref name="spi"/>, which this node does not hold; <paramref name="proof"/> goes
    /// with the release request (the holder authenticates it too).</summary>
    private void Acquire(ulong spi, IkeInbound? inbound, bool askHolder, byte[] proof, bool esp)
    {

        bool known = _index.TryGet(spi, out var entry);
        if (!known && inbound is null) return;
        _acquiring[spi] = inbound is null ? [] : [inbound];
        if (known && (entry.Released || entry.Owner == _self || !askHolder))
        {
            if (entry.TryCopySnapshot(out var encoded)) Complete(spi, entry.Epoch, encoded);
            else Abandon(spi);
            return;
        }

        var release = new ReleaseRequest(spi, esp, proof);
        var asked = new HashSet<Address>();
        if (known)
        {
            if (ActorPath.TryParseAddress(entry.Owner, out var owner)) asked.Add(owner);
        }
        else
        {
            // Half-open SAs are not replicated: whichever member holds it answers, the others refuse.
            foreach (var member in _cluster.State.Members)
            {
                if (member.Status == MemberStatus.Up && !member.Address.Equals(_cluster.SelfAddress)) asked.Add(member.Address);
            }
            if (asked.Count == 0)
            {
                Abandon(spi); // alone: nobody else can hold it
                return;
            }
        }
        foreach (var node in asked) Context.ActorSelection(node + "/user/ike/mobility").Tell(release);
        _asked[spi] = new Asked(asked, Environment.TickCount64 + (long)LateReleaseWindow.TotalMilliseconds);
        Timers.StartSingleTimer(AcquireKey(spi), new AcquireTimedOut(spi), known ? ReleaseWait : HalfOpenReleaseWait);
    }

    /// <summary>Another node receives the peer's traffic of an SA that may be ours: the supervisor has its actor answer.</summary>
    private void OnReleaseRequest(ReleaseRequest m)
    {
        if (!FromOtherMember(out var from))
        {
            Drop(ClusterMessageDrop.NotMember, "release request", from);
            return;
        }
        _supervisor.Tell(new IkeSaSupervisor.ReleaseSa(m.Spi, Sender, m.Proof, m.EspProof));
    }

    /// <summary>A node this one asked released the SA (a late answer too: its holder has let go, nobody else runs it).</summary>
    private void OnReleased(Released m)
    {
        if (!IsAnswer(m.Spi, "release", out _)) return;
        _asked.Remove(m.Spi);
        Complete(m.Spi, m.Epoch, m.Snapshot, late: true);
    }

    /// <summary>A node this one asked does not hold the SA, or did not authenticate the proof: once every node asked
    /// refused, the acquisition ends (the SA stays where it is; the peer's next message asks again).</summary>
    private void OnRefused(ReleaseRefused m)
    {
        if (!IsAnswer(m.Spi, "release refusal", out var from)) return;
        var asked = _asked[m.Spi];
        asked.Nodes.Remove(from);
        if (asked.Nodes.Count > 0) return;
        _asked.Remove(m.Spi);
        if (!_acquiring.ContainsKey(m.Spi)) return;
        Timers.Cancel(AcquireKey(m.Spi));
        // The holder the replica names let it go (to another node, or that node died since): the replica is restored,
        // and the claim settles it against whoever else runs it.
        if (!m.Held && _index.TryGet(m.Spi, out var entry) && entry.Owner == from.ToString() && entry.TryCopySnapshot(out var encoded))
        {
            Complete(m.Spi, entry.Epoch, encoded);
            return;
        }
        _context.Metrics.CountSaAdoption(SaAdoptionOutcome.Refused);
        Abandon(m.Spi);
    }

    /// <summary>The sender is a member Up and not this node. Remote senders are what the association (authenticated by
    /// TLS beyond loopback) claims; a message without a sender has this node's dead letters as one, never a member.</summary>
    private bool FromOtherMember(out Address from)
    {
        from = Sender.Path.Address;
        if (from.Equals(_cluster.SelfAddress)) return false;
        foreach (var member in _cluster.State.Members)
        {
            if (member.Address.Equals(from)) return member.Status == MemberStatus.Up;
        }
        return false;
    }

    /// <summary>An answer from a member this node asked about <paramref name="spi"/>, in time; anything else is dropped.</summary>
    private bool IsAnswer(ulong spi, string what, out Address from)
    {
        if (!FromOtherMember(out from))
        {
            Drop(ClusterMessageDrop.NotMember, what, from);
            return false;
        }
        if (!_asked.TryGetValue(spi, out var asked) || asked.Until < Environment.TickCount64 || !asked.Nodes.Contains(from))
        {
            Drop(ClusterMessageDrop.Unrequested, what, from);
            return false;
        }
        return true;
    }

    private void Drop(ClusterMessageDrop reason, string what, Address from)
    {
        _context.Metrics.CountClusterMessageDropped(reason);
        long now = Environment.TickCount64;
        if (_lastDropReport != 0 && now - _lastDropReport < DropReportInterval.TotalMilliseconds)
        {
            _unreportedDrops++;
            return;
        }
        Log.ClusterMessageDropped(_log, what, from.ToString(), ConcentratorMetrics.ClusterDropReasons[(int)reason], _unreportedDrops);
        _lastDropReport = now;
        _unreportedDrops = 0;
    }

    private void PruneExpiredAsks()
    {
        long now = Environment.TickCount64;
        List<ulong>? expired = null;
        foreach (var (spi, asked) in _asked)
        {
            if (asked.Until < now) (expired ??= []).Add(spi);
        }
        foreach (var spi in expired ?? []) _asked.Remove(spi);
    }

    /// <summary>Restores the SA from <paramref name="encoded"/> (a copy of this actor's: zeroed here, as is the decoded
    /// snapshot) and hands it to the supervisor.</summary>
    private void Complete(ulong spi, long epoch, byte[] encoded, bool late = false)
    {
        try
        {
            Restore(spi, epoch, encoded, late);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(encoded);
        }
    }

    private void Restore(ulong spi, long epoch, byte[] encoded, bool late)
    {
        if (_claiming.ContainsKey(spi)) return; // restored already, its claim under way
        if (!_acquiring.Remove(spi, out var pending))
        {
            if (!late) return;
            pending = [];
        }
        Timers.Cancel(AcquireKey(spi));
        var status = IkeSaSnapshotCodec.TryDecode(encoded, out var snapshot);
        if (status != ParseStatus.Ok || snapshot is null || snapshot.OurSpi != spi)
        {
            snapshot?.Dispose();
            _context.Metrics.CountSaAdoption(SaAdoptionOutcome.Failed);
            Log.SaAdoptionFailed(_log, $"{spi:x16}", status == ParseStatus.Ok ? "the snapshot names another SA" : $"snapshot does not decode ({status})");
            return;
        }

        IkeSa? sa;
        using (snapshot)
        {
            sa = IkeSaSnapshotter.Restore(_context, snapshot, ClusterMobility.SequenceMargin);
        }
        if (sa is null)
        {
            // Its connection or algorithms are not this node's: the peer will have to negotiate again.
            _context.Metrics.CountSaAdoption(SaAdoptionOutcome.Failed);
            Log.SaAdoptionFailed(_log, $"{spi:x16}", "its connection or algorithms are not in this node's configuration");
            return;
        }
        // Nothing of it runs until the claim is won: no Child SA installed, no packet sealed, no IKE message sent.
        _claiming[spi] = new Claiming(sa, epoch + 1, pending, _orphans.Remove(spi));
        _claims.Tell(new SaClaimActor.Claim(spi, epoch + 1));
    }

    private void OnClaimResult(SaClaimActor.ClaimResult m)
    {
        if (!_claiming.TryGetValue(m.Spi, out var c) || c.Epoch != m.Epoch) return;
        _claiming.Remove(m.Spi);
        if (m.Won)
        {
            _orphanAttempts.Remove(m.Spi);
            _handedOver.Add(m.Spi);
            _supervisor.Tell(new IkeSaSupervisor.AdoptSa(c.Sa, c.Epoch, c.Pending));
            return;
        }
        c.Sa.Dispose();
        _context.Metrics.CountSaAdoption(SaAdoptionOutcome.Contended);
        Log.SaAdoptionFailed(_log, $"{m.Spi:x16}", $"another node claimed it under epoch {m.Epoch} or later");
        if (c.Pending.Count > 0) _context.Metrics.CountDrop(IkeDropReason.UnknownSpi);
        int attempts = _orphanAttempts.GetValueOrDefault(m.Spi);
        if (!c.Orphan || attempts >= OrphanAttempts)
        {
            _orphanAttempts.Remove(m.Spi);
            return;
        }
        _orphanAttempts[m.Spi] = attempts + 1;
        // Two losers of one round try again at different moments: one of them usually finds the SA unclaimed.
        Timers.StartSingleTimer($"orphan-{m.Spi:x16}", new RetryOrphan(m.Spi, m.Epoch), TimeSpan.FromMilliseconds(Random.Shared.Next(100, 600)));
    }


    private void Abandon(ulong spi)
    {
        _orphans.Remove(spi);
        if (!_acquiring.Remove(spi, out var pending)) return;
        if (pending.Count > 0) _context.Metrics.CountDrop(IkeDropReason.UnknownSpi);
    }

    private static string AcquireKey(ulong spi) => $"acquire-{spi:x16}";

    private sealed record AcquireTimedOut(ulong Spi);

    private sealed record RetryOrphan(ulong Spi, long Epoch);

    /// <summary>A restored SA waiting for its claim under <paramref name="Epoch"/>, with the messages that arrived for it.</summary>
    private sealed record Claiming(IkeSa Sa, long Epoch, List<IkeInbound> Pending, bool Orphan);

    private sealed record PruneAsked
    {
        public static readonly PruneAsked Instance = new();
    }

    /// <summary>The nodes asked for a release that have not refused it, and until when their answer is taken.</summary>
    private sealed record Asked(HashSet<Address> Nodes, long Until);
}
