using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Concentrator.Ipsec;
using Concentrator.Telemetry;

namespace Concentrator.Transport;

/// <summary>
/// UDP sockets on the IKE port (500) and the NAT-T port (4500) for one listen address. Receive loops: one per
/// socket, sequential, each handing its IKE datagrams to the <see cref="IIkeDatagramSink"/>. Port 500 carries only IKE;
/// on port 4500 <see cref="NattDemux"/> tells IKE from keepalives and ESP. ESP reaches this socket only when no data
/// plane owns the NAT-T port: it is counted (esp_without_data_plane) and dropped. Failed sends are counted too (send_failed).
/// </summary>
public sealed class UdpIkeTransport : IIkeSender, IDisposable
{
    /// <summary>The receive buffer: the largest UDP payload. Smaller bounds on IKE (charon.max_packet) are the sink's.</summary>
    public const int MaxDatagram = 65535;

    private readonly Socket _ike;
    private readonly Socket? _natt;
    private readonly INattPortSender? _nattPort;
    private readonly IIkeDatagramSink _sink;
    private readonly ConcentratorMetrics _metrics;
    private readonly uint _mark;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = new();

    /// <param name="sink">Where the IKE datagrams of both sockets go.</param>
    /// <param name="metrics">Counts what the transport itself drops: ESP it has no data plane for, failed sends.</param>
    /// <param name="nattPortOwner">When given, port 4500 belongs to it (the data plane) and this transport binds only the IKE port.</param>
    /// <param name="socketMark">SO_MARK of the sockets (<see cref="INattPortSender.SocketMark"/>; needs CAP_NET_ADMIN); 0: none.</param>
    public UdpIkeTransport(IPAddress address, int ikePort, int nattPort, IIkeDatagramSink sink,
        ConcentratorMetrics? metrics = null, INattPortSender? nattPortOwner = null, uint socketMark = 0)
    {
        _metrics = metrics ?? ConcentratorMetrics.Detached;
        _sink = sink;
        _nattPort = nattPortOwner;
        _mark = socketMark;
        _ike = Bind(address, ikePort, socketMark);
        Address = address;
        IkePort = ((IPEndPoint)_ike.LocalEndPoint!).Port;
        if (nattPortOwner is null)
        {
            _natt = Bind(address, nattPort, socketMark);
            NattPort = ((IPEndPoint)_natt.LocalEndPoint!).Port;
        }
        else
        {
            NattPort = nattPortOwner.NattPort;
        }
    }

    public IPAddress Address { get; }

    /// <summary>Whether port 4500 of this address is another component's (the data plane's).</summary>
    public bool NattPortShared => _nattPort is not null;
    public int IkePort { get; }
    public int NattPort { get; }
    public IPEndPoint IkeEndpoint => new(Address, IkePort);

    public void Start()
    {
        _loops.Add(Task.Run(() => ReceiveLoop(_ike, natt: false)));
        if (_natt is not null) _loops.Add(Task.Run(() => ReceiveLoop(_natt, natt: true)));
    }

    public void Send(byte[] datagram, IPEndPoint remote, bool natT)
    {
        try
        {
            if (!natT)
            {
                _ike.SendTo(datagram, SocketFlags.None, remote);
                return;
            }

            byte[] buffer = ArrayPool<byte>.Shared.Rent(datagram.Length + UdpEncapsulation.NonEspMarkerLength);
            try
            {
                buffer.AsSpan(0, UdpEncapsulation.NonEspMarkerLength).Clear();
                datagram.CopyTo(buffer, UdpEncapsulation.NonEspMarkerLength);
                var framed = buffer.AsSpan(0, datagram.Length + UdpEncapsulation.NonEspMarkerLength);
                if (_nattPort is not null) _nattPort.SendFromNattPort(framed, remote);
                else _natt!.SendTo(framed, SocketFlags.None, remote);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        catch (SocketException)
        {
            // Unreachable peers are the retransmission logic's business, not a crash.
            _metrics.CountDrop(IkeDropReason.SendFailed);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public void SendNatKeepalive(IPEndPoint remote)
    {
        ReadOnlySpan<byte> keepalive = [0xFF];
        try
        {
            if (_nattPort is not null) _nattPort.SendFromNattPort(keepalive, remote);
            else _natt!.SendTo(keepalive, SocketFlags.None, remote);
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public IPEndPoint LocalEndpointFor(IPEndPoint remote, bool natT)
    {
        int port = natT ? NattPort : IkePort;
        return LocalEndpointFor(Address, port, remote, _mark);
    }

    /// <summary>
    /// The endpoint our packets to <paramref name="remote"/> leave from for a socket bound to
    /// <paramref name="bound"/>:<paramref name="port"/>; for the wildcard, the routing table picks the source address
    /// (with the sockets' <paramref name="mark"/>, so the route is the one their packets take, not a tunnel's).
    /// </summary>
    public static IPEndPoint LocalEndpointFor(IPAddress bound, int port, IPEndPoint remote, uint mark = 0)
    {
        if (!bound.Equals(IPAddress.Any) && !bound.Equals(IPAddress.IPv6Any)) return new IPEndPoint(bound, port);
        using var probe = new Socket(remote.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        SetMark(probe, mark);
        probe.Connect(remote);
        return new IPEndPoint(((IPEndPoint)probe.LocalEndPoint!).Address, port);
    }

    /// <summary>SO_MARK (SOL_SOCKET 36, Linux): the routing rules of the data plane skip packets carrying it.</summary>
    private static void SetMark(Socket socket, uint mark)
    {
        if (mark != 0) socket.SetRawSocketOption(1, 36, BitConverter.GetBytes(mark));
    }

    private static Socket Bind(IPAddress address, int port, uint mark)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        SetMark(socket, mark);
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            socket.DualMode = false;
            socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.PacketInformation, true);
        }
        else
        {
            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.PacketInformation, true);
        }

        socket.ReceiveBufferSize = 4 * 1024 * 1024;
        socket.SendBufferSize = 4 * 1024 * 1024;
        try
        {
            socket.Bind(new IPEndPoint(address, port));
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new PortBindException(new IPEndPoint(address, port), e);
        }
        return socket;
    }

    private async Task ReceiveLoop(Socket socket, bool natt)
    {
        var buffer = new byte[MaxDatagram];
        EndPoint any = new IPEndPoint(socket.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        int localPort = ((IPEndPoint)socket.LocalEndPoint!).Port;
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveMessageFromResult result;
            try
            {
                result = await socket.ReceiveMessageFromAsync(buffer, SocketFlags.None, any, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                // ICMP errors surface as ECONNREFUSED on Linux UDP sockets; keep serving.
                continue;
            }

            var remote = (IPEndPoint)result.RemoteEndPoint;
            var local = new IPEndPoint(result.PacketInformation.Address ?? Address, localPort);
            Dispatch(buffer.AsSpan(0, result.ReceivedBytes), remote, local, natt);
        }
    }

    private void Dispatch(ReadOnlySpan<byte> data, IPEndPoint remote, IPEndPoint local, bool natt)
    {
        if (natt)
        {
            switch (NattDemux.Classify(data, out var ike))
            {
                case NattDatagram.Keepalive:
                    return;
                case NattDatagram.Esp:
                    _metrics.CountDrop(IkeDropReason.EspWithoutDataPlane);
                    return;
            }
            data = ike;
        }

        _sink.Deliver(data, remote, local, natt);
    }

    public void Dispose()
    {
        _stop.Cancel();
        _ike.Dispose();
        _natt?.Dispose();
        try
        {
            Task.WaitAll(_loops.ToArray(), TimeSpan.FromSeconds(2));
        }
        catch (AggregateException)
        {
        }
    }
}
