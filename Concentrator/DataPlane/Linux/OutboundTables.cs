// Ownership/thread-safety: For (control plane) creates a table under one lock and publishes a new id -> table map whole;
// readers (packet threads) call TryGet / TryLookup lock-free and without allocation. Tables are never removed: an
// interface keeps its (possibly empty) table for the plane's lifetime.
namespace Concentrator.DataPlane.Linux;

/// <summary>
/// Outbound selector tables by interface ID (swanctl if_id_out): 0 is the shared table behind the plane's own device and
/// its routes; every N &gt; 0 has a table of its own, so selectors of different interfaces (0.0.0.0/0 on each, or the same
/// branch subnet behind two peers) never compete: a packet read from ipsec&lt;N&gt; is matched against table N only.
/// </summary>
public sealed class OutboundTables<T> where T : class
{
    private readonly object _gate = new();
    private Dictionary<uint, SelectorTable<T>> _byId;

    public OutboundTables()
    {
        _byId = new Dictionary<uint, SelectorTable<T>> { [0] = Shared };
    }

    /// <summary>Interface 0's table.</summary>
    public SelectorTable<T> Shared { get; } = new();

    /// <summary>The table of interface <paramref name="id"/>, created when missing (control plane).</summary>
    public SelectorTable<T> For(uint id)
    {
        if (Volatile.Read(ref _byId).TryGetValue(id, out var table)) return table;
        lock (_gate)
        {
            if (_byId.TryGetValue(id, out table)) return table;
            table = new SelectorTable<T>();
            Volatile.Write(ref _byId, new Dictionary<uint, SelectorTable<T>>(_byId) { [id] = table });
            return table;
        }
    }

    public bool TryGet(uint id, out SelectorTable<T> table) => Volatile.Read(ref _byId).TryGetValue(id, out table!);

    /// <summary>The value for <paramref name="ipPacket"/> among interface <paramref name="id"/>'s selectors only.</summary>
    public bool TryLookup(uint id, ReadOnlySpan<byte> ipPacket, out T value)
    {
        if (Volatile.Read(ref _byId).TryGetValue(id, out var table)) return table.TryLookup(ipPacket, out value);
        value = null!;
        return false;
    }
}
