using System.Reflection;
using System.Runtime.InteropServices;

namespace Concentrator.Telemetry;

/// <summary>
/// What this build is: the one source of the version string (<c>--version</c>, <c>stats</c>, and any metric that
/// reports the build). The informational version is Directory.Build.props' Version with the SDK's source revision
/// (<c>+commit</c>) when the build saw a git repository; without one it is the version alone.
/// </summary>
public static class BuildInfo
{
    /// <summary>E.g. <c>0.1.0+a347c43…</c>.</summary>
    public static string InformationalVersion { get; } =
        typeof(BuildInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(BuildInfo).Assembly.GetName().Version?.ToString() ?? "unknown";

    /// <summary>The version without the source revision.</summary>
    public static string Version => InformationalVersion.Split('+')[0];

    /// <summary>The git commit the build was made from; null when the build saw no repository.</summary>
    public static string? Commit => InformationalVersion.IndexOf('+') is var plus and >= 0 ? InformationalVersion[(plus + 1)..] : null;

    /// <summary>E.g. <c>.NET 10.0.0</c>.</summary>
    public static string Runtime => RuntimeInformation.FrameworkDescription;

    /// <summary>One line as charon's start-up line: <c>Concentrator 0.1.0+a347c43 (.NET 10.0.0, Linux 6.1.0, X64)</c>.</summary>
    public static string Line =>
        $"Concentrator {Version}{(Commit is { } c ? "+" + c[..Math.Min(12, c.Length)] : "")} ({Runtime}, {(OperatingSystem.IsLinux() ? "Linux" : Environment.OSVersion.Platform.ToString())} {Environment.OSVersion.Version}, {RuntimeInformation.ProcessArchitecture})";
}
