namespace Concentrator.Telemetry;

// Operator commands and run's start-up (issue 18): event IDs 4660-4679.
public static partial class Log
{
    [LoggerMessage(EventId = 4660, Level = LogLevel.Critical, Message = "Cannot start: {Reason}")]
    public static partial void StartupFailed(ILogger logger, Exception? exception, string reason);

    [LoggerMessage(EventId = 4661, Level = LogLevel.Information, Message = "Starting {Build}")]
    public static partial void Starting(ILogger logger, string build);
}
