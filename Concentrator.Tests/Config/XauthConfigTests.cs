using Concentrator.Config;
using Concentrator.Ike.Connections;

namespace Concentrator.Tests.Config;

/// <summary>IKEv1 remote access in swanctl's names (issue 19): a further remote round <c>auth: xauth</c> with
/// <c>xauth_id</c>, <c>pull</c>, and secrets.xauth&lt;suffix&gt; as user passwords; every other further round refused by name.</summary>
public sealed class XauthConfigTests
{
    private const string File = "xauth.yaml";

    private static string Conn(string extra, string version = "2") => $$"""
        connections:
          rw:
            version: {{version}}
            local: { auth: psk, id: gw.test }
            remote: { auth: psk }
        {{extra}}
            pools: [p]
            children:
              lan: { local_ts: [10.10.0.0/16] }
        pools:
          p: { addrs: 10.9.0.0/24 }
        secrets:
          ike-gw: { id: gw.test, secret: "gateway-key-0123456789" }
          xauth-alice: { id: alice, secret: "alice-password" }
          eap-bob: { id: bob, secret: "bob-password" }
        """;

    [Fact]
    public void Xauth_secrets_are_user_passwords_and_never_ike_psks()
    {
        var c = ConcentratorConfig.Parse(Conn(""), File);
        var gw = Identity.Parse("gw.test");
        Assert.Equal("alice-password"u8.ToArray(), c.FindEapSecret(gw, Identity.Parse("alice")));
        Assert.Equal("bob-password"u8.ToArray(), c.FindEapSecret(gw, Identity.Parse("bob")));
        Assert.Equal(["ike-gw"], c.Secrets.Select(s => s.Name));
        Assert.Equal(["xauth-alice", "eap-bob"], c.EapSecrets.Select(s => s.Name));
        Assert.Null(c.FindSharedKey(Identity.Parse("other.test"), Identity.Parse("alice")));
        Assert.Null(c.Connections["rw"].RemoteXauth);
        Assert.True(c.Connections["rw"].Pull);
    }

    [Theory]
    [InlineData("    remote-xauth: { auth: xauth }", "connections.rw.remote-xauth", "only with version 1")]
    [InlineData("    remote2: { auth: psk }", "connections.rw.remote2", "only with version 1")]
    [InlineData("    local-xauth: { auth: xauth, xauth_id: alice }", "connections.rw.local-xauth", "not supported yet")]
    [InlineData("    pull: no", "connections.rw.pull", "only with version 1")]
    [InlineData("    remote_xauth: { auth: xauth }", "connections.rw", "remote_xauth")]
    public void Further_rounds_and_pull_of_an_ikev2_connection_are_refused_by_name(string extra, string keyPath, string problem)
    {
        var e = Assert.Throws<ConfigException>(() => ConcentratorConfig.Parse(Conn(extra), File));
        Assert.Equal(File, e.File);
        Assert.StartsWith(keyPath, e.KeyPath);
        Assert.Contains(problem, e.KeyPath + " " + e.Problem);
    }
}
