using Concentrator.Testbed.Interop;
using Xunit.Abstractions;

namespace Concentrator.Tests.Interop;

/// <summary>
/// IKEv1 main mode with a pre-shared key (RFC 2409 §5) against stock strongSwan (<c>version = 1</c>), NAT-T with
/// <c>encap = yes</c> (RFC 3947: charon fakes its NAT-D, both ends float to UDP 4500 from message 5), in both roles.
/// Phase 1 only: quick mode is asserted by its own tests, so charon's CHILD_SA is not waited for here.
/// </summary>
[Collection(InteropCollection.Name)]
[Trait("Category", "Root")]
public sealed class IkeV1MainModeInteropTests(ITestOutputHelper output)
{
    private const string Ike = "aes256-sha256-modp2048";
    private const string Esp = "aes256-sha256";
    private const int V1Established = 5101;

    private static string V1(string swanctlConf) => swanctlConf.Replace("version = 2", "version = 1", StringComparison.Ordinal);

    private static string V1Yaml(string yaml) => yaml.Replace("version: 2", "version: 1", StringComparison.Ordinal);

    /// <summary>Polls charon's list-sas (bounded) for an ESTABLISHED IKE SA of <paramref name="name"/>.</summary>
    private static async Task<IkeSaInfo?> WaitEstablishedAsync(StrongSwan swan, string name, TimeSpan timeout)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        do
        {
            var sa = (await swan.ListSasAsync()).FirstOrDefault(s => s.Name == name && s.State == "ESTABLISHED");
            if (sa is not null) return sa;
            await Task.Delay(250);
        }
        while (clock.Elapsed < timeout);
        return null;
    }

    [Fact(Timeout = 120_000)]
    [Trait("Category", "Root")]
    public async Task StrongSwan_initiates_ikev1_main_mode_with_psk_and_encap_and_phase_1_establishes_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 90);
        var bed = scope.Bed;

        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"),
            V1Yaml(ConcentratorYaml.Connection(NamespaceTestbed.GatewayOuter, "%any", SwanctlConf.GatewayId, SwanctlConf.PeerId, Ike, Esp,
                NamespaceTestbed.LanSubnet, NamespaceTestbed.PeerInnerSubnet, name: "peer")),
            scope.Remaining(TimeSpan.FromSeconds(30))));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics());

        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer"));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics());
        await peer.LoadAsync(V1(SwanctlConf.Connection("gw", bed.PeerOuter, NamespaceTestbed.GatewayOuter, SwanctlConf.PeerId, SwanctlConf.GatewayId,
            Ike, "net", NamespaceTestbed.PeerInnerSubnet, NamespaceTestbed.LanSubnet, Esp, encap: true)));

        // The CHILD_SA (quick mode) is not this test's: the initiation runs in the background and is not awaited.
        var initiation = peer.InitiateAsync("gw", "net", timeoutSeconds: 15);
        var sa = await WaitEstablishedAsync(peer, "gw", scope.Remaining(TimeSpan.FromSeconds(30)));
        Assert.True(sa is not null, "charon (initiator): no ESTABLISHED IKEv1 SA");
        scope.Log($"peer: {sa}");
        Assert.Equal("1", sa!.Get("version")); // vici list-sas: the IKE version number
        Assert.Equal("yes", sa.Get("initiator"));
        Assert.Equal("4500", sa.Get("remote-port"));
        Assert.Equal(SwanctlConf.GatewayId, sa.Get("remote-id"));

        Assert.True(await gateway.WaitForEventAsync(V1Established, scope.Remaining(TimeSpan.FromSeconds(10))),
            "the concentrator did not log IKEv1 SA established (5101)");
        var up = Assert.Single(gateway.EventsWithId(V1Established)).Message;
        scope.Log($"gateway: {up}");
        Assert.Contains(SwanctlConf.PeerId, up);
        Assert.Contains("responder", up);
        Assert.Contains("Rfc3947", up);
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        await initiation.WaitAsync(scope.Remaining(TimeSpan.FromSeconds(25))).ContinueWith(_ => { });
        scope.Passed();
    }

    [Fact(Timeout = 120_000)]
    [Trait("Category", "Root")]
    public async Task Concentrator_initiates_ikev1_main_mode_to_strongswan_and_phase_1_establishes_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 90);
        var bed = scope.Bed;

        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer"));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics());
        await peer.LoadAsync(V1(SwanctlConf.Connection("gw", bed.PeerOuter, "%any", SwanctlConf.PeerId, SwanctlConf.GatewayId,
            Ike, "net", NamespaceTestbed.PeerInnerSubnet, NamespaceTestbed.LanSubnet, Esp, encap: true)));

        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"),
            V1Yaml(ConcentratorYaml.Connection(NamespaceTestbed.GatewayOuter, bed.PeerOuter, SwanctlConf.GatewayId, SwanctlConf.PeerId, Ike, Esp,
                NamespaceTestbed.LanSubnet, NamespaceTestbed.PeerInnerSubnet, startAction: "start", name: "site")),
            scope.Remaining(TimeSpan.FromSeconds(30))));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics());

        var sa = await WaitEstablishedAsync(peer, "gw", scope.Remaining(TimeSpan.FromSeconds(30)));
        Assert.True(sa is not null, "charon (responder): no ESTABLISHED IKEv1 SA");
        scope.Log($"peer: {sa}");
        Assert.Equal("1", sa!.Get("version")); // vici list-sas: the IKE version number
        Assert.NotEqual("yes", sa.Get("initiator"));
        Assert.Equal("4500", sa.Get("remote-port"));
        Assert.Equal(SwanctlConf.GatewayId, sa.Get("remote-id"));

        Assert.True(await gateway.WaitForEventAsync(V1Established, scope.Remaining(TimeSpan.FromSeconds(10))),
            "the concentrator did not log IKEv1 SA established (5101)");
        Assert.Contains("initiator", Assert.Single(gateway.EventsWithId(V1Established)).Message);
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }
}
