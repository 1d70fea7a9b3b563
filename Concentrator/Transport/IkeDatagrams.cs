using System.Net;

namespace Concentrator.Transport;

/// <summary>
/// Where every receive loop puts the IKE datagrams it reads (port 500, and port 4500 after <see cref="NattDemux"/>
/// stripped the marker): one sink for all of them, whichever component owns the socket. The transport hands over
/// bytes only; what is an acceptable IKE message is the sink's business. Called on the receive loops' threads, several
/// at once; <paramref name="datagram"/> is the loop's buffer, reused after the call returns.
/// </summary>
public interface IIkeDatagramSink
{
    void Deliver(ReadOnlySpan<byte> datagram, IPEndPoint remote, IPEndPoint local, bool viaNatT);
}

/// <summary>
/// A NAT-T port bound and read by another component (the Linux data plane's per-worker ESP-in-UDP sockets on 4500).
/// A <see cref="UdpIkeTransport"/> given one binds only the IKE port and sends its NAT-T datagrams through it; what
/// arrives on that port is the owner's to receive (its IKE goes to the <see cref="IIkeDatagramSink"/> directly).
/// </summary>
public interface INattPortSender
{
    int NattPort { get; }

    /// <summary>Sends one datagram (marker included) from the NAT-T port. Thread-safe.</summary>
    void SendFromNattPort(ReadOnlySpan<byte> datagram, IPEndPoint remote);

    /// <summary>
    /// The fwmark (SO_MARK) the owner's sockets carry so that routing rules keep the gateway's own IKE and ESP out of the
    /// tunnel's routes; every other socket sending IKE to peers carries it too. 0: none.
    /// </summary>
    uint SocketMark => 0;

    /// <summary>
    /// Whether the owner has a NAT-T socket of <paramref name="family"/>: a transport of that family hands it its NAT-T
    /// datagrams (the first such transport; the owner binds the first listen address of each family it serves).
    /// </summary>
    bool ServesNattPort(System.Net.Sockets.AddressFamily family) => family == System.Net.Sockets.AddressFamily.InterNetwork;
}

/// <summary>Sends IKE messages for the control plane.</summary>
public interface IIkeSender
{
    void Send(byte[] datagram, IPEndPoint remote, bool natT);

    /// <summary>A NAT-T keepalive (one 0xFF octet, RFC 3948 §2.3) from our NAT-T port.</summary>
    void SendNatKeepalive(IPEndPoint remote);

    /// <summary>The address and port our packets to <paramref name="remote"/> leave from.</summary>
    IPEndPoint LocalEndpointFor(IPEndPoint remote, bool natT);
}
