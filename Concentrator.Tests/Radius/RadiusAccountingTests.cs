using System.Net;
using System.Text;
using Concentrator.Actors;
using Concentrator.Ike.Eap;
using Concentrator.Ike.Sa;
using Concentrator.Ipsec;
using Concentrator.Radius;
using Concentrator.Telemetry;
using Microsoft.Extensions.Logging.Abstractions;

namespace Concentrator.Tests.Radius;

public sealed class RadiusAccountingTests
{
    private static readonly byte[] Secret = "acct-secret"u8.ToArray();
    private static readonly EapPeer Peer = new(0xabc, new IPEndPoint(IPAddress.Parse("192.0.2.1"), 4500), new IPEndPoint(IPAddress.Parse("198.51.100.9"), 4500));

    private static IkeSaUp Up(ulong spi) => new(spi, false, "rw", Peer.Remote, new IkeSaSummary("p", TimeSpan.Zero, false, 1),
        [IPAddress.Parse("10.3.0.5")]);

    private static Dictionary<RadiusAttributeType, byte[]> Attributes(byte[] request)
    {
        Assert.Equal(RadiusParseStatus.Ok, RadiusPacket.TryParse(request, out var p));
        Assert.Equal(RadiusCode.AccountingRequest, p.Code);
        // The Request Authenticator of RFC 2866 §3 under the shared secret.
        var copy = request.AsSpan(0, p.Bytes.Length).ToArray();
        RadiusAuthenticator.SignAccountingRequest(copy, Secret);
        Assert.Equal(p.Authenticator.ToArray(), copy.AsSpan(4, 16).ToArray());
        var result = new Dictionary<RadiusAttributeType, byte[]>();
        var reader = p.Attributes;
        while (reader.TryNext(out var t, out var v)) result[t] = v.ToArray();
        return result;
    }

    private static uint U32(byte[] v) => (uint)(v[0] << 24 | v[1] << 16 | v[2] << 8 | v[3]);

    [Fact]
    public async Task Start_then_Stop_with_the_sas_totals_gigawords_and_cause_for_a_radius_login_only()
    {
        using var server = new FakeRadiusServer(Secret, (req, _) => [FakeRadiusServer.Respond(req, Secret, RadiusCode.AccountingResponse, withMac: false)]);
        var metrics = new ConcentratorMetrics().Radius;
        using var client = new RadiusClient(new RadiusClientOptions { Servers = [server.Options("r1")], Accounting = true }, metrics, NullLogger.Instance);
        var logins = new RadiusLogins("node-a");
        using var accounting = new RadiusAccounting(client, logins, metrics, NullLogger.Instance);
        logins.Add(new RadiusLogin("sess-1", "alice"u8.ToArray(), "rw", Peer, IPAddress.Parse("10.3.0.5"), [], null));

        accounting.OnUp(Up(0x999)); // not a RADIUS login: nothing
        accounting.OnUp(Up(Peer.IkeSpi));
        var traffic = new SaCounters(7, (5UL << 32) + 1000, 9, 2000, 0, 0);
        accounting.OnDown(new IkeSaDown(0x123, false, "rw", CloseReason.DeletedByPeer, true, EstablishedSpi: Peer.IkeSpi, Traffic: traffic));
        for (int i = 0; i < 100 && (server.Received.Count < 2 || accounting.Backlog > 0); i++) await Task.Delay(20);

        // A retransmission (the same bytes, when an answer is slow on a loaded machine) is the same request.
        var sent = server.Received.ToArray().DistinctBy(Convert.ToHexString).ToArray();
        Assert.Equal(2, sent.Length);
        var start = Attributes(sent[0]);
        var stop = Attributes(sent[1]);
        if (U32(start[RadiusAttributeType.AcctStatusType]) != RadiusValues.AcctStart) (start, stop) = (stop, start);
        Assert.Equal(RadiusValues.AcctStart, U32(start[RadiusAttributeType.AcctStatusType]));
        Assert.Equal("sess-1", Encoding.ASCII.GetString(start[RadiusAttributeType.AcctSessionId]));
        Assert.Equal("alice", Encoding.ASCII.GetString(start[RadiusAttributeType.UserName]));
        Assert.Equal(new byte[] { 10, 3, 0, 5 }, start[RadiusAttributeType.FramedIpAddress]);
        Assert.False(start.ContainsKey(RadiusAttributeType.AcctInputOctets));
        Assert.Equal(RadiusValues.AcctStop, U32(stop[RadiusAttributeType.AcctStatusType]));
        Assert.Equal("sess-1", Encoding.ASCII.GetString(stop[RadiusAttributeType.AcctSessionId]));
        Assert.Equal(1000u, U32(stop[RadiusAttributeType.AcctInputOctets]));
        Assert.Equal(5u, U32(stop[RadiusAttributeType.AcctInputGigawords]));
        Assert.Equal(2000u, U32(stop[RadiusAttributeType.AcctOutputOctets]));
        Assert.Equal(0u, U32(stop[RadiusAttributeType.AcctOutputGigawords]));
        Assert.Equal(7u, U32(stop[RadiusAttributeType.AcctInputPackets]));
        Assert.Equal(9u, U32(stop[RadiusAttributeType.AcctOutputPackets]));
        Assert.Equal((uint)RadiusTerminateCause.UserRequest, U32(stop[RadiusAttributeType.AcctTerminateCause]));
        Assert.Equal(0, accounting.Backlog);
        Assert.Equal(0, accounting.Sessions);
    }

    [Fact]
    public async Task Unanswered_accounting_stays_in_the_backlog_for_its_rounds_then_is_counted_as_dropped()
    {
        using var silent = new FakeRadiusServer(Secret, (_, _) => []);
        var metrics = new ConcentratorMetrics().Radius;
        using var client = new RadiusClient(new RadiusClientOptions { Servers = [silent.Options("r1", tries: 1, timeout: 0.1)], Accounting = true },
            metrics, NullLogger.Instance);
        var logins = new RadiusLogins("node-a");
        using var accounting = new RadiusAccounting(client, logins, metrics, NullLogger.Instance);
        logins.Add(new RadiusLogin("sess-2", "bob"u8.ToArray(), "rw", Peer, null, [], null));
        accounting.OnUp(Up(Peer.IkeSpi));
        Assert.Equal(1, accounting.Backlog);
        for (int i = 0; i < 100 && accounting.Backlog > 0; i++) await Task.Delay(20);
        Assert.Equal(0, accounting.Backlog);
        Assert.Equal(RadiusAccounting.Rounds, silent.Received.Count);
        Assert.Equal(0, metrics.Backlog);
    }

    [Fact]
    public async Task Session_ids_are_unique_per_node_and_differ_after_a_restart()
    {
        var a = new RadiusLogins("node-a");
        var b = new RadiusLogins("node-b");
        var ids = Enumerable.Range(0, 100).Select(_ => a.NewSessionId()).Concat(Enumerable.Range(0, 100).Select(_ => b.NewSessionId())).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        await Task.Delay(1100);
        Assert.NotEqual(a.NewSessionId().Split('-')[1], new RadiusLogins("node-a").NewSessionId().Split('-')[1]);
    }
}

public sealed class RadiusInterimTests
{
    private static List<uint> Statuses(FakeRadiusServer server) => server.Received.ToArray().DistinctBy(Convert.ToHexString).Select(r =>
    {
        RadiusPacket.TryParse(r, out var p);
        p.TryFind(RadiusAttributeType.AcctStatusType, out var v);
        return (uint)v[3];
    }).ToList();

    [Fact]
    public async Task Interim_updates_follow_accounting_interval_until_the_sa_goes()
    {
        byte[] secret = "acct-secret"u8.ToArray();
        using var server = new FakeRadiusServer(secret, (req, _) => [FakeRadiusServer.Respond(req, secret, RadiusCode.AccountingResponse, withMac: false)]);
        var metrics = new ConcentratorMetrics().Radius;
        using var client = new RadiusClient(new RadiusClientOptions
        {
            Servers = [server.Options("r1")], Accounting = true, AccountingInterval = TimeSpan.FromSeconds(1),
        }, metrics, NullLogger.Instance);
        var logins = new RadiusLogins("node-a");
        using var accounting = new RadiusAccounting(client, logins, metrics, NullLogger.Instance);
        var peer = new EapPeer(7, new IPEndPoint(IPAddress.Loopback, 4500), new IPEndPoint(IPAddress.Loopback, 4501));
        logins.Add(new RadiusLogin("sess-3", "carol"u8.ToArray(), "rw", peer, null, [], null));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        accounting.OnUp(new IkeSaUp(7, false, "rw", peer.Remote, new IkeSaSummary("p", TimeSpan.Zero, false, 1)));
        // Two Interim-Updates, however slowly a loaded machine runs the timer (bounded wait).
        while (Statuses(server).Count(s => s == RadiusValues.AcctInterimUpdate) < 2 && clock.Elapsed < TimeSpan.FromSeconds(20)) await Task.Delay(50);
        var elapsed = clock.Elapsed;
        accounting.OnDown(new IkeSaDown(7, false, "rw", CloseReason.Timeout, true, EstablishedSpi: 7));
        for (int i = 0; i < 100 && accounting.Backlog > 0; i++) await Task.Delay(20);
        var statuses = Statuses(server);
        Assert.Equal(RadiusValues.AcctStart, statuses.Min());
        int interims = statuses.Count(s => s == RadiusValues.AcctInterimUpdate);
        Assert.True(interims >= 2, $"{interims} Interim-Updates in {elapsed.TotalSeconds:0.0} s");
        // Never faster than accounting_interval: at most one per whole second elapsed (plus one in flight at the Stop).
        Assert.True(interims <= (int)clock.Elapsed.TotalSeconds + 1, $"{interims} Interim-Updates in {clock.Elapsed.TotalSeconds:0.0} s at a 1 s interval");
        Assert.Equal(1, statuses.Count(s => s == RadiusValues.AcctStop));
        int before = server.Received.Count;
        await Task.Delay(1500);
        Assert.Equal(before, server.Received.Count); // no Interim-Update after the Stop
    }
}

public sealed class RadiusAccountingActorTests
{
    private sealed class Idle : Akka.Actor.ReceiveActor
    {
    }

    [Fact]
    public async Task Through_the_event_stream_Start_goes_out_and_an_sa_handed_to_another_node_is_forgotten_without_Stop()
    {
        byte[] secret = "acct-secret"u8.ToArray();
        using var server = new FakeRadiusServer(secret, (req, _) => [FakeRadiusServer.Respond(req, secret, RadiusCode.AccountingResponse, withMac: false)]);
        var metrics = new ConcentratorMetrics().Radius;
        using var client = new RadiusClient(new RadiusClientOptions { Servers = [server.Options("r1")], Accounting = true }, metrics, NullLogger.Instance);
        var logins = new RadiusLogins("node-a");
        using var accounting = new RadiusAccounting(client, logins, metrics, NullLogger.Instance);
        using var system = Akka.Actor.ActorSystem.Create("radius-accounting-test");
        try
        {
            accounting.Attach(system);
            var sa = system.ActorOf(Akka.Actor.Props.Create(() => new Idle()));
            var peer = new EapPeer(11, new IPEndPoint(IPAddress.Loopback, 4500), new IPEndPoint(IPAddress.Loopback, 4501));
            logins.Add(new RadiusLogin("sess-4", "dave"u8.ToArray(), "rw", peer, null, [], null));
            system.EventStream.Publish(new IkeSaUp(11, false, "rw", peer.Remote, new IkeSaSummary("p", TimeSpan.Zero, false, 1), null, sa));
            for (int i = 0; i < 100 && (accounting.Sessions == 0 || server.Received.IsEmpty); i++) await Task.Delay(20);
            Assert.Equal(1, accounting.Sessions);
            Assert.Single(server.Received);
            system.Stop(sa); // released to another node: no IkeSaDown
            for (int i = 0; i < 100 && accounting.Sessions > 0; i++) await Task.Delay(20);
            Assert.Equal(0, accounting.Sessions);
            await Task.Delay(200);
            Assert.Single(server.Received);
        }
        finally
        {
            await system.Terminate();
        }
    }
}
