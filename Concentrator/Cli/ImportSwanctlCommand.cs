using Concentrator.Config.Swanctl;

namespace Concentrator.Cli;

/// <summary><c>Concentrator import-swanctl FILE</c>: a strongSwan gateway's swanctl.conf (and strongswan.conf) as our YAML.</summary>
public static class ImportSwanctlCommand
{
    public const string Help = """
        Usage: Concentrator import-swanctl SWANCTL_CONF [--strongswan-conf FILE] [--output FILE]

        Converts a strongSwan gateway's swanctl.conf (connections, children, secrets, pools,
        authorities; includes read in place) and, with --strongswan-conf, the charon section of
        strongswan.conf into Concentrator's YAML. Credentials are found as swanctl finds them, in
        x509/, x509ca/, x509crl/, private/, rsa/, ecdsa/ and pkcs8/ beside SWANCTL_CONF; their paths
        are written absolute. The result is loaded as 'Concentrator run' would load it before it is
        written. Every key Concentrator does not support and every value it refuses is reported as
        FILE:LINE: problem, all at once; nothing is written then and the exit code is 2. The
        README's "Moving from strongSwan" lists every swanctl.conf key.

        Options:
          --strongswan-conf FILE  strongswan.conf: its charon keys go under charon:
          --output FILE           write the YAML to FILE (mode 0600: it holds the secrets); default stdout
        """;

    private static readonly Dictionary<string, bool> Options = new()
    {
        ["strongswan-conf"] = true,
        ["output"] = true,
    };

    public static int Run(string[] args)
    {
        // The one positional argument is the file; CommandLine takes the options.
        var files = new List<string>();
        var options = new List<string> { args[0] };
        for (int i = 1; i < args.Length; i++)
        {
            if (!args[i].StartsWith('-'))
            {
                files.Add(args[i]);
                continue;
            }
            options.Add(args[i]);
            if (Options.GetValueOrDefault(args[i].TrimStart('-')) && i + 1 < args.Length) options.Add(args[++i]);
        }
        var cl = CommandLine.Parse([.. options], Options);
        if (cl.Help)
        {
            Console.WriteLine(Help);
            return 0;
        }
        if (files.Count != 1) throw new CliException("import-swanctl needs one swanctl.conf file");

        var output = cl.Get("output");
        var result = SwanctlConverter.Convert(files[0], cl.Get("strongswan-conf"), output ?? "<import-swanctl>");
        if (result.Yaml is null)
        {
            foreach (var problem in result.Problems) Console.Error.WriteLine(problem);
            Console.Error.WriteLine($"Concentrator: import-swanctl: {result.Problems.Count} problem{(result.Problems.Count == 1 ? "" : "s")}; nothing written");
            return 2;
        }
        if (output is null)
        {
            Console.Out.Write(result.Yaml);
            return 0;
        }
        try
        {
            var mode = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows()) mode.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            using var writer = new StreamWriter(output, mode);
            writer.Write(result.Yaml);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            Console.Error.WriteLine($"Concentrator: import-swanctl: cannot write '{output}': {e.Message}");
            return 1;
        }
        Console.Error.WriteLine($"Concentrator: import-swanctl: wrote {output}");
        return 0;
    }
}
