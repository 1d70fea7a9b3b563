using System.Net;
using System.Net.Sockets;
using Concentrator.Config;
using Concentrator.Ike.Connections;

namespace Concentrator.Hosting;

/// <summary>Resolves against a loaded <see cref="ConcentratorConfig"/> with strongSwan's address rules.</summary>
public sealed class ConfigConnectionResolver(ConcentratorConfig config) : IConnectionResolver
{
    public IReadOnlyList<ConnectionConfig> FindCandidates(IPEndPoint local, IPEndPoint remote)
    {
        var result = new List<ConnectionConfig>();
        foreach (var conn in config.Connections.Values)
        {
            if (AddressListMatches(conn.LocalAddrs, local.Address) && AddressListMatches(conn.RemoteAddrs, remote.Address))
            {
                result.Add(conn);
            }
        }
        return result;
    }

    public byte[]? FindSharedKey(string localId, string remoteId) => config.FindSharedKey(localId, remoteId);

    public ConnectionConfig? FindConnection(string name) => config.Connections.GetValueOrDefault(name);

    /// <summary>"%any", an empty list, 0.0.0.0 or :: match anything; otherwise an address, a CIDR prefix or an a-b range.</summary>
    public static bool AddressListMatches(IReadOnlyList<string> list, IPAddress address)
    {
        if (list.Count == 0) return true;
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        foreach (var entry in list)
        {
            if (AddressMatches(entry.Trim(), address)) return true;
        }
        return false;
    }

    private static bool AddressMatches(string entry, IPAddress address)
    {
        if (entry is "%any" or "%any4" or "%any6" or "0.0.0.0" or "::")
        {
            return entry switch
            {
                "%any4" => address.AddressFamily == AddressFamily.InterNetwork,
                "%any6" => address.AddressFamily == AddressFamily.InterNetworkV6,
                _ => true,
            };
        }

        if (entry.Contains('/'))
        {
            return IPNetwork.TryParse(entry, out var net) && net.Contains(address);
        }

        int dash = entry.IndexOf('-');
        if (dash > 0 && IPAddress.TryParse(entry[..dash], out var lo) && IPAddress.TryParse(entry[(dash + 1)..], out var hi))
        {
            return lo.AddressFamily == address.AddressFamily &&
                   Compare(lo, address) <= 0 && Compare(address, hi) <= 0;
        }

        return IPAddress.TryParse(entry, out var ip) && ip.Equals(address);
    }

    private static int Compare(IPAddress a, IPAddress b) =>
        a.GetAddressBytes().AsSpan().SequenceCompareTo(b.GetAddressBytes());
}
