using SharpFuzz;

namespace Concentrator.Fuzz;

/// <summary>
/// Entry point for fuzzing campaigns and corpus upkeep:
/// <code>
/// Concentrator.Fuzz TARGET                 AFL++ mode (SharpFuzz fork server; input on stdin or @@ file via afl-fuzz)
/// Concentrator.Fuzz TARGET --libfuzzer     libFuzzer mode (needs the libfuzzer-dotnet driver)
/// Concentrator.Fuzz run TARGET FILE...     replay files in-process, exit 1 on a crash
/// Concentrator.Fuzz gen-corpus DIR         (re)write the seed corpora into DIR/&lt;target&gt;/
/// </code>
/// </summary>
public static class Program
{
    /// <summary>The targets, as <see cref="FuzzTargets.All"/> (kept apart so that naming one runs no instrumented code).</summary>
    public static readonly string[] TargetNames = ["ike-message", "ike-chain", "sk-open", "esp-decap", "config", "ike-sa", "esp-open", "replica", "ike-frag", "radius-response", "ikev1-message", "ikev1-protect", "ikev1-sa"];

    public static int Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help")
        {
            Console.Error.WriteLine("usage: Concentrator.Fuzz TARGET [--libfuzzer] | run TARGET FILE... | gen-corpus DIR");
            Console.Error.WriteLine("targets: " + string.Join(", ", TargetNames));
            return args.Length == 0 ? 2 : 0;
        }

        if (args[0] == "gen-corpus")
        {
            SeedGenerator.Write(args.Length > 1 ? args[1] : "corpus");
            return 0;
        }

        if (args[0] == "run")
        {
            if (args.Length < 2) return 2;
            int crashes = 0;
            foreach (var file in args.Skip(2))
            {
                try
                {
                    FuzzTargets.Run(args[1], File.ReadAllBytes(file));
                }
                catch (Exception e)
                {
                    crashes++;
                    Console.Error.WriteLine($"CRASH {file}: {e}");
                }
            }

            Console.WriteLine($"{args.Length - 2} inputs, {crashes} crashes");
            return crashes == 0 ? 0 : 1;
        }

        // Nothing from the instrumented Concentrator.dll may run before Fuzzer.Run has mapped AFL's coverage
        // memory (the instrumentation writes to it: AccessViolationException otherwise), so FuzzTargets'
        // static state is not touched here; the target name is checked against a plain list.
        string target = args[0];
        if (!TargetNames.Contains(target))
        {
            Console.Error.WriteLine($"unknown target '{target}'; targets: {string.Join(", ", TargetNames)}");
            return 2;
        }

        if (args.Length > 1 && args[1] == "--libfuzzer")
        {
            Fuzzer.LibFuzzer.Run(span => FuzzTargets.Run(target, span));
        }
        else
        {
            Fuzzer.Run(stream =>
            {
                using var buffer = new MemoryStream();
                stream.CopyTo(buffer);
                FuzzTargets.Run(target, buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
            });
        }

        return 0;
    }
}
