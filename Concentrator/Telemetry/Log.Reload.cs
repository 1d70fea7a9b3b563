namespace Concentrator.Telemetry;

/// <summary>Configuration reloads (<c>Concentrator reload</c>, SIGHUP): event IDs 4500-4599. Key names only, never values.</summary>
public static partial class Log
{
    [LoggerMessage(EventId = 4500, Level = LogLevel.Information,
        Message = "Reloaded {Source}: connections added [{Added}], removed [{Removed}], changed [{Changed}]; pools added [{PoolsAdded}], " +
                  "removed [{PoolsRemoved}], changed [{PoolsChanged}]; {Secrets} secrets")]
    public static partial void ConfigReloaded(ILogger logger, string source, string added, string removed, string changed,
        string poolsAdded, string poolsRemoved, string poolsChanged, int secrets);

    [LoggerMessage(EventId = 4501, Level = LogLevel.Warning, Message = "Reload of {Source} refused, the running configuration is kept: {Reason}")]
    public static partial void ConfigReloadRefused(ILogger logger, string source, string reason);

    [LoggerMessage(EventId = 4502, Level = LogLevel.Warning, Message = "Reload failed, the running configuration is kept: {Problem}")]
    public static partial void ConfigReloadInvalid(ILogger logger, string problem);

    [LoggerMessage(EventId = 4503, Level = LogLevel.Information,
        Message = "Deleting {Count} IKE SAs of connections the reload removed ({Connections})")]
    public static partial void ReloadDeletingSas(ILogger logger, int count, string connections);

    [LoggerMessage(EventId = 4504, Level = LogLevel.Information, Message = "SIGHUP: reloading {Source}")]
    public static partial void ReloadSignal(ILogger logger, string source);

    [LoggerMessage(EventId = 4505, Level = LogLevel.Warning,
        Message = "Reload applied, but the IKE SAs of the removed connections ({Connections}) could not be listed ({Problem}); they are deleted by the sweep after half_open_timeout")]
    public static partial void ReloadDeleteDeferred(ILogger logger, string connections, string problem);

    [LoggerMessage(EventId = 4506, Level = LogLevel.Error, Message = "SIGHUP: the reload failed: {Problem}")]
    public static partial void ReloadSignalFailed(ILogger logger, string problem);
}
