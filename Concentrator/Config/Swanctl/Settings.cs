namespace Concentrator.Config.Swanctl;

/// <summary>Where a section or value of a strongSwan settings file was written: a file and its 1-based line (0: the file itself).</summary>
internal readonly record struct SettingsPosition(string File, int Line)
{
    public override string ToString() => Line > 0 ? $"{File}:{Line}" : File;
}

/// <summary>One problem of a settings file or of its conversion, reported as <c>FILE:LINE: problem</c>.</summary>
internal sealed record SettingsProblem(SettingsPosition Position, string Problem)
{
    public override string ToString() => $"{Position}: {Problem}";
}

/// <summary>A key's value as written; null for <c>key =</c> with nothing after it (strongSwan: unset).</summary>
internal sealed record SettingsValue(string Key, string? Value, SettingsPosition Position);

/// <summary>
/// One section of a strongSwan settings tree (swanctl.conf, strongswan.conf): values and subsections by name, in the
/// order first written. Values and sections are separate namespaces, as in strongSwan. A section written twice is one
/// section (its values replaced by the later ones, its subsections merged); a value written twice keeps the last.
/// </summary>
internal sealed class SettingsSection(string name, SettingsPosition position, SettingsSection? parent = null)
{
    public string Name { get; } = name;

    /// <summary>The enclosing section; null for the root.</summary>
    public SettingsSection? Parent { get; } = parent;

    /// <summary>Where the section was first opened.</summary>
    public SettingsPosition Position { get; } = position;

    public OrderedDictionary<string, SettingsValue> Values { get; } = new(StringComparer.Ordinal);
    public OrderedDictionary<string, SettingsSection> Sections { get; } = new(StringComparer.Ordinal);

    /// <summary><c>name : a.b, c {</c>: sections (full dotted paths from the root) whose values and subsections this one
    /// inherits where it has none of its own; resolved by <see cref="SettingsReader"/> after reading.</summary>
    public List<(string Path, SettingsPosition Position)> References { get; } = [];

    public SettingsSection Subsection(string sectionName, SettingsPosition at)
    {
        if (!Sections.TryGetValue(sectionName, out var section))
        {
            section = new SettingsSection(sectionName, at, this);
            Sections.Add(sectionName, section);
        }
        return section;
    }

    /// <summary>The section at a dotted path below this one, or null.</summary>
    public SettingsSection? Find(string path)
    {
        var section = this;
        foreach (var part in path.Split('.'))
        {
            if (!section.Sections.TryGetValue(part, out var next)) return null;
            section = next;
        }
        return section;
    }

    /// <summary>Whether this section is <paramref name="other"/> or inside it (inheriting from it would never end).</summary>
    public bool IsWithin(SettingsSection other)
    {
        for (var s = this; s is not null; s = s.Parent)
        {
            if (ReferenceEquals(s, other)) return true;
        }
        return false;
    }

    /// <summary>Adds what <paramref name="other"/> has and this section lacks, subsections merged the same way.</summary>
    public void Inherit(SettingsSection other)
    {
        foreach (var (key, value) in other.Values)
        {
            Values.TryAdd(key, value);
        }
        foreach (var (key, section) in other.Sections)
        {
            Subsection(key, section.Position).Inherit(section);
        }
    }
}
