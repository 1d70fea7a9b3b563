using Concentrator.Testbed.Interop;

namespace Concentrator.Tests.Interop;


/// <summary>
/// The setup shared by the hostile-input Root tests: a strongSwan initiator in the peer namespace and a concentrator
/// responder in the gateway namespace with one aes256gcm16 tunnel installed, and the storm script they send from.
/// </summary>
internal static class HostileInputTunnel
{
    public static string StormScript => Path.Combine(AppContext.BaseDirectory, "Interop", "Scripts", "malformed_storm.py");

    /// <summary>Starts both ends (<paramref name="adjustYaml"/> edits the concentrator's config) and brings the tunnel up.</summary>
    public static async Task<(StrongSwan Peer, ConcentratorProcess Gateway)> UpAsync(InteropScope scope, Func<string, string> adjustYaml)
    {
        var bed = scope.Bed;
        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer"));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics());
        await peer.LoadAsync(SwanctlConf.Connection("gw", bed.PeerOuter, NamespaceTestbed.GatewayOuter, SwanctlConf.PeerId, SwanctlConf.GatewayId,
            "aes256gcm16-prfsha256-ecp256", "net", NamespaceTestbed.PeerInner + "/32", NamespaceTestbed.LanSubnet, "aes256gcm16"));
        var yaml = adjustYaml(ConcentratorYaml.Connection(NamespaceTestbed.GatewayOuter, "%any", SwanctlConf.GatewayId, SwanctlConf.PeerId,
            "aes256gcm16-prfsha256-ecp256", "aes256gcm16", NamespaceTestbed.LanSubnet, NamespaceTestbed.PeerInnerSubnet));
        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"), yaml,
            scope.Remaining(TimeSpan.FromSeconds(25)), logLevel: "information"));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics());

        Assert.True((await peer.InitiateAsync("gw", "net", timeoutSeconds: 20)).Ok, "the tunnel did not come up");
        Assert.NotNull(await peer.WaitInstalledAsync("gw", "net", scope.Remaining(TimeSpan.FromSeconds(10))));
        return (peer, gateway);
    }
}
