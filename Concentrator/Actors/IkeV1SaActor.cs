using Akka.Actor;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Sa.V1;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;
using Concentrator.Telemetry;
using Concentrator.Transport;

namespace Concentrator.Actors;

/// <summary>
/// Hosts one IKEv1 phase 1 SA (<see cref="IkeV1Sa"/>) and one <see cref="ChildSaActor"/> per Child SA its quick modes
/// install, under the same supervisor as the IKEv2 SAs. A mailbox and named timers ("retransmit"); each message becomes a
/// call on the protocol, whose effects (the same <see cref="IkeEffect"/> records as IKEv2's) are carried out here in
/// order, one method per effect. It answers the supervisor's and the admin's messages of <see cref="IkeSaActor"/>
/// (Delete, GetInfo, the cluster's), so the supervisor treats both alike. IKEv1 SAs are not replicated: a hand-off or a
/// replication request is acknowledged in the log and otherwise ignored.
/// </summary>
public sealed class IkeV1SaActor : ReceiveActor, IWithTimers
{
    private const string RetransmitTimer = "retransmit";

    private readonly IkeV1Sa _sa;
    private readonly IIkeSender _sender;
    private readonly ILogger _log;
    private readonly V1ChildInstaller _children;
    private bool _established;
    private bool _notHandedOffLogged;

    public IkeV1SaActor(IkeV1Sa sa, IIkeSender sender, ILogger log, long uniqueId)
    {
        _sa = sa;
        _sender = sender;
        _log = log;
        UniqueId = uniqueId;
        _children = new V1ChildInstaller(sa, log, () => Context);

        Receive<V1Inbound>(m =>
        {
            _sa.HandleDatagram(m);
            Drain();
        });
        Receive<RetransmitTick>(_ =>
        {
            _sa.OnRetransmitTimer();
            Drain();
        });
        Receive<IkeSaActor.DeleteIkeSa>(_ =>
        {
            _sa.Delete();
            Drain();
        });
        Receive<IkeSaActor.Replace>(_ =>
        {
            _sa.Fail(CloseReason.Replaced);
            Drain();
        });
        Receive<IkeSaActor.DeleteChildSa>(m =>
        {
            _sa.DeleteChild(m.InboundSpi);
            Drain();
        });
        Receive<IkeSaActor.RekeyChildSa>(m =>
        {
            _sa.RekeyChild(m.InboundSpi);
            Drain();
        });
        Receive<IkeSaActor.GetInfo>(_ => Sender.Tell(Info()));
        // Not replicated (this session): nothing to publish, hand off or release; the SA ends with this node.
        Receive<IkeSaActor.HandOff>(_ => NotHandedOff());
        Receive<IkeSaActor.ReplicateNow>(_ => { });
        Receive<IkeSaActor.MarksReplicated>(_ => { });
        Receive<IkeSaActor.Release>(_ => NotHandedOff());
        Receive<IkeSaActor.StopSilently>(_ => Context.Stop(Self));
        Receive<IkeSaActor.InjectFault>(m => throw new InvalidOperationException(m.Reason));
        Receive<Terminated>(m => _children.OnChildTerminated(m.ActorRef));
    }

    public static Props Props(IkeV1Sa sa, IIkeSender sender, ILogger log, long uniqueId = 0) =>
        Akka.Actor.Props.Create(() => new IkeV1SaActor(sa, sender, log, uniqueId));

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>This node's number of the tunnel (swanctl's #N).</summary>
    internal long UniqueId { get; }

    /// <summary>Child SA actors are stopped, never restarted: a restart would reinstall keys that were already zeroed.</summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Stop);

    protected override void PreStart()
    {
        if (_sa.IsInitiator && _sa.State == V1Phase1State.Created)
        {
            Log.V1Initiating(_log, _sa.Connection!.Name, _sa.RemoteEndpoint);
            _sa.Initiate();
        }
        Drain();
    }

    protected override void PostStop()
    {
        _children.UninstallAll();
        _sa.Dispose();
    }

    private void Drain()
    {
        foreach (var effect in _sa.DrainEffects())
        {
            switch (effect)
            {
                case SendMessage send: _sender.Send(send.Datagram, send.Remote, send.NatT); break;
                case ScheduleRetransmit schedule: Timers.StartSingleTimer(RetransmitTimer, RetransmitTick.Instance, schedule.Delay); break;
                case CancelRetransmit: Timers.Cancel(RetransmitTimer); break;
                case IkeSaEstablished up: OnEstablished(up); break;
                case ChildSaEstablished child: _children.Install(child.Install); break;
                case ChildSaActivated activated: _sa.Context.DataPlane.ActivateOutbound(activated.InboundSpi); break;
                case ChildSaRemoved removed: _children.Remove(removed); break;
                case V1QuickModeEvent quick: V1QuickModeHost.Write(_log, _sa, quick); break; // v1quick hook
                case PeerAuthFailed failed:
                    Log.V1PeerAuthFailed(_log, Cookie, _sa.RemoteEndpoint, failed.PeerId, failed.Reason, failed.Detail);
                    break;
                case IkeSaClosed closed: OnClosed(closed); break;
            }
        }
    }

    private string Cookie => $"{_sa.OurCookie:x16}";

    private void OnEstablished(IkeSaEstablished up)
    {
        _established = true;
        if (_log.IsEnabled(LogLevel.Debug))
        {
            Log.V1SaEstablished(_log, Cookie, up.Connection, _sa.RemoteEndpoint, up.RemoteId, _sa.IsInitiator ? "initiator" : "responder",
                up.Summary.Proposal, _sa.NatT ? _sa.NatTVersion.ToString() : "no", up.Summary.SetupTime.TotalMilliseconds);
        }
        Context.Parent.Tell(new IkeSaSupervisor.Established(_sa.OurCookie, up.Connection, up.RemoteId, false, up.LocalId, up.RemoteId,
            _sa.RemoteEndpoint, _sa.Connection?.Unique ?? Ike.Connections.UniquePolicy.No));
        Context.System.EventStream.Publish(new IkeSaUp(_sa.OurCookie, _sa.IsInitiator, up.Connection, _sa.RemoteEndpoint, up.Summary, [], Self));
    }

    private void OnClosed(IkeSaClosed closed)
    {
        Log.V1SaClosed(_log, Cookie, _sa.Connection?.Name ?? "", _sa.RemoteEndpoint, closed.Reason, _established ? "established" : "connecting");
        Context.System.EventStream.Publish(new IkeSaDown(_sa.OurCookie, _sa.IsInitiator, _sa.Connection?.Name ?? "", closed.Reason, _established,
            _established ? _sa.OurCookie : 0, _children.Traffic()));
        Context.Stop(Self);
    }

    private void NotHandedOff()
    {
        if (_notHandedOffLogged) return;
        _notHandedOffLogged = true;
        Log.V1NotHandedOff(_log, Cookie);
    }

    /// <summary>What the admin view and <c>sas</c> show: the IKEv2 record, with the phase 1 state mapped onto its states.</summary>
    private IkeSaActor.Info Info()
    {
        var state = _sa.State switch
        {
            V1Phase1State.Created => IkeSaState.Created,
            V1Phase1State.Established => IkeSaState.Established,
            V1Phase1State.Deleting => IkeSaState.Deleting,
            V1Phase1State.Closed => IkeSaState.Destroyed,
            _ => IkeSaState.Connecting,
        };
        return new IkeSaActor.Info(_sa.OurCookie, state, _sa.Connection?.Name ?? "", _sa.RemoteEndpoint, _children.Records, _sa.IsInitiator,
            _sa.Suite.ToString(), _sa.RemoteId?.Text ?? "", _sa.Age, null, [], UniqueId, _sa.LocalId?.Text ?? "", _sa.RemoteId?.Text ?? "",
            null, _children.Traffic(), default, _sa.EstablishedUtc);
    }

    private sealed record RetransmitTick
    {
        public static readonly RetransmitTick Instance = new();
    }
}
