using System.Text.RegularExpressions;
using Concentrator.Hosting;

namespace Concentrator.Tests.Architecture;

/// <summary>
/// The direction of dependencies in <c>Concentrator/</c> (DEVELOPERS.md, "Layout"): a folder may use the folders
/// below it, never one above. Checked twice: on the compiled assembly (every type a type uses, bodies included) and on
/// the sources (using directives and qualified names, which also see constants the compiler inlines). A failure names
/// the pair of folders and the types that make the edge.
/// </summary>
public sealed class LayeringTests
{
    /// <summary>The top-level folders, top to bottom. "" is the entry point (Program.cs).</summary>
    internal static readonly string[][] Layers =
    [
        [""],
        ["Cli"],
        ["Simulation"],
        ["Hosting"],
        ["Config"],
        ["Cluster"],
        ["Radius"],
        ["Actors"],
        ["Ike"],
        ["DataPlane"],
        ["Transport"],
        ["Telemetry"],
        ["Ipsec"],
    ];

    /// <summary>Rooms inside a top-level folder, top to bottom; rooms in one row may use each other. "Ike" alone is
    /// the folder's own files (none today).</summary>
    internal static readonly (string Folder, string[][] Rooms)[] RoomOrders =
    [
        ("Ike", [["Ike/Sa", "Ike/Tasks"], ["Ike/Eap"], ["Ike/Admission"], ["Ike/Attributes"], ["Ike/Connections"], ["Ike/Proposals"], ["Ike/Crypto"], ["Ike/Wire"], ["Ike"]]),
        ("DataPlane", [["DataPlane/Linux"], ["DataPlane"], ["DataPlane/Esp"], ["DataPlane/Native"]]),
        ("Cluster", [["Cluster/Replication"], ["Cluster/Membership"]]),
        ("Config", [["Config/Swanctl"], ["Config"]]),
    ];

    private static readonly Lazy<DependencyGraph> TopLevel = new(() => DependencyGraph.Load(typeof(Gateway).Assembly.Location, depth: 1));
    private static readonly Lazy<DependencyGraph> Rooms = new(() => DependencyGraph.Load(typeof(Gateway).Assembly.Location, depth: 2));

    [Fact]
    public void Top_level_folders_use_only_folders_below_them()
    {
        var violations = Violations(TopLevel.Value.Edges, Layers);
        AssertNone(violations);
    }

    [Fact]
    public void Rooms_inside_a_folder_use_only_rooms_below_them()
    {
        var violations = new List<Violation>();
        foreach (var (folder, rooms) in RoomOrders)
        {
            var inside = Rooms.Value.Edges.Where(e => Top(e.Key.From) == folder && Top(e.Key.To) == folder)
                .ToDictionary(e => e.Key, e => e.Value);
            violations.AddRange(Violations(inside, rooms));
        }
        AssertNone(violations);
    }

    [Fact]
    public void Every_folder_has_a_place_in_the_layers()
    {
        var placed = Layers.SelectMany(l => l).ToHashSet();
        var sourceFolders = Directory.GetDirectories(SourceRoot)
            .Select(Path.GetFileName).Where(n => n is not ("bin" or "obj" or "Properties")).Select(n => n!);
        var graphFolders = TopLevel.Value.Edges.Keys.SelectMany(e => new[] { e.From, e.To });
        var unplaced = sourceFolders.Concat(graphFolders).Where(f => !placed.Contains(f)).Distinct().ToList();
        Assert.True(unplaced.Count == 0, $"folders without a layer in LayeringTests.Layers: {string.Join(", ", unplaced)}");
    }

    [Fact]
    public void Namespaces_mirror_folders()
    {
        var wrong = new List<string>();
        foreach (var file in SourceFiles())
        {
            var relative = Path.GetRelativePath(SourceRoot, Path.GetDirectoryName(file)!);
            var expected = relative == "." ? null : "Concentrator." + relative.Replace(Path.DirectorySeparatorChar, '.');
            var declared = Regex.Match(File.ReadAllText(file), @"^namespace ([\w.]+)", RegexOptions.Multiline);
            string? actual = declared.Success ? declared.Groups[1].Value : null;
            if (actual != expected) wrong.Add($"{Path.GetRelativePath(SourceRoot, file)}: namespace {actual ?? "(none)"}, folder says {expected ?? "(none)"}");
        }
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }

    [Fact]
    public void Sources_name_only_namespaces_below_their_folder()
    {
        var edges = new Dictionary<(string From, string To), SortedSet<string>>();
        foreach (var file in SourceFiles())
        {
            var relative = Path.GetRelativePath(SourceRoot, file);
            string from = relative.Contains(Path.DirectorySeparatorChar) ? relative[..relative.IndexOf(Path.DirectorySeparatorChar)] : "";
            foreach (var (line, ns) in NamespacesNamed(File.ReadAllLines(file)))
            {
                string to = DependencyGraph.FolderOf(ns, depth: 1);
                if (to.Length == 0 || to == from) continue;
                if (!edges.TryGetValue((from, to), out var uses)) edges[(from, to)] = uses = new SortedSet<string>(StringComparer.Ordinal);
                uses.Add($"{relative}:{line} names {ns}");
            }
        }
        AssertNone(Violations(edges, Layers));
    }

    /// <summary>A file past this has grown into a god object again (the house redesign split four of them).</summary>
    private const int MaxLinesPerFile = 600;

    [Fact]
    public void No_production_file_is_longer_than_600_lines()
    {
        var tooLong = SourceFiles()
            .Select(f => (File: Path.GetRelativePath(SourceRoot, f), Lines: File.ReadLines(f).Count()))
            .Where(f => f.Lines > MaxLinesPerFile)
            .Select(f => $"{f.File}: {f.Lines} lines")
            .ToList();
        Assert.True(tooLong.Count == 0, $"split by responsibility (limit {MaxLinesPerFile}):\n" + string.Join("\n", tooLong));
    }

    [Fact]
    public void A_violation_names_both_folders_and_the_types_that_make_the_edge()
    {
        var edges = new Dictionary<(string From, string To), SortedSet<string>>
        {
            [("Ike", "Actors")] = new(StringComparer.Ordinal) { "IkeSa uses Concentrator.Actors.IkeSaActor" },
            [("Actors", "Ike")] = new(StringComparer.Ordinal) { "Concentrator.Actors.IkeSaActor uses IkeSa" },
        };
        var violation = Assert.Single(Violations(edges, Layers));
        Assert.Equal(("Ike", "Actors"), (violation.From, violation.To));
        Assert.Contains("Ike -> Actors", violation.ToString());
        Assert.Contains("IkeSa uses Concentrator.Actors.IkeSaActor", violation.ToString());
        Assert.Throws<Xunit.Sdk.TrueException>(() => AssertNone([violation]));
    }

    internal sealed record Violation(string From, string To, IReadOnlyCollection<string> Uses)
    {
        public override string ToString() => $"{From} -> {To} (upwards):\n    " + string.Join("\n    ", Uses.Take(10)) +
                                             (Uses.Count > 10 ? $"\n    ... {Uses.Count - 10} more" : "");
    }

    /// <summary>Edges whose target sits in a higher row than their source (rows are the order of <paramref name="rows"/>).</summary>
    internal static List<Violation> Violations(IReadOnlyDictionary<(string From, string To), SortedSet<string>> edges, string[][] rows)
    {
        int Row(string folder)
        {
            for (int i = 0; i < rows.Length; i++)
            {
                if (rows[i].Contains(folder)) return i;
            }
            return -1;
        }

        var result = new List<Violation>();
        foreach (var ((from, to), uses) in edges.OrderBy(e => e.Key.From).ThenBy(e => e.Key.To))
        {
            int f = Row(from), t = Row(to);
            if (f >= 0 && t >= 0 && t < f) result.Add(new Violation(from, to, uses));
        }
        return result;
    }

    private static void AssertNone(List<Violation> violations) =>
        Assert.True(violations.Count == 0, "dependencies against the direction of the layers:\n" + string.Join("\n", violations));

    private static string Top(string folder) => folder.Split('/')[0];

    private static string SourceRoot => Path.Combine(Telemetry.Tools.RepoRoot, "Concentrator");

    private static IEnumerable<string> SourceFiles() =>
        Directory.EnumerateFiles(SourceRoot, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") &&
                        !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"));

    private static readonly Regex QualifiedName = new(@"(?<![\w.])Concentrator((?:\.[A-Z]\w*)+)", RegexOptions.Compiled);

    /// <summary>Namespaces a source file names in using directives or qualified names, comments and strings left out.</summary>
    private static IEnumerable<(int Line, string Namespace)> NamespacesNamed(string[] lines)
    {
        bool inBlockComment = false;
        for (int i = 0; i < lines.Length; i++)
        {
            var code = StripCommentsAndStrings(lines[i], ref inBlockComment);
            if (code.TrimStart().StartsWith("namespace ", StringComparison.Ordinal)) continue;
            foreach (Match m in QualifiedName.Matches(code)) yield return (i + 1, "Concentrator" + m.Groups[1].Value);
        }
    }

    private static string StripCommentsAndStrings(string line, ref bool inBlockComment)
    {
        var sb = new System.Text.StringBuilder();
        for (int i = 0; i < line.Length; i++)
        {
            if (inBlockComment)
            {
                if (line[i] == '*' && i + 1 < line.Length && line[i + 1] == '/') { inBlockComment = false; i++; }
                continue;
            }
            if (line[i] == '/' && i + 1 < line.Length && line[i + 1] == '/') break;
            if (line[i] == '/' && i + 1 < line.Length && line[i + 1] == '*') { inBlockComment = true; i++; continue; }
            if (line[i] == '"')
            {
                for (i++; i < line.Length && line[i] != '"'; i++)
                {
                    if (line[i] == '\\') i++;
                }
                continue;
            }
            sb.Append(line[i]);
        }
        return sb.ToString();
    }
}
