using Akka.Actor;
using Akka.Cluster;
using Concentrator.Cluster;
using Concentrator.Transport;
using Concentrator.Ike.Sa;
using Concentrator.Telemetry;
using Concentrator.Ipsec;

namespace Concentrator.Actors;

/// <summary>
/// SA mobility between cluster nodes (issue 7): an SA follows the node where its peer's traffic lands. A load balancer
/// hashing the UDP 5-tuple sends a peer's IKE_SA_INIT (port 500) and everything after it (port 4500 once NAT-T
/// floated, ESP included) to possibly different nodes, and moves a dead node's peers elsewhere; ESP must be
/// processed where it arrives. So a node that receives IKE, or ESP, for an SA it does not hold acquires the SA:
/// <list type="number">
/// <item>it asks the holder (the replica entry's owner, or every other member for a half-open SA that is not
/// replicated) to release it: the holder snapshots it, stops it without a Delete, and answers with the snapshot;</item>
/// <item>with no answer within <see cref="ReleaseWait"/> (the holder died), or when the entry is marked released
/// (handed off on leave) or names this node (it restarted), it restores the SA from the replica;</item>
/// <item>either way the restored SA installs its Child SAs here with the outbound sequence numbers moved past
/// anything the previous holder may have sent (<see cref="SequenceMargin"/>) and replicates itself under a higher
/// epoch, which fences a holder that was only slow.</item>
/// </list>
/// Messages for an SA being acquired wait (a few, bounded) and are delivered to it once it runs here.
/// </summary>
public sealed partial class IkeSaSupervisor
{
    /// <summary>How long a holder has to release an SA before the replica is used (it is gone or partitioned away).</summary>
    public static readonly TimeSpan ReleaseWait = TimeSpan.FromMilliseconds(400);

    /// <summary>How long to wait for the holder of a half-open SA (nothing replicated to fall back on; the peer retransmits).</summary>
    public static readonly TimeSpan HalfOpenReleaseWait = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Outbound ESP sequence numbers an adopter skips past the replicated mark, and how far the holder may go past that
    /// mark before its next snapshot (its data-plane ceiling, so an AEAD IV is never reused whatever the timing). Each
    /// Child SA actor has its SA replicated again once half of this is used (checked at each counter pull: every second
    /// under traffic, at most 8 s after an idle spell), so below ~1M packets/s per SA the ceiling is never reached.
    /// 2^24 of 2^32 (no ESN) leaves about 250 moves per Child SA before its soft lifetime asks for a rekey anyway.
    /// </summary>
    public const ulong SequenceMargin = 1UL << 24;

    /// <summary>Messages held per SA while it is acquired (a retransmitting peer fills it; more are dropped).</summary>
    private const int AcquireQueue = 8;

    private readonly Dictionary<ulong, List<IkeInbound>> _acquiringSas = new();
    private IActorRef? _replica;
    private string _selfOwner = "";

    private bool Replicated => _replicaIndex is not null;

    private void StartMobility()
    {
        if (_replicaIndex is null) return;
        _selfOwner = SaReplicaActor.SelfOwner(Context.System);
        _replica = Context.ActorOf(SaReplicaActor.Props(_replicaIndex, Self, _log), "replica");
        Receive<EspMiss>(m =>
        {
            if (_replicaIndex.TryGetIkeSpiOfEsp(m.Spi, out var ikeSpi) && !_sas.ContainsKey(ikeSpi)) Acquire(ikeSpi, null);
        });
        Receive<AdoptOrphan>(m =>
        {
            if (!_sas.ContainsKey(m.Spi)) Acquire(m.Spi, null, askHolder: false);
        });
        Receive<ReleaseSa>(m =>
        {
            // Another node receives this SA's traffic now; the actor answers the requester itself.
            if (_sas.TryGetValue(m.Spi, out var sa)) sa.Tell(new IkeSaActor.Release(m.ReplyTo));
        });
        // A release that comes after the wait ended is still taken: its holder has let go, nobody else has the SA.
        Receive<SaReleased>(m => CompleteAcquire(m.Spi, m.Epoch, m.Snapshot, late: true));
        Receive<AcquireTimedOut>(m =>
        {
            if (!_acquiringSas.ContainsKey(m.Spi)) return;
            if (_replicaIndex.TryGet(m.Spi, out var entry)) CompleteAcquire(m.Spi, entry.Epoch, entry.Snapshot);
            else AbandonAcquire(m.Spi);
        });
        Receive<Fence>(m =>
        {
            // Another node adopted this SA under a newer epoch: ours must stop without telling the peer.
            if (_sas.TryGetValue(m.Spi, out var sa)) sa.Tell(IkeSaActor.StopSilently.Instance);
        });
        Receive<ReplicateAll>(_ =>
        {
            foreach (var sa in _spiOf.Keys) sa.Tell(IkeSaActor.ReplicateNow.Instance);
        });
        Receive<HandOffAll>(_ =>
        {
            Log.HandingOff(_log, _spiOf.Count);
            foreach (var sa in _spiOf.Keys) sa.Tell(IkeSaActor.HandOff.Instance);
        });
    }

    /// <summary>Replication for a new SA actor on this node: its epoch and where its snapshots go.</summary>
    private IkeSaActor.Replication? ReplicationFor(long epoch) =>
        _replica is null ? null : new IkeSaActor.Replication(_replica, _replicaIndex!, epoch);

    /// <summary>An IKE message or ESP for <paramref name="spi"/>, which this node does not hold.</summary>
    private void Acquire(ulong spi, IkeInbound? inbound, bool askHolder = true)
    {
        if (_acquiringSas.TryGetValue(spi, out var waiting))
        {
            if (inbound is not null && waiting.Count < AcquireQueue) waiting.Add(inbound);
            return;
        }

        bool known = _replicaIndex!.TryGet(spi, out var entry);
        if (!known && inbound is null) return;
        _acquiringSas[spi] = inbound is null ? [] : [inbound];
        if (known && (entry.Released || entry.Owner == _selfOwner || !askHolder))
        {
            CompleteAcquire(spi, entry.Epoch, entry.Snapshot);
            return;
        }

        var release = new ReleaseSa(spi, Self);
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
                if (member.Status != MemberStatus.Up || member.Address.ToString() == _selfOwner) continue;
                Context.ActorSelection(member.Address + "/user/ike").Tell(release);
                asked++;
            }
            if (asked == 0)
            {
                AbandonAcquire(spi); // alone: nobody else can hold it
                return;
            }
        }
        Timers.StartSingleTimer(AcquireKey(spi), new AcquireTimedOut(spi), known ? ReleaseWait : HalfOpenReleaseWait);
    }

    private void CompleteAcquire(ulong spi, long epoch, ReadOnlyMemory<byte> encoded, bool late = false)
    {
        if (!_acquiringSas.Remove(spi, out var pending))
        {
            if (!late) return;
            pending = [];
        }
        Timers.Cancel(AcquireKey(spi));
        if (_sas.ContainsKey(spi)) return;
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
            sa = IkeSaSnapshotter.Restore(_context, snapshot, SequenceMargin);
        }
        if (sa is null)
        {
            // Its connection or algorithms are not this node's: the peer will have to negotiate again.
            _context.Metrics.CountSaAdoption(adopted: false);
            Log.SaAdoptionFailed(_log, $"{spi:x16}", "its connection or algorithms are not in this node's configuration");
            return;
        }
        sa.LocalEndpoint = _sender.LocalEndpointFor(sa.RemoteEndpoint, sa.NatT);
        var actor = Context.ActorOf(IkeSaActor.Props(sa, _sender, _log, ReplicationFor(epoch + 1)), IkeSaActor.NameFor(spi));
        Register(spi, actor);
        _quota.Add(actor, sa.RemoteEndpoint.Address);
        if (sa.State != IkeSaState.Established)
        {
            long now = Environment.TickCount64;
            _halfOpen[spi] = (sa.RemoteEndpoint, sa.SpiI, now);
            _sources.AddHalfOpen(sa.RemoteEndpoint.Address);
            _context.Metrics.SetHalfOpen(_halfOpen.Count);
        }
        _context.Metrics.CountSaAdoption(adopted: true);
        Log.SaAdopted(_log, $"{spi:x16}", epoch + 1, sa.Children.Count);
        foreach (var message in pending) actor.Tell(message);
    }

    private void AbandonAcquire(ulong spi)
    {
        if (!_acquiringSas.Remove(spi, out var pending)) return;
        if (pending.Count > 0) _context.Metrics.CountDrop(IkeDropReason.UnknownSpi);
    }

    private static string AcquireKey(ulong spi) => $"acquire-{spi:x16}";

    /// <summary>From the data plane (rate-limited per SPI): ESP arrived for an inbound SPI this node has not installed.</summary>
    public sealed record EspMiss(uint Spi);

    /// <summary>From the replica: a member holding <paramref name="Spi"/> left; this node was picked to adopt it.</summary>
    public sealed record AdoptOrphan(ulong Spi);

    /// <summary>From the replica: another node holds <paramref name="Spi"/> under a newer epoch; stop ours silently.</summary>
    public sealed record Fence(ulong Spi);

    /// <summary>Between nodes: hand the SA over to <paramref name="ReplyTo"/> (answered with <see cref="SaReleased"/>).</summary>
    public sealed record ReleaseSa(ulong Spi, IActorRef ReplyTo);

    /// <summary>Between nodes: the released SA's snapshot (key material: TLS remoting when configured) and its epoch.</summary>
    public sealed record SaReleased(ulong Spi, long Epoch, byte[] Snapshot);

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

    private sealed record AcquireTimedOut(ulong Spi);
}
