using System.Text;

namespace Concentrator.Config.Swanctl;

/// <summary>
/// Reads strongSwan's settings syntax, shared by swanctl.conf and strongswan.conf (libstrongswan's settings_lexer.l and
/// settings_parser.y): <c>name {</c> ... <c>}</c> sections, <c>name : a.b, c {</c> sections inheriting from others,
/// <c>key = value</c> to the end of the line (unquoted words joined by one space, "strings" with \n \r \t \" \\ escapes
/// and backslash-newline continuations), <c>#</c> comments, and <c>include PATTERN</c> anywhere, the included files read
/// where the line stands, a relative pattern taken from the including file's directory, matches in name order.
/// </summary>
/// <remarks>
/// Every input is hostile: nothing throws; each problem is a <see cref="SettingsProblem"/> naming file and line. A syntax
/// error ends the reading (as in strongSwan, whose parser gives up on the file), other problems are collected. Where
/// strongSwan is silent, this reader refuses: an include without wildcards that names no file (strongSwan skips it), an
/// include nested deeper than <see cref="MaxIncludeDepth"/> (a loop), files above <see cref="MaxFileBytes"/>, sections
/// nested deeper than <see cref="MaxSectionDepth"/>.
/// </remarks>
internal sealed partial class SettingsReader
{
    public const int MaxIncludeDepth = 10;
    public const int MaxFiles = 1000;
    public const int MaxFileBytes = 1 << 20;
    public const int MaxSectionDepth = 32;

    private readonly List<SettingsProblem> _problems = [];
    private readonly Stack<Cursor> _files = new();
    private int _filesRead;

    private SettingsReader()
    {
    }

    /// <summary>Reads <paramref name="path"/> and everything it includes; the tree holds what was read before a syntax error.</summary>
    public static (SettingsSection Root, IReadOnlyList<SettingsProblem> Problems) ReadFile(string path)
    {
        var reader = new SettingsReader();
        string full;
        try
        {
            full = Path.GetFullPath(path);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            return (new SettingsSection("", new SettingsPosition(path, 0)), [new SettingsProblem(new SettingsPosition(path, 0), $"not a valid path: {e.Message}")]);
        }
        var root = new SettingsSection("", new SettingsPosition(full, 0));
        reader._lastPosition = new SettingsPosition(full, 1);
        if (reader.Open(full, depth: 0, new SettingsPosition(full, 0)))
        {
            reader.Parse(root);
            reader.ResolveReferences(root);
        }
        return (root, reader._problems);
    }

    /// <summary>Reads settings text; includes are relative to <paramref name="file"/>'s directory.</summary>
    public static (SettingsSection Root, IReadOnlyList<SettingsProblem> Problems) ReadText(string text, string file)
    {
        var reader = new SettingsReader();
        var root = new SettingsSection("", new SettingsPosition(file, 0));
        reader._lastPosition = new SettingsPosition(file, 1);
        reader._files.Push(new Cursor(file, text, 0));
        reader.Parse(root);
        reader.ResolveReferences(root);
        return (root, reader._problems);
    }

    private bool Open(string file, int depth, SettingsPosition includedAt)
    {
        if (++_filesRead > MaxFiles)
        {
            _problems.Add(new SettingsProblem(includedAt, $"more than {MaxFiles} files included"));
            return false;
        }
        try
        {
            var info = new FileInfo(file);
            if (!info.Exists)
            {
                _problems.Add(new SettingsProblem(includedAt, $"file '{file}' not found"));
                return false;
            }
            if (info.Length > MaxFileBytes)
            {
                _problems.Add(new SettingsProblem(new SettingsPosition(file, 0), $"larger than {MaxFileBytes} bytes"));
                return false;
            }
            _files.Push(new Cursor(file, File.ReadAllText(file, Encoding.UTF8), depth));
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            _problems.Add(new SettingsProblem(includedAt, $"cannot read '{file}': {e.Message}"));
            return false;
        }
    }

    /// <summary>statements := { NAME '{' statements '}' | NAME ':' refs '{' statements '}' | NAME '=' value }, without recursion.</summary>
    private void Parse(SettingsSection root)
    {
        var open = new Stack<SettingsSection>();
        open.Push(root);
        while (true)
        {
            var token = Next();
            switch (token.Kind)
            {
                case TokenKind.End:
                    if (open.Count > 1)
                    {
                        var section = open.Peek();
                        Fail(token.Position, $"section '{section.Name}' opened at {section.Position} is not closed (missing '}}')");
                    }
                    return;
                case TokenKind.Error:
                    _problems.Add(new SettingsProblem(token.Position, token.Text));
                    return;
                case TokenKind.Close:
                    if (open.Count == 1)
                    {
                        Fail(token.Position, "'}' closes no section");
                        return;
                    }
                    open.Pop();
                    continue;
                case TokenKind.Name:
                    break;
                default:
                    Fail(token.Position, $"unexpected {Describe(token)} (expected a name, or '}}')");
                    return;
            }
            var after = Next();
            switch (after.Kind)
            {
                case TokenKind.Equals:
                    var (value, valueError) = ReadValue();
                    if (valueError is not null)
                    {
                        Fail(after.Position, valueError);
                        return;
                    }
                    open.Peek().Values[token.Text] = new SettingsValue(token.Text, value, token.Position);
                    continue;
                case TokenKind.Open or TokenKind.Colon:
                    if (open.Count > MaxSectionDepth)
                    {
                        Fail(token.Position, $"sections nested deeper than {MaxSectionDepth}");
                        return;
                    }
                    var section = open.Peek().Subsection(token.Text, token.Position);
                    if (after.Kind == TokenKind.Colon && !ReadReferences(section))
                    {
                        return;
                    }
                    open.Push(section);
                    continue;
                default:
                    Fail(after.Position, $"expected '{{', ':' or '=' after '{token.Text}', found {Describe(after)}");
                    return;
            }
        }
    }

    /// <summary>After <c>name :</c>: dotted section paths separated by commas, then '{'.</summary>
    private bool ReadReferences(SettingsSection section)
    {
        while (true)
        {
            var reference = NextReference();
            if (reference.Kind != TokenKind.Name)
            {
                Fail(reference.Position, $"expected the name of a section to inherit from, found {Describe(reference)}");
                return false;
            }
            section.References.Add((reference.Text, reference.Position));
            var next = Next();
            if (next.Kind == TokenKind.Open) return true;
            if (next.Kind != TokenKind.Comma)
            {
                Fail(next.Position, $"expected ',' or '{{' after the section reference '{reference.Text}', found {Describe(next)}");
                return false;
            }
        }
    }

    /// <summary>Resolves every <c>name : ref</c> (references of references too; a loop is a problem) from the root.</summary>
    private void ResolveReferences(SettingsSection root)
    {
        var resolved = new HashSet<SettingsSection>(ReferenceEqualityComparer.Instance);
        var active = new HashSet<SettingsSection>(ReferenceEqualityComparer.Instance);
        var pending = new Stack<SettingsSection>();
        pending.Push(root);
        while (pending.Count > 0)
        {
            var section = pending.Pop();
            Resolve(section, root, resolved, active, 0);
            foreach (var child in section.Sections.Values.Reverse()) pending.Push(child);
        }
    }

    private void Resolve(SettingsSection section, SettingsSection root, HashSet<SettingsSection> resolved, HashSet<SettingsSection> active, int depth)
    {
        if (resolved.Contains(section) || section.References.Count == 0) return;
        if (depth > MaxSectionDepth || !active.Add(section))
        {
            Fail(section.Position, $"section '{section.Name}' inherits from itself (a loop of references)");
            resolved.Add(section);
            return;
        }
        foreach (var (path, position) in section.References)
        {
            var target = root.Find(path);
            if (target is null)
            {
                Fail(position, $"'{path}' names no section to inherit from (references are full paths, e.g. connections.base)");
                continue;
            }
            if (section.IsWithin(target))
            {
                Fail(position, $"section '{section.Name}' cannot inherit from '{path}', which contains it");
                continue;
            }
            Resolve(target, root, resolved, active, depth + 1);
            section.Inherit(target);
        }
        active.Remove(section);
        resolved.Add(section);
    }

    private void Fail(SettingsPosition at, string problem) => _problems.Add(new SettingsProblem(at, problem));

    private static string Describe(Token token) => token.Kind switch
    {
        TokenKind.End => "the end of the file",
        TokenKind.Name => $"'{token.Text}'",
        TokenKind.Open => "'{'",
        TokenKind.Close => "'}'",
        TokenKind.Equals => "'='",
        TokenKind.Colon => "':'",
        TokenKind.Comma => "','",
        TokenKind.Dot => "'.'",
        _ => token.Text,
    };

    /// <summary>The files being read, innermost on top: an include pushes its matches, in order, so the first is read first.</summary>
    private sealed class Cursor(string file, string text, int depth)
    {
        public string File { get; } = file;
        public string Text { get; } = text;
        public int Depth { get; } = depth;
        public int Offset { get; set; }
        public int Line { get; set; } = 1;

        public bool AtEnd => Offset >= Text.Length;
        public char Peek(int ahead = 0) => Offset + ahead < Text.Length ? Text[Offset + ahead] : '\0';
        public SettingsPosition Position => new(File, Line);
    }

    /// <summary>The files an include pattern names (<see cref="IncludePattern"/>), relative to the including file.</summary>
    private List<string> Matches(Cursor cursor, string pattern, SettingsPosition at)
    {
        string full;
        try
        {
            full = Path.GetFullPath(pattern, Path.GetDirectoryName(Path.GetFullPath(cursor.File)) ?? "/");
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            Fail(at, $"include '{pattern}' is not a valid path");
            return [];
        }
        if (IncludePattern.TryMatch(pattern, full, out var matches) is { } error)
        {
            Fail(at, "include " + error);
        }
        return matches;
    }
}
