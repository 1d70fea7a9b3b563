using Concentrator.Ike.Proposals;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;

namespace Concentrator.Tests.Ike.Proposals;

public class ProposalSelectorTests
{
    private static readonly byte[] EspSpi = [0xC0, 0x01, 0xD0, 0x0D];
    private static readonly byte[] IkeSpi = [1, 2, 3, 4, 5, 6, 7, 8];

    private static IkeProposal Ike(string text)
    {
        Assert.True(ProposalParser.TryExpandIke(text, out var p, out var error), error);
        return Assert.Single(p);
    }

    private static EspProposal Esp(string text)
    {
        Assert.True(ProposalParser.TryParseEsp(text, out var p, out var error), error);
        return p!;
    }

    private static List<IkeProposal> Ikes(params string[] texts) => texts.SelectMany(t =>
    {
        Assert.True(ProposalParser.TryExpandIke(t, out var p, out var e), e);
        return p;
    }).ToList();

    private static List<EspProposal> Esps(params string[] texts) => texts.SelectMany(t =>
    {
        Assert.True(ProposalParser.TryExpandEsp(t, out var p, out var e), e);
        return p;
    }).ToList();

    private static Transform T(TransformType type, ushort id, ushort keyLength = 0) => new(type, id, keyLength);
    private static Transform Encr(EncrAlgorithm a, ushort bits = 0) => T(TransformType.Encryption, (ushort)a, bits);
    private static Transform Prf(PrfAlgorithm a) => T(TransformType.Prf, (ushort)a);
    private static Transform Integ(IntegAlgorithm a) => T(TransformType.Integrity, (ushort)a);
    private static Transform Dh(DhGroup g) => T(TransformType.DiffieHellman, (ushort)g);
    private static Transform Esn(EsnMode e) => T(TransformType.ExtendedSequenceNumbers, (ushort)e);

    // ---- ToWire ---------------------------------------------------------------------------

    [Fact]
    public void Ike_to_wire_has_key_length_for_aes_prf_integ_dh_in_order()
    {
        var wire = ProposalSelector.ToWire(Ikes("aes256-aes128-sha256-ecp256-modp2048"), IkeSpi);
        var p = Assert.Single(wire);
        Assert.Equal(1, p.Number);
        Assert.Equal(ProtocolId.Ike, p.Protocol);
        Assert.Equal(IkeSpi, p.Spi);
        Assert.Equal(
            [
                Encr(EncrAlgorithm.AesCbc, 256), Encr(EncrAlgorithm.AesCbc, 128),
                Prf(PrfAlgorithm.HmacSha2_256),
                Integ(IntegAlgorithm.HmacSha2_256_128),
                Dh(DhGroup.Ecp256), Dh(DhGroup.Modp2048),
            ],
            p.Transforms);
    }

    [Fact]
    public void Ike_to_wire_omits_integrity_for_aead_and_key_length_for_chacha()
    {
        var wire = ProposalSelector.ToWire(Ikes("aes128gcm16-chacha20poly1305-prfsha384-x25519"), []);
        var p = Assert.Single(wire);
        Assert.Empty(p.Spi);
        Assert.Equal(
            [Encr(EncrAlgorithm.AesGcm16, 128), Encr(EncrAlgorithm.ChaCha20Poly1305), Prf(PrfAlgorithm.HmacSha2_384), Dh(DhGroup.Curve25519)],
            p.Transforms);
    }

    [Fact]
    public void To_wire_numbers_from_one_and_leaves_out_unsupported_algorithms()
    {
        var wire = ProposalSelector.ToWire(Ikes("des-md5-modp768", "aes256-md5-sha256-modp768-ecp384", "default"), []);
        // des-md5-modp768 has nothing we implement: dropped, not weakened.
        Assert.Equal([1, 2, 3], wire.Select(p => (int)p.Number));
        var first = wire[0].Transforms;
        Assert.Equal([Encr(EncrAlgorithm.AesCbc, 256), Prf(PrfAlgorithm.HmacSha2_256), Integ(IntegAlgorithm.HmacSha2_256_128), Dh(DhGroup.Ecp384)], first);
        // strongSwan's default list names 3des and sha1; they are never offered from it.
        Assert.DoesNotContain(wire.SelectMany(p => p.Transforms), t => t.Type == TransformType.Encryption && t.Id == (ushort)EncrAlgorithm.TripleDes);
        Assert.DoesNotContain(wire.SelectMany(p => p.Transforms), t => t.Type == TransformType.Integrity && t.Id == (ushort)IntegAlgorithm.HmacSha1_96);
        Assert.DoesNotContain(wire.SelectMany(p => p.Transforms), t => t.Type == TransformType.Prf && t.Id == (ushort)PrfAlgorithm.HmacSha1);
        Assert.DoesNotContain(wire.SelectMany(p => p.Transforms), t => t.Type == TransformType.DiffieHellman && t.Id == (ushort)DhGroup.Curve448);
    }

    [Fact]
    public void Esp_to_wire_groups_only_when_asked_and_esn_always()
    {
        var esp = Esps("aes256-sha256-ecp256");
        var noGroups = Assert.Single(ProposalSelector.ToWire(esp, EspSpi, includeGroups: false));
        Assert.Equal([Encr(EncrAlgorithm.AesCbc, 256), Integ(IntegAlgorithm.HmacSha2_256_128), Esn(EsnMode.NoEsn)], noGroups.Transforms);
        Assert.Equal(ProtocolId.Esp, noGroups.Protocol);
        Assert.Equal(EspSpi, noGroups.Spi);

        var groups = Assert.Single(ProposalSelector.ToWire(esp, EspSpi, includeGroups: true));
        Assert.Equal([Encr(EncrAlgorithm.AesCbc, 256), Integ(IntegAlgorithm.HmacSha2_256_128), Dh(DhGroup.Ecp256), Esn(EsnMode.NoEsn)], groups.Transforms);

        var aead = Assert.Single(ProposalSelector.ToWire(Esps("aes128gcm16-esn-noesn"), EspSpi, includeGroups: true));
        Assert.Equal([Encr(EncrAlgorithm.AesGcm16, 128), Esn(EsnMode.Esn), Esn(EsnMode.NoEsn)], aead.Transforms);
    }

    // ---- IKE selection --------------------------------------------------------------------

    [Fact]
    public void Our_proposal_order_wins_and_peer_number_and_spi_are_kept()
    {
        var offered = new List<Proposal>
        {
            new(1, ProtocolId.Ike, [], [Encr(EncrAlgorithm.AesCbc, 128), Prf(PrfAlgorithm.HmacSha2_256), Integ(IntegAlgorithm.HmacSha2_256_128), Dh(DhGroup.Modp2048)]),
            new(2, ProtocolId.Ike, [], [Encr(EncrAlgorithm.AesGcm16, 256), Prf(PrfAlgorithm.HmacSha2_384), Dh(DhGroup.Ecp384)]),
        };
        var configured = Ikes("aes256gcm16-prfsha384-ecp384", "aes128-sha256-modp2048");

        Assert.True(ProposalSelector.TrySelectIke(configured, offered, out var chosen, out var suite));
        Assert.Equal(2, chosen!.Number);
        Assert.Equal([Encr(EncrAlgorithm.AesGcm16, 256), Prf(PrfAlgorithm.HmacSha2_384), Dh(DhGroup.Ecp384)], chosen.Transforms);
        Assert.Equal(new IkeSuite(EncrAlgorithm.AesGcm16, 256, PrfAlgorithm.HmacSha2_384, IntegAlgorithm.None, DhGroup.Ecp384), suite);

        // Reversed configuration picks the peer's first proposal instead.
        configured.Reverse();
        Assert.True(ProposalSelector.TrySelectIke(configured, offered, out chosen, out suite));
        Assert.Equal(1, chosen!.Number);
        Assert.Equal(new IkeSuite(EncrAlgorithm.AesCbc, 128, PrfAlgorithm.HmacSha2_256, IntegAlgorithm.HmacSha2_256_128, DhGroup.Modp2048), suite);
    }

    [Fact]
    public void Within_a_type_our_algorithm_order_wins()
    {
        var offered = new List<Proposal>
        {
            new(7, ProtocolId.Ike, IkeSpi,
                [Encr(EncrAlgorithm.AesCbc, 128), Encr(EncrAlgorithm.AesCbc, 256), Prf(PrfAlgorithm.HmacSha2_256), Prf(PrfAlgorithm.HmacSha2_512),
                 Integ(IntegAlgorithm.HmacSha2_256_128), Integ(IntegAlgorithm.HmacSha2_512_256), Dh(DhGroup.Modp2048), Dh(DhGroup.Curve25519)]),
        };
        var configured = Ikes("aes256-aes128-sha512-sha256-prfsha512-prfsha256-x25519-modp2048");
        Assert.True(ProposalSelector.TrySelectIke(configured, offered, out var chosen, out var suite));
        Assert.Equal(new IkeSuite(EncrAlgorithm.AesCbc, 256, PrfAlgorithm.HmacSha2_512, IntegAlgorithm.HmacSha2_512_256, DhGroup.Curve25519), suite);
        Assert.Equal(7, chosen!.Number);
        Assert.Equal(IkeSpi, chosen.Spi);
        // Exactly one transform of each type.
        Assert.Equal(4, chosen.Transforms.Count);
        Assert.Equal(4, chosen.Transforms.Select(t => t.Type).Distinct().Count());
    }

    [Fact]
    public void Ke_payload_group_is_preferred_when_we_allow_it()
    {
        var configured = Ikes("aes256-sha256-modp2048-ecp256");
        var offered = new List<Proposal>
        {
            new(1, ProtocolId.Ike, [], [Encr(EncrAlgorithm.AesCbc, 256), Prf(PrfAlgorithm.HmacSha2_256), Integ(IntegAlgorithm.HmacSha2_256_128), Dh(DhGroup.Ecp256), Dh(DhGroup.Modp2048), Dh(DhGroup.Ecp384)]),
        };
        Assert.True(ProposalSelector.TrySelectIke(configured, offered, out _, out var suite));
        Assert.Equal(DhGroup.Modp2048, suite.Group);
        Assert.True(ProposalSelector.TrySelectIke(configured, offered, DhGroup.Ecp256, out var chosen, out suite));
        Assert.Equal(DhGroup.Ecp256, suite.Group);
        Assert.Contains(Dh(DhGroup.Ecp256), chosen!.Transforms);
        // A KE group we don't allow changes nothing (the exchange answers INVALID_KE_PAYLOAD).
        Assert.True(ProposalSelector.TrySelectIke(configured, offered, DhGroup.Ecp384, out _, out suite));
        Assert.Equal(DhGroup.Modp2048, suite.Group);
        // Promotion does not leak into the configured proposal.
        Assert.Equal([DhGroup.Modp2048, DhGroup.Ecp256], configured[0].Groups);
    }

    [Fact]
    public void Key_length_must_match()
    {
        var configured = Ikes("aes256-sha256-ecp256");
        Proposal Offer(ushort bits) => new(1, ProtocolId.Ike, [],
            [Encr(EncrAlgorithm.AesCbc, bits), Prf(PrfAlgorithm.HmacSha2_256), Integ(IntegAlgorithm.HmacSha2_256_128), Dh(DhGroup.Ecp256)]);
        Assert.False(ProposalSelector.TrySelectIke(configured, [Offer(128)], out _, out _));
        Assert.False(ProposalSelector.TrySelectIke(configured, [Offer(0)], out _, out _));
        Assert.True(ProposalSelector.TrySelectIke(configured, [Offer(256)], out _, out _));
    }

    [Fact]
    public void Chacha_with_key_length_attribute_does_not_match()
    {
        var configured = Ikes("chacha20poly1305-prfsha256-ecp256");
        Proposal Offer(ushort bits) => new(1, ProtocolId.Ike, [], [Encr(EncrAlgorithm.ChaCha20Poly1305, bits), Prf(PrfAlgorithm.HmacSha2_256), Dh(DhGroup.Ecp256)]);
        Assert.False(ProposalSelector.TrySelectIke(configured, [Offer(256)], out _, out _));
        Assert.True(ProposalSelector.TrySelectIke(configured, [Offer(0)], out _, out var suite));
        Assert.Equal(256, suite.KeyBits);
    }

    [Theory]
    [InlineData(TransformType.Prf)]
    [InlineData(TransformType.Integrity)]
    [InlineData(TransformType.DiffieHellman)]
    [InlineData(TransformType.Encryption)]
    public void Partial_match_is_rejected(TransformType mismatched)
    {
        var transforms = new List<Transform>
        {
            mismatched == TransformType.Encryption ? Encr(EncrAlgorithm.AesCbc, 192) : Encr(EncrAlgorithm.AesCbc, 256),
            mismatched == TransformType.Prf ? Prf(PrfAlgorithm.HmacSha2_512) : Prf(PrfAlgorithm.HmacSha2_256),
            mismatched == TransformType.Integrity ? Integ(IntegAlgorithm.HmacSha2_512_256) : Integ(IntegAlgorithm.HmacSha2_256_128),
            mismatched == TransformType.DiffieHellman ? Dh(DhGroup.Ecp384) : Dh(DhGroup.Ecp256),
        };
        var configured = Ikes("aes256-sha256-ecp256");
        Assert.False(ProposalSelector.TrySelectIke(configured, [new Proposal(1, ProtocolId.Ike, [], transforms)], out var chosen, out _));
        Assert.Null(chosen);
    }

    [Fact]
    public void Offered_transform_type_we_cannot_match_rejects_the_proposal()
    {
        var configured = Ikes("aes256-sha256-ecp256");
        var good = new List<Transform> { Encr(EncrAlgorithm.AesCbc, 256), Prf(PrfAlgorithm.HmacSha2_256), Integ(IntegAlgorithm.HmacSha2_256_128), Dh(DhGroup.Ecp256) };
        Assert.True(ProposalSelector.TrySelectIke(configured, [new Proposal(1, ProtocolId.Ike, [], good)], out _, out _));
        var withEsn = good.Append(Esn(EsnMode.NoEsn)).ToList();
        Assert.False(ProposalSelector.TrySelectIke(configured, [new Proposal(1, ProtocolId.Ike, [], withEsn)], out _, out _));
        var withAddKe = good.Append(T((TransformType)6, 36)).ToList();
        Assert.False(ProposalSelector.TrySelectIke(configured, [new Proposal(1, ProtocolId.Ike, [], withAddKe)], out _, out _));
        var missingInteg = good.Where(t => t.Type != TransformType.Integrity).ToList();
        Assert.False(ProposalSelector.TrySelectIke(configured, [new Proposal(1, ProtocolId.Ike, [], missingInteg)], out _, out _));
    }

    [Fact]
    public void Aead_offer_with_integrity_none_is_accepted_and_integrity_left_out()
    {
        var configured = Ikes("aes128gcm16-prfsha256-ecp256");
        var offered = new Proposal(3, ProtocolId.Ike, [], [Encr(EncrAlgorithm.AesGcm16, 128), Prf(PrfAlgorithm.HmacSha2_256), Integ(IntegAlgorithm.None), Dh(DhGroup.Ecp256)]);
        Assert.True(ProposalSelector.TrySelectIke(configured, [offered], out var chosen, out _));
        Assert.DoesNotContain(chosen!.Transforms, t => t.Type == TransformType.Integrity);
    }

    [Fact]
    public void Weak_algorithms_are_selected_from_written_proposals_only_and_broken_ones_never()
    {
        var weakOnly = new Proposal(1, ProtocolId.Ike, [], [Encr(EncrAlgorithm.TripleDes), Prf(PrfAlgorithm.HmacSha1), Integ(IntegAlgorithm.HmacSha1_96), Dh(DhGroup.Modp1024)]);
        // Written (the config loader admitted it under weak_algorithms): selected.
        var configured = Ikes("aes256-3des-sha256-sha1-md5-prfsha1-prfsha256-modp1024-modp2048");
        Assert.True(ProposalSelector.TrySelectIke(configured, [weakOnly], out _, out var weakSuite));
        Assert.Equal(new IkeSuite(EncrAlgorithm.TripleDes, 192, PrfAlgorithm.HmacSha1, IntegAlgorithm.HmacSha1_96, DhGroup.Modp1024), weakSuite);
        // strongSwan's default list names 3des, sha1 and prfsha1 but never selects them.
        Assert.False(ProposalSelector.TrySelectIke(ProposalParser.DefaultIke, [weakOnly with { Transforms = [.. weakOnly.Transforms.SkipLast(1), Dh(DhGroup.Modp2048)] }], out _, out _));
        // Broken ones never: DES, MD5, MODP-768.
        var broken = new Proposal(2, ProtocolId.Ike, [], [Encr(EncrAlgorithm.Des), Prf(PrfAlgorithm.HmacMd5), Integ(IntegAlgorithm.HmacMd5_96), Dh(DhGroup.Modp768)]);
        Assert.False(ProposalSelector.TrySelectIke(Ikes("des-md5-prfmd5-modp768", "aes256-sha256-modp2048"), [broken], out _, out _));
    }

    [Fact]
    public void Esp_offers_are_ignored_for_ike_and_bad_spi_sizes_rejected()
    {
        var configured = Ikes("aes256gcm16-prfsha256-ecp256");
        var transforms = new List<Transform> { Encr(EncrAlgorithm.AesGcm16, 256), Prf(PrfAlgorithm.HmacSha2_256), Dh(DhGroup.Ecp256) };
        Assert.False(ProposalSelector.TrySelectIke(configured, [new Proposal(1, ProtocolId.Esp, [], transforms)], out _, out _));
        Assert.False(ProposalSelector.TrySelectIke(configured, [new Proposal(1, ProtocolId.Ike, [1, 2, 3, 4], transforms)], out _, out _));
        Assert.True(ProposalSelector.TrySelectIke(configured, [new Proposal(1, ProtocolId.Ike, IkeSpi, transforms)], out _, out _));
    }

    [Fact]
    public void Strongswan_default_offer_negotiates_with_our_default()
    {
        // What a strongSwan 5.9 initiator with proposals=default sends (as far as our enums go).
        var peer = ProposalSelector.ToWire(ProposalParser.DefaultIke, []);
        Assert.Equal(2, peer.Count);
        Assert.True(ProposalSelector.TrySelectIke(ProposalParser.DefaultIke, peer, out var chosen, out var suite));
        Assert.Equal(1, chosen!.Number);
        Assert.Equal(new IkeSuite(EncrAlgorithm.AesCbc, 128, PrfAlgorithm.HmacSha2_256, IntegAlgorithm.HmacSha2_256_128, DhGroup.Ecp256), suite);

        // And with a typical explicit config of ours.
        Assert.True(ProposalSelector.TrySelectIke(Ikes("aes256gcm16-prfsha256-ecp256"), peer, out chosen, out suite));
        Assert.Equal(2, chosen!.Number);
        Assert.Equal(new IkeSuite(EncrAlgorithm.AesGcm16, 256, PrfAlgorithm.HmacSha2_256, IntegAlgorithm.None, DhGroup.Ecp256), suite);

        var espPeer = ProposalSelector.ToWire(ProposalParser.DefaultEsp, EspSpi, includeGroups: false);
        Assert.True(ProposalSelector.TrySelectEsp(ProposalParser.DefaultEsp, espPeer, requireGroup: false, out _, out var esp));
        Assert.Equal(new EspSuite(EncrAlgorithm.AesCbc, 128, IntegAlgorithm.HmacSha2_256_128, DhGroup.None, false), esp);
    }

    // ---- ESP selection --------------------------------------------------------------------

    [Fact]
    public void Esp_selection_picks_esn_by_our_order()
    {
        var offered = new Proposal(1, ProtocolId.Esp, EspSpi, [Encr(EncrAlgorithm.AesGcm16, 256), Esn(EsnMode.NoEsn), Esn(EsnMode.Esn)]);
        Assert.True(ProposalSelector.TrySelectEsp(Esps("aes256gcm16-esn-noesn"), [offered], false, out var chosen, out var suite));
        Assert.True(suite.Esn);
        Assert.Equal([Encr(EncrAlgorithm.AesGcm16, 256), Esn(EsnMode.Esn)], chosen!.Transforms);

        Assert.True(ProposalSelector.TrySelectEsp(Esps("aes256gcm16"), [offered], false, out _, out suite));
        Assert.False(suite.Esn);

        var esnOnly = offered with { Transforms = [Encr(EncrAlgorithm.AesGcm16, 256), Esn(EsnMode.Esn)] };
        Assert.False(ProposalSelector.TrySelectEsp(Esps("aes256gcm16"), [esnOnly], false, out _, out _));
        var noEsnTransform = offered with { Transforms = [Encr(EncrAlgorithm.AesGcm16, 256)] };
        Assert.False(ProposalSelector.TrySelectEsp(Esps("aes256gcm16"), [noEsnTransform], false, out _, out _));
    }

    [Fact]
    public void Esp_in_ike_auth_ignores_dh_transforms_on_both_sides()
    {
        // strongSwan with PFS configured sends DH groups in IKE_AUTH's first Child SA proposal.
        var offered = new Proposal(1, ProtocolId.Esp, EspSpi,
            [Encr(EncrAlgorithm.AesGcm16, 128), Dh(DhGroup.Modp1024), Esn(EsnMode.NoEsn)]);
        Assert.True(ProposalSelector.TrySelectEsp(Esps("aes128gcm16"), [offered], requireGroup: false, out var chosen, out var suite));
        Assert.DoesNotContain(chosen!.Transforms, t => t.Type == TransformType.DiffieHellman);
        Assert.Equal(DhGroup.None, suite.Group);
        // Our PFS config does not block IKE_AUTH against a peer without groups.
        var plain = offered with { Transforms = [Encr(EncrAlgorithm.AesGcm16, 128), Esn(EsnMode.NoEsn)] };
        Assert.True(ProposalSelector.TrySelectEsp(Esps("aes128gcm16-ecp256"), [plain], requireGroup: false, out _, out suite));
        Assert.Equal(DhGroup.None, suite.Group);
    }

    [Fact]
    public void Esp_rekey_negotiates_dh_groups()
    {
        var withGroups = new Proposal(2, ProtocolId.Esp, EspSpi,
            [Encr(EncrAlgorithm.AesGcm16, 128), Dh(DhGroup.Modp2048), Dh(DhGroup.Ecp256), Esn(EsnMode.NoEsn)]);
        Assert.True(ProposalSelector.TrySelectEsp(Esps("aes128gcm16-ecp256-modp2048"), [withGroups], requireGroup: true, out var chosen, out var suite));
        Assert.Equal(DhGroup.Ecp256, suite.Group);
        Assert.Equal([Encr(EncrAlgorithm.AesGcm16, 128), Dh(DhGroup.Ecp256), Esn(EsnMode.NoEsn)], chosen!.Transforms);

        // We want PFS, the peer offers none: no match. The peer wants PFS, we have none: no match.
        var noGroups = withGroups with { Transforms = [Encr(EncrAlgorithm.AesGcm16, 128), Esn(EsnMode.NoEsn)] };
        Assert.False(ProposalSelector.TrySelectEsp(Esps("aes128gcm16-ecp256"), [noGroups], true, out _, out _));
        Assert.False(ProposalSelector.TrySelectEsp(Esps("aes128gcm16"), [withGroups], true, out _, out _));
        // Neither side has groups: fine, no PFS.
        Assert.True(ProposalSelector.TrySelectEsp(Esps("aes128gcm16"), [noGroups], true, out _, out suite));
        Assert.Equal(DhGroup.None, suite.Group);
        // Different groups: no match.
        Assert.False(ProposalSelector.TrySelectEsp(Esps("aes128gcm16-ecp384"), [withGroups], true, out _, out _));
    }

    [Fact]
    public void Esp_dh_none_makes_pfs_optional()
    {
        var peerNone = new Proposal(1, ProtocolId.Esp, EspSpi, [Encr(EncrAlgorithm.AesGcm16, 128), Dh(DhGroup.Ecp384), Dh(DhGroup.None), Esn(EsnMode.NoEsn)]);
        Assert.True(ProposalSelector.TrySelectEsp(Esps("aes128gcm16"), [peerNone], true, out var chosen, out var suite));
        Assert.Equal(DhGroup.None, suite.Group);
        Assert.DoesNotContain(chosen!.Transforms, t => t.Type == TransformType.DiffieHellman);

        var peerPlain = peerNone with { Transforms = [Encr(EncrAlgorithm.AesGcm16, 128), Esn(EsnMode.NoEsn)] };
        Assert.True(ProposalSelector.TrySelectEsp(Esps("aes128gcm16-ecp256-none"), [peerPlain], true, out _, out suite));
        Assert.Equal(DhGroup.None, suite.Group);
    }

    [Fact]
    public void Esp_needs_four_byte_spi_and_esp_protocol()
    {
        var transforms = new List<Transform> { Encr(EncrAlgorithm.AesGcm16, 128), Esn(EsnMode.NoEsn) };
        Assert.False(ProposalSelector.TrySelectEsp(Esps("aes128gcm16"), [new Proposal(1, ProtocolId.Esp, [], transforms)], false, out _, out _));
        Assert.False(ProposalSelector.TrySelectEsp(Esps("aes128gcm16"), [new Proposal(1, ProtocolId.Ah, EspSpi, transforms)], false, out _, out _));
        Assert.True(ProposalSelector.TrySelectEsp(Esps("aes128gcm16"), [new Proposal(1, ProtocolId.Esp, EspSpi, transforms)], false, out _, out _));
    }

    [Fact]
    public void Esp_classic_needs_integrity_and_prf_is_unmatched()
    {
        var classic = new List<Transform> { Encr(EncrAlgorithm.AesCbc, 128), Integ(IntegAlgorithm.HmacSha2_256_128), Esn(EsnMode.NoEsn) };
        Assert.True(ProposalSelector.TrySelectEsp(Esps("aes128-sha256"), [new Proposal(1, ProtocolId.Esp, EspSpi, classic)], false, out _, out var suite));
        Assert.Equal(new EspSuite(EncrAlgorithm.AesCbc, 128, IntegAlgorithm.HmacSha2_256_128, DhGroup.None, false), suite);
        var noInteg = classic.Where(t => t.Type != TransformType.Integrity).ToList();
        Assert.False(ProposalSelector.TrySelectEsp(Esps("aes128-sha256"), [new Proposal(1, ProtocolId.Esp, EspSpi, noInteg)], false, out _, out _));
        var withPrf = classic.Append(Prf(PrfAlgorithm.HmacSha2_256)).ToList();
        Assert.False(ProposalSelector.TrySelectEsp(Esps("aes128-sha256"), [new Proposal(1, ProtocolId.Esp, EspSpi, withPrf)], false, out _, out _));
        // Encryption without integrity is never used, even if configured.
        Assert.False(ProposalSelector.TrySelectEsp(Esps("aes128"), [new Proposal(1, ProtocolId.Esp, EspSpi, noInteg)], false, out _, out _));
    }

    // ---- initiator accepts ----------------------------------------------------------------

    [Fact]
    public void Ike_round_trip_to_wire_select_accept()
    {
        var ours = Ikes("aes256gcm16-prfsha384-ecp384", "aes128-sha256-x25519");
        var offer = ProposalSelector.ToWire(ours, []);
        var responderConfig = Ikes("aes128-sha256-x25519");
        Assert.True(ProposalSelector.TrySelectIke(responderConfig, offer, out var answer, out var responderSuite));
        Assert.True(ProposalSelector.TryAcceptIke(ours, answer!, out var initiatorSuite));
        Assert.Equal(responderSuite, initiatorSuite);
        Assert.Equal(new IkeSuite(EncrAlgorithm.AesCbc, 128, PrfAlgorithm.HmacSha2_256, IntegAlgorithm.HmacSha2_256_128, DhGroup.Curve25519), initiatorSuite);
    }

    [Fact]
    public void Ike_accept_rejects_answers_outside_the_offer()
    {
        var ours = Ikes("aes256gcm16-prfsha384-ecp384", "aes128-sha256-x25519");
        var good = new Proposal(1, ProtocolId.Ike, [], [Encr(EncrAlgorithm.AesGcm16, 256), Prf(PrfAlgorithm.HmacSha2_384), Dh(DhGroup.Ecp384)]);
        Assert.True(ProposalSelector.TryAcceptIke(ours, good, out _));
        // Wrong proposal number for these transforms.
        Assert.False(ProposalSelector.TryAcceptIke(ours, good with { Number = 2 }, out _));
        Assert.False(ProposalSelector.TryAcceptIke(ours, good with { Number = 3 }, out _));
        // Algorithm we did not offer.
        Assert.False(ProposalSelector.TryAcceptIke(ours, good with { Transforms = [Encr(EncrAlgorithm.AesGcm16, 128), Prf(PrfAlgorithm.HmacSha2_384), Dh(DhGroup.Ecp384)] }, out _));
        // Two transforms of one type.
        Assert.False(ProposalSelector.TryAcceptIke(ours, good with { Transforms = [.. good.Transforms, Dh(DhGroup.Ecp384)] }, out _));
        // Missing type.
        Assert.False(ProposalSelector.TryAcceptIke(ours, good with { Transforms = [Encr(EncrAlgorithm.AesGcm16, 256), Dh(DhGroup.Ecp384)] }, out _));
        // Integrity next to AEAD.
        Assert.False(ProposalSelector.TryAcceptIke(ours, good with { Transforms = [.. good.Transforms, Integ(IntegAlgorithm.HmacSha2_256_128)] }, out _));
        // Wrong protocol.
        Assert.False(ProposalSelector.TryAcceptIke(ours, good with { Protocol = ProtocolId.Esp }, out _));
    }

    [Fact]
    public void Esp_round_trip_and_accept_checks()
    {
        var ours = Esps("aes256gcm16-ecp256-esn-noesn", "aes128-sha256");
        var offer = ProposalSelector.ToWire(ours, EspSpi, includeGroups: true);
        Assert.True(ProposalSelector.TrySelectEsp(Esps("aes256gcm16-ecp256-noesn"), offer, requireGroup: true, out var answer, out var rSuite));
        Assert.True(ProposalSelector.TryAcceptEsp(ours, answer!, includedGroups: true, out var iSuite));
        Assert.Equal(rSuite, iSuite);
        Assert.Equal(new EspSuite(EncrAlgorithm.AesGcm16, 256, IntegAlgorithm.None, DhGroup.Ecp256, false), iSuite);
        Assert.True(ProposalSelector.TryAcceptEsp(ours, answer!, out iSuite));
        Assert.Equal(rSuite, iSuite);

        // We asked for PFS: an answer without DH is refused by the strict form, tolerated by the lenient one.
        var noDh = answer! with { Transforms = answer.Transforms.Where(t => t.Type != TransformType.DiffieHellman).ToList() };
        Assert.False(ProposalSelector.TryAcceptEsp(ours, noDh, includedGroups: true, out _));
        Assert.True(ProposalSelector.TryAcceptEsp(ours, noDh, out _));
        // A group we did not offer.
        var otherDh = answer with { Transforms = [Encr(EncrAlgorithm.AesGcm16, 256), Dh(DhGroup.Ecp384), Esn(EsnMode.NoEsn)] };
        Assert.False(ProposalSelector.TryAcceptEsp(ours, otherDh, out _));
        // SPI must be 4 bytes.
        Assert.False(ProposalSelector.TryAcceptEsp(ours, answer with { Spi = [] }, out _));
        // Missing ESN.
        Assert.False(ProposalSelector.TryAcceptEsp(ours, answer with { Transforms = [Encr(EncrAlgorithm.AesGcm16, 256), Dh(DhGroup.Ecp256)] }, out _));
    }

    [Fact]
    public void Usability_check_flags_proposals_without_implemented_algorithms()
    {
        Assert.True(ProposalSelector.IsUsable(Ike("aes256-sha256-ecp256")));
        Assert.False(ProposalSelector.IsUsable(Ike("des-sha256-ecp256")));
        Assert.False(ProposalSelector.IsUsable(Ike("aes256-sha256-modp768")));
        Assert.False(ProposalSelector.IsUsable(Esp("aes256gcm16-modp768")));
        Assert.True(ProposalSelector.IsUsable(Esp("aes256gcm16-modp768-ecp256")));
        Assert.False(ProposalSelector.IsUsable(Esp("aes256-md5")));
        // Weak ones are usable in a written proposal (the config loader admits them only with weak_algorithms).
        Assert.True(ProposalSelector.IsUsable(Ike("3des-sha1-modp1024")));
        Assert.True(ProposalSelector.IsUsable(Esp("3des-sha1-modp1024")));
    }
}
