using System.Net;
using System.Net.Sockets;
using Concentrator.Ike.Attributes;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Wire;

namespace Concentrator.Ike.Tasks;

/// <summary>
/// The configuration payload of IKE_AUTH (RFC 7296 §2.19, §3.15; RFC 8598), after strongSwan's ike_config task, beside
/// <see cref="IkeAuthTask"/> and before the first <see cref="ChildCreateTask"/> (whose "dynamic" selectors become the
/// virtual IPs). Responder: CFG_REQUEST with INTERNAL_IP4/IP6_ADDRESS gets an address of that family from the
/// connection's pools (<see cref="AddressPools"/>, by the peer's authenticated identity) and the attributes of the pools
/// it came from in CFG_REPLY; none left is INTERNAL_ADDRESS_FAILURE, a connection with pools whose peer asks for no
/// address FAILED_CP_REQUIRED, and either way IKE_AUTH builds no Child SA. A peer that logged in by EAP leases by its EAP
/// identity, gets a RADIUS Framed-IP-Address instead of a lease, and a RADIUS Class naming one of the pools picks it. Initiator (<c>vips</c>): CFG_REQUEST for the
/// configured addresses and their families' DNS servers; the CFG_REPLY's addresses become ours.
/// </summary>
public sealed class IkeConfigTask : IIkeTask
{
    /// <summary>Prefix length sent with an INTERNAL_IP6_ADDRESS (strongSwan's; RFC 7296 leaves it to the responder).</summary>
    private const byte Ip6PrefixLength = 64;

    /// <summary>DNS servers kept from a CFG_REPLY (a resolver uses the first three: glibc's MAXNS).</summary>
    private const int MaxDnsServers = 8;

    private readonly HashSet<ConfigAttributeType> _requested = [];
    private NotifyType? _failure;

    // ---- Initiator ----

    public void BuildRequest(IkeSa sa, List<Payload> payloads)
    {
        var vips = sa.Connection!.Vips;
        if (vips.Count == 0) return;
        var attributes = new List<ConfigAttribute>();
        foreach (var vip in vips)
        {
            bool v4 = vip.AddressFamily == AddressFamily.InterNetwork;
            // The unspecified address asks for any address (an empty value); another asks for that one.
            byte[] value = vip.Equals(IPAddress.Any) || vip.Equals(IPAddress.IPv6Any) ? [] : v4 ? vip.GetAddressBytes() : [.. vip.GetAddressBytes(), Ip6PrefixLength];
            attributes.Add(new ConfigAttribute(v4 ? ConfigAttributeType.InternalIp4Address : ConfigAttributeType.InternalIp6Address, value));
        }
        // As strongSwan's resolve plugin: the DNS servers of each family an address is requested of.
        foreach (var family in vips.Select(v => v.AddressFamily).Distinct())
        {
            attributes.Add(new ConfigAttribute(family == AddressFamily.InterNetwork ? ConfigAttributeType.InternalIp4Dns : ConfigAttributeType.InternalIp6Dns, []));
        }
        payloads.Add(new ConfigPayload(ConfigType.Request, attributes));
    }

    public TaskOutcome ProcessResponse(IkeSa sa, IkeMessage response)
    {
        var vips = sa.Connection!.Vips;
        if (vips.Count == 0 || response.Get<ConfigPayload>() is not { ConfigType: ConfigType.Reply } cp) return TaskOutcome.Done;
        // The reply sizes our selectors and what we install: one address of each family we asked for, a few DNS servers.
        var dns = new List<IPAddress>();
        foreach (var a in cp.Attributes)
        {
            IPAddress? address = a.Type switch
            {
                ConfigAttributeType.InternalIp4Address when a.Value.Length == 4 => new IPAddress(a.Value),
                ConfigAttributeType.InternalIp6Address when a.Value.Length == 17 => new IPAddress(a.Value.AsSpan(0, 16)),
                _ => null,
            };
            if (address is not null)
            {
                if (vips.Any(v => v.AddressFamily == address.AddressFamily) && sa.VirtualIps.All.All(v => v.Address.AddressFamily != address.AddressFamily))
                {
                    sa.VirtualIps.Add(new VirtualIp("", address), sa.RemoteEndpoint);
                }
            }
            else if (((a.Type == ConfigAttributeType.InternalIp4Dns && a.Value.Length == 4) ||
                      (a.Type == ConfigAttributeType.InternalIp6Dns && a.Value.Length == 16)) && dns.Count < MaxDnsServers)
            {
                dns.Add(new IPAddress(a.Value));
            }
        }
        sa.VirtualIps.DnsServers = dns;
        return TaskOutcome.Done;
    }

    // ---- Responder ----

    public TaskOutcome ProcessRequest(IkeSa sa, IkeMessage request)
    {
        // Leases are by user: the EAP identity of a peer that logged in by EAP (strongSwan's get_other_eap_id), else its IKE identity.
        if (sa.Connection is not { } conn || sa.User is not { } peer) return TaskOutcome.Done;
        var families = new List<AddressFamily>();
        if (request.Get<ConfigPayload>() is { ConfigType: ConfigType.Request } cp)
        {
            foreach (var a in cp.Attributes)
            {
                // A specific address asked for is treated as "any" (strongSwan reuses it only for the same host's
                // make-before-break reauthentication, which the identity's own lease covers here). Malformed lengths are ignored.
                var family = a.Type switch
                {
                    ConfigAttributeType.InternalIp4Address when a.Value.Length is 0 or 4 => AddressFamily.InterNetwork,
                    ConfigAttributeType.InternalIp6Address when a.Value.Length is 0 or 17 => AddressFamily.InterNetworkV6,
                    _ => AddressFamily.Unspecified,
                };
                if (family == AddressFamily.Unspecified) _requested.Add(a.Type);
                else if (!families.Contains(family)) families.Add(family);
            }
        }

        if (families.Count > 0)
        {
            // What the EAP server decided (RADIUS): a Framed-IP-Address is the peer's address of its family, assigned, not a
            // lease (pool "": never returned to a pool); a group naming one of the connection's pools leases from that pool only.
            var framed = sa.EapOutcome?.FramedAddress;
            var pools = sa.EapOutcome?.Groups.FirstOrDefault(conn.Pools.Contains) is { } group ? [group] : conn.Pools;
            foreach (var family in families)
            {
                if (framed is not null && framed.AddressFamily == family) sa.VirtualIps.Add(new VirtualIp("", framed), sa.RemoteEndpoint);
                else if (sa.Context.Pools.Acquire(pools, family, peer, sa.RemoteEndpoint) is { } vip) sa.VirtualIps.Add(vip, sa.RemoteEndpoint);
            }
            if (sa.VirtualIps.All.Count == 0) _failure = NotifyType.InternalAddressFailure;
        }
        else if (conn.Pools.Count > 0)
        {
            _failure = NotifyType.FailedCpRequired;
        }
        sa.VirtualIps.Failed = _failure is not null;
        return TaskOutcome.Done;
    }

    public void BuildResponse(IkeSa sa, List<Payload> payloads)
    {
        if (_failure is { } failure)
        {
            payloads.Add(new NotifyPayload(failure));
            return;
        }
        var vips = sa.VirtualIps.All;
        if (vips.Count == 0) return;
        var attributes = new List<ConfigAttribute>();
        foreach (var vip in vips)
        {
            attributes.Add(vip.Address.AddressFamily == AddressFamily.InterNetwork
                ? new ConfigAttribute(ConfigAttributeType.InternalIp4Address, vip.Address.GetAddressBytes())
                : new ConfigAttribute(ConfigAttributeType.InternalIp6Address, [.. vip.Address.GetAddressBytes(), Ip6PrefixLength]));
        }
        // The attributes of the pools an address came from (strongSwan's have_vips_from_pool); a domain for Split DNS only
        // to a peer that asked for one (RFC 8598 §4).
        foreach (var name in vips.Select(v => v.Pool).Distinct())
        {
            if (sa.Context.Pools.Find(name) is not { } pool) continue;
            foreach (var a in pool.Attributes)
            {
                if (a.Type == ConfigAttributeType.InternalDnsDomain && !_requested.Contains(ConfigAttributeType.InternalDnsDomain)) continue;
                attributes.Add(a);
            }
        }
        payloads.Add(new ConfigPayload(ConfigType.Reply, attributes));
    }
}
