using Concentrator.Telemetry;

namespace Concentrator.Ike.Sa;

/// <summary>
/// charon.fragment_memory: the octets of IKE fragments every SA of one node holds while reassembling, together. One per
/// <see cref="IkeSaContext"/>, shared by SAs that run on different threads (lock-free). Every octet taken is given back
/// when its reassembly completes, starts over or is dropped, at the latest when its SA is disposed.
/// </summary>
public sealed class ReassemblyBudget(long limit, ConcentratorMetrics metrics)
{
    private long _held;

    public long Limit { get; } = limit;

    /// <summary>Octets held now.</summary>
    public long Held => Interlocked.Read(ref _held);

    /// <summary>Takes <paramref name="octets"/>, or nothing and false when that would pass <see cref="Limit"/>.</summary>
    public bool TryTake(int octets)
    {
        if (Interlocked.Add(ref _held, octets) > Limit)
        {
            Interlocked.Add(ref _held, -octets);
            return false;
        }

        metrics.AddReassemblyBytes(octets);
        return true;
    }

    public void Give(int octets)
    {
        if (octets == 0) return;
        Interlocked.Add(ref _held, -octets);
        metrics.AddReassemblyBytes(-octets);
    }
}
