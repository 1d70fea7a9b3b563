using Concentrator.Ike.Sa.V1;
using Concentrator.Telemetry;

namespace Concentrator.Actors;

/// <summary>What the IKEv1 host does for quick mode: its <see cref="V1QuickModeEvent"/> effects to the log, and the
/// lifetime a quick mode agreed applied to the Child SA's timers.</summary>
internal static class V1QuickModeHost
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

    /// <summary>
    /// IKEv1 has one lifetime per SA for both ends (RFC 2407 §4.5; a responder takes the initiator's, strongSwan's
    /// apply_lifetimes): when it is shorter than the child's life_time it becomes the hard limit, and a rekey is due at
    /// 90% of it at the latest, so the SA is replaced before the peer expires it.
    /// </summary>
    public static ChildLifetime Apply(ChildLifetime configured, TimeSpan? negotiated)
    {
        if (negotiated is not { } life || life <= TimeSpan.Zero) return configured;
        if (configured.LifeTime > TimeSpan.Zero && configured.LifeTime <= life) return configured;
        var rekeyBy = life * 0.9;
        var rekey = configured.RekeyTime > TimeSpan.Zero && configured.RekeyTime < rekeyBy ? configured.RekeyTime : rekeyBy;
        var rand = configured.RandTime < rekey ? configured.RandTime : TimeSpan.Zero;
        return configured with { LifeTime = life, RekeyTime = rekey, RandTime = rand };
    }
}
