using System.Net;

namespace Concentrator.Telemetry;

/// <summary>IKEv1 XAUTH and Mode Config, the gateway's side (event IDs 5160-5179). Never a password or a key.</summary>
public static partial class Log
{
    [LoggerMessage(EventId = 5160, Level = LogLevel.Information, Message = "XAUTH of user {User} from {Peer} on {Connection} succeeded")]
    public static partial void XauthSucceeded(ILogger logger, string user, IPEndPoint peer, string connection);

    [LoggerMessage(EventId = 5162, Level = LogLevel.Debug, Message = "XAUTH request sent to {Peer} on {Connection}")]
    public static partial void XauthStarted(ILogger logger, IPEndPoint peer, string connection);

    [LoggerMessage(EventId = 5163, Level = LogLevel.Information, Message = "Mode Config assigned {Assignment} to {User} ({Peer}) on {Connection}")]
    public static partial void ModeConfigAssigned(ILogger logger, string assignment, string user, IPEndPoint peer, string connection);

    [LoggerMessage(EventId = 5164, Level = LogLevel.Warning, Message = "Mode Config for {User} ({Peer}) on {Connection}: no address left in pools {Pools}; quick mode will be refused")]
    public static partial void ModeConfigNoAddress(ILogger logger, string user, IPEndPoint peer, string connection, string pools);

    [LoggerMessage(EventId = 5165, Level = LogLevel.Debug, Message = "Dropped a Transaction exchange message from {Peer}: {Reason}")]
    public static partial void TransactionDropped(ILogger logger, IPEndPoint peer, string reason);
}
