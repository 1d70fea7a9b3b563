using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Concentrator.Ike.Wire;
using Concentrator.Telemetry;
using Concentrator.Ipsec;

namespace Concentrator.Transport;

/// <summary>One IKE datagram as received, marker stripped. <c>Local</c> is the address it was sent to.</summary>
public sealed record IkeInbound(byte[] Datagram, IPEndPoint Remote, IPEndPoint Local, bool ViaNatT);

/// <summary>
/// A data plane that owns the NAT-T port itself (its per-worker ESP-in-UDP sockets on 4500): IKE
/// messages arriving there with the non-ESP marker are handed to the receiver attached here, and IKE
/// on 4500 is sent through it.
/// </summary>
public interface INattChannel
{
    int NattPort { get; }

    void AttachIkeReceiver(Action<IkeInbound> receiver);

    /// <summary>Sends one datagram (marker included) from the NAT-T port. Thread-safe.</summary>
    void SendFromNattPort(ReadOnlySpan<byte> datagram, IPEndPoint remote);
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

/// <summary>
/// UDP sockets on the IKE port (500) and the NAT-T port (4500) for one listen address.
/// Receive loops: one per socket, sequential. Port 500 carries only IKE; on port 4500
/// <see cref="NattDemux"/> tells IKE from keepalives and ESP. ESP reaches this socket only when no data plane owns
/// the NAT-T port: it is counted (esp_without_data_plane) and dropped.
/// </summary>
public sealed class UdpIkeTransport : IIkeSender, IDisposable
{
    /// <summary>Largest datagram we accept; IKE messages beyond this are dropped (tunable).</summary>
    public const int MaxDatagram = 65535;

    private readonly Socket _ike;
    private readonly Socket? _natt;
    private readonly INattChannel? _nattChannel;
    private readonly Action<IkeInbound> _onIke;
    private readonly ConcentratorMetrics _metrics;
    private readonly int _maxPacket;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = new();

    /// <param name="nattChannel">When given, port 4500 belongs to the data plane and this transport binds only the IKE port.</param>
    /// <param name="maxPacket">charon.max_packet: larger IKE messages (marker excluded) are dropped and counted.</param>
    public UdpIkeTransport(IPAddress address, int ikePort, int nattPort, Action<IkeInbound> onIke,
        ConcentratorMetrics? metrics = null, INattChannel? nattChannel = null, int maxPacket = MaxDatagram)
    {
        _metrics = metrics ?? ConcentratorMetrics.Detached;
        _maxPacket = maxPacket;
        _onIke = onIke;
        _nattChannel = nattChannel;
        _ike = Bind(address, ikePort);
        Address = address;
        IkePort = ((IPEndPoint)_ike.LocalEndPoint!).Port;
        if (nattChannel is null)
        {
            _natt = Bind(address, nattPort);
            NattPort = ((IPEndPoint)_natt.LocalEndPoint!).Port;
        }
        else
        {
            nattChannel.AttachIkeReceiver(FromNattChannel);
            NattPort = nattChannel.NattPort;
        }
    }

    public IPAddress Address { get; }
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
                if (_nattChannel is not null) _nattChannel.SendFromNattPort(framed, remote);
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
            if (_nattChannel is not null) _nattChannel.SendFromNattPort(keepalive, remote);
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
        return LocalEndpointFor(Address, port, remote);
    }

    /// <summary>
    /// The endpoint our packets to <paramref name="remote"/> leave from for a socket bound to
    /// <paramref name="bound"/>:<paramref name="port"/>; for the wildcard, the routing table picks the source address.
    /// </summary>
    public static IPEndPoint LocalEndpointFor(IPAddress bound, int port, IPEndPoint remote)
    {
        if (!bound.Equals(IPAddress.Any) && !bound.Equals(IPAddress.IPv6Any)) return new IPEndPoint(bound, port);
        using var probe = new Socket(remote.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        probe.Connect(remote);
        return new IPEndPoint(((IPEndPoint)probe.LocalEndPoint!).Address, port);
    }

    private static Socket Bind(IPAddress address, int port)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
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
        socket.Bind(new IPEndPoint(address, port));
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

        if (data.Length < ProtocolConstants.IkeHeaderLength)
        {
            _metrics.CountMalformed(ParseStatus.Truncated);
            return;
        }

        if (data.Length > _maxPacket)
        {
            _metrics.CountLimitDrop(ResourceLimit.MaxPacket, _maxPacket);
            return;
        }

        _onIke(new IkeInbound(data.ToArray(), remote, local, natt));
    }

    /// <summary>IKE from the data plane's NAT-T sockets: the same size bound as our own sockets.</summary>
    private void FromNattChannel(IkeInbound inbound)
    {
        if (inbound.Datagram.Length > _maxPacket)
        {
            _metrics.CountLimitDrop(ResourceLimit.MaxPacket, _maxPacket);
            return;
        }

        _onIke(inbound);
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
