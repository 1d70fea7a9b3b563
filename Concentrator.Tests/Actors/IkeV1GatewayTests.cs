using System.Net;
using System.Net.Sockets;
using Concentrator.Ike.Admission;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Hosting;
using Concentrator.Tests.Support;
using Concentrator.Tests.Telemetry;

namespace Concentrator.Tests.Actors;

/// <summary>
/// IKEv1 through the whole host: two gateways over loopback UDP (demux, supervisor, <c>IkeV1SaActor</c>), and a
/// responder fed raw first messages: half-open state bounded by the same limit as IKEv2's, answered again from the
/// cache when repeated, expired by half_open_timeout; a message for an unknown cookie counted and dropped.
/// </summary>
public sealed class IkeV1GatewayTests
{
    private static string V1(string yaml) => yaml.Replace("    proposals:", "    version: 1\n    proposals:", StringComparison.Ordinal);

    private static string Responder(string psk = "test-shared-key-0123456789") =>
        V1(TestGateway.ResponderYaml(proposals: "aes256-sha256-modp2048", esp: "aes256-sha256", psk: psk));

    private static async Task<double> MetricAsync(TestGateway gw, string family, params (string, string)[] labels) =>
        new MetricsText(await MetricsEndpointTests.ExportAsync(gw.Gateway.Metrics.Registry)).Sum(family, labels);

    [Fact]
    public async Task Our_initiator_and_responder_establish_phase_1_through_the_actors()
    {
        await using var responder = TestGateway.Start(Responder(), name: "resp");
        await using var initiator = TestGateway.Start(V1(TestGateway.InitiatorYaml(proposals: "aes256-sha256-modp2048", esp: "aes256-sha256")), name: "init");

        initiator.Initiate("site", responder.Endpoint);
        await Eventually.TrueAsync(() => initiator.Events.Up.Count == 1 && responder.Events.Up.Count == 1, "both ends established phase 1");

        Assert.Equal("rw", responder.Events.Up.Single().Connection);
        Assert.False(responder.Events.Up.Single().Initiator);
        Assert.Contains("AES_CBC_256", initiator.Events.Up.Single().Summary.Proposal);
        Assert.Empty(initiator.Events.Down);
        await Eventually.TrueAsync(async () => await MetricAsync(responder, "concentrator_ike_half_open_sas") == 0, "no half-open SA left");
    }

    [Fact]
    public async Task A_wrong_key_fails_the_responder_and_establishes_nothing()
    {
        await using var responder = TestGateway.Start(Responder(psk: "the-responders-key-000000"), name: "resp");
        await using var initiator = TestGateway.Start(V1(TestGateway.InitiatorYaml(proposals: "aes256-sha256-modp2048", psk: "the-initiators-key-11111")),
            name: "init");

        initiator.Initiate("site", responder.Endpoint);
        await Eventually.TrueAsync(() => responder.Events.Down.Count == 1 && initiator.Events.Down.Count == 1, "both ends gave up");
        Assert.Equal(CloseReason.AuthFailed, responder.Events.Down.Single().Reason);
        Assert.Equal(CloseReason.Timeout, initiator.Events.Down.Single().Reason);
        Assert.Empty(responder.Events.Up);
        Assert.Empty(initiator.Events.Up);
    }

    [Fact]
    public async Task First_messages_make_bounded_half_open_state_answered_from_cache_and_expiring()
    {
        var admission = new AdmissionOptions { MaxHalfOpen = 2, HalfOpenTimeout = TimeSpan.FromSeconds(2), BlockThreshold = 100 };
        await using var responder = TestGateway.Start(Responder(), admission, name: "resp");
        using var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));

        byte[] first = IkeIngressV1Tests.MainMode1(cookieI: 0x5001);
        await udp.SendAsync(first, responder.Endpoint);
        var reply = await ReceiveAsync(udp);
        await udp.SendAsync(first, responder.Endpoint);
        Assert.Equal(reply, await ReceiveAsync(udp));
        IsakmpHeader.TryParse(reply, out var header);
        Assert.Equal(0x5001UL, header.InitiatorCookie);
        Assert.NotEqual(0UL, header.ResponderCookie);
        await Eventually.TrueAsync(async () => await MetricAsync(responder, "concentrator_ike_half_open_sas") == 1, "one half-open SA for two copies");

        for (ulong k = 0; k < 4; k++) await udp.SendAsync(IkeIngressV1Tests.MainMode1(cookieI: 0x6000 + k), responder.Endpoint);
        await Eventually.TrueAsync(async () => await MetricAsync(responder, "concentrator_ike_messages_dropped_total", ("reason", "half_open_limit")) == 3,
            "three first messages over the half-open limit dropped");
        Assert.Equal(2, await MetricAsync(responder, "concentrator_ike_half_open_sas"));

        // A later message for a cookie nobody holds.
        await udp.SendAsync(IkeIngressV1Tests.MainMode1(cookieI: 0x7777, cookieR: 0x8888), responder.Endpoint);
        await Eventually.TrueAsync(async () => await MetricAsync(responder, "concentrator_ike_messages_dropped_total", ("reason", "unknown_spi")) == 1,
            "the unknown cookie pair counted");

        await Eventually.TrueAsync(async () => await MetricAsync(responder, "concentrator_ike_half_open_sas") == 0, "half-open SAs expired", 10);
        Assert.Empty(responder.Events.Up);
    }

    private static async Task<byte[]> ReceiveAsync(UdpClient udp)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        return (await udp.ReceiveAsync(cts.Token)).Buffer;
    }
}
