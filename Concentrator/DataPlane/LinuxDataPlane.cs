// The route-based ESP data plane on Linux (after wireguard-go). Stages:
//   inbound  w  [parallel across workers, sequential within one]: UDP 4500 socket w (the kernel
//               steers ESP by SPI with a reuseport BPF program: worker = SPI mod W, IKE's non-ESP
//               marker to worker 0) --recvmmsg batch--> keepalive / IKE hand-off (copied, rare) /
//               ESP: SA by SPI -> transport check -> replay check -> ICV verify + decrypt in place ->
//               replay update -> inner traffic selector check -> after the batch: TUN write (consecutive
//               TCP segments of one flow coalesced into GSO super-packets when tunnel.gro is on).
//   raw-in      [one thread]: the IP protocol 50 socket, for SAs without NAT-T. A raw socket sees
//               every ESP packet, so exactly one thread reads it and owns those SAs' replay windows.
//   outbound w  [parallel]: TUN queue w --read batch--> most-specific selector lookup -> copy into the
//               send slot behind the SA's header room -> sequence number (atomic) + encrypt in place
//               -> sendmmsg on UDP socket w or the raw socket. A miss that matches a trap policy
//               queues the packet (bounded) and asks the control plane to negotiate.
// Ownership: each worker owns its PacketBatches; an SA's inbound state belongs to the one thread its
// transport routes it to (checked: an ESP packet on the wrong transport is dropped). Control-plane
// calls (AddSa/DeleteSa/...) come from actors and only touch concurrent maps, selector tables and routes.
using System.Buffers.Binary;
using System.Net;
using Concentrator.DataPlane.Esp;
using Concentrator.DataPlane.Linux;
using Concentrator.Ike.Wire;
using Concentrator.Transport;
using Concentrator.Telemetry;
using Concentrator.Ipsec;

namespace Concentrator.DataPlane;

public sealed class LinuxDataPlane : IDataPlane, INattChannel, IDataPlaneMetricsSource, IUnknownSpiSource, IDisposable
{
    /// <summary>How often one trap policy may ask for a negotiation (tunable).</summary>
    private static readonly TimeSpan AcquireInterval = TimeSpan.FromSeconds(2);

    private readonly SaTable _sas = new();
    private readonly SelectorTable<EspSa> _outbound = new();
    private readonly SelectorTable<TrapPolicy> _traps = new();
    private readonly List<TrapPolicy> _trapList = new();
    private readonly RouteManager? _routes;
    private readonly TunDevice _tun;
    private readonly UdpBatchSocket[] _udp;
    private readonly RawEspSocket? _raw;
    private readonly List<Thread> _threads = new();
    private readonly ILogger _log;
    private readonly int _workers;
    private readonly int _mtu;
    private readonly int _acquireQueue;
    private readonly bool _gro;
    private volatile bool _stopping;
    private Action<IkeInbound>? _ike;
    private Action<string, string>? _acquire;

    // Bytes allocated by each packet thread (GC.GetAllocatedBytesForCurrentThread), sampled once per
    // batch by the thread itself: proof that the packet path does not allocate.
    private readonly long[] _allocated = new long[64];

    private volatile DataPlaneMetrics? _metrics;

    public LinuxDataPlane(LinuxDataPlaneOptions options, ILogger log)
    {
        _log = log;
        _workers = Math.Min(options.Workers > 0 ? options.Workers : Environment.ProcessorCount, 31);
        _mtu = options.Mtu;
        _gro = options.Gro;
        _acquireQueue = options.AcquireQueue;
        var listen = options.ListenAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? options.ListenAddress : IPAddress.Any;

        _tun = TunDevice.Create(options.Device, queues: _workers, multiQueue: _workers > 1, mtu: options.Mtu, up: true);
        try
        {
            _udp = UdpBatchSocket.OpenGroup(listen, options.NattPort, _workers, steerBySpi: true);
            _raw = options.PlainEsp ? new RawEspSocket(listen) : null;
            _routes = options.InstallRoutes ? new RouteManager(options.Device) : null;
        }
        catch
        {
            _tun.Dispose();
            foreach (var s in _udp ?? []) s.Dispose();
            throw;
        }

        RegisterTraps(options.Traps);
    }

    public string Device => _tun.Name;
    public int Workers => _workers;
    public int NattPort => _udp[0].LocalPort;
    public int InstalledCount => _sas.InstalledCount;

    /// <summary>Raised (rate-limited) when traffic matches a trap policy without an SA: (connection, child).</summary>
    public void AttachAcquireHandler(Action<string, string> handler) => _acquire = handler;

    public void AttachIkeReceiver(Action<IkeInbound> receiver) => _ike = receiver;

    public void SendFromNattPort(ReadOnlySpan<byte> datagram, IPEndPoint remote)
    {
        var address = remote.Address.IsIPv4MappedToIPv6 ? remote.Address.MapToIPv4() : remote.Address;
        _udp[0].SendTo(datagram, PacketBatch.ToUInt32(address), (ushort)remote.Port);
    }

    public void Start()
    {
        for (int w = 0; w < _workers; w++)
        {
            int worker = w;
            StartThread($"esp-in-{w}", () => InboundLoop(worker));
            StartThread($"esp-out-{w}", () => OutboundLoop(worker));
        }

        if (_raw is not null) StartThread("esp-raw-in", RawInboundLoop);
        Log.DataPlaneStarted(_log, _tun.Name, _workers, NattPort, _raw is not null);
        Log.EspCryptoSelected(_log, Esp.EspCrypto.Description);
        foreach (var trap in _trapList) AddRoutes(trap.RemoteTs);
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
        var sa = _sas.Add(install);
        AddRoutes(sa.RemoteTs);
        if (install.OutboundActive) ActivateOutbound(install.InboundSpi);
    }

    public bool ActivateOutbound(uint inboundSpi)
    {
        if (!_sas.TryGet(inboundSpi, out var sa)) return false;
        // The newest SA for the same selectors wins the outbound lookup (make-before-break on rekey).
        _outbound.Remove(sa);
        _outbound.Add(sa.LocalTs, sa.RemoteTs, sa);
        FlushTrapQueues();
        return true;
    }

    public bool UpdateRemote(uint inboundSpi, IPEndPoint remote) => _sas.UpdateRemote(inboundSpi, remote);

    public bool DeleteSa(uint inboundSpi)
    {
        if (!_sas.TryGet(inboundSpi, out var sa)) return false;
        _outbound.Remove(sa);
        RemoveRoutes(sa.RemoteTs);
        return _sas.Delete(inboundSpi);
    }

    public bool TryGetCounters(uint inboundSpi, out SaCounters counters) => _sas.TryGetCounters(inboundSpi, out counters);

    public SaRekeyHint GetRekeyHint(uint inboundSpi) => _sas.GetRekeyHint(inboundSpi);

    public bool TryGetSequenceMarks(uint inboundSpi, out ulong lastOutbound, out ulong inboundTop) =>
        _sas.TryGetSequenceMarks(inboundSpi, out lastOutbound, out inboundTop);

    public bool SetOutboundCeiling(uint inboundSpi, ulong ceiling) => _sas.SetOutboundCeiling(inboundSpi, ceiling);

    public void OnUnknownSpi(Action<uint> report) => _sas.OnUnknownSpi(report);

    /// <summary>Bytes allocated so far by all packet threads together (sampled per batch).</summary>
    public long PacketThreadAllocatedBytes()
    {
        long sum = 0;
        for (int i = 0; i < _allocated.Length; i++) sum += Volatile.Read(ref _allocated[i]);
        return sum;
    }

    /// <summary>ESP counters go to these metrics once per batch per worker (label worker = w; plain ESP = W).</summary>
    public void AttachMetrics(DataPlaneMetrics metrics) => _metrics = metrics;

    private void AddRoutes(IReadOnlyList<TrafficSelector> remoteTs)
    {
        if (_routes is null) return;
        foreach (var prefix in RoutePrefixes(remoteTs))
        {
            var result = _routes.Add(prefix);
            if (!result.Ok) Log.RouteFailed(_log, prefix, _tun.Name, result.Error ?? "");
        }
    }

    private void RemoveRoutes(IReadOnlyList<TrafficSelector> remoteTs)
    {
        if (_routes is null) return;
        foreach (var prefix in RoutePrefixes(remoteTs)) _routes.Remove(prefix);
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

    // ---- Inbound ----

    private void InboundLoop(int worker)
    {
        using var batch = new PacketBatch(PacketBatch.DefaultCapacity, PacketBatch.DefaultBufferSize, 0);
        using var tunOut = new TcpCoalescer(batch.Capacity, _gro);
        var sink = new TunQueueSink(_tun, worker);
        var counters = new WorkerBatchCounters();
        var socket = _udp[worker];
        while (!_stopping)
        {
            int n = socket.ReceiveBatch(batch, 100);
            if (n <= 0) continue;
            for (int i = 0; i < n; i++)
            {
                int length = batch.Lengths[i];
                if (length == 0) continue;
                var packet = batch.Packet(i);
                if (length == 1 && packet[0] == 0xFF) continue; // NAT keepalive, RFC 3948 §2.3
                if (length >= UdpEncapsulation.NonEspMarkerLength && BinaryPrimitives.ReadUInt32BigEndian(packet) == 0)
                {
                    HandOffIke(packet[UdpEncapsulation.NonEspMarkerLength..], batch.Addresses[i], batch.Ports[i]);
                    continue;
                }

                var status = EspPipeline.Open(_sas, packet, EspTransport.UdpEncapsulated, out var inner);
                Count(ref counters, status, length);
                if (status == EspStatus.Ok) tunOut.Add(packet[inner]);
            }

            WriteTun(tunOut, ref sink, ref counters);
            Publish(worker, ref counters);
            Volatile.Write(ref _allocated[worker], GC.GetAllocatedBytesForCurrentThread());
        }
    }

    private void RawInboundLoop()
    {
        using var batch = new PacketBatch(PacketBatch.DefaultCapacity, PacketBatch.DefaultBufferSize, 0);
        using var tunOut = new TcpCoalescer(batch.Capacity, _gro);
        var sink = new TunQueueSink(_tun, 0);
        var counters = new WorkerBatchCounters();
        while (!_stopping)
        {
            int n = _raw!.ReceiveBatch(batch, 100);
            if (n <= 0) continue;
            for (int i = 0; i < n; i++)
            {
                if (batch.Lengths[i] == 0) continue;
                var packet = batch.Packet(i);
                var status = EspPipeline.Open(_sas, packet, EspTransport.RawEsp, out var inner);
                Count(ref counters, status, packet.Length);
                if (status == EspStatus.Ok) tunOut.Add(packet[inner]);
            }

            WriteTun(tunOut, ref sink, ref counters);
            Publish(_workers, ref counters);
            Volatile.Write(ref _allocated[2 * _workers], GC.GetAllocatedBytesForCurrentThread());
        }
    }

    /// <summary>The batch's decrypted packets go to the TUN after the whole batch is decrypted, so that
    /// consecutive segments of a TCP flow can leave as one GSO super-packet (tunnel.gro).</summary>
    private static void WriteTun(TcpCoalescer tunOut, ref TunQueueSink sink, ref WorkerBatchCounters counters)
    {
        tunOut.Flush(ref sink);
        counters.TunGsoFrames += (ulong)tunOut.GsoFrames;
        counters.TunGsoSegments += (ulong)tunOut.GsoSegments;
        counters.QueueFull += (ulong)tunOut.WriteErrors;
    }

    private static void Count(ref WorkerBatchCounters counters, EspStatus status, int wireBytes)
    {
        if (status != EspStatus.Ok)
        {
            counters.CountDrop(status);
            return;
        }

        counters.PacketsIn++;
        counters.BytesIn += (ulong)wireBytes;
    }

    private void Publish(int worker, ref WorkerBatchCounters counters)
    {
        _metrics?.Publish(worker, in counters);
        counters.Clear();
    }

    private void HandOffIke(ReadOnlySpan<byte> datagram, uint address, ushort port)
    {
        var receiver = _ike;
        if (receiver is null || datagram.Length < ProtocolConstants.IkeHeaderLength)
        {
            IkeStats.CountMalformed(ParseStatus.Truncated);
            return;
        }

        // IKE is rare on this path (after NAT-T floated); allocating here is fine.
        var remote = new IPEndPoint(PacketBatch.ToIPAddress(address), port);
        var local = LocalFor(remote);
        receiver(new IkeInbound(datagram.ToArray(), remote, local, ViaNatT: true));
    }

    private IPEndPoint LocalFor(IPEndPoint remote)
    {
        var bound = _udp[0].LocalEndPoint;
        return UdpIkeTransport.LocalEndpointFor(bound.Address, bound.Port, remote);
    }

    // ---- Outbound ----

    private void OutboundLoop(int worker)
    {
        using var input = new PacketBatch(PacketBatch.DefaultCapacity, PacketBatch.DefaultBufferSize, PacketBatch.DefaultHeadroom);
        using var udpOut = new PacketBatch(PacketBatch.DefaultCapacity, PacketBatch.DefaultBufferSize, 0);
        using var rawOut = new PacketBatch(PacketBatch.DefaultCapacity, PacketBatch.DefaultBufferSize, 0);
        var counters = new WorkerBatchCounters();
        while (!_stopping)
        {
            int n = _tun.ReadBatch(worker, input, 100);
            if (n <= 0) continue;
            int u = 0, r = 0;
            for (int i = 0; i < n; i++)
            {
                var inner = input.Packet(i);
                if (!_outbound.TryLookup(inner, out var sa))
                {
                    Trap(inner);
                    counters.CountDrop(EspStatus.NoSa);
                    continue;
                }

                bool udp = sa.Transport == EspTransport.UdpEncapsulated;
                var target = udp ? udpOut : rawOut;
                int index = udp ? u : r;
                var status = Seal(sa, inner, target, index);
                if (status != EspStatus.Ok)
                {
                    counters.CountDrop(status);
                    continue;
                }

                counters.PacketsOut++;
                counters.BytesOut += (ulong)target.Lengths[index];

                if (udp) u++;
                else r++;
            }

            if (u > 0) _udp[worker].SendBatch(udpOut, u);
            if (r > 0) _raw?.SendBatch(rawOut, r);
            Publish(worker, ref counters);
            Volatile.Write(ref _allocated[_workers + worker], GC.GetAllocatedBytesForCurrentThread());
        }
    }

    /// <summary>Seals <paramref name="inner"/> into slot <paramref name="index"/> of <paramref name="target"/>, addressed to the SA's peer.</summary>
    private static EspStatus Seal(EspSa sa, ReadOnlySpan<byte> inner, PacketBatch target, int index)
    {
        var status = EspPipeline.Seal(sa, inner, target.Slot(index), out int written);
        if (status != EspStatus.Ok) return status;
        target.Offsets[index] = 0;
        target.Lengths[index] = written;
        target.Addresses[index] = sa.RemoteAddressV4;
        target.Ports[index] = sa.RemotePort;
        return EspStatus.Ok;
    }

    // ---- Trap policies ("interesting traffic") ----

    private void RegisterTraps(IReadOnlyList<TrapSpec> traps)
    {
        foreach (var spec in traps)
        {
            var trap = new TrapPolicy(spec.Connection, spec.Child, spec.LocalTs, spec.RemoteTs, _acquireQueue);
            _trapList.Add(trap);
            _traps.Add(trap.LocalTs, trap.RemoteTs, trap);
        }
    }

    private void Trap(ReadOnlySpan<byte> packet)
    {
        if (_trapList.Count == 0 || !_traps.TryLookup(packet, out var trap)) return;
        if (!trap.Enqueue(packet)) _metrics?.Limits?.Hit(ResourceLimit.AcquireQueue, _acquireQueue);
        if (trap.ShouldAcquire(AcquireInterval)) _acquire?.Invoke(trap.Connection, trap.Child);
    }

    /// <summary>Sends packets held by trap policies once an SA for them exists (control-plane thread, rare).</summary>
    private void FlushTrapQueues()
    {
        if (_trapList.Count == 0) return;
        using var batch = new PacketBatch(1, PacketBatch.DefaultBufferSize, 0);
        foreach (var trap in _trapList)
        {
            foreach (var packet in trap.Drain())
            {
                if (!_outbound.TryLookup(packet, out var sa) || Seal(sa, packet, batch, 0) != EspStatus.Ok) continue;
                if (sa.Transport == EspTransport.UdpEncapsulated) _udp[0].SendBatch(batch, 1);
                else _raw?.SendBatch(batch, 1);
            }
        }
    }

    public void Dispose()
    {
        _stopping = true;
        foreach (var t in _threads) t.Join(TimeSpan.FromSeconds(2));
        foreach (var trap in _trapList) RemoveRoutes(trap.RemoteTs);
        foreach (uint spi in _sas.InstalledSpis()) DeleteSa(spi);
        foreach (var s in _udp) s.Dispose();
        _raw?.Dispose();
        _tun.Dispose();
        _sas.Dispose();
    }

    /// <summary>A child with start_action trap: its selectors and the packets waiting for its SA (at most
    /// <paramref name="queueLimit"/>, charon.acquire_queue; later ones are dropped until the SA is up).</summary>
    internal sealed class TrapPolicy(string connection, string child, IReadOnlyList<TrafficSelector> localTs, IReadOnlyList<TrafficSelector> remoteTs,
        int queueLimit)
    {
        private readonly Queue<byte[]> _pending = new();
        private long _lastAcquire;

        public string Connection { get; } = connection;
        public string Child { get; } = child;
        public IReadOnlyList<TrafficSelector> LocalTs { get; } = localTs;
        public IReadOnlyList<TrafficSelector> RemoteTs { get; } = remoteTs;

        /// <summary>False when the queue is full and the packet was dropped.</summary>
        public bool Enqueue(ReadOnlySpan<byte> packet)
        {
            lock (_pending)
            {
                if (_pending.Count >= queueLimit) return false;
                _pending.Enqueue(packet.ToArray());
                return true;
            }
        }

        public List<byte[]> Drain()
        {
            lock (_pending)
            {
                var all = _pending.ToList();
                _pending.Clear();
                return all;
            }
        }

        public bool ShouldAcquire(TimeSpan interval)
        {
            long now = Environment.TickCount64, last = Interlocked.Read(ref _lastAcquire);
            return now - last >= interval.TotalMilliseconds && Interlocked.CompareExchange(ref _lastAcquire, now, last) == last;
        }
    }
}
