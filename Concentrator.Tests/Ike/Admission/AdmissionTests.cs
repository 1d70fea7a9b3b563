using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Concentrator.Actors;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.Hosting;
using Concentrator.Ike.Admission;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;
using Concentrator.Testbed.Interop;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Support;
using Concentrator.Tests.Telemetry;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Concentrator.Tests.Ike.Admission;

public sealed class AdmissionUnitTests
{
    [Fact]
    public void Charon_admission_keys_parse_and_map_zero_to_unlimited()
    {
        var c = ConcentratorConfig.Parse("""
            charon: { block_threshold: 0, half_open_timeout: 7, init_limit_job_load: 0, init_limit_rate: 40, auth_failed_threshold: 3, auth_failed_backoff: 2m }
            """, "t.yaml");
        var a = c.Charon.ToAdmission();
        Assert.Equal(int.MaxValue, a.BlockThreshold);
        Assert.Equal(TimeSpan.FromSeconds(7), a.HalfOpenTimeout);
        Assert.Equal(int.MaxValue, a.InitJobLoad);
        Assert.Equal(40, a.InitRate);
        Assert.Equal(3, a.AuthFailedThreshold);
        Assert.Equal(TimeSpan.FromMinutes(2), a.AuthFailedBackoff);

        var d = ConcentratorConfig.Parse("connections: {}", "t.yaml").Charon.ToAdmission();
        Assert.Equal(5, d.BlockThreshold);               // strongSwan's charon.block_threshold
        Assert.Equal(TimeSpan.FromSeconds(30), d.HalfOpenTimeout); // charon.half_open_timeout
        Assert.Equal(1000, d.InitJobLoad);
        Assert.Equal(0, d.InitRate);
        Assert.Equal(5, d.AuthFailedThreshold);
    }

    [Theory]
    [InlineData("charon: { block_threshold: -1 }", "charon.block_threshold", "out of range")]
    [InlineData("charon: { half_open_timeout: 0 }", "charon.half_open_timeout", "out of range")]
    [InlineData("charon: { half_open_timeout: soon }", "charon.half_open_timeout", "")]
    [InlineData("charon: { init_limit_rate: lots }", "charon.init_limit_rate", "")]
    [InlineData("charon: { auth_failed_backoff: 3d }", "charon.auth_failed_backoff", "out of range")]
    public void Bad_admission_values_name_file_and_key(string yaml, string key, string problem)
    {
        var ex = Assert.Throws<ConfigException>(() => ConcentratorConfig.Parse(yaml, "gw.yaml"));
        Assert.Contains("gw.yaml", ex.Message);
        Assert.Contains(key, ex.Message);
        Assert.Contains(problem, ex.Message);
    }

    [Fact]
    public void The_gate_bounds_queued_new_init_requests_and_lets_everything_else_through()
    {
        static IkeHeader Header(byte[] datagram)
        {
            Assert.Equal(ParseStatus.Ok, IkeHeader.TryParse(datagram, out var header));
            return header;
        }

        var requests = new InitRequests();
        var initBytes = requests.Next(42);
        var init = Header(initBytes);
        Assert.True(InitGate.IsInitialInitRequest(init));
        var authBytes = initBytes.ToArray();
        authBytes[8] = 1; // responder SPI set: a message of an existing SA
        var auth = Header(authBytes);
        Assert.False(InitGate.IsInitialInitRequest(auth));
        var response = initBytes.ToArray();
        response[19] = 0x20;
        Assert.False(InitGate.IsInitialInitRequest(Header(response)));
        // A truncated datagram has no header: the ingress counts it malformed before the gate.
        Assert.NotEqual(ParseStatus.Ok, IkeHeader.TryParse(initBytes.AsSpan(0, 27), out _));

        var gate = new InitGate(3);
        for (int i = 0; i < 3; i++) Assert.True(gate.TryEnter(init));
        Assert.False(gate.TryEnter(init));
        Assert.True(gate.TryEnter(auth));
        Assert.Equal(3, gate.Pending);
        gate.Leave();
        Assert.True(gate.TryEnter(init));
        Assert.False(gate.TryEnter(init));
    }

    [Fact]
    public void The_rate_limiter_allows_a_burst_of_one_second_then_the_rate()
    {
        var limiter = new InitRateLimiter(10, nowMs: 0);
        int taken = 0;
        for (int i = 0; i < 50; i++) taken += limiter.TryTake(0) ? 1 : 0;
        Assert.Equal(10, taken);
        Assert.False(limiter.TryTake(50));  // half a token
        Assert.True(limiter.TryTake(100));
        taken = 0;
        for (int ms = 100; ms <= 1100; ms += 10) taken += limiter.TryTake(ms) ? 1 : 0;
        Assert.InRange(taken, 9, 11);
    }

    [Fact]
    public void Auth_failures_block_a_source_for_the_backoff_then_it_is_forgotten()
    {
        var s = new SourceAdmission(new AdmissionOptions { AuthFailedThreshold = 3, AuthFailedBackoff = TimeSpan.FromSeconds(10) });
        var bad = IPAddress.Parse("192.0.2.7");
        var other = IPAddress.Parse("192.0.2.8");
        Assert.False(s.CountAuthFailure(bad, 0));
        Assert.False(s.CountAuthFailure(bad, 1000));
        Assert.False(s.IsBlocked(bad, 1000));
        Assert.True(s.CountAuthFailure(bad, 2000));  // third within the window: blocked
        Assert.True(s.IsBlocked(bad, 2001));
        Assert.True(s.IsBlocked(bad, 11_999));
        Assert.False(s.IsBlocked(other, 2001));
        Assert.False(s.IsBlocked(bad, 12_000));

        // Failures spread wider than the window never add up to a block.
        Assert.False(s.CountAuthFailure(other, 0));
        Assert.False(s.CountAuthFailure(other, 10_001));
        Assert.False(s.CountAuthFailure(other, 20_002));
        Assert.False(s.IsBlocked(other, 20_003));

        s.Sweep(40_000);
        Assert.Equal(0, s.TrackedFailureSources);
    }

    [Fact]
    public void Half_open_counts_per_source_follow_adds_and_removes()
    {
        var s = new SourceAdmission(new AdmissionOptions { BlockThreshold = 2 });
        var a = IPAddress.Parse("192.0.2.1");
        s.AddHalfOpen(a);
        Assert.False(s.AtBlockThreshold(a));
        s.AddHalfOpen(a);
        Assert.True(s.AtBlockThreshold(a));
        Assert.False(s.AtBlockThreshold(IPAddress.Parse("192.0.2.2")));
        s.RemoveHalfOpen(a);
        Assert.False(s.AtBlockThreshold(a));
        s.RemoveHalfOpen(a);
        s.RemoveHalfOpen(a);
        Assert.Equal(0, s.HalfOpenFrom(a));
    }
}

/// <summary>
/// Floods and memory measurements on a live gateway over loopback. Alone (no other test class in parallel): the
/// managed-heap figures would otherwise include other tests' objects, and the flood would slow their timing.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AdmissionCollection
{
    public const string Name = "admission floods";
}

/// <summary>Admission on a live gateway over loopback: every refusal counted by reason, memory and CPU bounded.</summary>
[Collection(AdmissionCollection.Name)]
public sealed class AdmissionTests(ITestOutputHelper output)
{
    private static readonly AdmissionOptions Open = new()
    {
        CookieThreshold = int.MaxValue,
        BlockThreshold = int.MaxValue,
        MaxHalfOpen = int.MaxValue,
        InitJobLoad = int.MaxValue,
    };

    private static Task<double> DroppedAsync(TestGateway gw, string reason) => DroppedAsync(gw.Gateway, reason);

    private static async Task<double> DroppedAsync(Gateway gw, string reason) =>
        GatewayMetrics.Sum(await MetricsEndpointTests.ExportAsync(gw.Metrics.Registry),
            "concentrator_ike_messages_dropped_total", $"reason=\"{reason}\"");

    private static Task<int> HalfOpenAsync(TestGateway gw) => HalfOpenAsync(gw.Gateway);

    private static Task<int> HalfOpenAsync(Gateway gw) =>
        gw.Supervisor.Ask<int>(IkeSaSupervisor.GetHalfOpenCount.Instance, TimeSpan.FromSeconds(10));

    [Fact]
    public async Task Block_threshold_caps_half_open_sas_per_source_address()
    {
        await using var gw = TestGateway.Start(TestGateway.ResponderYaml(), Open with { BlockThreshold = 3 }, name: "block");
        var requests = new InitRequests();
        using var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        for (ulong i = 1; i <= 10; i++) await udp.SendAsync(requests.Next(0x5100 + i), gw.Endpoint);

        await Eventually.TrueAsync(async () => await DroppedAsync(gw, "per_source_limit") == 7, "seven requests over the threshold counted");
        Assert.Equal(3, await HalfOpenAsync(gw));
        Assert.Equal(3, await gw.Gateway.CountSasAsync());
    }

    [Fact]
    public async Task Half_open_sas_cost_bounded_memory_and_expire_after_half_open_timeout()
    {
        const int count = 2000;
        const long boundPerSa = 24 * 1024;
        // All requests come from 127.0.0.1: lift the per-address IKE SA bound (charon.ikesa_limit_per_peer, default 1000).
        await using var gw = TestGateway.Start(TestGateway.ResponderYaml() + "\ncharon: { ikesa_limit_per_peer: 0 }\n",
            Open with { HalfOpenTimeout = TimeSpan.FromSeconds(8) }, name: "mem");
        var requests = new InitRequests();
        using var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        // Warm-up: JIT, crypto and actor-system allocations that are paid once, not per SA.
        for (ulong i = 1; i <= 50; i++) await udp.SendAsync(requests.Next(0x6000_0000 + i), gw.Endpoint);
        await Eventually.TrueAsync(async () => await HalfOpenAsync(gw) == 50, "warm-up SAs half-open", 20);
        long before = GC.GetTotalMemory(forceFullCollection: true);

        var sw = Stopwatch.StartNew();
        for (ulong i = 1; i <= count; i++)
        {
            await udp.SendAsync(requests.Next(0x7000_0000 + i), gw.Endpoint);
            if (i % 100 == 0) await Task.Delay(5); // loopback socket buffer: no request lost to it
        }
        await Eventually.TrueAsync(async () => await HalfOpenAsync(gw) >= count + 50, "all SAs half-open", 30);
        int halfOpen = await HalfOpenAsync(gw);
        long after = GC.GetTotalMemory(forceFullCollection: true);
        double perSa = (after - before) / (double)count;
        output.WriteLine($"{halfOpen} half-open SAs after {sw.ElapsedMilliseconds} ms; managed heap +{(after - before) / 1024} KiB, {perSa:0} bytes per half-open SA");
        Assert.True(halfOpen >= count, $"only {halfOpen} SAs became half-open ");
        Assert.True(perSa < boundPerSa, $"{perSa:0} bytes per half-open SA, bound {boundPerSa}");

        // Nobody completes IKE_AUTH: after half_open_timeout every SA is gone, and its memory with it.
        await Eventually.TrueAsync(async () => await gw.Gateway.CountSasAsync() == 0, "abandoned half-open SAs removed", 15);
        Assert.Equal(0, await HalfOpenAsync(gw));
        long drained = GC.GetTotalMemory(forceFullCollection: true);
        output.WriteLine($"after expiry: managed heap {(drained - before) / 1024} KiB over the baseline");
        Assert.True(drained - before < count * boundPerSa / 4, $"{drained - before} bytes still held after every half-open SA expired");
    }

    [Fact]
    public async Task Repeated_authentication_failures_make_the_source_back_off()
    {
        var admission = new AdmissionOptions { AuthFailedThreshold = 2, AuthFailedBackoff = TimeSpan.FromSeconds(30) };
        var sink = new EventIds();
        using var loggers = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Information).AddProvider(sink));
        await using var gw = Gateway.Start(new GatewayOptions
        {
            Config = ConcentratorConfig.Parse(TestGateway.ResponderYaml(), "<authgw>"),
            DataPlane = new InMemoryDataPlane(),
            Tunables = TestGateway.FastTunables,
            Admission = admission,
            SystemName = "authgw",
            Loggers = loggers,
        });
        var endpoint = gw.IkeEndpoint;
        await using var liar = TestGateway.Start(TestGateway.InitiatorYaml(psk: "not-the-shared-key-0000000"), name: "liar");
        for (int attempt = 1; attempt <= 2; attempt++)
        {
            liar.Initiate("site", endpoint);
            await Eventually.TrueAsync(async () => await liar.Gateway.CountSasAsync() == 0 && await gw.CountSasAsync() == 0,
                $"attempt {attempt} failed on both sides", 15);
        }
        Assert.Equal(0, await DroppedAsync(gw, "auth_failed_backoff"));
        Assert.Equal(1, sink.Count(2101)); // the block, logged once

        // Now 127.0.0.1 is refused, even with the right key, before any state or DH is spent on it.
        await using var honest = TestGateway.Start(TestGateway.InitiatorYaml(), name: "honest");
        honest.Initiate("site", endpoint);
        await Eventually.TrueAsync(async () => await DroppedAsync(gw, "auth_failed_backoff") >= 2, "the next IKE_SA_INIT and its retransmission are refused");
        Assert.Equal(0, honest.DataPlane.InstalledCount);
        Assert.Equal(0, await HalfOpenAsync(gw));
        Assert.Equal(1, sink.Count(2101)); // refusals are counted, not logged each
    }

    private sealed class EventIds : ILoggerProvider
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<int> _ids = new();

        public int Count(int id) => _ids.Count(i => i == id);

        public ILogger CreateLogger(string categoryName) => new Logger(_ids);

        public void Dispose()
        {
        }

        private sealed class Logger(System.Collections.Concurrent.ConcurrentQueue<int> ids) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                ids.Enqueue(eventId.Id);
        }
    }

    [Fact]
    public async Task An_established_sa_completes_exchanges_promptly_while_new_handshakes_flood()
    {
        const int rate = 50;
        await using var gw = TestGateway.Start(TestGateway.ResponderYaml(), Open with { InitRate = rate }, name: "dhgw");
        await using var site = TestGateway.Start(TestGateway.InitiatorYaml(), name: "site");
        site.Initiate("site", gw.Endpoint);
        await Eventually.TrueAsync(() => site.DataPlane.InstalledCount == 1 && gw.DataPlane.InstalledCount == 1, "tunnel up");
        var ike = (await site.Gateway.Supervisor.Ask<List<IActorRef>>(IkeSaSupervisor.GetSas.Instance)).Single();
        var child = site.Config.Connections["site"].Children["net"];

        // A flood of valid IKE_SA_INIT requests, each of which would cost the responder a DH computation.
        var requests = new InitRequests();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        long sent = 0;
        var flood = Task.Run(async () =>
        {
            using var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
            var buffer = new byte[requests.Length];
            ulong spi = 0x8000_0000;
            while (!cts.IsCancellationRequested)
            {
                requests.Write(buffer, ++spi);
                try { await udp.SendAsync(buffer, gw.Endpoint, cts.Token); }
                catch (OperationCanceledException) { break; }
                // 50 every 10 ms: about 5000/s, a hundred times the admitted rate, without starving the rest of the machine.
                if (++sent % 50 == 0) await Task.Delay(10);
            }
        });
        var floodWatch = Stopwatch.StartNew();

        var latencies = new List<double>();
        await Task.Delay(500);
        for (int n = 0; floodWatch.Elapsed < TimeSpan.FromSeconds(4); n++)
        {
            await Task.Delay(200);
            int installed = site.DataPlane.InstalledCount;
            var sw = Stopwatch.StartNew();
            ike.Tell(new IkeSaActor.CreateChildSa(child));
            await Eventually.TrueAsync(() => site.DataPlane.InstalledCount == installed + 1, $"CREATE_CHILD_SA {n + 1} completed", 10);
            latencies.Add(sw.Elapsed.TotalMilliseconds);
        }
        double seconds = floodWatch.Elapsed.TotalSeconds;
        await cts.CancelAsync();
        await flood;

        int halfOpen = await HalfOpenAsync(gw);
        double limited = await DroppedAsync(gw, "init_rate_limit");
        output.WriteLine($"flood: {sent} IKE_SA_INIT in {seconds:0.0} s ({sent / seconds:0}/s); rate-limited {limited}; half-open {halfOpen}; " +
                         $"CREATE_CHILD_SA ms: {string.Join(", ", latencies.Select(l => l.ToString("0")))}");
        Assert.True(sent > 5 * rate * seconds, $"the flood ({sent} in {seconds:0.0} s) was not several times the admitted rate");
        Assert.True(limited > 0, "refusals counted as init_rate_limit");
        Assert.True(halfOpen <= rate * (seconds + 2) + rate, $"{halfOpen} SAs admitted, more than the token bucket allows");
        Assert.True(latencies.Count >= 5, $"only {latencies.Count} CREATE_CHILD_SA exchanges in the flood's 4 s");
        Assert.All(latencies, l => Assert.True(l < 2000, $"a CREATE_CHILD_SA of the established SA took {l:0} ms under the flood"));
    }
}
