using System.Net;
using System.Net.Sockets;

namespace Concentrator.Transport;

/// <summary>
/// A UDP socket of the node could not be bound: the endpoint and the socket error, so that the start-up error names the
/// address and port (a bare <see cref="SocketException"/> names neither). Thrown by every bind of the IKE and NAT-T
/// ports (<see cref="UdpIkeTransport"/>, the Linux plane's batch sockets).
/// </summary>
public sealed class PortBindException(IPEndPoint endpoint, SocketException inner)
    : IOException($"cannot bind UDP {Format(endpoint)}: {Reason(inner.SocketErrorCode)}", inner)
{
    public IPEndPoint Endpoint { get; } = endpoint;
    public SocketError Error { get; } = inner.SocketErrorCode;

    /// <summary>Binding a port below <c>net.ipv4.ip_unprivileged_port_start</c> (1024 by default) without the capability.</summary>
    public bool NeedsPrivilege => Error == SocketError.AccessDenied;

    private static string Format(IPEndPoint e) => e.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{e.Address}]:{e.Port}" : $"{e.Address}:{e.Port}";

    /// <summary>The operator's words for a bind's socket error (also Kestrel's, whose own message names no remedy).</summary>
    public static string Reason(SocketError error) => error switch
    {
        SocketError.AddressAlreadyInUse => "address already in use (another process holds the port)",
        SocketError.AccessDenied => "permission denied (a port below 1024 needs CAP_NET_BIND_SERVICE, or root)",
        SocketError.AddressNotAvailable => "address not available (no interface of this host has it)",
        _ => new SocketException((int)error).Message,
    };
}
