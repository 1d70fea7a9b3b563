// Trap policies (children with start_action trap): outbound traffic between a trap's selectors that no SA
// carries yet is held, and the control plane is asked to negotiate that child, at most once per
// AcquireInterval per trap. Registered once at construction; the selector table is read lock-free by the
// outbound workers. Packets are held per trap in a bounded queue (charon.acquire_queue) under a lock: the
// path runs only while no SA exists, copies each packet, and is bounded by the queue.
using Concentrator.DataPlane.Esp;
using Concentrator.Ipsec;
using Concentrator.Telemetry;

namespace Concentrator.DataPlane.Linux;

/// <summary>The trap policies of one plane: their selector table, acquire rate limiting and the held packets' flush.</summary>
internal sealed class TrapPolicies
{
    /// <summary>How often one trap policy may ask for a negotiation: bounds acquires while the first is still negotiating.</summary>
    private static readonly TimeSpan AcquireInterval = TimeSpan.FromSeconds(2);

    private readonly SelectorTable<TrapPolicy> _table = new();
    private readonly List<TrapPolicy> _all = new();
    private readonly int _queueLimit;
    private Action<string, string>? _acquire;

    public TrapPolicies(IReadOnlyList<TrapSpec> traps, int queueLimit)
    {
        _queueLimit = queueLimit;
        foreach (var spec in traps)
        {
            var trap = new TrapPolicy(spec.Connection, spec.Child, spec.LocalTs, spec.RemoteTs, queueLimit);
            _all.Add(trap);
            _table.Add(trap.LocalTs, trap.RemoteTs, trap);
        }
    }

    public IReadOnlyList<TrapPolicy> All => _all;

    /// <summary>Raised (rate-limited) when traffic matches a trap policy without an SA: (connection, child).</summary>
    public void AttachAcquireHandler(Action<string, string> handler) => _acquire = handler;

    /// <summary>An outbound packet no SA carries (outbound workers): held by the trap policy covering it, if any.</summary>
    public void OnMiss(ReadOnlySpan<byte> packet, DataPlaneMetrics? metrics)
    {
        if (_all.Count == 0 || !_table.TryLookup(packet, out var trap)) return;
        if (!trap.Enqueue(packet)) metrics?.Limits?.Hit(ResourceLimit.AcquireQueue, _queueLimit);
        if (trap.ShouldAcquire(AcquireInterval)) _acquire?.Invoke(trap.Connection, trap.Child);
    }

    /// <summary>Sends the held packets that an outbound SA now carries (control-plane thread, after an SA is activated).</summary>
    public void Flush(SelectorTable<EspSa> outbound, UdpBatchSocket udp, RawEspSocket? raw)
    {
        if (_all.Count == 0) return;
        using var batch = new PacketBatch(1, PacketBatch.DefaultBufferSize, 0);
        foreach (var trap in _all)
        {
            foreach (var packet in trap.Drain())
            {
                if (!outbound.TryLookup(packet, out var sa) || LinuxDataPlane.SealInto(sa, packet, batch, 0) != EspStatus.Ok) continue;
                if (sa.Transport == EspTransport.UdpEncapsulated) udp.SendBatch(batch, 1);
                else raw?.SendBatch(batch, 1);
            }
        }
    }
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
