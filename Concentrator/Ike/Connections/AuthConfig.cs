namespace Concentrator.Ike.Connections;

/// <summary>One end's authentication round (swanctl local/remote section): psk, pubkey, eap or eap-&lt;method&gt;.</summary>
public sealed class AuthConfig
{
    public string Auth { get; init; } = "psk";
    public string Id { get; init; } = "%any";
}
