using Concentrator.Ipsec;
using Concentrator.Telemetry;

namespace Concentrator.Tests.Telemetry;

public sealed class DataPlaneMetricsTests
{
    [Fact]
    public void A_prepared_workers_first_publish_allocates_nothing_on_its_packet_thread()
    {
        var metrics = new ConcentratorMetrics().DataPlane;
        var counters = new WorkerBatchCounters { PacketsIn = 3, BytesIn = 300 };
        counters.CountDrop(EspStatus.NoSa);

        // Unprepared, a worker's series (its label children) is created by its first publish: kilobytes on the packet path.
        long before = GC.GetAllocatedBytesForCurrentThread();
        metrics.Publish(5, in counters);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before > 1024, "the first publish of an unprepared worker creates its series");

        metrics.Prepare(3);
        metrics.Publish(1, in counters); // warm the code path of a prepared series once
        before = GC.GetAllocatedBytesForCurrentThread();
        metrics.Publish(2, in counters);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
