using System.Net;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Crypto;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Tasks.V1;

/// <summary>
/// What an established IKEv1 phase 1 SA gives quick mode (RFC 2409 §5.5): its PRF and SKEYID_a/SKEYID_d, the phase 1
/// endpoints (the selectors of absent IDs), whether NAT-T floated (RFC 3947: UDP-encapsulated modes then, ESP in UDP
/// 4500), the connection's children, SPIs from the data plane and nonces.
/// </summary>
public interface IQuickModeContext
{
    Prf Prf { get; }
    byte[] SkeyidA { get; }
    byte[] SkeyidD { get; }
    IPEndPoint LocalEndpoint { get; }
    IPEndPoint RemoteEndpoint { get; }
    /// <summary>Phase 1 detected a NAT (or the peer faked one, strongSwan's encap = yes): ESP travels in UDP.</summary>
    bool NatDetected { get; }
    /// <summary>NAT-T was negotiated with the draft vendor IDs: the draft encapsulation values are used.</summary>
    bool DraftNatT { get; }
    string ConnectionName { get; }
    IReadOnlyCollection<ChildConfig> Children { get; }
    uint AllocateSpi();
    void ReleaseSpi(uint spi);
    byte[] NewNonce();
}

/// <summary>A negotiated quick mode Child SA: what the data plane installs, and what its lifetimes and a rekey need.</summary>
public sealed record QuickModeChild(ChildConfig Child, ChildSaInstall Install, EspSuite Suite, Proposals.V1EspTerms Terms)
{
    public uint InboundSpi => Install.InboundSpi;
    public uint OutboundSpi => Install.OutboundSpi;
}

/// <summary>The states of one quick mode exchange; <see cref="QuickModeTask"/> moves only along the checked transitions.</summary>
public enum QuickModeState
{
    /// <summary>Nothing sent or received yet.</summary>
    Idle = 0,
    /// <summary>Initiator: message 1 sent, waiting for the responder's message 2.</summary>
    AwaitingReply = 1,
    /// <summary>Responder: message 2 sent (the inbound SA installed), waiting for HASH(3).</summary>
    AwaitingHash3 = 2,
    /// <summary>Both directions installed.</summary>
    Established = 3,
    /// <summary>Refused or given up; nothing of it stays installed.</summary>
    Failed = 4,
}
