using System.Net;
using Concentrator.Ipsec;

namespace Concentrator.Telemetry;

// IKEv1 phase 1 (event IDs 5100-5119). Per setup at debug, as IKEv2's 1001/1006; failures once per SA.
public static partial class Log
{
    [LoggerMessage(EventId = 5100, Level = LogLevel.Debug, Message = "IKEv1 SA {Cookie} created as responder for {Peer}, connecting")]
    public static partial void V1SaCreated(ILogger logger, string cookie, IPEndPoint peer);

    [LoggerMessage(EventId = 5101, Level = LogLevel.Debug,
        Message = "IKEv1 SA {Cookie} {Connection} established with {Peer} ({RemoteId}) as {Role}: {Proposal}, NAT-T {NatT}, in {SetupMs:0.0} ms")]
    public static partial void V1SaEstablished(ILogger logger, string cookie, string connection, IPEndPoint peer, string remoteId, string role,
        string proposal, string natT, double setupMs);

    [LoggerMessage(EventId = 5102, Level = LogLevel.Information, Message = "IKEv1 SA {Cookie} {Connection} with {Peer} closed: {Reason} ({State})")]
    public static partial void V1SaClosed(ILogger logger, string cookie, string connection, IPEndPoint peer, CloseReason reason, string state);

    [LoggerMessage(EventId = 5103, Level = LogLevel.Warning,
        Message = "IKEv1 SA {Cookie} with {Peer}: phase 1 authentication failed ({Reason}) for '{RemoteId}': {Detail}")]
    public static partial void V1PeerAuthFailed(ILogger logger, string cookie, IPEndPoint peer, string remoteId, AuthFailure reason, string detail);

    [LoggerMessage(EventId = 5104, Level = LogLevel.Information, Message = "Initiating IKEv1 main mode for {Connection} to {Peer}")]
    public static partial void V1Initiating(ILogger logger, string connection, IPEndPoint peer);

    [LoggerMessage(EventId = 5105, Level = LogLevel.Information,
        Message = "IKEv1 SA {Cookie} is not replicated in the cluster and is not handed off; it ends with this node")]
    public static partial void V1NotHandedOff(ILogger logger, string cookie);

    [LoggerMessage(EventId = 5106, Level = LogLevel.Warning, Message = "IKEv1 SA {Cookie}: Child SA {Connection}/{Child} could not be installed")]
    public static partial void V1ChildInstallFailed(ILogger logger, Exception exception, string cookie, string connection, string child);
}
