using System.Net;
using Concentrator.Ike.Crypto;
using Concentrator.Ike.Wire;

namespace Concentrator.DataPlane;

/// <summary>How ESP of one Child SA travels: inside UDP 4500 (RFC 3948) or as IP protocol 50.</summary>
public enum EspTransport
{
    UdpEncapsulated = 0,
    RawEsp = 1,
}

/// <summary>
/// Everything the data plane needs for one Child SA, both directions. Key arrays are owned by the
/// data plane once passed in: it zeroes them when the SA is deleted.
/// <see cref="OutboundSequenceStart"/> and <see cref="InboundSequenceFloor"/> are 0 for a new SA; an SA adopted from
/// another cluster node (failover) starts sending after the last sequence number that node may have used, and rejects
/// inbound sequence numbers at or below the last one that node is known to have accepted.
/// </summary>
public sealed record ChildSaInstall(
    uint InboundSpi,
    uint OutboundSpi,
    EspSuite Suite,
    byte[] InboundEncryptionKey,
    byte[] InboundIntegrityKey,
    byte[] OutboundEncryptionKey,
    byte[] OutboundIntegrityKey,
    IReadOnlyList<TrafficSelector> LocalTs,
    IReadOnlyList<TrafficSelector> RemoteTs,
    IPEndPoint LocalEndpoint,
    IPEndPoint RemoteEndpoint,
    EspTransport Transport,
    int ReplayWindow,
    string Connection,
    string Child,
    bool OutboundActive = true,
    ulong OutboundSequenceStart = 0,
    ulong InboundSequenceFloor = 0);

/// <summary>Per-SA totals. LastInbound/LastOutbound are UTC ticks, 0 when never used.</summary>
public readonly record struct SaCounters(
    ulong PacketsIn,
    ulong BytesIn,
    ulong PacketsOut,
    ulong BytesOut,
    long LastInboundTicks,
    long LastOutboundTicks);

/// <summary>
/// The narrow seam between the control plane (actors) and the packet path. Actors call these on
/// SA establishment and deletion; no ESP packet ever crosses this interface. Implementations are
/// thread-safe for these calls; the packet path itself never calls back into actors per packet.
/// </summary>
public interface IDataPlane
{
    /// <summary>A fresh inbound SPI, unique among installed and allocated SPIs, never 0..255 (RFC 4303 §2.1).</summary>
    uint AllocateSpi();

    /// <summary>Returns an allocated SPI that was never installed (negotiation failed).</summary>
    void ReleaseSpi(uint spi);

    void AddSa(ChildSaInstall sa);

    /// <summary>Peer moved (NAT mapping changed, RFC 3948 / RFC 7296 §2.23): update the outbound address.</summary>
    bool UpdateRemote(uint inboundSpi, IPEndPoint remote);

    /// <summary>Removes both directions of the SA and zeroes its keys. False when unknown.</summary>
    bool DeleteSa(uint inboundSpi);

    bool TryGetCounters(uint inboundSpi, out SaCounters counters);

    /// <summary>
    /// Starts sending on an SA installed with <see cref="ChildSaInstall.OutboundActive"/> false (a rekey
    /// responder's new SA, activated once the old one is deleted). Planes without outbound selection: no-op.
    /// </summary>
    bool ActivateOutbound(uint inboundSpi) => true;

    int InstalledCount { get; }

    /// <summary>
    /// The SA's last outbound sequence number handed out and the highest inbound one accepted (replicated so another
    /// node can adopt the SA). Planes without ESP state: false.
    /// </summary>
    bool TryGetSequenceMarks(uint inboundSpi, out ulong lastOutbound, out ulong inboundTop)
    {
        lastOutbound = inboundTop = 0;
        return false;
    }

    /// <summary>
    /// Caps the SA's outbound sequence numbers (packets beyond are refused, counted as seq_ceiling) at what another node
    /// adopting the SA would start above: the mark of the snapshot just replicated plus the adoption margin.
    /// </summary>
    bool SetOutboundCeiling(uint inboundSpi, ulong ceiling) => false;

    /// <summary>
    /// Whether the SA's outbound sequence space asks for a rekey (RFC 4303 §3.3.3). Polled by the
    /// control plane; the packet path only raises the flag. Default for planes without ESP state.
    /// </summary>
    SaRekeyHint GetRekeyHint(uint inboundSpi) => SaRekeyHint.None;
}

/// <summary>What the data plane asks of the control plane for one SA's outbound direction.</summary>
public enum SaRekeyHint
{
    None = 0,
    /// <summary>The soft sequence threshold was crossed: rekey now, traffic still flows.</summary>
    Soft = 1,
    /// <summary>The sequence space is exhausted: outbound packets are refused until the SA is replaced.</summary>
    Exhausted = 2,
}
