using System.Net;

namespace Concentrator.Ike.Connections;

/// <summary>What the protocol needs from configuration: candidate connections and shared keys.</summary>
public interface IConnectionResolver
{
    /// <summary>
    /// Connections whose local_addrs/remote_addrs accept this address pair, best address match first
    /// (<see cref="ConnectionMatch.Addresses"/>), config order among equals.
    /// </summary>
    IReadOnlyList<ConnectionConfig> FindCandidates(IPEndPoint local, IPEndPoint remote);

    /// <summary>
    /// The PSK for our identity and the peer's, ranked as strongSwan's get_shared does (the peer's identity first); a fresh
    /// copy on every call, which the caller zeroes after use. Null when no secret's owners match either identity.
    /// </summary>
    byte[]? FindSharedKey(Identity local, Identity remote);

    /// <summary>
    /// The password of EAP user <paramref name="user"/> (swanctl secrets.eap&lt;suffix&gt;) for our identity
    /// <paramref name="local"/>, ranked as <see cref="FindSharedKey"/>; a fresh copy the caller zeroes. Null when none.
    /// </summary>
    byte[]? FindEapSecret(Identity local, Identity user) => null;

    /// <summary>The connection with this config name (an SA adopted from another node names its connection); null when unknown.</summary>
    ConnectionConfig? FindConnection(string name) => null;
}
