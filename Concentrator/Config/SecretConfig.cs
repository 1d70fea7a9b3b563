using Concentrator.Ike.Connections;

namespace Concentrator.Config;

/// <summary>
/// An IKE shared secret (swanctl secrets.ike&lt;suffix&gt;). Its owners are identities in strongSwan's notation and may
/// be patterns ("*@example.net"); no ids means a single %any owner, as swanctl loads it.
/// Secret is the decoded value: "0x..." hex, "0s..." base64, otherwise the UTF-8 text.
/// </summary>
public sealed class SecretConfig
{
    public string Name { get; init; } = "";
    public IReadOnlyList<Identity> Ids { get; init; } = [];
    public byte[] Secret { get; init; } = [];
}
