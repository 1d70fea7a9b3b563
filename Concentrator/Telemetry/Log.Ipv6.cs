using Microsoft.Extensions.Logging;

namespace Concentrator.Telemetry;

/// <summary>Events of ESP over an IPv6 outer header (issue 18), IDs 4620-4639.</summary>
public static partial class Log
{
    [LoggerMessage(EventId = 4620, Level = LogLevel.Information,
        Message = "Data plane carries ESP over IPv6 too: UDP [{Address}]:{Port} ({Workers} sockets), plain ESP (next header 50) {PlainEsp}")]
    public static partial void DataPlaneIpv6(ILogger logger, string address, int port, int workers, bool plainEsp);
}
