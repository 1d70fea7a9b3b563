using System.Net;
using System.Net.Sockets;
using Concentrator.Ike.Proposals;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Connections;

/// <summary>
/// Which configured connections fit a peer, best first, as strongSwan's backend_manager ranks its configs:
/// by addresses for IKE_SA_INIT (get_ike_match), then by identities for IKE_AUTH (create_peer_cfg_enumerator, with
/// ike_auth's load_cfg_candidates dropping configs whose proposals do not contain the IKE proposal already chosen).
/// </summary>
public static class ConnectionMatch
{
    // strongSwan's ike_cfg_match_t weights: the remote address counts double the local one.
    private const int MatchVersion = 0x04;
    private const int MatchMe = 0x08;
    private const int MatchOther = 0x10;

    // strongSwan's ike_cfg match(): an exact address beats any subnet (prefix length + 1), which beats %any.
    private const int ExactAddress = 128 + 1;
    private const int AnyAddress = 1;

    /// <summary>
    /// How well the connection's local_addrs and remote_addrs fit the addresses; 0 = not at all. strongSwan's
    /// get_ike_match without the port bonus (it only separates connections with different local_port/remote_port).
    /// </summary>
    public static int Addresses(ConnectionConfig connection, IPAddress local, IPAddress remote)
    {
        int me = AddressQuality(connection.LocalAddrs, local);
        int other = me == 0 ? 0 : AddressQuality(connection.RemoteAddrs, remote);
        if (other == 0) return 0;
        return me * MatchMe + other * MatchOther + (connection.Version != 0 ? MatchVersion : 0);
    }

    /// <summary>
    /// The connection IKE_AUTH continues with, or null when none accepts the peer (AUTHENTICATION_FAILED): the first of
    /// <see cref="RankForAuth"/>.
    /// </summary>
    public static ConnectionConfig? ForAuth(IReadOnlyList<ConnectionConfig> candidates, IPAddress local, IPAddress remote,
        IkeSuite suite, Identity peer, Identity? requestedLocal, string remoteAuth = AuthConfig.Psk) =>
        RankForAuth(candidates, local, remote, suite, peer, requestedLocal, remoteAuth) is [var best, ..] ? best : null;

    /// <summary>
    /// The connections that may authenticate the peer in IKE_AUTH, best first. A candidate needs addresses that still
    /// fit, an IKE proposal that contains <paramref name="suite"/> (so IKE_AUTH never moves an SA to a connection whose
    /// proposals refuse the algorithms IKE_SA_INIT chose), a remote id that matches <paramref name="peer"/>, when the peer
    /// asked for one a local id that matches <paramref name="requestedLocal"/>, and a remote round of the peer's AUTH
    /// method (<paramref name="remoteAuth"/>: psk, pubkey, or eap for any EAP method, <see cref="AuthConfig.Class"/>). The received identities are only ever matched against,
    /// never used as patterns (strongSwan also tries the reverse for the IDr, then refuses the same IDr in ike_auth
    /// build_r). Ranked as strongSwan's insert_sorted: a candidate goes ahead of the first one it beats in one ranking
    /// (addresses, identities) while no worse in the other; equals keep config order. A pubkey peer is tried against
    /// each in turn until one trusts its certificate (strongSwan's constraint check moving to the next candidate).
    /// </summary>
    public static List<ConnectionConfig> RankForAuth(IReadOnlyList<ConnectionConfig> candidates, IPAddress local, IPAddress remote,
        IkeSuite suite, Identity peer, Identity? requestedLocal, string remoteAuth)
    {
        var ranked = new List<(ConnectionConfig Connection, int Ike, int Peer)>();
        foreach (var connection in candidates)
        {
            if (connection.Remote.Class != remoteAuth) continue;
            int ike = Addresses(connection, local, remote);
            if (ike == 0 || !ProposalSelector.Allows(connection.Proposals, suite)) continue;
            var me = requestedLocal is null ? IdMatch.Any : connection.Local.Identity.Match(requestedLocal);
            if (me == IdMatch.None) continue;
            var other = connection.Remote.Identity.Match(peer);
            if (other == IdMatch.None) continue;
            int matchPeer = (int)me + (int)other;
            int at = ranked.FindIndex(r => (ike > r.Ike && matchPeer >= r.Peer) || (ike >= r.Ike && matchPeer > r.Peer));
            ranked.Insert(at < 0 ? ranked.Count : at, (connection, ike, matchPeer));
        }
        return ranked.ConvertAll(r => r.Connection);
    }

    /// <summary>"%any", an empty list, 0.0.0.0 or :: match any address; otherwise an address, a CIDR prefix or an a-b range.</summary>
    private static int AddressQuality(IReadOnlyList<string> list, IPAddress address)
    {
        if (list.Count == 0) return AnyAddress;
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        int best = 0;
        foreach (var entry in list)
        {
            best = Math.Max(best, EntryQuality(entry.Trim(), address));
        }
        return best;
    }

    private static int EntryQuality(string entry, IPAddress address)
    {
        switch (entry)
        {
            case "%any" or "0.0.0.0" or "::":
                return AnyAddress;
            case "%any4":
                return address.AddressFamily == AddressFamily.InterNetwork ? AnyAddress : 0;
            case "%any6":
                return address.AddressFamily == AddressFamily.InterNetworkV6 ? AnyAddress : 0;
        }

        if (entry.Contains('/'))
        {
            return IPNetwork.TryParse(entry, out var net) && net.Contains(address) ? net.PrefixLength + 1 : 0;
        }

        int dash = entry.IndexOf('-');
        if (dash > 0 && IPAddress.TryParse(entry[..dash], out var lo) && IPAddress.TryParse(entry[(dash + 1)..], out var hi))
        {
            return lo.AddressFamily == address.AddressFamily && Compare(lo, address) <= 0 && Compare(address, hi) <= 0 ? AnyAddress : 0;
        }

        return IPAddress.TryParse(entry, out var ip) && ip.Equals(address) ? ExactAddress : 0;
    }

    private static int Compare(IPAddress a, IPAddress b) =>
        a.GetAddressBytes().AsSpan().SequenceCompareTo(b.GetAddressBytes());
}
