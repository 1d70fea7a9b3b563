using Akka.Actor;
using Concentrator.Ike.Admission;
using Concentrator.Ike.Sa.V1;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;
using Concentrator.Telemetry;

namespace Concentrator.Actors;

// IKEv1 under the same supervisor: one directory of cookies and SPIs (both our random 64-bit routing keys), the same
// admission and half-open books, the same quota and sweep. A responder is routed by CKY-R, an initiator by CKY-I
// (IKEv1's header has no initiator flag, so the responder cookie is tried first; the SA checks both).
public sealed partial class IkeSaSupervisor
{
    private void ReceiveV1() => Receive<V1Inbound>(RouteV1);

    private void RouteV1(V1Inbound inbound)
    {
        var header = inbound.Header;
        if (AdmissionPolicy.IsInitialV1(header))
        {
            _gate?.Leave();
            AdmitV1(inbound);
            return;
        }
        if ((header.ResponderCookie != 0 && _directory.TryGet(header.ResponderCookie, out var sa)) || _directory.TryGet(header.InitiatorCookie, out sa))
        {
            sa.Forward(inbound);
            return;
        }
        _context.Metrics.CountDrop(IkeDropReason.UnknownSpi);
    }

    private void AdmitV1(V1Inbound inbound)
    {
        var header = inbound.Header;
        if (_directory.TryGetHalfOpenOf(inbound.Remote, header.InitiatorCookie, out var existing) && _directory.TryGet(existing, out var held))
        {
            held.Forward(inbound); // retransmitted first message: the SA answers from its cache
            return;
        }
        if (header.Exchange == V1ExchangeType.Aggressive && !AdmitAggressive(inbound)) return; // v1auth: aggressive: yes only
        long now = Environment.TickCount64;
        var decision = _admission.DecideV1(inbound.Datagram, inbound.Remote, _directory.HalfOpenCount, now);
        if (decision.Verdict != AdmissionVerdict.Admit) return;

        ulong cookie = NewSpi();
        var sa = IkeV1Sa.CreateResponder(_context, header.InitiatorCookie, cookie, inbound.Local, inbound.Remote, inbound.ViaNatT);
        var actor = SpawnV1(cookie, sa);
        AddHalfOpen(cookie, inbound.Remote, header.InitiatorCookie, now, proven: false);
        if (_log.IsEnabled(LogLevel.Debug)) Log.V1SaCreated(_log, $"{cookie:x16}", inbound.Remote);
        actor.Forward(inbound);
    }

    private void StartV1Initiator(Initiate m)
    {
        ulong cookie = NewSpi();
        if (m.Acquire) _directory.TryStartAcquire(cookie, m.Connection.Name);
        bool natT = m.Remote.Port == _context.NattPort;
        var local = _sender.LocalEndpointFor(m.Remote, natT);
        SpawnV1(cookie, IkeV1Sa.CreateInitiator(_context, m.Connection, cookie, local, m.Remote, m.Children));
    }

    private IActorRef SpawnV1(ulong cookie, IkeV1Sa sa)
    {
        var actor = Context.ActorOf(IkeV1SaActor.Props(sa, _sender, _log, ++_lastUniqueId), $"ikev1-{cookie:x16}");
        _directory.Register(cookie, actor);
        Context.Watch(actor);
        _admission.Quota.Add(actor, sa.RemoteEndpoint.Address);
        return actor;
    }
}
