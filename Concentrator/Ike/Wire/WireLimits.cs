namespace Concentrator.Ike.Wire;

/// <summary>
/// Upper bounds the decoder enforces on peer input (exceeding one yields <see cref="ParseStatus.TooManyItems"/>).
/// These are TUNABLES, not protocol facts: RFC 7296 sets no limit, these only cap the work and memory one
/// datagram can cost us. They are generous for every real peer (strongSwan sends well under ten of each).
/// </summary>
public static class WireLimits
{
    /// <summary>Tunable: payloads in one chain (the outer message, or the contents of one SK payload); the default
    /// of charon.max_payloads, which a node passes to <see cref="IkeCodec"/> (exceeding it: <see cref="ParseStatus.TooManyPayloads"/>).</summary>
    public const int MaxPayloadsPerMessage = 64;

    /// <summary>Tunable: proposals in one SA payload.</summary>
    public const int MaxProposals = 64;

    /// <summary>Tunable: transforms in one proposal (the Num Transforms field allows 255).</summary>
    public const int MaxTransformsPerProposal = 64;

    /// <summary>Tunable: traffic selectors in one TS payload (the Number of TSs field allows 255).</summary>
    public const int MaxTrafficSelectors = 64;

    /// <summary>Tunable: attributes in one CP payload.</summary>
    public const int MaxConfigAttributes = 64;
}
