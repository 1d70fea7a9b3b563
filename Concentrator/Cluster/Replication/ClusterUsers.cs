using System.Net;
using System.Net.Sockets;
using Concentrator.Actors;
using Concentrator.Ipsec;

namespace Concentrator.Cluster.Replication;

/// <summary>
/// Who the other members' IKE SAs belong to, read from their replicas for the unique policies (as
/// <see cref="ClusterLeases"/> reads their leases): each entry's snapshot is decoded once (a copy, zeroed at once; only its
/// identities, connection and peer address are kept), again only when the index replaces the entry. Its user is the IKE
/// identity the snapshot holds, or the EAP identity when the peer logged in by EAP (as IkeSa.User). A malformed replica holds no
/// user. Used on the supervisor's thread only.
/// </summary>
internal sealed class ClusterUsers(SaReplicaIndex index, string self)
{
    private readonly Dictionary<ulong, (SaReplicaEntry Entry, RemoteUser? User)> _known = new();

    private sealed record RemoteUser(string LocalId, string User, string Connection, IPEndPoint Remote);

    public IReadOnlyList<RemoteSaUser> Find(string localId, string user, AddressFamily family)
    {
        var found = new List<RemoteSaUser>();
        var present = new HashSet<ulong>();
        foreach (ulong spi in index.OwnedByNoneOf(new HashSet<string>(StringComparer.Ordinal) { self }))
        {
            if (!index.TryGet(spi, out var entry) || entry.Released) continue;
            present.Add(spi);
            if (!_known.TryGetValue(spi, out var known) || !ReferenceEquals(known.Entry, entry)) _known[spi] = known = (entry, Read(entry));
            if (known.User is { } u && u.LocalId == localId && u.User == user && u.Remote.AddressFamily == family)
                found.Add(new RemoteSaUser(spi, entry.Owner, u.Connection, u.Remote));
        }
        foreach (ulong gone in _known.Keys.Where(k => !present.Contains(k)).ToList()) _known.Remove(gone);
        return found;
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
