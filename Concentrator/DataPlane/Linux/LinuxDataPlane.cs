// The route-based ESP data plane on Linux (after wireguard-go): a multi-queue TUN device, one UDP 4500
// socket per worker (ESP-in-UDP, RFC 3948), the raw IP protocol 50 socket (plain ESP) and routes via the
// device for every remote traffic selector. The NAT-T port is the plane's: IKE arriving there goes to the
// IIkeDatagramSink given to Start, and the IKE transport sends on it through INattPortSender.
// This file: lifecycle, wiring and the IDataPlane control API.
// The packet threads are in Receive.cs (TUN <- peers) and Send.cs (TUN -> peers), each with its stages and
// what each thread owns; trap policies ("interesting traffic") in TrapPolicies.cs.
// Ownership: each packet thread owns its PacketBatches and counters. Control-plane calls (AddSa, DeleteSa,
// ActivateOutbound, ...) come from actors and only touch the SaTable, the selector tables and routes, all
// safe beside the packet threads (lock-free reads, see SaTable and SelectorTable).
using System.Net;
using Concentrator.DataPlane.Esp;
using Concentrator.Ipsec;
using Concentrator.Telemetry;
using Concentrator.Transport;

namespace Concentrator.DataPlane.Linux;

public sealed partial class LinuxDataPlane : IDataPlane, INattPortSender, IDataPlaneMetricsSource, IUnknownSpiSource, IPeerMovedSource,
    IDisposable
{
    private readonly SaTable _sas = new();
    private readonly OutboundTables<EspSa> _tables = new();
    private readonly SelectorTable<EspSa> _outbound; // interface 0's table: _tables.Shared
    private readonly TrapPolicies _traps;
    private readonly RouteManager? _routes;
    private IReadOnlyList<TrafficSelector> _poolRoutes;
    private readonly TunDevice _tun;
    private readonly UdpBatchSocket[] _udp;
    private readonly RawEspSocket? _raw;
    private readonly List<Thread> _threads = new();
    private readonly ILogger _log;
    private readonly int _workers;
    private readonly bool _gro;
    private readonly int _ikeSlot;
    private readonly int _mtu;
    private volatile bool _stopping;
    private IIkeDatagramSink? _ike; // set by Start, before the threads that read it

    // Bytes allocated by each packet thread (GC.GetAllocatedBytesForCurrentThread), sampled once per batch by the
    // thread itself: proof that the packet path does not allocate. Slots: esp-in-w at w, esp-out-w at W + w,
    // esp-raw-in at 2W, ah-raw-in at 2W + 1 (W <= 31).
    private readonly long[] _allocated = new long[64];

    private volatile DataPlaneMetrics? _metrics;

    public LinuxDataPlane(LinuxDataPlaneOptions options, ILogger log)
    {
        _log = log;
        _outbound = _tables.Shared;
        _workers = Math.Min(options.Workers > 0 ? options.Workers : Environment.ProcessorCount, 31);
        _gro = options.Gro;
        _mtu = options.Mtu;
        _ikeSlot = Math.Max(PacketBatch.DefaultBufferSize, options.MaxIkePacket + UdpEncapsulation.NonEspMarkerLength);
        var listen = options.ListenAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? options.ListenAddress : IPAddress.Any;

        _tso = options.Tso;
        _tun = TunDevice.Create(options.Device, queues: _workers, multiQueue: _workers > 1, mtu: options.Mtu, up: true, tso: _tso);
        try
        {
            _udp = UdpBatchSocket.OpenGroup(listen, options.NattPort, _workers, steerBySpi: true);
            _raw = options.PlainEsp ? new RawEspSocket(listen) : null;
            _rawAh = options.PlainEsp ? new RawAhSocket(listen) : null;
            OpenIpv6(options);
            _udpGso = options.UdpGso && UdpGsoSender.Supported(_udp[0].Handle);
            _udpGro = options.UdpGro && EnableUdpGro();
            if (options.InstallRoutes)
            {
                _routes = new RouteManager(_tun.Name, options.RoutingTable, options.RoutingTablePriority);
                // The rules skip packets with this mark: ESP the plane sends to a peer never loops back into the tunnel.
                foreach (var s in _udp) MarkOrThrow(s.Handle, _routes.Mark);
                if (_raw is not null) MarkOrThrow(_raw.Handle, _routes.Mark);
                if (_rawAh is not null) MarkOrThrow(_rawAh.Handle, _routes.Mark);
                foreach (int fd in Ipv6Handles()) MarkOrThrow(fd, _routes.Mark);
                foreach (var failure in _routes.InstallRules()) Log.RoutingRuleFailed(_log, _routes.Table, failure.Error ?? "");
                Log.RoutingTable(_log, _routes.Table, _routes.DescribeRules(), $"0x{_routes.Mark:x}");
            }
        }
        catch
        {
            _routes?.Dispose();
            _tun.Dispose();
            foreach (var s in _udp ?? []) s.Dispose();
            _raw?.Dispose();
            _rawAh?.Dispose();
            DisposeIpv6();
            throw;
        }

        _traps = new TrapPolicies(options.Traps, options.AcquireQueue);
        _poolRoutes = options.PoolRoutes;
        EnsureInterfaces(options.InterfaceIds);
    }

    /// <summary>The fwmark of the plane's sockets when it installs routes (the IKE sockets must carry it too); 0 otherwise.</summary>
    public uint SocketMark => _routes?.Mark ?? 0;

    private static void MarkOrThrow(int fd, uint mark)
    {
        int errno = LibC.SetMark(fd, mark);
        if (errno != 0) throw new InvalidOperationException($"SO_MARK {mark:x} on the ESP sockets: {LibC.Describe(errno)}");
    }

    public string Device => _tun.Name;
    public int Workers => _workers;
    public int NattPort => _udp[0].LocalPort;
    public int InstalledCount => _sas.InstalledCount;

    /// <summary>Raised (rate-limited) when traffic matches a trap policy without an SA: (connection, child).</summary>
    public void AttachAcquireHandler(Action<string, string> handler) => _traps.AttachAcquireHandler(handler);

    public void SendFromNattPort(ReadOnlySpan<byte> datagram, IPEndPoint remote)
    {
        var address = remote.Address.IsIPv4MappedToIPv6 ? remote.Address.MapToIPv4() : remote.Address;
        if (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6) SendFromNattPort6(datagram, remote);
        else _udp[0].SendTo(datagram, PacketBatch.ToUInt32(address), (ushort)remote.Port);
    }

    /// <summary>Starts the packet threads; IKE arriving on the NAT-T sockets goes to <paramref name="ike"/>.</summary>
    public void Start(IIkeDatagramSink ike)
    {
        _ike = ike ?? throw new ArgumentNullException(nameof(ike));
        for (int w = 0; w < _workers; w++)
        {
            int worker = w;
            StartThread($"esp-in-{w}", () =>
            {
                if (_udp6 is null) InboundLoop(worker);
                else InboundLoopBothFamilies(worker);
            });
            StartThread($"esp-out-{w}", () => OutboundLoop(worker));
        }

        if (_raw is not null) StartThread("esp-raw-in", _raw6 is null ? RawInboundLoop : RawInboundLoopBothFamilies);
        if (_rawAh is not null)
        {
            StartThread("ah-raw-in", AhInboundLoop);
            Log.AhSocketOpened(_log);
        }
        StartInterfaceReaders();
        Log.DataPlaneStarted(_log, _tun.Name, _workers, NattPort, _raw is not null);
        if (_udp6 is not null) Log.DataPlaneIpv6(_log, _udp6[0].LocalIPAddress.ToString(), _udp6[0].LocalPort, _udp6.Length, _raw6 is not null);
        Log.EspCryptoSelected(_log, EspCrypto.Description);
        Log.DataPlaneReceive(_log, _udpGro, _raw is null ? 0 : 1);
        foreach (var trap in _traps.All) AddRoutes(trap.RemoteTs, peer: null);
        AddRoutes(_poolRoutes, peer: null);
    }

    /// <summary>
    /// A reload's trap policies and pool routes (control plane, one caller at a time): traps that went lose their routes,
    /// new ones get theirs, as do pools; a route a live Child SA also needs stays (the route manager counts its users).
    /// </summary>
    public void Reconfigure(IReadOnlyList<TrapSpec> traps, IReadOnlyList<TrafficSelector> poolRoutes)
    {
        var (removed, added) = _traps.Replace(traps);
        bool started = _ike is not null;
        if (!started)
        {
            _poolRoutes = poolRoutes;
            return;
        }
        foreach (var trap in removed) RemoveRoutes(trap.RemoteTs, peer: null);
        foreach (var trap in added) AddRoutes(trap.RemoteTs, peer: null);
        var gone = _poolRoutes.Where(r => !poolRoutes.Contains(r)).ToList();
        var fresh = poolRoutes.Where(r => !_poolRoutes.Contains(r)).ToList();
        _poolRoutes = poolRoutes;
        RemoveRoutes(gone, peer: null);
        AddRoutes(fresh, peer: null);
    }

    private void StartThread(string name, ThreadStart body)
    {
        var t = new Thread(body) { IsBackground = true, Name = name };
        _threads.Add(t);
        t.Start();
    }

    // ---- IDataPlane (control plane) ----

    public uint AllocateSpi() => _sas.AllocateSpi();

    public void ReleaseSpi(uint spi) => _sas.ReleaseSpi(spi);

    public void AddSa(ChildSaInstall install)
    {
        if (install.InterfaceIdIn != 0) EnsureInterface(install.InterfaceIdIn);
        if (install.InterfaceIdOut != 0) EnsureInterface(install.InterfaceIdOut);
        var sa = _sas.Add(install);
        if (sa.Protocol == IpsecProtocol.Ah) LogAhSa(sa);
        // A route-based SA gets no route at all: routing to ipsec<N> belongs to the operator.
        if (!RouteBased(sa) && sa.Mode == IpsecMode.Transport) AddTransportRoute(sa);
        else if (!RouteBased(sa)) AddRoutes(sa.RemoteTs, sa.RemoteEndpoint.Address);
        if (install.OutboundActive) ActivateOutbound(install.InboundSpi);
    }

    public bool ActivateOutbound(uint inboundSpi)
    {
        if (!_sas.TryGet(inboundSpi, out var sa)) return false;
        // The newest SA for the same selectors wins the outbound lookup of its interface (make-before-break on rekey).
        var table = OutboundTable(sa.InterfaceIdOut);
        table.Remove(sa);
        table.Add(sa.LocalTs, sa.RemoteTs, sa);
        if (sa.InterfaceIdOut == 0) _traps.Flush(_outbound, _udp[0], _raw, _udp6?[0], _raw6, _rawAh);
        return true;
    }

    public bool UpdateRemote(uint inboundSpi, IPEndPoint remote)
    {
        if (!_sas.TryGet(inboundSpi, out var sa)) return false;
        var before = sa.RemoteEndpoint.Address;
        if (!_sas.UpdateRemote(inboundSpi, remote)) return false;
        if (_routes is not null && sa.Mode == IpsecMode.Tunnel && !RouteBased(sa) &&
            !RtNetlink.Bytes(before).AsSpan().SequenceEqual(RtNetlink.Bytes(remote.Address)))
        {
            // The peer's new outer address leaves the tunnel before its old one may enter it again.
            Exclude(remote.Address);
            Include(before);
        }
        return true;
    }

    public bool DeleteSa(uint inboundSpi)
    {
        if (!_sas.TryGet(inboundSpi, out var sa)) return false;
        RemoveOutbound(sa);
        if (!RouteBased(sa) && sa.Mode == IpsecMode.Transport) RemoveTransportRoute(sa);
        else if (!RouteBased(sa)) RemoveRoutes(sa.RemoteTs, sa.RemoteEndpoint.Address);
        return _sas.Delete(inboundSpi);
    }

    public bool TryGetCounters(uint inboundSpi, out SaCounters counters) => _sas.TryGetCounters(inboundSpi, out counters);

    // From the control plane, beside the inbound worker: an inbound count racing this flush may be lost or counted twice,
    // a packet or so of an SA about to be deleted, against a batch (32 packets per thread) missing without it.
    public bool FlushCounters(uint inboundSpi) => _sas.FlushCounters(inboundSpi);

    public SaRekeyHint GetRekeyHint(uint inboundSpi) => _sas.GetRekeyHint(inboundSpi);

    public bool TryGetSequenceMarks(uint inboundSpi, out ulong lastOutbound, out ulong inboundTop) =>
        _sas.TryGetSequenceMarks(inboundSpi, out lastOutbound, out inboundTop);

    public bool SetOutboundCeiling(uint inboundSpi, ulong ceiling) => _sas.SetOutboundCeiling(inboundSpi, ceiling);

    public void OnUnknownSpi(UnknownSpiHandler report) => _sas.OnUnknownSpi(report);

    public void OnPeerMoved(Action<uint, IPEndPoint> report) => _sas.OnPeerMoved(report);

    // ---- Metrics ----

    /// <summary>Bytes allocated so far by all packet threads together (sampled per batch).</summary>
    public long PacketThreadAllocatedBytes()
    {
        long sum = 0;
        for (int i = 0; i < _allocated.Length; i++) sum += Volatile.Read(ref _allocated[i]);
        return sum + InterfaceAllocatedBytes();
    }

    /// <summary>ESP counters go to these metrics once per batch per worker (label worker = w; plain ESP = W).</summary>
    public void AttachMetrics(DataPlaneMetrics metrics)
    {
        // Every packet thread's series exists before it publishes: UDP workers 0..W-1 (outbound shares them), raw ESP W.
        metrics.Prepare(_workers + 1);
        if (_routes is { } routes)
        {
            metrics.AddFlush(() =>
            {
                for (var op = RouteOperation.Add; op < RouteOperation.Count; op++)
                    metrics.SetRouteFailures(LabelValues.Snake(op.ToString()), routes.Failures(op));
            });
        }
        _metrics = metrics;
    }

    /// <summary>End of a packet thread's batch: its counters to the metrics, its allocated bytes to its slot.</summary>
    private void EndBatch(int worker, int allocationSlot, ref WorkerBatchCounters counters)
    {
        _metrics?.Publish(worker, in counters);
        counters.Clear();
        Volatile.Write(ref _allocated[allocationSlot], GC.GetAllocatedBytesForCurrentThread());
    }

    // ---- Routes ----

    /// <summary>
    /// Routes via the device for <paramref name="remoteTs"/>, and the exclusion of the <paramref name="peer"/>'s outer
    /// address (first, so no moment exists in which the peer's own address routes into the tunnel). A selector that is
    /// exactly the peer's address gets no route (strongSwan's kernel-libipsec refuses it likewise, allow_peer_ts = no).
    /// Every failure is logged and counted.
    /// </summary>
    private void AddRoutes(IReadOnlyList<TrafficSelector> remoteTs, IPAddress? peer)
    {
        if (_routes is null) return;
        if (peer is not null) Exclude(peer);
        foreach (var prefix in RoutePrefixes(remoteTs))
        {
            if (peer is not null && RouteManager.IsHostRouteOf(prefix, peer))
            {
                _routes.CountRefused();
                Log.RouteRefusedPeerAddress(_log, prefix, _tun.Name, peer.ToString());
                continue;
            }
            var result = _routes.Add(prefix);
            if (!result.Ok) Log.RouteFailed(_log, prefix, _tun.Name, result.Error ?? "");
        }
    }

    private void RemoveRoutes(IReadOnlyList<TrafficSelector> remoteTs, IPAddress? peer)
    {
        if (_routes is null) return;
        foreach (var prefix in RoutePrefixes(remoteTs))
        {
            if (peer is not null && RouteManager.IsHostRouteOf(prefix, peer)) continue;
            var result = _routes.Remove(prefix);
            if (!result.Ok && result.Error is { } error && !error.EndsWith("not added by this manager", StringComparison.Ordinal))
                Log.RouteRemoveFailed(_log, error);
        }
        if (peer is not null) Include(peer);
    }

    private void Exclude(IPAddress peer)
    {
        var result = _routes!.Exclude(peer);
        if (!result.Ok) Log.RouteExclusionFailed(_log, peer.ToString(), result.Error ?? "");
    }

    private void Include(IPAddress peer)
    {
        var result = _routes!.Include(peer);
        if (!result.Ok && result.Error is { } error && !error.EndsWith("not added by this manager", StringComparison.Ordinal))
            Log.RouteRemoveFailed(_log, error);
    }

    /// <summary>Traffic selector address ranges as CIDR prefixes ("10.1.0.0/16"), for the routing table.</summary>
    internal static IEnumerable<string> RoutePrefixes(IReadOnlyList<TrafficSelector> selectors)
    {
        foreach (var ts in selectors)
        {
            bool v6 = ts.Type == TsType.Ipv6AddressRange;
            int bits = v6 ? 128 : 32;
            foreach (var (block, length) in SelectorTable<EspSa>.Decompose(ToUInt128(ts.StartAddress), ToUInt128(ts.EndAddress), bits))
            {
                var bytes = new byte[v6 ? 16 : 4];
                var value = block;
                for (int i = bytes.Length - 1; i >= 0; i--, value >>= 8) bytes[i] = (byte)value;
                yield return $"{new IPAddress(bytes)}/{length}";
            }
        }
    }

    private static UInt128 ToUInt128(IPAddress address)
    {
        UInt128 value = 0;
        foreach (byte b in address.GetAddressBytes()) value = (value << 8) | b;
        return value;
    }

    public void Dispose()
    {
        _stopping = true;
        foreach (var t in _threads) t.Join(TimeSpan.FromSeconds(2));
        foreach (var trap in _traps.All) RemoveRoutes(trap.RemoteTs, peer: null);
        RemoveRoutes(_poolRoutes, peer: null);
        foreach (uint spi in _sas.InstalledSpis()) DeleteSa(spi);
        if (_routes is not null)
        {
            foreach (var failure in _routes.RemoveAll()) Log.RouteRemoveFailed(_log, failure.Error ?? "");
            _routes.Dispose();
        }
        foreach (var s in _udp) s.Dispose();
        _raw?.Dispose();
        _rawAh?.Dispose();
        DisposeIpv6();
        DisposeInterfaces();
        _tun.Dispose();
        _sas.Dispose();
    }
}
