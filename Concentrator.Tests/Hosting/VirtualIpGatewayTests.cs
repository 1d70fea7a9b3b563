using System.Net;
using Concentrator.Cli;
using Concentrator.Hosting;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Support;
using Concentrator.Tests.Telemetry;

namespace Concentrator.Tests.Hosting;

/// <summary>
/// Two gateways over loopback: a responder with a pool and our own initiator asking for a virtual IP (<c>vips</c>, so a
/// branch gateway can sit behind a hub). Both ends show the address in <c>sas</c>; the responder counts the lease per pool.
/// </summary>
public sealed class VirtualIpGatewayTests
{
    private const string Hub = """
        listen: { addresses: [127.0.0.1], ike_port: 0, natt_port: 0 }
        pools:
          branches: { addrs: 10.40.0.16-10.40.0.31, dns: 10.10.0.53 }
        connections:
          hub:
            proposals: [aes256gcm16-prfsha256-ecp256]
            pools: [branches]
            local: { auth: psk, id: hub.test }
            remote: { auth: psk, id: "*.branch.test" }
            children:
              lan: { local_ts: [10.10.0.0/16], remote_ts: [dynamic], esp_proposals: [aes256gcm16] }
        secrets:
          hub: { secret: "branch-shared-key-0123456789" }
        """;

    private const string Branch = """
        listen: { addresses: [127.0.0.1], ike_port: 0, natt_port: 0 }
        connections:
          uplink:
            remote_addrs: [127.0.0.1]
            proposals: [aes256gcm16-prfsha256-ecp256]
            vips: [0.0.0.0]
            local: { auth: psk, id: one.branch.test }
            remote: { auth: psk, id: hub.test }
            children:
              net: { local_ts: [dynamic], remote_ts: [10.10.0.0/16], esp_proposals: [aes256gcm16] }
        secrets:
          branch: { secret: "branch-shared-key-0123456789" }
        """;

    [Fact(Timeout = 60_000)]
    public async Task A_branch_gateway_gets_a_virtual_ip_from_the_hub_and_both_show_it_in_sas()
    {
        await using var hub = TestGateway.Start(Hub, name: "hub");
        await using var branch = TestGateway.Start(Branch, name: "branch");
        branch.Initiate("uplink", hub.Endpoint);
        await Eventually.TrueAsync(() => hub.DataPlane.InstalledCount == 1 && branch.DataPlane.InstalledCount == 1, "the tunnel is installed at both ends");

        var up = Assert.Single(branch.Events.Up);
        Assert.Equal([IPAddress.Parse("10.40.0.16")], up.VirtualIps!);

        var onHub = Assert.Single(await AdminApi.ListAsync(hub.Gateway));
        Assert.Equal(["10.40.0.16"], onHub.VirtualIps!);
        Assert.Equal(["10.40.0.16"], Assert.Single(onHub.Children).RemoteTs);
        Assert.Contains("  remote virtual IP 10.40.0.16\n", AdminCommands.Render([onHub]).ReplaceLineEndings("\n"));

        var onBranch = Assert.Single(await AdminApi.ListAsync(branch.Gateway));
        Assert.Equal(["10.40.0.16"], onBranch.VirtualIps!);
        Assert.Equal(["10.40.0.16"], Assert.Single(onBranch.Children).LocalTs);
        Assert.Contains("  local virtual IP 10.40.0.16\n", AdminCommands.Render([onBranch]).ReplaceLineEndings("\n"));

        var metrics = await MetricsAsync(hub);
        Assert.Equal(16, metrics.Sum("concentrator_pool_addresses", ("pool", "branches")));
        Assert.Equal(1, metrics.Sum("concentrator_pool_leases_in_use", ("pool", "branches")));
        Assert.Equal(15, metrics.Sum("concentrator_pool_addresses_free", ("pool", "branches")));

        // The branch goes: its lease goes offline, kept for it.
        await branch.Gateway.ShutdownAsync(TimeSpan.FromSeconds(10));
        await Eventually.TrueAsync(async () =>
        {
            var m = await MetricsAsync(hub);
            return m.Sum("concentrator_pool_leases_in_use", ("pool", "branches")) == 0 && m.Sum("concentrator_pool_leases_offline", ("pool", "branches")) == 1;
        }, "the lease went offline with the branch's IKE SA");
    }

    private static async Task<MetricsText> MetricsAsync(TestGateway gateway)
    {
        using var stream = new MemoryStream();
        await gateway.Gateway.Metrics.Registry.CollectAndExportAsTextAsync(stream);
        return new MetricsText(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }
}
