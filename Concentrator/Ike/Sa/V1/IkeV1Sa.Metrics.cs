using Concentrator.Ipsec;
using Concentrator.Telemetry;

namespace Concentrator.Ike.Sa.V1;

// The IKE SA gauge (concentrator_ike_sas{state, version="1"}): phase 1's states shown in IKEv2's vocabulary, so one
// dashboard panel covers both versions. Every SA is counted from construction until it closes or is disposed.
public sealed partial class IkeV1Sa
{
    /// <summary>Phase 1's state as the gauge's state label; Closed leaves the gauge.</summary>
    public static IkeSaState? GaugeState(V1Phase1State state) => state switch
    {
        V1Phase1State.Created => IkeSaState.Created,
        V1Phase1State.AwaitingSa or V1Phase1State.AwaitingKe or V1Phase1State.AwaitingAuth or V1Phase1State.Authenticating => IkeSaState.Connecting,
        V1Phase1State.Established => IkeSaState.Established,
        V1Phase1State.Deleting => IkeSaState.Deleting,
        _ => null,
    };

    private void GaugeMoved(V1Phase1State? from, V1Phase1State? to)
    {
        var f = from is { } a ? GaugeState(a) : null;
        var t = to is { } b ? GaugeState(b) : null;
        if (f != t) Context.Metrics.IkeSaStateChanged(f, t, IkeVersion.V1);
    }
}
