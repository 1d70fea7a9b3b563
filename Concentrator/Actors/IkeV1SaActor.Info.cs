using Akka.Actor;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Sa.V1;
using Concentrator.Ike.Tasks.V1;
using Concentrator.Telemetry;

namespace Concentrator.Actors;

// The informational side of the IKEv1 host (v1info): the named timers "dpd" (every dpd_delay / 2, as IKEv2's) and
// "natt-keepalive" (charon.keep_alive, only behind a NAT), dpd_action after a dead peer, INITIAL-CONTACT told to the
// supervisor, and the log lines of the informational exchange.
public sealed partial class IkeV1SaActor
{
    private const string DpdTimer = "dpd";
    private const string KeepaliveTimer = "natt-keepalive";

    private void ReceiveInformational()
    {
        Receive<DpdTick>(_ =>
        {
            if (_sa.DpdTick(Environment.TickCount64, LastInbound())) DeadPeerAction();
            Drain();
        });
        Receive<KeepaliveTick>(_ =>
        {
            if (_sa.NatT && _sa.BehindNat) _sender.SendNatKeepalive(_sa.RemoteEndpoint);
        });
    }

    private void StartInformationalTimers()
    {
        _sa.Dpd.PeerSupports = (_sa.PeerFeatures & V1PeerFeatures.Dpd) != 0;
        if (_sa.Connection is { DpdDelay: var dpd } && dpd > TimeSpan.Zero) Timers.StartPeriodicTimer(DpdTimer, DpdTick.Instance, dpd / 2);
        if (V1NatT.KeepaliveInterval(_sa.NatT, _sa.BehindNat, _sa.Context.Tunables.KeepAliveInterval) is { } keepAlive)
        {
            Timers.StartPeriodicTimer(KeepaliveTimer, KeepaliveTick.Instance, keepAlive);
        }
    }

    /// <summary>
    /// The last sign of life from the peer in <see cref="Environment.TickCount64"/> milliseconds: its last verified IKE
    /// message, or ESP on any of the SA's Child SAs if later (the data plane's counters, in UTC ticks).
    /// </summary>
    private long LastInbound()
    {
        long last = _sa.LastInbound;
        long nowMs = Environment.TickCount64;
        long nowTicks = DateTime.UtcNow.Ticks;
        foreach (var child in _children.Records)
        {
            if (_sa.Context.DataPlane.TryGetCounters(child.InboundSpi, out var c) && c.LastInboundTicks > 0)
            {
                last = Math.Max(last, nowMs - (nowTicks - c.LastInboundTicks) / TimeSpan.TicksPerMillisecond);
            }
        }
        return last;
    }

    /// <summary>dpd_action as IKEv2's (<see cref="IkeSaActor.DeadPeerAction"/>): restart initiates the children again; clear
    /// and trap leave nothing to do here (trap policies stay armed in the data plane).</summary>
    private void DeadPeerAction()
    {
        if (_sa.Connection is not { } conn) return;
        var restart = conn.Children.Values.Where(c => c.DpdAction == "restart").ToList();
        if (restart.Count > 0) Context.Parent.Tell(new Initiate(conn, _sa.RemoteEndpoint, restart));
    }

    private void OnInformational(IkeEffect effect)
    {
        string cookie = Cookie;
        if (effect is V1InitialContactSeen)
        {
            Log.V1InitialContact(_log, cookie, _sa.RemoteEndpoint);
            Context.Parent.Tell(new IkeSaSupervisor.Established(_sa.OurCookie, _sa.Connection?.Name ?? "", _sa.RemoteId?.Text ?? "", true,
                _sa.LocalId?.Text ?? "", _sa.RemoteId?.Text ?? "", _sa.RemoteEndpoint, _sa.Connection?.Unique ?? Ike.Connections.UniquePolicy.No));
            return;
        }
        if (effect is not V1InfoLogged e) return;
        switch (e.Event)
        {
            case V1InfoEvent.Dropped: Log.V1InformationalDropped(_log, cookie, _sa.RemoteEndpoint, e.Detail); break;
            case V1InfoEvent.IsakmpDeleted: Log.V1IsakmpDeleteReceived(_log, cookie); break;
            case V1InfoEvent.ChildDeleted: Log.V1ChildDeleteReceived(_log, cookie, e.Detail); break;
            case V1InfoEvent.DeleteIgnored: Log.V1DeleteIgnored(_log, cookie, (int)e.Number, (int)e.Expected); break;
            case V1InfoEvent.ErrorNotify: Log.V1ErrorNotify(_log, cookie, e.Detail); break;
            case V1InfoEvent.DpdProbe: Log.V1DpdProbe(_log, cookie, e.Number); break;
            case V1InfoEvent.DpdOutOfSequence: Log.V1DpdOutOfSequence(_log, cookie, e.Detail, e.Number, e.Expected); break;
            case V1InfoEvent.DpdDead:
                Log.V1DpdDead(_log, cookie, _sa.RemoteEndpoint, e.Number,
                    _sa.Connection?.Children.Values.FirstOrDefault(c => c.DpdAction != "clear")?.DpdAction ?? "clear");
                break;
            case V1InfoEvent.DpdUnsupported: Log.V1DpdUnsupported(_log, cookie); break;
            case V1InfoEvent.DeleteSent: Log.V1DeleteSent(_log, cookie, e.Detail); break;
        }
    }

    private sealed record DpdTick
    {
        public static readonly DpdTick Instance = new();
    }

    private sealed record KeepaliveTick
    {
        public static readonly KeepaliveTick Instance = new();
    }
}
