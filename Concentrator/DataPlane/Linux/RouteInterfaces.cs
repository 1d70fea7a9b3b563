// Route-based interfaces (swanctl if_id_in / if_id_out; strongSwan's XFRM interfaces): every interface ID N > 0 is a
// single-queue TUN device ipsec<N> with an outbound selector table of its own, so 0.0.0.0/0 and overlapping selectors
// of different interfaces coexist; which packets enter ipsec<N> is the operator's routing (or a routing daemon's): the
// plane installs no route and no trap policy for it and never touches the main table.
//
// Threads and what each owns:
//   esp-out-if<N> [one per interface]: the device's queue for reading and its PacketBatches; S1-S5 of Send.cs with the
//               lookup in the interface's own table (a miss is no_sa: nothing is trapped). Sends on UDP socket 0 (one
//               sendmmsg per batch, as the control plane's trap flush does) or the raw socket.
//   esp-in-w / esp-raw-in: write the decrypted packets of an SA with if_id_in N to ipsec<N> (one write per packet,
//               no coalescing; any number of writers per queue, each write one syscall).
//   control plane: creates interfaces (start, reload, first SA of an ID), under one lock; the packet threads read the
//               id -> interface map lock-free (an immutable dictionary replaced whole). Interfaces live until Dispose.
using System.Globalization;
using Concentrator.DataPlane.Esp;
using Concentrator.Ipsec;
using Concentrator.Telemetry;

namespace Concentrator.DataPlane.Linux;

/// <summary>Names of the route-based interfaces.</summary>
public static class RouteInterfaces
{
    public const string Prefix = "ipsec";

    /// <summary>The device of interface ID <paramref name="id"/> (&gt; 0): ipsec&lt;N&gt;, at most 15 characters.</summary>
    public static string Name(uint id) => Prefix + id.ToString(CultureInfo.InvariantCulture);
}

/// <summary>One route-based interface: its device, its outbound selector table, its reader's allocation sample.</summary>
internal sealed class RouteInterface(uint id, TunDevice tun, SelectorTable<EspSa> outbound) : IDisposable
{
    public readonly uint Id = id;
    public readonly TunDevice Tun = tun;
    public readonly SelectorTable<EspSa> Outbound = outbound;
    public long Allocated; // GC.GetAllocatedBytesForCurrentThread of the reader, written once per batch
    public Thread? Reader;

    public void Dispose() => Tun.Dispose();
}

public sealed partial class LinuxDataPlane
{
    private readonly object _interfaceGate = new();
    private Dictionary<uint, RouteInterface> _interfaces = new(); // replaced whole under _interfaceGate; read with Volatile.Read

    /// <summary>The route-based interfaces' devices (ipsec1, ipsec2, ...), ascending by ID.</summary>
    public IReadOnlyList<string> RouteInterfaceDevices =>
        Volatile.Read(ref _interfaces).Keys.Order().Select(RouteInterfaces.Name).ToList();

    /// <summary>
    /// Creates the interfaces of <paramref name="ids"/> that do not exist yet (start and reload; control plane). A failure is
    /// logged and the rest still made; an SA of a missing ID tries again when it is added.
    /// </summary>
    public void EnsureInterfaces(IEnumerable<uint> ids)
    {
        foreach (uint id in ids)
        {
            if (id == 0) continue;
            try
            {
                EnsureInterface(id);
            }
            catch (Exception e) when (e is IOException or ArgumentException or InvalidOperationException)
            {
                Log.RouteInterfaceFailed(_log, RouteInterfaces.Name(id), id, e.Message);
            }
        }
    }

    /// <summary>The table an outbound SA goes into: the shared one for 0, its interface's otherwise (made if missing).</summary>
    private SelectorTable<EspSa> OutboundTable(uint interfaceOut) =>
        interfaceOut == 0 ? _outbound : EnsureInterface(interfaceOut).Outbound;

    /// <summary>Out of its outbound table; an interface is never made for a removal.</summary>
    private void RemoveOutbound(EspSa sa)
    {
        if (sa.InterfaceIdOut == 0) _outbound.Remove(sa);
        else if (_tables.TryGet(sa.InterfaceIdOut, out var table)) table.Remove(sa);
    }

    /// <summary>Route-based: the gateway adds no route (nor the peer's exclusion) for the SA; the operator routes.</summary>
    private static bool RouteBased(EspSa sa) => sa.InterfaceIdIn != 0 || sa.InterfaceIdOut != 0;

    /// <summary>The interface of <paramref name="id"/>, created (device up, reader started once the plane runs) when missing.
    /// Throws when the device cannot be made.</summary>
    private RouteInterface EnsureInterface(uint id)
    {
        if (Volatile.Read(ref _interfaces).TryGetValue(id, out var existing)) return existing;
        lock (_interfaceGate)
        {
            if (_interfaces.TryGetValue(id, out existing)) return existing;
            if (_stopping) throw new InvalidOperationException("the data plane is stopping");
            string name = RouteInterfaces.Name(id);
            var tun = TunDevice.Create(name, queues: 1, multiQueue: false, mtu: _mtu, up: true, tso: _tso);
            var created = new RouteInterface(id, tun, _tables.For(id));
            var next = new Dictionary<uint, RouteInterface>(_interfaces) { [id] = created };
            Volatile.Write(ref _interfaces, next);
            if (_ike is not null) StartReader(created);
            Log.RouteInterfaceCreated(_log, tun.Name, id);
            return created;
        }
    }

    /// <summary>Starts the readers of the interfaces made before the plane started (from <see cref="Start"/>).</summary>
    private void StartInterfaceReaders()
    {
        lock (_interfaceGate)
        {
            foreach (var iface in _interfaces.Values)
            {
                if (iface.Reader is null) StartReader(iface);
            }
        }
    }

    private void StartReader(RouteInterface iface)
    {
        var t = new Thread(() => InterfaceOutboundLoop(iface)) { IsBackground = true, Name = $"esp-out-if{iface.Id}" };
        iface.Reader = t;
        t.Start();
    }

    /// <summary>Bytes allocated so far by the interfaces' readers (sampled per batch).</summary>
    private long InterfaceAllocatedBytes()
    {
        long sum = 0;
        foreach (var iface in Volatile.Read(ref _interfaces).Values) sum += Volatile.Read(ref iface.Allocated);
        return sum;
    }

    /// <summary>Send.cs's stages for one route-based interface: only SAs whose if_id_out is this interface's are found.</summary>
    private void InterfaceOutboundLoop(RouteInterface iface)
    {
        using var input = new PacketBatch(PacketBatch.DefaultCapacity, PacketBatch.DefaultBufferSize, PacketBatch.DefaultHeadroom);
        using var output = new OutboundBatches(_udp6 is not null, _raw6 is not null, _udpGso);
        using var tso = _tso ? new TsoReader() : null;
        var counters = new WorkerBatchCounters();
        var table = iface.Outbound;
        while (!_stopping)
        {
            int n = tso is null ? iface.Tun.ReadBatch(0, input, 100) : ReadTso(tso, iface.Tun, 0, input, ref counters);
            if (n <= 0) continue;
            output.Reset();
            for (int i = 0; i < n; i++)
            {
                if (!table.TryLookup(input.Packet(i), out var sa))
                {
                    counters.CountDrop(EspStatus.NoSa);
                    continue;
                }
                SealNext(sa, input.Packet(i), output, ref counters);
            }

            SendAll(output, 0, ref counters);
            // The series of worker 0 (its counters are atomic): a label per interface would grow with the configuration.
            _metrics?.Publish(0, in counters);
            counters.Clear();
            Volatile.Write(ref iface.Allocated, GC.GetAllocatedBytesForCurrentThread());
        }
    }

    /// <summary>A decrypted packet of an SA with if_id_in <paramref name="interfaceIn"/> &gt; 0 onto its device (Receive.cs R4'):
    /// one write; a missing device or a failed write counts as queue_full.</summary>
    private void WriteToInterface(uint interfaceIn, ReadOnlySpan<byte> packet, ref WorkerBatchCounters counters)
    {
        if (!Volatile.Read(ref _interfaces).TryGetValue(interfaceIn, out var iface) || iface.Tun.Write(0, packet) <= 0)
            counters.QueueFull++;
    }

    /// <summary>After every packet thread stopped: the readers joined, the devices closed (the kernel removes them).</summary>
    private void DisposeInterfaces()
    {
        lock (_interfaceGate)
        {
            foreach (var iface in _interfaces.Values)
            {
                iface.Reader?.Join(TimeSpan.FromSeconds(2));
                iface.Dispose();
            }
            Volatile.Write(ref _interfaces, new Dictionary<uint, RouteInterface>());
        }
    }
}
