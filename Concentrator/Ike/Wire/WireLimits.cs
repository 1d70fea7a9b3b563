namespace Concentrator.Ike.Wire;

/// <summary>
/// Upper bounds the decoder enforces on peer input (exceeding one yields <see cref="ParseStatus.TooManyItems"/>).
/// Bounds of ours, not protocol facts: RFC 7296 sets no limit, these only cap the work and memory one datagram can
/// cost us. They are fixed in code (only the payload count is configurable, as charon.max_payloads) and generous for
/// every real peer (strongSwan sends well under ten of each).
/// </summary>
public static class WireLimits
{
    /// <summary>Payloads in one chain (the outer message, or the contents of one SK payload); the default
    /// of charon.max_payloads, which a node passes to <see cref="IkeCodec"/> (exceeding it: <see cref="ParseStatus.TooManyPayloads"/>).</summary>
    public const int MaxPayloadsPerMessage = 64;

    /// <summary>Proposals in one SA payload.</summary>
    public const int MaxProposals = 64;

    /// <summary>Transforms in one proposal (the Num Transforms field allows 255).</summary>
    public const int MaxTransformsPerProposal = 64;

    /// <summary>Traffic selectors in one TS payload (the Number of TSs field allows 255).</summary>
    public const int MaxTrafficSelectors = 64;

    /// <summary>Attributes in one CP payload.</summary>
    public const int MaxConfigAttributes = 64;

    /// <summary>Total Fragments of one fragmented message (RFC 7383; the field allows 65535): strongSwan's MAX_FRAGMENTS.
    /// The reassembled size is bounded apart, by charon.max_packet.</summary>
    public const int MaxFragments = 255;
}
