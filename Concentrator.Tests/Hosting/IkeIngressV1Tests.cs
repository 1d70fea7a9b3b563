using System.Net;
using Concentrator.Hosting;
using Concentrator.Ike.Admission;
using Concentrator.Ike.Wire;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;
using Concentrator.Telemetry;
using Concentrator.Tests.Support;
using Concentrator.Tests.Telemetry;

namespace Concentrator.Tests.Hosting;

/// <summary>
/// The demux of IKEv1 and IKEv2 on the shared ports: the header's major version decides (RFC 2408 §3.1, RFC 7296 §3.1),
/// IKEv1 goes to the supervisor as <see cref="V1Inbound"/>, a first main mode message passes the same InitGate, and an
/// ISAKMP header that does not parse is counted and goes no further.
/// </summary>
public sealed class IkeIngressV1Tests
{
    private static readonly IPEndPoint Remote = new(IPAddress.Parse("198.51.100.7"), 500);
    private static readonly IPEndPoint Local = new(IPAddress.Parse("192.0.2.1"), 500);

    private readonly ConcentratorMetrics _metrics = new();
    private readonly TellRecorder _supervisor = new();

    internal static byte[] MainMode1(ulong cookieI = 0x1111, ulong cookieR = 0, uint messageId = 0)
    {
        var sa = new V1SaPayload([new V1Proposal(1, V1ProtocolId.Isakmp, [],
            [new V1Transform(1, 1, [DataAttribute.OfBasic(1, 7), DataAttribute.OfBasic(14, 256), DataAttribute.OfBasic(2, 4), DataAttribute.OfBasic(4, 14), DataAttribute.OfBasic(3, 1)])])]);
        return IsakmpCodec.Encode(new IsakmpHeader(cookieI, cookieR, V1PayloadType.None, 1, 0, V1ExchangeType.IdentityProtection, V1Flags.None, messageId, 0), [sa]);
    }

    [Fact]
    public void Major_version_1_goes_to_the_v1_path_and_2_to_the_v2_path()
    {
        var ingress = new IkeIngress(_supervisor, new InitGate(100), _metrics, 10000);
        ingress.Deliver(MainMode1(), Remote, Local, viaNatT: false);
        ingress.Deliver(Packets.IkeOfLength(40), Remote, Local, viaNatT: false);

        var v1 = Assert.Single(_supervisor.Of<V1Inbound>());
        Assert.Equal(V1ExchangeType.IdentityProtection, v1.Header.Exchange);
        Assert.Equal(0x1111UL, v1.Header.InitiatorCookie);
        Assert.Single(_supervisor.Of<IkeInbound>());
    }

    [Fact]
    public async Task A_v1_header_that_does_not_parse_is_counted_and_goes_no_further()
    {
        var ingress = new IkeIngress(_supervisor, new InitGate(100), _metrics, 10000);
        var badFlags = MainMode1();
        badFlags[19] = 0x80;
        var zeroCookie = MainMode1(cookieI: 0);
        var lying = MainMode1();
        lying[27] ^= 1;
        foreach (var bad in new[] { badFlags, zeroCookie, lying }) ingress.Deliver(bad, Remote, Local, viaNatT: false);

        Assert.Empty(_supervisor.Messages);
        var m = new MetricsText(await MetricsEndpointTests.ExportAsync(_metrics.Registry));
        Assert.Equal(2, m.Sum("concentrator_ike_malformed_messages_total", ("reason", "invalid_syntax")));
        Assert.Equal(1, m.Sum("concentrator_ike_malformed_messages_total", ("reason", "bad_length")));
    }

    [Fact]
    public async Task First_main_mode_messages_beyond_the_init_gate_are_dropped_and_later_messages_pass()
    {
        var ingress = new IkeIngress(_supervisor, new InitGate(2), _metrics, 10000);
        for (int k = 0; k < 5; k++) ingress.Deliver(MainMode1(cookieI: 0x100UL + (ulong)k), Remote, Local, viaNatT: false);
        // Not first messages (a responder cookie): they bypass the gate.
        for (int k = 0; k < 3; k++) ingress.Deliver(MainMode1(cookieI: 0x200UL + (ulong)k, cookieR: 0x77), Remote, Local, viaNatT: false);

        Assert.Equal(5, _supervisor.Of<V1Inbound>().Count);
        var m = new MetricsText(await MetricsEndpointTests.ExportAsync(_metrics.Registry));
        Assert.Equal(3, m.Sum("concentrator_ike_messages_dropped_total", ("reason", "init_queue_full")));
    }
}
