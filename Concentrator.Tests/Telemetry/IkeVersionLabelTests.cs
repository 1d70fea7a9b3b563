using Concentrator.Fuzz;
using Concentrator.Ike.Sa.V1;
using Concentrator.Telemetry;
using Concentrator.Tests.Ike.Sa.V1;
using Prometheus;

namespace Concentrator.Tests.Telemetry;

/// <summary>
/// The <c>version</c> label of the IKE SA families: an IKEv1 main mode between two <see cref="IkeV1Sa"/> objects counts
/// under version="1" only (the IKEv2 path's version="2" is asserted in MetricsEndpointTests), and the label set stays
/// bounded: every family is pre-created with exactly the two versions.
/// </summary>
public sealed class IkeVersionLabelTests
{
    private static async Task<MetricsText> Scrape(ConcentratorMetrics metrics)
    {
        using var stream = new MemoryStream();
        await metrics.Registry.CollectAndExportAsTextAsync(stream);
        return new MetricsText(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }

    [Fact]
    public async Task An_ikev1_main_mode_counts_under_version_1_and_leaves_the_gauge_when_disposed()
    {
        var (i, r) = V1PairHarness.Create(IkeV1SaTarget.Yaml(IkeV1SaTarget.Suites[0], true), IkeV1SaTarget.Yaml(IkeV1SaTarget.Suites[0], false));
        using var initiator = i.Sa;
        var m = await Scrape(r.Metrics);
        Assert.Equal(1, m.Sum("concentrator_ike_sas", ("state", "created"), ("version", "1")));

        i.Sa.Initiate();
        V1PairHarness.Pump(i, r);
        Assert.Equal(V1Phase1State.Established, r.Sa.State);
        m = await Scrape(r.Metrics);
        Assert.Equal(1, m.Sum("concentrator_ike_sas", ("state", "established"), ("version", "1")));
        Assert.Equal(0, m.Sum("concentrator_ike_sas", ("version", "2")));
        Assert.Equal(1, m.Sum("concentrator_ike_negotiations_started_total", ("role", "responder"), ("version", "1")));
        Assert.Equal(1, m.Sum("concentrator_ike_negotiations_succeeded_total", ("role", "responder"), ("version", "1")));
        Assert.Equal(1, m.Sum("concentrator_ike_sa_setup_duration_seconds_count", ("role", "responder"), ("version", "1")));
        Assert.Equal(0, m.Sum("concentrator_ike_negotiations_succeeded_total", ("version", "2")));
        Assert.Equal(1, (await Scrape(i.Metrics)).Sum("concentrator_ike_negotiations_succeeded_total", ("role", "initiator"), ("version", "1")));

        r.Sa.Dispose();
        Assert.Equal(0, (await Scrape(r.Metrics)).Sum("concentrator_ike_sas", ("version", "1")));
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
