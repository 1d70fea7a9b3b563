using System.Diagnostics;
using Concentrator.Tests.Support;
using Xunit.Abstractions;

namespace Concentrator.Tests.Telemetry;

/// <summary>
/// External binaries of the telemetry tests (Debian's <c>prometheus</c> package: prometheus, promtool,
/// installed by scripts/install-deps.sh). Under CI=true a missing binary fails the test loudly;
/// elsewhere the test says so and returns.
/// </summary>
internal static class Tools
{
    public static string RepoRoot => Repository.Root;

    public static string? Require(string tool, ITestOutputHelper output)
    {
        var path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, tool)).FirstOrDefault(File.Exists);
        if (path is not null) return path;
        string message = $"'{tool}' is not installed (Debian package 'prometheus'; run scripts/install-deps.sh)";
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase)) Assert.Fail(message);
        output.WriteLine("SKIPPED: " + message);
        return null;
    }

    /// <summary>
    /// Runs a command to completion (bounded), feeding <paramref name="stdin"/>, in <paramref name="workingDirectory"/>
    /// with <paramref name="environment"/> added (a null value removes a variable); returns exit code and combined output.
    /// </summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string file, string[] args, string? stdin = null, int timeoutSeconds = 60,
        string? workingDirectory = null, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? "",
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string?>())
        {
            if (v is null) psi.Environment.Remove(k);
            else psi.Environment[k] = v;
        }
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (stdin is not null) await p.StandardInput.WriteAsync(stdin);
        p.StandardInput.Close();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            await p.WaitForExitAsync();
            throw new TimeoutException($"{file} did not finish within {timeoutSeconds} s");
        }
        return (p.ExitCode, (await stdout) + (await stderr));
    }
}
