using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Concentrator.Hosting;
using Concentrator.Ike.Sa;
using Concentrator.Ipsec;
using Concentrator.Simulation;
using Concentrator.Telemetry;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Support;

namespace Concentrator.Tests.Cli;

/// <summary>strongSwan's names for what <c>sas</c> prints (libstrongswan's enum names, as swanctl --list-sas shows them).</summary>
public sealed class SwanctlNamesTests
{
    [Theory]
    [InlineData(EncrAlgorithm.AesCbc, 256, IntegAlgorithm.HmacSha2_256_128, PrfAlgorithm.HmacSha2_256, DhGroup.Ecp256, "AES_CBC-256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/ECP_256")]
    [InlineData(EncrAlgorithm.AesGcm16, 256, IntegAlgorithm.None, PrfAlgorithm.HmacSha2_384, DhGroup.Curve25519, "AES_GCM_16-256/PRF_HMAC_SHA2_384/CURVE_25519")]
    [InlineData(EncrAlgorithm.AesCbc, 128, IntegAlgorithm.HmacSha1_96, PrfAlgorithm.HmacSha1, DhGroup.Modp2048, "AES_CBC-128/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_2048")]
    [InlineData(EncrAlgorithm.TripleDes, 192, IntegAlgorithm.HmacMd5_96, PrfAlgorithm.HmacMd5, DhGroup.Modp1024, "3DES_CBC/HMAC_MD5_96/PRF_HMAC_MD5/MODP_1024")]
    [InlineData(EncrAlgorithm.ChaCha20Poly1305, 256, IntegAlgorithm.None, PrfAlgorithm.HmacSha2_512, DhGroup.Curve448, "CHACHA20_POLY1305-256/PRF_HMAC_SHA2_512/CURVE_448")]
    [InlineData(EncrAlgorithm.AesCtr, 192, IntegAlgorithm.AesXcbc96, PrfAlgorithm.AesXcbc, DhGroup.Ecp521, "AES_CTR-192/AES_XCBC_96/PRF_AES128_XCBC/ECP_521")]
    public void Ike_suites_read_as_swanctl_prints_them(EncrAlgorithm e, int bits, IntegAlgorithm i, PrfAlgorithm p, DhGroup g, string expected) =>
        Assert.Equal(expected, SwanctlNames.Ike(new IkeSuite(e, bits, p, i, g)));

    [Theory]
    [InlineData(EncrAlgorithm.AesGcm16, 256, IntegAlgorithm.None, DhGroup.None, false, "AES_GCM_16-256")]
    [InlineData(EncrAlgorithm.AesCbc, 128, IntegAlgorithm.HmacSha2_256_128, DhGroup.None, false, "AES_CBC-128/HMAC_SHA2_256_128")]
    [InlineData(EncrAlgorithm.AesCbc, 256, IntegAlgorithm.HmacSha2_512_256, DhGroup.Modp3072, true, "AES_CBC-256/HMAC_SHA2_512_256/MODP_3072/ESN")]
    [InlineData(EncrAlgorithm.AesGcm8, 128, IntegAlgorithm.None, DhGroup.Ecp384, false, "AES_GCM_8-128/ECP_384")]
    [InlineData(EncrAlgorithm.AesCcm16, 256, IntegAlgorithm.None, DhGroup.None, true, "AES_CCM_16-256/ESN")]
    [InlineData(EncrAlgorithm.Null, 0, IntegAlgorithm.HmacSha2_384_192, DhGroup.None, false, "NULL/HMAC_SHA2_384_192")]
    public void Esp_suites_read_as_swanctl_prints_them(EncrAlgorithm e, int bits, IntegAlgorithm i, DhGroup g, bool esn, string expected) =>
        Assert.Equal(expected, SwanctlNames.Esp(new EspSuite(e, bits, i, g, esn)));

    [Fact]
    public void Every_algorithm_the_codec_knows_has_a_strongswan_name()
    {
        foreach (var e in Enum.GetValues<EncrAlgorithm>().Where(v => v != EncrAlgorithm.None)) Assert.DoesNotContain("UNKNOWN", SwanctlNames.Encryption(e));
        foreach (var i in Enum.GetValues<IntegAlgorithm>().Where(v => v != IntegAlgorithm.None)) Assert.DoesNotContain("UNKNOWN", SwanctlNames.Integrity(i));
        foreach (var p in Enum.GetValues<PrfAlgorithm>().Where(v => v != PrfAlgorithm.None)) Assert.DoesNotContain("UNKNOWN", SwanctlNames.Prf(p));
        foreach (var g in Enum.GetValues<DhGroup>().Where(v => v != DhGroup.None)) Assert.DoesNotContain("UNKNOWN", SwanctlNames.Group(g));
        Assert.Equal("UNKNOWN_99", SwanctlNames.Encryption((EncrAlgorithm)99));
    }

    [Theory]
    [InlineData(ChildSaPhase.Installed, false, false, "INSTALLED")]
    [InlineData(ChildSaPhase.AwaitingActivation, false, false, "INSTALLED")]
    [InlineData(ChildSaPhase.Installed, true, false, "REKEYING")]
    [InlineData(ChildSaPhase.Rekeyed, false, false, "REKEYED")]
    [InlineData(ChildSaPhase.Redundant, false, false, "REKEYED")]
    [InlineData(ChildSaPhase.Installed, true, true, "DELETING")]
    [InlineData(ChildSaPhase.Rekeyed, false, true, "DELETING")]
    public void Child_states_are_strongswans_from_the_child_table(ChildSaPhase phase, bool rekeying, bool deleting, string expected) =>
        Assert.Equal(expected, SwanctlNames.ChildState(phase, rekeying, deleting));
}

/// <summary>--version, rekey, stats and the waiting initiate/terminate against an in-process gateway's admin endpoint.</summary>
[Collection("console")]
public sealed class OperatorCommandTests
{
    private static Task<(int Code, string Out, string Err)> Run(params string[] args) => CliTests.Run(args);

    [Theory]
    [InlineData("--version")]
    [InlineData("version")]
    public async Task Version_is_one_line_with_the_build_and_the_runtime(string arg)
    {
        var (code, output, _) = await Run(arg);
        Assert.Equal(0, code);
        string line = Assert.Single(output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"Concentrator {BuildInfo.Version}", line);
        Assert.Matches(@"^Concentrator \d+\.\d+\.\d+", line);
        Assert.Contains(".NET ", line);
    }

    [Theory]
    [InlineData("rekey", "exactly one of --child NAME, --ike CONNECTION, --ike-id N")]
    [InlineData("rekey --child lan --ike rw", "exactly one of")]
    [InlineData("rekey --child lan --reauth", "--reauth reauthenticates IKE SAs")]
    [InlineData("rekey --ike-id x", "--ike-id: 'x' is not a unique id")]
    [InlineData("initiate --child lan --timeout 0", "--timeout must be a number from 1 to 300")]
    [InlineData("terminate --ike rw --timeout 301", "--timeout must be a number from 1 to 300")]
    [InlineData("terminate --ike rw --reauth", "--reauth belongs to rekey")]
    public async Task Malformed_operator_commands_are_refused_before_any_request(string line, string message)
    {
        // Port 9 (discard): nothing answers, so a request would fail differently.
        var (code, _, err) = await Run([.. line.Split(' '), "--admin", "http://127.0.0.1:9"]);
        Assert.Equal(2, code);
        Assert.Contains(message, err);
    }

    private static async Task<(TestGateway Gateway, Concentrator.Hosting.HealthServer Http, string Admin)> StartAsync(string yaml)
    {
        var gateway = TestGateway.Start(yaml, name: "gw");
        int port = FreePorts.Tcp();
        var http = await HealthServer.StartAsync($"127.0.0.1:{port}", gateway.Gateway, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
        return (gateway, http, $"http://127.0.0.1:{port}");
    }

    private static async Task<List<SaView>> SasAsync(string admin)
    {
        var (code, output, err) = await Run("sas", "--json", "--admin", admin);
        Assert.True(code == 0, err);
        return JsonSerializer.Deserialize(output, AdminJson.Default.ListSaView)!;
    }

    [Fact]
    public async Task Sas_rekey_stats_and_a_waiting_terminate_speak_swanctl()
    {
        var (gateway, http, admin) = await StartAsync(TestGateway.ResponderYaml().Replace("esp_proposals: [aes256gcm16]", "esp_proposals: [aes256gcm16]\n        life_time: 2h"));
        await using var gatewayScope = gateway;
        await using var httpScope = http;
        await using var fleet = PeerFleet.Start(new FleetOptions { Psk = "test-shared-key-0123456789"u8.ToArray(), GatewayId = "gw.test" });
        Assert.Equal(1, (await fleet.EstablishAsync(gateway.Endpoint, 1, TimeSpan.FromSeconds(20))).Established);
        await Eventually.TrueAsync(() => gateway.DataPlane.InstalledCount == 1, "the child installed");

        var (code, text, _) = await Run("sas", "--admin", admin);
        Assert.Equal(0, code);
        Assert.Contains("rw: #1, ESTABLISHED, IKEv2, ", text);
        Assert.Contains("\n  AES_GCM_16-256/PRF_HMAC_SHA2_256/ECP_256\n", text);
        Assert.Matches(@"\n  established \d+s ago, rekeying in \d+s, expires in \d+s\n", text);
        Assert.Contains("  lan: INSTALLED, TUNNEL, ESP:AES_GCM_16-256\n", text);
        Assert.Matches(@"\n    installed \d+s ago, rekeying in \d+s, expires in \d+s\n", text);
        var before = Assert.Single(await SasAsync(admin));
        var child = Assert.Single(before.Children);
        Assert.InRange(child.RekeySeconds!.Value, 1, 3600); // rekey_time 1 h less a draw of rand_time (by default life_time - rekey_time)
        Assert.InRange(child.ExpiresSeconds!.Value, 7100, 7200);
        Assert.Equal("INSTALLED", child.State);

        (code, text, _) = await Run("rekey", "--child", "lan", "--timeout", "20", "--admin", admin);
        Assert.True(code == 0, text);
        Assert.EndsWith("rekey completed successfully\n", text);
        var rekeyed = Assert.Single(await SasAsync(admin));
        Assert.Contains(rekeyed.Children, c => c.Name == "lan" && c.State == "INSTALLED" && c.InboundSpi != child.InboundSpi && c.OutboundSpi != child.OutboundSpi);
        Assert.DoesNotContain(rekeyed.Children, c => c.InboundSpi == child.InboundSpi && c.State == "INSTALLED");

        (code, text, _) = await Run("rekey", "--ike", "rw", "--timeout", "20", "--admin", admin);
        Assert.True(code == 0, text);
        Assert.EndsWith("rekey completed successfully\n", text);
        Assert.NotEqual(before.Spi, Assert.Single(await SasAsync(admin)).Spi);

        (code, _, var err) = await Run("rekey", "--child", "nosuchchild", "--admin", admin);
        Assert.Equal(1, code);
        Assert.Equal("rekey failed: no installed Child SA of child 'nosuchchild' on this node\n", err);

        (code, text, _) = await Run("stats", "--json", "--admin", admin);
        Assert.Equal(0, code);
        var stats = JsonSerializer.Deserialize(text, AdminJson.Default.StatsView)!;
        Assert.Equal(1, stats.IkeSas);
        Assert.Equal(0, stats.HalfOpen);
        Assert.Equal(gateway.DataPlane.InstalledCount, stats.ChildSas);
        Assert.Equal(BuildInfo.InformationalVersion, stats.Version);
        Assert.Equal("none", stats.DataPlane);
        Assert.Contains($"{gateway.Endpoint}", stats.ListenAddresses.Single());
        Assert.True(stats.ManagedHeapBytes > 0 && stats.RssBytes > stats.ManagedHeapBytes / 4 && stats.Threads > 0);
        Assert.InRange(stats.UptimeSeconds, 0, 24 * 3600);
        (code, text, _) = await Run("stats", "--admin", admin);
        Assert.Equal(0, code);
        Assert.Contains("IKE_SAs: 1 total, 0 half-open", text);
        Assert.Contains($"version: Concentrator {BuildInfo.InformationalVersion}", text);

        (code, text, _) = await Run("terminate", "--ike", "rw", "--timeout", "20", "--admin", admin);
        Assert.True(code == 0, text);
        Assert.EndsWith("terminate completed successfully\n", text);
        Assert.Equal(0, await gateway.Gateway.CountSasAsync()); // terminate returned once they were gone
    }

    [Fact]
    public async Task Initiate_that_gets_no_answer_fails_after_its_timeout_with_exit_1()
    {
        // A UDP port nobody listens on: the IKE SA retransmits until --timeout ends the wait.
        using var silent = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        silent.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        int port = ((IPEndPoint)silent.LocalEndPoint!).Port;
        var (gateway, http, admin) = await StartAsync(TestGateway.InitiatorYaml().Replace("remote_addrs: [127.0.0.1]", $"remote_addrs: [127.0.0.1]\n    remote_port: {port}"));
        await using var gatewayScope = gateway;
        await using var httpScope = http;

        var started = DateTime.UtcNow;
        var (code, text, err) = await Run("initiate", "--child", "net", "--timeout", "2", "--admin", admin);
        Assert.Equal(1, code);
        Assert.Equal("", text);
        Assert.Equal("initiate failed: IKE SA of site not established within 2 s\n", err);
        Assert.InRange((DateTime.UtcNow - started).TotalSeconds, 1.9, 15);
    }

    [Fact]
    public async Task Initiate_that_the_peer_refuses_fails_with_the_reason_and_exit_1()
    {
        await using var responder = TestGateway.Start(TestGateway.ResponderYaml(psk: "another-shared-key-0123456789"), name: "peer");
        var (gateway, http, admin) = await StartAsync(TestGateway.InitiatorYaml().Replace("remote_addrs: [127.0.0.1]", $"remote_addrs: [127.0.0.1]\n    remote_port: {responder.Endpoint.Port}"));
        await using var gatewayScope = gateway;
        await using var httpScope = http;

        var (code, _, err) = await Run("initiate", "--child", "net", "--timeout", "30", "--admin", admin);
        Assert.Equal(1, code);
        Assert.StartsWith("initiate failed: IKE SA of site failed: ", err);
    }
}
