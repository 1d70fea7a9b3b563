using System.Net;
using Concentrator.Hosting;
using Concentrator.Ike.Admission;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;
using Concentrator.Telemetry;
using Concentrator.Tests.Support;
using Concentrator.Tests.Telemetry;

namespace Concentrator.Tests.Hosting;

/// <summary>
/// The one IKE ingress every receive loop feeds: the header-length check, charon.max_packet, the header parsed once and
/// the InitGate, each refusal counted in the node's metrics, and what reaches the supervisor.
/// </summary>
public sealed class IkeIngressTests
{
    private static readonly IPEndPoint Remote = new(IPAddress.Parse("198.51.100.7"), 4500);
    private static readonly IPEndPoint Local = new(IPAddress.Parse("192.0.2.1"), 4500);

    private readonly ConcentratorMetrics _metrics = new();
    private readonly TellRecorder _supervisor = new();

    private IkeIngress Ingress(int maxPacket = 10000, int initLimit = 100) => new(_supervisor, new InitGate(initLimit), _metrics, maxPacket);

    private async Task<MetricsText> Scrape() => new(await MetricsEndpointTests.ExportAsync(_metrics.Registry));

    [Fact]
    public async Task Shorter_than_an_ike_header_is_counted_malformed_and_goes_no_further()
    {
        var ingress = Ingress();
        ingress.Deliver(new byte[ProtocolConstants.IkeHeaderLength - 1], Remote, Local, viaNatT: true);
        Assert.Empty(_supervisor.Messages);
        var m = await Scrape();
        Assert.Equal(1, m.Sum("concentrator_ike_malformed_messages_total", ("reason", "truncated")));
        Assert.Equal(1, m.Sum("concentrator_ike_messages_dropped_total", ("reason", "malformed")));

        ingress.Deliver(Packets.IkeOfLength(ProtocolConstants.IkeHeaderLength), Remote, Local, viaNatT: false);
        Assert.Single(_supervisor.Of<IkeInbound>());
    }

    [Fact]
    public async Task A_header_that_does_not_parse_is_counted_malformed_by_reason_and_goes_no_further()
    {
        var ingress = Ingress();
        var badVersion = Packets.IkeOfLength(40);
        badVersion[17] = 0x30; // major version 3 (1 is IKEv1, routed to its own path)
        ingress.Deliver(badVersion, Remote, Local, viaNatT: false);
        var badLength = Packets.IkeOfLength(40);
        ingress.Deliver(badLength.AsSpan(0, 36), Remote, Local, viaNatT: false);
        Assert.Empty(_supervisor.Messages);
        var m = await Scrape();
        Assert.Equal(1, m.Sum("concentrator_ike_malformed_messages_total", ("reason", "bad_version")));
        Assert.Equal(1, m.Sum("concentrator_ike_malformed_messages_total", ("reason", "bad_length")));
    }

    [Fact]
    public async Task Max_packet_refuses_larger_datagrams_as_a_resource_limit()
    {
        var ingress = Ingress(maxPacket: 1500);
        ingress.Deliver(Packets.IkeOfLength(1501), Remote, Local, viaNatT: false);
        ingress.Deliver(Packets.IkeOfLength(1500), Remote, Local, viaNatT: false);
        Assert.Equal([1500], _supervisor.Of<IkeInbound>().Select(m => m.Datagram.Length));
        Assert.Equal(1, _metrics.Limits.Count(ResourceLimit.MaxPacket));
        Assert.Equal(1, (await Scrape()).Sum("concentrator_ike_messages_dropped_total", ("reason", "resource_limit")));
    }

    [Fact]
    public async Task New_ike_sa_init_requests_beyond_the_init_gate_are_dropped_and_counted()
    {
        var gate = new InitGate(1);
        var ingress = new IkeIngress(_supervisor, gate, _metrics, 10000);
        byte[] init = IkeCodec.Encode(new IkeHeader(0x1122334455667788, 0, PayloadType.None, 2, 0, ExchangeType.IkeSaInit, IkeFlags.Initiator, 0, 0), []);
        ingress.Deliver(init, Remote, Local, viaNatT: false);
        ingress.Deliver(init, Remote, Local, viaNatT: false);
        Assert.Single(_supervisor.Of<IkeInbound>());
        Assert.Equal(1, (await Scrape()).Sum("concentrator_ike_messages_dropped_total", ("reason", "init_queue_full")));

        gate.Leave(); // the supervisor took the first out of its mailbox
        ingress.Deliver(init, Remote, Local, viaNatT: false);
        Assert.Equal(2, _supervisor.Of<IkeInbound>().Count);
    }

    [Fact]
    public void The_supervisor_gets_a_copy_with_both_endpoints_and_the_path()
    {
        byte[] buffer = Packets.IkeOfLength(40);
        buffer[39] = 0x5A;
        Ingress().Deliver(buffer, Remote, Local, viaNatT: true);
        buffer[39] = 0; // the receive loop reuses its buffer

        var inbound = Assert.Single(_supervisor.Of<IkeInbound>());
        Assert.Equal(0x5A, inbound.Datagram[39]);
        Assert.Equal(40, inbound.Datagram.Length);
        Assert.Equal((0x1122334455667788UL, ExchangeType.Informational, 1u), (inbound.Header.InitiatorSpi, inbound.Header.Exchange, inbound.Header.MessageId));
        Assert.Equal((Remote, Local, true), (inbound.Remote, inbound.Local, inbound.ViaNatT));
    }
}
