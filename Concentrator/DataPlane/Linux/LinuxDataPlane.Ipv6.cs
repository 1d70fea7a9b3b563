// IPv6 as the outer protocol: a second set of sockets beside the IPv4 ones, opened when the listen addresses include
// an IPv6 one. Per worker w an AF_INET6 UDP socket on the NAT-T port (its own reuseport group, with the same SPI
// steering), and one AF_INET6 raw ESP socket. The IPv6 sockets are read by the threads that read the IPv4 ones:
// esp-in-w polls its two UDP sockets, esp-raw-in its two raw sockets. So an SA's inbound state keeps exactly one
// writer whichever family its ESP arrives over (a MOBIKE move between families, a forged packet over the other
// family), the invariant of Receive.cs; an SA's outbound packets go to the socket of its peer's family (Send.cs).
using System.Net;
using System.Net.Sockets;
using Concentrator.Telemetry;

namespace Concentrator.DataPlane.Linux;

public sealed partial class LinuxDataPlane
{
    private UdpBatchSocket[]? _udp6; // set by the constructor only (OpenIpv6), null without an IPv6 listen address
    private RawEspSocket? _raw6;

    /// <summary>Opens the IPv6 sockets for <paramref name="options"/>' IPv6 listen address, on the IPv4 group's port.</summary>
    private void OpenIpv6(LinuxDataPlaneOptions options)
    {
        if (options.ListenAddress6 is not { } listen6) return;
        if (listen6.AddressFamily != AddressFamily.InterNetworkV6)
            throw new ArgumentException($"listen address {listen6} is not IPv6", nameof(options));
        // The same port number as IPv4 (an ephemeral IPv4 port is reused: tests bind port 0).
        _udp6 = UdpBatchSocket.OpenGroup(listen6, _udp[0].LocalPort, _workers, steerBySpi: true);
        _raw6 = options.PlainEsp ? new RawEspSocket(listen6) : null;
    }

    private void DisposeIpv6()
    {
        foreach (var s in _udp6 ?? []) s.Dispose();
        _raw6?.Dispose();
    }

    /// <summary>The IPv6 sockets' descriptors, for the fwmark the IPv4 ones carry too.</summary>
    private IEnumerable<int> Ipv6Handles()
    {
        foreach (var s in _udp6 ?? []) yield return s.Handle;
        if (_raw6 is not null) yield return _raw6.Handle;
    }

    /// <summary>Whether the NAT-T port of <paramref name="family"/> is this plane's (its IKE arrives here, never at a transport).</summary>
    public bool ServesNattPort(AddressFamily family) =>
        family == AddressFamily.InterNetwork || (family == AddressFamily.InterNetworkV6 && _udp6 is not null);

    private void SendFromNattPort6(ReadOnlySpan<byte> datagram, IPEndPoint remote)
    {
        if (_udp6 is null) throw new SocketException((int)SocketError.AddressFamilyNotSupported);
        int sent = _udp6[0].SendTo6(datagram, PacketBatch.ToUInt128(remote.Address), (ushort)remote.Port);
        if (sent < 0) throw new SocketException(-sent);
    }

    /// <summary>esp-in-w with IPv6: both UDP sockets of worker w, one batch each, the same stages as <see cref="InboundLoop"/>.</summary>
    private void InboundLoopBothFamilies(int worker)
    {
        using var batch = NewUdpBatch(worker);
        using var batch6 = NewUdpBatch(worker);
        using var tunOut = NewUdpCoalescer();
        var sink = new TunQueueSink(_tun, worker);
        var counters = new WorkerBatchCounters();
        var socket = _udp[worker];
        var socket6 = _udp6![worker];
        while (!_stopping)
        {
            int n = socket.ReceiveBatch(batch, 0);
            int n6 = socket6.ReceiveBatch(batch6, 0);
            if (n <= 0 && n6 <= 0)
            {
                BatchIo.WaitForEither(socket.Handle, socket6.Handle, 100);
                continue;
            }
            if (n > 0) ProcessUdpBatch(worker, batch, n, tunOut, ref sink, ref counters);
            if (n6 > 0) ProcessUdpBatch(worker, batch6, n6, tunOut, ref sink, ref counters);
            EndBatch(worker, worker, ref counters);
        }
    }

    /// <summary>esp-raw-in with IPv6: both raw sockets (the IPv6 one delivers ESP without an IP header).</summary>
    private void RawInboundLoopBothFamilies()
    {
        using var batch = new PacketBatch(PacketBatch.DefaultCapacity, PacketBatch.DefaultBufferSize, 0);
        using var batch6 = new PacketBatch(PacketBatch.DefaultCapacity, PacketBatch.DefaultBufferSize, 0);
        using var tunOut = new TcpCoalescer(batch.Capacity, _gro);
        var sink = new TunQueueSink(_tun, 0);
        var counters = new WorkerBatchCounters();
        var raw = _raw!;
        var raw6 = _raw6!;
        while (!_stopping)
        {
            int n = raw.ReceiveBatch(batch, 0);
            int n6 = raw6.ReceiveBatch(batch6, 0);
            if (n <= 0 && n6 <= 0)
            {
                BatchIo.WaitForEither(raw.Handle, raw6.Handle, 100);
                continue;
            }
            if (n > 0) ProcessRawBatch(batch, n, tunOut, ref sink, ref counters);
            if (n6 > 0) ProcessRawBatch(batch6, n6, tunOut, ref sink, ref counters);
            EndBatch(_workers, 2 * _workers, ref counters);
        }
    }
}
