namespace Concentrator.Cli;

/// <summary>
/// Minimal POSIX-style option parsing: "--name value", "--name=value" and flags. Unknown options are
/// errors so a typo never silently changes behaviour.
/// </summary>
public sealed class CommandLine
{
    private readonly Dictionary<string, string?> _options = new(StringComparer.Ordinal);

    private CommandLine(string command) => Command = command;

    public string Command { get; }
    public bool Help => _options.ContainsKey("help") || _options.ContainsKey("h");

    public static CommandLine Parse(string[] args, IReadOnlyDictionary<string, bool> knownOptionsTakeValue)
    {
        var cl = new CommandLine(args.Length > 0 && !args[0].StartsWith('-') ? args[0] : "");
        for (int i = cl.Command.Length > 0 ? 1 : 0; i < args.Length; i++)
        {
            string arg = args[i];
            if (arg is "-h" or "--help")
            {
                cl._options["help"] = null;
                continue;
            }

            if (!arg.StartsWith("--", StringComparison.Ordinal)) throw new CliException($"unexpected argument '{arg}'");
            string name = arg[2..];
            string? value = null;
            int eq = name.IndexOf('=');
            if (eq >= 0)
            {
                value = name[(eq + 1)..];
                name = name[..eq];
            }

            if (!knownOptionsTakeValue.TryGetValue(name, out bool takesValue)) throw new CliException($"unknown option '--{name}'");
            if (takesValue && value is null)
            {
                if (i + 1 >= args.Length) throw new CliException($"option '--{name}' needs a value");
                value = args[++i];
            }

            cl._options[name] = value;
        }
        return cl;
    }

    public bool Has(string name) => _options.ContainsKey(name);

    public string? Get(string name) => _options.GetValueOrDefault(name);

    public int GetInt(string name, int fallback, int min, int max)
    {
        var v = Get(name);
        if (v is null) return fallback;
        if (!int.TryParse(v, out int n) || n < min || n > max) throw new CliException($"--{name} must be a number from {min} to {max}, got '{v}'");
        return n;
    }
}

public sealed class CliException(string message) : Exception(message);
