using System.Text.RegularExpressions;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.Hosting;
using Concentrator.Ike.Proposals;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Config;
using Concentrator.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Concentrator.Tests.Security;

/// <summary>Weak algorithms, nonce length, constant-time comparisons and the secrets-file warning (issue 8 items 3 and 6).</summary>
public sealed class HardeningTests
{
    private static string Conn(string ike, string esp = "aes256gcm16", string weak = "") => $$"""
        connections:
          site-a:
            {{(weak.Length > 0 ? "weak_algorithms: " + weak : "")}}
            proposals: [{{ike}}]
            local: { auth: psk, id: gw }
            remote: { auth: psk, id: "%any" }
            children:
              lan:
                local_ts: [10.0.0.0/24]
                remote_ts: [10.1.0.0/24]
                esp_proposals: [{{esp}}]
        """;

    [Theory]
    [InlineData("aes256-sha256-sha1-modp2048", "sha1")]
    [InlineData("3des-aes256-sha256-modp2048", "3des")]
    [InlineData("aes256gcm16-prfsha1-ecp256", "prfsha1")]
    [InlineData("aes256-sha256-modp1024-ecp256", "modp1024")]
    public void Weak_ike_algorithms_are_refused_naming_the_key_and_the_opt_in(string ike, string weak)
    {
        foreach (var off in new[] { "", "no" })
        {
            var e = Assert.Throws<ConfigException>(() => ConcentratorConfig.Parse(Conn(ike, weak: off), "weak.yaml"));
            Assert.Equal("weak.yaml", e.File);
            Assert.Equal("connections.site-a.proposals[0]", e.KeyPath);
            Assert.Contains($"weak algorithm '{weak}'", e.Problem);
            Assert.Contains("set 'weak_algorithms: yes' on the connection", e.Problem);
        }
    }

    [Theory]
    [InlineData("aes256-md5-sha256-modp2048", "md5")]
    [InlineData("des-sha256-modp2048", "des")]
    [InlineData("aes256-sha256-modp768-ecp256", "modp768")]
    public void Broken_ike_algorithms_are_refused_even_with_the_opt_in(string ike, string broken)
    {
        foreach (var weak in new[] { "", "yes" })
        {
            var e = Assert.Throws<ConfigException>(() => ConcentratorConfig.Parse(Conn(ike, weak: weak), "weak.yaml"));
            Assert.Equal("connections.site-a.proposals[0]", e.KeyPath);
            Assert.Contains($"broken algorithm '{broken}'", e.Problem);
            Assert.Contains("no setting enables them", e.Problem);
        }
    }

    [Theory]
    [InlineData("aes256-sha1", "sha1")]
    [InlineData("aes256gcm16-modp1024", "modp1024")]
    [InlineData("3des-sha256", "3des")]
    public void Weak_esp_algorithms_are_refused_naming_the_key(string esp, string weak)
    {
        var e = Assert.Throws<ConfigException>(() => ConcentratorConfig.Parse(Conn("aes256gcm16-prfsha256-ecp256", esp), "weak.yaml"));
        Assert.Equal("connections.site-a.children.lan.esp_proposals[0]", e.KeyPath);
        Assert.Contains($"weak algorithm '{weak}'", e.Problem);
        var broken = Assert.Throws<ConfigException>(() => ConcentratorConfig.Parse(Conn("aes256gcm16-prfsha256-ecp256", "aes256-md5", "yes"), "weak.yaml"));
        Assert.Equal("connections.site-a.children.lan.esp_proposals[0]", broken.KeyPath);
        Assert.Contains("broken algorithm 'md5'", broken.Problem);
    }

    [Fact]
    public void With_weak_algorithms_the_legacy_suites_load_and_warn_once_per_connection()
    {
        var config = ConcentratorConfig.Parse(Conn("3des-sha1-modp1024", "3des-sha1", "yes"), "legacy.yaml");
        var conn = config.Connections["site-a"];
        Assert.True(conn.WeakAlgorithms);
        Assert.Equal("3des-sha1-prfsha1-modp1024", Assert.Single(conn.Proposals).ToString());
        Assert.Equal("3des-sha1-noesn", Assert.Single(conn.Children["lan"].EspProposals).ToString());
        Assert.Contains(ProposalSelector.ToWire(conn.Proposals, []).SelectMany(p => p.Transforms),
            t => t.Type == TransformType.Encryption && t.Id == (ushort)EncrAlgorithm.TripleDes); // offered

        var sink = new CapturingLoggerProvider();
        using var loggers = LoggerFactory.Create(b => b.AddProvider(sink));
        Assert.Equal(1, WeakAlgorithmCheck.WarnEach(config, loggers.CreateLogger("t")));
        var line = Assert.Single(sink.Lines);
        Assert.Equal(4102, line.EventId);
        Assert.Equal(LogLevel.Warning, line.Level);
        Assert.Contains("site-a", line.Message);
        Assert.Contains("3des, sha1, prfsha1, modp1024", line.Message);

        // Without the key (or with "no") nothing is logged; a connection with the key but only strong proposals still is.
        Assert.Equal(0, WeakAlgorithmCheck.WarnEach(ConcentratorConfig.Parse(Conn("aes256-sha256-modp2048"), "ok.yaml"), loggers.CreateLogger("t")));
        Assert.Equal(0, WeakAlgorithmCheck.WarnEach(ConcentratorConfig.Parse(Conn("aes256-sha256-modp2048", weak: "no"), "ok.yaml"), loggers.CreateLogger("t")));
        Assert.Equal(1, WeakAlgorithmCheck.WarnEach(ConcentratorConfig.Parse(Conn("default", "default", "yes"), "ok.yaml"), loggers.CreateLogger("t")));
        Assert.Contains("uses none", sink.Lines.Last().Message); // the default lists' 3des/sha1 are never offered
        Assert.Equal(2, sink.Lines.Count);
    }

    [Fact]
    public void A_bad_weak_algorithms_value_names_the_key()
    {
        var e = Assert.Throws<ConfigException>(() => ConcentratorConfig.Parse(Conn("aes256-sha256-modp2048", weak: "maybe"), "weak.yaml"));
        Assert.Equal("connections.site-a.weak_algorithms", e.KeyPath);
    }

    [Fact]
    public void Default_proposals_and_strong_ones_load()
    {
        Assert.NotNull(ConcentratorConfig.Parse(Conn("default", "default"), "ok.yaml"));
        Assert.NotNull(ConcentratorConfig.Parse(Conn("aes256-sha256-modp2048", "aes256-sha384"), "ok.yaml"));
        Assert.NotNull(WeakAlgorithms.Find(ProposalParser.DefaultIke[0])); // strongSwan's list names 3des/sha1 ...
        Assert.All(ProposalSelector.ToWire(ProposalParser.DefaultIke, []).SelectMany(p => p.Transforms),
            t => Assert.False(t.Type == TransformType.Encryption && WeakAlgorithms.IsWeak((EncrAlgorithm)t.Id))); // ... never offered
        Assert.All(ProposalSelector.ToWire(ProposalParser.DefaultIke, []).SelectMany(p => p.Transforms),
            t => Assert.False(t.Type == TransformType.Prf && WeakAlgorithms.IsWeak((PrfAlgorithm)t.Id)));
        Assert.All(ProposalSelector.ToWire(ProposalParser.DefaultEsp, [1, 2, 3, 4], includeGroups: false).SelectMany(p => p.Transforms),
            t => Assert.False(t.Type == TransformType.Integrity && WeakAlgorithms.IsWeak((IntegAlgorithm)t.Id)));
    }

    [Theory]
    [InlineData(PrfAlgorithm.HmacSha2_256, 16)]
    [InlineData(PrfAlgorithm.HmacSha2_384, 24)]
    [InlineData(PrfAlgorithm.HmacSha2_512, 32)]
    public void Nonces_are_at_least_half_the_prf_key_and_16_octets(PrfAlgorithm prf, int min)
    {
        Assert.Equal(min, NonceRules.MinLength(prf));
        Assert.False(NonceRules.IsLongEnough(new byte[min - 1], prf));
        Assert.True(NonceRules.IsLongEnough(new byte[min], prf));
    }

    [Fact]
    public async Task A_16_octet_nonce_is_refused_under_prfsha512_and_accepted_under_prfsha256()
    {
        foreach (var (prf, expectUp) in new[] { ("prfsha512", false), ("prfsha256", true) })
        {
            string ike = $"aes256gcm16-{prf}-ecp256";
            await using var responder = TestGateway.Start(TestGateway.ResponderYaml(proposals: ike), name: "nonce-r-" + prf);
            var config = ConcentratorConfig.Parse(TestGateway.InitiatorYaml(proposals: ike), "<init>");
            await using var initiator = Gateway.Start(new GatewayOptions
            {
                Config = config,
                DataPlane = new InMemoryDataPlane(),
                Tunables = TestGateway.FastTunables with { NonceLength = 16 },
                SystemName = "nonce-i-" + prf,
            });
            var events = EventLog.Attach(initiator.System);
            initiator.Initiate(config.Connections["site"], responder.Endpoint);
            await Eventually.TrueAsync(() => events.Up.Count + events.Down.Count == 1, "the initiator finished", 20);
            Assert.Equal(expectUp ? 1 : 0, events.Up.Count);
            Assert.Equal(expectUp ? 1 : 0, responder.DataPlane.InstalledCount);
        }
    }

    /// <summary>AUTH, ICVs, COOKIEs and the admin token are secrets: compared with FixedTimeEquals, never SequenceEqual.</summary>
    [Fact]
    public void Secrets_are_compared_in_constant_time()
    {
        string root = ConfigTestText.SourcePath("Concentrator");
        string[] secretComparers =
        [
            "Ike/Crypto/PskAuth.cs", "Ike/Crypto/Integrity.cs", "Ike/Crypto/IkeMessageProtector.cs", "Ike/Crypto/AeadCipher.cs",
            "Ike/Admission/CookieGuard.cs", "Ike/Tasks/IkeAuthTask.cs", "DataPlane/Esp/EspCipher.cs", "Hosting/AdminGate.cs",
        ];
        foreach (var file in secretComparers)
        {
            string text = File.ReadAllText(Path.Combine(root, file));
            Assert.DoesNotMatch(new Regex(@"SequenceEqual|SequenceCompareTo"), text);
        }
        Assert.Contains("FixedTimeEquals", File.ReadAllText(Path.Combine(root, "Ike/Crypto/PskAuth.cs")));
        Assert.Contains("FixedTimeEquals", File.ReadAllText(Path.Combine(root, "Ike/Crypto/Integrity.cs")));
        Assert.Contains("FixedTimeEquals", File.ReadAllText(Path.Combine(root, "DataPlane/Esp/EspCipher.cs")));
        Assert.Contains("FixedTimeEquals", File.ReadAllText(Path.Combine(root, "Ike/Admission/CookieGuard.cs")));
        Assert.Contains("FixedTimeEquals", File.ReadAllText(Path.Combine(root, "Hosting/AdminGate.cs")));
    }

    [Fact]
    public void A_config_with_secrets_readable_by_others_draws_a_warning()
    {
        if (OperatingSystem.IsWindows()) return;
        string dir = Directory.CreateTempSubdirectory("secrets-mode").FullName;
        try
        {
            string withSecrets = Path.Combine(dir, "with.yaml");
            File.WriteAllText(withSecrets, Conn("default") + "\nsecrets:\n  a: { secret: \"abcdefghijklmnop\" }\n");
            string without = Path.Combine(dir, "without.yaml");
            File.WriteAllText(without, Conn("default"));
            var sink = new CapturingLoggerProvider();
            using var loggers = LoggerFactory.Create(b => b.AddProvider(sink));
            var log = loggers.CreateLogger("t");

            File.SetUnixFileMode(withSecrets, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
            Assert.True(SecretFileCheck.WarnIfExposed(withSecrets, ConcentratorConfig.Load(withSecrets), log));
            var line = Assert.Single(sink.Lines);
            Assert.Equal(4101, line.EventId);
            Assert.Equal(LogLevel.Warning, line.Level);
            Assert.Contains("readable by others", line.Message);
            Assert.Contains("0604", line.Message);
            Assert.DoesNotContain("abcdefghijklmnop", line.Message);

            File.SetUnixFileMode(withSecrets, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
            Assert.Equal("group", SecretFileCheck.ExposedTo(withSecrets, ConcentratorConfig.Load(withSecrets)));
            File.SetUnixFileMode(withSecrets, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            Assert.False(SecretFileCheck.WarnIfExposed(withSecrets, ConcentratorConfig.Load(withSecrets), log));
            File.SetUnixFileMode(without, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
            Assert.False(SecretFileCheck.WarnIfExposed(without, ConcentratorConfig.Load(without), log)); // nothing secret in it
            Assert.Single(sink.Lines);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
