using Concentrator.Config;
using Concentrator.Ike.Wire;

namespace Concentrator.Tests.Config;

/// <summary>Identities in connections and secrets are parsed at load (strongSwan's notation); what cannot match is an error there.</summary>
public class IdentityConfigTests
{
    private static string Connection(string local, string remote) => $$"""
        connections:
          site-a:
            local: { auth: psk, id: "{{local}}" }
            remote: { auth: psk, id: "{{remote}}" }
            children:
              lan: { local_ts: 10.10.0.0/24 }
        """;

    [Fact]
    public void Connection_and_secret_ids_are_typed_at_load()
    {
        var c = ConcentratorConfig.Parse(Connection("C=CH, O=Example, CN=gw", "email:peer.example") + """

            secrets:
              a: { id-1: "keyid:#0102", id-2: "*@example.net", secret: x }
            """, "ids.yaml");
        var site = c.Connections["site-a"];
        Assert.Equal("C=CH, O=Example, CN=gw", site.Local.Id);
        Assert.Equal(IdType.DerAsn1Dn, site.Local.Identity.Type);
        Assert.Equal(IdType.Rfc822Address, site.Remote.Identity.Type);
        Assert.Equal([IdType.KeyId, IdType.Rfc822Address], c.Secrets[0].Ids.Select(i => i.Type));
        Assert.True(c.Secrets[0].Ids[1].ContainsWildcards);
        Assert.True(ConcentratorConfig.Parse("connections: { c: { children: { k: {} } } }", "d.yaml").Connections["c"].Remote.Identity.IsAny);
    }

    [Theory]
    [InlineData("gw.example.net", "fqdn:^vpn.*$", "connections.site-a.remote.id", "regular expression identities are not supported yet")]
    [InlineData("10.0.0.0/24", "%any", "connections.site-a.local.id", "subnet and range identities are not supported yet")]
    [InlineData("gw.example.net", "vpn.*.example.net", "connections.site-a.remote.id", "'*' is a wildcard only as the first character")]
    [InlineData("asn1dn:gw", "%any", "connections.site-a.local.id", "not a distinguished name")]
    public void A_connection_identity_that_cannot_match_is_an_error_naming_its_key(string local, string remote, string keyPath, string problem)
    {
        var e = Assert.Throws<ConfigException>(() => ConcentratorConfig.Parse(Connection(local, remote), "ids.yaml"));
        Assert.Equal(keyPath, e.KeyPath);
        Assert.Contains(problem, e.Problem);
    }

    [Fact]
    public void A_secret_identity_that_cannot_match_is_an_error_naming_its_key()
    {
        var e = Assert.Throws<ConfigException>(() => ConcentratorConfig.Parse("""
            secrets:
              a: { id-1: gw.example.net, id-2: "ipv4net:10.0.0.0/8", secret: x }
            """, "ids.yaml"));
        Assert.Equal("secrets.a.id-2", e.KeyPath);
        Assert.Contains("'ipv4net:' identities are not supported yet", e.Problem);
    }
}
