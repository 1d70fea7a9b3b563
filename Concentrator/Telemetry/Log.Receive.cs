using Microsoft.Extensions.Logging;

namespace Concentrator.Telemetry;

/// <summary>Events of the data plane's receive offloads and receive steering (issue 17), IDs 4740-4759.</summary>
public static partial class Log
{
    [LoggerMessage(EventId = 4740, Level = LogLevel.Warning,
        Message = "tunnel.udp_gro: the kernel refused UDP_GRO on the ESP-in-UDP sockets ({Error}); they receive one datagram per read")]
    public static partial void UdpGroUnavailable(ILogger logger, string error);

    [LoggerMessage(EventId = 4741, Level = LogLevel.Information,
        Message = "Data plane receive: UDP GRO {UdpGro}, plain ESP read by {RawSockets} socket(s) per family")]
    public static partial void DataPlaneReceive(ILogger logger, bool udpGro, int rawSockets);
}
