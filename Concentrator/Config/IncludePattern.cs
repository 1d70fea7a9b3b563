using System.IO.Enumeration;

namespace Concentrator.Config;

/// <summary>
/// The files an include names, as glob(3) finds them: wildcards (<c>*</c>, <c>?</c>) only in the last component, never
/// matching a leading '.' unless the pattern starts with one (Kubernetes keeps <c>..data</c> beside a mounted Secret's
/// keys), matches in ordinal name order. A path without wildcards names one file that must exist; a pattern may match
/// nothing. Used by the YAML's <c>include</c> and by swanctl.conf's.
/// </summary>
internal static class IncludePattern
{
    /// <param name="text">The pattern as written, named in the error.</param>
    /// <param name="full">The pattern made absolute against the including file's directory.</param>
    /// <returns>The problem, or null with <paramref name="matches"/> set.</returns>
    public static string? TryMatch(string text, string full, out List<string> matches)
    {
        matches = [];
        var directory = Path.GetDirectoryName(full) ?? "/";
        var pattern = Path.GetFileName(full);
        if (directory.AsSpan().IndexOfAny('*', '?') >= 0) return $"'{text}': wildcards are allowed only in the file name";
        if (pattern.Length == 0) return $"'{text}' names a directory, not a file or pattern";
        if (pattern.AsSpan().IndexOfAny('*', '?') < 0)
        {
            if (!File.Exists(full)) return $"'{full}' not found (only a pattern with * or ? may match nothing)";
            matches.Add(full);
            return null;
        }
        if (!Directory.Exists(directory)) return null;
        try
        {
            foreach (var candidate in Directory.EnumerateFiles(directory))
            {
                var name = Path.GetFileName(candidate);
                if ((name[0] != '.' || pattern[0] == '.') && FileSystemName.MatchesSimpleExpression(pattern, name, ignoreCase: false))
                {
                    matches.Add(candidate);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"'{text}': cannot list '{directory}': {e.Message}";
        }
        matches.Sort(StringComparer.Ordinal);
        return null;
    }
}
