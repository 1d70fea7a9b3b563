using System.Net;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Sa;
using Concentrator.Ipsec;

namespace Concentrator.Actors;

// Messages of the supervisor and its IKE SA actors. Published events (IkeSaUp/IkeSaDown) go to the
// ActorSystem's EventStream so observers (CLI progress, metrics) need no reference to an SA.

/// <summary>
/// Ask the supervisor to start an IKE SA (and its children) towards <paramref name="Remote"/>.
/// <paramref name="Acquire"/>: triggered by traffic matching a trap policy; ignored while an earlier
/// acquire for the same connection is still being negotiated.
/// </summary>
/// <paramref name="Replaces"/>: reauthentication (make-before-break) of the IKE SA with this SPI, which is
/// deleted once the new one is up; the new one sends no INITIAL_CONTACT, so the peer keeps the old meanwhile.
public sealed record Initiate(ConnectionConfig Connection, IPEndPoint Remote, IReadOnlyList<ChildConfig>? Children = null, bool Acquire = false,
    ulong Replaces = 0);

/// <summary>Delete every IKE SA with its peer (shutdown).</summary>
public sealed record DeleteAll;

/// <summary>Reply: number of live IKE SA actors.</summary>
public sealed record GetSaCount;

/// <param name="VirtualIps">Leased to the peer (responder) or assigned to us (initiator); empty without a configuration payload.</param>
/// <param name="Actor">The SA's actor: observers ask it (<see cref="IkeSaActor.GetInfo"/>) for counters while it lives.</param>
public sealed record IkeSaUp(ulong Spi, bool Initiator, string Connection, IPEndPoint Peer, IkeSaSummary Summary,
    IReadOnlyList<IPAddress>? VirtualIps = null, Akka.Actor.IActorRef? Actor = null);

/// <param name="Spi">Our SPI when it ended (a rekeyed IKE SA's successor's).</param>
/// <param name="EstablishedSpi">Our SPI when it was established (the <see cref="IkeSaUp.Spi"/> observers know it by); 0 if never.</param>
/// <param name="Traffic">Totals of every Child SA the IKE SA had (rekeyed ones included), for RADIUS accounting's Stop.</param>
public sealed record IkeSaDown(ulong Spi, bool Initiator, string Connection, CloseReason Reason, bool WasEstablished,
    ulong EstablishedSpi = 0, SaCounters Traffic = default);
