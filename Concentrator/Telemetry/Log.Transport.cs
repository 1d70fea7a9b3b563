namespace Concentrator.Telemetry;

/// <summary>Transport mode (USE_TRANSPORT_MODE): event IDs 4640-4649.</summary>
public static partial class Log
{
    [LoggerMessage(EventId = 4640, Level = LogLevel.Debug,
        Message = "Transport mode: {Prefix} routed via {Device} from {Source}; the gateway's own IKE and ESP carry fwmark {Mark} and skip the tunnel table")]
    public static partial void TransportRouteInstalled(ILogger logger, string prefix, string device, string source, string mark);

    [LoggerMessage(EventId = 4642, Level = LogLevel.Information,
        Message = "Child SA {Connection}/{Child} {InboundSpi} is in transport mode (USE_TRANSPORT_MODE)")]
    public static partial void ChildSaTransportMode(ILogger logger, string connection, string child, string inboundSpi);

    [LoggerMessage(EventId = 4641, Level = LogLevel.Warning,
        Message = "Transport mode: route {Prefix} via {Device} from {Source} not installed: {Error}")]
    public static partial void TransportRouteFailed(ILogger logger, string prefix, string device, string source, string error);
}
