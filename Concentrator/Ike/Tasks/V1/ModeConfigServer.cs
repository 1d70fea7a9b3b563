using System.Net;
using System.Net.Sockets;
using Concentrator.Ike.Attributes;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Wire;
using Concentrator.Ike.Wire.V1;

namespace Concentrator.Ike.Tasks.V1;

/// <summary>Where the gateway's Mode Config stands (<see cref="ModeConfigServer"/>).</summary>
public enum ModeConfigState
{
    /// <summary>Nothing assigned yet.</summary>
    Idle = 0,
    /// <summary>Push: CFG_SET with the addresses sent, waiting for the client's CFG_ACK.</summary>
    SetSent,
    /// <summary>Addresses assigned (pull: CFG_REPLY sent; push: CFG_ACK received), or none left (<see cref="VirtualIps.Failed"/>).</summary>
    Done,
}

/// <summary>
/// The gateway's Mode Config (draft-dukes-ike-mode-cfg-02, as strongSwan's sa/ikev1/tasks/mode_config.c), in the
/// Transaction exchanges after XAUTH. Pull (swanctl <c>pull = yes</c>, the default): the client's CFG_REQUEST for
/// INTERNAL_IP4_ADDRESS / INTERNAL_IP6_ADDRESS gets, in CFG_REPLY, an address of each family asked for from the
/// connection's pools (the same <see cref="AddressPools"/> leases as IKEv2, keyed by the XAUTH user, else the phase 1
/// identity) and the attributes of the pools the addresses came from. Push (<c>pull = no</c>): CFG_SET with an address
/// of each pool (IPv4 first), acknowledged by CFG_ACK. The leases go into the SA's <see cref="VirtualIps"/>: what quick
/// mode accepts as the client's traffic selector and what the SA releases when it dies. None left: the reply carries no
/// address, <see cref="VirtualIps.Failed"/> is set, and quick mode is refused.
/// </summary>
public sealed class ModeConfigServer
{
    private readonly AddressPools _pools;
    private readonly IReadOnlyList<string> _poolNames;
    private readonly VirtualIps _vips;
    private readonly Identity _user;
    private readonly IPEndPoint _peer;
    private readonly HashSet<ushort> _requested = [];
    private ushort _identifier;

    /// <param name="pools">The node's pools.</param>
    /// <param name="poolNames">The connection's <c>pools</c>, in order.</param>
    /// <param name="vips">The phase 1 SA's virtual IPs (the leases it holds).</param>
    /// <param name="user">The identity leases are keyed by: the XAUTH user, else the phase 1 peer identity.</param>
    /// <param name="peer">The client's IKE endpoint.</param>
    public ModeConfigServer(AddressPools pools, IReadOnlyList<string> poolNames, VirtualIps vips, Identity user, IPEndPoint peer)
    {
        _pools = pools;
        _poolNames = poolNames;
        _vips = vips;
        _user = user;
        _peer = peer;
    }

    public ModeConfigState State { get; private set; }

    /// <summary>
    /// Pull: the client's CFG_REQUEST answered by a CFG_REPLY with its identifier. A repeated request (a new Transaction
    /// exchange, not a retransmission) gets the addresses already assigned, never a second lease. Null for anything but a
    /// CFG_REQUEST, or while a push is pending: the host drops the message.
    /// </summary>
    public AttributePayload? ProcessRequest(AttributePayload request)
    {
        if (request.MessageType != CfgMessageType.Request || State == ModeConfigState.SetSent) return null;
        _identifier = request.Identifier;
        if (State == ModeConfigState.Idle)
        {
            var families = new List<AddressFamily>();
            foreach (var a in request.Attributes)
            {
                // A specific address asked for is treated as "any", as the IKEv2 responder does; other lengths are ignored.
                var family = (CfgAttributeType)a.Type switch
                {
                    CfgAttributeType.InternalIp4Address when !a.Basic && a.Value.Length is 0 or 4 => AddressFamily.InterNetwork,
                    // 16 octets (draft-dukes), 17 with a prefix length (strongSwan before 5.0 and IKEv2).
                    CfgAttributeType.InternalIp6Address when !a.Basic && a.Value.Length is 0 or 16 or 17 => AddressFamily.InterNetworkV6,
                    _ => AddressFamily.Unspecified,
                };
                if (family == AddressFamily.Unspecified) _requested.Add(a.Type);
                else if (!families.Contains(family)) families.Add(family);
            }
            foreach (var family in families)
            {
                if (_pools.Acquire(_poolNames, family, _user, _peer) is { } vip) _vips.Add(vip, _peer);
            }
            _vips.Failed = _poolNames.Count > 0 && _vips.All.Count == 0;
            State = ModeConfigState.Done;
        }
        return new AttributePayload(CfgMessageType.Reply, _identifier, Attributes());
    }

    /// <summary>Push: the CFG_SET with an address of each of the connection's pools (IPv4, else IPv6).</summary>
    public AttributePayload BuildSet(ushort identifier)
    {
        if (State != ModeConfigState.Idle) throw new InvalidOperationException($"Mode Config push in state {State}");
        _identifier = identifier;
        foreach (var name in _poolNames)
        {
            var vip = _pools.Acquire([name], AddressFamily.InterNetwork, _user, _peer) ?? _pools.Acquire([name], AddressFamily.InterNetworkV6, _user, _peer);
            if (vip is not null) _vips.Add(vip, _peer);
        }
        _vips.Failed = _poolNames.Count > 0 && _vips.All.Count == 0;
        State = ModeConfigState.SetSent;
        return new AttributePayload(CfgMessageType.Set, _identifier, Attributes());
    }

    /// <summary>Push: the client's CFG_ACK of our CFG_SET; false (state unchanged, dropped) for anything else.</summary>
    public bool ProcessAck(AttributePayload ack)
    {
        if (State != ModeConfigState.SetSent || ack.MessageType != CfgMessageType.Ack) return false;
        State = ModeConfigState.Done;
        return true;
    }

    /// <summary>
    /// The assigned addresses (IPv6 as 16 octets, strongSwan's IKEv1 form) and the attributes of the pools they came from;
    /// a DNS domain (RFC 8598) only when asked for, as for IKEv2.
    /// </summary>
    private List<DataAttribute> Attributes()
    {
        var attributes = new List<DataAttribute>();
        foreach (var vip in _vips.All)
        {
            var type = vip.Address.AddressFamily == AddressFamily.InterNetwork ? CfgAttributeType.InternalIp4Address : CfgAttributeType.InternalIp6Address;
            attributes.Add(DataAttribute.OfVariable((ushort)type, vip.Address.GetAddressBytes()));
        }
        foreach (var name in _vips.All.Select(v => v.Pool).Distinct())
        {
            if (_pools.Find(name) is not { } pool) continue;
            foreach (var a in pool.Attributes)
            {
                if (a.Type == ConfigAttributeType.InternalDnsDomain && !_requested.Contains((ushort)a.Type)) continue;
                attributes.Add(DataAttribute.OfVariable((ushort)a.Type, a.Value));
            }
        }
        return attributes;
    }
}
