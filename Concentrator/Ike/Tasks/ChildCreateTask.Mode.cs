using System.Net;
using System.Net.Sockets;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Tasks;

/// <summary>
/// The IPsec mode of the new Child SA (RFC 7296 §1.3.1 USE_TRANSPORT_MODE, §3.10.1), as strongSwan's child_create:
/// <list type="bullet">
/// <item>The initiator asks for transport when its child says <c>mode: transport</c> (a rekey: when the SA it replaces
/// is in transport mode), in IKE_AUTH and CREATE_CHILD_SA alike.</item>
/// <item>The responder answers transport (with the notify) only when the request asked for it, the selected child says
/// transport and the narrowed selectors are host-to-host between the IKE endpoints; otherwise it answers tunnel
/// (strongSwan's check_mode falls back the same way).</item>
/// <item>An initiator that asked transport and got tunnel accepts tunnel (strongSwan does); a transport answer it did
/// not ask for, or one whose selectors are not host-to-host, fails the child.</item>
/// </list>
/// A NAT is refused, not handled: transport mode's inner TCP/UDP checksums cover the addresses a NAT rewrites (RFC 3948
/// §3.1.2 needs NAT-OA and an incremental fix-up; strongSwan substitutes the selectors). Host-to-host is checked against
/// the IKE endpoints as this end sees them, so a peer behind a NAT (its selectors carry its own address, not the one we
/// see) gets tunnel mode; when our own address is translated (BehindNat) we neither ask for nor accept transport. UDP
/// encapsulation without a real NAT (forced, or strongSwan's kernel-libipsec faking its NAT detection) is fine. Only
/// IPv4 endpoints: the data plane rebuilds IPv4 headers.
/// </summary>
public sealed partial class ChildCreateTask
{
    /// <summary>Initiator: whether this exchange asks for transport mode.</summary>
    private bool RequestTransport(IkeSa sa)
    {
        bool wanted = _replacing is { } old ? old.Mode == IpsecMode.Transport : _child!.Transport;
        return wanted && TransportPossible(sa);
    }

    /// <summary>Initiator: the mode the response chose, and whether we accept it (the narrowed selectors given).</summary>
    private bool AcceptMode(IkeSa sa, IkeMessage response, IReadOnlyList<TrafficSelector> tsi, IReadOnlyList<TrafficSelector> tsr)
    {
        _mode = response.GetNotify(NotifyType.UseTransportMode) is null ? IpsecMode.Tunnel : IpsecMode.Transport;
        if (_mode == IpsecMode.Tunnel) return true;
        return RequestTransport(sa) && IsHostToHost(tsi, sa.LocalEndpoint.Address) && IsHostToHost(tsr, sa.RemoteEndpoint.Address);
    }

    /// <summary>Responder: the mode of the answer, for the child and selectors <see cref="Negotiate"/> chose.</summary>
    private IpsecMode ChooseMode(IkeSa sa, IkeMessage request) =>
        request.GetNotify(NotifyType.UseTransportMode) is not null && _child!.Transport && TransportPossible(sa) &&
        IsHostToHost(_tsi, sa.RemoteEndpoint.Address) && IsHostToHost(_tsr, sa.LocalEndpoint.Address)
            ? IpsecMode.Transport
            : IpsecMode.Tunnel;

    private static bool TransportPossible(IkeSa sa) =>
        !sa.BehindNat && sa.LocalEndpoint.AddressFamily == AddressFamily.InterNetwork &&
        sa.RemoteEndpoint.AddressFamily == AddressFamily.InterNetwork;

    /// <summary>Every selector covers exactly <paramref name="host"/> (any protocol and ports: GRE, one TCP port...).</summary>
    internal static bool IsHostToHost(IReadOnlyList<TrafficSelector> selectors, IPAddress host)
    {
        if (selectors.Count == 0) return false;
        foreach (var ts in selectors)
        {
            if (!ts.StartAddress.Equals(host) || !ts.EndAddress.Equals(host)) return false;
        }
        return true;
    }
}
