using System.Text.Json;
using Concentrator.Cli;
using Concentrator.Config;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Support;
using Concentrator.Tests.Telemetry;

namespace Concentrator.Tests.Cli;

/// <summary><c>Concentrator loadtest</c> against an in-process gateway on loopback (no root).</summary>
[Collection("console")]
public sealed class LoadtestCommandTests
{
    private const string Psk = "test-shared-key-0123456789";

    // Every simulated peer shares 127.0.0.1: the per-source half-open and IKE SA caps would refuse most of them.
    private static readonly string GatewayYaml = TestGateway.ResponderYaml(psk: Psk) + "\ncharon: { block_threshold: 0, ikesa_limit_per_peer: 0 }\n";

    private static Task<(int Code, string Out, string Err)> Run(params string[] args) => CliTests.Run(args);

    private static async Task<MetricsText> GatewayMetricsAsync(TestGateway gateway)
    {
        using var stream = new MemoryStream();
        await gateway.Gateway.Metrics.Registry.CollectAndExportAsTextAsync(stream);
        return new MetricsText(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }

    [Fact]
    public async Task Help_lists_the_options()
    {
        var (code, output, _) = await Run("loadtest", "--help");
        Assert.Equal(0, code);
        Assert.Contains("Usage: Concentrator loadtest --target", output);
        foreach (var option in new[] { "--peers", "--rate", "--timeout", "--psk", "--id-prefix", "--proposals", "--esp-proposals", "--hold", "--json" })
            Assert.Contains(option, output);

        (code, output, _) = await Run("--help");
        Assert.Equal(0, code);
        Assert.Contains("loadtest", output);
    }

    [Theory]
    [InlineData("needs --target", "loadtest")]
    [InlineData("--target: 'gw.example' is not ADDR", "loadtest", "--target", "gw.example")]
    [InlineData("--proposals:", "loadtest", "--target", "127.0.0.1", "--proposals", "aes256gcm16-prfsha256-ecp999")]
    [InlineData("--esp-proposals:", "loadtest", "--target", "127.0.0.1", "--esp-proposals", "rot13")]
    [InlineData("--peers must be a number from 1 to 200000", "loadtest", "--target", "127.0.0.1", "--peers", "0")]
    [InlineData("--bind: 'nowhere' is not an IP address", "loadtest", "--target", "127.0.0.1", "--bind", "nowhere")]
    [InlineData("unknown option '--peer'", "loadtest", "--target", "127.0.0.1", "--peer", "3")]
    [InlineData("--ca, --issuer, --issuer-key and --peer-key go together", "loadtest", "--target", "127.0.0.1", "--ca", "root.pem")]
    [InlineData("--ca: /nonexistent/root.pem:", "loadtest", "--target", "127.0.0.1", "--ca", "/nonexistent/root.pem", "--issuer",
        "/nonexistent/root.pem", "--issuer-key", "/nonexistent/root.key", "--peer-key", "/nonexistent/peer.key")]
    public async Task Bad_options_are_usage_errors(string message, params string[] args)
    {
        var (code, _, err) = await Run(args);
        Assert.Equal(2, code);
        Assert.Contains(message, err);
    }

    [Fact(Timeout = 120_000)]
    public async Task Loadtest_establishes_peers_and_reports_what_the_gateway_saw()
    {
        await using var gateway = TestGateway.Start(GatewayYaml);
        var (code, output, err) = await Run("loadtest", "--target", gateway.Endpoint.ToString(), "--peers", "6", "--warmup", "0",
            "--psk", Psk, "--gateway-id", "gw.test", "--id-prefix", "lt-", "--timeout", "60", "--json");
        Assert.True(code == 0, $"exit {code}\n{output}\n{err}");
        Assert.Contains("6 peers x 1 round(s) against " + gateway.Endpoint, err);

        var result = JsonSerializer.Deserialize<LoadtestCommand.Output>(output.Trim(), LoadtestCommand.Json)!;
        var round = Assert.Single(result.Rounds);
        Assert.Equal(6, round.Requested);
        Assert.Equal(6, round.Established);
        Assert.Equal(0, round.Failed);
        Assert.Empty(round.Failures);
        Assert.True(round.P50Ms > 0 && round.P50Ms <= round.P99Ms && round.P99Ms <= round.MaxMs, $"p50 {round.P50Ms} p99 {round.P99Ms} max {round.MaxMs}");
        Assert.InRange(round.SetupsPerSecond, 6 / round.ElapsedSeconds * 0.99, 6 / round.ElapsedSeconds * 1.01);
        Assert.True(round.MaxMs <= round.ElapsedSeconds * 1000, $"max {round.MaxMs} ms > elapsed {round.ElapsedSeconds} s");

        // The gateway answered exactly these peers, each with one Child SA, and got every Delete at the end.
        var m = await GatewayMetricsAsync(gateway);
        Assert.Equal(6, m.Sum("concentrator_ike_negotiations_succeeded_total", ("role", "responder")));
        Assert.Equal(0, m.Sum("concentrator_ike_negotiations_failed_total", ("role", "responder")));
        Assert.Equal(6, m.Sum("concentrator_child_sas_created_total"));
        await Eventually.TrueAsync(async () => await gateway.Gateway.CountSasAsync() == 0 && gateway.DataPlane.InstalledCount == 0,
            "the loadtest deleted every SA with the gateway");
    }

    [Fact(Timeout = 120_000)]
    public async Task Loadtest_peers_log_in_by_eap_mschapv2_and_a_wrong_password_fails_them()
    {
        // eap_id unset: each peer's IKE identity is its EAP identity; one EAP secret serves the whole fleet by pattern.
        var yaml = GatewayYaml.Replace("remote: { auth: psk, id: \"%any\" }", "remote: { auth: eap-mschapv2 }", StringComparison.Ordinal)
            .Replace("secrets:\n  rw:", "secrets:\n  eap-fleet: { id: \"*.fleet\", secret: fleet-password }\n  rw:", StringComparison.Ordinal);
        Assert.Contains("eap-fleet", yaml);
        Assert.Contains("auth: eap-mschapv2", yaml);
        await using var gateway = TestGateway.Start(yaml);
        var (code, output, err) = await Run("loadtest", "--target", gateway.Endpoint.ToString(), "--peers", "5", "--warmup", "0",
            "--psk", Psk, "--eap-password", "fleet-password", "--gateway-id", "gw.test", "--timeout", "60", "--json");
        Assert.True(code == 0, $"exit {code}\n{output}\n{err}");
        var round = Assert.Single(JsonSerializer.Deserialize<LoadtestCommand.Output>(output.Trim(), LoadtestCommand.Json)!.Rounds);
        Assert.Equal(5, round.Established);
        var m = await GatewayMetricsAsync(gateway);
        Assert.Equal(5, m.Sum("concentrator_logins_total", ("method", "eap-mschapv2"), ("outcome", "success")));

        (code, _, _) = await Run("loadtest", "--target", gateway.Endpoint.ToString(), "--peers", "2", "--warmup", "0",
            "--psk", Psk, "--eap-password", "not-the-password", "--gateway-id", "gw.test", "--timeout", "30");
        Assert.Equal(1, code);
        m = await GatewayMetricsAsync(gateway);
        Assert.Equal(2, m.Sum("concentrator_logins_total", ("method", "eap-mschapv2"), ("outcome", "eap_failed")));
        await Eventually.TrueAsync(async () => await gateway.Gateway.CountSasAsync() == 0, "no SA stays");
        Assert.Equal(0, (await GatewayMetricsAsync(gateway)).Sum("concentrator_users_online"));
    }

    [Fact(Timeout = 120_000)]
    public async Task Loadtest_authenticates_with_certificates_it_issues_for_each_peer()
    {
        using var pki = new LoadPki();
        await using var gateway = TestGateway.Start(pki.GatewayYaml("", "10.200.0.0/16"));
        var (code, output, err) = await Run(["loadtest", "--target", gateway.Endpoint.ToString(), "--peers", "4", "--warmup", "0",
            .. pki.Options, "--timeout", "60", "--json"]);
        Assert.True(code == 0, $"exit {code}\n{output}\n{err}");
        Assert.Contains("certificates issued by \"C=CH, O=Load, CN=Load Root CA\"", err);
        var round = Assert.Single(JsonSerializer.Deserialize<LoadtestCommand.Output>(output.Trim(), LoadtestCommand.Json)!.Rounds);
        Assert.Equal(4, round.Established);
        var m = await GatewayMetricsAsync(gateway);
        Assert.Equal(4, m.Sum("concentrator_ike_negotiations_succeeded_total", ("role", "responder")));
    }

    [Fact(Timeout = 120_000)]
    public async Task Wrong_psk_is_counted_as_failed_by_reason_and_exits_1()
    {
        await using var gateway = TestGateway.Start(GatewayYaml);
        var (code, output, err) = await Run("loadtest", "--target", gateway.Endpoint.ToString(), "--peers", "3", "--warmup", "0",
            "--psk", "not-the-gateway-key", "--gateway-id", "gw.test", "--timeout", "30");
        Assert.True(code == 1, $"exit {code}\n{output}\n{err}");

        var row = output.Split('\n').Single(l => l.StartsWith("1 ", StringComparison.Ordinal));
        Assert.Equal(["1", "3", "0", "3"], row.Split(' ', StringSplitOptions.RemoveEmptyEntries)[..4]);
        Assert.Contains("Failed by reason: AuthFailed: 3", output);

        var m = await GatewayMetricsAsync(gateway);
        Assert.Equal(3, m.Sum("concentrator_ike_negotiations_failed_total", ("role", "responder")));
        Assert.Equal(0, m.Sum("concentrator_ike_negotiations_succeeded_total", ("role", "responder")));
        Assert.Equal(0, gateway.DataPlane.InstalledCount);
    }

    /// <summary>
    /// 500 simulated remote-access clients, each with a certificate of its own identity, request a virtual IP (CFG_REQUEST,
    /// vips = 0.0.0.0) and get 500 distinct addresses of the pool; every SA is deleted, the same 500 identities reconnect
    /// and each gets its own address back; a newcomer then gets none of theirs.
    /// </summary>
    [Fact(Timeout = 300_000)]
    public async Task Loadtest_with_certificates_and_vips_gives_500_clients_500_addresses_and_each_its_own_again_when_it_reconnects()
    {
        using var pki = new LoadPki();
        string yaml = pki.GatewayYaml("""
            pools:
              rw-pool: { addrs: 10.30.0.0/23, dns: 10.10.0.53 }
            """, "dynamic", "    pools: [rw-pool]\n");
        string[] certificates = pki.Options;
        // 500 clients behind one address: the charon section's admission (no per-source cap), not the test default.
        await using var gateway = TestGateway.Start(yaml, Concentrator.Hosting.ConfigMapping.ToAdmission(ConcentratorConfig.Parse(yaml, "<gw>").Charon));
        var (code, output, err) = await Run(["loadtest", "--target", gateway.Endpoint.ToString(), "--peers", "500", "--rounds", "2",
            "--warmup", "0", "--window", "64", "--vips", .. certificates, "--id-prefix", "rw-", "--timeout", "120", "--json"]);
        Assert.True(code == 0, $"exit {code}\n{output}\n{err}");

        var rounds = JsonSerializer.Deserialize<LoadtestCommand.Output>(output.Trim(), LoadtestCommand.Json)!.Rounds;
        Assert.Equal(2, rounds.Count);
        Assert.All(rounds, r => Assert.Equal((500, 500, 500), (r.Established, r.VirtualIps, r.DistinctVirtualIps)));
        Assert.Contains("certificates issued by \"C=CH, O=Load, CN=Load Root CA\"", err);
        Assert.Equal(0, rounds[0].SameVirtualIps);
        Assert.Equal(500, rounds[1].SameVirtualIps);

        // Every lease is offline now (kept for its identity): 10.30.0.0/23 leases 10.30.0.1-10.30.1.254.
        var m = await GatewayMetricsAsync(gateway);
        Assert.Equal(510, m.Sum("concentrator_pool_addresses", ("pool", "rw-pool")));
        await Eventually.TrueAsync(async () =>
        {
            var now = await GatewayMetricsAsync(gateway);
            return now.Sum("concentrator_pool_leases_in_use", ("pool", "rw-pool")) == 0 && now.Sum("concentrator_pool_leases_offline", ("pool", "rw-pool")) == 500;
        }, "every lease went offline when its SA was deleted");
        Assert.Equal(10, (await GatewayMetricsAsync(gateway)).Sum("concentrator_pool_addresses_free", ("pool", "rw-pool")));

        // A newcomer gets one of the 10 never-leased addresses, none of the 500 kept for their identities.
        var (code2, output2, err2) = await Run(["loadtest", "--target", gateway.Endpoint.ToString(), "--peers", "1", "--warmup", "0", "--vips",
            .. certificates, "--id-prefix", "newcomer-", "--timeout", "30", "--hold", "1", "--json"]);
        Assert.True(code2 == 0, $"exit {code2}\n{output2}\n{err2}");
        Assert.Equal(1, Assert.Single(JsonSerializer.Deserialize<LoadtestCommand.Output>(output2.Trim(), LoadtestCommand.Json)!.Rounds).DistinctVirtualIps);
        await Eventually.TrueAsync(async () =>
        {
            var now = await GatewayMetricsAsync(gateway);
            return now.Sum("concentrator_pool_leases_offline", ("pool", "rw-pool")) == 501 && now.Sum("concentrator_pool_addresses_free", ("pool", "rw-pool")) == 9;
        }, "the newcomer's lease was a never-leased address, now offline beside the 500");
    }

    /// <summary>
    /// A CA, the gateway's certificate (gw.test) and one key every simulated peer's certificate is issued over, as files for
    /// the gateway's config and loadtest's certificate options.
    /// </summary>
    private sealed class LoadPki : IDisposable
    {
        private readonly TestPki _pki = new();
        private readonly string _gwCert, _gwKey, _rootPem;

        public LoadPki()
        {
            var root = _pki.Ca("C=CH, O=Load, CN=Load Root CA", TestKey.EcdsaP256);
            var gw = _pki.EndEntity("C=CH, O=Load, CN=gw.test", TestKey.EcdsaP256, root, dns: ["gw.test"]);
            var peer = _pki.EndEntity("C=CH, O=Load, CN=unused", TestKey.EcdsaP256, root); // only its key is used
            _rootPem = _pki.WriteCert("root.pem", root);
            _gwCert = _pki.WriteCert("gw.pem", gw);
            _gwKey = _pki.WriteKey("gw.key", gw);
            Options = ["--gateway-id", "gw.test", "--ca", _rootPem, "--issuer", _rootPem, "--issuer-key", _pki.WriteKey("root.key", root),
                "--peer-key", _pki.WriteKey("peer.key", peer)];
        }

        /// <summary>loadtest's options for these certificates.</summary>
        public string[] Options { get; }

        /// <summary>A gateway authenticating with certificates both ways; <paramref name="top"/> goes before its connections,
        /// <paramref name="connectionExtra"/> into the connection.</summary>
        public string GatewayYaml(string top, string remoteTs, string connectionExtra = "") => $$"""
            listen: { addresses: [127.0.0.1], ike_port: 0, natt_port: 0 }
            charon: { block_threshold: 0, ikesa_limit_per_peer: 0 }
            {{top}}
            connections:
              rw:
            {{connectionExtra}}    local: { auth: pubkey, certs: [{{_gwCert}}], id: gw.test }
                remote: { auth: pubkey, cacerts: [{{_rootPem}}] }
                children:
                  lan: { local_ts: [10.10.0.0/16], remote_ts: [{{remoteTs}}], esp_proposals: [aes256gcm16] }
            secrets:
              private-gw: { file: {{_gwKey}} }
            """;

        public void Dispose() => _pki.Dispose();
    }
}
