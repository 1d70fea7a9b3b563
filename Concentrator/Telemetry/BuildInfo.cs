using System.Reflection;
using System.Runtime.InteropServices;

namespace Concentrator.Telemetry;

/// <summary>
/// What this binary is: the one source of the version string (<c>--version</c>, <c>stats</c>, the start-up log line and
/// <c>concentrator_build_info</c>). The informational version is Concentrator.csproj's Version with the source revision
/// the SDK appends after '+' (the git commit in a checkout, the Dockerfile's SOURCE_REVISION argument in the image).
/// </summary>
public static class BuildInfo
{
    /// <summary>E.g. <c>0.1.0+a347c43…</c>.</summary>
    public static string InformationalVersion { get; } =
        typeof(BuildInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    private static readonly (string Version, string Commit) Parsed = Parse(InformationalVersion);

    /// <summary>The product version (Concentrator.csproj's Version, the chart's appVersion).</summary>
    public static string Version => Parsed.Version;

    /// <summary>The source revision it was built from, or "unknown" when the build had none.</summary>
    public static string Commit => Parsed.Commit;

    /// <summary>The .NET runtime, e.g. ".NET 10.0.1".</summary>
    public static string Runtime => RuntimeInformation.FrameworkDescription;

    /// <summary>One line as charon's start-up line: <c>Concentrator 0.1.0+a347c43 (.NET 10.0.0, Linux 6.1.0, X64)</c>.</summary>
    public static string Line =>
        $"Concentrator {Version}{(Commit != "unknown" ? "+" + Commit[..Math.Min(12, Commit.Length)] : "")} ({Runtime}, {(OperatingSystem.IsLinux() ? "Linux" : Environment.OSVersion.Platform.ToString())} {Environment.OSVersion.Version}, {RuntimeInformation.ProcessArchitecture})";

    internal static (string Version, string Commit) Parse(string? informational)
    {
        if (string.IsNullOrWhiteSpace(informational)) return ("unknown", "unknown");
        int plus = informational.IndexOf('+');
        if (plus < 0) return (informational, "unknown");
        var commit = informational[(plus + 1)..];
        return (informational[..plus], commit.Length == 0 ? "unknown" : commit);
    }
}
