using System.Net;

namespace Concentrator.Telemetry;

// Childless IKE SAs, RFC 6023 (event IDs 4650-4659).
public static partial class Log
{
    [LoggerMessage(EventId = 4650, Level = LogLevel.Warning,
        Message = "IKE SA {Spi} of connection {Connection} with {Peer} ends: childless policies do not meet ({Detail})")]
    public static partial void ChildlessMismatch(ILogger logger, string spi, string connection, IPEndPoint peer, string detail);
}
