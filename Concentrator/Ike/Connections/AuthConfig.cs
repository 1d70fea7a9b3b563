namespace Concentrator.Ike.Connections;

/// <summary>One end's authentication round (swanctl local/remote section): psk (pubkey, eap and eap-&lt;method&gt; are
/// refused by the loader until they are built).</summary>
public sealed class AuthConfig
{
    private readonly string _id = Identity.Any;

    public string Auth { get; init; } = "psk";

    /// <summary>The identity as written, in strongSwan's notation; parsed once into <see cref="Identity"/> (invalid text throws).</summary>
    public string Id
    {
        get => _id;
        init
        {
            _id = value;
            Identity = Identity.Parse(value);
        }
    }

    /// <summary>The configured identity: ours (local) or the pattern a peer's must match (remote).</summary>
    public Identity Identity { get; private init; } = Identity.AnyIdentity;
}
