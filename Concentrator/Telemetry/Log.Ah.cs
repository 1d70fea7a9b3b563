namespace Concentrator.Telemetry;

// AH (RFC 4302) in the data plane (event IDs 5200-5219). Never key material; SPIs only in logs, never in metric labels.
public static partial class Log
{
    [LoggerMessage(EventId = 5200, Level = LogLevel.Information,
        Message = "AH: raw IP protocol 51 socket open (IPv4, IP_HDRINCL), read by ah-raw-in")]
    public static partial void AhSocketOpened(ILogger logger);

    [LoggerMessage(EventId = 5201, Level = LogLevel.Information,
        Message = "AH SA installed: in 0x{InboundSpi:x8} out 0x{OutboundSpi:x8}, {Integrity}{Esn}, {Mode} mode, child {Connection}/{Child}")]
    public static partial void AhSaInstalled(ILogger logger, uint inboundSpi, uint outboundSpi, string integrity, string esn, string mode,
        string connection, string child);

    [LoggerMessage(EventId = 5202, Level = LogLevel.Warning,
        Message = "AH SA 0x{InboundSpi:x8} of child {Connection}/{Child} has an IPv6 peer: AH is carried over IPv4 only, its packets are dropped (no_sa)")]
    public static partial void AhIpv6PeerUnsupported(ILogger logger, uint inboundSpi, string connection, string child);
}
