using Concentrator.Ike.Sa.V1;
using Concentrator.Telemetry;

namespace Concentrator.Actors;

/// <summary>Writes quick mode's <see cref="V1QuickModeEvent"/> effects to the host's log.</summary>
internal static class V1QuickModeLogging
{
    public static void Write(ILogger log, IkeV1Sa sa, V1QuickModeEvent e)
    {
        string cookie = $"{sa.OurCookie:x16}";
        string connection = sa.Connection?.Name ?? "";
        switch (e.Kind)
        {
            case V1QuickModeEventKind.Established when log.IsEnabled(LogLevel.Debug):
                Log.V1QuickModeEstablished(log, cookie, connection, e.Child, $"{e.InboundSpi:x8}", $"{e.OutboundSpi:x8}", e.Detail);
                break;
            case V1QuickModeEventKind.Refused:
                Log.V1QuickModeRefused(log, cookie, connection, sa.RemoteEndpoint, e.Child, e.Notify.ToString(), e.Detail);
                break;
        }
    }
}
