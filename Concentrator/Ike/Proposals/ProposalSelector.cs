using Concentrator.Ike.Wire;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Proposals;

/// <summary>
/// Configured proposals to wire proposals and back (RFC 7296 §2.7, §3.3), following strongSwan's
/// proposal_select()/select_algos():
/// <list type="bullet">
/// <item>Our configured proposal order wins, and within a transform type our algorithm order wins
///   (first configured algorithm that the peer offered); the result carries the peer's proposal number and SPI.</item>
/// <item>Every transform type in the offered proposal must be matched; an unknown type or a type we
///   have no algorithm for rejects that proposal. The one exception: integrity transforms next to an
///   AEAD cipher are ignored (RFC 5282 §8 allows a NONE integrity transform there).</item>
/// <item>ESP DH: when groups are not negotiated (IKE_AUTH, RFC 7296 §1.2) DH transforms are
///   stripped from both sides. When they are (CREATE_CHILD_SA), DH "NONE" (id 0) on either side
///   makes PFS optional, as in strongSwan.</item>
/// <item>Only algorithms in <see cref="SupportedAlgorithms"/> are offered or selected. A configured
///   transform type whose algorithms are all unsupported makes the proposal unusable (it is not
///   silently weakened, e.g. no PFS instead of modp1024); classic ESP encryption without a
///   supported integrity algorithm is never used. The weak set (3des, sha1, prfsha1, modp1024) counts
///   as supported in written proposals only, never in strongSwan's "default" lists
///   (<see cref="ProposalParser.IsDefault(IkeProposal)"/>).</item>
/// </list>
/// </summary>
public static class ProposalSelector
{
    private const int IkeSpiSize = 8;
    private const int EspSpiSize = 4;

    /// <summary>Wire SA proposals (numbered from 1) for what we offer as initiator. SPI = our IKE SPI (8 bytes) or empty for IKE_SA_INIT.</summary>
    public static IReadOnlyList<Proposal> ToWire(IReadOnlyList<IkeProposal> proposals, byte[] spi)
    {
        var result = new List<Proposal>();
        foreach (var set in UsableIke(proposals))
        {
            result.Add(set.ToProposal(CheckedNumber(result.Count + 1), ProtocolId.Ike, spi));
        }
        return result;
    }

    public static IReadOnlyList<Proposal> ToWire(IReadOnlyList<EspProposal> proposals, byte[] spi, bool includeGroups)
    {
        var result = new List<Proposal>();
        foreach (var set in UsableEsp(proposals, includeGroups))
        {
            result.Add(set.ToProposal(CheckedNumber(result.Count + 1), set.Protocol, spi));
        }
        return result;
    }

    /// <summary>Responder choice (RFC 7296 §2.7): our configured order wins; returns the single chosen wire proposal (with peer's number and SPI) and the suite.</summary>
    public static bool TrySelectIke(IReadOnlyList<IkeProposal> configured, IReadOnlyList<Proposal> offered, out Proposal? chosen, out IkeSuite suite) =>
        TrySelectIke(configured, offered, DhGroup.None, out chosen, out suite);

    /// <summary>
    /// As above, but the group of the initiator's KE payload is moved to the front of our DH
    /// preference where we allow it (strongSwan's responder promotes it the same way), so an
    /// acceptable KE payload never costs an INVALID_KE_PAYLOAD round trip.
    /// </summary>
    public static bool TrySelectIke(IReadOnlyList<IkeProposal> configured, IReadOnlyList<Proposal> offered, DhGroup keGroup, out Proposal? chosen, out IkeSuite suite)
    {
        foreach (var set in UsableIke(configured))
        {
            var ke = set.Dh.FindIndex(t => t.Id == (ushort)keGroup);
            if (keGroup != DhGroup.None && ke > 0)
            {
                var promoted = set.Dh[ke];
                set.Dh.RemoveAt(ke);
                set.Dh.Insert(0, promoted);
            }
            foreach (var o in offered)
            {
                if (o.Protocol != ProtocolId.Ike || (o.Spi.Length != 0 && o.Spi.Length != IkeSpiSize))
                {
                    continue;
                }
                if (TryMatch(set, o.Transforms, stripGroups: false, out var picked))
                {
                    chosen = new Proposal(o.Number, o.Protocol, o.Spi, picked.Transforms());
                    suite = picked.ToIkeSuite();
                    return true;
                }
            }
        }
        chosen = null;
        suite = default;
        return false;
    }

    /// <param name="requireGroup">True when DH groups take part in the negotiation (CREATE_CHILD_SA);
    /// false (IKE_AUTH, or rekey without KE payload) strips DH transforms from both sides.</param>
    public static bool TrySelectEsp(IReadOnlyList<EspProposal> configured, IReadOnlyList<Proposal> offered, bool requireGroup, out Proposal? chosen, out EspSuite suite)
    {
        foreach (var set in UsableEsp(configured, requireGroup))
        {
            foreach (var o in offered)
            {
                if (o.Protocol != set.Protocol || o.Spi.Length != EspSpiSize)
                {
                    continue;
                }
                if (TryMatch(set, o.Transforms, stripGroups: !requireGroup, out var picked))
                {
                    chosen = new Proposal(o.Number, o.Protocol, o.Spi, picked.Transforms());
                    suite = picked.ToEspSuite(set.Protocol);
                    return true;
                }
            }
        }
        chosen = null;
        suite = default;
        return false;
    }

    /// <summary>Initiator side: check the responder's single proposal is one we offered and extract the suite.</summary>
    public static bool TryAcceptIke(IReadOnlyList<IkeProposal> offered, Proposal answer, out IkeSuite suite)
    {
        suite = default;
        if (answer.Protocol != ProtocolId.Ike || (answer.Spi.Length != 0 && answer.Spi.Length != IkeSpiSize))
        {
            return false;
        }
        var sets = UsableIke(offered);
        if (answer.Number < 1 || answer.Number > sets.Count)
        {
            return false;
        }
        if (!TryAcceptSingle(sets[answer.Number - 1], answer.Transforms, groupsOptional: false, out var picked))
        {
            return false;
        }
        suite = picked.ToIkeSuite();
        return true;
    }

    /// <summary>
    /// Lenient form: a DH transform in the answer must be one we offered, a missing one is accepted
    /// (use the overload with <c>includedGroups</c> to insist on PFS).
    /// </summary>
    public static bool TryAcceptEsp(IReadOnlyList<EspProposal> offered, Proposal answer, out EspSuite suite) =>
        TryAcceptEsp(offered, answer, includedGroups: answer.Transforms.Any(t => t.Type == TransformType.DiffieHellman), out suite, pfsOptional: true);

    /// <summary>
    /// Initiator side for ESP; <paramref name="includedGroups"/> must be what was passed to
    /// <see cref="ToWire(IReadOnlyList{EspProposal}, byte[], bool)"/>. With groups included, the
    /// answer must carry one of them unless we offered DH NONE.
    /// </summary>
    public static bool TryAcceptEsp(IReadOnlyList<EspProposal> offered, Proposal answer, bool includedGroups, out EspSuite suite) =>
        TryAcceptEsp(offered, answer, includedGroups, out suite, pfsOptional: false);

    private static bool TryAcceptEsp(IReadOnlyList<EspProposal> offered, Proposal answer, bool includedGroups, out EspSuite suite, bool pfsOptional)
    {
        suite = default;
        if (answer.Protocol is not (ProtocolId.Esp or ProtocolId.Ah) || answer.Spi.Length != EspSpiSize)
        {
            return false;
        }
        var sets = UsableEsp(offered, includedGroups);
        if (answer.Number < 1 || answer.Number > sets.Count || sets[answer.Number - 1].Protocol != answer.Protocol)
        {
            return false;
        }
        if (!TryAcceptSingle(sets[answer.Number - 1], answer.Transforms, groupsOptional: pfsOptional || !includedGroups, out var picked))
        {
            return false;
        }
        suite = picked.ToEspSuite(answer.Protocol);
        return true;
    }

    /// <summary>
    /// True when one of <paramref name="configured"/> would accept exactly <paramref name="suite"/> (strongSwan's
    /// ike_cfg has_proposal): a connection may only take over an IKE SA whose algorithms it allows.
    /// </summary>
    public static bool Allows(IReadOnlyList<IkeProposal> configured, IkeSuite suite)
    {
        List<Transform> transforms =
        [
            new EncryptionChoice(suite.Encryption, suite.KeyBits).ToWire(),
            new(TransformType.Prf, (ushort)suite.Prf),
            new(TransformType.DiffieHellman, (ushort)suite.Group),
        ];
        if (suite.Integrity != IntegAlgorithm.None) transforms.Add(new(TransformType.Integrity, (ushort)suite.Integrity));
        foreach (var set in UsableIke(configured))
        {
            if (TryAcceptSingle(set, transforms, groupsOptional: false, out _)) return true;
        }
        return false;
    }

    /// <summary>True when the proposal keeps at least one implemented algorithm of every type it needs
    /// (DH groups included), i.e. it can ever be offered or selected.</summary>
    public static bool IsUsable(IkeProposal proposal) => UsableIke([proposal]).Count == 1;

    /// <summary>As <see cref="IsUsable(IkeProposal)"/>, with DH groups counted (a PFS rekey must be possible).</summary>
    public static bool IsUsable(EspProposal proposal) => UsableEsp([proposal], includeGroups: true).Count == 1;

    private static byte CheckedNumber(int n) =>
        n <= byte.MaxValue ? (byte)n : throw new ArgumentException("more than 255 proposals cannot be encoded (RFC 7296 §3.3.1)");

    // ---- configured proposal -> allowed transforms -------------------------------------------

    /// <summary>Allowed wire transforms per type, in our preference order.</summary>
    private sealed class AllowedSet
    {
        public List<Transform> Encr { get; } = [];
        public List<Transform> Prf { get; } = [];
        public List<Transform> Integ { get; } = [];
        public List<Transform> Dh { get; } = [];
        public List<Transform> Esn { get; } = [];
        public bool IsIke { get; init; }

        /// <summary>Child SA proposals: ESP, or AH (no encryption transforms).</summary>
        public ProtocolId Protocol { get; init; } = ProtocolId.Esp;

        public List<Transform>? For(TransformType type) => type switch
        {
            TransformType.Encryption => Protocol == ProtocolId.Ah ? null : Encr,
            TransformType.Prf => IsIke ? Prf : null,
            TransformType.Integrity => Integ,
            TransformType.DiffieHellman => Dh,
            TransformType.ExtendedSequenceNumbers => IsIke ? null : Esn,
            _ => null,
        };

        public Proposal ToProposal(byte number, ProtocolId protocol, byte[] spi) =>
            new(number, protocol, spi, [.. Encr, .. Prf, .. Integ, .. Dh, .. Esn]);
    }

    private static List<AllowedSet> UsableIke(IReadOnlyList<IkeProposal> proposals)
    {
        var sets = new List<AllowedSet>();
        foreach (var p in proposals)
        {
            var set = new AllowedSet { IsIke = true };
            var weak = !ProposalParser.IsDefault(p);
            set.Encr.AddRange(p.Encryption.Where(e => SupportedAlgorithms.IsSupported(e, weak)).Select(e => e.ToWire()));
            set.Prf.AddRange(p.Prf.Where(a => SupportedAlgorithms.IsSupported(a, weak)).Select(a => new Transform(TransformType.Prf, (ushort)a)));
            set.Dh.AddRange(p.Groups.Where(g => SupportedAlgorithms.IsSupported(g, weak)).Select(g => new Transform(TransformType.DiffieHellman, (ushort)g)));
            var aead = p.IsAead;
            if (!aead)
            {
                set.Integ.AddRange(p.Integrity.Where(a => SupportedAlgorithms.IsSupported(a, weak)).Select(a => new Transform(TransformType.Integrity, (ushort)a)));
            }
            if (set.Encr.Count > 0 && set.Prf.Count > 0 && set.Dh.Count > 0 && (aead || set.Integ.Count > 0))
            {
                sets.Add(set);
            }
        }
        return sets;
    }

    private static List<AllowedSet> UsableEsp(IReadOnlyList<EspProposal> proposals, bool includeGroups)
    {
        var sets = new List<AllowedSet>();
        foreach (var p in proposals)
        {
            bool ah = p.Protocol == IpsecProtocol.Ah;
            var set = new AllowedSet { IsIke = false, Protocol = ah ? ProtocolId.Ah : ProtocolId.Esp };
            var weak = !ProposalParser.IsDefault(p);
            set.Encr.AddRange(p.Encryption.Where(e => SupportedAlgorithms.IsSupported(e, weak)).Select(e => e.ToWire()));
            var aead = p.IsAead;
            if (!aead)
            {
                set.Integ.AddRange(p.Integrity.Where(a => SupportedAlgorithms.IsSupported(a, weak)).Select(a => new Transform(TransformType.Integrity, (ushort)a)));
            }
            if (includeGroups)
            {
                set.Dh.AddRange(p.Groups.Where(g => g == DhGroup.None || SupportedAlgorithms.IsSupported(g, weak))
                    .Select(g => new Transform(TransformType.DiffieHellman, (ushort)g)));
            }
            var esn = p.Esn.Count > 0 ? p.Esn : [EsnMode.NoEsn];
            set.Esn.AddRange(esn.Select(e => new Transform(TransformType.ExtendedSequenceNumbers, (ushort)e)));
            var groupsOk = !includeGroups || p.Groups.Count == 0 || set.Dh.Count > 0;
            if ((set.Encr.Count > 0 || ah) && (aead || set.Integ.Count > 0) && groupsOk)
            {
                sets.Add(set);
            }
        }
        return sets;
    }

    // ---- matching ------------------------------------------------------------------------------

    private sealed class Picked
    {
        public Transform? Encr;
        public Transform? Prf;
        public Transform? Integ;
        public Transform? Dh;
        public Transform? Esn;

        public IReadOnlyList<Transform> Transforms() =>
            new[] { Encr, Prf, Integ, Dh, Esn }.Where(t => t is not null).Select(t => t!).ToList();

        private EncryptionChoice Cipher()
        {
            EncryptionChoice.TryFromWire(Encr!, out var c);
            return c;
        }

        public IkeSuite ToIkeSuite()
        {
            var c = Cipher();
            return new IkeSuite(c.Algorithm, c.KeyBits, (PrfAlgorithm)Prf!.Id,
                Integ is null ? IntegAlgorithm.None : (IntegAlgorithm)Integ.Id,
                Dh is null ? DhGroup.None : (DhGroup)Dh.Id);
        }

        public EspSuite ToEspSuite(ProtocolId protocol)
        {
            bool ah = protocol == ProtocolId.Ah;
            var c = ah ? new EncryptionChoice(EncrAlgorithm.Null, 0) : Cipher();
            return new EspSuite(c.Algorithm, c.KeyBits,
                Integ is null ? IntegAlgorithm.None : (IntegAlgorithm)Integ.Id,
                Dh is null ? DhGroup.None : (DhGroup)Dh.Id,
                Esn is not null && Esn.Id == (ushort)EsnMode.Esn,
                ah ? IpsecProtocol.Ah : IpsecProtocol.Esp);
        }
    }

    private static bool Same(Transform a, Transform b) => a.Type == b.Type && a.Id == b.Id && a.KeyLength == b.KeyLength;

    /// <summary>First of ours (in our order) that the peer offered.</summary>
    private static Transform? FirstOfOursOffered(List<Transform> ours, List<Transform> theirs)
    {
        foreach (var mine in ours)
        {
            foreach (var t in theirs)
            {
                if (Same(mine, t))
                {
                    return mine;
                }
            }
        }
        return null;
    }

    private static bool TryMatch(AllowedSet ours, IReadOnlyList<Transform> offered, bool stripGroups, out Picked picked)
    {
        picked = new Picked();
        var theirs = new Dictionary<TransformType, List<Transform>>();
        foreach (var t in offered)
        {
            if (stripGroups && t.Type == TransformType.DiffieHellman)
            {
                continue;
            }
            if (ours.For(t.Type) is null)
            {
                return false; // a transform type we cannot match (e.g. PRF in ESP, RFC 9370 ADDKE)
            }
            if (!theirs.TryGetValue(t.Type, out var list))
            {
                theirs[t.Type] = list = [];
            }
            list.Add(t);
        }

        // AH (RFC 4302) has no encryption transform: For(Encryption) refused any above.
        bool ah = ours.Protocol == ProtocolId.Ah && !ours.IsIke;
        picked.Encr = ah ? null : FirstOfOursOffered(ours.Encr, theirs.GetValueOrDefault(TransformType.Encryption) ?? []);
        if (picked.Encr is null && !ah)
        {
            return false;
        }
        if (ah || !SupportedAlgorithms.IsAead((EncrAlgorithm)picked.Encr!.Id))
        {
            picked.Integ = FirstOfOursOffered(ours.Integ, theirs.GetValueOrDefault(TransformType.Integrity) ?? []);
            if (picked.Integ is null)
            {
                return false;
            }
        }
        if (ours.IsIke)
        {
            picked.Prf = FirstOfOursOffered(ours.Prf, theirs.GetValueOrDefault(TransformType.Prf) ?? []);
            picked.Dh = FirstOfOursOffered(ours.Dh, theirs.GetValueOrDefault(TransformType.DiffieHellman) ?? []);
            return picked.Prf is not null && picked.Dh is not null;
        }

        picked.Esn = FirstOfOursOffered(ours.Esn, theirs.GetValueOrDefault(TransformType.ExtendedSequenceNumbers) ?? []);
        if (picked.Esn is null)
        {
            return false;
        }
        if (stripGroups)
        {
            return true;
        }
        return TryMatchOptionalDh(ours.Dh, theirs.GetValueOrDefault(TransformType.DiffieHellman) ?? [], out picked.Dh);
    }

    /// <summary>strongSwan select_algo() for optional KE transforms: a missing list on one side is
    /// acceptable only if the other side includes NONE; NONE as the match means no PFS.</summary>
    private static bool TryMatchOptionalDh(List<Transform> ours, List<Transform> theirs, out Transform? dh)
    {
        dh = null;
        static bool HasNone(List<Transform> l) => l.Any(t => t.Id == (ushort)DhGroup.None);
        if (ours.Count == 0 && theirs.Count == 0)
        {
            return true;
        }
        if (ours.Count == 0)
        {
            return HasNone(theirs);
        }
        if (theirs.Count == 0)
        {
            return HasNone(ours);
        }
        var match = FirstOfOursOffered(ours, theirs);
        if (match is null)
        {
            return false;
        }
        dh = match.Id == (ushort)DhGroup.None ? null : match;
        return true;
    }

    /// <summary>The answer must hold exactly one transform of each required type, each from our offer.</summary>
    private static bool TryAcceptSingle(AllowedSet ours, IReadOnlyList<Transform> answer, bool groupsOptional, out Picked picked)
    {
        picked = new Picked();
        foreach (var t in answer)
        {
            var allowed = ours.For(t.Type);
            if (allowed is null || !allowed.Any(a => Same(a, t)))
            {
                return false;
            }
            ref var slot = ref SlotFor(picked, t.Type);
            if (slot is not null)
            {
                return false; // more than one transform of a type
            }
            slot = t;
        }
        bool ah = ours.Protocol == ProtocolId.Ah && !ours.IsIke;
        if (picked.Encr is null && !ah)
        {
            return false;
        }
        var aead = !ah && SupportedAlgorithms.IsAead((EncrAlgorithm)picked.Encr!.Id);
        if (aead ? picked.Integ is not null : picked.Integ is null)
        {
            return false;
        }
        if (ours.IsIke)
        {
            return picked.Prf is not null && picked.Dh is not null;
        }
        if (picked.Esn is null)
        {
            return false;
        }
        if (picked.Dh is null && ours.Dh.Count > 0 && !groupsOptional && !ours.Dh.Any(t => t.Id == (ushort)DhGroup.None))
        {
            return false; // we asked for PFS
        }
        if (picked.Dh is not null && picked.Dh.Id == (ushort)DhGroup.None)
        {
            picked.Dh = null;
        }
        return true;
    }

    private static ref Transform? SlotFor(Picked p, TransformType type)
    {
        switch (type)
        {
            case TransformType.Encryption: return ref p.Encr;
            case TransformType.Prf: return ref p.Prf;
            case TransformType.Integrity: return ref p.Integ;
            case TransformType.DiffieHellman: return ref p.Dh;
            default: return ref p.Esn;
        }
    }
}
