using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using Concentrator.DataPlane.Esp;
using Concentrator.Telemetry;
using Concentrator.Ipsec;

namespace Concentrator.DataPlane;

/// <summary>
/// The ESP data plane without a kernel or socket: SAs live in a lock-free SPI map, packets go
/// through <see cref="Encapsulate"/> / <see cref="Decapsulate"/> (used by tests and the demo).
/// Control operations are thread-safe. Packet operations follow <see cref="EspPacket"/>'s
/// ownership: Encapsulate from any thread; Decapsulate for one inbound SPI from one worker at a time.
/// </summary>
public sealed class InMemoryDataPlane : IDataPlane, IDataPlaneMetricsSource, IUnknownSpiSource, IDisposable
{
    // Metrics: this plane acts as receive worker 0; counts are published as one batch per scrape.
    private SharedWorkerCounters? _counters;

    public void AttachMetrics(DataPlaneMetrics metrics) => Interlocked.Exchange(ref _counters, new SharedWorkerCounters(metrics, 0))?.Detach();

    // Reads on the packet path are lock-free (ConcurrentDictionary.TryGetValue, no allocation for uint keys).
    private readonly ConcurrentDictionary<uint, EspSa> _sas = new();
    // SPIs handed out by AllocateSpi and not yet installed or released.
    private readonly ConcurrentDictionary<uint, byte> _allocated = new();

    /// <summary>RFC 4303 §2.1: 1..255 are reserved by IANA, 0 is never sent.</summary>
    private const uint ReservedSpiMax = 255;

    public int InstalledCount => _sas.Count;

    /// <summary>Inbound SPIs of every installed SA (control-plane use: admin views, tests).</summary>
    public IReadOnlyCollection<uint> InstalledSpis() => _sas.Keys.ToList();

    public uint AllocateSpi()
    {
        Span<byte> random = stackalloc byte[4];
        while (true)
        {
            RandomNumberGenerator.Fill(random);
            uint spi = BinaryPrimitives.ReadUInt32BigEndian(random);
            if (spi <= ReservedSpiMax || _sas.ContainsKey(spi))
                continue;
            if (_allocated.TryAdd(spi, 0))
            {
                // An AddSa may have installed the same SPI between the two checks.
                if (!_sas.ContainsKey(spi))
                    return spi;
                _allocated.TryRemove(spi, out _);
            }
        }
    }

    public void ReleaseSpi(uint spi) => _allocated.TryRemove(spi, out _);

    /// <summary>Builds and installs both directions. Throws on a duplicate SPI or unusable keys (control plane only).</summary>
    public void AddSa(ChildSaInstall sa)
    {
        ArgumentNullException.ThrowIfNull(sa);
        if (sa.InboundSpi <= ReservedSpiMax)
            throw new ArgumentException($"Inbound SPI {sa.InboundSpi} is reserved (RFC 4303 §2.1).", nameof(sa));
        if (sa.OutboundSpi <= ReservedSpiMax)
            throw new ArgumentException($"Outbound SPI {sa.OutboundSpi} is reserved (RFC 4303 §2.1).", nameof(sa));
        var built = new EspSa(sa);
        if (!_sas.TryAdd(sa.InboundSpi, built))
        {
            built.Dispose();
            throw new InvalidOperationException($"An SA with inbound SPI 0x{sa.InboundSpi:x8} is already installed.");
        }
        _allocated.TryRemove(sa.InboundSpi, out _);
    }

    public bool UpdateRemote(uint inboundSpi, IPEndPoint remote)
    {
        ArgumentNullException.ThrowIfNull(remote);
        if (!_sas.TryGetValue(inboundSpi, out EspSa? sa))
            return false;
        sa.UpdateRemote(remote);
        return true;
    }

    public bool DeleteSa(uint inboundSpi)
    {
        if (!_sas.TryRemove(inboundSpi, out EspSa? sa))
            return false;
        sa.Dispose(); // keys are zeroed once no packet is in flight on this SA
        return true;
    }

    public bool TryGetCounters(uint inboundSpi, out SaCounters counters)
    {
        if (_sas.TryGetValue(inboundSpi, out EspSa? sa))
        {
            counters = sa.Snapshot();
            return true;
        }
        counters = default;
        return false;
    }

    public SaRekeyHint GetRekeyHint(uint inboundSpi)
        => _sas.TryGetValue(inboundSpi, out EspSa? sa) ? sa.RekeyHint : SaRekeyHint.None;

    public bool SetOutboundCeiling(uint inboundSpi, ulong ceiling)
    {
        if (!_sas.TryGetValue(inboundSpi, out EspSa? sa)) return false;
        sa.SetOutboundCeiling(ceiling);
        return true;
    }

    /// <summary>The inbound top is read without the worker's ownership: a value at most one batch old, enough for replication.</summary>
    public bool TryGetSequenceMarks(uint inboundSpi, out ulong lastOutbound, out ulong inboundTop)
    {
        if (_sas.TryGetValue(inboundSpi, out EspSa? sa))
        {
            lastOutbound = sa.LastOutboundSequence;
            inboundTop = sa.Window.Top;
            return true;
        }
        lastOutbound = inboundTop = 0;
        return false;
    }

    /// <summary>Publishes pending counters of one SA; call from the worker owning its inbound SPI.</summary>
    public bool FlushCounters(uint inboundSpi)
    {
        if (!_sas.TryGetValue(inboundSpi, out EspSa? sa))
            return false;
        sa.FlushCounters();
        return true;
    }

    /// <summary>Publishes every SA's pending counters (control-plane use, e.g. after a traffic run).</summary>
    public void FlushAll()
    {
        foreach (var sa in _sas.Values) sa.FlushCounters();
    }

    /// <summary>Bytes of headroom the outbound direction of the SA needs before the inner packet (0 when unknown).</summary>
    public int OutboundHeadroom(uint inboundSpiOfSa)
        => _sas.TryGetValue(inboundSpiOfSa, out EspSa? sa) ? sa.OutboundGeometry.HeaderLength : 0;

    /// <summary>
    /// Encrypts <paramref name="innerPacket"/> for the SA whose inbound SPI is
    /// <paramref name="inboundSpiOfSa"/> into <paramref name="destination"/>. The inner packet is
    /// copied to the headroom offset first; passing destination[headroom..] as the inner packet
    /// makes this fully in place.
    /// </summary>
    public EspStatus Encapsulate(uint inboundSpiOfSa, ReadOnlySpan<byte> innerPacket, Span<byte> destination, out int written)
    {
        written = 0;
        if (!_sas.TryGetValue(inboundSpiOfSa, out EspSa? sa) || !sa.TryAcquire())
            return EspStatus.UnknownSpi;
        EspStatus status;
        long sample = _counters?.SampleStart() ?? 0;
        int headroom = sa.OutboundGeometry.HeaderLength;
        if (innerPacket.IsEmpty)
            status = EspStatus.BadInnerPacket;
        else if (destination.Length < headroom + innerPacket.Length)
            status = EspStatus.BufferTooSmall;
        else
        {
            innerPacket.CopyTo(destination.Slice(headroom)); // memmove semantics: overlap is fine
            status = EspPacket.Encapsulate(sa, destination, innerPacket.Length, out written);
        }
        sa.Release();
        _counters?.Outbound(status, written, sample);
        return status;
    }

    /// <summary>
    /// Decrypts an ESP packet in place, looking the SA up by the packet's SPI. On
    /// <see cref="EspStatus.Ok"/> <paramref name="inner"/> locates the inner IP packet in
    /// <paramref name="espPacket"/>. Call for one inbound SPI from one worker at a time.
    /// </summary>
    public EspStatus Decapsulate(Span<byte> espPacket, out Range inner)
    {
        long sample = _counters?.SampleStart() ?? 0;
        EspStatus status = DecapsulateCore(espPacket, out inner);
        _counters?.Inbound(status, espPacket.Length, sample);
        return status;
    }

    private EspStatus DecapsulateCore(Span<byte> espPacket, out Range inner)
    {
        inner = default;
        if (espPacket.Length < EspPacket.HeaderLength)
            return EspStatus.Truncated;
        uint spi = BinaryPrimitives.ReadUInt32BigEndian(espPacket);
        if (!_sas.TryGetValue(spi, out EspSa? sa))
        {
            _unknownSpis?.Report(spi);
            return EspStatus.UnknownSpi;
        }
        if (!sa.TryAcquire())
            return EspStatus.UnknownSpi;
        EspStatus status = EspPacket.Decapsulate(sa, espPacket, out inner);
        sa.Release();
        return status;
    }

    private UnknownSpiReporter? _unknownSpis;

    public void OnUnknownSpi(Action<uint> report) => _unknownSpis = new UnknownSpiReporter(report);

    internal bool TryGetSa(uint inboundSpi, out EspSa sa)
    {
        bool found = _sas.TryGetValue(inboundSpi, out EspSa? value);
        sa = value!;
        return found;
    }

    public void Dispose()
    {
        foreach (uint spi in _sas.Keys)
            DeleteSa(spi);
    }
}
