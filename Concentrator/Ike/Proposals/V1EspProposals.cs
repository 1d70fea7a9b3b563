using Concentrator.Ike.Wire;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Proposals;

/// <summary>What an IKEv1 ESP transform says beyond the algorithms (RFC 2407 §4.5): the encapsulation mode, whether it
/// is UDP-encapsulated (RFC 3947 §5, or the draft values older peers send) and the SA lifetimes (0 kilobytes: none).</summary>
public readonly record struct V1EspTerms(IpsecMode Mode, bool Udp, bool DraftEncapsulation, uint LifeSeconds, ulong LifeKilobytes);

/// <summary>The transform a quick mode responder chose (with the peer's proposal number and SPI) or an initiator accepted.</summary>
public sealed record V1EspSelection(V1Proposal Proposal, EspSuite Suite, V1EspTerms Terms)
{
    public uint PeerSpi => System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(Proposal.Spi);
}

/// <summary>
/// Our ESP proposals (<see cref="EspProposal"/>) to IPsec DOI proposals and back (RFC 2407 §4.4.4, §4.5). An IKEv1 ESP
/// transform is one complete suite; each is mapped to a one-suite IKEv2 proposal so that <see cref="ProposalSelector"/>
/// makes the choice exactly as for IKEv2 (our configured order wins, then the peer's). The DH group is always negotiated
/// (a quick mode with PFS names its group in every transform, RFC 2409 §5.5), so a child whose esp_proposals name a
/// group matches no transform without it, and a transform with a group matches no child without one.
/// Multi-protocol offers (ESP with IPComp or AH under one proposal number) are refused: we build ESP alone.
/// </summary>
public static class V1EspProposals
{
    /// <summary>RFC 4304 §2: the Extended (64-bit) Sequence Number attribute (value 1) of phase 2 transforms.</summary>
    public const ushort ExtendedSequenceNumberAttribute = 11;

    /// <summary>RFC 2407 §4.5: without an SA Life attribute the lifetime is 28800 seconds.</summary>
    public const uint DefaultLifeSeconds = 28800;

    private const int EspSpiSize = 4;

    // ---- initiator ----------------------------------------------------------------------------

    /// <summary>
    /// One ESP proposal (number 1) carrying one transform per usable suite of <paramref name="configured"/> in our order
    /// (as strongSwan, RFC 2408 §4.2: the transforms of one proposal are alternatives). With PFS (<paramref name="group"/>
    /// not None) only proposals that allow that group are offered, each naming it. Null when nothing is usable.
    /// </summary>
    public static V1Proposal? ToWire(IReadOnlyList<EspProposal> configured, byte[] spi, DhGroup group, V1EspTerms terms)
    {
        var transforms = new List<V1Transform>();
        foreach (var p in ProposalSelector.ToWire(configured, spi, includeGroups: group != DhGroup.None))
        {
            var dh = p.Transforms.Where(t => t.Type == TransformType.DiffieHellman).ToList();
            if (group != DhGroup.None && !dh.Any(t => t.Id == (ushort)group)) continue;
            var integ = p.Transforms.Where(t => t.Type == TransformType.Integrity).Select(t => (ushort?)t.Id).ToList();
            if (integ.Count == 0) integ.Add(null);
            foreach (var encr in p.Transforms.Where(t => t.Type == TransformType.Encryption))
            {
                foreach (var i in integ)
                {
                    foreach (var esn in p.Transforms.Where(t => t.Type == TransformType.ExtendedSequenceNumbers))
                    {
                        if (transforms.Count == WireLimits.MaxTransformsPerProposal) break;
                        var attributes = new List<DataAttribute>();
                        AddTerms(attributes, terms);
                        if (encr.KeyLength != 0) attributes.Add(DataAttribute.OfBasic((ushort)Phase2AttributeType.KeyLength, encr.KeyLength));
                        if (i is { } auth) attributes.Add(DataAttribute.OfBasic((ushort)Phase2AttributeType.AuthenticationAlgorithm, (ushort)ToV1Auth((IntegAlgorithm)auth)));
                        if (group != DhGroup.None) attributes.Add(DataAttribute.OfBasic((ushort)Phase2AttributeType.GroupDescription, (ushort)group));
                        if (esn.Id == (ushort)EsnMode.Esn) attributes.Add(DataAttribute.OfBasic(ExtendedSequenceNumberAttribute, 1));
                        transforms.Add(new V1Transform((byte)(transforms.Count + 1), (byte)encr.Id, attributes));
                    }
                }
            }
        }
        return transforms.Count == 0 ? null : new V1Proposal(1, V1ProtocolId.Esp, spi, transforms);
    }

    /// <summary>
    /// Initiator: the responder's SA must hold one ESP proposal with one transform that is one of ours (same suite, same
    /// mode and encapsulation); the lifetimes it names replace ours when shorter (a responder may lower them).
    /// </summary>
    public static bool TryAccept(V1Proposal offered, V1SaPayload answer, V1EspTerms ours, out V1EspSelection? selection)
    {
        selection = null;
        if (answer.Proposals.Count != 1) return false;
        var p = answer.Proposals[0];
        if (p.Protocol != V1ProtocolId.Esp || p.Spi.Length != EspSpiSize || p.Transforms.Count != 1) return false;
        if (!TryMap(p.Transforms[0], out var suite, out var terms) || terms.Mode != ours.Mode || terms.Udp != ours.Udp) return false;
        foreach (var t in offered.Transforms)
        {
            if (TryMap(t, out var mine, out _) && mine == suite)
            {
                var life = Math.Min(terms.LifeSeconds, ours.LifeSeconds);
                var kb = ours.LifeKilobytes == 0 ? terms.LifeKilobytes : terms.LifeKilobytes == 0 ? ours.LifeKilobytes : Math.Min(terms.LifeKilobytes, ours.LifeKilobytes);
                selection = new V1EspSelection(p, suite, terms with { LifeSeconds = life, LifeKilobytes = kb });
                return true;
            }
        }
        return false;
    }

    // ---- responder ----------------------------------------------------------------------------

    /// <summary>
    /// Responder choice. <paramref name="udp"/> is whether phase 1 detected a NAT (then only the UDP-encapsulated modes
    /// fit, otherwise only the plain ones); <paramref name="mode"/> is the child's. The chosen proposal carries the
    /// peer's number and SPI and the one transform chosen, as received (its lifetimes are echoed, RFC 2409 §5.5).
    /// </summary>
    public static bool TrySelect(IReadOnlyList<EspProposal> configured, V1SaPayload offered, IpsecMode mode, bool udp, out V1EspSelection? selection)
    {
        selection = null;
        var candidates = new List<(V1Proposal Proposal, V1Transform Transform, V1EspTerms Terms)>();
        var mapped = new List<Proposal>();
        foreach (var p in offered.Proposals)
        {
            if (p.Protocol != V1ProtocolId.Esp || p.Spi.Length != EspSpiSize) continue;
            if (offered.Proposals.Any(o => o.Number == p.Number && !ReferenceEquals(o, p))) continue;
            foreach (var t in p.Transforms)
            {
                if (!TryMap(t, out var suite, out var terms) || terms.Mode != mode || terms.Udp != udp) continue;
                if (candidates.Count == byte.MaxValue) break;
                candidates.Add((p, t, terms));
                mapped.Add(new Proposal((byte)candidates.Count, ProtocolId.Esp, p.Spi, ToV2Transforms(suite)));
            }
        }

        if (!ProposalSelector.TrySelectEsp(configured, mapped, requireGroup: true, out var chosen, out var chosenSuite)) return false;
        var c = candidates[chosen!.Number - 1];
        selection = new V1EspSelection(new V1Proposal(c.Proposal.Number, V1ProtocolId.Esp, c.Proposal.Spi, [c.Transform]), chosenSuite, c.Terms);
        return true;
    }

    // ---- one transform -------------------------------------------------------------------------

    /// <summary>
    /// One ESP transform as a suite and its terms. False for an algorithm we do not implement, an attribute we do not
    /// know (RFC 2408 §5.4: a transform is taken with all its attributes or not at all), a repeated attribute, a key
    /// length on a fixed-size cipher, integrity next to an AEAD or missing next to a plain cipher, or a life type
    /// without its duration.
    /// </summary>
    public static bool TryMap(V1Transform transform, out EspSuite suite, out V1EspTerms terms)
    {
        suite = default;
        terms = default;
        var encr = (EncrAlgorithm)transform.Id;
        if (encr is not (EncrAlgorithm.TripleDes or EncrAlgorithm.AesCbc or EncrAlgorithm.AesCtr or EncrAlgorithm.AesGcm8
            or EncrAlgorithm.AesGcm12 or EncrAlgorithm.AesGcm16 or EncrAlgorithm.AesCcm8 or EncrAlgorithm.AesCcm12 or EncrAlgorithm.AesCcm16))
        {
            return false;
        }

        int keyBits = 0;
        var integ = IntegAlgorithm.None;
        var group = DhGroup.None;
        bool esn = false;
        ushort? encap = null;
        uint lifeSeconds = 0;
        ulong lifeKb = 0;
        var seen = new HashSet<ushort>();
        LifeType? pendingLife = null;
        foreach (var a in transform.Attributes)
        {
            // Life type and duration come in pairs and may repeat once per type (RFC 2407 §4.5).
            if (a.Type == (ushort)Phase2AttributeType.SaLifeType)
            {
                if (pendingLife is not null || !a.Basic || a.BasicValue is not ((ushort)LifeType.Seconds or (ushort)LifeType.Kilobytes)) return false;
                pendingLife = (LifeType)a.BasicValue;
                continue;
            }
            if (a.Type == (ushort)Phase2AttributeType.SaLifeDuration)
            {
                if (pendingLife is not { } lt || !a.TryGetNumber(out uint duration) || duration == 0) return false;
                if (lt == LifeType.Seconds) { if (lifeSeconds != 0) return false; lifeSeconds = duration; }
                else { if (lifeKb != 0) return false; lifeKb = duration; }
                pendingLife = null;
                continue;
            }
            if (!a.Basic || !seen.Add(a.Type)) return false;
            switch (a.Type)
            {
                case (ushort)Phase2AttributeType.KeyLength: keyBits = a.BasicValue; break;
                case (ushort)Phase2AttributeType.AuthenticationAlgorithm:
                    if (!TryFromV1Auth((Phase2AuthAlgorithm)a.BasicValue, out integ)) return false;
                    break;
                case (ushort)Phase2AttributeType.GroupDescription:
                    if (a.BasicValue == 0) return false;
                    group = (DhGroup)a.BasicValue;
                    break;
                case (ushort)Phase2AttributeType.EncapsulationMode: encap = a.BasicValue; break;
                case ExtendedSequenceNumberAttribute:
                    if (a.BasicValue != 1) return false;
                    esn = true;
                    break;
                default: return false;
            }
        }
        if (pendingLife is not null) return false;

        if (SupportedAlgorithms.HasKeyLengthAttribute(encr))
        {
            // Some peers leave the Key Length out for AES-128 (early RFC 3602 drafts); strongSwan takes it as 128.
            if (keyBits == 0 && encr == EncrAlgorithm.AesCbc) keyBits = 128;
            if (keyBits is not (128 or 192 or 256)) return false;
        }
        else
        {
            if (keyBits != 0) return false;
            keyBits = SupportedAlgorithms.FixedKeyBits(encr);
        }
        if (SupportedAlgorithms.IsAead(encr) != (integ == IntegAlgorithm.None)) return false;

        (IpsecMode mode, bool udp, bool draft) = encap switch
        {
            null or (ushort)EncapsulationMode.Tunnel => (IpsecMode.Tunnel, false, false),
            (ushort)EncapsulationMode.Transport => (IpsecMode.Transport, false, false),
            (ushort)EncapsulationMode.UdpTunnel => (IpsecMode.Tunnel, true, false),
            (ushort)EncapsulationMode.UdpTransport => (IpsecMode.Transport, true, false),
            (ushort)EncapsulationMode.UdpTunnelDraft => (IpsecMode.Tunnel, true, true),
            (ushort)EncapsulationMode.UdpTransportDraft => (IpsecMode.Transport, true, true),
            _ => ((IpsecMode)(-1), false, false),
        };
        if ((int)mode < 0) return false;

        suite = new EspSuite(encr, keyBits, integ, group, esn);
        terms = new V1EspTerms(mode, udp, draft, lifeSeconds == 0 ? DefaultLifeSeconds : lifeSeconds, lifeKb);
        return true;
    }

    /// <summary>RFC 2407 §4.5 Authentication Algorithm values of the integrity algorithms we implement (SHA-2 with the
    /// RFC 4868 truncations, as strongSwan maps them).</summary>
    public static Phase2AuthAlgorithm ToV1Auth(IntegAlgorithm integ) => integ switch
    {
        IntegAlgorithm.HmacSha1_96 => Phase2AuthAlgorithm.HmacSha1,
        IntegAlgorithm.HmacSha2_256_128 => Phase2AuthAlgorithm.HmacSha2_256,
        IntegAlgorithm.HmacSha2_384_192 => Phase2AuthAlgorithm.HmacSha2_384,
        IntegAlgorithm.HmacSha2_512_256 => Phase2AuthAlgorithm.HmacSha2_512,
        IntegAlgorithm.HmacMd5_96 => Phase2AuthAlgorithm.HmacMd5,
        IntegAlgorithm.AesXcbc96 => Phase2AuthAlgorithm.AesXcbcMac,
        _ => throw new ArgumentOutOfRangeException(nameof(integ), integ, "no IKEv1 authentication algorithm"),
    };

    private static bool TryFromV1Auth(Phase2AuthAlgorithm auth, out IntegAlgorithm integ)
    {
        integ = auth switch
        {
            Phase2AuthAlgorithm.HmacSha1 => IntegAlgorithm.HmacSha1_96,
            Phase2AuthAlgorithm.HmacSha2_256 => IntegAlgorithm.HmacSha2_256_128,
            Phase2AuthAlgorithm.HmacSha2_384 => IntegAlgorithm.HmacSha2_384_192,
            Phase2AuthAlgorithm.HmacSha2_512 => IntegAlgorithm.HmacSha2_512_256,
            Phase2AuthAlgorithm.HmacMd5 => IntegAlgorithm.HmacMd5_96,
            Phase2AuthAlgorithm.AesXcbcMac => IntegAlgorithm.AesXcbc96,
            _ => IntegAlgorithm.None,
        };
        return integ != IntegAlgorithm.None;
    }

    /// <summary>The Encapsulation Mode value of <paramref name="terms"/> (RFC 2407 §4.5, RFC 3947 §5).</summary>
    public static EncapsulationMode WireMode(V1EspTerms terms) => (terms.Mode, terms.Udp, terms.DraftEncapsulation) switch
    {
        (IpsecMode.Tunnel, false, _) => EncapsulationMode.Tunnel,
        (IpsecMode.Transport, false, _) => EncapsulationMode.Transport,
        (IpsecMode.Tunnel, true, false) => EncapsulationMode.UdpTunnel,
        (IpsecMode.Transport, true, false) => EncapsulationMode.UdpTransport,
        (IpsecMode.Tunnel, true, true) => EncapsulationMode.UdpTunnelDraft,
        _ => EncapsulationMode.UdpTransportDraft,
    };

    private static void AddTerms(List<DataAttribute> attributes, V1EspTerms terms)
    {
        attributes.Add(DataAttribute.OfBasic((ushort)Phase2AttributeType.EncapsulationMode, (ushort)WireMode(terms)));
        AddLife(attributes, LifeType.Seconds, terms.LifeSeconds);
        AddLife(attributes, LifeType.Kilobytes, terms.LifeKilobytes);
    }

    private static void AddLife(List<DataAttribute> attributes, LifeType type, ulong value)
    {
        if (value == 0) return;
        uint v = (uint)Math.Min(value, uint.MaxValue);
        attributes.Add(DataAttribute.OfBasic((ushort)Phase2AttributeType.SaLifeType, (ushort)type));
        // RFC 2409 Appendix A: a duration above 16 bits travels as a variable attribute.
        attributes.Add(v <= ushort.MaxValue
            ? DataAttribute.OfBasic((ushort)Phase2AttributeType.SaLifeDuration, (ushort)v)
            : DataAttribute.OfVariable((ushort)Phase2AttributeType.SaLifeDuration, [(byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v]));
    }

    private static IReadOnlyList<Transform> ToV2Transforms(EspSuite suite)
    {
        var list = new List<Transform> { new EncryptionChoice(suite.Encryption, suite.KeyBits).ToWire() };
        if (suite.Integrity != IntegAlgorithm.None) list.Add(new Transform(TransformType.Integrity, (ushort)suite.Integrity));
        if (suite.Group != DhGroup.None) list.Add(new Transform(TransformType.DiffieHellman, (ushort)suite.Group));
        list.Add(new Transform(TransformType.ExtendedSequenceNumbers, (ushort)(suite.Esn ? EsnMode.Esn : EsnMode.NoEsn)));
        return list;
    }
}
