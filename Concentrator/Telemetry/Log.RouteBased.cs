namespace Concentrator.Telemetry;

/// <summary>Route-based interfaces (swanctl if_id_in/if_id_out, the devices ipsec&lt;N&gt;): event IDs 4600-4619.</summary>
public static partial class Log
{
    [LoggerMessage(EventId = 4600, Level = LogLevel.Information,
        Message = "Route-based interface {Device} (if_id {InterfaceId}) is up: its own selector table, no routes installed by the gateway")]
    public static partial void RouteInterfaceCreated(ILogger logger, string device, uint interfaceId);

    [LoggerMessage(EventId = 4601, Level = LogLevel.Error,
        Message = "Route-based interface {Device} (if_id {InterfaceId}) could not be created: {Problem}")]
    public static partial void RouteInterfaceFailed(ILogger logger, string device, uint interfaceId, string problem);
}
