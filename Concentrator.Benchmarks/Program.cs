using System.Globalization;

namespace Concentrator.Benchmarks;

/// <summary>Options shared by every suite. Sizes default to the full run; --quick shrinks them to seconds.</summary>
public sealed record BenchOptions
{
    public required string Suite { get; init; }
    public bool Quick { get; init; }
    public string? Out { get; init; }

    /// <summary>throughput: seconds per iperf3 run (default 10, quick 2); latency: seconds per UDP rate probe (2, quick 1).</summary>
    public int? Seconds { get; init; }

    /// <summary>Repetitions per configuration (median reported): throughput 3 (quick 1), esp 15 (quick 2).</summary>
    public int? Repeats { get; init; }

    /// <summary>handshake: peers per measured round (default 500, quick 30).</summary>
    public int? Peers { get; init; }

    /// <summary>esp: inner packet sizes (default 64,512,1400).</summary>
    public int[]? Sizes { get; init; }

    /// <summary>throughput: sample the gateway concentrator with perf during its 1-stream runs (summaries next to the results).</summary>
    public bool Profile { get; init; }
    /// <summary>scale: concurrent tunnel counts (default 10000,50000,100000, quick 200,500).</summary>
    public int[]? Tunnels { get; init; }

    /// <summary>Configurations to run (suite-specific ids, default all).</summary>
    public string[]? Only { get; init; }

    public string OutPath => Out ?? Path.Combine("bench", "results", Suite + ".md");

    public bool Includes(string id) => Only is null || Only.Contains(id, StringComparer.OrdinalIgnoreCase);
}

public static class Program
{
    public const string Usage = """
        Usage: Concentrator.Benchmarks <suite> [--quick] [--out FILE] [options]

        Suites:
          esp         ESP encapsulate+decapsulate per core vs the raw AEAD call (no root)
          throughput  iperf3 through the namespace testbed: concentrator, strongSwan, mixed, plain routing (root)
          handshake   IKE setups/s and p50/p99 setup latency with the demo's peer fleet (loopback; root for the
                      strongSwan comparison)
          latency     added round-trip time p50/p99 through the testbed, idle and at 50% of the UDP max rate (root)
          all         every suite in turn (root), each into bench/results/<suite>.md (--out DIR elsewhere)
          scale       10k/50k/100k concurrent tunnels: gateway memory per tunnel, time to establish, ESP with N SAs vs 1 (no root)

        Options:
          --quick          tiny sizes (seconds, for CI smoke runs); the gateway process runs the build output, not a
                   ReadyToRun `dotnet publish` into bench/.gateway as the full runs do
          --out FILE       results file (default bench/results/<suite>.md)
          --seconds N      throughput: seconds per iperf3 run (default 10, quick 2); latency: seconds per UDP probe (2, quick 1)
          --repeats N      repetitions per configuration, median reported (throughput 3, esp 15, handshake 3; quick 1-2)
          --peers N        handshake: peers per round (default 500, quick 30)
          --sizes A,B,C    esp: inner packet sizes in bytes (default 64,512,1400)
          --tunnels A,B    scale: concurrent tunnel counts (default 10000,50000,100000, quick 200,500)
          --only A,B       run only these configuration ids (see the results file)
          --profile        throughput: perf-sample the gateway concentrator (needs perf) and write profile-throughput-<id>.txt

        Concentrator.Benchmarks perf-summary PERF_DATA   the same summary for a perf.data recorded by hand
        """;

    public static async Task<int> Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            Console.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }

        // `Concentrator loadtest`, run inside a namespace by the handshake suite as its fleet client.
        if (args[0] == HandshakeSuite.FleetClientCommand) return await Concentrator.Cli.CliApp.RunAsync(args);

        // A recorded perf.data summarised like the throughput suite's --profile output.
        if (args[0] == "perf-summary") return await Profiling.PerfSummaryCommandAsync(args[1..]);

        BenchOptions options;
        try
        {
            options = Parse(args);
        }
        catch (FormatException ex)
        {
            Console.Error.WriteLine(ex.Message);
            Console.Error.WriteLine(Usage);
            return 2;
        }

        if (!options.Quick && options.Suite is "all" or "handshake" or "throughput" or "latency") await PublishedGateway.UseAsync();

        if (options.Suite == "all")
        {
            // Every suite in turn, each into its own results file; --out names a directory here.
            int failed = 0;
            foreach (var suite in AllSuites)
            {
                var one = options with { Suite = suite, Out = options.Out is null ? null : Path.Combine(options.Out, suite + ".md"), Only = null };
                Console.WriteLine($"=== {suite}");
                failed += await RunSuiteAsync(one) == 0 ? 0 : 1;
            }
            return failed == 0 ? 0 : 1;
        }

        return await RunSuiteAsync(options);
    }

    /// <summary>What `all` runs, cheapest first (throughput and latency need root and the namespace testbed).</summary>
    public static readonly string[] AllSuites = ["esp", "handshake", "scale", "throughput", "latency"];

    private static async Task<int> RunSuiteAsync(BenchOptions options)
    {
        Report report;
        switch (options.Suite)
        {
            case "esp":
                report = EspBenchmark.Run(options);
                break;
            case "throughput":
                report = await ThroughputSuite.RunAsync(options);
                break;
            case "handshake":
                report = await HandshakeSuite.RunAsync(options);
                break;
            case "latency":
                report = await LatencySuite.RunAsync(options);
                break;
            case "scale":
                report = await ScaleSuite.RunAsync(options);
                break;
            default:
                Console.Error.WriteLine($"unknown suite '{options.Suite}'");
                Console.Error.WriteLine(Usage);
                return 2;
        }

        string path = Path.GetFullPath(options.OutPath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllTextAsync(path, report.ToMarkdown());
        Console.WriteLine($"results written to {path}");
        return report.Failed ? 1 : 0;
    }

    private static BenchOptions Parse(string[] args)
    {
        string suite = args[0];
        bool quick = false, profile = false;
        string? outPath = null;
        int? seconds = null, repeats = null, peers = null;
        int[]? sizes = null, tunnels = null;
        string[]? only = null;
        for (int i = 1; i < args.Length; i++)
        {
            string a = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new FormatException($"{a} needs a value");
            int Int(int min, int max)
            {
                string v = Value();
                if (!int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) || n < min || n > max)
                    throw new FormatException($"{a}: '{v}' is not an integer in {min}..{max}");
                return n;
            }

            switch (a)
            {
                case "--quick": quick = true; break;
                case "--profile": profile = true; break;
                case "--out": outPath = Value(); break;
                case "--seconds": seconds = Int(1, 600); break;
                case "--repeats": repeats = Int(1, 50); break;
                case "--peers": peers = Int(1, 20000); break;
                case "--sizes":
                    sizes = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                        .Select(s => int.TryParse(s, out int n) && n is >= 28 and <= 9000 ? n : throw new FormatException($"--sizes: '{s}' is not in 28..9000"))
                        .ToArray();
                    break;
                case "--tunnels":
                    tunnels = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                        .Select(s => int.TryParse(s, out int n) && n is >= 1 and <= 200_000 ? n : throw new FormatException($"--tunnels: '{s}' is not in 1..200000"))
                        .ToArray();
                    break;
                case "--only":
                    only = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    break;
                default: throw new FormatException($"unknown option '{a}'");
            }
        }
        return new BenchOptions
        {
            Suite = suite, Quick = quick, Out = outPath, Seconds = seconds, Repeats = repeats, Peers = peers, Sizes = sizes, Tunnels = tunnels, Only = only,
            Profile = profile,
        };
    }
}
