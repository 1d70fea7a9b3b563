using System.Reflection;
using System.Runtime.InteropServices;

namespace Concentrator.Telemetry;

/// <summary>
/// What this binary is: the assembly's informational version split at '+' (the SDK appends the source revision:
/// the git commit in a checkout, the Dockerfile's SOURCE_REVISION argument in the image) and the .NET runtime it
/// runs on. Served as <c>concentrator_build_info</c>.
/// </summary>
public static class BuildInfo
{
    private static readonly (string Version, string Commit) Parsed =
        Parse(typeof(BuildInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion);

    /// <summary>The product version (Concentrator.csproj's Version, the chart's appVersion).</summary>
    public static string Version => Parsed.Version;

    /// <summary>The source revision it was built from, or "unknown" when the build had none.</summary>
    public static string Commit => Parsed.Commit;

    /// <summary>The .NET runtime, e.g. ".NET 10.0.1".</summary>
    public static string Runtime => RuntimeInformation.FrameworkDescription;

    internal static (string Version, string Commit) Parse(string? informational)
    {
        if (string.IsNullOrWhiteSpace(informational)) return ("unknown", "unknown");
        int plus = informational.IndexOf('+');
        if (plus < 0) return (informational, "unknown");
        var commit = informational[(plus + 1)..];
        return (informational[..plus], commit.Length == 0 ? "unknown" : commit);
    }
}
