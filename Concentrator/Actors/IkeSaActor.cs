using System.Net;
using Akka.Actor;
using Concentrator.Ike.Exchanges;
using Concentrator.Net;
using Concentrator.Telemetry;
using Microsoft.Extensions.Logging;

namespace Concentrator.Actors;

/// <summary>
/// Hosts one <see cref="IkeSa"/>: feeds it datagrams and timer ticks, carries out its effects, and
/// starts one <see cref="ChildSaActor"/> per Child SA. The protocol state is owned here exclusively;
/// the actor itself holds no protocol logic. Named timer "retransmit" drives retransmissions.
/// </summary>
public sealed class IkeSaActor : ReceiveActor, IWithTimers
{
    private const string RetransmitTimer = "retransmit";
    private const string DpdTimer = "dpd";

    private readonly IkeSa _sa;
    private readonly IIkeSender _sender;
    private readonly ILogger _log;
    private readonly string _spiText;
    private bool _established;

    public IkeSaActor(IkeSa sa, IIkeSender sender, ILogger log)
    {
        _sa = sa;
        _sender = sender;
        _log = log;
        _spiText = $"{sa.OurSpi:x16}";

        Receive<IkeInbound>(m =>
        {
            _sa.HandleDatagram(m.Datagram, m.Remote, m.Local, m.ViaNatT);
            Drain();
        });
        Receive<RetransmitTick>(_ =>
        {
            _sa.OnRetransmitTimer();
            Drain();
        });
        Receive<DeleteIkeSa>(_ =>
        {
            bool wasEstablished = _sa.State == Sa.IkeSaState.Established;
            _sa.Delete();
            if (wasEstablished && _sa.State == Sa.IkeSaState.Deleting)
                Log.IkeSaDeleting(_log, _spiText, _sa.Connection?.Name ?? "", _sa.RemoteEndpoint);
            Drain();
        });
        Receive<DeleteChildSa>(m =>
        {
            _sa.DeleteChild(m.InboundSpi);
            Drain();
        });
        Receive<DpdTick>(_ =>
        {
            if (IsIdle()) _sa.SendDpd();
            Drain();
        });
        Receive<Replace>(_ =>
        {
            _sa.Replace();
            Drain();
        });
        Receive<RekeyChildSa>(m =>
        {
            _sa.RekeyChild(m.InboundSpi);
            Drain();
        });
        Receive<SendDpd>(_ =>
        {
            _sa.SendDpd();
            Drain();
        });
        Receive<GetInfo>(_ => Sender.Tell(new Info(_sa.OurSpi, _sa.State, _sa.Connection?.Name ?? "", _sa.RemoteEndpoint, _sa.Children.ToList())));
        Receive<InjectFault>(m => throw new InvalidOperationException(m.Reason));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IkeSa sa, IIkeSender sender, ILogger log) => Akka.Actor.Props.Create(() => new IkeSaActor(sa, sender, log));

    public static string NameFor(ulong spi) => $"ike-{spi:x16}";

    protected override void PreStart()
    {
        if (_sa.IsInitiator)
        {
            Log.Initiating(_log, _sa.Connection!.Name, _sa.RemoteEndpoint);
            _sa.Initiate();
            Drain();
        }
    }

    protected override void PostStop()
    {
        // Children stop before this runs, so their data-plane entries are already gone.
        _sa.Dispose();
    }

    /// <summary>
    /// Dead peer detection (RFC 7296 §2.4): a probe is due when neither an IKE message nor ESP has come
    /// from the peer for dpd_delay. The probe is an ordinary INFORMATIONAL; its retransmission budget
    /// running out closes the SA with Timeout, and then dpd_action applies.
    /// </summary>
    private bool IsIdle()
    {
        var delay = _sa.Connection!.DpdDelay;
        if (_sa.RequestInFlight || Environment.TickCount64 - _sa.LastInbound < delay.TotalMilliseconds) return false;
        long recent = DateTime.UtcNow.Ticks - delay.Ticks;
        foreach (var child in _sa.Children)
        {
            if (_sa.Context.DataPlane.TryGetCounters(child.InboundSpi, out var c) && c.LastInboundTicks > recent) return false;
        }
        return true;
    }

    /// <summary>dpd_action: clear (default, nothing more), trap (policies stay armed in the data plane), restart (initiate again).</summary>
    private void DeadPeerAction()
    {
        var conn = _sa.Connection;
        if (conn is null) return;
        var restart = conn.Children.Values.Where(c => c.DpdAction == "restart").ToList();
        if (restart.Count > 0) Context.Parent.Tell(new Initiate(conn, _sa.RemoteEndpoint, restart));
    }

    private void Drain()
    {
        foreach (var effect in _sa.DrainEffects())
        {
            switch (effect)
            {
                case SendMessage send:
                    _sender.Send(send.Datagram, send.Remote, send.NatT);
                    break;
                case ScheduleRetransmit schedule:
                    Timers.StartSingleTimer(RetransmitTimer, RetransmitTick.Instance, schedule.Delay);
                    break;
                case CancelRetransmit:
                    Timers.Cancel(RetransmitTimer);
                    break;
                case IkeSaEstablished up:
                    _established = true;
                    Log.IkeSaEstablished(_log, _spiText, up.Connection, _sa.RemoteEndpoint, up.RemoteId, _sa.IsInitiator ? "initiator" : "responder",
                        up.Summary.Proposal, up.Summary.SetupTime.TotalMilliseconds, up.Summary.NatDetected);
                    Context.Parent.Tell(new IkeSaSupervisor.Established(_sa.OurSpi, up.Connection, up.RemoteId, _sa.InitialContact));
                    if (_sa.Connection is { DpdDelay: var dpd } && dpd > TimeSpan.Zero)
                    {
                        Timers.StartPeriodicTimer(DpdTimer, DpdTick.Instance, dpd);
                    }
                    Context.System.EventStream.Publish(new IkeSaUp(_sa.OurSpi, _sa.IsInitiator, up.Connection, _sa.RemoteEndpoint, up.Summary));
                    break;
                case ChildSaEstablished child:
                    var lifetime = _sa.Connection is { } conn && conn.Children.TryGetValue(child.Install.Child, out var childConfig)
                        ? ChildLifetime.From(childConfig)
                        : ChildLifetime.None;
                    Context.ActorOf(ChildSaActor.Props(child.Install, _sa.Context.DataPlane, _log, _sa.Context.Metrics, lifetime),
                        ChildSaActor.NameFor(child.Install.InboundSpi));
                    break;
                case ChildSaActivated activated:
                    // Synchronously, before the predecessor's actor stops (its PostStop removes the old SA from the
                    // data plane on another thread): told through the child's mailbox, the old SA could be gone
                    // before the successor sends, and packets in between found no outbound SA (no_sa drops).
                    // Only if the successor's actor has not installed it yet does the child activate it itself.
                    if (!_sa.Context.DataPlane.ActivateOutbound(activated.InboundSpi))
                        Context.Child(ChildSaActor.NameFor(activated.InboundSpi)).Tell(ChildSaActor.Activate.Instance);
                    break;
                case ChildSaRemoved removed:
                    var childRef = Context.Child(ChildSaActor.NameFor(removed.InboundSpi));
                    if (childRef.IsNobody()) break;
                    // A rekeyed SA lingers inbound-only in effect (its successor is newer and wins the outbound
                    // lookup) for a short grace, like strongSwan's delete_rekeyed_delay; any other SA goes now.
                    if (removed.Rekeyed) childRef.Tell(ChildSaActor.Retire.Instance);
                    else Context.Stop(childRef);
                    break;
                case IkeSaClosed closed:
                    Log.IkeSaClosed(_log, _spiText, _sa.Connection?.Name ?? "", _sa.RemoteEndpoint, closed.Reason, _established ? "established" : "connecting");
                    Context.System.EventStream.Publish(new IkeSaDown(_sa.OurSpi, _sa.IsInitiator, _sa.Connection?.Name ?? "", closed.Reason, _established));
                    if (closed.Reason == CloseReason.Timeout && _established) DeadPeerAction();
                    Context.Stop(Self);
                    break;
            }
        }
    }

    public sealed record RetransmitTick
    {
        public static readonly RetransmitTick Instance = new();
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

    public sealed record GetInfo
    {
        public static readonly GetInfo Instance = new();
    }

    public sealed record Info(ulong Spi, Sa.IkeSaState State, string Connection, IPEndPoint Remote, IReadOnlyList<ChildSaRecord> Children);

    /// <summary>Makes the actor throw: for supervision tests and chaos drills only.</summary>
    public sealed record InjectFault(string Reason);
}
