using System.Net;
using Concentrator.Config;
using Concentrator.Ike.Connections;

namespace Concentrator.Hosting;

/// <summary>Resolves against a loaded <see cref="ConcentratorConfig"/> with strongSwan's address and identity rules.</summary>
public sealed class ConfigConnectionResolver(ConcentratorConfig config) : IConnectionResolver
{
    public IReadOnlyList<ConnectionConfig> FindCandidates(IPEndPoint local, IPEndPoint remote)
    {
        var ranked = new List<(ConnectionConfig Connection, int Match)>();
        foreach (var conn in config.Connections.Values)
        {
            int match = ConnectionMatch.Addresses(conn, local.Address, remote.Address);
            if (match == 0) continue;
            // strongSwan's insert_sorted_ike: ahead of the first worse match, behind its equals (config order).
            int at = ranked.FindIndex(r => match > r.Match);
            ranked.Insert(at < 0 ? ranked.Count : at, (conn, match));
        }
        return ranked.ConvertAll(r => r.Connection);
    }

    public byte[]? FindSharedKey(Identity local, Identity remote) => config.FindSharedKey(local, remote);

    public byte[]? FindEapSecret(Identity local, Identity user) => config.FindEapSecret(local, user);

    public ConnectionConfig? FindConnection(string name) => config.Connections.GetValueOrDefault(name);
}
