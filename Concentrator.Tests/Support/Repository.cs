namespace Concentrator.Tests.Support;

/// <summary>
/// The source tree the tests run from: the first directory above the test assembly that holds Concentrator.sln
/// (dashboards, the Helm chart, the benchmarks' project and results, the production sources).
/// </summary>
public static class Repository
{
    private static readonly Lazy<string?> FoundRoot = new(() =>
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Concentrator.sln"))) dir = dir.Parent;
        return dir?.FullName;
    });

    /// <summary>The repository root; throws when the tests run outside a checkout.</summary>
    public static string Root => FoundRoot.Value
        ?? throw new InvalidOperationException("repository root (Concentrator.sln) not found above " + AppContext.BaseDirectory);

    /// <summary>The repository root, or null when the tests run outside a checkout.</summary>
    public static string? TryFindRoot() => FoundRoot.Value;
}
