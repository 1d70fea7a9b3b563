using System.Net;

namespace Concentrator.Ike.Connections;

/// <summary>What the protocol needs from configuration: candidate connections and shared keys.</summary>
public interface IConnectionResolver
{
    /// <summary>Connections whose local_addrs/remote_addrs accept this address pair, in config order.</summary>
    IReadOnlyList<ConnectionConfig> FindCandidates(IPEndPoint local, IPEndPoint remote);

    byte[]? FindSharedKey(string localId, string remoteId);

    /// <summary>The connection with this config name (an SA adopted from another node names its connection); null when unknown.</summary>
    ConnectionConfig? FindConnection(string name) => null;
}
