using System.Net;
using System.Net.Sockets;
using Concentrator.Ike.Attributes;
using Concentrator.Ike.Connections;

namespace Concentrator.Ike.Sa;

/// <summary>
/// The virtual IPs of one IKE SA (RFC 7296 §3.15): as responder the addresses leased to the peer from our pools (this
/// SA holds each lease until it ends, <see cref="Release"/>), as initiator the addresses (and DNS servers) the peer
/// assigned to us. Also what a "dynamic" traffic selector stands for (<see cref="DynamicHosts"/>).
/// </summary>
public sealed class VirtualIps
{
    private readonly List<VirtualIp> _all = [];
    // The peer endpoint the leases were taken for (a make-before-break reauthentication from it shares them).
    private IPEndPoint? _leasedTo;

    public IReadOnlyList<VirtualIp> All => _all;

    /// <summary>Initiator: the DNS servers of the peer's CFG_REPLY (INTERNAL_IP4_DNS, INTERNAL_IP6_DNS).</summary>
    public IReadOnlyList<IPAddress> DnsServers { get; internal set; } = [];

    /// <summary>
    /// Responder: the configuration exchange failed (INTERNAL_ADDRESS_FAILURE: no pool had an address; or FAILED_CP_REQUIRED:
    /// the connection has pools and the peer asked for none), so IKE_AUTH builds no Child SA (strongSwan's child_create).
    /// </summary>
    public bool Failed { get; internal set; }

    /// <summary>A lease taken for the peer at <paramref name="peer"/>, or (pool "") an address the peer assigned to us.</summary>
    internal void Add(VirtualIp vip, IPEndPoint peer)
    {
        _all.Add(vip);
        if (vip.IsLease) _leasedTo = peer;
    }

    /// <summary>The leases this SA holds go back to their pools (the last SA of the identity takes them offline); idempotent.</summary>
    internal void Release(AddressPools pools, Identity? peerId)
    {
        if (peerId is not null && _leasedTo is not null)
        {
            foreach (var vip in _all)
            {
                if (vip.IsLease) pools.Release(vip, peerId, _leasedTo);
            }
        }
        _all.Clear();
        _leasedTo = null;
    }

    /// <summary>
    /// Takes over <paramref name="vips"/> (an IKE rekey's new SA, an SA restored from another node's snapshot): each lease is
    /// reserved for this SA too, so every SA holding it releases it once. False, with nothing kept, when a lease cannot be
    /// reserved here (another identity holds the address on this node).
    /// </summary>
    internal bool TakeOver(IEnumerable<VirtualIp> vips, AddressPools pools, Identity? peerId, IPEndPoint peer)
    {
        foreach (var vip in vips)
        {
            if (vip.IsLease && (peerId is null || !pools.Reserve(vip, peerId, peer)))
            {
                Release(pools, peerId);
                return false;
            }
            Add(vip, peer);
        }
        return true;
    }

    /// <summary>
    /// What "dynamic" stands for in our traffic selectors (strongSwan's ike_sa_get_dynamic_hosts and child_create's
    /// prepare_proposed_ts). Local: as an initiator that requests virtual IPs, any address of each family requested
    /// (0.0.0.0/0, ::/0: the responder narrows it to the address it assigns) unless <paramref name="assigned"/>; our
    /// assigned virtual IPs; else our IKE address. Remote: the virtual IPs leased to the peer; none when the connection has
    /// pools (the peer then gets TS_UNACCEPTABLE, as from strongSwan); else the peer's IKE address.
    /// </summary>
    /// <param name="assigned">Use the addresses the peer assigned instead of proposing any address (a rekey keeps its selectors anyway).</param>
    internal static IReadOnlyList<IPAddress> DynamicHosts(IkeSa sa, bool local, bool assigned = true)
    {
        var conn = sa.Connection;
        var vips = sa.VirtualIps.All;
        if (local)
        {
            if (sa.IsInitiator && conn is { Vips.Count: > 0 } && (!assigned || vips.Count == 0))
            {
                return conn.Vips.Select(v => v.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any).Distinct().ToList();
            }
            return sa.IsInitiator && vips.Count > 0 ? vips.Select(v => v.Address).ToList() : [sa.LocalEndpoint.Address];
        }
        if (!sa.IsInitiator && vips.Count > 0) return vips.Select(v => v.Address).ToList();
        return !sa.IsInitiator && conn is { Pools.Count: > 0 } ? [] : [sa.RemoteEndpoint.Address];
    }
}
