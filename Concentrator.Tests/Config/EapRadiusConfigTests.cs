using System.Net;
using System.Text;
using Concentrator.Config;
using Concentrator.Hosting;

namespace Concentrator.Tests.Config;

public sealed class EapRadiusConfigTests
{
    [Fact]
    public void Servers_and_options_load_in_strongswans_names_with_its_defaults_and_reach_the_client()
    {
        var c = ConcentratorConfig.Parse("""
            charon:
              plugins:
                eap-radius:
                  accounting: yes
                  accounting_interval: 5m
                  class_group: yes
                  nas_identifier: vpn-1
                  retransmit_tries: 3
                  servers:
                    r1: { address: 10.10.0.2, secret: "s3cret", auth_port: 11812, acct_port: 11813, preference: 5 }
                    r2: { address: "2001:db8::2", secret: other, port: 1645, retransmit_timeout: 0.5, retransmit_base: 2 }
            """, "t.yaml");
        var r = Assert.IsType<EapRadiusConfig>(c.Charon.EapRadius);
        Assert.True(r.Accounting);
        Assert.Equal(TimeSpan.FromMinutes(5), r.AccountingInterval);
        Assert.True(r.ClassGroup);
        Assert.True(r.StationIdWithPort);
        Assert.False(r.AccountingSendClass);
        var options = r.ToRadiusOptions();
        var r1 = options.Servers[0];
        Assert.Equal(("r1", IPAddress.Parse("10.10.0.2"), 11812, 11813, 5), (r1.Name, r1.Address, r1.AuthPort, r1.AcctPort, r1.Preference));
        Assert.Equal("s3cret", Encoding.UTF8.GetString(r1.Secret));
        Assert.Equal("vpn-1", r1.NasIdentifier);
        Assert.Equal(3, r1.RetransmitTries);
        Assert.Equal(TimeSpan.FromSeconds(2), r1.RetransmitTimeout);
        Assert.Equal(1.4, r1.RetransmitBase);
        var r2 = options.Servers[1];
        Assert.Equal((1645, 1813), (r2.AuthPort, r2.AcctPort));
        Assert.Equal(TimeSpan.FromSeconds(0.5), r2.RetransmitTimeout);
        Assert.Equal(2.0, r2.RetransmitBase);
        Assert.Equal(3, r2.RetransmitTries);
    }

    [Fact]
    public void Without_the_plugin_section_there_is_no_client()
    {
        Assert.Null(ConcentratorConfig.Parse("connections: {}", "t.yaml").Charon.EapRadius);
    }

    [Theory]
    [InlineData("eap-radius: { servers: { r1: { address: 10.0.0.1, secret: x } }, dae: { enable: yes } }", "charon.plugins.eap-radius", "dae")]
    [InlineData("eap-radius: { servers: { r1: { address: 10.0.0.1, secret: x, sockets: 2 } } }", "charon.plugins.eap-radius.servers.r1", "sockets")]
    [InlineData("eap-radius: { servers: { r1: { address: radius.example, secret: x } } }", "charon.plugins.eap-radius.servers.r1.address", "IP address")]
    [InlineData("eap-radius: { servers: { r1: { address: 10.0.0.1 } } }", "charon.plugins.eap-radius.servers.r1.secret", "shared secret")]
    [InlineData("eap-radius: { servers: { r1: { address: 10.0.0.1, secret: x, port: 1, auth_port: 2 } } }", "charon.plugins.eap-radius.servers.r1.port", "not both")]
    [InlineData("eap-radius: { accounting: yes }", "charon.plugins.eap-radius.servers", "at least one server")]
    [InlineData("eap-radius: { servers: { r1: { address: 10.0.0.1, secret: x } }, retransmit_timeout: 0.01 }", "charon.plugins.eap-radius.retransmit_timeout", "out of range")]
    [InlineData("eap-md5: { }", "charon.plugins", "eap-md5")]
    [InlineData("eap-radius: { servers: { r1: { address: 10.0.0.1, secret: x, nas_identifier: \"\" } } }", "charon.plugins.eap-radius.servers.r1.nas_identifier", "253 octets")]
    public void Unknown_unimplemented_or_invalid_keys_are_load_errors_naming_the_key(string plugins, string keyPath, string problem)
    {
        var e = Assert.Throws<ConfigException>(() => ConcentratorConfig.Parse($"charon:\n  plugins:\n    {plugins}\n", "t.yaml"));
        Assert.Equal("t.yaml", e.File);
        Assert.StartsWith(keyPath, e.KeyPath);
        Assert.Contains(problem, e.KeyPath + " " + e.Problem);
    }

    [Fact]
    public void A_connection_passing_eap_to_radius_without_servers_is_refused()
    {
        var e = Assert.Throws<ConfigException>(() => ConcentratorConfig.Parse("""
            connections:
              rw:
                local: { auth: psk, id: gw }
                remote: { auth: eap-radius, eap_id: "%any" }
                children: { net: { local_ts: [10.0.0.0/8] } }
            secrets:
              ike-1: { id: [gw], secret: "0123456789abcdef0123" }
            """, "t.yaml"));
        Assert.Contains("eap-radius", e.Problem);
        Assert.Contains("rw", e.Problem);
    }
}
