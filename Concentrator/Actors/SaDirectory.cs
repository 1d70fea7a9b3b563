using System.Net;
using System.Net.Sockets;
using Akka.Actor;

namespace Concentrator.Actors;

/// <summary>
/// The supervisor's books in one place: which actor holds which of our IKE SPIs (an actor holds several while an IKE
/// rekey's predecessors finish), the half-open responder SAs (by SPI and by the initiator's SPI and address, for
/// retransmitted IKE_SA_INIT), the trap acquisitions in progress, the reauthentications waiting for their new SA, and
/// the established SAs by user (local identity, user) for INITIAL_CONTACT and unique, and which actor owns each installed Child SA
/// (by inbound SPI, for the data plane's reports). Single-threaded (the supervisor's).
/// </summary>
internal sealed class SaDirectory
{
    private readonly Dictionary<ulong, IActorRef> _actorOf = new();
    private readonly Dictionary<IActorRef, HashSet<ulong>> _spisOf = new();
    private readonly Dictionary<(IPEndPoint Peer, ulong SpiI), ulong> _halfOpenByPeer = new();
    private readonly Dictionary<ulong, HalfOpenSa> _halfOpen = new();
    // Trap-triggered negotiations in progress: SPI -> connection (one acquire per connection at a time).
    private readonly Dictionary<ulong, string> _acquiring = new();
    // Reauthentication: new IKE SA SPI -> the SPI of the IKE SA it replaces once its children are up.
    private readonly Dictionary<ulong, ulong> _replacing = new();
    private readonly Dictionary<ulong, SaUser> _established = new();
    // _established by user, so that INITIAL_CONTACT and unique look up a login's duplicates without a scan of every SA
    // (one per setup: a scan made setups O(N) in the SAs already up).
    private readonly Dictionary<UserKey, List<ulong>> _byUser = new();
    private readonly Dictionary<uint, IActorRef> _childOwner = new();
    private readonly Dictionary<IActorRef, HashSet<uint>> _childrenOf = new();

    /// <summary>Live IKE SA actors.</summary>
    public int ActorCount => _spisOf.Count;

    public int SpiCount => _actorOf.Count;

    public int HalfOpenCount => _halfOpen.Count;

    public IReadOnlyCollection<IActorRef> Actors => _spisOf.Keys;

    public bool Holds(ulong spi) => _actorOf.ContainsKey(spi);

    public bool TryGet(ulong spi, out IActorRef actor) => _actorOf.TryGetValue(spi, out actor!);

    /// <summary>A new SA actor under its first SPI.</summary>
    public void Register(ulong spi, IActorRef actor)
    {
        _actorOf[spi] = actor;
        _spisOf[actor] = [spi];
    }

    /// <summary>The actor now also owns <paramref name="spi"/> (its SA was rekeyed, RFC 7296 §2.18).</summary>
    public void AddSpi(IActorRef actor, ulong spi)
    {
        _actorOf[spi] = actor;
        if (_spisOf.TryGetValue(actor, out var spis)) spis.Add(spi);
    }

    /// <summary>
    /// A rekeyed predecessor of the actor's tunnel is gone: its SPI no longer routes, and the tunnel's established entry
    /// moves to the SPIs the actor still owns.
    /// </summary>
    public void RetireSpi(IActorRef actor, ulong spi)
    {
        if (_actorOf.Remove(spi) && _spisOf.TryGetValue(actor, out var spis)) spis.Remove(spi);
        if (RemoveEstablished(spi) is { } who && _spisOf.TryGetValue(actor, out var left) && left.Count > 0)
        {
            foreach (var other in left) AddEstablished(other, who);
        }
    }

    /// <summary>
    /// The actor stopped: every SPI it owned is forgotten. Returns the number of reauthentications that will never replace
    /// their SA (the new SA died first).
    /// </summary>
    public int Remove(IActorRef actor, Action<HalfOpenSa> halfOpenRemoved)
    {
        if (_childrenOf.Remove(actor, out var children))
        {
            foreach (var child in children) _childOwner.Remove(child);
        }
        if (!_spisOf.Remove(actor, out var spis)) return 0;
        int failedReauths = 0;
        foreach (var spi in spis)
        {
            _actorOf.Remove(spi);
            if (RemoveHalfOpen(spi) is { } entry) halfOpenRemoved(entry);
            _acquiring.Remove(spi);
            RemoveEstablished(spi);
            if (_replacing.Remove(spi)) failedReauths++;
        }
        return failedReauths;
    }

    // ---- Installed Child SAs ----

    /// <summary>The actor installed the Child SA with inbound SPI <paramref name="spi"/> in the data plane.</summary>
    public void AddChild(uint spi, IActorRef actor)
    {
        _childOwner[spi] = actor;
        if (!_childrenOf.TryGetValue(actor, out var children)) _childrenOf[actor] = children = [];
        children.Add(spi);
    }

    /// <summary>The actor removed the Child SA from the data plane.</summary>
    public void RemoveChild(uint spi, IActorRef actor)
    {
        if (_childOwner.TryGetValue(spi, out var owner) && owner.Equals(actor)) _childOwner.Remove(spi);
        if (_childrenOf.TryGetValue(actor, out var children) && children.Remove(spi) && children.Count == 0) _childrenOf.Remove(actor);
    }

    public bool TryGetChildOwner(uint spi, out IActorRef actor) => _childOwner.TryGetValue(spi, out actor!);

    // ---- Half-open responder SAs ----

    public void AddHalfOpen(ulong spi, IPEndPoint peer, ulong spiI, long since, bool proven)
    {
        _halfOpen[spi] = new HalfOpenSa(peer, spiI, since, proven);
        _halfOpenByPeer[(peer, spiI)] = spi;
    }

    public bool TryGetHalfOpen(ulong spi, out HalfOpenSa entry) => _halfOpen.TryGetValue(spi, out entry!);

    /// <summary>The half-open SA a retransmitted IKE_SA_INIT from <paramref name="peer"/> belongs to.</summary>
    public bool TryGetHalfOpenOf(IPEndPoint peer, ulong spiI, out ulong spi) => _halfOpenByPeer.TryGetValue((peer, spiI), out spi);

    /// <summary>Forgets a half-open SA (established, stopped or expired); null when it was not half-open.</summary>
    public HalfOpenSa? RemoveHalfOpen(ulong spi)
    {
        if (!_halfOpen.Remove(spi, out var entry)) return null;
        _halfOpenByPeer.Remove((entry.Peer, entry.SpiI));
        return entry;
    }

    /// <summary>Half-open SAs older than <paramref name="limit"/> milliseconds at <paramref name="now"/>.</summary>
    public List<ulong>? ExpiredHalfOpen(long now, long limit)
    {
        List<ulong>? expired = null;
        foreach (var (spi, entry) in _halfOpen)
        {
            if (now - entry.Since >= limit) (expired ??= new()).Add(spi);
        }
        return expired;
    }

    // ---- Acquisitions, reauthentications, established SAs ----

    /// <summary>Starts an acquire of <paramref name="connection"/>; false while one of it is still negotiating.</summary>
    public bool TryStartAcquire(ulong spi, string connection)
    {
        if (_acquiring.ContainsValue(connection)) return false;
        _acquiring[spi] = connection;
        return true;
    }

    public bool IsAcquiring(string connection) => _acquiring.ContainsValue(connection);

    public void Replacing(ulong newSpi, ulong oldSpi) => _replacing[newSpi] = oldSpi;

    /// <summary>The SA a reauthentication (whose new SA has <paramref name="newSpi"/>) replaces, once; 0 when none.</summary>
    public ulong TakeReplaced(ulong newSpi) => _replacing.Remove(newSpi, out var old) ? old : 0;

    /// <summary>The SA is established: it is no longer half-open or acquiring.</summary>
    public void Established(ulong spi, SaUser user)
    {
        _acquiring.Remove(spi);
        AddEstablished(spi, user);
    }

    private void AddEstablished(ulong spi, SaUser user)
    {
        RemoveEstablished(spi);
        _established[spi] = user;
        var key = UserKey.Of(user);
        if (!_byUser.TryGetValue(key, out var spis)) _byUser[key] = spis = new List<ulong>(1);
        spis.Add(spi);
    }

    private SaUser? RemoveEstablished(ulong spi)
    {
        if (!_established.Remove(spi, out var user)) return null;
        var key = UserKey.Of(user);
        if (_byUser.TryGetValue(key, out var spis) && spis.Remove(spi) && spis.Count == 0) _byUser.Remove(key);
        return user;
    }

    /// <summary>
    /// The established SAs of the same user as strongSwan's connected peers table finds them: the same local identity and
    /// user over the same address family (INITIAL_CONTACT, RFC 7296 §2.4, and the unique policies), but
    /// <paramref name="except"/>'s.
    /// </summary>
    public List<(ulong Spi, IActorRef Actor, SaUser User)> DuplicatesOf(SaUser of, IActorRef? except)
    {
        var found = new List<(ulong, IActorRef, SaUser)>();
        if (!_byUser.TryGetValue(UserKey.Of(of), out var spis)) return found;
        foreach (var spi in spis)
        {
            if (_actorOf.TryGetValue(spi, out var actor) && !actor.Equals(except)) found.Add((spi, actor, _established[spi]));
        }
        return found;
    }

    /// <summary>What makes two established SAs the same login: <see cref="DuplicatesOf"/>'s comparison.</summary>
    private readonly record struct UserKey(string LocalId, string User, AddressFamily Family)
    {
        public static UserKey Of(SaUser u) => new(u.LocalId, u.User, u.Remote.AddressFamily);
    }

    /// <summary>An established IKE SA's owner as the unique policies see it: its connection, our identity, its user (the
    /// EAP identity, else the IKE identity) and the peer's address and port.</summary>
    public sealed record SaUser(string Connection, string LocalId, string User, IPEndPoint Remote);

    /// <param name="Proven">Admitted with a valid COOKIE (see <c>SourceAdmission</c>): counted in that class.</param>
    public sealed record HalfOpenSa(IPEndPoint Peer, ulong SpiI, long Since, bool Proven);
}
