// Routes of transport-mode SAs (RFC 7296 §1.3.1). A transport-mode SA protects packets to the peer's own address, so
// that address routes into the TUN device (a host route in the tunnel table, with our IKE address as the source of
// locally sent packets) instead of being thrown back to main as a tunnel-mode SA's peer is. The gateway's own IKE and
// ESP datagrams to the peer do not loop into it: every socket of the gateway carries the rules' fwmark (SO_MARK), and all
// three rules in front of the tunnel table skip marked packets (RouteManager), so they are routed by main. Only this
// process's sockets are marked: anything else sent to the peer's address on this host is protected, as in the kernel's
// transport mode. A tunnel-mode SA to the same peer (its throw route) and a transport-mode one exclude each other.
using Concentrator.DataPlane.Esp;
using Concentrator.Telemetry;

namespace Concentrator.DataPlane.Linux;

public sealed partial class LinuxDataPlane
{
    private void AddTransportRoute(EspSa sa)
    {
        if (_routes is null) return;
        var source = sa.LocalEndpoint.Address;
        foreach (var prefix in RoutePrefixes(sa.RemoteTs))
        {
            var result = _routes.Add(prefix, source);
            if (result.Ok) Log.TransportRouteInstalled(_log, prefix, _tun.Name, source.ToString(), $"0x{_routes.Mark:x}");
            else Log.TransportRouteFailed(_log, prefix, _tun.Name, source.ToString(), result.Error ?? "");
        }
    }

    private void RemoveTransportRoute(EspSa sa)
    {
        if (_routes is null) return;
        foreach (var prefix in RoutePrefixes(sa.RemoteTs))
        {
            var result = _routes.Remove(prefix);
            if (!result.Ok && result.Error is { } error && !error.EndsWith("not added by this manager", StringComparison.Ordinal))
                Log.RouteRemoveFailed(_log, error);
        }
    }
}
