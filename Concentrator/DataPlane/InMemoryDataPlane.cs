using System.Net;
using Concentrator.DataPlane.Esp;
using Concentrator.Ipsec;
using Concentrator.Telemetry;

namespace Concentrator.DataPlane;

/// <summary>
/// The ESP data plane without a kernel or socket: a <see cref="SaTable"/> and the <see cref="EspPipeline"/>, packets
/// passed in by <see cref="Encapsulate"/> / <see cref="Decapsulate"/> (tests, the demo, the simulated peer fleet).
/// Control operations are thread-safe. Packet operations follow <see cref="EspPacket"/>'s ownership: Encapsulate
/// from any thread; Decapsulate for one inbound SPI from one worker at a time. No transports, so no transport or
/// inner-selector check on the way in.
/// </summary>
public sealed partial class InMemoryDataPlane : IDataPlane, IDataPlaneMetricsSource, IUnknownSpiSource, IPeerMovedSource, IDisposable
{
    private readonly SaTable _sas = new();

    // Metrics: this plane acts as receive worker 0; counts are published as one batch per scrape.
    private SharedWorkerCounters? _counters;

    public void AttachMetrics(DataPlaneMetrics metrics) => Interlocked.Exchange(ref _counters, new SharedWorkerCounters(metrics, 0))?.Detach();

    public int InstalledCount => _sas.InstalledCount;

    /// <summary>Inbound SPIs of every installed SA (control-plane use: admin views, tests).</summary>
    public IReadOnlyCollection<uint> InstalledSpis() => _sas.InstalledSpis();

    public uint AllocateSpi() => _sas.AllocateSpi();

    public void ReleaseSpi(uint spi) => _sas.ReleaseSpi(spi);

    /// <summary>Builds and installs both directions. Throws on a duplicate SPI or unusable keys (control plane only).</summary>
    public void AddSa(ChildSaInstall sa) => _sas.Add(sa);

    public bool UpdateRemote(uint inboundSpi, IPEndPoint remote) => _sas.UpdateRemote(inboundSpi, remote);

    public bool DeleteSa(uint inboundSpi) => _sas.Delete(inboundSpi);

    public bool TryGetCounters(uint inboundSpi, out SaCounters counters) => _sas.TryGetCounters(inboundSpi, out counters);

    public SaRekeyHint GetRekeyHint(uint inboundSpi) => _sas.GetRekeyHint(inboundSpi);

    public bool SetOutboundCeiling(uint inboundSpi, ulong ceiling) => _sas.SetOutboundCeiling(inboundSpi, ceiling);

    public bool TryGetSequenceMarks(uint inboundSpi, out ulong lastOutbound, out ulong inboundTop) =>
        _sas.TryGetSequenceMarks(inboundSpi, out lastOutbound, out inboundTop);

    /// <summary>Publishes pending counters of one SA; call from the worker owning its inbound SPI.</summary>
    public bool FlushCounters(uint inboundSpi) => _sas.FlushCounters(inboundSpi);

    /// <summary>Publishes every SA's pending counters (control-plane use, e.g. after a traffic run).</summary>
    public void FlushAll() => _sas.FlushAll();

    /// <summary>Bytes of headroom the outbound direction of the SA needs before the inner packet (0 when unknown).</summary>
    public int OutboundHeadroom(uint inboundSpiOfSa)
        => !_sas.TryGet(inboundSpiOfSa, out EspSa sa) ? 0 : sa.Protocol == IpsecProtocol.Ah ? AhPacket.Overhead(sa) : sa.OutboundGeometry.HeaderLength;

    /// <summary>
    /// Encrypts <paramref name="innerPacket"/> for the SA whose inbound SPI is <paramref name="inboundSpiOfSa"/> into
    /// <paramref name="destination"/> (<see cref="EspPipeline.Seal"/>; destination[headroom..] as the inner packet makes
    /// this fully in place).
    /// </summary>
    public EspStatus Encapsulate(uint inboundSpiOfSa, ReadOnlySpan<byte> innerPacket, Span<byte> destination, out int written)
    {
        written = 0;
        if (!_sas.TryGet(inboundSpiOfSa, out EspSa sa))
            return EspStatus.UnknownSpi;
        long sample = _counters?.SampleStart() ?? 0;
        EspStatus status = EspPipeline.Seal(sa, innerPacket, destination, out written);
        // UnknownSpi here: the SA was being deleted, which, like a missing SA, is no packet of ours to count.
        if (status != EspStatus.UnknownSpi) _counters?.Outbound(status, written, sample);
        return status;
    }

    /// <summary>
    /// Decrypts an ESP packet in place, looking the SA up by the packet's SPI (<see cref="EspPipeline.Open(SaTable, Span{byte}, out Range)"/>).
    /// On <see cref="EspStatus.Ok"/> <paramref name="inner"/> locates the inner IP packet in <paramref name="espPacket"/>.
    /// Call for one inbound SPI from one worker at a time.
    /// </summary>
    public EspStatus Decapsulate(Span<byte> espPacket, out Range inner)
    {
        long sample = _counters?.SampleStart() ?? 0;
        EspStatus status = EspPipeline.Open(_sas, espPacket, out inner);
        _counters?.Inbound(status, espPacket.Length, sample);
        return status;
    }

    /// <summary>
    /// As <see cref="Decapsulate(Span{byte}, out Range)"/> for ESP-in-UDP that arrived from <paramref name="from"/> (IPv4 or
    /// IPv6): a new, authenticated packet of a UDP-encapsulated SA from another endpoint is reported to
    /// <see cref="OnPeerMoved"/>, as the Linux plane reports it (<see cref="EspPipeline.OpenFrom"/>).
    /// </summary>
    public EspStatus Decapsulate(Span<byte> espPacket, IPEndPoint from, out Range inner)
    {
        var address = from.Address.IsIPv4MappedToIPv6 ? from.Address.MapToIPv4() : from.Address;
        Span<byte> bytes = stackalloc byte[16];
        if (!address.TryWriteBytes(bytes, out int length) || length is not (4 or 16))
            return Decapsulate(espPacket, out inner);
        long sample = _counters?.SampleStart() ?? 0;
        EspStatus status = length == 16
            ? EspPipeline.OpenFrom6(_sas, espPacket, System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(bytes), (ushort)from.Port, out inner)
            : EspPipeline.OpenFrom(_sas, espPacket, System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(bytes), (ushort)from.Port, out inner);
        _counters?.Inbound(status, espPacket.Length, sample);
        return status;
    }

    public void OnUnknownSpi(UnknownSpiHandler report) => _sas.OnUnknownSpi(report);

    public void OnPeerMoved(Action<uint, IPEndPoint> report) => _sas.OnPeerMoved(report);

    internal bool TryGetSa(uint inboundSpi, out EspSa sa) => _sas.TryGet(inboundSpi, out sa);

    public void Dispose() => _sas.Dispose();
}
