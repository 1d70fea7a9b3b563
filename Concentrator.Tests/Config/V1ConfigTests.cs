using Concentrator.Config;
using Concentrator.Ike.Tasks.V1;
using Concentrator.Ipsec;

namespace Concentrator.Tests.Config;

/// <summary><c>version: 1</c>: accepted with the keys IKEv1 phase 1 implements; every other key is a load error naming it.</summary>
public sealed class V1ConfigTests
{
    private const string File = "v1.yaml";

    private static string Conn(string extra = "", string proposals = "", string auth = "psk") => $$"""
        connections:
          legacy:
            version: 1
            remote_addrs: [198.51.100.1]
        {{extra}}
        {{proposals}}
            local: { auth: {{auth}}, id: gw.example.net }
            remote: { auth: psk, id: branch.example.net }
            children:
              lan: { local_ts: [10.10.0.0/24], remote_ts: [10.20.0.0/24] }
        secrets:
          ike-1: { id-1: branch.example.net, secret: "0123456789abcdef0123" }
        """;

    private static ConfigException Fails(string yaml)
    {
        var e = Assert.Throws<ConfigException>(() => ConcentratorConfig.Parse(yaml, File));
        Assert.Equal(File, e.File);
        return e;
    }

    [Fact]
    public void Version_1_loads_with_its_default_proposals_narrowed_to_what_ikev1_offers()
    {
        var c = ConcentratorConfig.Parse(Conn(), File).Connections["legacy"];
        Assert.Equal(1, c.Version);
        Assert.NotEmpty(c.Proposals);
        Assert.All(c.Proposals, p => Assert.Null(V1Phase1Proposals.Unsupported(p)));
        Assert.NotEmpty(V1Phase1Proposals.Suites(c, Concentrator.Ike.Wire.V1.Phase1AuthMethod.PreSharedKey, 0));
    }

    [Fact]
    public void Written_proposals_load_when_every_part_maps()
    {
        var c = ConcentratorConfig.Parse(Conn(proposals: "    proposals: [aes128-sha256-modp2048, aes256-sha384-ecp384]"), File).Connections["legacy"];
        Assert.Equal(2, c.Proposals.Count);
    }

    [Theory]
    [InlineData("aes256gcm16-prfsha256-ecp256", "not an IKEv1 phase 1 cipher")]
    [InlineData("aes256-sha256-x25519", "not supported for IKEv1")]
    public void A_proposal_ikev1_cannot_offer_is_an_error_naming_it(string proposal, string problem)
    {
        var e = Fails(Conn(proposals: $"    proposals: [{proposal}]"));
        Assert.Equal("connections.legacy.proposals", e.KeyPath);
        Assert.Contains(problem, e.Problem);
    }

    [Theory]
    [InlineData("mobike: no", "mobike")]
    [InlineData("childless: allow", "childless")]
    [InlineData("fragmentation: yes", "fragmentation")]
    [InlineData("reauth_time: 1h", "reauth_time")]
    [InlineData("unique: replace", "unique")]
    [InlineData("vips: 0.0.0.0", "vips")]
    public void A_key_that_does_not_apply_to_ikev1_is_an_error_naming_it(string line, string key)
    {
        var e = Fails(Conn(extra: "    " + line));
        Assert.Equal($"connections.legacy.{key}", e.KeyPath);
        Assert.Contains("version 1", e.Problem);
    }

    [Fact]
    public void Eap_is_refused_for_ikev1()
    {
        var e = Fails(Conn(auth: "eap-mschapv2"));
        Assert.Equal("connections.legacy.local.auth", e.KeyPath);
        Assert.Contains("IKEv2 only", e.Problem);
    }

    [Fact]
    public void Other_versions_are_still_refused()
    {
        var e = Fails(Conn().Replace("version: 1", "version: 3"));
        Assert.Equal("connections.legacy.version", e.KeyPath);
    }

    /// <summary>v1auth: send_cert/send_certreq and aggressive load for version 1; one method for both ends.</summary>
    [Fact]
    public void Certificate_keys_and_aggressive_load_for_ikev1()
    {
        var c = ConcentratorConfig.Parse(Conn(extra: "    send_certreq: no\n    send_cert: always\n    aggressive: yes"), File).Connections["legacy"];
        Assert.True(c.Aggressive);
        Assert.False(c.SendCertReq);
        Assert.False(ConcentratorConfig.Parse(Conn(), File).Connections["legacy"].Aggressive);
        var e = Fails(Conn(auth: "pubkey"));
        Assert.StartsWith("connections.legacy.local.", e.KeyPath);
    }
}
