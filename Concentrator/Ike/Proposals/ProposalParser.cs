using Concentrator.Ike.Wire;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Proposals;

/// <summary>
/// swanctl proposal syntax: one string is one proposal, algorithm keywords joined by '-'; several
/// algorithms of one kind are alternatives in preference order. Checks follow strongSwan's
/// proposal.c check_proposal():
/// IKE: no prf keyword -> PRFs implied from the integrity keywords (sha256 -> prfsha256 ...), also
///      for AEAD proposals that list integrity keywords (the integrity algorithms are then dropped);
///      an AEAD proposal with neither prf nor integrity keyword is rejected ("a PRF algorithm is
///      mandatory in IKE proposals"); a DH group is mandatory; non-AEAD needs integrity.
/// ESP: prf keywords are dropped; DH groups are optional (PFS); no esn keyword means noesn.
/// Both: an encryption algorithm is mandatory; AEAD and classic ciphers may not be mixed; integrity
///      keywords next to AEAD ciphers are dropped.
/// </summary>
public static class ProposalParser
{
    public const string DefaultKeyword = "default";

    /// <summary>Parses swanctl keyword syntax ("aes256gcm16-prfsha256-ecp256"). Error text names the bad keyword.</summary>
    public static bool TryParseIke(string text, out IkeProposal? proposal, out string? error)
    {
        proposal = null;
        if (!TryCollect(text, ProtocolId.Ike, out var parts, out error))
        {
            return false;
        }
        var (encr, integ, prf, groups, esn) = parts;
        if (esn.Count > 0)
        {
            error = $"'{KeywordFor(esn[0])}' is only valid in ESP proposals, not in IKE proposal '{text}'";
            return false;
        }
        if (!CheckEncryption(text, encr, integ, requireInteg: true, out error))
        {
            return false;
        }
        if (prf.Count == 0)
        {
            foreach (var i in integ)
            {
                var implied = ProposalKeywords.ImpliedPrf(i);
                if (implied != PrfAlgorithm.None && !prf.Contains(implied))
                {
                    prf.Add(implied);
                }
            }
        }
        if (prf.Count == 0)
        {
            error = $"IKE proposal '{text}' has no PRF: AEAD proposals need a prf keyword (e.g. prfsha256)";
            return false;
        }
        if (encr[0].IsAead)
        {
            integ.Clear();
        }
        groups.Remove(DhGroup.None);
        if (groups.Count == 0)
        {
            error = $"IKE proposal '{text}' has no DH group (e.g. ecp256, curve25519, modp3072)";
            return false;
        }
        proposal = new IkeProposal(encr, integ, prf, groups);
        return true;
    }

    public static bool TryParseEsp(string text, out EspProposal? proposal, out string? error)
    {
        proposal = null;
        if (!TryCollect(text, ProtocolId.Esp, out var parts, out error))
        {
            return false;
        }
        var (encr, integ, _, groups, esn) = parts;
        if (!CheckEncryption(text, encr, integ, requireInteg: false, out error))
        {
            return false;
        }
        if (encr[0].IsAead)
        {
            integ.Clear();
        }
        if (esn.Count == 0)
        {
            esn.Add(EsnMode.NoEsn);
        }
        proposal = new EspProposal(encr, integ, groups, esn);
        return true;
    }

    /// <summary>
    /// An AH proposal (swanctl ah_proposals): integrity algorithms, optional DH groups (PFS) and esn/noesn; no encryption,
    /// and no "default" (name the algorithms).
    /// </summary>
    public static bool TryParseAh(string text, out EspProposal? proposal, out string? error)
    {
        proposal = null;
        if (IsDefault(text ?? ""))
        {
            error = $"'{DefaultKeyword}' is not supported in ah_proposals: name the integrity algorithms (e.g. sha256)";
            return false;
        }
        if (!TryCollect(text!, ProtocolId.Ah, out var parts, out error)) return false;
        var (encr, integ, _, groups, esn) = parts;
        if (encr.Count > 0)
        {
            error = $"AH proposal '{text!.Trim()}' names encryption ({ProposalKeywords.Name(encr[0])}): AH only authenticates";
            return false;
        }
        if (integ.Count == 0)
        {
            error = $"AH proposal '{text!.Trim()}' names no integrity algorithm";
            return false;
        }
        if (esn.Count == 0) esn.Add(EsnMode.NoEsn);
        proposal = new EspProposal([], integ, groups, esn, IpsecProtocol.Ah);
        return true;
    }

    /// <summary><see cref="TryParseAh"/> in the shape of the other expanders (one proposal per entry).</summary>
    public static bool TryExpandAh(string text, out IReadOnlyList<EspProposal> proposals, out string? error)
    {
        var ok = TryParseAh(text, out var p, out error);
        proposals = ok ? [p!] : [];
        return ok;
    }

    /// <summary>Like <see cref="TryParseIke"/>, but also accepts "default" (expands to <see cref="DefaultIke"/>).</summary>
    public static bool TryExpandIke(string text, out IReadOnlyList<IkeProposal> proposals, out string? error)
    {
        if (IsDefault(text))
        {
            proposals = DefaultIke;
            error = null;
            return true;
        }
        var ok = TryParseIke(text, out var p, out error);
        proposals = ok ? [p!] : [];
        return ok;
    }

    /// <summary>Like <see cref="TryParseEsp"/>, but also accepts "default" (expands to <see cref="DefaultEsp"/>).</summary>
    public static bool TryExpandEsp(string text, out IReadOnlyList<EspProposal> proposals, out string? error)
    {
        if (IsDefault(text))
        {
            proposals = DefaultEsp;
            error = null;
            return true;
        }
        var ok = TryParseEsp(text, out var p, out error);
        proposals = ok ? [p!] : [];
        return ok;
    }

    /// <summary>
    /// True for the proposals of strongSwan's "default" lists. Their weak algorithms are never offered or
    /// selected (<see cref="WeakAlgorithms"/>); weak ones in a written proposal are, once the config loader has
    /// accepted them, which it does only for a connection with weak_algorithms.
    /// </summary>
    public static bool IsDefault(IkeProposal proposal) => Contains(DefaultIke, proposal);

    /// <inheritdoc cref="IsDefault(IkeProposal)"/>
    public static bool IsDefault(EspProposal proposal) => Contains(DefaultEsp, proposal);

    // By reference: a written proposal equal to a default one is the operator's choice.
    private static bool Contains<T>(IReadOnlyList<T> defaults, T proposal) where T : class
    {
        foreach (var d in defaults) if (ReferenceEquals(d, proposal)) return true;
        return false;
    }

    private static bool IsDefault(string text) => string.Equals(text.Trim(), DefaultKeyword, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// strongSwan 5.9's "default" IKE proposals: proposal_create_default(PROTO_IKE) then
    /// proposal_create_default_aead(PROTO_IKE) (vici_config.c parse_proposal), i.e.
    /// proposal_add_supported_ike() with a full plugin set, restricted to algorithms with a value in
    /// our IANA enums (no Camellia, Brainpool, NTRU/NewHope or AES-CMAC-96 integrity). Algorithms we
    /// don't implement stay listed (so ToString matches strongSwan) but are never offered or selected.
    /// </summary>
    public static IReadOnlyList<IkeProposal> DefaultIke { get; } = BuildDefaultIke();

    /// <summary>
    /// strongSwan 5.9's "default" ESP proposal: proposal_create_default(PROTO_ESP) =
    /// aes128-aes192-aes256-sha256-sha384-sha512-sha1-aesxcbc-noesn; proposal_create_default_aead(PROTO_ESP)
    /// returns NULL in 5.9 (6.0 adds aes128gcm16-aes192gcm16-aes256gcm16 before it).
    /// </summary>
    public static IReadOnlyList<EspProposal> DefaultEsp { get; } =
    [
        new EspProposal(
            [new(EncrAlgorithm.AesCbc, 128), new(EncrAlgorithm.AesCbc, 192), new(EncrAlgorithm.AesCbc, 256)],
            [IntegAlgorithm.HmacSha2_256_128, IntegAlgorithm.HmacSha2_384_192, IntegAlgorithm.HmacSha2_512_256,
             IntegAlgorithm.HmacSha1_96, IntegAlgorithm.AesXcbc96],
            [],
            [EsnMode.NoEsn]),
    ];

    private static IReadOnlyList<IkeProposal> BuildDefaultIke()
    {
        // Rounds as in proposal_add_supported_ike(): >= 128-bit strength first, then weaker ones.
        PrfAlgorithm[] prfs =
        [
            PrfAlgorithm.HmacSha2_256, PrfAlgorithm.HmacSha2_384, PrfAlgorithm.HmacSha2_512,
            PrfAlgorithm.AesXcbc, PrfAlgorithm.AesCmac, PrfAlgorithm.HmacSha1,
        ];
        DhGroup[] groups =
        [
            DhGroup.Ecp256, DhGroup.Ecp384, DhGroup.Ecp521, DhGroup.Curve25519, DhGroup.Curve448,
            DhGroup.Modp3072, DhGroup.Modp4096, DhGroup.Modp6144, DhGroup.Modp8192,
            DhGroup.Modp2048,
        ];
        var classic = new IkeProposal(
            [
                new(EncrAlgorithm.AesCbc, 128), new(EncrAlgorithm.AesCbc, 192), new(EncrAlgorithm.AesCbc, 256),
                new(EncrAlgorithm.AesCtr, 128), new(EncrAlgorithm.AesCtr, 192), new(EncrAlgorithm.AesCtr, 256),
                new(EncrAlgorithm.TripleDes, 192),
            ],
            [
                IntegAlgorithm.HmacSha2_256_128, IntegAlgorithm.HmacSha2_384_192, IntegAlgorithm.HmacSha2_512_256,
                IntegAlgorithm.HmacSha1_96, IntegAlgorithm.AesXcbc96,
            ],
            prfs,
            groups);
        var aead = new List<EncryptionChoice>();
        foreach (var alg in new[] { EncrAlgorithm.AesGcm16, EncrAlgorithm.AesCcm16 })
        {
            aead.AddRange([new(alg, 128), new(alg, 192), new(alg, 256)]);
        }
        aead.Add(new(EncrAlgorithm.ChaCha20Poly1305, 256));
        foreach (var alg in new[] { EncrAlgorithm.AesGcm12, EncrAlgorithm.AesGcm8, EncrAlgorithm.AesCcm12, EncrAlgorithm.AesCcm8 })
        {
            aead.AddRange([new(alg, 128), new(alg, 192), new(alg, 256)]);
        }
        return [classic, new IkeProposal(aead, [], prfs, groups)];
    }

    private static bool CheckEncryption(string text, List<EncryptionChoice> encr, List<IntegAlgorithm> integ, bool requireInteg, out string? error)
    {
        error = null;
        if (encr.Count == 0)
        {
            error = $"proposal '{text}' has no encryption algorithm (e.g. aes256gcm16, aes256)";
            return false;
        }
        var aead = encr.Where(e => e.IsAead).ToList();
        var classic = encr.Where(e => !e.IsAead).ToList();
        if (aead.Count > 0 && classic.Count > 0)
        {
            error = $"proposal '{text}' mixes AEAD ({ProposalKeywords.Name(aead[0])}) and classic ({ProposalKeywords.Name(classic[0])}) " +
                    "encryption; put them in separate proposals";
            return false;
        }
        if (requireInteg && classic.Count > 0 && integ.Count == 0)
        {
            error = $"IKE proposal '{text}' uses classic encryption but has no integrity algorithm (e.g. sha256)";
            return false;
        }
        return true;
    }

    private static string KeywordFor(EsnMode e) => ProposalKeywords.Name(e);

    private static bool TryCollect(
        string text,
        ProtocolId protocol,
        out (List<EncryptionChoice> Encr, List<IntegAlgorithm> Integ, List<PrfAlgorithm> Prf, List<DhGroup> Groups, List<EsnMode> Esn) parts,
        out string? error)
    {
        parts = ([], [], [], [], []);
        error = null;
        var trimmed = text?.Trim() ?? "";
        if (trimmed.Length == 0)
        {
            error = "empty proposal";
            return false;
        }
        if (IsDefault(trimmed))
        {
            error = $"'{DefaultKeyword}' expands to several proposals and cannot be combined with other keywords";
            return false;
        }
        foreach (var raw in trimmed.Split('-'))
        {
            var keyword = raw.Trim();
            if (keyword.Length == 0)
            {
                error = $"empty keyword in proposal '{trimmed}'";
                return false;
            }
            if (!ProposalKeywords.TryGet(keyword, out var token))
            {
                error = string.Equals(keyword, DefaultKeyword, StringComparison.OrdinalIgnoreCase)
                    ? $"'{DefaultKeyword}' must be a proposal on its own, not part of '{trimmed}'"
                    : $"unknown {protocol switch { ProtocolId.Ike => "IKE", ProtocolId.Ah => "AH", _ => "ESP" }} proposal keyword '{keyword}' in '{trimmed}'";
                return false;
            }
            switch (token.Type)
            {
                case TransformType.Encryption:
                    AddOnce(parts.Encr, new EncryptionChoice((EncrAlgorithm)token.Algorithm, token.KeyBits));
                    break;
                case TransformType.Integrity:
                    AddOnce(parts.Integ, (IntegAlgorithm)token.Algorithm);
                    break;
                case TransformType.Prf:
                    if (protocol == ProtocolId.Ike)
                    {
                        AddOnce(parts.Prf, (PrfAlgorithm)token.Algorithm);
                    }
                    break;
                case TransformType.DiffieHellman:
                    AddOnce(parts.Groups, (DhGroup)token.Algorithm);
                    break;
                case TransformType.ExtendedSequenceNumbers:
                    AddOnce(parts.Esn, (EsnMode)token.Algorithm);
                    break;
            }
        }
        return true;
    }

    private static void AddOnce<T>(List<T> list, T item)
    {
        if (!list.Contains(item))
        {
            list.Add(item);
        }
    }
}
