using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Concentrator.Telemetry;
using Concentrator.Tests.Support;
using Concentrator.Tests.Telemetry;
using Concentrator.Transport;

namespace Concentrator.Tests.Transport;

/// <summary>
/// What the UDP sockets do with a datagram: IKE from either port to the sink (marker stripped on 4500), keepalives
/// dropped, ESP without a data plane counted; and, with a NAT-T port owned elsewhere, sending through its owner.
/// </summary>
public sealed class UdpIkeTransportTests
{
    private sealed class Sink : IIkeDatagramSink
    {
        public ConcurrentQueue<(byte[] Datagram, IPEndPoint Remote, IPEndPoint Local, bool ViaNatT)> Received { get; } = new();

        public void Deliver(ReadOnlySpan<byte> datagram, IPEndPoint remote, IPEndPoint local, bool viaNatT) =>
            Received.Enqueue((datagram.ToArray(), remote, local, viaNatT));
    }

    private sealed class NattOwner : INattPortSender
    {
        public ConcurrentQueue<(byte[] Datagram, IPEndPoint Remote)> Sent { get; } = new();

        public int NattPort => 45000;

        public void SendFromNattPort(ReadOnlySpan<byte> datagram, IPEndPoint remote) => Sent.Enqueue((datagram.ToArray(), remote));
    }

    [Fact]
    public async Task Ike_from_both_ports_reaches_the_sink_and_other_datagrams_on_4500_do_not()
    {
        var metrics = new ConcentratorMetrics();
        var sink = new Sink();
        using var transport = new UdpIkeTransport(IPAddress.Loopback, 0, 0, sink, metrics);
        transport.Start();
        using var client = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var natt = new IPEndPoint(IPAddress.Loopback, transport.NattPort);

        await client.SendAsync(new byte[] { 1, 2, 3 }, transport.IkeEndpoint);   // port 500: IKE whatever it holds
        await client.SendAsync(new byte[] { 0xFF }, natt);                      // keepalive
        await client.SendAsync(new byte[] { 0, 0, 0, 1, 0, 0, 0, 1 }, natt);    // ESP, SPI 1
        await client.SendAsync(new byte[] { 0, 0, 0, 0, 7, 8 }, natt);          // IKE behind the non-ESP marker
        await Eventually.TrueAsync(() => sink.Received.Count == 2, "both IKE datagrams arrived");
        await Task.Delay(100);

        var received = sink.Received.OrderBy(r => r.ViaNatT).ToList();
        Assert.Equal(2, received.Count);
        Assert.Equal([1, 2, 3], received[0].Datagram);
        Assert.Equal((false, transport.IkePort), (received[0].ViaNatT, received[0].Local.Port));
        Assert.Equal([7, 8], received[1].Datagram);
        Assert.Equal((true, transport.NattPort), (received[1].ViaNatT, received[1].Local.Port));
        Assert.All(received, r => Assert.Equal(client.Client.LocalEndPoint, r.Remote));
        var m = new MetricsText(await MetricsEndpointTests.ExportAsync(metrics.Registry));
        Assert.Equal(1, m.Sum("concentrator_ike_messages_dropped_total", ("reason", "esp_without_data_plane")));
        Assert.Equal(1, m.Sum("concentrator_ike_messages_dropped_total"));
    }

    [Fact]
    public void A_nat_t_port_owned_elsewhere_is_not_bound_and_sends_go_through_its_owner()
    {
        var owner = new NattOwner();
        using var transport = new UdpIkeTransport(IPAddress.Loopback, 0, 0, new Sink(), nattPortOwner: owner);
        var peer = new IPEndPoint(IPAddress.Loopback, 4500);
        Assert.Equal(owner.NattPort, transport.NattPort);
        Assert.Equal(owner.NattPort, transport.LocalEndpointFor(peer, natT: true).Port);

        transport.Send([9, 9], peer, natT: true);
        transport.SendNatKeepalive(peer);

        var sent = owner.Sent.ToArray();
        Assert.Equal(2, sent.Length);
        Assert.Equal([0, 0, 0, 0, 9, 9], sent[0].Datagram); // the non-ESP marker in front of IKE
        Assert.Equal([0xFF], sent[1].Datagram);
        Assert.All(sent, s => Assert.Equal(peer, s.Remote));
    }
}
