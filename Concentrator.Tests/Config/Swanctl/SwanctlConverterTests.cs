using Concentrator.Config;
using Concentrator.Config.Swanctl;
using Concentrator.Ike.Connections;
using Concentrator.Testbed.Interop;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Cli;

namespace Concentrator.Tests.Config.Swanctl;

/// <summary>
/// swanctl.conf (and strongswan.conf's charon) to our YAML: what the converted file loads as, credentials found where swanctl
/// finds them, and every unsupported key or refused value reported at its file and line, all at once.
/// </summary>
[Collection("console")]
public sealed class SwanctlConverterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("import-swanctl-").FullName;

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true); // a TestPki in it deletes it first
    }

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    private static ConcentratorConfig Converted(string swanctl, string? strongswan = null)
    {
        var result = SwanctlConverter.Convert(swanctl, strongswan, "converted.yaml");
        Assert.True(result.Yaml is not null, string.Join("\n", result.Problems));
        return ConcentratorConfig.Parse(result.Yaml!, "converted.yaml");
    }

    private static List<string> Problems(string swanctl, string? strongswan = null)
    {
        var result = SwanctlConverter.Convert(swanctl, strongswan, "converted.yaml");
        Assert.Null(result.Yaml);
        return result.Problems.Select(p => p.ToString()).ToList();
    }

    private const string Lan = "10.1.0.0/24";

    [Fact]
    public void The_harness_psk_gateway_converts_to_the_same_connection()
    {
        var path = Write("swanctl.conf", SwanctlConf.Connection("peer", "192.0.2.1", "%any", SwanctlConf.GatewayId, SwanctlConf.PeerId,
            "aes256gcm16-prfsha256-ecp256", "net", Lan, "10.2.0.0/24, 10.3.0.0/24", "aes256gcm16"));
        var config = Converted(path);

        var c = Assert.Single(config.Connections).Value;
        Assert.Equal("peer", c.Name);
        Assert.Equal(["192.0.2.1"], c.LocalAddrs);
        Assert.Equal(["%any"], c.RemoteAddrs);
        Assert.True(c.Encap);
        Assert.False(c.Mobike);
        Assert.Equal(TimeSpan.Zero, c.RekeyTime);
        Assert.Equal(AuthConfig.Psk, c.Local.Auth);
        Assert.Equal(SwanctlConf.PeerId, c.Remote.Id);
        var child = Assert.Single(c.Children).Value;
        Assert.Equal(["10.2.0.0/24", "10.3.0.0/24"], child.RemoteTs.Select(t => t.ToString()));
        Assert.Equal("none", child.StartAction);
        Assert.Equal(System.Text.Encoding.ASCII.GetBytes(SwanctlConf.Psk), config.FindSharedKey(SwanctlConf.GatewayId, SwanctlConf.PeerId));
    }

    [Fact]
    public void Certificates_and_keys_are_found_in_swanctls_directories()
    {
        using var pki = new TestPki(_dir);
        foreach (var d in new[] { "x509", "x509ca", "private", "x509crl" }) Directory.CreateDirectory(Path.Combine(_dir, d));
        var root = pki.Ca("C=CH, O=Test, CN=Root", TestKey.EcdsaP256);
        var gw = pki.EndEntity("C=CH, O=Test, CN=gw", TestKey.EcdsaP256, root, dns: [SwanctlConf.GatewayId]);
        pki.WriteCert("x509ca/root.pem", root);
        pki.WriteCert("x509/gw.pem", gw);
        pki.WriteKey("private/gw.key", gw);
        pki.WriteCrl("x509crl/root.crl", root, []);
        // The harness's certificate connection, as the gateway: certs and cacerts by file name.
        var path = Write("swanctl.conf", SwanctlConf.Connections(SwanctlConf.CertConnection("rw", "192.0.2.1", "%any", SwanctlConf.GatewayId,
            SwanctlConf.PeerId, "gw.pem", "root.pem", "aes256gcm16-prfsha256-ecp256", "net", Lan, "10.2.0.0/24", "aes256gcm16")));

        var result = SwanctlConverter.Convert(path, null, "converted.yaml");
        Assert.True(result.Yaml is not null, string.Join("\n", result.Problems));
        Assert.Contains($"\"{Path.Combine(_dir, "x509", "gw.pem")}\"", result.Yaml);
        Assert.Contains($"private-gw_key:\n    file: \"{Path.Combine(_dir, "private", "gw.key")}\"", result.Yaml);
        var c = ConcentratorConfig.Parse(result.Yaml!, "converted.yaml").Connections["rw"];
        Assert.Equal(gw.Certificate.Thumbprint, c.Local.Certificate!.Certificate.Thumbprint);
        Assert.Equal(root.Certificate.Thumbprint, Assert.Single(c.Remote.Trust!.CaCertificates).Thumbprint);
        Assert.Single(c.Remote.Trust.RevocationLists);

        // Without cacerts swanctl trusts every CA it loaded: those of x509ca/.
        File.WriteAllText(path, File.ReadAllText(path).Replace("cacerts = root.pem", ""));
        c = Converted(path).Connections["rw"];
        Assert.Equal(root.Certificate.Thumbprint, Assert.Single(c.Remote.Trust!.CaCertificates).Thumbprint);
    }

    [Fact]
    public void Every_unsupported_key_is_reported_at_its_file_and_line_at_once()
    {
        var included = Write("conf.d/more.conf", """
            connections {
              peer {
                pull = yes
              }
            }
            """);
        var path = Write("swanctl.conf", """
            connections {
              peer {
                local_addrs = 192.0.2.1
                childless = allow
                local-1 { auth = psk }
                local-2 { auth = psk }
                remote { auth = psk }
                children {
                  net {
                    ipcomp = yes
                    bogus = 1
                    local = x
                  }
                }
              }
            }
            secrets {
              xauth-1 { secret = x }
            }
            include conf.d/*.conf
            """);
        var problems = Problems(path);
        Assert.Equal(
        [
            $"{included}:3: 'connections.peer.pull' (connections.<conn>.pull) is not supported yet: IKEv1 Mode Config push; the YAML takes it with `version: 1`, the converter does not carry it yet",
            $"{path}:6: 'connections.peer.local-2': a second local authentication round is not supported yet (multiple authentication rounds, RFC 4739)",
            $"{path}:10: 'connections.peer.children.net.ipcomp' (connections.<conn>.children.<child>.ipcomp) is not supported yet: IP compression (RFC 3173)",
            $"{path}:11: unknown key 'connections.peer.children.net.bogus'",
            $"{path}:12: unknown key 'connections.peer.children.net.local'",
            $"{path}:18: 'secrets.xauth-1' (secrets.xauth<suffix>) is not supported yet: IKEv1 XAUTH passwords; the YAML takes them, the converter does not carry them yet",
        ], problems);
    }

    [Fact]
    public void A_value_the_loader_refuses_is_reported_at_the_swanctl_line()
    {
        var path = Write("swanctl.conf", """
            connections {
              peer {
                remote { auth = psk }
                children {
                  net {
                    esp_proposals = aes256gcm16, nonsense-cipher
                  }
                }
              }
            }
            """);
        var problem = Assert.Single(Problems(path));
        Assert.StartsWith($"{path}:6: connections.peer.children.net.esp_proposals[1]: ", problem);
        Assert.Contains("nonsense-cipher", problem);
    }

    [Fact]
    public void A_single_suffixed_round_is_the_round_and_strongswan_conf_charon_keys_go_under_charon()
    {
        var path = Write("swanctl.conf", """
            connections {
              rw {
                pools = rw-pool
                local-gw { auth = psk
                  id = gw.example }
                remote-users {
                  auth = eap-mschapv2
                  eap_id = %any
                }
                children { net { local_ts = 0.0.0.0/0 } }
              }
            }
            pools {
              rw-pool { addrs = 10.9.0.0/24
                dns = 10.9.0.1, 10.9.0.2
                25 = corp.example }
            }
            secrets {
              eap-alice { id = alice
                secret = "alice password" }
              ike-gw { id = gw.example
                secret = 0x0123456789abcdef0123456789abcdef }
            }
            """);
        var settings = Write("strongswan.conf", """
            charon {
              retransmit_timeout = 2.5
              ikesa_limit = 200
              plugins {
                eap-radius {
                  servers { one { address = 192.0.2.9
                    secret = radius-secret } }
                }
              }
            }
            """);
        var config = Converted(path, settings);
        var rw = config.Connections["rw"];
        Assert.Equal("gw.example", rw.Local.Id);
        Assert.Equal(AuthConfig.EapMsChapV2, rw.Remote.Auth);
        Assert.Equal(["rw-pool"], rw.Pools);
        Assert.Equal(3, config.Pools["rw-pool"].Attributes.Count);
        Assert.Equal(TimeSpan.FromSeconds(2.5), config.Charon.RetransmitTimeout);
        Assert.Equal(200, config.Charon.IkeSaLimit);
        Assert.Equal("192.0.2.9", Assert.Single(config.Charon.EapRadius!.Servers).Address.ToString());
        Assert.NotNull(config.FindEapSecret(Identity.Parse("gw.example"), Identity.Parse("alice")));

        File.WriteAllText(settings, "charon {\n  threads = 16\n}\nlibstrongswan { }\n");
        Assert.Equal([$"{settings}:2: unknown key 'charon.threads'", $"{settings}:4: 'libstrongswan' is not converted (only the charon section of strongswan.conf is)"],
            Problems(path, settings));
    }

    [Fact]
    public async Task The_command_writes_the_yaml_with_owner_only_mode_or_nothing_with_exit_2()
    {
        var path = Write("swanctl.conf", SwanctlConf.Connection("peer", "192.0.2.1", "%any", SwanctlConf.GatewayId, SwanctlConf.PeerId,
            "aes256gcm16-prfsha256-ecp256", "net", Lan, "10.2.0.0/24", "aes256gcm16"));
        var output = Path.Combine(_dir, "out.yaml");
        var (code, stdout, stderr) = await CliTests.Run("import-swanctl", path, "--output", output);
        Assert.True(code == 0, stderr);
        Assert.Equal("", stdout);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(output));
        Assert.Equal(SwanctlConf.PeerId, ConcentratorConfig.Load(output).Connections["peer"].Remote.Id);

        (code, stdout, _) = await CliTests.Run("import-swanctl", path);
        Assert.Equal(0, code);
        Assert.Equal(File.ReadAllText(output), stdout);

        File.Delete(output);
        File.AppendAllText(path, "connections { peer { dscp = 000000 } }\n");
        (code, stdout, stderr) = await CliTests.Run("import-swanctl", path, "--output", output);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Contains($"{path}:", stderr);
        Assert.Contains("dscp", stderr);
        Assert.False(File.Exists(output));

        (code, stdout, _) = await CliTests.Run("import-swanctl", "--help");
        Assert.Equal(0, code);
        Assert.Contains("Usage: Concentrator import-swanctl", stdout);
        (code, _, stderr) = await CliTests.Run("import-swanctl");
        Assert.Equal(2, code);
        Assert.Contains("needs one swanctl.conf", stderr);
        foreach (var bad in new[] { "", Path.Combine(_dir, "absent.conf"), _dir, "a\0b" })
        {
            (code, stdout, stderr) = await CliTests.Run("import-swanctl", bad);
            Assert.True(code == 2 && stdout == "" && stderr.Contains("1 problem;"), $"'{bad}': exit {code}: {stderr}");
        }
    }

    /// <summary>The swanctl.conf texts the suite's harness writes for strongSwan (SwanctlConf), in the shapes the interop
    /// tests use them: each converts, or is refused only for keys the table marks not yet or never.</summary>
    public static TheoryData<string, string> HarnessConfigs() => new()
    {
        { "responder", SwanctlConf.Connection("peer", "192.0.2.1", "%any", SwanctlConf.GatewayId, SwanctlConf.PeerId, "aes256gcm16-prfsha256-ecp256", "net",
            Lan, "10.2.0.0/24", "aes256gcm16") },
        { "initiator", SwanctlConf.Connection("gw", "192.0.2.2", "192.0.2.1", SwanctlConf.PeerId, SwanctlConf.GatewayId, "aes128-sha256-modp2048", "net",
            "10.2.0.1/32", Lan, "aes128-sha256", encap: false, psk: "another-psk-0123456789") },
        { "eap client", SwanctlConf.Connections(SwanctlConf.ConnectionBlock("gw", "192.0.2.2", "192.0.2.1", "aes256gcm16-prfsha256-ecp256",
            $"auth = eap-mschapv2\neap_id = user\nid = {SwanctlConf.PeerId}", $"auth = psk\nid = {SwanctlConf.GatewayId}", "net", "10.2.0.1/32", Lan,
            "aes256gcm16")) + SwanctlConf.PskSecret("gw", SwanctlConf.PeerId, SwanctlConf.GatewayId) + "secrets {\n eap-user {\n id = user\n secret = pw\n }\n}\n" },
        { "virtual ip", SwanctlConf.Connections(SwanctlConf.ConnectionBlock("gw", "192.0.2.2", "192.0.2.1", "aes256gcm16-prfsha256-ecp256",
            $"auth = psk\nid = {SwanctlConf.PeerId}", $"auth = psk\nid = {SwanctlConf.GatewayId}", "net", null, Lan, "aes256gcm16", extra: "vips = 0.0.0.0"))
            + SwanctlConf.PskSecret("gw", SwanctlConf.PeerId, SwanctlConf.GatewayId) },
        { "two connections", SwanctlConf.Connections(
            SwanctlConf.ConnectionBlock("a", "192.0.2.2", "192.0.2.1", "aes256gcm16-prfsha256-ecp256", "auth = psk\nid = a.interop.test",
                $"auth = psk\nid = {SwanctlConf.GatewayId}", "net-a", "10.2.0.1/32", Lan, "aes256gcm16"),
            SwanctlConf.ConnectionBlock("b", "192.0.2.2", "192.0.2.1", "aes256gcm16-prfsha256-ecp256", "auth = psk\nid = b.interop.test",
                $"auth = psk\nid = {SwanctlConf.GatewayId}", "net-b", "10.2.0.2/32", Lan, "aes256gcm16"))
            + SwanctlConf.PskSecret("a", "a.interop.test", SwanctlConf.GatewayId) + SwanctlConf.PskSecret("b", "b.interop.test", SwanctlConf.GatewayId, "psk-b-0123456789") },
    };

    [Theory]
    [MemberData(nameof(HarnessConfigs))]
    public void Every_swanctl_conf_of_the_harness_converts_or_is_refused_only_for_keys_not_supported(string shape, string swanctl)
    {
        var path = Write($"{shape.Replace(' ', '-')}/swanctl.conf", swanctl);
        var result = SwanctlConverter.Convert(path, null, "converted.yaml");
        var refusedRows = SwanctlKeys.All.Where(k => k.Support != KeySupport.Supported).Select(k => $"({k.Path})").ToList();
        foreach (var problem in result.Problems)
        {
            Assert.True(refusedRows.Any(problem.Problem.Contains), $"{shape}: refused for a reason other than a key marked not yet or never: {problem}");
        }
        Assert.True(result.Yaml is not null, $"{shape}: " + string.Join("\n", result.Problems));
    }

    /// <summary>Hostile swanctl.conf: mutations of a harness config and random bytes convert or fail with problems, never throw.</summary>
    [Fact]
    public void Mutated_and_random_input_never_throws()
    {
        var random = new Random(1804);
        var seed = SwanctlConf.Connection("peer", "192.0.2.1", "%any", SwanctlConf.GatewayId, SwanctlConf.PeerId, "aes256gcm16-prfsha256-ecp256",
            "net", Lan, "10.2.0.0/24", "aes256gcm16") + "pools { p { addrs = 10.9.0.0/24\n 25 = x } }\n";
        const string alphabet = "{}=:,.#\"\\\n\t \u0001\u00e9-_0123456789abcz%*/";
        var path = Path.Combine(_dir, "swanctl.conf");
        for (int i = 0; i < 500; i++)
        {
            var text = new System.Text.StringBuilder(seed);
            for (int e = random.Next(1, 6); e > 0; e--)
            {
                int at = random.Next(text.Length + 1);
                if (random.Next(3) == 0 && at < text.Length) text.Remove(at, 1);
                else text.Insert(at, alphabet[random.Next(alphabet.Length)]);
            }
            if (i % 10 == 0)
            {
                text.Clear();
                for (int n = random.Next(300); n > 0; n--) text.Append((char)random.Next(0, 0x250));
            }
            File.WriteAllText(path, text.ToString());
            var result = SwanctlConverter.Convert(path, null, "converted.yaml");
            Assert.True(result.Yaml is not null ^ result.Problems.Count > 0, "either YAML or problems");
        }
    }
}
