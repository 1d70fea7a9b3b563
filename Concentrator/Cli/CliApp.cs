using Concentrator.Config;

namespace Concentrator.Cli;

/// <summary>Entry point: dispatches <c>Concentrator &lt;command&gt;</c>. Exit codes: 0 ok, 1 failure, 2 usage or config error.</summary>
public static class CliApp
{
    public const string Usage = """
        Concentrator - IKEv2/IPsec VPN concentrator

        Usage: Concentrator <command> [options]

        Commands:
          demo      Start a gateway and simulated peers on loopback and establish tunnels (no root, no config)
          loadtest  Establish N simulated peers against any IKEv2 responder (--target ADDR) and report setups/s
          run       Run the gateway in the foreground from a config file
          sas       List the running gateway's IKE and Child SAs (--user ID: one user's)
          list-conns List the running gateway's connections, their auth rounds and children
          initiate  Negotiate a child (--child NAME) on the running gateway and wait for the outcome (--timeout S)
          terminate Delete SAs (--ike CONNECTION | --child NAME | --user ID | --ike-id N | --vip ADDR) and wait until they are gone
          rekey     Rekey SAs now (--child NAME | --ike CONNECTION | --ike-id N [--reauth]) and wait for their successors
          stats     Show the running gateway's uptime, version, SA counts, threads, memory, listen addresses, cluster
          reload    Re-read the running gateway's config file (as SIGHUP does)
          probe     GET a URL (--url), exit 0 on 2xx: the chart's helm test of /readyz
          import-swanctl Convert a strongSwan gateway's swanctl.conf (and strongswan.conf) to this YAML
          version   Show the version, commit and runtime (also --version)
          help      Show this text

        Run 'Concentrator <command> --help' for the options of a command.
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        string command = args.Length > 0 && (!args[0].StartsWith('-') || args[0] is "--version" or "-v") ? args[0] : "";
        try
        {
            return command switch
            {
                "demo" => await DemoCommand.RunAsync(args).ConfigureAwait(false),
                "loadtest" => await LoadtestCommand.RunAsync(args).ConfigureAwait(false),
                "run" => await RunCommand.RunAsync(args).ConfigureAwait(false),
                "import-swanctl" => ImportSwanctlCommand.Run(args),
                "sas" or "initiate" or "terminate" or "rekey" or "stats" or "list-conns" or "reload" => await AdminCommands.RunAsync(command, args).ConfigureAwait(false),
                "probe" => await ProbeCommand.RunAsync(args).ConfigureAwait(false),
                "version" or "--version" or "-v" => PrintVersion(),
                "" or "help" => PrintUsage(args.Length == 0 ? 2 : 0),
                _ => Fail($"unknown command '{command}'"),
            };
        }
        catch (CliException ex)
        {
            return Fail(ex.Message);
        }
        catch (ConfigException ex)
        {
            Console.Error.WriteLine($"Concentrator: configuration error: {ex.Message}");
            return 2;
        }
        catch (StartupException ex)
        {
            Console.Error.WriteLine($"Concentrator: {ex.Message}");
            return 1;
        }
        catch (Exception ex) when (command == "run")
        {
            // The gateway's last word is one line, never a stack trace and never the runtime's abort (134); the JSON log
            // on stdout has what the run logged before.
            Console.Error.WriteLine($"Concentrator: run failed: {ex.GetType().Name}: {ex.GetBaseException().Message.ReplaceLineEndings(" ")}");
            return 1;
        }
    }

    private static int PrintVersion()
    {
        Console.WriteLine(Telemetry.BuildInfo.Line);
        return 0;
    }

    private static int PrintUsage(int code)
    {
        Console.WriteLine(Usage);
        return code;
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"Concentrator: {message}");
        Console.Error.WriteLine("Run 'Concentrator --help' for usage.");
        return 2;
    }
}
