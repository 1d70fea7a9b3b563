using System.Net;
using Concentrator.Ipsec;

namespace Concentrator.DataPlane;

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
    /// Publishes the SA's per-thread pending counts (a plane batches them, <see cref="TryGetCounters"/> lags by up to a
    /// batch per thread) so its totals are whole: called just before the SA is deleted (RADIUS accounting's Stop). Planes
    /// that count directly: no-op.
    /// </summary>
    bool FlushCounters(uint inboundSpi) => false;

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

