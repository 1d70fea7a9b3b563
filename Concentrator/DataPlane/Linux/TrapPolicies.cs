// Trap policies (children with start_action trap): outbound traffic between a trap's selectors that no SA
// carries yet is held, and the control plane is asked to negotiate that child, at most once per
// AcquireInterval per trap. Registered at construction and replaced whole by a reload (one volatile reference to
// an immutable table and list); the selector table is read lock-free by the outbound workers. Packets are held per trap in a bounded queue (charon.acquire_queue) under a lock: the
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

    private volatile Installed _installed;
    private readonly int _queueLimit;
    private Action<string, string>? _acquire;

    /// <summary>One generation of traps; never changed once published.</summary>
    private sealed record Installed(SelectorTable<TrapPolicy> Table, List<TrapPolicy> All);

    public TrapPolicies(IReadOnlyList<TrapSpec> traps, int queueLimit)
    {
        _queueLimit = queueLimit;
        _installed = Build(traps, []);
    }

    public IReadOnlyList<TrapPolicy> All => _installed.All;

    /// <summary>
    /// A reload's traps: a trap whose connection, child and selectors are unchanged is kept (with its held packets and
    /// acquire timing); the outbound workers see the old set or the new one, never a mix. Returns the traps removed and added.
    /// </summary>
    public (IReadOnlyList<TrapPolicy> Removed, IReadOnlyList<TrapPolicy> Added) Replace(IReadOnlyList<TrapSpec> traps)
    {
        var old = _installed;
        var next = Build(traps, old.All);
        _installed = next;
        return (old.All.Where(t => !next.All.Contains(t)).ToList(), next.All.Where(t => !old.All.Contains(t)).ToList());
    }

    private Installed Build(IReadOnlyList<TrapSpec> traps, List<TrapPolicy> existing)
    {
        var table = new SelectorTable<TrapPolicy>();
        var all = new List<TrapPolicy>();
        foreach (var spec in traps)
        {
            var trap = existing.FirstOrDefault(t => t.Connection == spec.Connection && t.Child == spec.Child
                                                    && t.LocalTs.SequenceEqual(spec.LocalTs) && t.RemoteTs.SequenceEqual(spec.RemoteTs))
                       ?? new TrapPolicy(spec.Connection, spec.Child, spec.LocalTs, spec.RemoteTs, _queueLimit);
            all.Add(trap);
            table.Add(trap.LocalTs, trap.RemoteTs, trap);
        }
        return new Installed(table, all);
    }

    /// <summary>Raised (rate-limited) when traffic matches a trap policy without an SA: (connection, child).</summary>
    public void AttachAcquireHandler(Action<string, string> handler) => _acquire = handler;

    /// <summary>An outbound packet no SA carries (outbound workers): held by the trap policy covering it, if any.</summary>
    public void OnMiss(ReadOnlySpan<byte> packet, DataPlaneMetrics? metrics)
    {
        var installed = _installed;
        if (installed.All.Count == 0 || !installed.Table.TryLookup(packet, out var trap)) return;
        if (!trap.Enqueue(packet)) metrics?.Limits?.Hit(ResourceLimit.AcquireQueue, _queueLimit);
        if (trap.ShouldAcquire(AcquireInterval)) _acquire?.Invoke(trap.Connection, trap.Child);
    }

    /// <summary>Sends the held packets that an outbound SA now carries (control-plane thread, after an SA is activated).</summary>
    public void Flush(SelectorTable<EspSa> outbound, UdpBatchSocket udp, RawEspSocket? raw, UdpBatchSocket? udp6, RawEspSocket? raw6,
        RawAhSocket? ah = null)
    {
        var all = _installed.All;
        if (all.Count == 0) return;
        using var batch = new PacketBatch(1, PacketBatch.DefaultBufferSize, 0);
        foreach (var trap in all)
        {
            foreach (var packet in trap.Drain())
            {
                if (!outbound.TryLookup(packet, out var sa) || LinuxDataPlane.SealInto(sa, packet, batch, 0) != EspStatus.Ok) continue;
                bool v6 = batch.IsV6[0];
                if (sa.Protocol == IpsecProtocol.Ah) ah?.SendBatch(batch, 1);
                else if (sa.Transport == EspTransport.UdpEncapsulated) (v6 ? udp6 : udp)?.SendBatch(batch, 1);
                else (v6 ? raw6 : raw)?.SendBatch(batch, 1);
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
