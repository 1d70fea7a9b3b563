using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Concentrator.Actors;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.Hosting;
using Concentrator.Ike.Admission;
using Concentrator.Ike.Sa;
using Concentrator.Testbed.Interop;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Support;
using Concentrator.Tests.Telemetry;

namespace Concentrator.Tests.Ike.Sa;

/// <summary>
/// IKE fragments through a whole gateway on loopback (ingress, supervisor, SA actor): a peer that finishes IKE_SA_INIT and
/// leaves its fragmented IKE_AUTH incomplete holds fragment memory only until half_open_timeout ends its SA; then the
/// node's reassembly gauge is back to 0 and a late fragment finds nothing to join.
/// </summary>
public sealed class FragmentGatewayTests
{
    [Fact]
    public async Task An_incomplete_fragmented_IKE_AUTH_holds_memory_only_until_its_half_open_SA_expires()
    {
        var admission = new AdmissionOptions
        {
            CookieThreshold = int.MaxValue, CookieThresholdIp = int.MaxValue, HalfOpenTimeout = TimeSpan.FromSeconds(2),
        };
        await using var gw = TestGateway.Start(TestGateway.ResponderYaml(remoteTs: "10.200.0.0/16, \"2001:db8:1::/48\""), admission, name: "frag");
        using var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var local = (IPEndPoint)udp.Client.LocalEndPoint!;

        // The client: an IkeSa of our own whose IKE_AUTH (24 IPv6 prefixes) leaves as fragments of at most 576-octet datagrams.
        var prefixes = string.Join(", ", Enumerable.Range(1, 24).Select(i => $"\"2001:db8:1:{i:x}::/64\""));
        var config = ConcentratorConfig.Parse(TestGateway.InitiatorYaml(localTs: $"10.200.1.0/24, {prefixes}")
            .Replace("  site:\n", "  site:\n    fragmentation: force\n"), "<client>");
        var context = new IkeSaContext
        {
            Resolver = new ConfigConnectionResolver(config), DataPlane = new InMemoryDataPlane(),
            Tunables = IkeTunables.Default with { FragmentSizeV4 = 576 },
        };
        using var client = IkeSa.CreateInitiator(context, config.Connections["site"], 0x0123_4567_89ab_cdef, local, gw.Endpoint);
        client.Initiate();
        await SendAsync(udp, client, gw.Endpoint);
        var initResponse = await udp.ReceiveAsync().WaitAsync(TimeSpan.FromSeconds(10));
        client.HandleDatagram(initResponse.Buffer, gw.Endpoint, local, viaNatT: false);
        var auth = Sent(client);
        Assert.True(auth.Count >= 3, $"{auth.Count} datagrams of IKE_AUTH; the test wants fragments");

        foreach (var fragment in auth.Take(auth.Count - 1)) await udp.SendAsync(fragment, gw.Endpoint);
        await Eventually.TrueAsync(async () => await SumAsync(gw, "concentrator_ike_fragments_received_total") == auth.Count - 1,
            "the gateway verified every fragment sent", 10);
        double held = await SumAsync(gw, "concentrator_ike_fragment_reassembly_bytes");
        // The pieces of the fragments sent and the first fragment's datagram, kept to recognise a retransmission.
        Assert.InRange(held, 1, auth.Take(auth.Count - 1).Sum(a => a.Length) + auth[0].Length);
        Assert.Equal(1, await HalfOpenAsync(gw));

        await Eventually.TrueAsync(async () => await HalfOpenAsync(gw) == 0, "half_open_timeout ended the SA", 15);
        await Eventually.TrueAsync(async () => await SumAsync(gw, "concentrator_ike_fragment_reassembly_bytes") == 0,
            "the SA's fragment octets were given back", 5);

        // The last fragment after the SA is gone: nothing to join, nothing held, no SA made.
        await udp.SendAsync(auth[^1], gw.Endpoint);
        await Task.Delay(300);
        Assert.Equal(auth.Count - 1, await SumAsync(gw, "concentrator_ike_fragments_received_total"));
        Assert.Equal(0, await SumAsync(gw, "concentrator_ike_fragment_reassembly_bytes"));
        Assert.Equal(0, await gw.Gateway.CountSasAsync());
    }

    private static List<byte[]> Sent(IkeSa sa) => sa.DrainEffects().OfType<SendMessage>().Select(s => s.Datagram).ToList();

    private static async Task SendAsync(UdpClient udp, IkeSa sa, IPEndPoint to)
    {
        foreach (var datagram in Sent(sa)) await udp.SendAsync(datagram, to);
    }

    private static async Task<double> SumAsync(TestGateway gw, string name) =>
        GatewayMetrics.Sum(await MetricsEndpointTests.ExportAsync(gw.Gateway.Metrics.Registry), name);

    private static Task<int> HalfOpenAsync(TestGateway gw) =>
        gw.Gateway.Supervisor.Ask<int>(IkeSaSupervisor.GetHalfOpenCount.Instance, TimeSpan.FromSeconds(10));
}
