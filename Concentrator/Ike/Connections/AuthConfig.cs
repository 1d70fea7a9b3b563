namespace Concentrator.Ike.Connections;

/// <summary>One end's authentication round (swanctl local/remote section): psk (pubkey, eap and eap-&lt;method&gt; are
/// refused by the loader until they are built).</summary>
public sealed class AuthConfig
{
    public string Auth { get; init; } = "psk";
    public string Id { get; init; } = "%any";
}
