using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Concentrator.Actors;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.Hosting;
using Concentrator.Ike.Admission;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;
using Concentrator.Telemetry;
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
            charon: { block_threshold: 0, cookie_threshold_ip: 0, half_open_timeout: 7, init_limit_job_load: 0, init_limit_rate: 40, auth_failed_threshold: 3, auth_failed_backoff: 2m }
            """, "t.yaml");
        var a = c.Charon.ToAdmission();
        Assert.Equal(int.MaxValue, a.BlockThreshold);
        Assert.Equal(int.MaxValue, a.CookieThresholdIp);
        Assert.Equal(TimeSpan.FromSeconds(7), a.HalfOpenTimeout);
        Assert.Equal(int.MaxValue, a.InitJobLoad);
        Assert.Equal(40, a.InitRate);
        Assert.Equal(3, a.AuthFailedThreshold);
        Assert.Equal(TimeSpan.FromMinutes(2), a.AuthFailedBackoff);

        var d = ConcentratorConfig.Parse("connections: {}", "t.yaml").Charon.ToAdmission();
        Assert.Equal(5, d.BlockThreshold);               // strongSwan's charon.block_threshold
        Assert.Equal(3, d.CookieThresholdIp);            // strongSwan's charon.cookie_threshold_ip
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

    private static readonly IPEndPoint Nat = new(IPAddress.Parse("198.51.100.7"), 4500);

    private static (IkeHeader Header, byte[] Datagram) Request(InitRequests requests, ulong spi, byte[]? cookie = null)
    {
        var datagram = requests.Next(spi);
        Assert.Equal(ParseStatus.Ok, IkeCodec.TryDecode(datagram, out var message));
        if (cookie is not null)
        {
            // RFC 7296 §2.6: the COOKIE notify first, the rest of the request unchanged.
            message!.Payloads.Insert(0, new NotifyPayload(NotifyType.Cookie, cookie));
            datagram = IkeCodec.Encode(message.Header with { NextPayload = PayloadType.None, Length = 0 }, message.Payloads);
        }
        Assert.Equal(ParseStatus.Ok, IkeHeader.TryParse(datagram, out var header));
        return (header, datagram);
    }

    /// <summary>The COOKIE the policy hands out for a request: the challenge's only payload.</summary>
    private static byte[] CookieOf(AdmissionDecision challenge)
    {
        Assert.Equal(AdmissionVerdict.Challenge, challenge.Verdict);
        Assert.Equal(ParseStatus.Ok, IkeCodec.TryDecode(challenge.CookieResponse!, out var reply));
        return Assert.IsType<NotifyPayload>(Assert.Single(reply!.Payloads)).Data;
    }

    [Fact]
    public void A_source_that_returns_its_cookie_passes_while_spoofed_requests_hold_its_address()
    {
        // strongSwan's order: the COOKIE before the per-source cap. Spoofed requests claiming the address get state only
        // until cookie_threshold_ip; from then on they are challenged and never return the cookie.
        var policy = new AdmissionPolicy(new AdmissionOptions(), ResourceLimits.Default, new ConcentratorMetrics());
        var requests = new InitRequests();
        int halfOpen = 0;
        ulong spi = 0x1000;
        for (; spi < 0x1000 + 50; spi++)
        {
            var (h, d) = Request(requests, spi);
            var decision = policy.Decide(h, d, Nat, halfOpen, nowMs: 1000);
            if (decision.Verdict != AdmissionVerdict.Admit) continue;
            Assert.False(decision.Proven);
            policy.Sources.AddHalfOpen(Nat.Address, proven: false);
            halfOpen++;
        }
        Assert.Equal(new AdmissionOptions().CookieThresholdIp, halfOpen);

        // Users behind that address (one NAT) return their cookies: each is admitted, up to block_threshold at once.
        for (int user = 0; user < new AdmissionOptions().BlockThreshold; user++, spi++)
        {
            var (h, d) = Request(requests, spi);
            var cookie = CookieOf(policy.Decide(h, d, Nat, halfOpen, nowMs: 1000));
            (h, d) = Request(requests, spi, cookie);
            var admitted = policy.Decide(h, d, Nat, halfOpen, nowMs: 1000);
            Assert.Equal(AdmissionVerdict.Admit, admitted.Verdict);
            Assert.True(admitted.Proven);
            policy.Sources.AddHalfOpen(Nat.Address, proven: true);
            halfOpen++;
        }

        // ...and the next one waits for one of them (a real address is held to block_threshold), while a spoofed request
        // is still only challenged.
        var (h2, d2) = Request(requests, ++spi);
        var cookie2 = CookieOf(policy.Decide(h2, d2, Nat, halfOpen, nowMs: 1000));
        (h2, d2) = Request(requests, spi, cookie2);
        Assert.Equal(AdmissionVerdict.Drop, policy.Decide(h2, d2, Nat, halfOpen, nowMs: 1000).Verdict);
        policy.Sources.RemoveHalfOpen(Nat.Address, proven: true);
        Assert.Equal(AdmissionVerdict.Admit, policy.Decide(h2, d2, Nat, halfOpen - 1, nowMs: 1000).Verdict);
    }

    [Fact]
    public void A_request_that_cannot_be_answered_is_dropped_before_any_state()
    {
        var metrics = new ConcentratorMetrics();
        var policy = new AdmissionPolicy(new AdmissionOptions(), ResourceLimits.Default, metrics);
        var (header, datagram) = Request(new InitRequests(), 0x2000);
        IkeCodec.TryDecode(datagram, out var message);
        var withoutKe = IkeCodec.Encode(header with { NextPayload = PayloadType.None, Length = 0 },
            message!.Payloads.Where(p => p.Type != PayloadType.KeyExchange).ToList());
        var errorOnly = IkeCodec.Encode(header with { NextPayload = PayloadType.None, Length = 0 }, [new NotifyPayload(NotifyType.NoProposalChosen)]);
        var lying = datagram.ToArray();
        lying[ProtocolConstants.IkeHeaderLength + 3] = 5; // the first payload's length lies

        foreach (var bad in new[] { withoutKe, errorOnly, lying })
        {
            Assert.Equal(ParseStatus.Ok, IkeHeader.TryParse(bad, out var h));
            Assert.Equal(AdmissionVerdict.Drop, policy.Decide(h, bad, Nat, halfOpen: 0, nowMs: 0).Verdict);
        }
        Assert.Equal(AdmissionVerdict.Admit, policy.Decide(header, datagram, Nat, halfOpen: 0, nowMs: 0).Verdict);
    }

    [Fact]
    public void Cookies_stay_on_for_ten_seconds_after_the_threshold_was_last_reached()
    {
        // strongSwan's COOKIE_CALMDOWN_DELAY: an initiator's retransmissions are not answered once with, once without.
        var policy = new AdmissionPolicy(new AdmissionOptions(), ResourceLimits.Default, new ConcentratorMetrics());
        var requests = new InitRequests();
        var (h, d) = Request(requests, 0x3000);
        Assert.Equal(AdmissionVerdict.Challenge, policy.Decide(h, d, Nat, halfOpen: 10, nowMs: 1000).Verdict);
        Assert.Equal(AdmissionVerdict.Challenge, policy.Decide(h, d, Nat, halfOpen: 0, nowMs: 10_999).Verdict);
        Assert.Equal(AdmissionVerdict.Admit, policy.Decide(h, d, Nat, halfOpen: 0, nowMs: 11_000).Verdict);
    }

    [Fact]
    public void Half_open_counts_per_source_follow_adds_and_removes()
    {
        var s = new SourceAdmission(new AdmissionOptions { BlockThreshold = 2 });
        var a = IPAddress.Parse("192.0.2.1");
        s.AddHalfOpen(a, proven: false);
        Assert.False(s.AtBlockThreshold(a, proven: false));
        s.AddHalfOpen(a, proven: false);
        Assert.True(s.AtBlockThreshold(a, proven: false));
        // Requests that returned a cookie are counted apart: spoofed ones cannot use up their share.
        Assert.False(s.AtBlockThreshold(a, proven: true));
        s.AddHalfOpen(a, proven: true);
        s.AddHalfOpen(a, proven: true);
        Assert.True(s.AtBlockThreshold(a, proven: true));
        Assert.Equal(4, s.HalfOpenFrom(a));
        Assert.False(s.AtBlockThreshold(IPAddress.Parse("192.0.2.2"), proven: false));
        s.RemoveHalfOpen(a, proven: false);
        Assert.False(s.AtBlockThreshold(a, proven: false));
        Assert.True(s.AtBlockThreshold(a, proven: true));
        s.RemoveHalfOpen(a, proven: false);
        s.RemoveHalfOpen(a, proven: false);
        s.RemoveHalfOpen(a, proven: true);
        s.RemoveHalfOpen(a, proven: true);
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
        CookieThresholdIp = int.MaxValue,
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
    public async Task Malformed_init_requests_leave_no_state_and_never_lock_their_source_out()
    {
        // Defaults: block_threshold 5, cookie_threshold 10, cookie_threshold_ip 3, half_open_timeout 30 s.
        await using var gw = TestGateway.Start(TestGateway.ResponderYaml(), new AdmissionOptions(), name: "malformed");
        var requests = new InitRequests();
        using var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        int sent = 0;
        for (ulong i = 1; i <= 40; i++)
        {
            foreach (var bad in MalformedInits(requests, 0x9100_0000 + i * 8))
            {
                await udp.SendAsync(bad, gw.Endpoint);
                sent++;
            }
        }

        // Two of the four kinds do not decode, two decode but lack what IKE_SA_INIT needs.
        await Eventually.TrueAsync(async () => await DroppedAsync(gw, "bad_payload_sequence") >= sent / 2 && await DroppedAsync(gw, "malformed") >= sent / 2,
            $"the {sent} malformed requests were counted");
        Assert.Equal(0, await HalfOpenAsync(gw));
        Assert.Equal(0, await gw.Gateway.CountSasAsync());
        Assert.Equal(0, await DroppedAsync(gw, "per_source_limit"));

        // The same address at once: no half-open SA of the stream stands in its way (strongSwan's behaviour).
        await using var honest = TestGateway.Start(TestGateway.InitiatorYaml(), name: "honest");
        var clock = Stopwatch.StartNew();
        honest.Initiate("site", gw.Endpoint);
        await Eventually.TrueAsync(() => honest.DataPlane.InstalledCount == 1, "the honest peer from the same address got its tunnel", 5);
        output.WriteLine($"{sent} malformed IKE_SA_INIT from 127.0.0.1, then a tunnel from the same address in {clock.ElapsedMilliseconds} ms");
    }

    /// <summary>Four IKE_SA_INIT requests no responder can answer: a lying payload length, more payloads than
    /// max_payloads, an error notify alone, and SA and Ni without KE.</summary>
    private static IEnumerable<byte[]> MalformedInits(InitRequests requests, ulong spi)
    {
        var lying = requests.Next(spi);
        lying[ProtocolConstants.IkeHeaderLength + 3] = 5;
        yield return lying;
        var real = requests.Next(spi + 1);
        IkeCodec.TryDecode(real, out var message);
        var header = message!.Header with { NextPayload = PayloadType.None, Length = 0 };
        yield return IkeCodec.Encode(header with { InitiatorSpi = spi + 2 },
            [.. message.Payloads, .. Enumerable.Range(0, 100).Select(_ => new VendorIdPayload([1, 2, 3, 4]))]);
        yield return IkeCodec.Encode(header with { InitiatorSpi = spi + 3 }, [new NotifyPayload(NotifyType.NoProposalChosen)]);
        yield return IkeCodec.Encode(header with { InitiatorSpi = spi + 4 }, message.Payloads.Where(p => p.Type != PayloadType.KeyExchange).ToList());
    }

    [Fact]
    public async Task Users_behind_one_address_keep_connecting_while_a_spoofed_flood_claims_it()
    {
        const int users = 1000;
        const string ike = "aes256gcm16-prfsha256-x25519";
        // One NAT address for a thousand users needs more IKE SAs per address than the default 1000 (the flood holds a few).
        await using var gw = TestGateway.Start(TestGateway.ResponderYaml(proposals: ike) + "\ncharon: { ikesa_limit_per_peer: 0 }\n",
            new AdmissionOptions(), name: "nat");
        await using var fleet = Concentrator.Simulation.PeerFleet.Start(new Concentrator.Simulation.FleetOptions
        {
            Psk = "test-shared-key-0123456789"u8.ToArray(),
            GatewayId = "gw.test",
            IkeProposal = ike,
            Tunables = new IkeTunables { RetransmitTimeout = TimeSpan.FromMilliseconds(500), RetransmitBase = 1.0, RetransmitTries = 60 },
        });

        // The flood: valid requests from 127.0.0.1, as a spoofer claiming the address sends them (it never sees the replies).
        var flood = new InitRequests(ike);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        long floodSent = 0;
        var flooding = Task.Run(async () =>
        {
            using var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
            var buffer = new byte[flood.Length];
            ulong spi = 0xA000_0000;
            while (!cts.IsCancellationRequested)
            {
                flood.Write(buffer, ++spi);
                try { await udp.SendAsync(buffer, gw.Endpoint, cts.Token); }
                catch (OperationCanceledException) { break; }
                if (++floodSent % 20 == 0) await Task.Delay(10); // about 2000/s
            }
        });
        await Eventually.TrueAsync(async () => await DroppedAsync(gw, "cookie_required") > 100, "the flood is challenged");
        int floodHalfOpen = await HalfOpenAsync(gw);

        var result = await fleet.EstablishAsync(gw.Endpoint, users, TimeSpan.FromSeconds(75), maxPending: 20);
        await cts.CancelAsync();
        await flooding;

        double challenged = await DroppedAsync(gw, "cookie_required"), perSource = await DroppedAsync(gw, "per_source_limit");
        output.WriteLine($"{result.Established}/{users} users behind 127.0.0.1 up in {result.Elapsed.TotalSeconds:0.0} s " +
                         $"(p50 {result.Percentile(50):0} ms, max {result.MaxMilliseconds:0} ms) while {floodSent} spoofed requests claimed the address; " +
                         $"half-open of the flood {floodHalfOpen}; cookie_required {challenged}, per_source_limit {perSource}");
        Assert.Equal(users, result.Established);
        Assert.InRange(floodHalfOpen, 1, new AdmissionOptions().CookieThresholdIp);
        Assert.True(challenged > floodSent / 2, $"only {challenged} of {floodSent} spoofed requests were challenged");
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
