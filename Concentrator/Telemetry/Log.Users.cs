using System.Net;

namespace Concentrator.Telemetry;

// Running many users: unique policies, per-user operator commands and updown scripts (event IDs 4400-4499).
public static partial class Log
{
    [LoggerMessage(EventId = 4400, Level = LogLevel.Information,
        Message = "Replacing duplicate IKE SA {Spi} of user {User} (connection {Connection}): {Why}")]
    public static partial void UniqueReplaced(ILogger logger, string spi, string user, string connection, string why);

    [LoggerMessage(EventId = 4401, Level = LogLevel.Information,
        Message = "Refusing IKE SA {Spi} of user {User} from {Remote} (connection {Connection}, unique keep): the user has an IKE SA from another address")]
    public static partial void UniqueRefused(ILogger logger, string spi, string user, string connection, IPEndPoint remote);

    [LoggerMessage(EventId = 4402, Level = LogLevel.Information,
        Message = "Duplicate IKE SA {Spi} of user {User} held by cluster member {Owner}: asking it to {Action}")]
    public static partial void UniqueRemoteDuplicate(ILogger logger, string spi, string user, string owner, string action);

    [LoggerMessage(EventId = 4420, Level = LogLevel.Warning,
        Message = "updown {Script} ({Verb}, child {Connection}/{Child}) {Outcome}{Detail}")]
    public static partial void UpdownFailed(ILogger logger, string script, string verb, string connection, string child, string outcome, string detail);

    [LoggerMessage(EventId = 4421, Level = LogLevel.Information, Message = "updown {Script} ({Verb}): {Line}")]
    public static partial void UpdownOutput(ILogger logger, string script, string verb, string line);

    [LoggerMessage(EventId = 4422, Level = LogLevel.Warning,
        Message = "updown output of {Script} suppressed: {Suppressed} lines over the limit of {Limit} per {Seconds} s")]
    public static partial void UpdownOutputSuppressed(ILogger logger, string script, long suppressed, int limit, double seconds);

    [LoggerMessage(EventId = 4423, Level = LogLevel.Warning,
        Message = "updown queue full ({Limit} runs waiting): {Verb} of child {Connection}/{Child} not run")]
    public static partial void UpdownDropped(ILogger logger, int limit, string verb, string connection, string child);
}
