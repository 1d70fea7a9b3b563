using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Concentrator.Ike.Sa;
using Concentrator.Ipsec;

namespace Concentrator.Actors;

/// <summary>
/// Published on the EventStream when a child with an updown script comes up on this node or goes down (the
/// <see cref="EffectRunner"/> does, once per child and selectors: a rekey's successor is not a new up). The host runs
/// <paramref name="Script"/> once per invocation (strongSwan: once per pair of local and remote selectors), in order per
/// <paramref name="Key"/>. The environment never carries key material.
/// </summary>
public sealed record ChildUpdown(string Script, bool Up, string Key, string Connection, string Child,
    IReadOnlyList<IReadOnlyList<KeyValuePair<string, string>>> Invocations);

/// <summary>
/// strongSwan's updown plugin environment (src/libcharon/plugins/updown/updown_listener.c, invoke_once) for one pair of
/// selectors. PLUTO_INTERFACE is "unknown" (strongSwan's value when it finds no next hop: our tunnel is the TUN device);
/// PLUTO_MARK_* and PLUTO_IF_ID_* never appear (no mark or if_id is configurable here).
/// </summary>
public static class UpdownEnvironment
{
    public static List<KeyValuePair<string, string>> For(IkeSa sa, long uniqueId, uint reqid, string child, bool up,
        TrafficSelector local, TrafficSelector remote)
    {
        var env = new List<KeyValuePair<string, string>>();
        void Add(string key, string value) => env.Add(new(key, value));
        var me = sa.LocalEndpoint.Address;
        var other = sa.RemoteEndpoint;

        Add("PATH", Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin");
        Add("PLUTO_VERSION", "1.1");
        bool isHost = local.StartAddress.Equals(local.EndAddress) && local.StartAddress.Equals(me);
        bool isV6 = isHost ? me.AddressFamily == AddressFamily.InterNetworkV6 : local.Type == TsType.Ipv6AddressRange;
        Add("PLUTO_VERB", (up ? "up" : "down") + (isHost ? "-host" : "-client") + (isV6 ? "-v6" : ""));
        Add("PLUTO_CONNECTION", child);
        Add("PLUTO_INTERFACE", "unknown");
        Add("PLUTO_REQID", reqid.ToString(CultureInfo.InvariantCulture));
        Add("PLUTO_PROTO", "esp");
        Add("PLUTO_UNIQUEID", uniqueId.ToString(CultureInfo.InvariantCulture));
        Add("PLUTO_ME", me.ToString());
        Add("PLUTO_MY_ID", sa.LocalId?.Text ?? "%any");
        Add("PLUTO_MY_CLIENT", Subnet(local));
        Add("PLUTO_MY_PORT", Port(local, remote, mine: true));
        Add("PLUTO_MY_PROTOCOL", local.IpProtocol.ToString(CultureInfo.InvariantCulture));
        Add("PLUTO_PEER", other.Address.ToString());
        Add("PLUTO_PEER_ID", sa.RemoteId?.Text ?? "%any");
        Add("PLUTO_PEER_CLIENT", Subnet(remote));
        Add("PLUTO_PEER_PORT", Port(local, remote, mine: false));
        Add("PLUTO_PEER_PROTOCOL", remote.IpProtocol.ToString(CultureInfo.InvariantCulture));
        if (sa.EapIdentity is { } eap) Add("PLUTO_XAUTH_ID", eap.Text);
        // Virtual IPs: ours as initiator (assigned to us), the peer's as responder (leased from our pools).
        VirtualIps(env, sa.IsInitiator ? "MY" : "PEER", sa.VirtualIps.All.Select(v => v.Address));
        if (sa.NatDetected) Add("PLUTO_UDP_ENC", other.Port.ToString(CultureInfo.InvariantCulture));
        if (sa.IsInitiator)
        {
            int v4 = 0, v6 = 0;
            foreach (var dns in sa.VirtualIps.DnsServers)
            {
                Add(dns.AddressFamily == AddressFamily.InterNetwork ? $"PLUTO_DNS4_{++v4}" : $"PLUTO_DNS6_{++v6}", dns.ToString());
            }
        }
        return env;
    }

    private static void VirtualIps(List<KeyValuePair<string, string>> env, string side, IEnumerable<IPAddress> vips)
    {
        int v4 = 0, v6 = 0;
        bool first = true;
        foreach (var vip in vips)
        {
            if (first) env.Add(new($"PLUTO_{side}_SOURCEIP", vip.ToString())); // the legacy variable: the first address
            first = false;
            env.Add(new(vip.AddressFamily == AddressFamily.InterNetwork ? $"PLUTO_{side}_SOURCEIP4_{++v4}" : $"PLUTO_{side}_SOURCEIP6_{++v6}",
                vip.ToString()));
        }
    }

    /// <summary>strongSwan's traffic_selector to_subnet: the smallest subnet holding the range, as address/prefix.</summary>
    public static string Subnet(TrafficSelector ts)
    {
        var start = ts.StartAddress.GetAddressBytes();
        var end = ts.EndAddress.GetAddressBytes();
        int prefix = 0;
        while (prefix < start.Length * 8)
        {
            int bit = 7 - prefix % 8;
            if (((start[prefix / 8] >> bit) & 1) != ((end[prefix / 8] >> bit) & 1)) break;
            prefix++;
        }
        for (int i = prefix; i < start.Length * 8; i++) start[i / 8] &= (byte)~(1 << (7 - i % 8));
        return $"{new IPAddress(start)}/{prefix}";
    }

    /// <summary>strongSwan's get_port: the ICMP type (ours) or code (the peer's) from the port field, else a port or a range.</summary>
    private static string Port(TrafficSelector local, TrafficSelector remote, bool mine)
    {
        byte protocol = Math.Max(local.IpProtocol, remote.IpProtocol);
        if (protocol is 1 or 58)
        {
            int port = Math.Max(local.StartPort, remote.StartPort);
            return (mine ? port >> 8 : port & 0xff).ToString(CultureInfo.InvariantCulture);
        }
        var ts = mine ? local : remote;
        return ts.StartPort == ts.EndPort || (ts.StartPort == 0 && ts.EndPort == 65535)
            ? ts.StartPort.ToString(CultureInfo.InvariantCulture)
            : $"{ts.StartPort}:{ts.EndPort}";
    }
}
