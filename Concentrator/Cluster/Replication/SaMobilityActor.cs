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
/// <item>either way the restored SA goes to the supervisor (<see cref="IkeSaSupervisor.AdoptSa"/>), installs its Child
/// SAs here with the outbound sequence numbers moved past anything the previous holder may have sent
/// (<see cref="ClusterMobility.SequenceMargin"/>) and replicates itself under a higher epoch, which fences a holder that
/// was only slow.</item>
/// </list>
/// Messages for an SA being acquired wait (a few, bounded) and go with it. Until the supervisor acknowledges an
/// adoption, messages it forwards for that SA are sent back to it (<see cref="IkeSaSupervisor.Redeliver"/>): by then the
/// SA runs there. Also the parent of this node's <see cref="SaReplicaActor"/>; writes from SA actors pass through here.
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

    private readonly SaReplicaIndex _index;
    private readonly IActorRef _supervisor;
    private readonly IkeSaContext _context;
    private readonly ILogger _log;
    private readonly Dictionary<ulong, List<IkeInbound>> _acquiring = new();
    // Handed to the supervisor, not yet acknowledged: what arrives for these goes back to it.
    private readonly HashSet<ulong> _handedOver = new();
    private readonly IActorRef _replica;
    private readonly string _self;

    public SaMobilityActor(SaReplicaIndex index, IActorRef supervisor, IkeSaContext context, ILogger log)
    {
        _index = index;
        _supervisor = supervisor;
        _context = context;
        _log = log;
        _self = SaReplicaActor.SelfOwner(Context.System);
        _replica = Context.ActorOf(SaReplicaActor.Props(index, supervisor, log), "replica");

        Receive<IkeSaSupervisor.AcquireSa>(OnAcquire);
        // A release that comes after the wait ended is still taken: its holder has let go, nobody else has the SA.
        Receive<IkeSaSupervisor.SaReleased>(m => Complete(m.Spi, m.Epoch, m.Snapshot, late: true));
        Receive<AcquireTimedOut>(m =>
        {
            if (!_acquiring.ContainsKey(m.Spi)) return;
            if (_index.TryGet(m.Spi, out var entry)) Complete(m.Spi, entry.Epoch, entry.Snapshot);
            else Abandon(m.Spi);
        });
        Receive<IkeSaSupervisor.SaAdopted>(m => _handedOver.Remove(m.Spi));
        Receive<SaReplicaActor.Put>(m => _replica.Forward(m));
        Receive<SaReplicaActor.Remove>(m => _replica.Forward(m));
        Receive<SaReplicaActor.WaitIdle>(m => _replica.Forward(m));
    }

    public static Props Props(SaReplicaIndex index, IActorRef supervisor, IkeSaContext context, ILogger log) =>
        Akka.Actor.Props.Create(() => new SaMobilityActor(index, supervisor, context, log));

    public ITimerScheduler Timers { get; set; } = null!;

    private void OnAcquire(IkeSaSupervisor.AcquireSa m)
    {
        if (_handedOver.Contains(m.Spi))
        {
            if (m.Inbound is not null) _supervisor.Tell(new IkeSaSupervisor.Redeliver(m.Inbound));
            return;
        }

        if (m.Inbound is not null && !_index.TryGet(m.Spi, out _) && !(m.FirstAuth && _acquiring.Count < MaxAcquiring))
        {
            _context.Metrics.CountDrop(IkeDropReason.UnknownSpi);
            return;
        }
        Acquire(m.Spi, m.Inbound, m.AskHolder);
    }

    /// <summary>An IKE message or ESP for <paramref name="spi"/>, which this node does not hold.</summary>
    private void Acquire(ulong spi, IkeInbound? inbound, bool askHolder)
    {
        if (_acquiring.TryGetValue(spi, out var waiting))
        {
            if (inbound is not null && waiting.Count < AcquireQueue) waiting.Add(inbound);
            return;
        }

        bool known = _index.TryGet(spi, out var entry);
        if (!known && inbound is null) return;
        _acquiring[spi] = inbound is null ? [] : [inbound];
        if (known && (entry.Released || entry.Owner == _self || !askHolder))
        {
            Complete(spi, entry.Epoch, entry.Snapshot);
            return;
        }

        var release = new IkeSaSupervisor.ReleaseSa(spi, Self);
        if (known)
        {
            Context.ActorSelection(entry.Owner + "/user/ike").Tell(release);
        }
        else
        {
            // Half-open SAs are not replicated: whichever member holds it answers, the others ignore the request.
            int asked = 0;
            foreach (var member in Akka.Cluster.Cluster.Get(Context.System).State.Members)
            {
                if (member.Status != MemberStatus.Up || member.Address.ToString() == _self) continue;
                Context.ActorSelection(member.Address + "/user/ike").Tell(release);
                asked++;
            }
            if (asked == 0)
            {
                Abandon(spi); // alone: nobody else can hold it
                return;
            }
        }
        Timers.StartSingleTimer(AcquireKey(spi), new AcquireTimedOut(spi), known ? ReleaseWait : HalfOpenReleaseWait);
    }

    private void Complete(ulong spi, long epoch, ReadOnlyMemory<byte> encoded, bool late = false)
    {
        if (!_acquiring.Remove(spi, out var pending))
        {
            if (!late) return;
            pending = [];
        }
        Timers.Cancel(AcquireKey(spi));
        var status = IkeSaSnapshotCodec.TryDecode(encoded.Span, out var snapshot);
        if (status != ParseStatus.Ok || snapshot is null)
        {
            _context.Metrics.CountSaAdoption(adopted: false);
            Log.SaAdoptionFailed(_log, $"{spi:x16}", $"snapshot does not decode ({status})");
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
            _context.Metrics.CountSaAdoption(adopted: false);
            Log.SaAdoptionFailed(_log, $"{spi:x16}", "its connection or algorithms are not in this node's configuration");
            return;
        }
        _handedOver.Add(spi);
        _supervisor.Tell(new IkeSaSupervisor.AdoptSa(sa, epoch + 1, pending));
    }

    private void Abandon(ulong spi)
    {
        if (!_acquiring.Remove(spi, out var pending)) return;
        if (pending.Count > 0) _context.Metrics.CountDrop(IkeDropReason.UnknownSpi);
    }

    private static string AcquireKey(ulong spi) => $"acquire-{spi:x16}";

    private sealed record AcquireTimedOut(ulong Spi);
}
