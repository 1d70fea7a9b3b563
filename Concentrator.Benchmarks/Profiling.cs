using Concentrator.Testbed.Interop;

namespace Concentrator.Benchmarks;

/// <summary>What the benchmarks measure about a process beyond the harness: CPU time, and perf profiles.</summary>
public static class Profiling
{
    private static readonly Lazy<double> ClockTicks = new(() =>
    {
        var r = Command.Run("getconf", "CLK_TCK");
        return r.Ok && double.TryParse(r.Stdout.Trim(), out double t) && t > 0 ? t : 100;
    });

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
    /// CPU seconds of the whole machine since boot, all cores (/proc/stat's first line): busy (everything but idle and
    /// iowait) and total. Deltas over a run give the machine's busy share.
    /// </summary>
    public static (double Busy, double Total) MachineCpu()
    {
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8)
            .Select(f => double.Parse(f, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        double total = fields.Sum(), idle = fields[3] + fields[4];
        return ((total - idle) / ClockTicks.Value, total / ClockTicks.Value);
    }

    /// <summary>
    /// .NET writes /tmp/perf-PID.map (JIT-compiled code's symbols for perf); W^X off, because with it the code runs from
    /// a memfd double mapping that perf attributes to "memfd:doublemapper" without consulting the map.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> PerfMapEnvironment = new Dictionary<string, string>
    {
        ["DOTNET_PerfMapEnabled"] = "1",
        ["DOTNET_EnableWriteXorExecute"] = "0",
    };

    /// <summary>
    /// Samples <paramref name="pid"/> with call graphs for <paramref name="seconds"/> (<c>perf record -g -p</c>, bounded by
    /// <c>sleep</c>) into <paramref name="dataFile"/>; runs concurrently with the measured traffic.
    /// </summary>
    public static Task<CommandResult> PerfRecordAsync(int pid, int seconds, string dataFile) =>
        Command.RunAsync("perf", ["record", "-g", "-F", "999", "-p", pid.ToString(), "-o", dataFile, "--", "sleep", seconds.ToString()],
            TimeSpan.FromSeconds(seconds + 60));

    /// <summary>
    /// The top of <c>perf report --no-children</c> for <paramref name="dataFile"/>: the split per shared object
    /// (kernel, libcrypto, JIT-compiled .NET code, the runtime) and the hottest symbols, flat (no call chains).
    /// </summary>
    public static async Task<string> PerfSummaryAsync(string dataFile, double percentLimit = 0.5)
    {
        string limit = percentLimit.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var byDso = await Command.RunAsync("perf", ["report", "-i", dataFile, "--no-children", "--stdio", "-g", "none", "--sort", "dso",
            "--percent-limit", limit], TimeSpan.FromMinutes(3));
        var bySymbol = await Command.RunAsync("perf", ["report", "-i", dataFile, "--no-children", "--stdio", "-g", "none", "--sort", "dso,sym",
            "--percent-limit", limit], TimeSpan.FromMinutes(3));
        static string Body(CommandResult r) => r.Ok
            ? string.Join('\n', r.Stdout.Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#')))
            : "perf report failed: " + r;
        double kernel = 0, all = 0;
        foreach (var line in Body(await Command.RunAsync("perf", ["report", "-i", dataFile, "--no-children", "--stdio", "-g", "none", "--sort", "dso"],
                     TimeSpan.FromMinutes(3))).Split('\n'))
        {
            var parts = line.Trim().Split(' ', 2, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (parts.Length != 2 || !double.TryParse(parts[0].TrimEnd('%'), System.Globalization.CultureInfo.InvariantCulture, out double pct)) continue;
            all += pct;
            if (parts[1].StartsWith("[kernel", StringComparison.Ordinal)) kernel += pct;
        }
        return $"== samples in the kernel: {Stats.F(kernel, 1)}%, in user space: {Stats.F(all - kernel, 1)}% ==\n\n" +
               $"== where the time goes (each sample's call chain, first matching category) ==\n{await PerfCategoriesAsync(dataFile)}\n" +
               $"== per shared object ==\n{Body(byDso)}\n\n== hottest symbols ==\n{Body(bySymbol)}\n";
    }

    /// <summary>
    /// Categories of a profile's samples: the first rule that matches, over the whole call chain or (Leaf) only the
    /// sampled frame. Syscalls come before code: a TUN write includes the kernel forwarding the packet (and the LAN
    /// host's receive, which veth runs in the sender's softirq). libcrypto and the runtime have no frame pointers, so
    /// with <c>-g</c> their callers are often not unwound and such samples fall to their leaf's category
    /// (<c>--call-graph dwarf</c> reaches more managed callers).
    /// </summary>
    private static readonly (string Name, bool Leaf, string[] Any)[] Categories =
    [
        ("JIT compilation (libclrjit)", false, ["libclrjit"]),
        ("sched_yield (spinning threads)", false, ["sched_yield"]),
        ("waiting: poll/epoll/futex (incl. context switches)", false, ["do_sys_poll", "do_epoll_wait", "futex_wait", "__x64_sys_poll", "__x64_sys_ppoll"]),
        ("TUN write (inner packet into the kernel, forwarded onward in the same call)", false, ["tun_chr_write_iter", "tun_get_user"]),
        ("TUN read", false, ["tun_chr_read_iter", "tun_do_read"]),
        ("socket receive (recvmmsg/recvmsg)", false, ["recvmmsg", "__sys_recvmsg", "recvfrom"]),
        ("socket send (sendmmsg/sendmsg)", false, ["sendmmsg", "__sys_sendmsg", "sendto"]),
        ("IKE: ECDH", false, ["KeyExchange", "DiffieHellman", "Ecdh", "CryptoNative_Ec", "EVP_PKEY_derive"]),
        ("IKE: PRF / key derivation", false, ["KeyDerivation", "Prf", "Hmac", "HMAC"]),
        ("IKE: SK payload AEAD", false, ["AeadCipher", "MessageProtector"]),
        ("logging", false, ["Microsoft.Extensions.Logging", "Concentrator.Telemetry.Log"]),
        ("libcrypto (AES-GCM / EC), caller not unwound", true, ["libcrypto"]),
        ("runtime: GC, allocation, stubs (leaf in libcoreclr/malloc)", true, ["libcoreclr", "malloc", "_int_free", "cfree"]),
        ("data plane, managed (ESP framing, SA lookup, worker loops)", false, ["Concentrator.DataPlane"]),
        ("IKE protocol code (parse, state machine, proposals, payloads)", false, ["[Concentrator] Concentrator.Ike"]),
        ("Akka (mailboxes, actor creation, dispatch)", false, ["[Akka]"]),
        ("other Concentrator code (actors, hosting)", false, ["[Concentrator]"]),
        ("kernel, other (softirq, interrupts, scheduler)", true, ["[kernel.kallsyms]"]),
    ];

    private static async Task<string> PerfCategoriesAsync(string dataFile)
    {
        var r = await Command.RunAsync("perf", ["script", "-i", dataFile, "-F", "ip,sym,dso"], TimeSpan.FromMinutes(3));
        if (!r.Ok) return "perf script failed: " + r + "\n";
        var counts = new int[Categories.Length + 1];
        int samples = 0;
        foreach (var block in r.Stdout.Split("\n\n", StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            samples++;
            int newline = block.IndexOf('\n');
            string leaf = newline < 0 ? block : block[..newline];
            int category = Array.FindIndex(Categories, c => c.Any.Any(k => (c.Leaf ? leaf : block).Contains(k, StringComparison.Ordinal)));
            counts[category < 0 ? Categories.Length : category]++;
        }
        if (samples == 0) return "no samples\n";
        var sb = new System.Text.StringBuilder($"{samples} samples\n");
        foreach (int i in Enumerable.Range(0, counts.Length).Where(i => counts[i] > 0).OrderByDescending(i => counts[i]))
        {
            sb.AppendLine($"  {Stats.F(100.0 * counts[i] / samples, 1),5}%  {(i < Categories.Length ? Categories[i].Name : "other")}");
        }
        return sb.ToString();
    }

    /// <summary>`perf-summary FILE`: the same summary for a perf.data recorded by hand (for example of the handshake suite's gateway).</summary>
    public static async Task<int> PerfSummaryCommandAsync(string[] args)
    {
        if (args.Length != 1 || !File.Exists(args[0]))
        {
            Console.Error.WriteLine("usage: Concentrator.Benchmarks perf-summary PERF_DATA_FILE");
            return 2;
        }
        Console.Write(await PerfSummaryAsync(args[0]));
        return 0;
    }
}
