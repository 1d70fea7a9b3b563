using Concentrator.Ike.Proposals;
using Concentrator.Ipsec;

namespace Concentrator.Tests.Ike.Proposals;

public class ProposalParserTests
{
    private static IkeProposal Ike(string text)
    {
        Assert.True(ProposalParser.TryParseIke(text, out var p, out var error), error);
        return p!;
    }

    private static EspProposal Esp(string text)
    {
        Assert.True(ProposalParser.TryParseEsp(text, out var p, out var error), error);
        return p!;
    }

    private static string IkeError(string text)
    {
        Assert.False(ProposalParser.TryParseIke(text, out var p, out var error));
        Assert.Null(p);
        return error!;
    }

    private static string EspError(string text)
    {
        Assert.False(ProposalParser.TryParseEsp(text, out var p, out var error));
        Assert.Null(p);
        return error!;
    }

    [Theory]
    [InlineData("aes128", EncrAlgorithm.AesCbc, 128)]
    [InlineData("aes192", EncrAlgorithm.AesCbc, 192)]
    [InlineData("aes256", EncrAlgorithm.AesCbc, 256)]
    [InlineData("aes", EncrAlgorithm.AesCbc, 128)]
    [InlineData("aes128gcm16", EncrAlgorithm.AesGcm16, 128)]
    [InlineData("aes128gcm128", EncrAlgorithm.AesGcm16, 128)]
    [InlineData("aes192gcm16", EncrAlgorithm.AesGcm16, 192)]
    [InlineData("aes256gcm16", EncrAlgorithm.AesGcm16, 256)]
    [InlineData("aes256gcm", EncrAlgorithm.AesGcm16, 256)]
    [InlineData("aes128gcm12", EncrAlgorithm.AesGcm12, 128)]
    [InlineData("aes256gcm96", EncrAlgorithm.AesGcm12, 256)]
    [InlineData("aes128gcm8", EncrAlgorithm.AesGcm8, 128)]
    [InlineData("aes192gcm64", EncrAlgorithm.AesGcm8, 192)]
    [InlineData("aes256ccm16", EncrAlgorithm.AesCcm16, 256)]
    [InlineData("aes128ctr", EncrAlgorithm.AesCtr, 128)]
    [InlineData("chacha20poly1305", EncrAlgorithm.ChaCha20Poly1305, 256)]
    [InlineData("3des", EncrAlgorithm.TripleDes, 192)]
    [InlineData("des", EncrAlgorithm.Des, 64)]
    [InlineData("null", EncrAlgorithm.Null, 0)]
    public void Encryption_keywords_map_to_algorithm_and_key_size(string keyword, EncrAlgorithm alg, int bits)
    {
        var p = Esp(keyword + "-sha256");
        Assert.Equal([new EncryptionChoice(alg, bits)], p.Encryption);
    }

    [Theory]
    [InlineData("sha256", IntegAlgorithm.HmacSha2_256_128, PrfAlgorithm.HmacSha2_256)]
    [InlineData("sha2_256", IntegAlgorithm.HmacSha2_256_128, PrfAlgorithm.HmacSha2_256)]
    [InlineData("sha384", IntegAlgorithm.HmacSha2_384_192, PrfAlgorithm.HmacSha2_384)]
    [InlineData("sha512", IntegAlgorithm.HmacSha2_512_256, PrfAlgorithm.HmacSha2_512)]
    [InlineData("sha1", IntegAlgorithm.HmacSha1_96, PrfAlgorithm.HmacSha1)]
    [InlineData("sha", IntegAlgorithm.HmacSha1_96, PrfAlgorithm.HmacSha1)]
    [InlineData("md5", IntegAlgorithm.HmacMd5_96, PrfAlgorithm.HmacMd5)]
    [InlineData("aesxcbc", IntegAlgorithm.AesXcbc96, PrfAlgorithm.AesXcbc)]
    public void Integrity_keyword_implies_matching_prf_for_ike(string keyword, IntegAlgorithm integ, PrfAlgorithm prf)
    {
        var p = Ike($"aes128-{keyword}-modp2048");
        Assert.Equal([integ], p.Integrity);
        Assert.Equal([prf], p.Prf);
    }

    [Fact]
    public void Implied_prfs_follow_integrity_order()
    {
        var p = Ike("aes256-sha512-sha256-ecp256");
        Assert.Equal([PrfAlgorithm.HmacSha2_512, PrfAlgorithm.HmacSha2_256], p.Prf);
    }

    [Fact]
    public void Explicit_prf_replaces_implied_ones()
    {
        var p = Ike("aes256-sha256-prfsha384-ecp256");
        Assert.Equal([PrfAlgorithm.HmacSha2_384], p.Prf);
        Assert.Equal([IntegAlgorithm.HmacSha2_256_128], p.Integrity);
    }

    [Theory]
    [InlineData("prfsha256", PrfAlgorithm.HmacSha2_256)]
    [InlineData("prfsha384", PrfAlgorithm.HmacSha2_384)]
    [InlineData("prfsha512", PrfAlgorithm.HmacSha2_512)]
    [InlineData("prfsha1", PrfAlgorithm.HmacSha1)]
    [InlineData("prfmd5", PrfAlgorithm.HmacMd5)]
    [InlineData("prfaesxcbc", PrfAlgorithm.AesXcbc)]
    public void Prf_keywords(string keyword, PrfAlgorithm prf)
    {
        Assert.Equal([prf], Ike($"aes128gcm16-{keyword}-ecp256").Prf);
    }

    [Theory]
    [InlineData("modp1024", DhGroup.Modp1024)]
    [InlineData("modp1536", DhGroup.Modp1536)]
    [InlineData("modp2048", DhGroup.Modp2048)]
    [InlineData("modp3072", DhGroup.Modp3072)]
    [InlineData("modp4096", DhGroup.Modp4096)]
    [InlineData("modp6144", DhGroup.Modp6144)]
    [InlineData("modp8192", DhGroup.Modp8192)]
    [InlineData("ecp256", DhGroup.Ecp256)]
    [InlineData("ecp384", DhGroup.Ecp384)]
    [InlineData("ecp521", DhGroup.Ecp521)]
    [InlineData("curve25519", DhGroup.Curve25519)]
    [InlineData("x25519", DhGroup.Curve25519)]
    [InlineData("curve448", DhGroup.Curve448)]
    [InlineData("x448", DhGroup.Curve448)]
    public void Dh_keywords(string keyword, DhGroup group)
    {
        Assert.Equal([group], Ike($"aes128-sha256-{keyword}").Groups);
        Assert.Equal([group], Esp($"aes128gcm16-{keyword}").Groups);
    }

    [Fact]
    public void Keywords_are_case_insensitive_and_trimmed()
    {
        var p = Ike(" AES256GCM16-PrfSha256-ECP256 ");
        Assert.Equal("aes256gcm16-prfsha256-ecp256", p.ToString());
    }

    [Fact]
    public void Several_algorithms_of_a_kind_keep_their_order_and_any_position()
    {
        var p = Ike("aes256gcm16-prfsha384-ecp384-aes128gcm16-prfsha256-modp3072");
        Assert.Equal([new EncryptionChoice(EncrAlgorithm.AesGcm16, 256), new EncryptionChoice(EncrAlgorithm.AesGcm16, 128)], p.Encryption);
        Assert.Equal([PrfAlgorithm.HmacSha2_384, PrfAlgorithm.HmacSha2_256], p.Prf);
        Assert.Equal([DhGroup.Ecp384, DhGroup.Modp3072], p.Groups);
        Assert.Empty(p.Integrity);
    }

    [Fact]
    public void Aead_ike_without_prf_is_rejected_like_strongswan()
    {
        var error = IkeError("aes256gcm16-ecp256");
        Assert.Contains("PRF", error);
    }

    [Fact]
    public void Aead_ike_with_integrity_keyword_takes_prf_from_it_and_drops_integrity()
    {
        // strongSwan check_proposal(): PRF implied from integrity first, then integrity removed for AEAD.
        var p = Ike("aes256gcm16-sha384-ecp384");
        Assert.Equal([PrfAlgorithm.HmacSha2_384], p.Prf);
        Assert.Empty(p.Integrity);
    }

    [Fact]
    public void Classic_ike_without_integrity_is_rejected()
    {
        Assert.Contains("integrity", IkeError("aes256-prfsha256-ecp256"));
    }

    [Fact]
    public void Ike_without_dh_group_is_rejected()
    {
        Assert.Contains("DH group", IkeError("aes256-sha256"));
        Assert.Contains("DH group", IkeError("aes256-sha256-none"));
    }

    [Fact]
    public void Proposal_without_encryption_is_rejected()
    {
        Assert.Contains("encryption", IkeError("sha256-ecp256"));
        Assert.Contains("encryption", EspError("sha256"));
    }

    [Theory]
    [InlineData("aes256gcm16-aes256-sha256-ecp256")]
    [InlineData("chacha20poly1305-3des-sha1-prfsha1-modp2048")]
    public void Mixing_aead_and_classic_is_rejected(string text)
    {
        Assert.Contains("mixes AEAD", IkeError(text));
        Assert.Contains("mixes AEAD", EspError(text.Replace("-ecp256", "").Replace("-modp2048", "")));
    }

    [Fact]
    public void Unknown_keyword_error_names_it()
    {
        var error = IkeError("aes256-sha256-ecp999");
        Assert.Contains("'ecp999'", error);
        Assert.Contains("aes256-sha256-ecp999", error);
        Assert.Contains("'foo'", EspError("aes128gcm16-foo"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("aes256--sha256-ecp256")]
    [InlineData("aes256-sha256-ecp256-")]
    public void Empty_proposal_or_keyword_is_rejected(string text)
    {
        Assert.Contains("empty", IkeError(text));
    }

    [Fact]
    public void Esn_keywords_only_in_esp()
    {
        Assert.Equal([EsnMode.Esn, EsnMode.NoEsn], Esp("aes128gcm16-esn-noesn").Esn);
        Assert.Equal([EsnMode.Esn], Esp("aes128gcm16-esn").Esn);
        Assert.Contains("ESP", IkeError("aes128-sha256-ecp256-esn"));
    }

    [Fact]
    public void Esp_without_esn_keyword_means_noesn()
    {
        Assert.Equal([EsnMode.NoEsn], Esp("aes256gcm16").Esn);
    }

    [Fact]
    public void Esp_drops_prf_and_aead_integrity_and_keeps_optional_groups()
    {
        var p = Esp("aes256gcm16-sha256-prfsha256");
        Assert.Empty(p.Integrity);
        Assert.Empty(p.Groups);
        Assert.Equal([new EncryptionChoice(EncrAlgorithm.AesGcm16, 256)], p.Encryption);

        var classic = Esp("aes256-sha256-modp2048-none");
        Assert.Equal([IntegAlgorithm.HmacSha2_256_128], classic.Integrity);
        Assert.Equal([DhGroup.Modp2048, DhGroup.None], classic.Groups);
    }

    [Fact]
    public void Default_keyword_is_not_a_single_proposal()
    {
        Assert.Contains("default", IkeError("default"));
        Assert.Contains("default", IkeError("aes256-default"));
    }

    [Fact]
    public void Default_ike_is_strongswan_59_classic_then_aead()
    {
        Assert.True(ProposalParser.TryExpandIke("default", out var list, out _));
        Assert.Same(ProposalParser.DefaultIke, list);
        Assert.Equal(2, list.Count);
        var classic = list[0];
        var aead = list[1];
        Assert.False(classic.IsAead);
        Assert.True(aead.IsAead);
        Assert.Equal(new EncryptionChoice(EncrAlgorithm.AesCbc, 128), classic.Encryption[0]);
        Assert.Contains(new EncryptionChoice(EncrAlgorithm.AesCbc, 256), classic.Encryption);
        Assert.Equal(
            [IntegAlgorithm.HmacSha2_256_128, IntegAlgorithm.HmacSha2_384_192, IntegAlgorithm.HmacSha2_512_256,
             IntegAlgorithm.HmacSha1_96, IntegAlgorithm.AesXcbc96],
            classic.Integrity);
        Assert.Equal(PrfAlgorithm.HmacSha2_256, classic.Prf[0]);
        // ECC first, then MODP >= 3072, MODP 2048 last; weak MODP never in the default.
        Assert.Equal(DhGroup.Ecp256, classic.Groups[0]);
        Assert.Equal(DhGroup.Modp2048, classic.Groups[^1]);
        Assert.DoesNotContain(DhGroup.Modp1024, classic.Groups);
        Assert.DoesNotContain(DhGroup.Modp1536, classic.Groups);
        Assert.Equal(
            [new EncryptionChoice(EncrAlgorithm.AesGcm16, 128), new EncryptionChoice(EncrAlgorithm.AesGcm16, 192), new EncryptionChoice(EncrAlgorithm.AesGcm16, 256)],
            aead.Encryption.Take(3));
        Assert.Contains(new EncryptionChoice(EncrAlgorithm.ChaCha20Poly1305, 256), aead.Encryption);
        Assert.Empty(aead.Integrity);
        Assert.Equal(classic.Prf, aead.Prf);
        Assert.Equal(classic.Groups, aead.Groups);
    }

    [Fact]
    public void Default_esp_is_strongswan_59_proposal_create_default()
    {
        Assert.True(ProposalParser.TryExpandEsp(" Default ", out var list, out _));
        var p = Assert.Single(list);
        Assert.Equal("aes128-aes192-aes256-sha256-sha384-sha512-sha1-aesxcbc-noesn", p.ToString());
        Assert.True(Esp("aes128-aes192-aes256-sha256-sha384-sha512-sha1-aesxcbc") == p);
    }

    [Fact]
    public void Expand_returns_single_parsed_proposal_or_error()
    {
        Assert.True(ProposalParser.TryExpandEsp("aes128gcm16", out var one, out _));
        Assert.Single(one);
        Assert.False(ProposalParser.TryExpandIke("bogus", out var none, out var error));
        Assert.Empty(none);
        Assert.Contains("bogus", error);
    }

    [Fact]
    public void Proposals_compare_by_content()
    {
        Assert.Equal(Ike("aes256-sha256-ecp256"), Ike("aes256-sha256-ecp256"));
        Assert.NotEqual(Ike("aes256-sha256-ecp256"), Ike("aes256-sha256-ecp384"));
        Assert.Equal(Ike("aes256-sha256-ecp256").GetHashCode(), Ike("ecp256-sha256-aes256").GetHashCode());
    }
}
