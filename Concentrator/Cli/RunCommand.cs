using System.Runtime.InteropServices;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.DataPlane.Esp;
using Concentrator.DataPlane.Linux;
using Concentrator.Hosting;
using Concentrator.Telemetry;

namespace Concentrator.Cli;

/// <summary><c>Concentrator run --config FILE</c>: the gateway in the foreground as a cluster node; SIGTERM deletes every
/// SA, leaves the cluster and exits; a node the cluster downs (split brain resolver) exits with 1.</summary>
public static class RunCommand
{
    public const string Help = """
        Usage: Concentrator run --config FILE [--log-level LEVEL] [--shutdown-timeout SECONDS]

        Runs the gateway in the foreground with structured (JSON) logs on stdout.
        The node joins the Akka cluster of the config's cluster section (alone: a one-node cluster);
        /readyz answers ready once it is Up. SIGTERM or Ctrl-C sends a Delete for every IKE SA to its
        peer, waits for the answers (at most --shutdown-timeout, default 10 s), leaves the cluster
        gracefully and exits 0. A node removed from the cluster (downed by the split brain resolver
        on the minority side of a partition) exits 1. SIGHUP re-reads FILE ('Concentrator reload').

        Options:
          --config FILE              YAML configuration in swanctl.conf names (required)
          --log-level LEVEL          trace, debug, information (default), warning, error
          --shutdown-timeout SECONDS how long to wait for peers to confirm deletes (1-120)
        """;

    private static readonly Dictionary<string, bool> Options = new()
    {
        ["config"] = true,
        ["log-level"] = true,
        ["shutdown-timeout"] = true,
    };

    public static async Task<int> RunAsync(string[] args)
    {
        var cl = CommandLine.Parse(args, Options);
        if (cl.Help)
        {
            Console.WriteLine(Help);
            return 0;
        }

        string path = cl.Get("config") ?? throw new CliException("run needs --config FILE");
        var level = ParseLevel(cl.Get("log-level") ?? "information");
        int shutdownSeconds = cl.GetInt("shutdown-timeout", 10, 1, 120);
        var config = ConcentratorConfig.Load(path);
        var adminToken = config.Http.AdminToken(Environment.GetEnvironmentVariable, config.Source);

        using var loggers = LoggerFactory.Create(b => b.SetMinimumLevel(level).AddJsonConsole(o =>
        {
            o.IncludeScopes = false;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
            o.UseUtcTimestamp = true;
        }));
        var log = loggers.CreateLogger("Concentrator");
        Log.Starting(log, BuildInfo.Line);
        Log.ConfigLoaded(log, config.Connections.Count, config.Source);
        SecretFileCheck.WarnIfExposed(path, config, log);
        WeakAlgorithmCheck.WarnEach(config, log);
        AggressiveModeCheck.WarnEach(config, log);
        EspCrypto.ConfigureIpsecMb(config.Charon.IpsecMbLoad);
        using var tracing = TracingExporter.StartFromEnvironment(log);

        IDataPlane dataPlane;
        if (config.Tunnel.Type == "tun")
        {
            try
            {
                dataPlane = new LinuxDataPlane(config.ToDataPlaneOptions(), loggers.CreateLogger("Concentrator.DataPlane"));
            }
            catch (Exception ex) when (ex is not ConfigException)
            {
                throw Failed(log, StartupErrors.DataPlane(ex, config.Source));
            }
        }
        else
        {
            dataPlane = new InMemoryDataPlane();
        }

        Gateway gateway;
        try
        {
            gateway = Gateway.Start(new GatewayOptions
            {
                Config = config,
                DataPlane = dataPlane,
                Loggers = loggers,
                Cluster = config.Cluster.WithEnvironment(Environment.GetEnvironmentVariable),
            });
        }
        catch (Exception ex) when (ex is not ConfigException)
        {
            (dataPlane as IDisposable)?.Dispose();
            throw Failed(log, StartupErrors.Gateway(ex, config.Source));
        }

        HealthServer server;
        try
        {
            if (dataPlane is LinuxDataPlane linux)
            {
                linux.AttachAcquireHandler(gateway.Acquire);
                linux.Start(gateway.Ingress);
            }
            server = await HealthServer.StartAsync(config.Http.Listen, gateway, loggers, adminToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not ConfigException)
        {
            // Nothing was served yet: the node leaves (a one-node cluster at once) and its sockets close before the exit.
            await gateway.DisposeAsync().ConfigureAwait(false);
            (dataPlane as IDisposable)?.Dispose();
            throw Failed(log, StartupErrors.Http(ex, config.Http.Listen, config.Source));
        }
        await using var http = server;
        gateway.StartConfiguredConnections();

        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.TrySetResult(); });
        using var intr = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.TrySetResult(); });
        // SIGHUP re-reads the config file as 'Concentrator reload' does; the outcome is logged (events 4500-4502).
        using var hup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, c =>
        {
            c.Cancel = true;
            Log.ReloadSignal(log, config.Source);
            _ = gateway.ReloadAsync().ContinueWith(t => Log.ReloadSignalFailed(log, t.Exception!.GetBaseException().Message),
                CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        });
        var ended = await Task.WhenAny(stop.Task, gateway.System.WhenTerminated).ConfigureAwait(false);
        if (ended != stop.Task)
        {
            // Downed or removed: the IKE SA actors are gone with the actor system, so the node cannot serve its peers.
            await gateway.DisposeAsync().ConfigureAwait(false);
            (dataPlane as IDisposable)?.Dispose();
            return 1;
        }

        await gateway.ShutdownAsync(TimeSpan.FromSeconds(shutdownSeconds)).ConfigureAwait(false);
        (dataPlane as IDisposable)?.Dispose();
        return 0;
    }

    /// <summary>The whole exception goes to the structured log; stderr gets the one line of <paramref name="error"/>.</summary>
    private static StartupException Failed(ILogger log, StartupException error)
    {
        Log.StartupFailed(log, error.InnerException, error.Message);
        return error;
    }

    private static LogLevel ParseLevel(string text) => text.ToLowerInvariant() switch
    {
        "trace" => LogLevel.Trace,
        "debug" => LogLevel.Debug,
        "information" or "info" => LogLevel.Information,
        "warning" or "warn" => LogLevel.Warning,
        "error" => LogLevel.Error,
        _ => throw new CliException($"--log-level must be trace, debug, information, warning or error, got '{text}'"),
    };
}
