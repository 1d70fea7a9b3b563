using System.Net;

namespace Concentrator.Ipsec;

/// <summary>How ESP of one Child SA travels: inside UDP 4500 (RFC 3948) or as IP protocol 50.</summary>
public enum EspTransport
{
    UdpEncapsulated = 0,
    RawEsp = 1,
}

/// <summary>Which IPsec protocol a Child SA runs (RFC 7296 §3.3.1 protocol ID), in its <see cref="EspSuite"/>: ESP (RFC 4303)
/// or AH (RFC 4302, integrity only: the suite's encryption is <see cref="EncrAlgorithm.Null"/> and its encryption keys empty).</summary>
public enum IpsecProtocol
{
    Esp = 0,
    Ah = 1,
}

/// <summary>How ESP protects the packets of one Child SA (RFC 4303 §3.1): whole IP packets inside a new IP header (tunnel),
/// or the payload of packets between the two IKE endpoints themselves (transport, RFC 7296 §1.3.1 USE_TRANSPORT_MODE).</summary>
public enum IpsecMode
{
    Tunnel = 0,
    Transport = 1,
}

/// <summary>
/// Everything the data plane needs for one Child SA, both directions. Key arrays are owned by the
/// data plane once passed in: it zeroes them when the SA is deleted.
/// <see cref="OutboundSequenceStart"/> and <see cref="InboundSequenceFloor"/> are 0 for a new SA; an SA adopted from
/// another cluster node (failover) starts sending after the last sequence number that node may have used, and rejects
/// inbound sequence numbers at or below the last one that node is known to have accepted.
/// <see cref="InterfaceIdIn"/> and <see cref="InterfaceIdOut"/> are swanctl's if_id_in/if_id_out: 0 is the shared
/// interface and selector table; N &gt; 0 is the route-based interface ipsec&lt;N&gt; with its own selector table.
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
    ulong InboundSequenceFloor = 0,
    IpsecMode Mode = IpsecMode.Tunnel,
    uint InterfaceIdIn = 0,
    uint InterfaceIdOut = 0);

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
