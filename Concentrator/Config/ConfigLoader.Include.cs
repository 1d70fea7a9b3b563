using System.IO.Enumeration;

namespace Concentrator.Config;

/// <summary>
/// swanctl.conf's <c>include</c>: a top-level list of files or patterns whose files hold only a
/// <c>secrets:</c> section, merged into the including config. This lets PSKs live in a separately
/// mounted file (a Kubernetes Secret) while the rest of the config is public (a ConfigMap).
/// </summary>
/// <remarks>
/// Rules: a relative path is relative to the including file's directory (the current directory for
/// a config parsed from memory). A path without <c>*</c> or <c>?</c> names one file that must exist;
/// a pattern may match nothing (an empty or absent Secret volume is not an error), only in its last
/// component, and like glob(3) its wildcards never match a leading '.' (Kubernetes keeps
/// <c>..data</c> beside the mounted keys). Matches are read in ordinal name order. An included file
/// cannot include further files, and a secret name defined twice is an error naming both files.
/// </remarks>
internal sealed partial class ConfigLoader
{
    internal const string IncludeKey = "include";
    internal const int MaxIncludedFileBytes = 1 << 20;
    private static readonly string[] IncludedRootKeys = ["secrets"];

    private List<SecretConfig> WithIncludedSecrets(List<SecretConfig> secrets, Map root)
    {
        var items = List(root, IncludeKey);
        if (items is null)
        {
            return secrets;
        }
        var definedIn = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var s in secrets)
        {
            definedIn[s.Name] = file;
        }
        foreach (var item in items)
        {
            foreach (var path in ResolveInclude(item))
            {
                foreach (var s in new ConfigLoader(path).ReadIncludedFile())
                {
                    if (definedIn.TryGetValue(s.Name, out var first))
                    {
                        throw new ConfigException(path, $"secrets.{s.Name}", $"already defined in {first}");
                    }
                    definedIn[s.Name] = path;
                    secrets.Add(s);
                }
            }
        }
        return secrets;
    }

    private List<string> ResolveInclude(Item item)
    {
        string full;
        try
        {
            full = Path.GetFullPath(item.Value, IncludeBaseDirectory());
        }
        catch (ArgumentException)
        {
            throw Fail(item.Path, $"'{item.Value}' is not a valid path", item.Node);
        }
        var directory = Path.GetDirectoryName(full) ?? "/";
        var pattern = Path.GetFileName(full);
        if (directory.AsSpan().IndexOfAny('*', '?') >= 0)
        {
            throw Fail(item.Path, $"'{item.Value}': wildcards are allowed only in the file name", item.Node);
        }
        if (pattern.Length == 0)
        {
            throw Fail(item.Path, $"'{item.Value}' names a directory, not a file or pattern", item.Node);
        }
        if (pattern.AsSpan().IndexOfAny('*', '?') < 0)
        {
            return File.Exists(full)
                ? [full]
                : throw Fail(item.Path, $"'{full}' not found (only a pattern with * or ? may match nothing)", item.Node);
        }
        if (!Directory.Exists(directory))
        {
            return [];
        }
        var matches = new List<string>();
        foreach (var candidate in Directory.EnumerateFiles(directory))
        {
            var name = Path.GetFileName(candidate);
            if ((name[0] != '.' || pattern[0] == '.') && FileSystemName.MatchesSimpleExpression(pattern, name, ignoreCase: false))
            {
                matches.Add(candidate);
            }
        }
        matches.Sort(StringComparer.Ordinal);
        return matches;
    }

    private string IncludeBaseDirectory()
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

    /// <summary>Reads this loader's file as an included file: only <c>secrets:</c>, errors naming this file.</summary>
    private List<SecretConfig> ReadIncludedFile()
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
        var root = Section("", LoadRootNode(text), RootKeyPath, IncludedRootKeys);
        return ReadSecrets(root);
    }
}
