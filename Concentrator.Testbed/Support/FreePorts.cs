using System.Net;
using System.Net.Sockets;

namespace Concentrator.Testbed.Support;

/// <summary>Loopback ports free at the time of asking (the caller binds them a moment later; loopback only).</summary>
public static class FreePorts
{
    public static int Tcp()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public static int Udp()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }
}
