using Concentrator.Ike.Tasks.V1;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;
using Concentrator.Telemetry;

namespace Concentrator.Actors;

// Aggressive mode's first message is refused before a responder SA exists unless a connection with aggressive: yes
// fits its cleartext ID (AggressiveGate); a refusal is counted every time and logged at most once per interval.
public sealed partial class IkeSaSupervisor
{
    private static readonly long AggressiveLogIntervalMs = 10_000;
    private long? _aggressiveLoggedAt;
    private long _aggressiveSuppressed;

    /// <summary>True when the aggressive mode first message may create a responder SA.</summary>
    private bool AdmitAggressive(V1Inbound inbound)
    {
        var first = AggressiveGate.Check(inbound.Datagram, _context.Resolver.FindCandidates(inbound.Local, inbound.Remote), _context.Limits.MaxPayloads);
        if (first.Connection is not null) return true;
        _context.Metrics.CountDrop(IkeDropReason.AggressiveModeRefused);
        long now = Environment.TickCount64;
        if (_aggressiveLoggedAt is not { } last || now - last >= AggressiveLogIntervalMs)
        {
            Log.AggressiveModeRefused(_log, inbound.Remote, first.Why, _aggressiveSuppressed);
            _aggressiveLoggedAt = now;
            _aggressiveSuppressed = 0;
        }
        else
        {
            _aggressiveSuppressed++;
        }
        return false;
    }
}
