using Concentrator.Ike.Wire;

namespace Concentrator.Ike.Proposals;

/// <summary>
/// Algorithms RFC 8247 (IKE) and RFC 8221 (ESP) deprecate: DES, 3DES, MD5, SHA-1 (integrity and PRF) and
/// MODP groups of 1024 bits and less. A proposal an operator writes with one of them is a configuration
/// error: this build implements none of them (<see cref="SupportedAlgorithms"/>), so there is no setting
/// that enables them, and silently dropping a keyword would hide that the peer's weak proposal can never
/// match. strongSwan's "default" lists still name 3des and sha1 for parity, but they are never offered.
/// </summary>
public static class WeakAlgorithms
{
    /// <summary>The first weak algorithm's keyword in <paramref name="proposal"/>, or null.</summary>
    public static string? Find(IkeProposal proposal)
    {
        ArgumentNullException.ThrowIfNull(proposal);
        foreach (var e in proposal.Encryption) if (IsWeak(e.Algorithm)) return ProposalKeywords.Name(e);
        foreach (var i in proposal.Integrity) if (IsWeak(i)) return ProposalKeywords.Name(i);
        foreach (var p in proposal.Prf) if (IsWeak(p)) return ProposalKeywords.Name(p);
        foreach (var g in proposal.Groups) if (IsWeak(g)) return ProposalKeywords.Name(g);
        return null;
    }

    /// <inheritdoc cref="Find(IkeProposal)"/>
    public static string? Find(EspProposal proposal)
    {
        ArgumentNullException.ThrowIfNull(proposal);
        foreach (var e in proposal.Encryption) if (IsWeak(e.Algorithm)) return ProposalKeywords.Name(e);
        foreach (var i in proposal.Integrity) if (IsWeak(i)) return ProposalKeywords.Name(i);
        foreach (var g in proposal.Groups) if (IsWeak(g)) return ProposalKeywords.Name(g);
        return null;
    }

    /// <summary>The configuration error for <paramref name="keyword"/> in proposal <paramref name="text"/>.</summary>
    public static string Refusal(string text, string keyword) =>
        $"proposal '{text}' uses the weak algorithm '{keyword}' (RFC 8247/8221): refused; this build implements no DES, 3DES, MD5, " +
        "SHA-1 or MODP-768/1024, so no setting enables them; remove it (e.g. use sha256, modp2048 or ecp256)";

    public static bool IsWeak(EncrAlgorithm a) => a is EncrAlgorithm.Des or EncrAlgorithm.TripleDes;
    public static bool IsWeak(IntegAlgorithm a) => a is IntegAlgorithm.HmacMd5_96 or IntegAlgorithm.HmacSha1_96;
    public static bool IsWeak(PrfAlgorithm a) => a is PrfAlgorithm.HmacMd5 or PrfAlgorithm.HmacSha1;
    public static bool IsWeak(DhGroup g) => g is DhGroup.Modp768 or DhGroup.Modp1024;
}
