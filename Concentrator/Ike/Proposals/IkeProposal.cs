using Concentrator.Ipsec;

namespace Concentrator.Ike.Proposals;

/// <summary>
/// One configured IKE proposal (one swanctl proposal string). Lists are in preference order.
/// Equality compares the lists element by element; ToString gives the keyword form.
/// </summary>
public sealed record IkeProposal(
    IReadOnlyList<EncryptionChoice> Encryption,
    IReadOnlyList<IntegAlgorithm> Integrity,
    IReadOnlyList<PrfAlgorithm> Prf,
    IReadOnlyList<DhGroup> Groups)
{
    public bool IsAead => Encryption.Count > 0 && Encryption[0].IsAead;

    public bool Equals(IkeProposal? other) =>
        other is not null
        && Encryption.SequenceEqual(other.Encryption)
        && Integrity.SequenceEqual(other.Integrity)
        && Prf.SequenceEqual(other.Prf)
        && Groups.SequenceEqual(other.Groups);

    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (var e in Encryption) h.Add(e);
        foreach (var i in Integrity) h.Add(i);
        foreach (var p in Prf) h.Add(p);
        foreach (var g in Groups) h.Add(g);
        return h.ToHashCode();
    }

    public override string ToString() => string.Join('-',
        Encryption.Select(ProposalKeywords.Name)
            .Concat(Integrity.Select(ProposalKeywords.Name))
            .Concat(Prf.Select(ProposalKeywords.Name))
            .Concat(Groups.Select(ProposalKeywords.Name)));
}
