using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using Concentrator.DataPlane.Esp;
using Concentrator.Ipsec;

namespace Concentrator.DataPlane;

/// <summary>
/// The installed Child SAs of one data plane, keyed by inbound SPI, and the SPIs handed out for SAs still being
/// negotiated. Every plane keeps its SAs here (the in-memory plane and the Linux plane alike).
/// Thread-safety: control-plane calls may come from any actor at once; the packet path reads lock-free
/// (<see cref="TryGetInbound"/>, <see cref="TryGet"/>: ConcurrentDictionary.TryGetValue, no allocation for uint keys).
/// An SA removed here is disposed; its keys are zeroed once the last packet in flight on it releases it (<see cref="EspSa"/>).
/// </summary>
public sealed class SaTable : IDisposable
{
    /// <summary>RFC 4303 §2.1: 1..255 are reserved by IANA, 0 is never sent.</summary>
    private const uint ReservedSpiMax = 255;

    private readonly ConcurrentDictionary<uint, EspSa> _sas = new();
    // SPIs handed out by AllocateSpi and not yet installed or released.
    private readonly ConcurrentDictionary<uint, byte> _allocated = new();
    private UnknownSpiHandler? _unknownSpis;
    private PeerMovedReporter? _peerMoved;

    public int InstalledCount => _sas.Count;

    /// <summary>Inbound SPIs of every installed SA (control-plane use: admin views, tests, teardown).</summary>
    public IReadOnlyCollection<uint> InstalledSpis() => _sas.Keys.ToList();

    /// <summary>A fresh inbound SPI, unique among installed and allocated SPIs, never 0..255 (RFC 4303 §2.1).</summary>
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
                // An Add may have installed the same SPI between the two checks.
                if (!_sas.ContainsKey(spi))
                    return spi;
                _allocated.TryRemove(spi, out _);
            }
        }
    }

    public void ReleaseSpi(uint spi) => _allocated.TryRemove(spi, out _);

    /// <summary>Builds and installs both directions. Throws on a reserved or duplicate SPI or unusable keys (control plane only).</summary>
    public EspSa Add(ChildSaInstall sa)
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
        return built;
    }

    public bool UpdateRemote(uint inboundSpi, IPEndPoint remote)
    {
        ArgumentNullException.ThrowIfNull(remote);
        if (!_sas.TryGetValue(inboundSpi, out EspSa? sa))
            return false;
        sa.UpdateRemote(remote);
        return true;
    }

    /// <summary>Removes the SA and drops its installed reference. False when unknown.</summary>
    public bool Delete(uint inboundSpi)
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

    /// <summary>
    /// ESP for inbound SPIs not installed here is handed to <paramref name="report"/> (see <see cref="IUnknownSpiSource"/>);
    /// replaces an earlier handler.
    /// </summary>
    public void OnUnknownSpi(UnknownSpiHandler report) => _unknownSpis = report;

    /// <summary>
    /// Authenticated, new ESP from another address than its SA sends to is handed to <paramref name="report"/> (see
    /// <see cref="IPeerMovedSource"/>); replaces an earlier handler.
    /// </summary>
    public void OnPeerMoved(Action<uint, IPEndPoint> report) => _peerMoved = new PeerMovedReporter(report);

    /// <summary>Packet path (<see cref="EspPipeline"/>): the SA's peer sent authenticated, new ESP from another endpoint.</summary>
    internal void ReportPeerMoved(uint spi, uint address, ushort port) => _peerMoved?.Report(spi, address, port);

    internal void ReportPeerMoved(uint spi, UInt128 address6, ushort port) => _peerMoved?.Report(spi, address6, port);

    /// <summary>Control-plane lookup by inbound SPI.</summary>
    public bool TryGet(uint inboundSpi, out EspSa sa)
    {
        bool found = _sas.TryGetValue(inboundSpi, out EspSa? value);
        sa = value!;
        return found;
    }

    /// <summary>Packet-path lookup of an arriving <paramref name="packet"/>'s SPI: a miss goes to the <see cref="OnUnknownSpi"/> handler.</summary>
    public bool TryGetInbound(uint spi, ReadOnlySpan<byte> packet, out EspSa sa)
    {
        if (_sas.TryGetValue(spi, out EspSa? value))
        {
            sa = value;
            return true;
        }
        _unknownSpis?.Invoke(spi, packet);
        sa = null!;
        return false;
    }

    public void Dispose()
    {
        foreach (uint spi in _sas.Keys)
            Delete(spi);
    }
}
