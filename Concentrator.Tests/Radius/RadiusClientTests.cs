using System.Diagnostics;
using System.Net;
using System.Text;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Eap;
using Concentrator.Radius;
using Concentrator.Telemetry;
using Microsoft.Extensions.Logging.Abstractions;

namespace Concentrator.Tests.Radius;

public sealed class RadiusClientTests
{
    private static readonly byte[] Secret = "testing123"u8.ToArray();
    private static readonly EapPeer Peer = new(0x1122334455667788, new IPEndPoint(IPAddress.Parse("192.0.2.1"), 4500),
        new IPEndPoint(IPAddress.Parse("198.51.100.7"), 61000));

    private static (RadiusClient Client, RadiusMetrics Metrics) Client(params RadiusServerOptions[] servers) => Client(false, servers);

    private static (RadiusClient Client, RadiusMetrics Metrics) Client(bool accounting, params RadiusServerOptions[] servers)
    {
        var metrics = new ConcentratorMetrics().Radius;
        return (new RadiusClient(new RadiusClientOptions { Servers = servers, ClassGroup = true, Accounting = accounting }, metrics, NullLogger.Instance), metrics);
    }

    private static RadiusRequest Request() => new RadiusRequest(RadiusCode.AccessRequest) { Eap = [2, 1, 0, 10, 1, (byte)'a', (byte)'l', (byte)'i', (byte)'c', (byte)'e'] }
        .Add(RadiusAttributeType.UserName, "alice");

    private static bool RequestMacValid(byte[] request)
    {
        Assert.Equal(RadiusParseStatus.Ok, RadiusPacket.TryParse(request, out var p));
        return RadiusAuthenticator.VerifyMessageAuthenticator(p, p.Authenticator, Secret);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Eap_conversation_asks_identity_relays_the_challenge_with_state_and_ends_with_msk_framed_ip_and_class(bool accounting)
    {
        var send = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();
        var recv = Enumerable.Range(201, 32).Select(i => (byte)i).ToArray();
        using var server = new FakeRadiusServer(Secret, (req, i) => i switch
        {
            0 => [FakeRadiusServer.Respond(req, Secret, RadiusCode.AccessChallenge, b =>
            {
                b.Add(RadiusAttributeType.State, "round-1"u8.ToArray());
                b.Eap = [1, 2, 0, 6, 4, 16]; // EAP-Request/MD5-Challenge, a stand-in for any method's request
            })],
            _ => [FakeRadiusServer.Respond(req, Secret, RadiusCode.AccessAccept, b =>
            {
                b.Add(RadiusAttributeType.FramedIpAddress, [10, 3, 0, 42]);
                b.Add(RadiusAttributeType.Class, "engineering"u8.ToArray());
                b.Add(RadiusAttributeType.VendorSpecific, Mppe(MsMppeKey.SendKeyType, send, req));
                b.Add(RadiusAttributeType.VendorSpecific, Mppe(MsMppeKey.RecvKeyType, recv, req));
                b.Eap = [3, 2, 0, 4];
            })],
        });
        var (client, _) = Client(accounting, server.Options("r1"));
        using var _c = client;
        var logins = new RadiusLogins("node-a");
        var factory = new RadiusEapSessionFactory(client, logins, NullLogger.Instance);
        using var session = factory.Create(new ConnectionConfig { Name = "rw" }, new AuthConfig(), Peer)!;

        var first = await session.StartAsync(Identity.Parse("198.51.100.7"), Identity.AnyIdentity, default);
        Assert.Equal(EapResultKind.Continue, first.Kind);
        Assert.Equal(new byte[] { 1, first.Message![1], 0, 5, 1 }, first.Message);
        Assert.Empty(server.Received);

        byte id = first.Message[1];
        var challenge = await session.ProcessAsync(new byte[] { 2, id, 0, 10, 1, (byte)'a', (byte)'l', (byte)'i', (byte)'c', (byte)'e' }, default);
        Assert.Equal(EapResultKind.Continue, challenge.Kind);
        Assert.Equal(new byte[] { 1, 2, 0, 6, 4, 16 }, challenge.Message);
        string sessionId = CheckFirstRequest(server.Received.ToArray()[0]);

        var done = await session.ProcessAsync(new byte[] { 2, 2, 0, 6, 4, 0 }, default);
        Assert.Equal("round-1", StateOf(server.Received.ToArray()[1]));
        Assert.Equal(EapResultKind.Success, done.Kind);
        Assert.Equal(new byte[] { 3, 2, 0, 4 }, done.Message);
        Assert.Equal(recv.Concat(send).ToArray(), done.Msk);
        Assert.Equal(IPAddress.Parse("10.3.0.42"), done.FramedAddress);
        Assert.Equal(["engineering"], done.Groups);
        Assert.Equal("alice", done.EapIdentity?.Text);
        var login = logins.Take(Peer.IkeSpi);
        if (!accounting)
        {
            // Only accounting takes a login back out: without it none is kept.
            Assert.Null(login);
            return;
        }
        Assert.NotNull(login);
        Assert.Equal(IPAddress.Parse("10.3.0.42"), login.FramedAddress);
        Assert.Equal(login.SessionId, sessionId);
    }

    [Fact]
    public async Task An_eap_response_too_large_for_radius_fails_that_login_and_leaves_the_servers_alone()
    {
        using var r1 = new FakeRadiusServer(Secret, (req, _) => [FakeRadiusServer.Respond(req, Secret, RadiusCode.AccessChallenge, b => b.Eap = [1, 2, 0, 6, 4, 16])]);
        using var r2 = new FakeRadiusServer(Secret, (req, _) => []);
        var (client, _) = Client(r1.Options("r1"), r2.Options("r2"));
        using var _c = client;
        var factory = new RadiusEapSessionFactory(client, new RadiusLogins("n"), NullLogger.Instance);
        using var hostile = factory.Create(new ConnectionConfig { Name = "rw" }, new AuthConfig(), Peer)!;
        Assert.Equal(EapResultKind.Continue, (await hostile.StartAsync(Identity.Parse("mallory"), Identity.Parse("mallory"), default)).Kind);
        var big = new byte[RadiusEapSession.MaxEapLength + 1];
        (big[0], big[1], big[4]) = (2, 2, 4);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(big.AsSpan(2), (ushort)big.Length);
        Assert.Equal(EapResultKind.Failure, (await hostile.ProcessAsync(big, default)).Kind);

        // The next user's login still goes to r1, the server that answers.
        using var next = factory.Create(new ConnectionConfig { Name = "rw" }, new AuthConfig(), Peer)!;
        Assert.Equal(EapResultKind.Continue, (await next.StartAsync(Identity.Parse("alice"), Identity.Parse("alice"), default)).Kind);
        Assert.Equal(2, r1.Received.Count);
        Assert.Empty(r2.Received);
    }

    [Fact]
    public async Task Known_eap_id_is_sent_straight_away_and_reject_is_failure()
    {
        using var server = new FakeRadiusServer(Secret, (req, _) =>
            [FakeRadiusServer.Respond(req, Secret, RadiusCode.AccessReject, b => b.Eap = [4, 0, 0, 4])]);
        var (client, _) = Client(server.Options("r1"));
        using var _c = client;
        using var session = new RadiusEapSessionFactory(client, new RadiusLogins("n"), NullLogger.Instance)
            .Create(new ConnectionConfig { Name = "rw" }, new AuthConfig(), Peer)!;
        var result = await session.StartAsync(Identity.Parse("bob"), Identity.Parse("bob"), default);
        Assert.Equal(EapResultKind.Failure, result.Kind);
        Assert.Equal(new byte[] { 4, 0, 0, 4 }, result.Message);
        RadiusPacket.TryParse(Assert.Single(server.Received), out var p);
        var eap = RadiusAttribute.ReassembleEap(p)!;
        Assert.Equal((byte)2, eap[0]);
        Assert.Equal((byte)1, eap[4]);
        Assert.Equal("bob", Encoding.ASCII.GetString(eap[5..]));
    }

    [Fact]
    public async Task Unanswered_request_is_retransmitted_with_the_same_bytes_and_backoff()
    {
        using var server = new FakeRadiusServer(Secret, (req, i) => i < 2 ? [] : [FakeRadiusServer.Respond(req, Secret, RadiusCode.AccessReject)]);
        var (client, metrics) = Client(server.Options("r1", tries: 3, timeout: 0.15, backoff: 2.0));
        using var _c = client;
        var sw = Stopwatch.StartNew();
        var response = await client.SendAsync(Request(), null, default);
        Assert.NotNull(response);
        Assert.Equal(RadiusCode.AccessReject, response.Code);
        var sent = server.Received.ToArray();
        Assert.Equal(3, sent.Length);
        Assert.Equal(sent[0], sent[1]);
        Assert.Equal(sent[0], sent[2]);
        // Waits of 0.15 s and 0.30 s passed before the third transmission.
        Assert.InRange(sw.Elapsed.TotalSeconds, 0.44, 5);
        Assert.Equal(0, metrics.TimeoutCount("r1", "auth"));
    }

    [Fact]
    public async Task Silent_server_fails_over_to_the_next_and_later_requests_start_there()
    {
        using var silent = new FakeRadiusServer(Secret, (_, _) => []);
        using var good = new FakeRadiusServer(Secret, (req, _) => [FakeRadiusServer.Respond(req, Secret, RadiusCode.AccessReject)]);
        var (client, metrics) = Client(silent.Options("r1", tries: 2, timeout: 0.1), good.Options("r2"));
        using var _c = client;
        var response = await client.SendAsync(Request(), null, default);
        Assert.Equal("r2", response?.Server.Name);
        Assert.Equal(2, silent.Received.Count);
        Assert.Equal(1, metrics.TimeoutCount("r1", "auth"));
        var again = await client.SendAsync(Request(), null, default);
        Assert.Equal("r2", again?.Server.Name);
        Assert.Equal(2, silent.Received.Count);
        Assert.Equal(2, good.Received.Count);
    }

    [Fact]
    public async Task No_server_answering_returns_null_within_the_retransmission_budget()
    {
        using var a = new FakeRadiusServer(Secret, (_, _) => []);
        using var b = new FakeRadiusServer(Secret, (_, _) => []);
        var (client, metrics) = Client(a.Options("r1", tries: 2, timeout: 0.1), b.Options("r2", tries: 2, timeout: 0.1));
        using var _c = client;
        var sw = Stopwatch.StartNew();
        Assert.Null(await client.SendAsync(Request(), null, default));
        Assert.InRange(sw.Elapsed.TotalSeconds, 0.39, 3);
        Assert.Equal(1, metrics.TimeoutCount("r1", "auth"));
        Assert.Equal(1, metrics.TimeoutCount("r2", "auth"));
    }

    [Fact]
    public async Task Hostile_responses_are_counted_and_dropped_and_the_genuine_one_is_taken()
    {
        using var server = new FakeRadiusServer(Secret, (req, _) =>
        {
            var good = FakeRadiusServer.Respond(req, Secret, RadiusCode.AccessAccept, b => b.Eap = [3, 1, 0, 4]);
            var badAuth = (byte[])good.Clone();
            badAuth[5] ^= 0xff;
            var badMac = FakeRadiusServer.Respond(req, "wrong"u8.ToArray(), RadiusCode.AccessAccept, b => b.Eap = [3, 1, 0, 4]);
            // Right Response Authenticator over a wrong Message-Authenticator: sign the MAC with another secret, the header with ours.
            badMac = Resign(badMac, req);
            var noMac = FakeRadiusServer.Respond(req, Secret, RadiusCode.AccessAccept, b => b.Eap = [3, 1, 0, 4], withMac: false);
            var wrongId = FakeRadiusServer.Respond(req, Secret, RadiusCode.AccessAccept, identifier: (byte)(req[1] + 1));
            var truncated = good[..^3];
            var oversized = (byte[])good.Clone();
            oversized[21] = 250; // the first attribute's Length runs past the packet
            var wrongCode = FakeRadiusServer.Respond(req, Secret, RadiusCode.AccountingResponse);
            return [badAuth, badMac, noMac, wrongId, truncated, oversized, wrongCode, good];
        });
        var (client, metrics) = Client(server.Options("r1", tries: 1, timeout: 2));
        using var _c = client;
        var response = await client.SendAsync(Request(), null, default);
        Assert.NotNull(response);
        Assert.Equal(RadiusCode.AccessAccept, response.Code);
        Assert.Equal(1, metrics.DroppedCount(RadiusDropReason.BadAuthenticator));
        Assert.Equal(2, metrics.DroppedCount(RadiusDropReason.BadMessageAuthenticator));
        Assert.Equal(1, metrics.DroppedCount(RadiusDropReason.UnknownId));
        Assert.Equal(2, metrics.DroppedCount(RadiusDropReason.Malformed));
        Assert.Equal(1, metrics.DroppedCount(RadiusDropReason.UnexpectedCode));
    }

    [Fact]
    public async Task Datagram_from_another_port_than_the_server_is_dropped()
    {
        using var server = new FakeRadiusServer(Secret, (_, _) => []);
        var (client, metrics) = Client(server.Options("r1", tries: 1, timeout: 1));
        using var _c = client;
        var pending = client.SendAsync(Request(), null, default);
        for (int i = 0; i < 50 && server.Received.IsEmpty; i++) await Task.Delay(10);
        var req = Assert.Single(server.Received);
        var reply = FakeRadiusServer.Respond(req, Secret, RadiusCode.AccessReject);
        var socket = client.Servers[0].Socket(false);
        Assert.Equal(RadiusDropReason.Source, socket.Accept(reply, new IPEndPoint(IPAddress.Loopback, server.Port + 1)));
        Assert.Equal(RadiusDropReason.Source, socket.Accept(reply, new IPEndPoint(IPAddress.Parse("127.0.0.2"), server.Port)));
        Assert.Null(socket.Accept(reply, new IPEndPoint(IPAddress.Loopback, server.Port)));
        Assert.Equal(RadiusCode.AccessReject, (await pending)?.Code);
        _ = metrics;
    }

    [Fact]
    public async Task At_most_256_requests_are_outstanding_on_one_socket()
    {
        int maxSeen = 0;
        RadiusClient? client = null;
        using var server = new FakeRadiusServer(Secret, (req, _) =>
        {
            maxSeen = Math.Max(maxSeen, client!.Servers[0].Socket(false).Outstanding);
            return [FakeRadiusServer.Respond(req, Secret, RadiusCode.AccessReject)];
        });
        (client, _) = Client(server.Options("r1", tries: 3, timeout: 2));
        using var _c = client;
        var all = Enumerable.Range(0, 600).Select(_ => client.SendAsync(Request(), null, default)).ToArray();
        var responses = await Task.WhenAll(all).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.All(responses, r => Assert.Equal(RadiusCode.AccessReject, r?.Code));
        Assert.InRange(maxSeen, 1, 256);
    }

    private static string CheckFirstRequest(byte[] r1)
    {
        Assert.True(RequestMacValid(r1));
        RadiusPacket.TryParse(r1, out var p1);
        Assert.True(p1.TryFind(RadiusAttributeType.UserName, out var user));
        Assert.Equal("alice", Encoding.UTF8.GetString(user));
        Assert.False(p1.TryFind(RadiusAttributeType.State, out _));
        Assert.True(p1.TryFind(RadiusAttributeType.NasPortType, out var portType));
        Assert.Equal(new byte[] { 0, 0, 0, 5 }, portType.ToArray());
        Assert.True(p1.TryFind(RadiusAttributeType.ServiceType, out var service));
        Assert.Equal(new byte[] { 0, 0, 0, 2 }, service.ToArray());
        Assert.True(p1.TryFind(RadiusAttributeType.NasIpAddress, out var nasIp));
        Assert.Equal(new byte[] { 192, 0, 2, 1 }, nasIp.ToArray());
        Assert.True(p1.TryFind(RadiusAttributeType.CalledStationId, out var called));
        Assert.Equal("192.0.2.1[4500]", Encoding.ASCII.GetString(called));
        Assert.True(p1.TryFind(RadiusAttributeType.CallingStationId, out var calling));
        Assert.Equal("198.51.100.7[61000]", Encoding.ASCII.GetString(calling));
        Assert.True(p1.TryFind(RadiusAttributeType.NasIdentifier, out var nasId));
        Assert.Equal("strongSwan", Encoding.ASCII.GetString(nasId));
        Assert.True(p1.TryFind(RadiusAttributeType.AcctSessionId, out var sid));
        string sessionId = Encoding.ASCII.GetString(sid);
        return sessionId;
    }

    private static string? StateOf(byte[] request)
    {
        Assert.True(RequestMacValid(request));
        RadiusPacket.TryParse(request, out var p);
        return p.TryFind(RadiusAttributeType.State, out var state) ? Encoding.ASCII.GetString(state) : null;
    }

    private static byte[] Resign(byte[] response, byte[] request)
    {
        var copy = (byte[])response.Clone();
        RadiusAuthenticator.SignResponse(copy, request.AsSpan(4, 16), Secret);
        return copy;
    }

    private static byte[] Mppe(byte type, byte[] key, byte[] request)
    {
        byte[] salt = [0x80, type];
        var encrypted = MsMppeKey.Encrypt(key, salt, request.AsSpan(4, 16), Secret);
        var value = new byte[8 + encrypted.Length];
        value[2] = 0x01;
        value[3] = 0x37;
        value[4] = type;
        value[5] = (byte)(4 + encrypted.Length);
        salt.CopyTo(value, 6);
        encrypted.CopyTo(value, 8);
        return value;
    }
}
