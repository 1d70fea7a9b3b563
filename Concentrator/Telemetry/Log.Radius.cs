using System.Net;

namespace Concentrator.Telemetry;

/// <summary>The RADIUS client's lines (event IDs 4200-4299). Never the shared secret, a password, an EAP payload or a key.</summary>
public static partial class Log
{
    [LoggerMessage(EventId = 4201, Level = LogLevel.Warning,
        Message = "RADIUS server {Server} ({Endpoint}) did not answer a {Kind} request after {Attempts} attempts; trying the next server")]
    public static partial void RadiusTimeout(ILogger logger, string server, IPEndPoint endpoint, string kind, int attempts);

    [LoggerMessage(EventId = 4202, Level = LogLevel.Warning, Message = "No RADIUS server answered a {Kind} request")]
    public static partial void RadiusNoServer(ILogger logger, string kind);

    [LoggerMessage(EventId = 4203, Level = LogLevel.Debug, Message = "Dropped a datagram on RADIUS server {Server}'s socket from {Source}: {Reason}")]
    public static partial void RadiusDropped(ILogger logger, string server, EndPoint? source, RadiusDropReason reason);

    [LoggerMessage(EventId = 4204, Level = LogLevel.Information, Message = "RADIUS server {Server} answered {User}'s EAP with {Code}")]
    public static partial void RadiusAccessResult(ILogger logger, string server, string user, string code);

    [LoggerMessage(EventId = 4205, Level = LogLevel.Warning,
        Message = "RADIUS accounting {Status} for session {SessionId} given up: {Why}")]
    public static partial void RadiusAccountingGivenUp(ILogger logger, string status, string sessionId, string why);

    [LoggerMessage(EventId = 4206, Level = LogLevel.Warning, Message = "RADIUS socket towards {Server} failed: {Error}")]
    public static partial void RadiusSocketError(ILogger logger, string server, string error);

    [LoggerMessage(EventId = 4207, Level = LogLevel.Warning,
        Message = "RADIUS server {Server} accepted {User} without MS-MPPE keys; the final AUTH then uses SK_p (RFC 7296 §2.16)")]
    public static partial void RadiusAcceptWithoutKeys(ILogger logger, string server, string user);
}
