using System.Net;

namespace Concentrator.Telemetry;

// IKEv1 informational exchange, DPD (RFC 3706), NAT keepalives (event IDs 5180-5199).
public static partial class Log
{
    [LoggerMessage(EventId = 5180, Level = LogLevel.Debug, Message = "IKEv1 SA {Spi}: informational from {Peer} dropped ({Reason})")]
    public static partial void V1InformationalDropped(ILogger logger, string spi, IPEndPoint peer, string reason);

    [LoggerMessage(EventId = 5181, Level = LogLevel.Information, Message = "IKEv1 SA {Spi}: the peer deleted the ISAKMP SA")]
    public static partial void V1IsakmpDeleteReceived(ILogger logger, string spi);

    [LoggerMessage(EventId = 5182, Level = LogLevel.Information, Message = "IKEv1 SA {Spi}: the peer deleted Child SA {ChildSpi}")]
    public static partial void V1ChildDeleteReceived(ILogger logger, string spi, string childSpi);

    [LoggerMessage(EventId = 5183, Level = LogLevel.Debug,
        Message = "IKEv1 SA {Spi}: Delete ignored for {Unknown} unknown SPI(s) and {Foreign} other ISAKMP SA(s)")]
    public static partial void V1DeleteIgnored(ILogger logger, string spi, int unknown, int foreign);

    [LoggerMessage(EventId = 5184, Level = LogLevel.Warning, Message = "IKEv1 SA {Spi}: the peer sent the error notify {Notify}")]
    public static partial void V1ErrorNotify(ILogger logger, string spi, string notify);

    [LoggerMessage(EventId = 5185, Level = LogLevel.Information, Message = "IKEv1 SA {Spi}: INITIAL-CONTACT from {Peer}: its older SAs with us are replaced")]
    public static partial void V1InitialContact(ILogger logger, string spi, IPEndPoint peer);

    [LoggerMessage(EventId = 5186, Level = LogLevel.Debug, Message = "IKEv1 SA {Spi}: DPD R-U-THERE {Sequence} sent")]
    public static partial void V1DpdProbe(ILogger logger, string spi, uint sequence);

    [LoggerMessage(EventId = 5187, Level = LogLevel.Debug, Message = "IKEv1 SA {Spi}: DPD {Notify} {Sequence} out of sequence (expected {Expected}), ignored")]
    public static partial void V1DpdOutOfSequence(ILogger logger, string spi, string notify, uint sequence, uint expected);

    [LoggerMessage(EventId = 5188, Level = LogLevel.Warning, Message = "IKEv1 SA {Spi}: the peer {Peer} was silent for {Seconds} s despite DPD: closing it (dpd_action {Action})")]
    public static partial void V1DpdDead(ILogger logger, string spi, IPEndPoint peer, uint seconds, string action);

    [LoggerMessage(EventId = 5189, Level = LogLevel.Information, Message = "IKEv1 SA {Spi}: the peer sent no DPD vendor ID: dpd_delay does not apply")]
    public static partial void V1DpdUnsupported(ILogger logger, string spi);

    [LoggerMessage(EventId = 5190, Level = LogLevel.Information, Message = "IKEv1 SA {Spi}: sending Delete for {What}")]
    public static partial void V1DeleteSent(ILogger logger, string spi, string what);
}
