using Concentrator.Cluster.Membership;
using Concentrator.Ike.Attributes;
using Concentrator.Ike.Connections;

namespace Concentrator.Config;

/// <summary>The whole configuration: YAML with swanctl.conf names (see example.yaml beside this file).</summary>
public sealed class ConcentratorConfig
{
    public ListenConfig Listen { get; init; } = new();
    public HttpConfig Http { get; init; } = new();
    public TunnelConfig Tunnel { get; init; } = new();
    public CharonConfig Charon { get; init; } = new();

    /// <summary>Virtual IP pools by name (swanctl <c>pools</c>), in file order.</summary>
    public IReadOnlyDictionary<string, PoolConfig> Pools { get; init; } = new Dictionary<string, PoolConfig>();
    public IReadOnlyDictionary<string, ConnectionConfig> Connections { get; init; } = new Dictionary<string, ConnectionConfig>();
    public IReadOnlyList<SecretConfig> Secrets { get; init; } = [];

    /// <summary>swanctl's EAP secrets (secrets.eap&lt;suffix&gt;): the passwords eap-mschapv2 checks, by EAP identity.</summary>
    public IReadOnlyList<SecretConfig> EapSecrets { get; init; } = [];
    public ClusterConfig Cluster { get; init; } = new();
    public string Source { get; init; } = "<memory>";

    /// <summary>
    /// Every leaf of the file by key path with a digest of its value as written; empty for a config built in memory. A reload
    /// compares two of these to name the keys that changed (restart-only keys, changed connections), never the values.
    /// </summary>
    public IReadOnlyDictionary<string, string> KeyValues { get; init; } = new Dictionary<string, string>();

    /// <summary>Reads and validates a file; a missing or unreadable file is a <see cref="ConfigException"/> naming the path.</summary>
    public static ConcentratorConfig Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            var problem = e is FileNotFoundException or DirectoryNotFoundException
                ? "file not found"
                : $"cannot read file: {e.Message}";
            throw new ConfigException(path, ConfigLoader.FileKeyPath, problem);
        }
        return Parse(text, path);
    }

    /// <summary>Parses and validates YAML text; <paramref name="sourceName"/> is used in errors and as <see cref="Source"/>.</summary>
    public static ConcentratorConfig Parse(string yaml, string sourceName) => ConfigLoader.Parse(yaml, sourceName);

    /// <summary>strongSwan's shared-key lookup (<see cref="SharedKeyMatcher"/>): the peer's identity ranks first, ours breaks a tie.</summary>
    /// <returns>A copy of the secret (the caller may zero it), or null when no secret's owners match either identity.</returns>
    public byte[]? FindSharedKey(Identity local, Identity remote)
    {
        var best = SharedKeyMatcher.FindBest(Secrets, local, remote);
        return best?.Secret.ToArray();
    }

    /// <summary>
    /// An EAP user's password (strongSwan's get_shared(SHARED_EAP, server, peer)), selected as <see cref="FindSharedKey(Identity, Identity)"/>
    /// selects a PSK; a copy the caller zeroes. Null when no EAP secret's owners match the user.
    /// </summary>
    public byte[]? FindEapSecret(Identity local, Identity user)
    {
        var best = SharedKeyMatcher.FindBest(EapSecrets, local, user);
        return best?.Secret.ToArray();
    }

    /// <summary>As above with both identities in strongSwan's notation ("%any" then means the configured wildcard).</summary>
    public byte[]? FindSharedKey(string localId, string remoteId) => FindSharedKey(Identity.Parse(localId), Identity.Parse(remoteId));
}
