using Concentrator.Ike.Tasks.V1;
using Concentrator.Telemetry;

namespace Concentrator.Actors;

// The log lines of the gateway's IKEv1 remote access round (XAUTH, Mode Config); a failed XAUTH is logged as every
// failed authentication is, from its PeerAuthFailed.
public sealed partial class IkeV1SaActor
{
    private void LogRemoteAccess(V1RemoteAccessEvent e)
    {
        var connection = _sa.Connection?.Name ?? "";
        switch (e.Kind)
        {
            case V1RemoteAccessKind.XauthStarted: Log.XauthStarted(_log, _sa.RemoteEndpoint, connection); break;
            case V1RemoteAccessKind.XauthSucceeded: Log.XauthSucceeded(_log, e.User, _sa.RemoteEndpoint, connection); break;
            case V1RemoteAccessKind.ModeConfigAssigned: Log.ModeConfigAssigned(_log, e.Detail, e.User, _sa.RemoteEndpoint, connection); break;
            case V1RemoteAccessKind.ModeConfigNoAddress: Log.ModeConfigNoAddress(_log, e.User, _sa.RemoteEndpoint, connection, e.Detail); break;
            case V1RemoteAccessKind.Dropped: Log.TransactionDropped(_log, _sa.RemoteEndpoint, e.Detail); break;
        }
    }
}
