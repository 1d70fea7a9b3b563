using Concentrator.Tests.Interop;

namespace Concentrator.Benchmarks;

/// <summary>Small helpers on top of the interop harness: process lookup in a namespace, CPU time, quiet charon logs.</summary>
public static class NamespaceTools
{
    private static readonly Lazy<double> ClockTicks = new(() =>
    {
        var r = Command.Run("getconf", "CLK_TCK");
        return r.Ok && double.TryParse(r.Stdout.Trim(), out double t) && t > 0 ? t : 100;
    });

    /// <summary>The first process inside <paramref name="ns"/> whose command line matches (null when none).</summary>
    public static int? FindPid(Netns ns, Func<string, string, bool> match)
    {
        var pids = Command.Run("ip", "netns", "pids", ns.Name);
        foreach (var line in pids.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(line, out int pid)) continue;
            try
            {
                string comm = File.ReadAllText($"/proc/{pid}/comm").Trim();
                string cmdline = File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
                if (match(comm, cmdline)) return pid;
            }
            catch (IOException)
            {
            }
        }
        return null;
    }

    /// <summary>utime + stime of a process in seconds (NaN once it is gone).</summary>
    public static double CpuSeconds(int? pid)
    {
        if (pid is null) return double.NaN;
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            // Fields after the command (which may contain spaces) start at field 3 (state).
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (double.Parse(fields[11]) + double.Parse(fields[12])) / ClockTicks.Value; // fields 14 and 15 of stat(5)
        }
        catch (Exception ex) when (ex is IOException or FormatException or IndexOutOfRangeException)
        {
            return double.NaN;
        }
    }

    /// <summary>
    /// The harness's charon logs IKE, config, kernel and ESP at level 2 to a file flushed per line (good for
    /// diagnosing interop tests, a real cost when measuring). Rewrites its strongswan.conf with level 0 and
    /// reloads it over vici: the loggers are rebuilt, nothing else of the harness changes.
    /// </summary>
    public static async Task QuietAsync(StrongSwan charon)
    {
        string conf = await File.ReadAllTextAsync(charon.ConfPath);
        foreach (var area in new[] { "ike", "cfg", "knl", "esp", "enc", "net" })
        {
            conf = conf.Replace($"{area} = 2", $"{area} = 0").Replace($"{area} = 1", $"{area} = 0");
        }
        conf = conf.Replace("default = 1", "default = 0");
        await File.WriteAllTextAsync(charon.ConfPath, conf);
        var r = await charon.SwanctlAsync(["--reload-settings"]);
        if (!r.Ok) throw new InvalidOperationException("swanctl --reload-settings failed: " + r);
    }
}
