using System.Net;
using Concentrator.Ipsec;
using Concentrator.Telemetry;
using Concentrator.Tests.Support;
using Xunit.Abstractions;

namespace Concentrator.Tests.Telemetry;

public sealed class MetricsEndpointTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Scrape_after_a_loopback_run_passes_promtool_check_metrics()
    {
        var promtool = Tools.Require("promtool", output);
        if (promtool is null) return;

        await using var node = await ObservedNode.StartAsync(withSite: true, name: "expo");
        Assert.Equal(5, await node.EstablishAsync(5));
        node.PushEsp(40);
        var text = await node.ScrapeAsync();

        var (exit, lint) = await Tools.RunAsync(promtool, ["check", "metrics"], text);
        output.WriteLine(lint);
        Assert.True(exit == 0 && lint.Trim().Length == 0, $"promtool check metrics (exit {exit}):\n{lint}");
        Assert.Contains("# TYPE concentrator_esp_packets_total counter", text);
        Assert.Contains("# TYPE concentrator_ike_sa_setup_duration_seconds histogram", text);
        Assert.Contains("process_cpu_seconds_total", text); // prometheus-net's runtime collectors
    }

    [Fact]
    public async Task Build_info_names_the_version_commit_and_runtime_of_the_running_binary()
    {
        var metrics = new ConcentratorMetrics();
        using var stream = new MemoryStream();
        await metrics.Registry.CollectAndExportAsTextAsync(stream);
        var m = new MetricsText(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
        var (labels, value) = Assert.Single(m.Series("concentrator_build_info"));
        Assert.Equal(1, value);
        Assert.Equal("0.1.0", labels["version"]);
        Assert.Equal(System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription, labels["runtime"]);
        Assert.StartsWith(".NET 10.", labels["runtime"]);
        Assert.Matches("^([0-9a-f]{7,40}|unknown)$", labels["commit"]);
        Assert.Equal(["commit", "runtime", "version"], labels.Keys.Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("0.1.0+0123abc", "0.1.0", "0123abc")]
    [InlineData("0.1.0", "0.1.0", "unknown")]
    [InlineData("0.1.0+", "0.1.0", "unknown")]
    [InlineData(null, "unknown", "unknown")]
    public void Build_info_splits_the_informational_version_at_the_plus(string? informational, string version, string commit)
    {
        Assert.Equal((version, commit), BuildInfo.Parse(informational));
    }

    [Fact]
    public async Task Counters_match_the_tunnels_and_packets_that_really_happened()
    {
        const int tunnels = 7, packets = 53;
        await using var node = await ObservedNode.StartAsync(withSite: true, name: "count");
        await Eventually.TrueAsync(() => node.Site!.Options.DataPlane.InstalledCount == 1, "the site tunnel is up", 20);
        Assert.Equal(tunnels, await node.EstablishAsync(tunnels));
        var kept = new List<byte[]>();
        long bytes = node.PushEsp(packets, kept.Add);

        // A replayed packet and one for an SPI nobody installed.
        var replay = kept[3].ToArray();
        Assert.Equal(EspStatus.Replay, node.Plane.Decapsulate(replay, out _));
        var unknown = kept[4].ToArray();
        unknown[0] = 0; unknown[1] = 0; unknown[2] = 0x01; unknown[3] = 0x02;
        Assert.Equal(EspStatus.UnknownSpi, node.Plane.Decapsulate(unknown, out _));

        var m = new MetricsText(await node.ScrapeAsync());
        Assert.Equal(tunnels + 1, m.Sum("concentrator_ike_sas", ("state", "established")));
        Assert.Equal(0, m.Sum("concentrator_ike_sas", ("state", "connecting")));
        Assert.Equal(tunnels, m.Sum("concentrator_ike_negotiations_succeeded_total", ("role", "responder")));
        Assert.Equal(1, m.Sum("concentrator_ike_negotiations_succeeded_total", ("role", "initiator")));
        Assert.Equal(tunnels + 1, m.Sum("concentrator_ike_negotiations_started_total"));
        Assert.Equal(0, m.Sum("concentrator_ike_negotiations_failed_total"));
        Assert.Equal(tunnels, m.Sum("concentrator_ike_sa_setup_duration_seconds_count", ("role", "responder")));
        // IKEv2 SAs carry version="2" in every IKE SA family; nothing is counted as IKEv1.
        Assert.Equal(tunnels + 1, m.Sum("concentrator_ike_sas", ("state", "established"), ("version", "2")));
        Assert.Equal(tunnels, m.Sum("concentrator_ike_negotiations_succeeded_total", ("role", "responder"), ("version", "2")));
        Assert.Equal(tunnels, m.Sum("concentrator_ike_sa_setup_duration_seconds_count", ("role", "responder"), ("version", "2")));
        Assert.Equal(0, m.Sum("concentrator_ike_negotiations_started_total", ("version", "1")));
        Assert.Equal(tunnels, m.Sum("concentrator_child_sas", ("connection", "rw"), ("child", "lan")));
        // Each fleet peer holds a lease of rw-pool (10.200.0.0/16: 65534 addresses, as strongSwan leases a subnet).
        Assert.Equal(65534, m.Sum("concentrator_pool_addresses", ("pool", "rw-pool")));
        Assert.Equal(tunnels, m.Sum("concentrator_pool_leases_in_use", ("pool", "rw-pool")));
        Assert.Equal(65534 - tunnels, m.Sum("concentrator_pool_addresses_free", ("pool", "rw-pool")));
        Assert.Equal(1, m.Sum("concentrator_child_sas", ("connection", "obs-site"), ("child", "net")));
        Assert.Equal(1, m.Sum("concentrator_tunnel_up", ("connection", "obs-site"), ("child", "net")));
        Assert.Empty(m.Series("concentrator_tunnel_up", ("connection", "rw"))); // remote access: not a site tunnel
        Assert.Equal(0, m.Sum("concentrator_ike_half_open_sas"));

        Assert.Equal(packets, m.Sum("concentrator_esp_packets_total", ("direction", "in"), ("worker", "0")));
        Assert.Equal(bytes, m.Sum("concentrator_esp_bytes_total", ("direction", "in"), ("worker", "0")));
        Assert.Equal(1, m.Sum("concentrator_esp_dropped_packets_total", ("reason", "replay")));
        Assert.Equal(1, m.Sum("concentrator_esp_dropped_packets_total", ("reason", "no_sa")));
        Assert.True(m.Sum("concentrator_esp_crypto_duration_seconds_count", ("operation", "decrypt")) >= 1, "a decrypt was sampled");
        Assert.True(m.Sum("concentrator_ike_messages_received_total", ("exchange", "ike_auth")) >= tunnels);
        Assert.True(m.Sum("concentrator_ike_messages_sent_total", ("exchange", "ike_sa_init")) >= tunnels + 1);
        Assert.Equal(1, m.Sum("concentrator_cluster_members", ("status", "up")));
        Assert.Equal(1, m.Sum("concentrator_node_ready"));

        // The fleet's own node counts its side: the same packets went out of its data plane.
        var fleet = new MetricsText(await ExportAsync(node.Fleet.Node.Metrics.Registry));
        Assert.Equal(packets, fleet.Sum("concentrator_esp_packets_total", ("direction", "out")));
        Assert.Equal(bytes, fleet.Sum("concentrator_esp_bytes_total", ("direction", "out")));

        // Every fleet peer deletes: the gauges fall back and the closes are counted by reason.
        Assert.Equal(0, await node.Fleet.DeleteAllAsync(TimeSpan.FromSeconds(10)));
        await Eventually.TrueAsync(async () => await node.Gateway.CountSasAsync() == 1, "only the site SA is left");
        m = new MetricsText(await node.ScrapeAsync());
        Assert.Equal(1, m.Sum("concentrator_ike_sas", ("state", "established")));
        Assert.Equal(tunnels, m.Sum("concentrator_ike_sas_closed_total", ("reason", "deleted_by_peer")));
        Assert.Equal(0, m.Sum("concentrator_child_sas", ("connection", "rw")));
        Assert.Equal(0, m.Sum("concentrator_pool_leases_in_use", ("pool", "rw-pool")));
        Assert.Equal(tunnels, m.Sum("concentrator_pool_leases_offline", ("pool", "rw-pool"))); // kept for each identity
        Assert.Equal(1, m.Sum("concentrator_tunnel_up", ("connection", "obs-site"), ("child", "net")));

        // No label anywhere carries a peer address or an SPI.
        foreach (var line in m.Text.Split('\n').Where(l => l.Contains('{')))
        {
            Assert.DoesNotContain("127.0.0.1", line);
        }
        foreach (var spi in node.Plane.InstalledSpis()) Assert.DoesNotContain($"{spi:x8}", m.Text);
    }

    [Fact]
    public async Task Readyz_reflects_the_node_and_healthz_the_process()
    {
        await using var node = await ObservedNode.StartAsync(name: "ready");
        Assert.Equal(HttpStatusCode.OK, (await node.GetAsync("/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await node.GetAsync("/readyz")).StatusCode);

        await node.Gateway.DisposeAsync();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await node.GetAsync("/readyz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await node.GetAsync("/healthz")).StatusCode);
        Assert.Equal(0, new MetricsText(await node.ScrapeAsync()).Sum("concentrator_node_ready"));
    }

    [Fact]
    public void Data_plane_batches_are_published_per_worker_and_drops_by_reason()
    {
        var metrics = new Concentrator.Telemetry.ConcentratorMetrics();
        var batch = new Concentrator.Telemetry.WorkerBatchCounters { PacketsIn = 10, BytesIn = 1500, PacketsOut = 4, BytesOut = 600 };
        batch.CountDrop(EspStatus.Replay);
        batch.CountDrop(EspStatus.AuthFailed);
        batch.CountDrop(EspStatus.BadPadding);
        batch.QueueFull = 2;
        batch.TsMismatch = 3;
        metrics.DataPlane.Publish(3, in batch);
        metrics.DataPlane.Publish(5, in batch);
        batch.Clear();
        metrics.DataPlane.Publish(3, in batch);

        var m = new MetricsText(ExportAsync(metrics.Registry).GetAwaiter().GetResult());
        Assert.Equal(10, m.Sum("concentrator_esp_packets_total", ("direction", "in"), ("worker", "3")));
        Assert.Equal(20, m.Sum("concentrator_esp_packets_total", ("direction", "in")));
        Assert.Equal(600, m.Sum("concentrator_esp_bytes_total", ("direction", "out"), ("worker", "5")));
        foreach (var (reason, n) in new[] { ("replay", 1), ("auth_failed", 1), ("malformed", 1), ("queue_full", 2), ("ts_mismatch", 3) })
        {
            Assert.Equal(n, m.Sum("concentrator_esp_dropped_packets_total", ("reason", reason), ("worker", "3")));
        }
        Assert.Equal(["3", "5"], m.LabelValues("concentrator_esp_packets_total", "worker").Order());
    }

    internal static async Task<string> ExportAsync(Prometheus.CollectorRegistry registry)
    {
        using var stream = new MemoryStream();
        await registry.CollectAndExportAsTextAsync(stream);
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }
}
