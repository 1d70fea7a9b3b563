using System.Net;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.Fuzz;
using Concentrator.Hosting;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Sa.V1;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;
using Concentrator.Telemetry;
using Prometheus;

namespace Concentrator.Tests.Telemetry;

/// <summary>
/// The <c>version</c> label of the IKE SA families: an IKEv1 main mode between two <see cref="IkeV1Sa"/> objects counts
/// under version="1" only (the IKEv2 path's version="2" is asserted in MetricsEndpointTests), and the label set stays
/// bounded: every family is pre-created with exactly the two versions.
/// </summary>
public sealed class IkeVersionLabelTests
{
    private static readonly IPEndPoint I = new(IPAddress.Parse("192.0.2.1"), 500);
    private static readonly IPEndPoint R = new(IPAddress.Parse("192.0.2.2"), 500);

    private static async Task<MetricsText> Scrape(ConcentratorMetrics metrics)
    {
        using var stream = new MemoryStream();
        await metrics.Registry.CollectAndExportAsTextAsync(stream);
        return new MetricsText(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }

    [Fact]
    public async Task An_ikev1_main_mode_counts_under_version_1_and_leaves_the_gauge_when_disposed()
    {
        var iConfig = ConcentratorConfig.Parse(IkeV1SaTarget.Yaml(IkeV1SaTarget.Suites[0], true), "<i>");
        var rConfig = ConcentratorConfig.Parse(IkeV1SaTarget.Yaml(IkeV1SaTarget.Suites[0], false), "<r>");
        var iMetrics = new ConcentratorMetrics();
        var rMetrics = new ConcentratorMetrics();
        using var initiator = IkeV1Sa.CreateInitiator(new IkeSaContext
        {
            Resolver = new ConfigConnectionResolver(iConfig), DataPlane = new InMemoryDataPlane(), Metrics = iMetrics,
        }, iConfig.Connections["site"], 0x0102030405060708, I, R);
        var responder = IkeV1Sa.CreateResponder(new IkeSaContext
        {
            Resolver = new ConfigConnectionResolver(rConfig), DataPlane = new InMemoryDataPlane(), Metrics = rMetrics,
        }, 0x0102030405060708, 0x1112131415161718, R, I, natT: false);

        var m = await Scrape(rMetrics);
        Assert.Equal(1, m.Sum("concentrator_ike_sas", ("state", "created"), ("version", "1")));

        initiator.Initiate();
        var queue = new Queue<(bool ToResponder, byte[] Datagram)>();
        void Take(IkeV1Sa from, bool toResponder)
        {
            foreach (var e in from.DrainEffects()) if (e is SendMessage send) queue.Enqueue((toResponder, send.Datagram));
        }

        Take(initiator, true);
        for (int k = 0; k < 10 && queue.Count > 0; k++)
        {
            var (toResponder, datagram) = queue.Dequeue();
            Assert.Equal(ParseStatus.Ok, IsakmpHeader.TryParse(datagram, out var header));
            var target = toResponder ? responder : initiator;
            target.HandleDatagram(new V1Inbound(datagram, header, toResponder ? I : R, toResponder ? R : I, false));
            Take(target, !toResponder);
        }

        Assert.Equal(V1Phase1State.Established, responder.State);
        m = await Scrape(rMetrics);
        Assert.Equal(1, m.Sum("concentrator_ike_sas", ("state", "established"), ("version", "1")));
        Assert.Equal(0, m.Sum("concentrator_ike_sas", ("version", "2")));
        Assert.Equal(1, m.Sum("concentrator_ike_negotiations_started_total", ("role", "responder"), ("version", "1")));
        Assert.Equal(1, m.Sum("concentrator_ike_negotiations_succeeded_total", ("role", "responder"), ("version", "1")));
        Assert.Equal(1, m.Sum("concentrator_ike_sa_setup_duration_seconds_count", ("role", "responder"), ("version", "1")));
        Assert.Equal(0, m.Sum("concentrator_ike_negotiations_succeeded_total", ("version", "2")));
        var i = await Scrape(iMetrics);
        Assert.Equal(1, i.Sum("concentrator_ike_negotiations_succeeded_total", ("role", "initiator"), ("version", "1")));

        responder.Dispose();
        m = await Scrape(rMetrics);
        Assert.Equal(0, m.Sum("concentrator_ike_sas", ("version", "1")));
    }

    [Fact]
    public async Task Every_ike_sa_family_carries_exactly_the_two_versions()
    {
        var m = await Scrape(new ConcentratorMetrics());
        foreach (var family in new[]
                 {
                     "concentrator_ike_sas", "concentrator_ike_negotiations_started_total", "concentrator_ike_negotiations_succeeded_total",
                     "concentrator_ike_negotiations_failed_total", "concentrator_ike_sa_setup_duration_seconds_count",
                 })
        {
            var versions = System.Text.RegularExpressions.Regex.Matches(m.Text, $@"^{family}\{{[^}}]*version=""([^""]*)""", System.Text.RegularExpressions.RegexOptions.Multiline)
                .Select(x => x.Groups[1].Value).Distinct().Order().ToArray();
            Assert.Equal(["1", "2"], versions);
        }
    }
}
