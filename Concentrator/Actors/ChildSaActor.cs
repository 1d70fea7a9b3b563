using Akka.Actor;
using Concentrator.DataPlane;
using Concentrator.Sa;
using Concentrator.Telemetry;
using Microsoft.Extensions.Logging;

namespace Concentrator.Actors;

/// <summary>
/// Owns one Child SA's presence in the data plane: installs it on start, removes it (keys zeroed)
/// on stop, whatever the reason for the stop. Child of the IKE SA actor that negotiated it.
/// </summary>
public sealed class ChildSaActor : ReceiveActor, IWithTimers
{
    /// <summary>How often the data plane's batched counters are pulled (tunable; never per packet).</summary>
    public static readonly TimeSpan CounterInterval = TimeSpan.FromSeconds(1);

    private const string CounterTimer = "counters";
    private readonly ChildSaInstall _install;
    private readonly IDataPlane _dataPlane;
    private readonly ILogger _log;
    private readonly ConcentratorMetrics _metrics;
    private ChildSaState _state = ChildSaState.Created;
    private SaCounters _counters;

    public ChildSaActor(ChildSaInstall install, IDataPlane dataPlane, ILogger log, ConcentratorMetrics? metrics = null)
    {
        _install = install;
        _dataPlane = dataPlane;
        _log = log;
        _metrics = metrics ?? ConcentratorMetrics.Detached;
        Receive<GetState>(_ => Sender.Tell(_state));
        Receive<PullCounters>(_ =>
        {
            if (_dataPlane.TryGetCounters(_install.InboundSpi, out var c)) _counters = c;
        });
        Receive<GetCounters>(_ => Sender.Tell(_counters));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(ChildSaInstall install, IDataPlane dataPlane, ILogger log, ConcentratorMetrics? metrics = null) =>
        Akka.Actor.Props.Create(() => new ChildSaActor(install, dataPlane, log, metrics));

    public static string NameFor(uint inboundSpi) => $"child-{inboundSpi:x8}";

    protected override void PreStart()
    {
        _dataPlane.AddSa(_install);
        _state = ChildSaStateMachine.Move(_state, ChildSaState.Installed);
        Timers.StartPeriodicTimer(CounterTimer, PullCounters.Instance, CounterInterval);
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

    private static string Format(Ike.Wire.TrafficSelector ts) =>
        ts.StartAddress.Equals(ts.EndAddress) ? ts.StartAddress.ToString() : $"{ts.StartAddress}-{ts.EndAddress}";

    public sealed record GetState;

    /// <summary>Reply: the last counters pulled from the data plane.</summary>
    public sealed record GetCounters
    {
        public static readonly GetCounters Instance = new();
    }

    private sealed record PullCounters
    {
        public static readonly PullCounters Instance = new();
    }
}
