using System.Net;
using Concentrator.Config;
using Concentrator.Hosting;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Support;
using Concentrator.Tests.Telemetry;

namespace Concentrator.Tests.Hosting;

/// <summary>
/// <c>reload</c> (issue 16): a responder started from a file, our own initiators over loopback. Connections added, removed
/// and changed; a secret change for the next authentication; restart-only keys and an invalid file that change nothing.
/// </summary>
public sealed class ConfigReloadTests : IDisposable
{
    private const string KeyA = "key-of-site-a-0123456789";
    private const string KeyB = "key-of-site-b-0123456789";

    private readonly string _dir = Directory.CreateTempSubdirectory("reload-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string File(string yaml)
    {
        string path = Path.Combine(_dir, "concentrator.yaml");
        System.IO.File.WriteAllText(path, yaml);
        return path;
    }

    private static string Conn(string name, string lan = "10.10.0.0/16") => $$"""
          {{name}}:
            proposals: [aes256gcm16-prfsha256-ecp256]
            local: { auth: psk, id: gw.test }
            remote: { auth: psk, id: "*.{{name}}.test" }
            children:
              lan: { local_ts: [{{lan}}], remote_ts: [10.200.0.0/16], esp_proposals: [aes256gcm16] }

        """;

    private static string Responder(string connections, string secrets, string extra = "") => $"""
        listen: {"{"} addresses: [127.0.0.1], ike_port: 0, natt_port: 0 {"}"}
        {extra}
        connections:
        {connections}
        secrets:
        {secrets}
        """;

    private static string Secret(string name, string key) => $"  {name}: {{ id: \"*.{name}.test\", secret: \"{key}\" }}\n";

    /// <summary>An initiator whose connection "site" authenticates as <paramref name="host"/>.<paramref name="name"/>.test with
    /// <paramref name="key"/> (hosts of one name differ: INITIAL_CONTACT from one identity would replace its older SAs).</summary>
    private static TestGateway Site(string name, string key, string host = "one") => TestGateway.Start($$"""
        listen: { addresses: [127.0.0.1], ike_port: 0, natt_port: 0 }
        connections:
          site:
            remote_addrs: [127.0.0.1]
            proposals: [aes256gcm16-prfsha256-ecp256]
            local: { auth: psk, id: {{host}}.{{name}}.test }
            remote: { auth: psk, id: gw.test }
            children:
              net: { local_ts: [10.200.1.0/24], remote_ts: [10.10.0.0/16], esp_proposals: [aes256gcm16] }
        secrets:
          site: { secret: "{{key}}" }
        """, name: $"site-{host}-{name}");

    private static async Task<SaView> UpAsync(TestGateway gw, TestGateway site, string connection, string? besides = null)
    {
        site.Initiate("site", gw.Endpoint);
        SaView? found = null;
        await Eventually.TrueAsync(async () =>
        {
            found = (await AdminApi.ListAsync(gw.Gateway)).FirstOrDefault(s => s.Connection == connection && s.Spi != besides && s.State == "Established" && s.Children.Count > 0);
            return found is not null && site.DataPlane.InstalledCount > 0;
        }, $"an SA of {connection} is up");
        return found!;
    }

    [Fact(Timeout = 90_000)]
    public async Task Added_connection_serves_new_peers_at_once_and_a_removed_ones_SAs_are_deleted_with_their_peer()
    {
        string path = File(Responder(Conn("a"), Secret("a", KeyA)));
        await using var gw = TestGateway.StartFile(path, "reload-add");
        await using var a = Site("a", KeyA);
        var saA = await UpAsync(gw, a, "a");

        // Peer b is unknown: no connection accepts its identity.
        await using var b = Site("b", KeyB);
        b.Initiate("site", gw.Endpoint);
        await Task.Delay(1500);
        Assert.DoesNotContain(await AdminApi.ListAsync(gw.Gateway), s => s.Connection == "b");

        File(Responder(Conn("a") + Conn("b"), Secret("a", KeyA) + Secret("b", KeyB)));
        var added = await gw.Gateway.ReloadAsync();
        Assert.True(added.Ok, added.Message);
        Assert.Equal(["b"], added.ConnectionsAdded);
        Assert.Empty(added.ConnectionsChanged);
        Assert.Empty(added.ConnectionsRemoved);

        var saB = await UpAsync(gw, b, "b");
        Assert.Contains(await AdminApi.ListAsync(gw.Gateway), s => s.Spi == saA.Spi && s.State == "Established");

        File(Responder(Conn("a"), Secret("a", KeyA)));
        var removed = await gw.Gateway.ReloadAsync();
        Assert.True(removed.Ok, removed.Message);
        Assert.Equal(["b"], removed.ConnectionsRemoved);
        Assert.Equal(1, removed.SasDeleted);
        // The peer's SA goes too: it got the Delete (without DPD nothing else would end it).
        await Eventually.TrueAsync(async () => await b.Gateway.CountSasAsync() == 0 && b.DataPlane.InstalledCount == 0, "peer b's SA is deleted");
        // The gateway's end goes once the peer's answer to the Delete arrives (it may still be Deleting when the peer is done).
        await Eventually.TrueAsync(async () => (await AdminApi.ListAsync(gw.Gateway)).All(s => s.Spi != saB.Spi), "the gateway's SA of b is gone");
        var left = await AdminApi.ListAsync(gw.Gateway);
        Assert.Contains(left, s => s.Spi == saA.Spi && s.State == "Established");
        Assert.Equal(1, a.DataPlane.InstalledCount);

        var metrics = await MetricsAsync(gw);
        Assert.Equal(2, metrics.Sum("concentrator_config_reloads_total", ("outcome", "applied")));
    }

    [Fact(Timeout = 90_000)]
    public async Task A_changed_connections_SA_keeps_its_settings_and_new_SAs_get_the_new_ones()
    {
        string path = File(Responder(Conn("a"), Secret("a", KeyA)));
        await using var gw = TestGateway.StartFile(path, "reload-change");
        await using var first = Site("a", KeyA);
        var before = await UpAsync(gw, first, "a");
        Assert.Equal(["10.10.0.0-10.10.255.255"], Assert.Single(before.Children).LocalTs);

        // The child's local_ts narrows: strongSwan replaces the peer_cfg, the running SA keeps the one it was made with.
        File(Responder(Conn("a", lan: "10.10.1.0/24"), Secret("a", KeyA)));
        var result = await gw.Gateway.ReloadAsync();
        Assert.True(result.Ok, result.Message);
        Assert.Equal(["a"], result.ConnectionsChanged);
        Assert.Equal(0, result.SasDeleted);

        await using var second = Site("a", KeyA, host: "two");
        second.Initiate("site", gw.Endpoint);
        await Eventually.TrueAsync(async () => (await AdminApi.ListAsync(gw.Gateway)).Count(s => s.State == "Established" && s.Children.Count > 0) == 2,
            "a second SA of a is up");
        var sas = await AdminApi.ListAsync(gw.Gateway);
        var old = Assert.Single(sas, s => s.Spi == before.Spi);
        Assert.Equal(["10.10.0.0-10.10.255.255"], Assert.Single(old.Children).LocalTs);
        var fresh = Assert.Single(sas, s => s.Spi != before.Spi);
        Assert.Equal(["10.10.1.0-10.10.1.255"], Assert.Single(fresh.Children).LocalTs);
        Assert.Equal(1, first.DataPlane.InstalledCount);
    }

    [Fact(Timeout = 90_000)]
    public async Task A_changed_secret_is_used_for_the_next_authentication_and_leaves_established_SAs_alone()
    {
        const string NewKeyA = "new-key-of-site-a-987654321";
        string path = File(Responder(Conn("a"), Secret("a", KeyA)));
        await using var gw = TestGateway.StartFile(path, "reload-secret");
        await using var first = Site("a", KeyA);
        var before = await UpAsync(gw, first, "a");

        File(Responder(Conn("a"), Secret("a", NewKeyA)));
        var result = await gw.Gateway.ReloadAsync();
        Assert.True(result.Ok, result.Message);
        Assert.Empty(result.ConnectionsChanged);

        await using var stale = Site("a", KeyA, host: "two");
        stale.Initiate("site", gw.Endpoint);
        await Eventually.TrueAsync(() => stale.Events.Down.Count > 0 || !stale.Events.Up.IsEmpty, "the old key's attempt ends");
        Assert.Empty(stale.Events.Up);

        await using var current = Site("a", NewKeyA, host: "three");
        var after = await UpAsync(gw, current, "a", besides: before.Spi);
        Assert.NotEqual(before.Spi, after.Spi);
        Assert.Contains(await AdminApi.ListAsync(gw.Gateway), s => s.Spi == before.Spi && s.State == "Established");
    }

    [Fact(Timeout = 60_000)]
    public async Task Restart_only_keys_refuse_the_whole_reload_and_name_each_key()
    {
        string path = File(Responder(Conn("a"), Secret("a", KeyA), extra: "charon: { retransmit_tries: 3 }"));
        await using var gw = TestGateway.StartFile(path, "reload-refuse");
        var running = gw.Gateway.Config;

        File(Responder(Conn("a") + Conn("b"), Secret("a", KeyA) + Secret("b", KeyB),
            extra: "charon: { retransmit_tries: 5 }\ntunnel: { mtu: 1300 }\nhttp: { listen: 127.0.0.1:9555 }"));
        var result = await gw.Gateway.ReloadAsync();

        Assert.Equal(ReloadResult.Refused, result.Outcome);
        Assert.Equal(["charon.retransmit_tries", "http.listen", "tunnel.mtu"], result.RestartKeys);
        Assert.Contains("charon.retransmit_tries, http.listen, tunnel.mtu changed", result.Message);
        Assert.Contains("restart", result.Message);
        Assert.Same(running, gw.Gateway.Config);
        Assert.Null(gw.Gateway.ConfigResolver!.FindConnection("b"));
        Assert.Equal(1, (await MetricsAsync(gw)).Sum("concentrator_config_reloads_total", ("outcome", "refused")));
    }

    [Fact(Timeout = 60_000)]
    public async Task A_file_that_does_not_load_changes_nothing_and_says_file_key_and_problem()
    {
        string path = File(Responder(Conn("a"), Secret("a", KeyA)));
        await using var gw = TestGateway.StartFile(path, "reload-invalid");
        await using var a = Site("a", KeyA);
        var sa = await UpAsync(gw, a, "a");
        var running = gw.Gateway.Config;

        // A valid connection b beside a key the loader refuses: nothing of it may be applied.
        File(Responder(Conn("a") + Conn("b") + "    rekey_tyme: 1h\n", Secret("a", KeyA) + Secret("b", KeyB)));
        var result = await gw.Gateway.ReloadAsync();

        Assert.Equal(ReloadResult.Invalid, result.Outcome);
        Assert.Contains(path, result.Message);
        Assert.Contains("connections.b.rekey_tyme", result.Message);
        Assert.Contains("unknown key", result.Message);
        Assert.Same(running, gw.Gateway.Config);
        Assert.Null(gw.Gateway.ConfigResolver!.FindConnection("b"));
        Assert.Contains(await AdminApi.ListAsync(gw.Gateway), s => s.Spi == sa.Spi && s.State == "Established");

        System.IO.File.Delete(path);
        var missing = await gw.Gateway.ReloadAsync();
        Assert.Equal(ReloadResult.Invalid, missing.Outcome);
        Assert.Contains("file not found", missing.Message);
        Assert.Equal(2, (await MetricsAsync(gw)).Sum("concentrator_config_reloads_total", ("outcome", "invalid")));
    }

    [Fact(Timeout = 60_000)]
    public async Task An_added_connection_with_start_action_start_is_initiated_as_at_start_up()
    {
        await using var hub = TestGateway.Start(Responder(Conn("a"), Secret("a", KeyA)), name: "reload-hub");
        string path = File(Responder(Conn("z"), Secret("z", KeyB)));
        await using var branch = TestGateway.StartFile(path, "reload-branch");
        Assert.Equal(0, await branch.Gateway.CountSasAsync());

        File(Responder(Conn("z") + $$"""
              up:
                remote_addrs: [127.0.0.1]
                remote_port: {{hub.Endpoint.Port}}
                proposals: [aes256gcm16-prfsha256-ecp256]
                local: { auth: psk, id: one.a.test }
                remote: { auth: psk, id: gw.test }
                children:
                  net: { local_ts: [10.200.1.0/24], remote_ts: [10.10.0.0/16], esp_proposals: [aes256gcm16], start_action: start }

            """, Secret("z", KeyB) + "  up: { id: one.a.test, secret: \"" + KeyA + "\" }\n"));
        var result = await branch.Gateway.ReloadAsync();
        Assert.True(result.Ok, result.Message);
        Assert.Equal(["up"], result.ConnectionsAdded);
        await Eventually.TrueAsync(() => branch.DataPlane.InstalledCount == 1 && hub.DataPlane.InstalledCount == 1, "the added connection started");
        Assert.Equal("a", Assert.Single(await AdminApi.ListAsync(hub.Gateway)).Connection);
    }

    [Fact(Timeout = 60_000)]
    public async Task Pools_added_and_removed_are_reported_and_a_removed_pool_leaves_the_metrics()
    {
        string Pools(string pools) => Responder(Conn("a"), Secret("a", KeyA), extra: "pools:\n" + pools);
        string path = File(Pools("  p: { addrs: 10.40.0.0/28 }\n  q: { addrs: 10.41.0.0/28 }"));
        await using var gw = TestGateway.StartFile(path, "reload-pools");
        Assert.Equal(14, (await MetricsAsync(gw)).Sum("concentrator_pool_addresses", ("pool", "p")));

        File(Pools("  q: { addrs: 10.41.0.0/27, dns: 10.10.0.53 }\n  r: { addrs: 10.42.0.0/28 }"));
        var result = await gw.Gateway.ReloadAsync();
        Assert.True(result.Ok, result.Message);
        Assert.Equal(["r"], result.PoolsAdded);
        Assert.Equal(["p"], result.PoolsRemoved);
        Assert.Equal(["q"], result.PoolsChanged);
        Assert.Contains("pools added r, removed p, changed q", result.Message);
        var metrics = await MetricsAsync(gw);
        Assert.Equal(0, metrics.Sum("concentrator_pool_addresses", ("pool", "p")));
        Assert.Equal(30, metrics.Sum("concentrator_pool_addresses", ("pool", "q")));
        Assert.Equal(14, metrics.Sum("concentrator_pool_addresses", ("pool", "r")));
    }

    [Fact]
    public void The_diff_names_connections_by_their_keys_and_restart_keys_without_list_indexes()
    {
        var before = ConcentratorConfig.Parse(Responder(Conn("a") + Conn("b") + Conn("c"), Secret("a", KeyA)), "<x>");
        var after = ConcentratorConfig.Parse(Responder(Conn("a") + Conn("c", lan: "10.11.0.0/16") + Conn("d"), Secret("a", KeyB))
            .Replace("addresses: [127.0.0.1]", "addresses: [127.0.0.1, 127.0.0.2]"), "<x>");
        var diff = ConfigDiff.Compare(before, after);
        Assert.Equal(["d"], diff.Added);
        Assert.Equal(["b"], diff.Removed);
        Assert.Equal(["c"], diff.Changed);
        Assert.Equal(["listen.addresses"], diff.RestartKeys);
    }

    [Fact]
    public void Key_values_name_every_leaf_with_a_digest_and_flattening_an_alias_bomb_is_bounded()
    {
        var config = ConcentratorConfig.Parse(Responder(Conn("a"), Secret("a", KeyA)), "<kv>");
        Assert.Equal(YamlSection.Digest("aes256gcm16-prfsha256-ecp256"), config.KeyValues["connections.a.proposals[0]"]);
        Assert.Equal(YamlSection.Digest("10.10.0.0/16"), config.KeyValues["connections.a.children.lan.local_ts[0]"]);
        Assert.Equal(YamlSection.Digest("127.0.0.1"), config.KeyValues["listen.addresses[0]"]);
        // A PSK is kept as a digest only.
        Assert.Equal(YamlSection.Digest(KeyA), config.KeyValues["secrets.a.secret"]);
        Assert.DoesNotContain(KeyA, config.KeyValues.Values);

        // The loader refuses values of the wrong shape before it flattens, so a bomb cannot reach Flatten through a whole
        // file today; Flatten bounds itself anyway. Each level doubles: 2^20 leaves from a few hundred bytes.
        var bomb = new System.Text.StringBuilder("x0: &a0 [1, 1]\n");
        for (int i = 1; i <= 20; i++) bomb.Append($"x{i}: &a{i} [*a{i - 1}, *a{i - 1}]\n");
        var root = YamlSection.Root("<bomb>", bomb.ToString(), Enumerable.Range(0, 21).Select(i => $"x{i}").ToArray());
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var e = Assert.Throws<ConfigException>(() => root.Flatten(maxValues: 4 * bomb.Length + 1024));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
        Assert.Contains("<bomb>", e.Message);
        Assert.Contains("too many values", e.Message);
    }

    private static async Task<MetricsText> MetricsAsync(TestGateway gateway)
    {
        using var stream = new MemoryStream();
        await gateway.Gateway.Metrics.Registry.CollectAndExportAsTextAsync(stream);
        return new MetricsText(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }
}
