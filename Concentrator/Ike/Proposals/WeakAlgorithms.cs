using Concentrator.Ipsec;

namespace Concentrator.Ike.Proposals;

/// <summary>
/// Algorithms RFC 8247 (IKE) and RFC 8221 (ESP) deprecate, in two classes:
/// <list type="bullet">
/// <item>weak — 3DES, SHA-1 (integrity and PRF), MODP-1024: implemented for legacy peers, usable only in the
/// proposals of a connection with <c>weak_algorithms: yes</c>, which logs a warning at start;</item>
/// <item>broken — DES, MD5, MODP-768: never implemented, refused with every setting.</item>
/// </list>
/// A proposal naming one of them without the opt-in is a configuration error rather than a silently dropped
/// keyword, which would hide that a legacy peer's proposal can never match. strongSwan's "default" lists name
/// 3des and sha1; <see cref="ProposalSelector"/> never offers or selects a weak algorithm from them.
/// </summary>
public static class WeakAlgorithms
{
    /// <summary>The connection key that enables the weak (not the broken) algorithms.</summary>
    public const string ConfigKey = "weak_algorithms";

    /// <summary>The first weak or broken algorithm's keyword in <paramref name="proposal"/>, or null.</summary>
    public static string? Find(IkeProposal proposal) => All(proposal, brokenOnly: false).FirstOrDefault();

    /// <inheritdoc cref="Find(IkeProposal)"/>
    public static string? Find(EspProposal proposal) => All(proposal, brokenOnly: false).FirstOrDefault();

    /// <summary>The first broken algorithm's keyword in <paramref name="proposal"/>, or null.</summary>
    public static string? FindBroken(IkeProposal proposal) => All(proposal, brokenOnly: true).FirstOrDefault();

    /// <inheritdoc cref="FindBroken(IkeProposal)"/>
    public static string? FindBroken(EspProposal proposal) => All(proposal, brokenOnly: true).FirstOrDefault();

    /// <summary>Every weak or broken algorithm's keyword in <paramref name="proposal"/>, in proposal order.</summary>
    public static IEnumerable<string> All(IkeProposal proposal) => All(proposal, brokenOnly: false);

    /// <inheritdoc cref="All(IkeProposal)"/>
    public static IEnumerable<string> All(EspProposal proposal) => All(proposal, brokenOnly: false);

    private static IEnumerable<string> All(IkeProposal proposal, bool brokenOnly)
    {
        ArgumentNullException.ThrowIfNull(proposal);
        foreach (var e in proposal.Encryption) if (Matches(e.Algorithm, brokenOnly)) yield return ProposalKeywords.Name(e);
        foreach (var i in proposal.Integrity) if (Matches(i, brokenOnly)) yield return ProposalKeywords.Name(i);
        foreach (var p in proposal.Prf) if (Matches(p, brokenOnly)) yield return ProposalKeywords.Name(p);
        foreach (var g in proposal.Groups) if (Matches(g, brokenOnly)) yield return ProposalKeywords.Name(g);
    }

    private static IEnumerable<string> All(EspProposal proposal, bool brokenOnly)
    {
        ArgumentNullException.ThrowIfNull(proposal);
        foreach (var e in proposal.Encryption) if (Matches(e.Algorithm, brokenOnly)) yield return ProposalKeywords.Name(e);
        foreach (var i in proposal.Integrity) if (Matches(i, brokenOnly)) yield return ProposalKeywords.Name(i);
        foreach (var g in proposal.Groups) if (Matches(g, brokenOnly)) yield return ProposalKeywords.Name(g);
    }

    /// <summary>The configuration error for a weak <paramref name="keyword"/> in proposal <paramref name="text"/> without the opt-in.</summary>
    public static string Refusal(string text, string keyword) =>
        $"proposal '{text}' uses the weak algorithm '{keyword}' (RFC 8247/8221): refused; remove it (e.g. use sha256, " +
        $"modp2048 or ecp256) or, for a legacy peer, set '{ConfigKey}: yes' on the connection (3des, sha1, prfsha1 and modp1024 only)";

    /// <summary>The configuration error for a broken <paramref name="keyword"/>, which no setting enables.</summary>
    public static string BrokenRefusal(string text, string keyword) =>
        $"proposal '{text}' uses the broken algorithm '{keyword}' (RFC 8247/8221): refused; DES, MD5 and MODP-768 are not " +
        $"implemented and no setting enables them ('{ConfigKey}' covers only 3des, sha1, prfsha1 and modp1024)";

    public static bool IsWeak(EncrAlgorithm a) => a is EncrAlgorithm.Des or EncrAlgorithm.TripleDes;
    public static bool IsWeak(IntegAlgorithm a) => a is IntegAlgorithm.HmacMd5_96 or IntegAlgorithm.HmacSha1_96;
    public static bool IsWeak(PrfAlgorithm a) => a is PrfAlgorithm.HmacMd5 or PrfAlgorithm.HmacSha1;
    public static bool IsWeak(DhGroup g) => g is DhGroup.Modp768 or DhGroup.Modp1024;

    public static bool IsBroken(EncrAlgorithm a) => a is EncrAlgorithm.Des;
    public static bool IsBroken(IntegAlgorithm a) => a is IntegAlgorithm.HmacMd5_96;
    public static bool IsBroken(PrfAlgorithm a) => a is PrfAlgorithm.HmacMd5;
    public static bool IsBroken(DhGroup g) => g is DhGroup.Modp768;

    private static bool Matches(EncrAlgorithm a, bool brokenOnly) => brokenOnly ? IsBroken(a) : IsWeak(a);
    private static bool Matches(IntegAlgorithm a, bool brokenOnly) => brokenOnly ? IsBroken(a) : IsWeak(a);
    private static bool Matches(PrfAlgorithm a, bool brokenOnly) => brokenOnly ? IsBroken(a) : IsWeak(a);
    private static bool Matches(DhGroup g, bool brokenOnly) => brokenOnly ? IsBroken(g) : IsWeak(g);
}
