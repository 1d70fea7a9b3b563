using System.Net;
using System.Security.Cryptography;
using Concentrator.Ike.Attributes;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Crypto;
using Concentrator.Ipsec;

namespace Concentrator.Cluster.Replication;

/// <summary>
/// Everything another cluster node needs to continue one IKE SA and its Child SAs without renegotiation: the state after
/// the last completed exchange (transient negotiation state — a request of ours in flight, queued exchanges, rekey
/// collisions — is not in it). Holds key material: <see cref="Dispose"/> zeroes every key and nonce array. Only ever kept
/// in memory and sent between cluster nodes (<see cref="IkeSaSnapshotCodec"/>); never written to disk.
/// </summary>
public sealed class IkeSaSnapshot : IDisposable
{
    public required ulong SpiI { get; init; }
    public required ulong SpiR { get; init; }
    public required bool IsInitiator { get; init; }
    public ulong OurSpi => IsInitiator ? SpiI : SpiR;

    /// <summary>Established, or Connecting for a responder between IKE_SA_INIT and IKE_AUTH (half-open).</summary>
    public required IkeSaState State { get; init; }

    /// <summary>The connection's config name; "" for a half-open responder (its <see cref="Candidates"/> are listed instead).</summary>
    public required string Connection { get; init; }

    /// <summary>Half-open responder: the connections IKE_AUTH may still pick from (by identity), in config order.</summary>
    public IReadOnlyList<string> Candidates { get; init; } = [];

    public required IPEndPoint Local { get; init; }
    public required IPEndPoint Remote { get; init; }
    public bool NatT { get; init; }
    public bool NatDetected { get; init; }
    public bool BehindNat { get; init; }

    /// <summary>The peer announced IKE fragmentation (RFC 7383): large messages keep going as fragments after a move.</summary>
    public bool PeerSupportsFragmentation { get; init; }

    /// <summary>MOBIKE was negotiated (RFC 4555): the peer's UPDATE_SA_ADDRESSES keeps moving the SA after a move between nodes.</summary>
    public bool PeerSupportsMobike { get; init; }

    /// <summary>The SA's initiator (of its last IKE rekey) is not the original initiator of the tunnel (MOBIKE's roles).</summary>
    public bool RolesSwapped { get; init; }

    /// <summary><c>IkeSa.StateVersion</c> when taken: a replica keeps the snapshot with the highest version.</summary>
    public long StateVersion { get; init; }

    /// <summary>When the IKE SA was established (or rekeyed); the host's IKE lifetime timers count from it.</summary>
    public DateTime EstablishedUtc { get; init; }

    /// <summary>Null for a half-open responder (not authenticated yet).</summary>
    public Identity? LocalId { get; init; }
    public Identity? RemoteId { get; init; }

    /// <summary>The identity the peer proved by EAP (the SA's user); null when it did not log in by EAP.</summary>
    public Identity? EapIdentity { get; init; }

    /// <summary>How the peer logged in (responder: psk, pubkey or its EAP method); null for an initiator SA.</summary>
    public string? LoginMethod { get; init; }

    public required IkeSuite Suite { get; init; }

    /// <summary>SK_d, SK_ai/ar, SK_ei/er, SK_pi/pr; owned by this snapshot.</summary>
    public required IkeKeys Keys { get; init; }

    /// <summary>Half-open responder only (IKE_AUTH's AUTH payloads and first child need them); empty otherwise.</summary>
    public byte[] NonceI { get; init; } = [];
    public byte[] NonceR { get; init; } = [];
    public byte[] InitRequest { get; init; } = [];
    public byte[] InitResponse { get; init; } = [];

    /// <summary>
    /// Message ID of our next request. If a request of ours was in flight when the snapshot was taken, this is that
    /// request's ID, and the restored SA sends its next request (a new one) under it. A peer that never got the lost
    /// request processes the new one normally. A peer that did process it takes the new one for a retransmission
    /// (RFC 7296 §2.1) and sends its cached response again: strongSwan matches by message ID alone, so the restored SA
    /// gets the answer to the lost request, accepted if the exchange type is the same (a DPD after a DPD, a Delete after
    /// a Delete) and dropped otherwise, after which the new request times out and the IKE SA closes. A peer that also
    /// compares the request bytes (this implementation) ignores the new request, with the same end. Hosts therefore
    /// replicate on every <c>IkeSa.StateVersion</c> change, which follows each completed exchange.
    /// </summary>
    public uint NextRequestId { get; init; }

    /// <summary>Message ID the peer's next request must carry.</summary>
    public uint PeerNextRequestId { get; init; }

    /// <summary>Our last response with its request, so a retransmission of the peer's last request is still answered.</summary>
    public CachedIkeResponse? LastResponse { get; init; }

    public IReadOnlyList<ChildSaSnapshot> Children { get; init; } = [];

    /// <summary>The SA's virtual IPs: leased to the peer from a pool (the adopter holds the lease in its own pools), or, with
    /// pool "", assigned to us by the peer.</summary>
    public IReadOnlyList<VirtualIp> VirtualIps { get; init; } = [];

    public void Dispose()
    {
        Keys.Dispose();
        CryptographicOperations.ZeroMemory(NonceI);
        CryptographicOperations.ZeroMemory(NonceR);
        foreach (var child in Children) child.ZeroKeys();
    }
}

/// <summary>The response we sent to the peer's request <paramref name="MessageId"/>, with that request's bytes.</summary>
public sealed record CachedIkeResponse(uint MessageId, byte[] Request, byte[] Response);

/// <summary>
/// One Child SA of an <see cref="IkeSaSnapshot"/>: its keys (the snapshot's own copies, zeroed with it), selectors and the
/// data plane's sequence-number marks when taken. <see cref="OutboundSequenceMark"/> is the last outbound sequence number
/// used; the adopting node starts past it by a margin. <see cref="InboundSequenceFloor"/> is the highest inbound one
/// accepted.
/// </summary>
public sealed record ChildSaSnapshot(string Child, uint InboundSpi, uint OutboundSpi, EspSuite Suite,
    byte[] InboundEncryptionKey, byte[] InboundIntegrityKey, byte[] OutboundEncryptionKey, byte[] OutboundIntegrityKey,
    IReadOnlyList<TrafficSelector> LocalTs, IReadOnlyList<TrafficSelector> RemoteTs, EspTransport Transport, int ReplayWindow,
    DateTime CreatedUtc, ulong OutboundSequenceMark, ulong InboundSequenceFloor)
{
    /// <summary>A completed rekey replaced this child; it only awaits its Delete (ours, or the peer's if <see cref="Successor"/> is set).</summary>
    public bool Replaced { get; init; }

    /// <summary>The IPsec mode negotiated (tunnel unless USE_TRANSPORT_MODE was agreed); an adopter keeps it.</summary>
    public IpsecMode Mode { get; init; }

    /// <summary>
    /// Rekey responder: inbound SPI of the successor that starts sending once the peer deletes this child (installed
    /// inbound-only until then); 0 when none.
    /// </summary>
    public uint Successor { get; init; }

    internal void ZeroKeys()
    {
        CryptographicOperations.ZeroMemory(InboundEncryptionKey);
        CryptographicOperations.ZeroMemory(InboundIntegrityKey);
        CryptographicOperations.ZeroMemory(OutboundEncryptionKey);
        CryptographicOperations.ZeroMemory(OutboundIntegrityKey);
    }
}
