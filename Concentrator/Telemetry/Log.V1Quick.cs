using System.Net;

namespace Concentrator.Telemetry;

// IKEv1 quick mode (event IDs 5120-5139). A Child SA set up at debug (as IKEv2's installed event), a refusal once per exchange.
public static partial class Log
{
    [LoggerMessage(EventId = 5120, Level = LogLevel.Debug,
        Message = "IKEv1 SA {Cookie} {Connection}: quick mode Child SA {Child} {InboundSpi}/{OutboundSpi} up as {Detail}")]
    public static partial void V1QuickModeEstablished(ILogger logger, string cookie, string connection, string child, string inboundSpi,
        string outboundSpi, string detail);

    [LoggerMessage(EventId = 5121, Level = LogLevel.Information,
        Message = "IKEv1 SA {Cookie} {Connection} with {Peer}: quick mode {Child} refused with {Notify} ({Detail})")]
    public static partial void V1QuickModeRefused(ILogger logger, string cookie, string connection, IPEndPoint peer, string child, string notify,
        string detail);
}
