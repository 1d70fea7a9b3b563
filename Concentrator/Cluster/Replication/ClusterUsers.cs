using System.Net;
using System.Net.Sockets;
using Concentrator.Actors;
using Concentrator.Ipsec;

namespace Concentrator.Cluster.Replication;

/// <summary>
/// Who the other members' IKE SAs belong to, read from their replicas for the unique policies (as
/// <see cref="ClusterLeases"/> reads their leases): each entry's snapshot is decoded once (a copy, zeroed at once; only its
/// identities, connection and peer address are kept), again only when the index replaces the entry, and kept by user so
/// that a question costs the entries changed since the last one, not a scan of every replica (one question per setup with
/// INITIAL_CONTACT or unique). Its user is the IKE identity the snapshot holds, or the EAP identity when the peer logged in
/// by EAP (as IkeSa.User). A malformed replica holds no user. Used on the supervisor's thread only.
/// </summary>
internal sealed class ClusterUsers(SaReplicaIndex index, string self)
{
    private readonly Dictionary<ulong, (SaReplicaEntry Entry, RemoteUser User)> _known = new();
    private readonly Dictionary<UserKey, HashSet<ulong>> _byUser = new();
    private readonly List<ulong> _changed = new();
    private bool _built;

    private sealed record RemoteUser(string LocalId, string User, string Connection, IPEndPoint Remote);

    private readonly record struct UserKey(string LocalId, string User, AddressFamily Family);

    public IReadOnlyList<RemoteSaUser> Find(string localId, string user, AddressFamily family)
    {
        Refresh();
        var found = new List<RemoteSaUser>();
        if (!_byUser.TryGetValue(new UserKey(localId, user, family), out var spis)) return found;
        foreach (ulong spi in spis)
        {
            // Released is the entry's own state; the owner and the entry itself are checked against the index as it is now.
            if (!index.TryGet(spi, out var entry) || entry.Released || entry.Owner == self) continue;
            var u = _known[spi].User;
            found.Add(new RemoteSaUser(spi, entry.Owner, u.Connection, u.Remote));
        }
        return found;
    }

    /// <summary>Applies the index's changes since the last question (or rebuilds from every entry after its log overflowed).</summary>
    private void Refresh()
    {
        _changed.Clear();
        if (!index.DrainChanges(_changed) || !_built)
        {
            _known.Clear();
            _byUser.Clear();
            _changed.Clear();
            _changed.AddRange(index.AllSpis());
            _built = true;
        }
        foreach (ulong spi in _changed)
        {
            bool present = index.TryGet(spi, out var entry) && entry.Owner != self;
            if (_known.TryGetValue(spi, out var known))
            {
                if (present && ReferenceEquals(known.Entry, entry)) continue;
                Forget(spi, known.User);
            }
            if (present && Read(entry) is { } u)
            {
                _known[spi] = (entry, u);
                var key = new UserKey(u.LocalId, u.User, u.Remote.AddressFamily);
                if (!_byUser.TryGetValue(key, out var spis)) _byUser[key] = spis = [];
                spis.Add(spi);
            }
        }
    }

    private void Forget(ulong spi, RemoteUser u)
    {
        _known.Remove(spi);
        var key = new UserKey(u.LocalId, u.User, u.Remote.AddressFamily);
        if (_byUser.TryGetValue(key, out var spis) && spis.Remove(spi) && spis.Count == 0) _byUser.Remove(key);
    }

    private static RemoteUser? Read(SaReplicaEntry entry)
    {
        if (!entry.TryCopySnapshot(out var bytes)) return null;
        try
        {
            if (IkeSaSnapshotCodec.TryDecode(bytes, out var snapshot) != ParseStatus.Ok) return null;
            using (snapshot)
            {
                if (snapshot!.State != IkeSaState.Established || snapshot.LocalId is not { } local || snapshot.RemoteId is not { } remote) return null;
                return new RemoteUser(local.Text, (snapshot.EapIdentity ?? remote).Text, snapshot.Connection, snapshot.Remote);
            }
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(bytes);
        }
    }
}
