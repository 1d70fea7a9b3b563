using Akka.Actor;
using Concentrator.DataPlane;
using Concentrator.Ipsec;

namespace Concentrator.Actors;

/// <summary>
/// The lifetimes and counters of one Child SA: child of the IKE SA actor that negotiated it, which it asks to rekey the
/// SA at its soft lifetime (time with rand_time jitter, bytes, packets, or the data plane's sequence-number hint) and to
/// delete it at its hard lifetime. It reads the data plane's counters but never changes the data plane: the IKE SA
/// actor's <see cref="EffectRunner"/> installs, activates and removes the SA, also when this actor stops or fails.
/// Named timers: "counters", "rekey", "expire", "retire"; all die with the actor.
/// </summary>
public sealed class ChildSaActor : ReceiveActor, IWithTimers
{
    /// <summary>How often the data plane's batched counters are pulled while the SA carries traffic (never per packet).</summary>
    public static readonly TimeSpan CounterInterval = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Longest pull interval of an idle SA (no packet either way since the last pull): the interval doubles up to this
    /// and drops back to <see cref="CounterInterval"/> at the first packet. Nothing an idle SA could cross (soft limits,
    /// the sequence-number hint, the replicated sequence mark) moves while it is idle; an SA with a hard volume limit
    /// (life_bytes, life_packets) is pulled every <see cref="CounterInterval"/> regardless. At 100k mostly idle tunnels
    /// this is a timer message per 8 s per tunnel instead of one per second.
    /// </summary>
    public static readonly TimeSpan IdleCounterInterval = TimeSpan.FromSeconds(8);

    private const string CounterTimer = "counters";
    private const string RekeyTimer = "rekey";
    private const string ExpireTimer = "expire";
    private const string RetireTimer = "retire";

    /// <summary>
    /// How long a rekeyed (replaced and deleted) SA still accepts inbound ESP before it leaves the data plane:
    /// packets the peer sent on it just before switching may arrive after the Delete. strongSwan keeps 5 s
    /// (charon.delete_rekeyed_delay); 1 s covers in-flight and reordered packets and keeps SA counts settling fast.
    /// </summary>
    public static readonly TimeSpan RekeyedInboundGrace = TimeSpan.FromSeconds(1);

    /// <summary>Minimum gap between two rekey requests for one SA (a failed rekey is retried after it plus jitter).</summary>
    public static readonly TimeSpan RekeyRetry = TimeSpan.FromSeconds(2);

    private readonly uint _inboundSpi;
    private readonly ChildLifetime _lifetime;
    // rekey_bytes / rekey_packets less their rand_ part, drawn once (IkeLifetimes.SoftVolume); 0: none.
    private readonly ulong _softBytes;
    private readonly ulong _softPackets;
    private readonly IDataPlane _dataPlane;
    // Cluster SA mobility: the parent replicates again once this many outbound sequence numbers were used (0: off).
    private readonly ulong _sequenceReportStep;
    // Time since the SA was negotiated: nonzero for one adopted from another node, whose lifetimes run on from there.
    private readonly TimeSpan _age;
    private readonly IkeLifetimes.ChildSchedule? _schedule;
    private DateTime _lastRekeyRequest = DateTime.MinValue;
    private bool _expired;
    private SaCounters _counters;
    private TimeSpan _pullInterval;
    private ulong _reportedSequence;

    /// <param name="schedule">The rekey and expiry timers, drawn by the parent (which shows them to the operator); null:
    /// drawn here from <paramref name="lifetime"/>.</param>
    public ChildSaActor(ChildSaInstall install, IDataPlane dataPlane, ChildLifetime? lifetime = null, ulong sequenceReportStep = 0,
        TimeSpan age = default, IkeLifetimes.ChildSchedule? schedule = null)
    {
        _schedule = schedule;
        _inboundSpi = install.InboundSpi;
        _age = age;
        _sequenceReportStep = sequenceReportStep;
        _reportedSequence = install.OutboundSequenceStart;
        _lifetime = lifetime ?? ChildLifetime.None;
        (_softBytes, _softPackets) = IkeLifetimes.SoftVolume(_lifetime, Random.Shared);
        _dataPlane = dataPlane;
        Receive<PullCounters>(_ =>
        {
            if (!_dataPlane.TryGetCounters(_inboundSpi, out var c)) return;
            bool moved = c.PacketsIn != _counters.PacketsIn || c.PacketsOut != _counters.PacketsOut;
            ScheduleNextPull(moved);
            _counters = c;
            CheckVolumeLimits();
            if (_sequenceReportStep > 0 && _dataPlane.TryGetSequenceMarks(_inboundSpi, out ulong sent, out ulong _) &&
                sent - _reportedSequence >= _sequenceReportStep)
            {
                _reportedSequence = sent;
                Context.Parent.Tell(IkeSaActor.ReplicateNow.Instance);
            }
        });
        Receive<RekeyDue>(_ => RequestRekey());
        Receive<ExpireDue>(_ => Expire());
        Receive<GetCounters>(_ => Sender.Tell(_dataPlane.TryGetCounters(_inboundSpi, out var now) ? now : _counters));
        Receive<Retire>(_ =>
        {
            // Replaced: no more rekeys or expiry of our own; stop (and leave the data plane) after the grace.
            _expired = true;
            Timers.Cancel(RekeyTimer);
            Timers.Cancel(ExpireTimer);
            if (!Timers.IsTimerActive(RetireTimer)) Timers.StartSingleTimer(RetireTimer, RetireDue.Instance, RekeyedInboundGrace);
        });
        Receive<RetireDue>(_ => Context.Stop(Self));
        Receive<IkeSaActor.InjectFault>(m => throw new InvalidOperationException(m.Reason));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(ChildSaInstall install, IDataPlane dataPlane, ChildLifetime? lifetime = null, ulong sequenceReportStep = 0,
        TimeSpan age = default, IkeLifetimes.ChildSchedule? schedule = null) =>
        Akka.Actor.Props.Create(() => new ChildSaActor(install, dataPlane, lifetime, sequenceReportStep, age, schedule));

    public static string NameFor(uint inboundSpi) => $"child-{inboundSpi:x8}";

    protected override void PreStart()
    {
        _pullInterval = CounterInterval;
        Timers.StartSingleTimer(CounterTimer, PullCounters.Instance, _pullInterval);
        var schedule = _schedule ?? IkeLifetimes.ForChild(_lifetime, _age, Random.Shared);
        if (schedule.Rekey is { } rekey) Timers.StartSingleTimer(RekeyTimer, RekeyDue.Instance, rekey);
        if (schedule.Expire is { } expire) Timers.StartSingleTimer(ExpireTimer, ExpireDue.Instance, expire);
    }

    private void ScheduleNextPull(bool moved)
    {
        bool hardLimit = _lifetime.LifeBytes > 0 || _lifetime.LifePackets > 0;
        _pullInterval = moved || hardLimit ? CounterInterval
            : TimeSpan.FromTicks(Math.Min(_pullInterval.Ticks * 2, IdleCounterInterval.Ticks));
        Timers.StartSingleTimer(CounterTimer, PullCounters.Instance, _pullInterval);
    }

    private void CheckVolumeLimits()
    {
        ulong bytes = Math.Max(_counters.BytesIn, _counters.BytesOut);
        ulong packets = Math.Max(_counters.PacketsIn, _counters.PacketsOut);
        if (_lifetime.LifeBytes > 0 && bytes >= _lifetime.LifeBytes || _lifetime.LifePackets > 0 && packets >= _lifetime.LifePackets)
        {
            Expire();
        }
        else if (_softBytes > 0 && bytes >= _softBytes || _softPackets > 0 && packets >= _softPackets ||
                 _dataPlane.GetRekeyHint(_inboundSpi) != SaRekeyHint.None)
        {
            RequestRekey();
        }
    }

    /// <summary>Soft expiry: the IKE SA actor rekeys us; repeated (bounded by <see cref="RekeyRetry"/>) until we are replaced.</summary>
    private void RequestRekey()
    {
        if (_expired || DateTime.UtcNow - _lastRekeyRequest < RekeyRetry) return;
        _lastRekeyRequest = DateTime.UtcNow;
        Context.Parent.Tell(new IkeSaActor.RekeyChildSa(_inboundSpi));
        // A random back-off keeps two ends that collided (TEMPORARY_FAILURE) from colliding again.
        Timers.StartSingleTimer(RekeyTimer, RekeyDue.Instance, RekeyRetry + TimeSpan.FromMilliseconds(Random.Shared.Next(100, 3000)));
    }

    /// <summary>Hard expiry: the SA must go now; the IKE SA actor deletes it with the peer.</summary>
    private void Expire()
    {
        if (_expired) return;
        _expired = true;
        Timers.Cancel(RekeyTimer);
        Context.Parent.Tell(new IkeSaActor.DeleteChildSa(_inboundSpi));
    }

    /// <summary>Reply: the last counters pulled from the data plane.</summary>
    public sealed record GetCounters
    {
        public static readonly GetCounters Instance = new();
    }

    /// <summary>This SA was rekeyed and deleted with the peer: keep accepting inbound for the grace, then stop.</summary>
    public sealed record Retire
    {
        public static readonly Retire Instance = new();
    }

    private sealed record RetireDue
    {
        public static readonly RetireDue Instance = new();
    }

    private sealed record RekeyDue
    {
        public static readonly RekeyDue Instance = new();
    }

    private sealed record ExpireDue
    {
        public static readonly ExpireDue Instance = new();
    }

    private sealed record PullCounters
    {
        public static readonly PullCounters Instance = new();
    }
}
