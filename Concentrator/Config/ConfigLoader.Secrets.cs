using Concentrator.Ike.Connections;

namespace Concentrator.Config;

/// <summary>
/// <c>secrets:</c>, swanctl's IKE shared secrets (<see cref="SecretConfig"/>), and swanctl.conf's <c>include</c>:
/// a top-level list of files or patterns whose files hold only a <c>secrets:</c> section, merged into the
/// including config. This lets PSKs live in a separately mounted file (a Kubernetes Secret) while the rest of
/// the config is public (a ConfigMap).
/// </summary>
/// <remarks>
/// Rules: a relative path is relative to the including file's directory (the current directory for
/// a config parsed from memory). A path without <c>*</c> or <c>?</c> names one file that must exist;
/// a pattern may match nothing (an empty or absent Secret volume is not an error), only in its last
/// component, and like glob(3) its wildcards never match a leading '.' (Kubernetes keeps
/// <c>..data</c> beside the mounted keys). Matches are read in ordinal name order. An included file
/// cannot include further files, and a secret name defined twice is an error naming both files.
/// </remarks>
internal static partial class ConfigLoader
{
    private const string IncludeKey = "include";
    private const int MaxIncludedFileBytes = 1 << 20;
    private static readonly string[] IncludedRootKeys = ["secrets"];

    /// <summary>The IKE secrets (PSKs), the EAP secrets (swanctl eap&lt;suffix&gt;: user passwords) and the private keys of
    /// <c>secrets:</c>, included files' too.</summary>
    private sealed record SecretsRead(List<SecretConfig> Ike, List<PrivateKeyEntry> Keys, List<SecretConfig> Eap);

    /// <summary>swanctl's EAP and XAUTH secret sections (secrets.eap&lt;suffix&gt;, secrets.xauth&lt;suffix&gt;: user passwords,
    /// both strongSwan's SHARED_EAP): never IKE PSKs.</summary>
    private static bool IsEapSecret(string name) => name.StartsWith("eap", StringComparison.Ordinal) || name.StartsWith("xauth", StringComparison.Ordinal);

    private static SecretsRead ReadSecrets(YamlSection root)
    {
        var result = new List<SecretConfig>();
        var eap = new List<SecretConfig>();
        var keys = new List<PrivateKeyEntry>();
        // swanctl's id<suffix>: a secret has any number of owner id keys; a private key secret has file and secret.
        foreach (var (name, m) in root.Sections("secrets", k => k is "secret" or "file" || k.StartsWith("id", StringComparison.Ordinal)))
        {
            if (IsPrivateKeySecret(name))
            {
                keys.Add(ReadPrivateKey(name, m));
                continue;
            }
            if (m.Keys.Contains("file")) throw m.Fail("file", $"only a private key secret ({string.Join(", ", PrivateKeyPrefixes)}<suffix>) names a file");
            var ids = new List<Identity>();
            foreach (var key in m.Keys.Where(k => k.StartsWith("id", StringComparison.Ordinal)))
            {
                foreach (var text in m.UnsplitList(key, "identity must be a non-empty string"))
                {
                    ids.Add(ReadIdentity(m, key, text));
                }
            }
            var secret = m.Scalar("secret") ?? throw m.Fail("secret", "missing (every secret needs 'secret')");
            if (ConfigValues.TrySecret(secret, out var bytes) is { } error)
            {
                throw m.Fail("secret", error);
            }
            (IsEapSecret(name) ? eap : result).Add(new SecretConfig { Name = name, Ids = ids, Secret = bytes });
        }
        return WithIncludedSecrets(new SecretsRead(result, keys, eap), root);
    }

    private static SecretsRead WithIncludedSecrets(SecretsRead secrets, YamlSection root)
    {
        var items = root.List(IncludeKey);
        if (items is null)
        {
            return secrets;
        }
        var definedIn = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in secrets.Ike.Select(s => s.Name).Concat(secrets.Eap.Select(s => s.Name)).Concat(secrets.Keys.Select(k => k.Name)))
        {
            definedIn[name] = root.Source;
        }
        foreach (var item in items)
        {
            foreach (var path in ResolveInclude(root, item))
            {
                var included = ReadIncludedFile(path);
                foreach (var name in included.Ike.Select(s => s.Name).Concat(included.Eap.Select(s => s.Name)).Concat(included.Keys.Select(k => k.Name)))
                {
                    if (definedIn.TryGetValue(name, out var first))
                    {
                        throw new ConfigException(path, $"secrets.{name}", $"already defined in {first}");
                    }
                    definedIn[name] = path;
                }
                secrets.Ike.AddRange(included.Ike);
                secrets.Eap.AddRange(included.Eap);
                secrets.Keys.AddRange(included.Keys);
            }
        }
        return secrets;
    }

    private static List<string> ResolveInclude(YamlSection root, YamlItem item)
    {
        string full;
        try
        {
            full = Path.GetFullPath(item.Value, DirectoryOf(root.Source));
        }
        catch (ArgumentException)
        {
            throw root.Fail(item, $"'{item.Value}' is not a valid path");
        }
        return IncludePattern.TryMatch(item.Value, full, out var matches) is { } error ? throw root.Fail(item, error) : matches;
    }

    /// <summary>The directory holding <paramref name="file"/>; the current directory when it has none or is no valid path.</summary>
    private static string DirectoryOf(string file)
    {
        try
        {
            return Path.GetDirectoryName(Path.GetFullPath(file)) ?? Directory.GetCurrentDirectory();
        }
        catch (ArgumentException)
        {
            return Directory.GetCurrentDirectory();
        }
    }

    /// <summary>Reads an included file: only <c>secrets:</c>, errors naming that file.</summary>
    private static SecretsRead ReadIncludedFile(string file)
    {
        string text;
        try
        {
            // Bounded: an include may name a device (/dev/zero) or a huge file by mistake.
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read);
            var buffer = new byte[MaxIncludedFileBytes + 1];
            var length = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
            if (length > MaxIncludedFileBytes)
            {
                throw new ConfigException(file, FileKeyPath, $"included file is larger than {MaxIncludedFileBytes} bytes");
            }
            text = new StreamReader(new MemoryStream(buffer, 0, length)).ReadToEnd();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException(file, FileKeyPath, $"cannot read included file: {e.Message}");
        }
        return ReadSecrets(YamlSection.Root(file, text, IncludedRootKeys));
    }
}
