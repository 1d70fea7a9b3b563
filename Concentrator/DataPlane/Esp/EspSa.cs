using System.Net;
using System.Security.Cryptography;
using Concentrator.Ipsec;

namespace Concentrator.DataPlane.Esp;

/// <summary>
/// Counters not yet published to the SA totals. Plain fields: a lane is only ever touched by the
/// one thread that currently owns it (the inbound worker, or the sender that rented an outbound lane).
/// </summary>
internal class CounterLane
{
    public ulong PendingPackets;
    public ulong PendingBytes;

    /// <summary>
    /// Environment.TickCount64 of the last packet: a coarse monotonic read per packet (DateTime.UtcNow costs
    /// several times more), turned into UTC ticks once per publish by <see cref="EspSa"/>.
    /// </summary>
    public long LastMilliseconds;
}

/// <summary>One outbound transform instance plus the counters of whichever sender holds it (an AH SA's lanes: counters
/// only, <see cref="Cipher"/> null).</summary>
internal sealed class OutboundLane(EspCipher cipher) : CounterLane
{
    public readonly EspCipher Cipher = cipher;
}

/// <summary>
/// Both directions of one Child SA as the packet path sees them.
/// Ownership:
/// - inbound (cipher, replay window, inbound counter lane): the single worker that owns the inbound
///   SPI; never touched by two threads at once.
/// - outbound: any number of senders. The sequence counter is one 64-bit Interlocked counter; the
///   transform and its counters live in a small ring of lanes, each rented exclusively with
///   Interlocked.Exchange (no lock), because the .NET AEAD objects are not thread-safe. One lane exists
///   from install; another is created only when a sender finds every existing lane rented (contention),
///   up to the lane limit, and lives as long as the SA: most SAs of a node with many tunnels never see two
///   senders at once, so they hold one keyed context whatever the core count.
/// - control plane: construction, <see cref="UpdateRemote"/>, <see cref="Snapshot"/>, <see cref="Dispose"/>.
/// Lifetime: a reference count (1 for "installed" + 1 per packet in flight) so that a delete racing
/// with a worker frees and zeroes the keys only after the last in-flight packet finished.
/// </summary>
public sealed partial class EspSa : IDisposable
{
    /// <summary>Pending counters are published to the SA totals every this many packets.</summary>
    internal const int CounterBatch = 32;

    /// <summary>Without ESN: soft rekey once this many sequence numbers are used (2^32 - 2^24).</summary>
    internal const ulong SoftLimit32 = (1UL << 32) - (1UL << 24);
    internal const ulong HardLimit32 = uint.MaxValue;
    /// <summary>With ESN: soft rekey at 2^64 - 2^56; the hard limit is 2^64 - 1.</summary>
    internal const ulong SoftLimit64 = ulong.MaxValue - (1UL << 56) + 1;
    internal const ulong HardLimit64 = ulong.MaxValue;

    private readonly byte[][] _keys;
    private readonly OutboundLane?[] _lanes;
    // Slots [0, _laneCount) hold a created lane (null while rented); the rest were never needed.
    private readonly EspCipher?[] _allOutboundCiphers;
    private int _laneCount;
    private int _growthFailed;
    private long _lastSequence; // last outbound sequence number handed out (as ulong bits)
    private long _ceiling = -1; // highest outbound sequence number allowed (as ulong bits; all ones: no ceiling)
    private int _rekeyHint;
    private int _refs = 1;
    private int _disposed;
    private IPEndPoint _remote;
    // IPv4 address << 16 | port, host order: the packet path's allocation-free copy of _remote (port alone for IPv6).
    private long _remoteV4;
    // The IPv6 address, host order, when the peer's outer address is IPv6; null for IPv4. One reference, so the packet
    // path reads family and address together.
    private RemoteV6? _remoteV6;

    private sealed class RemoteV6(UInt128 address)
    {
        public readonly UInt128 Address = address;
    }

    // Published totals: written with Interlocked by whoever publishes a lane, read by the control plane.
    private ulong _packetsIn, _bytesIn, _packetsOut, _bytesOut;
    private long _lastInTicks, _lastOutTicks;

    public EspSa(ChildSaInstall install, int outboundLanes = 0)
    {
        ArgumentNullException.ThrowIfNull(install);
        InboundSpi = install.InboundSpi;
        OutboundSpi = install.OutboundSpi;
        Suite = install.Suite;
        Esn = install.Suite.Esn;
        LocalTs = install.LocalTs;
        RemoteTs = install.RemoteTs;
        LocalEndpoint = install.LocalEndpoint;
        _remote = install.RemoteEndpoint;
        _remoteV4 = PackV4(install.RemoteEndpoint);
        _remoteV6 = V6Of(install.RemoteEndpoint);
        Transport = install.Transport;
        Mode = install.Mode;
        Protocol = install.Suite.Protocol;
        if (Protocol == IpsecProtocol.Ah) InitAh(install);
        if (Mode == IpsecMode.Transport)
        {
            // Host-to-host (the IKE layer checked it): the inner addresses are those of the selectors, fixed for the SA.
            TransportLocalV4 = HostV4(install.LocalTs);
            TransportRemoteV4 = HostV4(install.RemoteTs);
        }
        Connection = install.Connection;
        Child = install.Child;
        InterfaceIdIn = install.InterfaceIdIn;
        InterfaceIdOut = install.InterfaceIdOut;
        _keys = [install.InboundEncryptionKey, install.InboundIntegrityKey, install.OutboundEncryptionKey, install.OutboundIntegrityKey];

        // 0 turns the replay check off (swanctl replay_window = 0); other values below the minimum (strongSwan's
        // default, 32) are raised to it. An adopted SA counts everything up to its replicated mark as seen.
        Window = new ReplayWindow(install.ReplayWindow == 0 ? 0 : Math.Max(install.ReplayWindow, ReplayWindow.MinSize));
        Window.Restore(install.InboundSequenceFloor);
        _lastSequence = (long)install.OutboundSequenceStart;
        InboundCipher = CreateCipher(install.InboundEncryptionKey, install.InboundIntegrityKey);
        InboundLane = new CounterLane();

        int lanes = outboundLanes > 0 ? outboundLanes : LaneLimit(Environment.ProcessorCount);
        _lanes = new OutboundLane?[lanes];
        _allOutboundCiphers = new EspCipher?[lanes];
        _allOutboundCiphers[0] = CreateCipher(install.OutboundEncryptionKey, install.OutboundIntegrityKey);
        _lanes[0] = new OutboundLane(_allOutboundCiphers[0]!);
        _laneCount = 1;
    }

    /// <summary>Outbound cipher lanes an SA may create (on contention) on a machine of <paramref name="cores"/> cores.</summary>
    internal static int LaneLimit(int cores) => Math.Clamp(cores, 2, 16);

    /// <summary>Outbound cipher lanes an SA creates at install, on any machine: one (see <see cref="RentLane"/>).</summary>
    internal static int LanesAtInstall(int cores) => 1;

    /// <summary>Outbound lanes created so far (1 at install, more under contention).</summary>
    internal int OutboundLaneCount => Volatile.Read(ref _laneCount);

    public uint InboundSpi { get; }
    public uint OutboundSpi { get; }
    public EspSuite Suite { get; }
    public bool Esn { get; }
    public IReadOnlyList<TrafficSelector> LocalTs { get; }
    public IReadOnlyList<TrafficSelector> RemoteTs { get; }
    public IPEndPoint LocalEndpoint { get; }
    public IPEndPoint RemoteEndpoint => Volatile.Read(ref _remote);
    public EspTransport Transport { get; }
    public IpsecMode Mode { get; }

    /// <summary>Transport mode: our and the peer's IPv4 address (host order) in the packets the SA carries; 0 otherwise
    /// (and for a selector that is not one IPv4 host, which makes every packet of the SA a drop).</summary>
    internal uint TransportLocalV4 { get; }
    internal uint TransportRemoteV4 { get; }

    public string Connection { get; }
    public string Child { get; }
    /// <summary>swanctl if_id_in: 0 = the shared device; N &gt; 0 = decrypted packets go to the route-based interface ipsec&lt;N&gt;.</summary>
    public uint InterfaceIdIn { get; }
    /// <summary>swanctl if_id_out: 0 = the shared selector table; N &gt; 0 = only packets read from ipsec&lt;N&gt; select this SA.</summary>
    public uint InterfaceIdOut { get; }

    /// <summary>Inbound transform; owned by the inbound worker. Null for AH (its ICV needs no per-SA state, EspSa.Ah.cs).</summary>
    internal EspCipher InboundCipher { get; }

    /// <summary>Replay window; owned by the inbound worker.</summary>
    public ReplayWindow Window { get; }

    /// <summary>Inbound pending counters; owned by the inbound worker.</summary>
    internal CounterLane InboundLane { get; }

    /// <summary>Transform geometry of the outbound direction (every lane is identical). Null for AH.</summary>
    internal EspCipher OutboundGeometry => _allOutboundCiphers[0]!;

    public SaRekeyHint RekeyHint => (SaRekeyHint)Volatile.Read(ref _rekeyHint);

    /// <summary>Test hook: a fixed outbound IV, so published vectors can be reproduced byte for byte.</summary>
    internal byte[]? FixedIvForTest { get; set; }

    /// <summary>Last outbound sequence number handed out (0 before the first packet).</summary>
    public ulong LastOutboundSequence => (ulong)Volatile.Read(ref _lastSequence);

    /// <summary>Test hook: the next outbound packet carries <paramref name="lastUsed"/> + 1.</summary>
    internal void SetLastOutboundSequenceForTest(ulong lastUsed) => Volatile.Write(ref _lastSequence, (long)lastUsed);

    public void UpdateRemote(IPEndPoint remote)
    {
        Volatile.Write(ref _remote, remote);
        Volatile.Write(ref _remoteV4, PackV4(remote));
        Volatile.Write(ref _remoteV6, V6Of(remote));
    }

    /// <summary>Peer IPv4 address in host order (0 for an IPv6 peer); read per packet without allocating.</summary>
    public uint RemoteAddressV4 => (uint)(Volatile.Read(ref _remoteV4) >> 16);

    /// <summary>Whether the peer's outer address is IPv6, and then that address in host order; read per packet.</summary>
    public bool TryGetRemoteV6(out UInt128 address)
    {
        var v6 = Volatile.Read(ref _remoteV6);
        address = v6 is null ? 0 : v6.Address;
        return v6 is not null;
    }

    private static RemoteV6? V6Of(IPEndPoint ep)
    {
        if (ep.Address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6 || ep.Address.IsIPv4MappedToIPv6) return null;
        Span<byte> b = stackalloc byte[16];
        ep.Address.TryWriteBytes(b, out _);
        return new RemoteV6(System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(b));
    }

    /// <summary>Peer UDP port (host order) for ESP-in-UDP.</summary>
    public ushort RemotePort => (ushort)Volatile.Read(ref _remoteV4);

    private static uint HostV4(IReadOnlyList<TrafficSelector> selectors)
    {
        if (selectors.Count == 0) return 0;
        var host = selectors[0].StartAddress;
        if (host.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork || !host.Equals(selectors[0].EndAddress)) return 0;
        Span<byte> b = stackalloc byte[4];
        host.TryWriteBytes(b, out _);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(b);
    }

    private static long PackV4(IPEndPoint ep)
    {
        var address = ep.Address.IsIPv4MappedToIPv6 ? ep.Address.MapToIPv4() : ep.Address;
        if (address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork) return (ushort)ep.Port;
        Span<byte> b = stackalloc byte[4];
        address.TryWriteBytes(b, out _);
        return ((long)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(b) << 16) | (ushort)ep.Port;
    }

    /// <summary>
    /// Hands out the next outbound sequence number. Never wraps: without ESN a number above 2^32-1
    /// is refused (RFC 4303 §3.3.3) and the SA is flagged for the control plane; the counter keeps
    /// counting up, so every later call is refused too.
    /// </summary>
    internal EspStatus NextSequence(out ulong seq)
    {
        seq = (ulong)Interlocked.Increment(ref _lastSequence);
        // Numbers refused here are burnt (the counter went past them): gaps are harmless, a repeated IV is not.
        if (seq > (ulong)Volatile.Read(ref _ceiling))
            return EspStatus.SequenceCeiling;
        ulong soft = Esn ? SoftLimit64 : SoftLimit32;
        ulong hard = Esn ? HardLimit64 : HardLimit32;
        // seq == 0 only after 2^64 increments; HardLimit64 itself is kept unused so the check is uniform.
        if (seq == 0 || seq > hard || (Esn && seq == HardLimit64))
        {
            RaiseHint(SaRekeyHint.Exhausted);
            return EspStatus.SequenceExhausted;
        }
        if (seq >= soft)
            RaiseHint(SaRekeyHint.Soft);
        return EspStatus.Ok;
    }

    /// <summary>
    /// The highest outbound sequence number this node may use (cluster SA mobility: the last replicated mark plus the
    /// margin an adopting node skips). Unlimited unless set; raised by the control plane with each replicated snapshot.
    /// </summary>
    public void SetOutboundCeiling(ulong ceiling) => Volatile.Write(ref _ceiling, (long)ceiling);

    private void RaiseHint(SaRekeyHint hint)
    {
        int current;
        while ((current = Volatile.Read(ref _rekeyHint)) < (int)hint)
        {
            if (Interlocked.CompareExchange(ref _rekeyHint, (int)hint, current) == current)
                return;
        }
    }

    /// <summary>Rents an outbound lane exclusively. When every created lane is busy (more simultaneous senders than
    /// lanes) it creates one more, up to the limit, and spins only at the limit; the holder keeps it for one packet's
    /// encryption.</summary>
    internal OutboundLane RentLane(out int index)
    {
        OutboundLane?[] lanes = _lanes;
        SpinWait spin = default;
        while (true)
        {
            int n = Volatile.Read(ref _laneCount);
            int start = Environment.CurrentManagedThreadId % n;
            for (int i = 0; i < n; i++)
            {
                int idx = start + i;
                if (idx >= n)
                    idx -= n;
                OutboundLane? lane = Interlocked.Exchange(ref lanes[idx], null);
                if (lane is not null)
                {
                    index = idx;
                    return lane;
                }
            }
            if (n < lanes.Length && Volatile.Read(ref _growthFailed) == 0 && TryGrow(n) is { } grown)
            {
                index = n;
                return grown;
            }
            spin.SpinOnce();
        }
    }

    /// <summary>
    /// Creates lane <paramref name="n"/>, rented to the caller, unless another sender created it first. Once per lane per
    /// SA: the only allocation of the send path, bounded by the lane limit. The caller holds a packet reference, so
    /// <see cref="Destroy"/> cannot run meanwhile. A context that cannot be created (out of memory) stops growth; the
    /// lanes there are keep serving.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private OutboundLane? TryGrow(int n)
    {
        EspCipher cipher;
        try
        {
            cipher = CreateCipher(_keys[2], _keys[3]);
        }
        catch (CryptographicException)
        {
            Volatile.Write(ref _growthFailed, 1);
            return null;
        }
        if (Interlocked.CompareExchange(ref _laneCount, n + 1, n) != n)
        {
            cipher?.Dispose();
            return null;
        }
        Volatile.Write(ref _allOutboundCiphers[n], cipher);
        return new OutboundLane(cipher);
    }

    internal void ReturnLane(int index, OutboundLane lane)
    {
        if (lane.PendingPackets >= CounterBatch)
            PublishOutbound(lane);
        Volatile.Write(ref _lanes[index], lane);
    }

    /// <summary>Records one authenticated inbound packet. Inbound worker only.</summary>
    internal void CountInbound(int bytes)
    {
        CounterLane lane = InboundLane;
        lane.PendingPackets++;
        lane.PendingBytes += (ulong)bytes;
        lane.LastMilliseconds = Environment.TickCount64;
        if (lane.PendingPackets >= CounterBatch)
            PublishInbound();
    }

    internal static void CountOutbound(OutboundLane lane, int bytes)
    {
        lane.PendingPackets++;
        lane.PendingBytes += (ulong)bytes;
        lane.LastMilliseconds = Environment.TickCount64;
    }

    /// <summary>Publishes the inbound lane. Inbound worker only.</summary>
    internal void PublishInbound()
    {
        CounterLane lane = InboundLane;
        if (lane.PendingPackets == 0)
            return;
        Interlocked.Add(ref _packetsIn, lane.PendingPackets);
        Interlocked.Add(ref _bytesIn, lane.PendingBytes);
        StoreMax(ref _lastInTicks, UtcTicks(lane.LastMilliseconds));
        lane.PendingPackets = 0;
        lane.PendingBytes = 0;
    }

    private void PublishOutbound(OutboundLane lane)
    {
        if (lane.PendingPackets == 0)
            return;
        Interlocked.Add(ref _packetsOut, lane.PendingPackets);
        Interlocked.Add(ref _bytesOut, lane.PendingBytes);
        StoreMax(ref _lastOutTicks, UtcTicks(lane.LastMilliseconds));
        lane.PendingPackets = 0;
        lane.PendingBytes = 0;
    }

    /// <summary>
    /// Publishes every pending counter: the inbound lane (so call it from the inbound worker, e.g. at
    /// the end of a receive batch) and each outbound lane (rented in turn, so safe beside senders).
    /// </summary>
    public void FlushCounters()
    {
        if (!TryAcquire())
            return;
        try
        {
            PublishInbound();
            int created = Volatile.Read(ref _laneCount);
            for (int i = 0; i < created; i++)
            {
                SpinWait spin = default;
                OutboundLane? lane;
                while ((lane = Interlocked.Exchange(ref _lanes[i], null)) is null)
                    spin.SpinOnce();
                PublishOutbound(lane);
                Volatile.Write(ref _lanes[i], lane);
            }
        }
        finally
        {
            Release();
        }
    }

    /// <summary>Published totals (pending lane counts appear after the next batch or flush).</summary>
    public SaCounters Snapshot() => new(
        Volatile.Read(ref _packetsIn),
        Volatile.Read(ref _bytesIn),
        Volatile.Read(ref _packetsOut),
        Volatile.Read(ref _bytesOut),
        Volatile.Read(ref _lastInTicks),
        Volatile.Read(ref _lastOutTicks));

    private static long UtcTicks(long tickCount64) =>
        DateTime.UtcNow.Ticks - Math.Max(0, Environment.TickCount64 - tickCount64) * TimeSpan.TicksPerMillisecond;

    private static void StoreMax(ref long target, long value)
    {
        long current;
        while ((current = Volatile.Read(ref target)) < value)
        {
            if (Interlocked.CompareExchange(ref target, value, current) == current)
                return;
        }
    }

    /// <summary>Takes a reference for one packet; false once the SA is being deleted.</summary>
    internal bool TryAcquire()
    {
        if (Volatile.Read(ref _disposed) != 0)
            return false; // packets already in flight finish; no new one starts
        while (true)
        {
            int refs = Volatile.Read(ref _refs);
            if (refs <= 0)
                return false;
            if (Interlocked.CompareExchange(ref _refs, refs + 1, refs) == refs)
                return true;
        }
    }

    internal void Release()
    {
        if (Interlocked.Decrement(ref _refs) == 0)
            Destroy();
    }

    internal bool IsDestroyed => Volatile.Read(ref _refs) <= 0;

    /// <summary>Drops the "installed" reference; keys are zeroed when the last in-flight packet is done.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
            Release();
    }

    private void Destroy()
    {
        InboundCipher?.Dispose();
        foreach (EspCipher? cipher in _allOutboundCiphers)
            cipher?.Dispose();
        foreach (byte[] key in _keys)
        {
            if (key is not null)
                CryptographicOperations.ZeroMemory(key);
        }
    }
}
