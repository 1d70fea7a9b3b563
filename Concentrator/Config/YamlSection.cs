using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Concentrator.Config;

/// <summary>
/// One YAML mapping of a config file at its key path ("connections.site-a.children.lan"; "" for the root). Its keys
/// are checked when it is made: an unknown key is an error naming it. Typed reads return null for an absent key and
/// throw a <see cref="ConfigException"/> naming the file, the key path and the problem, with the line of the node at
/// fault. Values are parsed by <see cref="ConfigValues"/>; lists may be YAML sequences or comma-separated strings.
/// </summary>
internal sealed class YamlSection
{
    private const string YamlKeyPath = "<yaml>";
    private const string RootKeyPath = "<root>";

    private readonly string _keyPath;
    private readonly Dictionary<string, YamlNode> _values = new(StringComparer.Ordinal);
    private readonly YamlNode? _node;

    /// <summary>The file (or source name) errors are reported against.</summary>
    public string Source { get; }

    public IEnumerable<string> Keys => _values.Keys;

    /// <param name="expectedKeys">Listed in the unknown-key error; null lists nothing.</param>
    private YamlSection(string source, string keyPath, YamlNode? node, Func<string, bool> keyAllowed, string[]? expectedKeys)
    {
        Source = source;
        _keyPath = keyPath;
        _node = node;
        if (node is null || node is YamlScalarNode { Value: null or "" })
        {
            return;
        }
        var errorPath = keyPath.Length == 0 ? RootKeyPath : keyPath;
        if (node is not YamlMappingNode mapping)
        {
            throw FailAt(errorPath, $"expected a mapping of keys, found a {KindOf(node)}", node);
        }
        foreach (var (k, v) in mapping.Children)
        {
            var name = (k as YamlScalarNode)?.Value ?? throw FailAt(errorPath, "keys must be plain names", k);
            if (!keyAllowed(name))
            {
                var hint = expectedKeys is null ? "" : $" (expected one of: {string.Join(", ", expectedKeys)})";
                throw FailAt(PathOf(name), $"unknown key '{name}'{hint}", k);
            }
            _values[name] = v;
        }
    }

    /// <summary>The root mapping of a one-document YAML text (empty for an empty text), allowing only <paramref name="keys"/>.</summary>
    public static YamlSection Root(string source, string yaml, string[] keys)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException e)
        {
            throw new ConfigException(source, YamlKeyPath, $"invalid YAML: {Innermost(e).Message} (line {e.Start.Line})");
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            // YamlDotNet throws these instead of a YamlException on some malformed input (found by fuzzing,
            // Concentrator.Fuzz/crashes/config); it is still a bad file, not a crash.
            throw new ConfigException(source, YamlKeyPath, $"invalid YAML: {e.Message}");
        }
        if (stream.Documents.Count > 1)
        {
            throw FailAt(source, RootKeyPath, "more than one YAML document", stream.Documents[1].RootNode);
        }
        var node = stream.Documents.Count == 0 ? null : stream.Documents[0].RootNode;
        return new YamlSection(source, "", node, keys.Contains, keys);
    }

    /// <summary>
    /// Every leaf of this mapping by key path ("connections.a.children.lan.esp_proposals[0]") with a digest of the scalar as
    /// written (SHA-256, so that PSKs do not stay in memory as strings); what a reload compares to name the keys that changed. Aliases are expanded, so a small file could stand for any number of
    /// leaves: more than <paramref name="maxValues"/> (the loader allows a few per character of the file) or a nesting deeper
    /// than 64 is an error naming the file.
    /// </summary>
    public Dictionary<string, string> Flatten(int maxValues)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (_node is not null) Walk(_keyPath, _node, 0);
        return result;

        void Walk(string path, YamlNode node, int depth)
        {
            if (depth > 64 || result.Count >= maxValues)
            {
                throw FailAt(path.Length == 0 ? RootKeyPath : path, "nested too deeply or too many values (YAML aliases?)", node);
            }
            switch (node)
            {
                case YamlMappingNode mapping:
                    foreach (var (k, v) in mapping.Children)
                    {
                        var name = (k as YamlScalarNode)?.Value ?? "";
                        Walk(path.Length == 0 ? name : $"{path}.{name}", v, depth + 1);
                    }
                    break;
                case YamlSequenceNode sequence:
                    for (int i = 0; i < sequence.Children.Count; i++) Walk($"{path}[{i}]", sequence.Children[i], depth + 1);
                    break;
                case YamlScalarNode scalar:
                    result[path] = Digest(scalar.Value ?? "");
                    break;
            }
        }
    }

    /// <summary>The digest <see cref="Flatten"/> keeps of a value: equal values, equal digests, within this process. Keyed
    /// with a random per-process key, so the digests of passwords and secrets in memory cannot be tried against a wordlist.</summary>
    public static string Digest(string value) =>
        Convert.ToHexString(System.Security.Cryptography.HMACSHA256.HashData(DigestKey, System.Text.Encoding.UTF8.GetBytes(value)), 0, 16);

    private static readonly byte[] DigestKey = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);

    /// <summary>The mapping under <paramref name="key"/> (empty when absent), allowing only <paramref name="keys"/>.</summary>
    public YamlSection Section(string key, string[] keys) => new(Source, PathOf(key), Get(key), keys.Contains, keys);

    /// <summary>The named mappings under <paramref name="key"/> (connections, children, secrets) in file order, each allowing only <paramref name="keys"/>.</summary>
    public IEnumerable<(string Name, YamlSection Section)> Sections(string key, string[] keys) => Sections(key, keys.Contains, keys);

    /// <summary>As <see cref="Sections(string, string[])"/> with the allowed keys decided by <paramref name="keyAllowed"/>.</summary>
    public IEnumerable<(string Name, YamlSection Section)> Sections(string key, Func<string, bool> keyAllowed) => Sections(key, keyAllowed, null);

    private IEnumerable<(string Name, YamlSection Section)> Sections(string key, Func<string, bool> keyAllowed, string[]? expectedKeys)
    {
        var node = Get(key);
        var path = PathOf(key);
        if (node is null || node is YamlScalarNode { Value: null or "" })
        {
            yield break;
        }
        if (node is not YamlMappingNode mapping)
        {
            throw FailAt(path, $"expected a mapping of named sections, found a {KindOf(node)}", node);
        }
        foreach (var (k, v) in mapping.Children)
        {
            var name = (k as YamlScalarNode)?.Value;
            // A '.' would make the name's key paths ambiguous.
            if (string.IsNullOrWhiteSpace(name) || name.Contains('.'))
            {
                throw FailAt(path, $"section names must be non-empty and contain no '.', found '{name}'", k);
            }
            yield return (name, new YamlSection(Source, $"{path}.{name}", v, keyAllowed, expectedKeys));
        }
    }

    public string PathOf(string key) => _keyPath.Length == 0 ? key : $"{_keyPath}.{key}";

    /// <summary>A single value. A key written without a value is an error; an empty quoted string is a value.</summary>
    public string? Scalar(string key)
    {
        var node = Get(key);
        if (node is null)
        {
            return null;
        }
        if (node is not YamlScalarNode s)
        {
            throw Fail(key, $"expected a single value, found a {KindOf(node)}");
        }
        if (string.IsNullOrEmpty(s.Value) && s.Style == ScalarStyle.Plain)
        {
            throw Fail(key, "value is missing");
        }
        return s.Value ?? "";
    }

    /// <summary>A YAML sequence of values, or one string split on commas; items trimmed, none empty.</summary>
    public List<YamlItem>? List(string key)
    {
        var node = Get(key);
        var path = PathOf(key);
        switch (node)
        {
            case null:
                return null;
            case YamlSequenceNode seq:
            {
                var items = new List<YamlItem>();
                var i = 0;
                foreach (var child in seq.Children)
                {
                    var itemPath = $"{path}[{i++}]";
                    if (child is not YamlScalarNode s || string.IsNullOrWhiteSpace(s.Value))
                    {
                        throw FailAt(itemPath, child is YamlScalarNode ? "empty list item" : $"expected a single value, found a {KindOf(child)}", child);
                    }
                    items.Add(new YamlItem(s.Value.Trim(), itemPath, child));
                }
                return items;
            }
            case YamlScalarNode scalar:
            {
                var text = scalar.Value ?? "";
                if (text.Trim().Length == 0)
                {
                    return [];
                }
                var parts = text.Split(',');
                var items = new List<YamlItem>();
                for (var i = 0; i < parts.Length; i++)
                {
                    var v = parts[i].Trim();
                    if (v.Length == 0)
                    {
                        throw FailAt($"{path}[{i}]", $"empty list item in '{text}'", node);
                    }
                    items.Add(new YamlItem(v, $"{path}[{i}]", node));
                }
                return items;
            }
            default:
                throw FailAt(path, $"expected a list or comma-separated string, found a {KindOf(node)}", node);
        }
    }

    /// <summary>
    /// A YAML sequence of values, or one value that is never split on commas (a distinguished name contains them);
    /// items trimmed. A missing, empty or non-scalar item is <paramref name="problem"/>. Empty when the key is absent.
    /// </summary>
    public List<string> UnsplitList(string key, string problem)
    {
        var result = new List<string>();
        switch (Get(key))
        {
            case null:
                break;
            case YamlSequenceNode seq:
                var i = 0;
                foreach (var child in seq.Children)
                {
                    result.Add(NonEmpty(child, $"{PathOf(key)}[{i++}]"));
                }
                break;
            case var node:
                result.Add(NonEmpty(node, PathOf(key)));
                break;
        }
        return result;

        string NonEmpty(YamlNode node, string path) =>
            node is YamlScalarNode s && !string.IsNullOrWhiteSpace(s.Value) ? s.Value.Trim() : throw FailAt(path, problem, node);
    }

    public int? Int(string key, int min, int max) => Parsed(key, (string text, out int value) => ConfigValues.TryInt(text, min, max, out value));

    public double? Number(string key, double min, double max) =>
        Parsed(key, (string text, out double value) => ConfigValues.TryNumber(text, min, max, out value));

    public bool? Bool(string key) => Parsed<bool>(key, ConfigValues.TryBool);

    public TimeSpan? Duration(string key) => Parsed<TimeSpan>(key, ConfigValues.TryDuration);

    public TimeSpan? Duration(string key, TimeSpan min, TimeSpan max) =>
        Duration(key) is not { } v ? null
        : v >= min && v <= max ? v
        : throw Fail(key, $"{v.TotalSeconds:0.###}s is out of range {min.TotalSeconds:0.###}s..{max.TotalSeconds:0.###}s");

    public ulong? Bytes(string key) => Parsed<ulong>(key, ConfigValues.TryBytes);

    public ulong? Packets(string key) => Parsed<ulong>(key, ConfigValues.TryPackets);

    /// <summary>One of <paramref name="allowed"/>, case-insensitive, returned in lower case. A value in
    /// <paramref name="knownButUnsupported"/> (swanctl has it, we do not yet) is refused as "not supported yet".</summary>
    public string? Choice(string key, string[] allowed, string[]? knownButUnsupported = null)
    {
        if (Scalar(key) is not { } text)
        {
            return null;
        }
        var v = text.Trim().ToLowerInvariant();
        if (allowed.Contains(v))
        {
            return v;
        }
        var why = knownButUnsupported?.Contains(v) == true
            ? $"'{text}' is not supported yet (use {string.Join(" or ", allowed)})"
            : $"'{text}' is not one of {string.Join(", ", allowed)}";
        throw Fail(key, why);
    }

    /// <summary>A file path, relative to the config file's directory when that file exists; "" when the key is absent,
    /// empty or written without a value; an error when the file is missing.</summary>
    public string ExistingFile(string key)
    {
        if (Get(key) is YamlScalarNode { Value: null or "" } || Scalar(key) is not { } text || text.Trim().Length == 0)
        {
            return "";
        }
        var path = Resolve(text.Trim());
        return File.Exists(path) ? path : throw Fail(key, $"file '{text}' not found");
    }

    /// <summary><see cref="ExistingFile"/> for each item of a list; empty when the key is absent.</summary>
    public List<string> ExistingFiles(string key)
    {
        var files = new List<string>();
        foreach (var item in List(key) ?? [])
        {
            var path = Resolve(item.Value);
            files.Add(File.Exists(path) ? path : throw Fail(item, $"file '{item.Value}' not found"));
        }
        return files;
    }

    /// <summary>A relative path is relative to the config file's directory when that file exists.</summary>
    private string Resolve(string path) =>
        !Path.IsPathRooted(path) && Path.GetDirectoryName(Path.GetFullPath(Source)) is { } dir && File.Exists(Source) ? Path.Combine(dir, path) : path;

    /// <summary>An error at <paramref name="key"/>, with the line of its value, or of this section when the key is absent.</summary>
    public ConfigException Fail(string key, string problem) => FailAt(PathOf(key), problem, Get(key) ?? _node);

    public ConfigException Fail(YamlItem item, string problem) => FailAt(item.KeyPath, problem, item.Node);

    private delegate string? ValueParser<T>(string text, out T value);

    private T? Parsed<T>(string key, ValueParser<T> parse) where T : struct
    {
        if (Scalar(key) is not { } text)
        {
            return null;
        }
        var error = parse(text, out var value);
        return error is null ? value : throw Fail(key, error);
    }

    private YamlNode? Get(string key) => _values.GetValueOrDefault(key);

    private ConfigException FailAt(string keyPath, string problem, YamlNode? node) => FailAt(Source, keyPath, problem, node);

    private static ConfigException FailAt(string source, string keyPath, string problem, YamlNode? node) =>
        new(source, keyPath, node is null ? problem : $"{problem} (line {node.Start.Line})");

    private static string KindOf(YamlNode node) => node switch
    {
        YamlMappingNode => "mapping",
        YamlSequenceNode => "list",
        _ => "value",
    };

    private static Exception Innermost(Exception e) => e.InnerException is { } inner ? Innermost(inner) : e;
}

/// <summary>A list item: its trimmed text, its key path ("proposals[1]") and the node it came from (null for a default).</summary>
internal readonly record struct YamlItem(string Value, string KeyPath, YamlNode? Node);
