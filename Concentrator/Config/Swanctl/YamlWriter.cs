using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace Concentrator.Config.Swanctl;

/// <summary>
/// Writes a converted tree with YamlDotNet (the library our loader reads with): keys plain where YAML allows, every value
/// double-quoted so that no value is read as another type or breaks the syntax (a PSK with '#', an id with ': ').
/// </summary>
internal static class YamlWriter
{
    public static string Write(SwanctlConverter.YamlMap root, string comment)
    {
        var document = new YamlDocument(Node(root));
        var text = new StringWriter();
        text.Write($"# {comment.ReplaceLineEndings(" ")}\n");
        new YamlStream(document).Save(text, assignAnchors: false);
        var yaml = text.ToString().ReplaceLineEndings("\n");
        // YamlDotNet ends the document with "...": harmless, but no hand-written config carries it.
        return yaml.EndsWith("...\n", StringComparison.Ordinal) ? yaml[..^4] : yaml;
    }

    private static YamlNode Node(object value) => value switch
    {
        SwanctlConverter.YamlMap map => new YamlMappingNode(map.Select(kv =>
            new KeyValuePair<YamlNode, YamlNode>(new YamlScalarNode(kv.Key), Node(kv.Value)))),
        List<string> list => new YamlSequenceNode(list.Select(Node)) { Style = SequenceStyle.Flow },
        string s => new YamlScalarNode(s) { Style = ScalarStyle.DoubleQuoted },
        _ => throw new ArgumentException($"no YAML form for {value.GetType().Name}", nameof(value)),
    };
}
