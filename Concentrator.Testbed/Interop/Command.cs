using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace Concentrator.Testbed.Interop;

/// <summary>Outcome of one finished (or timed-out and killed) command.</summary>
public sealed record CommandResult(string CommandLine, int ExitCode, string Stdout, string Stderr, bool TimedOut)
{
    public bool Ok => ExitCode == 0 && !TimedOut;

    public override string ToString() =>
        $"`{CommandLine}` -> {(TimedOut ? "timed out" : $"exit {ExitCode}")}\n--- stdout\n{Trim(Stdout)}\n--- stderr\n{Trim(Stderr)}";

    private static string Trim(string s) => s.Length <= 4000 ? s : "..." + s[^4000..];
}

/// <summary>
/// Runs short commands with a hard time bound and captured output. A command that outlives its bound
/// is killed (with its process tree: only processes this harness started).
/// </summary>
public static class Command
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(15);

    public static async Task<CommandResult> RunAsync(string file, IEnumerable<string> args, TimeSpan? timeout = null,
        IReadOnlyDictionary<string, string>? environment = null, string? stdin = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (environment is not null)
        {
            foreach (var (k, v) in environment) psi.Environment[k] = v;
        }

        string line = file + " " + string.Join(' ', psi.ArgumentList.Select(Quote));
        using var process = new Process { StartInfo = psi };
        try
        {
            process.Start();
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return new CommandResult(line, 127, "", ex.Message, false);
        }

        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            try
            {
                await process.StandardInput.WriteAsync(stdin).ConfigureAwait(false);
                process.StandardInput.Close();
            }
            catch (IOException)
            {
                // The process exited (or closed stdin) early: its exit code and stderr below tell why.
            }
        }

        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        bool timedOut = false;
        try
        {
            await process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            timedOut = true;
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            await process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }

        // Readers end when the pipes close; a grandchild keeping them open must not hang the harness.
        string o = await stdout.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        string e = await stderr.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        return new CommandResult(line, timedOut ? -1 : process.ExitCode, o, e, timedOut);
    }

    public static CommandResult Run(string file, params string[] args) =>
        RunAsync(file, args).GetAwaiter().GetResult();

    /// <summary>Runs and throws with the full output when the command fails.</summary>
    public static async Task<CommandResult> CheckAsync(string file, IEnumerable<string> args, TimeSpan? timeout = null,
        IReadOnlyDictionary<string, string>? environment = null, string? stdin = null)
    {
        var r = await RunAsync(file, args, timeout, environment, stdin).ConfigureAwait(false);
        if (!r.Ok) throw new InvalidOperationException("command failed: " + r);
        return r;
    }

    public static CommandResult Check(string file, params string[] args) =>
        CheckAsync(file, args).GetAwaiter().GetResult();

    internal static string Quote(string a) =>
        a.Length > 0 && a.All(c => char.IsLetterOrDigit(c) || "-_./:=@,%+".Contains(c)) ? a : "'" + a.Replace("'", "'\\''") + "'";

    /// <summary>Whether an executable is on PATH (or is an existing absolute path).</summary>
    public static bool Exists(string tool)
    {
        if (Path.IsPathRooted(tool)) return File.Exists(tool);
        var path = Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin";
        return path.Split(':').Append("/usr/sbin").Append("/sbin")
            .Any(d => d.Length > 0 && File.Exists(Path.Combine(d, tool)));
    }
}

/// <summary>
/// A long-running process (charon, the concentrator, a capture) with stdout/stderr streamed to files.
/// Dispose sends SIGTERM, waits a bounded time, then SIGKILLs — only this process, by its id.
/// </summary>
public sealed class BackgroundProcess : IAsyncDisposable
{
    private const int SigTerm = 15;
    private readonly Process _process;
    private readonly Task _copyOut;
    private readonly Task _copyErr;
    private readonly TimeSpan _termGrace;
    private bool _disposed;

    private BackgroundProcess(Process process, string stdoutPath, string stderrPath, TimeSpan termGrace)
    {
        _process = process;
        StdoutPath = stdoutPath;
        StderrPath = stderrPath;
        _termGrace = termGrace;
        _copyOut = Pump(process.StandardOutput.BaseStream, stdoutPath);
        _copyErr = Pump(process.StandardError.BaseStream, stderrPath);
    }

    public string StdoutPath { get; }
    public string StderrPath { get; }
    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;
    public int? ExitCode => _process.HasExited ? _process.ExitCode : null;
    public string CommandLine { get; private init; } = "";

    public static BackgroundProcess Start(string file, IEnumerable<string> args, string stdoutPath, string stderrPath,
        IReadOnlyDictionary<string, string>? environment = null, TimeSpan? termGrace = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (environment is not null)
        {
            foreach (var (k, v) in environment) psi.Environment[k] = v;
        }

        var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        return new BackgroundProcess(process, stdoutPath, stderrPath, termGrace ?? TimeSpan.FromSeconds(5))
        {
            CommandLine = file + " " + string.Join(' ', psi.ArgumentList.Select(Command.Quote)),
        };
    }

    /// <summary>Reads what the process wrote so far (files are shared for reading while being written).</summary>
    public string ReadStdout() => ReadShared(StdoutPath);

    public string ReadStderr() => ReadShared(StderrPath);

    public static string ReadShared(string path)
    {
        try
        {
            using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(fs, Encoding.UTF8);
            return reader.ReadToEnd();
        }
        catch (IOException)
        {
            return "";
        }
    }

    /// <summary>Waits for a natural exit, bounded; false if still running.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
            await Task.WhenAll(_copyOut, _copyErr).WaitAsync(TimeSpan.FromSeconds(3)).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is OperationCanceledException or TimeoutException)
        {
            return _process.HasExited;
        }
    }

    /// <summary>SIGKILL now, no grace (a crash, for dead peer detection tests); waits (bounded) for the exit.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            try { _process.Kill(entireProcessTree: false); } catch (InvalidOperationException) { }
        }
        await WaitForExitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
    }

    /// <summary>SIGTERM, bounded wait, then SIGKILL.</summary>
    public async Task StopAsync()
    {
        if (!_process.HasExited)
        {
            _ = kill(_process.Id, SigTerm);
            if (!await WaitForExitAsync(_termGrace).ConfigureAwait(false))
            {
                try { _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                await WaitForExitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            }
        }

        try
        {
            await Task.WhenAll(_copyOut, _copyErr).WaitAsync(TimeSpan.FromSeconds(3)).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or IOException or ObjectDisposedException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        try
        {
            await StopAsync().ConfigureAwait(false);
        }
        finally
        {
            _process.Dispose();
        }
    }

    private static async Task Pump(Stream source, string path)
    {
        await using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete,
            4096, FileOptions.Asynchronous);
        var buffer = new byte[16384];
        try
        {
            int n;
            while ((n = await source.ReadAsync(buffer).ConfigureAwait(false)) > 0)
            {
                await file.WriteAsync(buffer.AsMemory(0, n)).ConfigureAwait(false);
                await file.FlushAsync().ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);
}
