using Concentrator.Testbed.Interop;

namespace Concentrator.Benchmarks;

/// <summary>
/// The gateway processes of the namespace suites run the bits operators run: Concentrator published as the
/// Dockerfile publishes it (Release, the machine's runtime identifier, ReadyToRun for Concentrator.dll and every
/// package assembly, see Concentrator.csproj), not the JIT-only build output next to the benchmarks. The
/// in-process peer fleet stays the build output. --quick (the smoke runs) keeps the build output.
/// </summary>
internal static class PublishedGateway
{
    private const string Project = "Concentrator/Concentrator.csproj";
    private static readonly string Output = Path.Combine("bench", ".gateway");

    /// <summary>Publishes from the repository root (the working directory) and points <see cref="ConcentratorProcess"/> at it.</summary>
    public static async Task UseAsync()
    {
        if (!File.Exists(Project))
        {
            Console.WriteLine($"gateway: {Project} not under the working directory; the gateway runs the build output");
            return;
        }
        Console.WriteLine($"gateway: dotnet publish {Project} (ReadyToRun) into {Output}");
        var r = await Command.RunAsync("dotnet", ["publish", Project, "-c", "Release", "--use-current-runtime", "--self-contained", "false",
            "-o", Output, "-nologo", "-v", "quiet"], TimeSpan.FromMinutes(15));
        if (!r.Ok) throw new InvalidOperationException($"publishing the gateway failed: {r}");
        Environment.SetEnvironmentVariable(ConcentratorProcess.AssemblyVariable, Path.GetFullPath(Path.Combine(Output, "Concentrator.dll")));
    }
}
