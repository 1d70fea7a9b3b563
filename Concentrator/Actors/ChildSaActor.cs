using Akka.Actor;
using Concentrator.DataPlane;
using Concentrator.Telemetry;
using Concentrator.Ipsec;
using Concentrator.Ike.Connections;

namespace Concentrator.Actors;

/// <summary>Lifetimes of one Child SA (swanctl child: rekey_time, life_time, rand_time, rekey_/life_bytes/packets); 0 = none.</summary>
public sealed record ChildLifetime(TimeSpan RekeyTime, TimeSpan LifeTime, TimeSpan RandTime,
    ulong RekeyBytes, ulong LifeBytes, ulong RekeyPackets, ulong LifePackets)
{
    public static readonly ChildLifetime None = new(TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero, 0, 0, 0, 0);

    public static ChildLifetime From(ChildConfig c) =>
        new(c.RekeyTime, c.LifeTime, c.RandTime, c.RekeyBytes, c.LifeBytes, c.RekeyPackets, c.LifePackets);
}

/// <summary>
/// Owns one Child SA's presence in the data plane: installs it on start, removes it (keys zeroed)
/// on stop, whatever the reason for the stop. Child of the IKE SA actor that negotiated it, which it
/// asks to rekey the SA at its soft lifetime (time with rand_time jitter, bytes, packets, or the data
/// plane's sequence-number hint) and to delete it at its hard lifetime. Named timers: "counters",
/// "rekey", "expire"; all die with the actor.
/// </summary>
public sealed class ChildSaActor : ReceiveActor, IWithTimers
{
    /// <summary>How often the data plane's batched counters are pulled while the SA carries traffic (tunable; never per packet).</summary>
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

    private readonly ChildLifetime _lifetime;
    private readonly bool _preinstalled;
    private DateTime _lastRekeyRequest = DateTime.MinValue;
    private bool _expired;
    private readonly ChildSaInstall _install;
    private readonly IDataPlane _dataPlane;
    private readonly ILogger _log;
    private readonly ConcentratorMetrics _metrics;
    private ChildSaState _state = ChildSaState.Created;
    private SaCounters _counters;
    private TimeSpan _pullInterval;
    // Cluster SA mobility: the parent replicates again once this many outbound sequence numbers were used (0: off).
    private readonly ulong _sequenceReportStep;
    // Time since the SA was negotiated: nonzero for one adopted from another node, whose lifetimes run on from there.
    private readonly TimeSpan _age;
    private ulong _reportedSequence;

    public ChildSaActor(ChildSaInstall install, IDataPlane dataPlane, ILogger log, ConcentratorMetrics? metrics = null,
        ChildLifetime? lifetime = null, bool preinstalled = false, ulong sequenceReportStep = 0, TimeSpan age = default)
    {
        _age = age;
        _sequenceReportStep = sequenceReportStep;
        _reportedSequence = install.OutboundSequenceStart;
        _preinstalled = preinstalled;
        _install = install;
        _lifetime = lifetime ?? ChildLifetime.None;
        _dataPlane = dataPlane;
        _log = log;
        _metrics = metrics ?? ConcentratorMetrics.Detached;
        Receive<GetState>(_ => Sender.Tell(_state));
        Receive<PullCounters>(_ =>
        {
            if (!_dataPlane.TryGetCounters(_install.InboundSpi, out var c)) return;
            bool moved = c.PacketsIn != _counters.PacketsIn || c.PacketsOut != _counters.PacketsOut;
            ScheduleNextPull(moved);
            _counters = c;
            CheckVolumeLimits();
            if (_sequenceReportStep > 0 && _dataPlane.TryGetSequenceMarks(_install.InboundSpi, out ulong sent, out ulong _) &&
                sent - _reportedSequence >= _sequenceReportStep)
            {
                _reportedSequence = sent;
                Context.Parent.Tell(IkeSaActor.ReplicateNow.Instance);
            }
        });
        Receive<RekeyDue>(_ => RequestRekey());
        Receive<ExpireDue>(_ => Expire());
        Receive<GetCounters>(_ => Sender.Tell(_dataPlane.TryGetCounters(_install.InboundSpi, out var now) ? now : _counters));
        Receive<Activate>(_ => _dataPlane.ActivateOutbound(_install.InboundSpi));
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

    /// <param name="preinstalled">The parent already added the SA to the data plane (synchronously, before the
    /// exchange's response left); this actor then only owns its lifetime and removal.</param>
    public static Props Props(ChildSaInstall install, IDataPlane dataPlane, ILogger log, ConcentratorMetrics? metrics = null,
        ChildLifetime? lifetime = null, bool preinstalled = false, ulong sequenceReportStep = 0, TimeSpan age = default) =>
        Akka.Actor.Props.Create(() => new ChildSaActor(install, dataPlane, log, metrics, lifetime, preinstalled, sequenceReportStep, age));

    public static string NameFor(uint inboundSpi) => $"child-{inboundSpi:x8}";

    protected override void PreStart()
    {
        if (!_preinstalled) _dataPlane.AddSa(_install);
        _state = ChildSaStateMachine.Move(_state, ChildSaState.Installed);
        _pullInterval = CounterInterval;
        Timers.StartSingleTimer(CounterTimer, PullCounters.Instance, _pullInterval);
        if (_lifetime.RekeyTime > TimeSpan.Zero)
        {
            // rand_time jitter keeps both ends from rekeying at once (fewer collisions, RFC 7296 §2.8.1).
            var jitter = _lifetime.RandTime > TimeSpan.Zero ? TimeSpan.FromTicks(Random.Shared.NextInt64(_lifetime.RandTime.Ticks)) : TimeSpan.Zero;
            Timers.StartSingleTimer(RekeyTimer, RekeyDue.Instance, Remaining(_lifetime.RekeyTime - jitter));
        }
        if (_lifetime.LifeTime > TimeSpan.Zero) Timers.StartSingleTimer(ExpireTimer, ExpireDue.Instance, Remaining(_lifetime.LifeTime));
        _metrics.ChildSaInstalled(_install.Connection, _install.Child);
        Log.ChildSaInstalled(_log, _install.Connection, _install.Child, $"{_install.InboundSpi:x8}", $"{_install.OutboundSpi:x8}",
            $"{_install.Suite.Encryption}-{_install.Suite.KeyBits}", string.Join(',', _install.LocalTs.Select(Format)),
            string.Join(',', _install.RemoteTs.Select(Format)));
    }

    protected override void PostStop()
    {
        if (_state == ChildSaState.Installed)
        {
            _dataPlane.DeleteSa(_install.InboundSpi);
            _state = ChildSaStateMachine.Move(_state, ChildSaState.Deleted);
            _metrics.ChildSaRemoved(_install.Connection, _install.Child);
            Log.ChildSaRemoved(_log, _install.Connection, _install.Child, $"{_install.InboundSpi:x8}");
        }
    }

    private void ScheduleNextPull(bool moved)
    {
        bool hardLimit = _lifetime.LifeBytes > 0 || _lifetime.LifePackets > 0;
        _pullInterval = moved || hardLimit ? CounterInterval
            : TimeSpan.FromTicks(Math.Min(_pullInterval.Ticks * 2, IdleCounterInterval.Ticks));
        Timers.StartSingleTimer(CounterTimer, PullCounters.Instance, _pullInterval);
    }

    /// <summary>What is left of a lifetime for an SA negotiated over a second ago (an adopted one); at least a second.</summary>
    private TimeSpan Remaining(TimeSpan lifetime) => _age < TimeSpan.FromSeconds(1) ? lifetime : Max(lifetime - _age, TimeSpan.FromSeconds(1));

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private void CheckVolumeLimits()
    {
        ulong bytes = Math.Max(_counters.BytesIn, _counters.BytesOut);
        ulong packets = Math.Max(_counters.PacketsIn, _counters.PacketsOut);
        if (_lifetime.LifeBytes > 0 && bytes >= _lifetime.LifeBytes || _lifetime.LifePackets > 0 && packets >= _lifetime.LifePackets)
        {
            Expire();
        }
        else if (_lifetime.RekeyBytes > 0 && bytes >= _lifetime.RekeyBytes || _lifetime.RekeyPackets > 0 && packets >= _lifetime.RekeyPackets ||
                 _dataPlane.GetRekeyHint(_install.InboundSpi) != SaRekeyHint.None)
        {
            RequestRekey();
        }
    }

    /// <summary>Soft expiry: the IKE SA actor rekeys us; repeated (bounded by <see cref="RekeyRetry"/>) until we are replaced.</summary>
    private void RequestRekey()
    {
        if (_expired || DateTime.UtcNow - _lastRekeyRequest < RekeyRetry) return;
        _lastRekeyRequest = DateTime.UtcNow;
        Context.Parent.Tell(new IkeSaActor.RekeyChildSa(_install.InboundSpi));
        // A random back-off keeps two ends that collided (TEMPORARY_FAILURE) from colliding again.
        Timers.StartSingleTimer(RekeyTimer, RekeyDue.Instance, RekeyRetry + TimeSpan.FromMilliseconds(Random.Shared.Next(100, 3000)));
    }

    /// <summary>Hard expiry: the SA must go now; the IKE SA actor deletes it with the peer.</summary>
    private void Expire()
    {
        if (_expired) return;
        _expired = true;
        Timers.Cancel(RekeyTimer);
        Context.Parent.Tell(new IkeSaActor.DeleteChildSa(_install.InboundSpi));
    }

    private static string Format(TrafficSelector ts) =>
        ts.StartAddress.Equals(ts.EndAddress) ? ts.StartAddress.ToString() : $"{ts.StartAddress}-{ts.EndAddress}";

    public sealed record GetState;

    /// <summary>Reply: the last counters pulled from the data plane.</summary>
    public sealed record GetCounters
    {
        public static readonly GetCounters Instance = new();
    }

    /// <summary>Start sending on this SA (a rekey responder's successor, once its predecessor is gone).</summary>
    public sealed record Activate
    {
        public static readonly Activate Instance = new();
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
