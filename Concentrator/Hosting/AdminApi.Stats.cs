using System.Diagnostics;
using Akka.Actor;
using Concentrator.Actors;
using Concentrator.Telemetry;

namespace Concentrator.Hosting;

/// <summary>swanctl --stats for this node, from what the gateway knows already (never a secret, never a peer's address).</summary>
/// <param name="ListenAddresses">Each listen address with its IKE and NAT-T ports, as bound.</param>
/// <param name="DataPlane">"tun DEVICE" for the Linux plane, else "none" (IKE only).</param>
/// <param name="ClusterMembers">The members this node sees Up (itself included); 0 without a cluster.</param>
public sealed record StatsView(string Version, string Runtime, DateTime StartedUtc, long UptimeSeconds, int IkeSas, int HalfOpen, int ChildSas,
    int Workers, int Threads, long ManagedHeapBytes, long RssBytes, IReadOnlyList<string> ListenAddresses, string DataPlane, int ClusterMembers);

public static partial class AdminApi
{
    public static async Task<StatsView> StatsOf(Gateway gateway)
    {
        var supervisor = gateway.Supervisor;
        int ikeSas = await supervisor.Ask<int>(new GetSaCount(), TimeSpan.FromSeconds(5));
        int halfOpen = await supervisor.Ask<int>(IkeSaSupervisor.GetHalfOpenCount.Instance, TimeSpan.FromSeconds(5));
        using var process = Process.GetCurrentProcess();
        var started = process.StartTime.ToUniversalTime();
        var plane = gateway.Options.DataPlane;
        var linux = plane as DataPlane.Linux.LinuxDataPlane;
        int members = gateway.ClusterNode is { } node ? (node.SelfUp ? 1 : 0) + node.OtherMembersUp : 0;
        return new StatsView(BuildInfo.InformationalVersion, BuildInfo.Runtime, started, (long)(DateTime.UtcNow - started).TotalSeconds, ikeSas, halfOpen,
            plane.InstalledCount, linux?.Workers ?? 0, process.Threads.Count, GC.GetTotalMemory(forceFullCollection: false), process.WorkingSet64,
            gateway.Transports.Select(t => $"{t.IkeEndpoint} (NAT-T {t.NattPort})").ToList(), linux is null ? "none" : $"tun {linux.Device}", members);
    }

    private static async Task<IResult> StatsAsync(Gateway gateway) =>
        Results.Text(System.Text.Json.JsonSerializer.Serialize(await StatsOf(gateway), AdminJson.Default.StatsView), "application/json");
}
