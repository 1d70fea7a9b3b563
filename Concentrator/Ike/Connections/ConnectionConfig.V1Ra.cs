namespace Concentrator.Ike.Connections;

/// <summary>IKEv1 remote access: XAUTH and Mode Config (swanctl's second remote round and <c>pull</c>).</summary>
public sealed partial class ConnectionConfig
{
    /// <summary>
    /// swanctl's second remote round <c>remote&lt;suffix&gt; { auth = xauth }</c> (IKEv1 only): after phase 1 authenticated
    /// the client's device by <see cref="Remote"/>, the user logs in by XAUTH before any quick mode. Null: no XAUTH.
    /// </summary>
    public AuthConfig? RemoteXauth { get; init; }

    /// <summary>swanctl <c>pull</c> (IKEv1 Mode Config): yes, the client asks (CFG_REQUEST); no, the gateway pushes (CFG_SET).</summary>
    public bool Pull { get; init; } = true;
}
