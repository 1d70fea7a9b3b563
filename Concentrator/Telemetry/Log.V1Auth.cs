using System.Net;

namespace Concentrator.Telemetry;

/// <summary>IKEv1 certificates and aggressive mode (issue 19), event IDs 5140-5159.</summary>
public static partial class Log
{
    [LoggerMessage(EventId = 5140, Level = LogLevel.Warning,
        Message = "Connection {Connection} allows IKEv1 aggressive mode (aggressive: yes): its first messages carry the identities in clear and, " +
                  "with a pre-shared key, a hash of it that anyone on the path can attack offline with a dictionary; prefer main mode or certificates")]
    public static partial void AggressiveModeEnabled(ILogger logger, string connection);

    [LoggerMessage(EventId = 5141, Level = LogLevel.Information,
        Message = "IKEv1 aggressive mode from {Peer} refused ({Why}); {Suppressed} more refused since the last line")]
    public static partial void AggressiveModeRefused(ILogger logger, IPEndPoint peer, string why, long suppressed);

}
