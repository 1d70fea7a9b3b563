using System.Net;
using Concentrator.Ipsec;
using Concentrator.Telemetry;

namespace Concentrator.Ike.Admission;

/// <summary>
/// charon.ikesa_limit and charon.ikesa_limit_per_peer: IKE SAs (every state, both roles) in total and per
/// remote address. Only new responder SAs are refused; SAs we initiate from configuration are counted but
/// never refused. Owned by the supervisor actor (single-threaded).
/// </summary>
public sealed class IkeSaQuota(ResourceLimits limits, ConcentratorMetrics metrics)
{
    private readonly Dictionary<object, IPAddress> _peerOf = new();
    private readonly Dictionary<IPAddress, int> _perPeer = new();

    public int Count => _peerOf.Count;

    public int CountFor(IPAddress peer) => _perPeer.GetValueOrDefault(Normalize(peer));

    /// <summary>False (counted as a limit hit) when one more responder SA from <paramref name="peer"/> would pass a bound.</summary>
    public bool TryAdmit(IPAddress peer)
    {
        if (_peerOf.Count >= limits.IkeSaLimit)
        {
            metrics.CountLimitDrop(ResourceLimit.IkeSaLimit, limits.IkeSaLimit);
            return false;
        }

        if (CountFor(peer) >= limits.IkeSaLimitPerPeer)
        {
            metrics.CountLimitDrop(ResourceLimit.IkeSaLimitPerPeer, limits.IkeSaLimitPerPeer);
            return false;
        }

        return true;
    }

    public void Add(object owner, IPAddress peer)
    {
        peer = Normalize(peer);
        if (!_peerOf.TryAdd(owner, peer)) return;
        _perPeer[peer] = _perPeer.GetValueOrDefault(peer) + 1;
    }

    public void Remove(object owner)
    {
        if (!_peerOf.Remove(owner, out var peer)) return;
        int left = _perPeer[peer] - 1;
        if (left == 0) _perPeer.Remove(peer);
        else _perPeer[peer] = left;
    }

    private static IPAddress Normalize(IPAddress a) => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a;
}
