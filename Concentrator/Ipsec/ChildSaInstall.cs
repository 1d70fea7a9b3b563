using System.Net;

namespace Concentrator.Ipsec;

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

/// <summary>What the data plane asks of the control plane for one SA's outbound direction.</summary>
public enum SaRekeyHint
{
    None = 0,
    /// <summary>The soft sequence threshold was crossed: rekey now, traffic still flows.</summary>
    Soft = 1,
    /// <summary>The sequence space is exhausted: outbound packets are refused until the SA is replaced.</summary>
    Exhausted = 2,
}
