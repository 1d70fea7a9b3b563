using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Concentrator.Testbed.Support;

/// <summary>
/// A NAT on loopback for in-process tests: the host behind it sends to <see cref="Endpoint"/>; each of its source
/// endpoints gets an outside socket of its own (the mapping), from which its datagrams go on to the server: NAT-T ones
/// (the non-ESP marker, or a keepalive) to the server's NAT-T port, IKE to its IKE port. Replies to a mapping go back to
/// its source from <see cref="Endpoint"/>. <see cref="Rebind"/> forgets every mapping, as a rebooted NAT or an expired
/// mapping does: the next datagram of each source leaves from a new outside port. Loopback only; no data is changed.
/// </summary>
public sealed class UdpNat : IAsyncDisposable
{
    private readonly Socket _front;
    private readonly IPEndPoint _serverIke;
    private readonly IPEndPoint _serverNatt;
    private readonly ConcurrentDictionary<IPEndPoint, Socket> _mappings = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private UdpNat(IPEndPoint serverIke, IPEndPoint serverNatt)
    {
        _serverIke = serverIke;
        _serverNatt = serverNatt;
        _front = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        _front.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _loop = Task.Run(FrontLoop);
    }

    /// <summary>Where the host behind the NAT sends (as if it were the server).</summary>
    public IPEndPoint Endpoint => (IPEndPoint)_front.LocalEndPoint!;

    public static UdpNat Start(IPEndPoint serverIke, IPEndPoint serverNatt) => new(serverIke, serverNatt);

    /// <summary>The outside endpoints the server currently sees, one per inside source.</summary>
    public IReadOnlyList<IPEndPoint> Mappings => _mappings.Values.Select(s => (IPEndPoint)s.LocalEndPoint!).ToList();

    /// <summary>The outside endpoint of <paramref name="inside"/>'s current mapping; null before its first datagram.</summary>
    public IPEndPoint? MappingOf(IPEndPoint inside) => _mappings.TryGetValue(inside, out var s) ? (IPEndPoint)s.LocalEndPoint! : null;

    /// <summary>Forgets every mapping (their outside ports close).</summary>
    public void Rebind()
    {
        foreach (var key in _mappings.Keys.ToList())
        {
            if (_mappings.TryRemove(key, out var outside)) outside.Dispose();
        }
    }

    private async Task FrontLoop()
    {
        var buffer = new byte[65535];
        EndPoint any = new IPEndPoint(IPAddress.Any, 0);
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult r;
            try
            {
                r = await _front.ReceiveFromAsync(buffer, SocketFlags.None, any, _stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (_stop.IsCancellationRequested) return;
                continue;
            }
            var source = (IPEndPoint)r.RemoteEndPoint;
            var data = buffer.AsSpan(0, r.ReceivedBytes);
            bool natT = data.Length == 1 && data[0] == 0xFF || data.Length >= 4 && data[..4].IndexOfAnyExcept((byte)0) < 0;
            var outside = _mappings.GetOrAdd(source, Map);
            try
            {
                outside.SendTo(data, SocketFlags.None, natT ? _serverNatt : _serverIke);
            }
            catch (Exception e) when (e is ObjectDisposedException or SocketException)
            {
                // Rebound meanwhile: the datagram is lost, as it would be in a NAT that just rebooted.
            }
        }
    }

    private Socket Map(IPEndPoint inside)
    {
        var outside = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        outside.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _ = Task.Run(() => BackLoop(outside, inside));
        return outside;
    }

    private async Task BackLoop(Socket outside, IPEndPoint inside)
    {
        var buffer = new byte[65535];
        EndPoint any = new IPEndPoint(IPAddress.Any, 0);
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                var r = await outside.ReceiveFromAsync(buffer, SocketFlags.None, any, _stop.Token).ConfigureAwait(false);
                _front.SendTo(buffer.AsSpan(0, r.ReceivedBytes), SocketFlags.None, inside);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                // ICMP errors reported on the socket: keep relaying.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        Rebind();
        _front.Dispose();
        try { await _loop.ConfigureAwait(false); } catch (OperationCanceledException) { }
        _stop.Dispose();
    }
}
