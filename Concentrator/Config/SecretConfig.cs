namespace Concentrator.Config;

/// <summary>
/// An IKE shared secret (swanctl secrets.ike&lt;suffix&gt;). No ids means it matches any identity.
/// Secret is the decoded value: "0x..." hex, "0s..." base64, otherwise the UTF-8 text.
/// </summary>
public sealed class SecretConfig
{
    public string Name { get; init; } = "";
    public IReadOnlyList<string> Ids { get; init; } = [];
    public byte[] Secret { get; init; } = [];
}
