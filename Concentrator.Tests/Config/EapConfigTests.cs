using Concentrator.Config;
using Concentrator.Ike.Connections;

namespace Concentrator.Tests.Config;

/// <summary>swanctl's EAP names (issue 16): remote auth eap-mschapv2, eap-radius and eap with eap_id; EAP secrets
/// (secrets.eap&lt;suffix&gt;) kept apart from IKE PSKs; every other EAP method and EAP as our own round refused by name.</summary>
public sealed class EapConfigTests
{
    private const string File = "eap.yaml";

    private static string Conn(string remote, string local = "auth: psk, id: gw.test") => $$"""
        connections:
          rw:
            local: { {{local}} }
            remote: { {{remote}} }
            children:
              lan: { local_ts: [10.10.0.0/16] }
        secrets:
          ike-gw: { id: gw.test, secret: "gateway-key-0123456789" }
          eap-alice: { id: alice, secret: "alice-password" }
          eap-bob: { id-1: bob, id-2: "robert@example.net", secret: 0x626f62 }
          eapcarol: { id: carol, secret: "carol-password" }
        """;

    [Theory]
    [InlineData("auth: eap-mschapv2", "eap-mschapv2", null)]
    [InlineData("auth: eap-radius, eap_id: \"%any\"", "eap-radius", "%any")]
    [InlineData("auth: eap, eap_id: alice", "eap", "alice")]
    [InlineData("auth: EAP-MSCHAPv2, eap_id: \"*@example.net\"", "eap-mschapv2", "*@example.net")]
    public void A_remote_round_authenticates_by_eap_with_its_eap_id(string remote, string auth, string? eapId)
    {
        // eap-radius needs a server to pass EAP to (charon.plugins.eap-radius; without one the load fails).
        string radius = auth == "eap-radius" ? "charon: { plugins: { eap-radius: { servers: { r1: { address: 10.0.0.2, secret: s } } } } }\n" : "";
        var r = ConcentratorConfig.Parse(radius + Conn(remote), File).Connections["rw"].Remote;
        Assert.Equal(auth, r.Auth);
        Assert.True(r.IsEap);
        Assert.Equal("eap", r.Class);
        Assert.Equal(eapId, r.EapId?.Text);
        Assert.Equal(eapId == "%any", r.EapId?.IsAny ?? false);
    }

    [Fact]
    public void Eap_secrets_are_passwords_by_eap_identity_and_never_ike_psks()
    {
        var c = ConcentratorConfig.Parse(Conn("auth: eap-mschapv2"), File);
        var gw = Identity.Parse("gw.test");
        Assert.Equal("alice-password"u8.ToArray(), c.FindEapSecret(gw, Identity.Parse("alice")));
        Assert.Equal("bob"u8.ToArray(), c.FindEapSecret(gw, Identity.Parse("robert@example.net")));
        Assert.Equal("bob"u8.ToArray(), c.FindEapSecret(gw, Identity.Parse("bob")));
        Assert.Equal("carol-password"u8.ToArray(), c.FindEapSecret(gw, Identity.Parse("carol")));
        Assert.Null(c.FindEapSecret(gw, Identity.Parse("mallory")));
        // A user's password never authenticates an IKE peer: the PSK found for alice is the gateway's own secret's (%any-free).
        Assert.Null(c.FindSharedKey(Identity.Parse("other.test"), Identity.Parse("alice")));
        Assert.Equal(["ike-gw"], c.Secrets.Select(s => s.Name));
        Assert.Equal(["eap-alice", "eap-bob", "eapcarol"], c.EapSecrets.Select(s => s.Name));
    }

    [Theory]
    [InlineData("auth: eap-md5", "connections.rw.remote.auth", "'eap-md5' is not supported yet")]
    [InlineData("auth: eap-gtc", "connections.rw.remote.auth", "'eap-gtc' is not supported yet")]
    [InlineData("auth: eap-tls", "connections.rw.remote.auth", "'eap-tls' is not supported yet")]
    [InlineData("auth: eap-ttls", "connections.rw.remote.auth", "'eap-ttls' is not supported yet")]
    [InlineData("auth: psk, eap_id: alice", "connections.rw.remote.eap_id", "only with an EAP auth method")]
    [InlineData("auth: eap-mschapv2, eap_id: \"\"", "connections.rw.remote.eap_id", "identity is empty")]
    public void Other_eap_methods_and_misplaced_eap_ids_are_refused_by_name(string remote, string keyPath, string problem)
    {
        var e = Assert.Throws<ConfigException>(() => ConcentratorConfig.Parse(Conn(remote), File));
        Assert.Equal(File, e.File);
        Assert.Equal(keyPath, e.KeyPath);
        Assert.Contains(problem, e.Problem);
    }

    [Fact]
    public void Our_own_round_logs_in_by_eap_mschapv2_only()
    {
        var local = ConcentratorConfig.Parse(Conn("auth: psk, id: gw.test", local: "auth: eap-mschapv2, eap_id: alice"), File).Connections["rw"].Local;
        Assert.Equal(("eap-mschapv2", "alice"), (local.Auth, local.EapId!.Text));
        foreach (var method in new[] { "eap-radius", "eap", "eap-md5" })
        {
            var e = Assert.Throws<ConfigException>(() => ConcentratorConfig.Parse(Conn("auth: psk", local: $"auth: {method}"), File));
            Assert.Equal("connections.rw.local.auth", e.KeyPath);
        }
        var misplaced = Assert.Throws<ConfigException>(() => ConcentratorConfig.Parse(Conn("auth: eap-mschapv2", local: "auth: psk, eap_id: gw"), File));
        Assert.Equal("connections.rw.local.eap_id", misplaced.KeyPath);
    }
}
