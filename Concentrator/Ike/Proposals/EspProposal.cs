using Concentrator.Ipsec;

namespace Concentrator.Ike.Proposals;

/// <summary>
/// One configured ESP proposal. Groups non-empty means PFS on rekey (<see cref="DhGroup.None"/>
/// in the list makes PFS optional, as strongSwan's "none"/"modpnone"). Esn is never empty once parsed.
/// Equality compares the lists element by element; ToString gives the keyword form. An AH proposal (swanctl ah_proposals,
/// RFC 4302) is one whose <see cref="Protocol"/> is AH: no encryption, integrity required.
/// </summary>
public sealed record EspProposal(
    IReadOnlyList<EncryptionChoice> Encryption,
    IReadOnlyList<IntegAlgorithm> Integrity,
    IReadOnlyList<DhGroup> Groups,
    IReadOnlyList<EsnMode> Esn,
    IpsecProtocol Protocol = IpsecProtocol.Esp)
{
    public bool IsAead => Encryption.Count > 0 && Encryption[0].IsAead;

    public bool Equals(EspProposal? other) =>
        other is not null
        && Protocol == other.Protocol
        && Encryption.SequenceEqual(other.Encryption)
        && Integrity.SequenceEqual(other.Integrity)
        && Groups.SequenceEqual(other.Groups)
        && Esn.SequenceEqual(other.Esn);

    public override int GetHashCode()
    {
        var h = new HashCode();
        h.Add(Protocol);
        foreach (var e in Encryption) h.Add(e);
        foreach (var i in Integrity) h.Add(i);
        foreach (var g in Groups) h.Add(g);
        foreach (var e in Esn) h.Add(e);
        return h.ToHashCode();
    }

    public override string ToString() => string.Join('-',
        Encryption.Select(ProposalKeywords.Name)
            .Concat(Integrity.Select(ProposalKeywords.Name))
            .Concat(Groups.Select(ProposalKeywords.Name))
            .Concat(Esn.Select(ProposalKeywords.Name)));
}
