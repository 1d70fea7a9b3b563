using System.Globalization;
using System.Text.RegularExpressions;

namespace Concentrator.Testbed.Interop;

/// <summary>
/// One network namespace created by this harness: links, addresses, routes, sysctls, commands run
/// inside it (bounded) and background processes that die with it. Dispose kills the background
/// processes (SIGTERM, then SIGKILL), then any process still inside, then deletes the namespace.
/// </summary>
public sealed partial class Netns : IAsyncDisposable
{
    private readonly List<BackgroundProcess> _background = new();
    private bool _disposed;

    private Netns(string name) => Name = name;

    public string Name { get; }

    public static Netns Create(string name)
    {
        Command.Check("ip", "netns", "add", name);
        var ns = new Netns(name);
        try
        {
            ns.Ip("link", "set", "lo", "up");
        }
        catch
        {
            Command.Run("ip", "netns", "del", name);
            throw;
        }
        return ns;
    }

    /// <summary><c>ip -n NS ARGS</c>, checked.</summary>
    public CommandResult Ip(params string[] args) => Command.Check("ip", ["-n", Name, .. args]);

    /// <summary>Runs a command inside the namespace, checked, bounded by the default timeout.</summary>
    public CommandResult Exec(params string[] argv) =>
        ExecCheckedAsync(Command.DefaultTimeout, argv).GetAwaiter().GetResult();

    /// <summary>Runs a command inside the namespace, unchecked, bounded by <paramref name="timeout"/>.</summary>
    public Task<CommandResult> ExecAsync(TimeSpan timeout, params string[] argv) =>
        Command.RunAsync("ip", ["netns", "exec", Name, .. argv], timeout);

    public async Task<CommandResult> ExecCheckedAsync(TimeSpan timeout, params string[] argv)
    {
        var r = await ExecAsync(timeout, argv).ConfigureAwait(false);
        if (!r.Ok) throw new InvalidOperationException($"command failed in {Name}: {r}");
        return r;
    }

    public void Sysctl(string key, string value) =>
        ExecCheckedAsync(Command.DefaultTimeout, "sysctl", "-qw", $"{key}={value}").GetAwaiter().GetResult();

    public void AddAddress(string device, string cidr) => Ip("addr", "add", cidr, "dev", device);

    public void Up(string device) => Ip("link", "set", device, "up");

    public void AddRoute(string destination, string via) => Ip("route", "add", destination, "via", via);

    /// <summary>A veth pair with one end in each namespace; names are local to their namespaces.</summary>
    public static void Veth(Netns a, string aDevice, Netns b, string bDevice)
    {
        Command.Check("ip", "-n", a.Name, "link", "add", aDevice, "type", "veth", "peer", "name", bDevice, "netns", b.Name);
        a.Up(aDevice);
        b.Up(bDevice);
    }

    /// <summary>Starts a long-running process inside the namespace; it is stopped when the namespace is disposed.</summary>
    public BackgroundProcess Start(IEnumerable<string> argv, string stdoutPath, string stderrPath,
        IReadOnlyDictionary<string, string>? environment = null, TimeSpan? termGrace = null)
    {
        var p = BackgroundProcess.Start("ip", ["netns", "exec", Name, .. argv], stdoutPath, stderrPath, environment, termGrace);
        lock (_background) _background.Add(p);
        return p;
    }

    /// <summary>Stops one background process now (also forgotten by Dispose).</summary>
    public async Task StopAsync(BackgroundProcess p)
    {
        lock (_background) _background.Remove(p);
        await p.DisposeAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        BackgroundProcess[] procs;
        lock (_background)
        {
            procs = _background.ToArray();
            _background.Clear();
        }

        for (int i = procs.Length - 1; i >= 0; i--)
        {
            try { await procs[i].DisposeAsync().ConfigureAwait(false); } catch (Exception) { /* teardown continues */ }
        }

        await DeleteAsync(Name).ConfigureAwait(false);
    }

    /// <summary>Kills whatever still runs inside the namespace (started by this harness), then deletes it.</summary>
    internal static async Task DeleteAsync(string name)
    {
        foreach (int pid in await PidsAsync(name).ConfigureAwait(false))
        {
            await Command.RunAsync("kill", ["-KILL", pid.ToString(CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        await Command.RunAsync("ip", ["netns", "del", name], TimeSpan.FromSeconds(10)).ConfigureAwait(false);
    }

    /// <summary>Ids of the processes inside namespace <paramref name="name"/> (<c>ip netns pids</c>, bounded).</summary>
    public static async Task<IReadOnlyList<int>> PidsAsync(string name)
    {
        var r = await Command.RunAsync("ip", ["netns", "pids", name], TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        var pids = new List<int>();
        foreach (var line in r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (int.TryParse(line, NumberStyles.None, CultureInfo.InvariantCulture, out int pid)) pids.Add(pid);
        }
        return pids;
    }

    /// <summary>
    /// The first process inside this namespace whose command name (<c>/proc/PID/comm</c>) and command line (arguments
    /// separated by spaces) match; null when none does.
    /// </summary>
    public int? FindPid(Func<string, string, bool> match)
    {
        foreach (int pid in PidsAsync(Name).GetAwaiter().GetResult())
        {
            try
            {
                string comm = File.ReadAllText($"/proc/{pid}/comm").Trim();
                string cmdline = File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
                if (match(comm, cmdline)) return pid;
            }
            catch (IOException)
            {
                // Gone since it was listed.
            }
        }
        return null;
    }

    /// <summary>Names of every namespace on the machine.</summary>
    public static IReadOnlyList<string> List() =>
        Command.Run("ip", "netns", "list").Stdout
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(l => l.Split(' ')[0])
            .ToList();

    [GeneratedRegex("^[a-z]+(?<pid>[0-9]+)x[0-9a-f]+-")]
    internal static partial Regex OwnerPid();
}
