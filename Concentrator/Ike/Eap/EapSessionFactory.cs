using Concentrator.Ike.Connections;

namespace Concentrator.Ike.Eap;

/// <summary>
/// The gateway's EAP methods by a remote round's auth: eap-mschapv2 served here against the EAP secrets of the resolver;
/// eap-radius by <paramref name="radius"/> (the eap-radius plugin's factory, null when it has no servers); eap, strongSwan's
/// "the method the server chooses", by RADIUS when configured, else by eap-mschapv2 here.
/// </summary>
public sealed class EapSessionFactory(IConnectionResolver resolver, IEapSessionFactory? radius = null) : IEapSessionFactory
{
    public IEapSession? Create(ConnectionConfig connection, AuthConfig remote) => remote.Auth switch
    {
        AuthConfig.EapMsChapV2 => MsChapV2(connection),
        AuthConfig.EapRadius => radius?.Create(connection, remote),
        AuthConfig.Eap => radius?.Create(connection, remote) ?? MsChapV2(connection),
        _ => null,
    };

    /// <summary>As above; RADIUS gets the IKE SA's endpoints (NAS attributes, accounting).</summary>
    public IEapSession? Create(ConnectionConfig connection, AuthConfig remote, EapPeer peer) => remote.Auth switch
    {
        AuthConfig.EapMsChapV2 => MsChapV2(connection),
        AuthConfig.EapRadius => radius?.Create(connection, remote, peer),
        AuthConfig.Eap => radius?.Create(connection, remote, peer) ?? MsChapV2(connection),
        _ => null,
    };

    private MsChapV2Session MsChapV2(ConnectionConfig connection) =>
        new(user => resolver.FindEapSecret(connection.Local.Identity, user));
}
