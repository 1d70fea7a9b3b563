using System.Net;
using System.Net.Sockets;
using Concentrator.Config;
using Concentrator.Hosting;
using Concentrator.Ike.Admission;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;
using Concentrator.Simulation;
using Concentrator.Telemetry;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Support;
using Concentrator.Transport;
using Microsoft.Extensions.Logging;

namespace Concentrator.Tests.Security;

/// <summary>One test per charon resource bound: the bound holds, the hit is counted and logged at most once per interval.</summary>
public sealed class ResourceLimitTests
{
    private const string Psk = "test-shared-key-0123456789";

    [Fact]
    public void Bounds_are_read_from_charon_with_safe_defaults()
    {
        var d = ConcentratorConfig.Parse("connections: {}", "t.yaml").Charon.ToLimits();
        Assert.Equal(10000, d.MaxPacket);
        Assert.Equal(64, d.MaxPayloads);
        Assert.Equal(100_000, d.IkeSaLimit);
        Assert.Equal(1000, d.IkeSaLimitPerPeer);
        Assert.Equal(64, d.ChildSaLimit);
        Assert.Equal(32, d.AcquireQueue);
        Assert.Equal(20, d.AdminRate);

        var c = ConcentratorConfig.Parse("""
            charon: { max_packet: 2000, max_payloads: 20, ikesa_limit: 0, ikesa_limit_per_peer: 3, child_sa_limit: 2, acquire_queue: 0, admin_rate: 5 }
            """, "t.yaml").Charon.ToLimits();
        Assert.Equal(2000, c.MaxPacket);
        Assert.Equal(20, c.MaxPayloads);
        Assert.Equal(int.MaxValue, c.IkeSaLimit); // 0 = unlimited, as strongSwan's ikesa_limit
        Assert.Equal(3, c.IkeSaLimitPerPeer);
        Assert.Equal(2, c.ChildSaLimit);
        Assert.Equal(0, c.AcquireQueue);
        Assert.Equal(5, c.AdminRate);
    }

    [Theory]
    [InlineData("charon: { max_packet: 500 }", "charon.max_packet", "out of range")]
    [InlineData("charon: { max_packet: 70000 }", "charon.max_packet", "out of range")]
    [InlineData("charon: { max_payloads: 3 }", "charon.max_payloads", "out of range")]
    [InlineData("charon: { ikesa_limit: many }", "charon.ikesa_limit", "'many'")]
    [InlineData("charon: { ikesa_limit_per_peer: -1 }", "charon.ikesa_limit_per_peer", "out of range")]
    [InlineData("charon: { child_sa_limit: -2 }", "charon.child_sa_limit", "out of range")]
    [InlineData("charon: { acquire_queue: 1000000 }", "charon.acquire_queue", "out of range")]
    [InlineData("charon: { admin_rate: 0 }", "charon.admin_rate", "out of range")]
    public void Bad_bounds_name_file_and_key(string yaml, string key, string problem)
    {
        var ex = Assert.Throws<ConfigException>(() => ConcentratorConfig.Parse(yaml, "limits.yaml"));
        Assert.Equal("limits.yaml", ex.File);
        Assert.Equal(key, ex.KeyPath);
        Assert.Contains(problem, ex.Message);
    }

    [Fact]
    public async Task A_flood_of_hits_is_counted_each_time_and_logged_once_per_interval()
    {
        var metrics = new ConcentratorMetrics();
        var reporter = new LimitReporter(Prometheus.Metrics.WithCustomRegistry(Prometheus.Metrics.NewCustomRegistry()), TimeSpan.FromMilliseconds(300));
        var sink = new CapturingLoggerProvider();
        using var loggers = LoggerFactory.Create(b => b.AddProvider(sink));
        reporter.AttachLogger(loggers.CreateLogger("t"));
        for (int i = 0; i < 1000; i++) reporter.Hit(ResourceLimit.IkeSaLimit, 5);
        Assert.Equal(1000, reporter.Count(ResourceLimit.IkeSaLimit));
        Assert.Equal(0, reporter.Count(ResourceLimit.MaxPacket));
        var first = Assert.Single(sink.Lines);
        Assert.Equal(2103, first.EventId);
        Assert.Equal(LogLevel.Warning, first.Level);
        Assert.Contains("charon.ikesa_limit = 5", first.Message);

        await Task.Delay(400);
        reporter.Hit(ResourceLimit.IkeSaLimit, 5);
        Assert.Equal(2, sink.Lines.Count);
        Assert.Contains("1000 refusals", sink.Lines.Last().Message); // 999 suppressed + this one
        Assert.NotNull(metrics.Limits); // every node has one
    }

    [Fact]
    public async Task Max_packet_drops_larger_ike_datagrams_before_they_reach_the_control_plane()
    {
        var metrics = new ConcentratorMetrics();
        var supervisor = new TellRecorder();
        var ingress = new IkeIngress(supervisor, new InitGate(100), metrics, maxPacket: 1500);
        using var transport = new UdpIkeTransport(IPAddress.Loopback, 0, 0, ingress, metrics);
        transport.Start();
        using var client = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        await client.SendAsync(Packets.IkeOfLength(1501), transport.IkeEndpoint);
        await client.SendAsync(Packets.IkeOfLength(1500), transport.IkeEndpoint);
        await Eventually.TrueAsync(() => !supervisor.Messages.IsEmpty, "the datagram within the bound arrived");
        await Task.Delay(100);
        Assert.Equal([1500], supervisor.Of<IkeInbound>().Select(m => m.Datagram.Length));
        Assert.Equal(1, metrics.Limits.Count(ResourceLimit.MaxPacket));
    }

    [Fact]
    public async Task Max_payloads_drops_a_message_with_more_payloads_at_the_ike_sa()
    {
        await using var gw = TestGateway.Start(TestGateway.ResponderYaml() + "\ncharon: { max_payloads: 16 }\n", name: "payloads");
        var header = new IkeHeader(0x1122334455667788, 0, PayloadType.None, 2, 0, ExchangeType.IkeSaInit, IkeFlags.Initiator, 0, 0);
        var vids = Enumerable.Range(0, 17).Select(_ => (Payload)new VendorIdPayload([7])).ToList();
        using var client = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        await client.SendAsync(IkeCodec.Encode(header, vids), gw.Endpoint);
        await Eventually.TrueAsync(() => gw.Gateway.Metrics.Limits.Count(ResourceLimit.MaxPayloads) == 1, "the 17-payload message hit max_payloads");
        await client.SendAsync(IkeCodec.Encode(header with { InitiatorSpi = 2 }, vids[..16]), gw.Endpoint);
        await Task.Delay(300);
        Assert.Equal(1, gw.Gateway.Metrics.Limits.Count(ResourceLimit.MaxPayloads)); // 16 is within the bound (then fails the payload rules)
    }

    [Theory]
    [InlineData("ikesa_limit", ResourceLimit.IkeSaLimit)]
    [InlineData("ikesa_limit_per_peer", ResourceLimit.IkeSaLimitPerPeer)]
    public async Task Ike_sa_limits_refuse_new_responder_sas(string key, ResourceLimit limit)
    {
        await using var gw = TestGateway.Start(TestGateway.ResponderYaml(psk: Psk) + $"\ncharon: {{ {key}: 2, cookie_threshold: 0 }}\n", name: "quota" + (int)limit);
        await using var fleet = PeerFleet.Start(new FleetOptions { Psk = System.Text.Encoding.UTF8.GetBytes(Psk), GatewayId = "gw.test" });
        var result = await fleet.EstablishAsync(gw.Endpoint, 4, TimeSpan.FromSeconds(6));
        Assert.Equal(2, result.Established);
        Assert.Equal(2, await gw.Gateway.CountSasAsync());
        Assert.True(gw.Gateway.Metrics.Limits.Count(limit) >= 2, "each refused IKE_SA_INIT (and its retransmissions) is counted");
    }

    [Fact]
    public async Task Child_sa_limit_answers_create_child_sa_with_no_additional_sas()
    {
        await using var responder = TestGateway.Start(TestGateway.ResponderYaml() + "\ncharon: { child_sa_limit: 1 }\n", name: "child-resp");
        await using var initiator = TestGateway.Start(TestGateway.InitiatorYaml(), name: "child-init");
        var conn = initiator.Config.Connections["site"];
        initiator.Gateway.Initiate(conn, responder.Endpoint, [conn.Children["net"], conn.Children["net"]]);
        await Eventually.TrueAsync(() => responder.Gateway.Metrics.Limits.Count(ResourceLimit.ChildSaLimit) == 1, "the second child hit child_sa_limit");
        await Task.Delay(300);
        Assert.Equal(1, responder.DataPlane.InstalledCount);
        Assert.Equal(1, initiator.DataPlane.InstalledCount);
        Assert.Equal(1, await responder.Gateway.CountSasAsync()); // the IKE SA survives the refusal
    }

    [Fact]
    public async Task Admin_requests_beyond_admin_rate_get_429_and_are_counted()
    {
        await using var gw = TestGateway.Start(TestGateway.ResponderYaml() + "\ncharon: { admin_rate: 2 }\n", name: "admin-rate");
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        await using var http = await HealthServer.StartAsync($"127.0.0.1:{port}", gw.Gateway,
            Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        int ok = 0, throttled = 0;
        for (int i = 0; i < 12; i++)
        {
            var r = await client.GetAsync($"http://127.0.0.1:{port}/admin/sas");
            if (r.StatusCode == HttpStatusCode.OK) ok++;
            else if ((int)r.StatusCode == 429) throttled++;
        }
        Assert.Equal(12, ok + throttled);
        Assert.True(throttled >= 1, $"{ok} ok, {throttled} throttled");
        Assert.Equal(throttled, gw.Gateway.Metrics.Limits.Count(ResourceLimit.AdminRate));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"http://127.0.0.1:{port}/healthz")).StatusCode); // health is never throttled
    }
}
