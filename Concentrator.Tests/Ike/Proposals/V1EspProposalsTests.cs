using Concentrator.Ike.Proposals;
using Concentrator.Ike.Wire;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;

namespace Concentrator.Tests.Ike.Proposals;

/// <summary>IKEv1 IPsec DOI ESP proposals (RFC 2407 §4.5) to and from our ESP proposal vocabulary, and the responder's
/// choice made by <see cref="ProposalSelector"/> as for IKEv2.</summary>
public class V1EspProposalsTests
{
    private static readonly byte[] PeerSpi = [0xC1, 0x02, 0x03, 0x04];
    private static readonly byte[] OurSpi = [0xAA, 0xBB, 0xCC, 0xDD];
    private static readonly V1EspTerms UdpTunnel = new(IpsecMode.Tunnel, Udp: true, DraftEncapsulation: false, 3600, 0);

    private static List<EspProposal> Esps(params string[] texts) => texts.Select(t =>
    {
        Assert.True(ProposalParser.TryParseEsp(t, out var p, out var e), e);
        return p!;
    }).ToList();

    private static DataAttribute A(Phase2AttributeType type, ushort value) => DataAttribute.OfBasic((ushort)type, value);

    /// <summary>A transform as charon 5.9 writes one for esp_proposals = aes128-sha256 with encap = yes.</summary>
    private static V1Transform Charon(byte number, EspTransformId id, ushort keyBits, Phase2AuthAlgorithm? auth, ushort group = 0,
        EncapsulationMode mode = EncapsulationMode.UdpTunnel, bool esn = false)
    {
        var attributes = new List<DataAttribute>();
        if (keyBits != 0) attributes.Add(A(Phase2AttributeType.KeyLength, keyBits));
        if (auth is { } a) attributes.Add(A(Phase2AttributeType.AuthenticationAlgorithm, (ushort)a));
        if (group != 0) attributes.Add(A(Phase2AttributeType.GroupDescription, group));
        attributes.Add(A(Phase2AttributeType.EncapsulationMode, (ushort)mode));
        attributes.Add(A(Phase2AttributeType.SaLifeType, (ushort)LifeType.Seconds));
        attributes.Add(A(Phase2AttributeType.SaLifeDuration, 1200));
        if (esn) attributes.Add(DataAttribute.OfBasic(V1EspProposals.ExtendedSequenceNumberAttribute, 1));
        return new V1Transform(number, (byte)id, attributes);
    }

    private static V1SaPayload Offer(params V1Transform[] transforms) => new([new V1Proposal(1, V1ProtocolId.Esp, PeerSpi, transforms)]);

    [Fact]
    public void Charon_offer_selects_aes_cbc_with_sha256_truncated_to_128_bits()
    {
        var offer = Offer(Charon(1, EspTransformId.AesCbc, 128, Phase2AuthAlgorithm.HmacSha2_256));
        Assert.True(V1EspProposals.TrySelect(Esps("aes128-sha256"), offer, IpsecMode.Tunnel, udp: true, out var s));
        Assert.Equal(new EspSuite(EncrAlgorithm.AesCbc, 128, IntegAlgorithm.HmacSha2_256_128, DhGroup.None, false), s!.Suite);
        Assert.Equal(0xC1020304u, s.PeerSpi);
        Assert.Equal(1200u, s.Terms.LifeSeconds);
        Assert.True(s.Terms.Udp);
        Assert.Same(offer.Proposals[0].Transforms[0], Assert.Single(s.Proposal.Transforms));
    }

    [Theory]
    [InlineData(Phase2AuthAlgorithm.HmacSha1, IntegAlgorithm.HmacSha1_96)]
    [InlineData(Phase2AuthAlgorithm.HmacSha2_256, IntegAlgorithm.HmacSha2_256_128)]
    [InlineData(Phase2AuthAlgorithm.HmacSha2_384, IntegAlgorithm.HmacSha2_384_192)]
    [InlineData(Phase2AuthAlgorithm.HmacSha2_512, IntegAlgorithm.HmacSha2_512_256)]
    public void Authentication_algorithms_map_to_their_rfc4868_integrity(Phase2AuthAlgorithm v1, IntegAlgorithm v2)
    {
        Assert.True(V1EspProposals.TryMap(Charon(1, EspTransformId.AesCbc, 256, v1), out var suite, out _));
        Assert.Equal(v2, suite.Integrity);
        Assert.Equal(256, suite.KeyBits);
        Assert.Equal(v1, V1EspProposals.ToV1Auth(v2));
    }

    [Fact]
    public void Our_order_wins_over_the_peers()
    {
        var offer = Offer(Charon(1, EspTransformId.AesCbc, 256, Phase2AuthAlgorithm.HmacSha1), Charon(2, EspTransformId.AesCbc, 128, Phase2AuthAlgorithm.HmacSha2_256));
        Assert.True(V1EspProposals.TrySelect(Esps("aes128-sha256", "aes256-sha1"), offer, IpsecMode.Tunnel, true, out var s));
        Assert.Equal(2, s!.Proposal.Transforms[0].Number);
        Assert.True(V1EspProposals.TrySelect(Esps("aes256-sha1", "aes128-sha256"), offer, IpsecMode.Tunnel, true, out s));
        Assert.Equal(1, s!.Proposal.Transforms[0].Number);
    }

    [Fact]
    public void Pfs_child_refuses_an_offer_without_its_group_and_takes_one_with_it()
    {
        var pfs = Esps("aes128-sha256-modp2048");
        Assert.False(V1EspProposals.TrySelect(pfs, Offer(Charon(1, EspTransformId.AesCbc, 128, Phase2AuthAlgorithm.HmacSha2_256)), IpsecMode.Tunnel, true, out _));
        Assert.False(V1EspProposals.TrySelect(pfs, Offer(Charon(1, EspTransformId.AesCbc, 128, Phase2AuthAlgorithm.HmacSha2_256, group: 19)), IpsecMode.Tunnel, true, out _));
        Assert.True(V1EspProposals.TrySelect(pfs, Offer(Charon(1, EspTransformId.AesCbc, 128, Phase2AuthAlgorithm.HmacSha2_256, group: 14)), IpsecMode.Tunnel, true, out var s));
        Assert.Equal(DhGroup.Modp2048, s!.Suite.Group);
    }

    [Fact]
    public void Child_without_pfs_refuses_an_offer_naming_a_group()
    {
        Assert.False(V1EspProposals.TrySelect(Esps("aes128-sha256"), Offer(Charon(1, EspTransformId.AesCbc, 128, Phase2AuthAlgorithm.HmacSha2_256, group: 14)),
            IpsecMode.Tunnel, true, out _));
    }

    [Theory]
    [InlineData(EncapsulationMode.Tunnel, false, true)]
    [InlineData(EncapsulationMode.Tunnel, true, false)]
    [InlineData(EncapsulationMode.UdpTunnel, true, true)]
    [InlineData(EncapsulationMode.UdpTunnel, false, false)]
    [InlineData(EncapsulationMode.UdpTunnelDraft, true, true)]
    [InlineData(EncapsulationMode.Transport, false, false)]
    [InlineData(EncapsulationMode.UdpTransport, true, false)]
    public void Encapsulation_mode_must_match_nat_detection_and_the_childs_mode(EncapsulationMode wire, bool natDetected, bool accepted)
    {
        var offer = Offer(Charon(1, EspTransformId.AesCbc, 128, Phase2AuthAlgorithm.HmacSha2_256, mode: wire));
        Assert.Equal(accepted, V1EspProposals.TrySelect(Esps("aes128-sha256"), offer, IpsecMode.Tunnel, natDetected, out var s));
        if (accepted) Assert.Equal(wire == EncapsulationMode.UdpTunnelDraft, s!.Terms.DraftEncapsulation);
    }

    [Fact]
    public void Transport_child_takes_udp_transport_including_the_draft_value()
    {
        foreach (var wire in new[] { EncapsulationMode.UdpTransport, EncapsulationMode.UdpTransportDraft })
        {
            var offer = Offer(Charon(1, EspTransformId.AesCbc, 128, Phase2AuthAlgorithm.HmacSha2_256, mode: wire));
            Assert.True(V1EspProposals.TrySelect(Esps("aes128-sha256"), offer, IpsecMode.Transport, true, out var s));
            Assert.Equal(IpsecMode.Transport, s!.Terms.Mode);
            Assert.Equal(wire, V1EspProposals.WireMode(s.Terms));
        }
    }

    [Fact]
    public void Aes_gcm_16_with_key_length_and_no_integrity()
    {
        var offer = Offer(Charon(1, EspTransformId.AesGcm16, 256, null));
        Assert.True(V1EspProposals.TrySelect(Esps("aes256gcm16"), offer, IpsecMode.Tunnel, true, out var s));
        Assert.Equal(new EspSuite(EncrAlgorithm.AesGcm16, 256, IntegAlgorithm.None, DhGroup.None, false), s!.Suite);
        Assert.False(V1EspProposals.TryMap(Charon(1, EspTransformId.AesGcm16, 256, Phase2AuthAlgorithm.HmacSha1), out _, out _));
        Assert.False(V1EspProposals.TryMap(Charon(1, EspTransformId.AesGcm16, 0, null), out _, out _));
    }

    [Fact]
    public void Aes_cbc_without_key_length_is_128_and_3des_takes_none()
    {
        Assert.True(V1EspProposals.TryMap(Charon(1, EspTransformId.AesCbc, 0, Phase2AuthAlgorithm.HmacSha1), out var suite, out _));
        Assert.Equal(128, suite.KeyBits);
        Assert.True(V1EspProposals.TryMap(Charon(1, EspTransformId.TripleDes, 0, Phase2AuthAlgorithm.HmacSha1), out suite, out _));
        Assert.Equal((EncrAlgorithm.TripleDes, 192), (suite.Encryption, suite.KeyBits));
        Assert.False(V1EspProposals.TryMap(Charon(1, EspTransformId.TripleDes, 192, Phase2AuthAlgorithm.HmacSha1), out _, out _));
        Assert.False(V1EspProposals.TryMap(Charon(1, EspTransformId.AesCbc, 64, Phase2AuthAlgorithm.HmacSha1), out _, out _));
        Assert.False(V1EspProposals.TryMap(Charon(1, EspTransformId.AesCbc, 128, null), out _, out _));
        Assert.False(V1EspProposals.TryMap(Charon(1, EspTransformId.AesCbc, 128, Phase2AuthAlgorithm.DesMac), out _, out _));
        Assert.False(V1EspProposals.TryMap(Charon(1, EspTransformId.Des, 0, Phase2AuthAlgorithm.HmacSha1), out _, out _));
    }

    [Fact]
    public void Lifetimes_default_to_eight_hours_and_read_long_durations_and_kilobytes()
    {
        var t = new V1Transform(1, (byte)EspTransformId.AesCbc, [A(Phase2AttributeType.AuthenticationAlgorithm, 2)]);
        Assert.True(V1EspProposals.TryMap(t, out _, out var terms));
        Assert.Equal((28800u, 0ul, IpsecMode.Tunnel, false), (terms.LifeSeconds, terms.LifeKilobytes, terms.Mode, terms.Udp));

        t = new V1Transform(1, (byte)EspTransformId.AesCbc,
        [
            A(Phase2AttributeType.AuthenticationAlgorithm, 2),
            A(Phase2AttributeType.SaLifeType, 1), DataAttribute.OfVariable((ushort)Phase2AttributeType.SaLifeDuration, [0, 1, 0x51, 0x80]),
            A(Phase2AttributeType.SaLifeType, 2), A(Phase2AttributeType.SaLifeDuration, 4608),
        ]);
        Assert.True(V1EspProposals.TryMap(t, out _, out terms));
        Assert.Equal((86400u, 4608ul), (terms.LifeSeconds, terms.LifeKilobytes));
    }

    public static TheoryData<string, DataAttribute[]> MalformedAttributes => new()
    {
        { "life type without duration", [A(Phase2AttributeType.SaLifeType, 1)] },
        { "duration without type", [A(Phase2AttributeType.SaLifeDuration, 10)] },
        { "zero duration", [A(Phase2AttributeType.SaLifeType, 1), A(Phase2AttributeType.SaLifeDuration, 0)] },
        { "unknown life type", [A(Phase2AttributeType.SaLifeType, 3), A(Phase2AttributeType.SaLifeDuration, 10)] },
        { "seconds twice", [A(Phase2AttributeType.SaLifeType, 1), A(Phase2AttributeType.SaLifeDuration, 10), A(Phase2AttributeType.SaLifeType, 1), A(Phase2AttributeType.SaLifeDuration, 20)] },
        { "five-octet duration", [A(Phase2AttributeType.SaLifeType, 1), DataAttribute.OfVariable((ushort)Phase2AttributeType.SaLifeDuration, [0, 0, 0, 0, 1])] },
        { "key rounds", [A(Phase2AttributeType.KeyRounds, 1)] },
        { "unassigned attribute", [DataAttribute.OfBasic(200, 1)] },
        { "auth twice", [A(Phase2AttributeType.AuthenticationAlgorithm, 5)] },
        { "unknown encapsulation", [A(Phase2AttributeType.EncapsulationMode, 5)] },
        { "group zero", [A(Phase2AttributeType.GroupDescription, 0)] },
        { "esn value 2", [DataAttribute.OfBasic(V1EspProposals.ExtendedSequenceNumberAttribute, 2)] },
        { "variable key length", [DataAttribute.OfVariable((ushort)Phase2AttributeType.KeyLength, [0, 128])] },
    };

    [Theory]
    [MemberData(nameof(MalformedAttributes))]
    public void A_transform_with_an_attribute_we_cannot_honour_is_refused(string why, DataAttribute[] extra)
    {
        var t = new V1Transform(1, (byte)EspTransformId.AesCbc, [A(Phase2AttributeType.AuthenticationAlgorithm, 2), .. extra]);
        Assert.False(V1EspProposals.TryMap(t, out _, out _), why);
        Assert.False(V1EspProposals.TrySelect(Esps("aes128-sha1"), new V1SaPayload([new V1Proposal(1, V1ProtocolId.Esp, PeerSpi, [t])]), IpsecMode.Tunnel, false, out _));
    }

    [Fact]
    public void Esn_attribute_selects_esn_only_for_a_child_that_allows_it()
    {
        var offer = Offer(Charon(1, EspTransformId.AesCbc, 128, Phase2AuthAlgorithm.HmacSha2_256, esn: true));
        Assert.False(V1EspProposals.TrySelect(Esps("aes128-sha256"), offer, IpsecMode.Tunnel, true, out _));
        Assert.True(V1EspProposals.TrySelect(Esps("aes128-sha256-esn"), offer, IpsecMode.Tunnel, true, out var s));
        Assert.True(s!.Suite.Esn);
    }

    [Fact]
    public void Esp_bundled_with_another_protocol_under_one_number_is_refused_and_a_later_esp_only_proposal_taken()
    {
        var t = Charon(1, EspTransformId.AesCbc, 128, Phase2AuthAlgorithm.HmacSha2_256);
        var bundled = new V1SaPayload([
            new V1Proposal(1, V1ProtocolId.Esp, PeerSpi, [t]),
            new V1Proposal(1, V1ProtocolId.IpComp, [0, 1], [new V1Transform(1, 2, [])]),
        ]);
        Assert.False(V1EspProposals.TrySelect(Esps("aes128-sha256"), bundled, IpsecMode.Tunnel, true, out _));
        var withAlternative = new V1SaPayload([.. bundled.Proposals, new V1Proposal(2, V1ProtocolId.Esp, PeerSpi, [t])]);
        Assert.True(V1EspProposals.TrySelect(Esps("aes128-sha256"), withAlternative, IpsecMode.Tunnel, true, out var s));
        Assert.Equal(2, s!.Proposal.Number);
    }

    [Fact]
    public void Our_offer_round_trips_through_a_responder_and_back()
    {
        var ours = Esps("aes256gcm16-modp2048", "aes128-sha256-modp2048", "aes128-sha1-ecp256");
        var offer = V1EspProposals.ToWire(ours, OurSpi, DhGroup.Modp2048, UdpTunnel);
        Assert.NotNull(offer);
        // the ecp256-only proposal cannot go with our modp2048 KE payload
        Assert.Equal(2, offer!.Transforms.Count);
        Assert.All(offer.Transforms, t => Assert.Contains(t.Attributes, a => a.Type == (ushort)Phase2AttributeType.GroupDescription && a.BasicValue == 14));
        Assert.Equal([1, 2], offer.Transforms.Select(t => (int)t.Number));

        // encoded and parsed as the peer would see it
        var sa = new V1SaPayload([offer]);
        var w = new SpanWriter(new byte[sa.BodyLength]);
        sa.WriteBody(ref w);
        Assert.Equal(ParseStatus.Ok, V1SaPayload.TryParse(w.Written, out var parsed));

        Assert.True(V1EspProposals.TrySelect(Esps("aes128-sha256-modp2048"), parsed!, IpsecMode.Tunnel, true, out var chosen));
        Assert.Equal(2, chosen!.Proposal.Transforms[0].Number);
        var answer = new V1SaPayload([chosen.Proposal with { Spi = PeerSpi }]);
        Assert.True(V1EspProposals.TryAccept(offer, answer, UdpTunnel, out var accepted));
        Assert.Equal(new EspSuite(EncrAlgorithm.AesCbc, 128, IntegAlgorithm.HmacSha2_256_128, DhGroup.Modp2048, false), accepted!.Suite);
        Assert.Equal(0xC1020304u, accepted.PeerSpi);
        Assert.Equal(3600u, accepted.Terms.LifeSeconds);
    }

    [Fact]
    public void Initiator_refuses_an_answer_it_did_not_offer_or_in_another_shape()
    {
        var offer = V1EspProposals.ToWire(Esps("aes128-sha256"), OurSpi, DhGroup.None, UdpTunnel)!;
        Assert.DoesNotContain(offer.Transforms[0].Attributes, a => a.Type == (ushort)Phase2AttributeType.GroupDescription);
        V1SaPayload Answer(V1Transform t) => new([new V1Proposal(1, V1ProtocolId.Esp, PeerSpi, [t])]);
        Assert.False(V1EspProposals.TryAccept(offer, Answer(Charon(1, EspTransformId.AesCbc, 256, Phase2AuthAlgorithm.HmacSha2_256)), UdpTunnel, out _));
        Assert.False(V1EspProposals.TryAccept(offer, Answer(Charon(1, EspTransformId.AesCbc, 128, Phase2AuthAlgorithm.HmacSha2_256, group: 14)), UdpTunnel, out _));
        Assert.False(V1EspProposals.TryAccept(offer, Answer(Charon(1, EspTransformId.AesCbc, 128, Phase2AuthAlgorithm.HmacSha2_256, mode: EncapsulationMode.Tunnel)), UdpTunnel, out _));
        Assert.False(V1EspProposals.TryAccept(offer, new V1SaPayload([offer with { Spi = PeerSpi, Transforms = [.. offer.Transforms, .. offer.Transforms] }]), UdpTunnel, out _));
        Assert.True(V1EspProposals.TryAccept(offer, Answer(Charon(1, EspTransformId.AesCbc, 128, Phase2AuthAlgorithm.HmacSha2_256)), UdpTunnel, out var a));
        Assert.Equal(1200u, a!.Terms.LifeSeconds);
    }
}
