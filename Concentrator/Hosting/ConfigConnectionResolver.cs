using System.Net;
using Concentrator.Config;
using Concentrator.Ike.Connections;

namespace Concentrator.Hosting;

/// <summary>
/// Resolves against a loaded <see cref="ConcentratorConfig"/> with strongSwan's address and identity rules. A reload swaps
/// the whole config (<see cref="Replace"/>): every call reads the current one once, so a new IKE_SA_INIT's candidates all
/// come from one file, never a mix; SAs keep the <see cref="ConnectionConfig"/> they were made with.
/// </summary>
public sealed class ConfigConnectionResolver(ConcentratorConfig config) : IConnectionResolver
{
    private volatile ConcentratorConfig _config = config;

    /// <summary>The config new SAs resolve against.</summary>
    public ConcentratorConfig Current => _config;

    /// <summary>From now on new SAs resolve against <paramref name="next"/> (secrets, connections and their trust included).</summary>
    public void Replace(ConcentratorConfig next) => _config = next;

    public IReadOnlyList<ConnectionConfig> FindCandidates(IPEndPoint local, IPEndPoint remote)
    {
        var ranked = new List<(ConnectionConfig Connection, int Match)>();
        foreach (var conn in _config.Connections.Values)
        {
            int match = ConnectionMatch.Addresses(conn, local.Address, remote.Address);
            if (match == 0) continue;
            // strongSwan's insert_sorted_ike: ahead of the first worse match, behind its equals (config order).
            int at = ranked.FindIndex(r => match > r.Match);
            ranked.Insert(at < 0 ? ranked.Count : at, (conn, match));
        }
        return ranked.ConvertAll(r => r.Connection);
    }

    public byte[]? FindSharedKey(Identity local, Identity remote) => _config.FindSharedKey(local, remote);

    public byte[]? FindEapSecret(Identity local, Identity user) => _config.FindEapSecret(local, user);

    public ConnectionConfig? FindConnection(string name) => _config.Connections.GetValueOrDefault(name);
}
