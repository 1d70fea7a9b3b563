using System.Diagnostics;
using Concentrator.Testbed.Interop;
using Xunit.Abstractions;

namespace Concentrator.Tests.Interop;

/// <summary>
/// An EAP client whose method the gateway does not offer is refused at once, as a real client meets it: strongSwan set
/// up as an EAP client (what Windows and iOS are when configured for EAP) sends IKE_AUTH with IDi and no AUTH (RFC 7296
/// §2.16). Against a gateway whose connections take no EAP peer it gets AUTHENTICATION_FAILED (issue 14, finding 7: this
/// used to stop the SA's actor on a null dereference); against one that serves EAP-MSCHAPv2 only, an EAP-MD5 client
/// answers the MSCHAPv2 request with a Nak and gets EAP-Failure (issue 16). Either way no SA stays and it is counted.
/// </summary>
[Collection(InteropCollection.Name)]
[Trait("Category", "Root")]
public sealed class EapClientInteropTests(ITestOutputHelper output)
{
    [Fact(Timeout = 90_000)]
    [Trait("Category", "Root")]
    public async Task An_eap_client_is_answered_AUTHENTICATION_FAILED_at_once_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output);
        var bed = scope.Bed;
        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer"));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics());
        // IDi and no AUTH in IKE_AUTH: charon's EAP client round (eap-mschapv2), as Windows and iOS start.
        await peer.LoadAsync(SwanctlConf.Connections(SwanctlConf.ConnectionBlock("gw", bed.PeerOuter, NamespaceTestbed.GatewayOuter,
                "aes256gcm16-prfsha256-ecp256", $"auth = eap-mschapv2\neap_id = user\nid = {SwanctlConf.PeerId}",
                $"auth = psk\nid = {SwanctlConf.GatewayId}", "net", NamespaceTestbed.PeerInner + "/32", NamespaceTestbed.LanSubnet, "aes256gcm16"))
            + SwanctlConf.PskSecret("gw", SwanctlConf.PeerId, SwanctlConf.GatewayId));
        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"),
            ConcentratorYaml.Connection(NamespaceTestbed.GatewayOuter, "%any", SwanctlConf.GatewayId, SwanctlConf.PeerId,
                "aes256gcm16-prfsha256-ecp256", "aes256gcm16", NamespaceTestbed.LanSubnet, NamespaceTestbed.PeerInnerSubnet),
            scope.Remaining(TimeSpan.FromSeconds(25)), logLevel: "information"));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics());

        var clock = Stopwatch.StartNew();
        var initiate = await peer.InitiateAsync("gw", "net", timeoutSeconds: 15);
        var took = clock.Elapsed;
        scope.Log($"EAP client: exit {initiate.ExitCode} after {took.TotalMilliseconds:0} ms");

        Assert.False(initiate.Ok, "an EAP client got a tunnel from a PSK-only gateway");
        Assert.Contains("AUTHENTICATION_FAILED", peer.Log());
        // The harness's strongSwan retransmits after 1 s: an answer to the first IKE_AUTH arrives well before that.
        Assert.True(took < TimeSpan.FromSeconds(1), $"the refusal took {took.TotalMilliseconds:0} ms");
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        Assert.False(gateway.HasExited);
        scope.Passed();
    }

    [Fact(Timeout = 90_000)]
    [Trait("Category", "Root")]
    public async Task An_eap_md5_client_against_an_eap_mschapv2_gateway_gets_EAP_failure_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output);
        var bed = scope.Bed;
        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer",
            extraSettings: StrongSwan.EapSettings("eap-identity eap-md5")));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics());
        await peer.LoadAsync(SwanctlConf.Connections(SwanctlConf.ConnectionBlock("gw", bed.PeerOuter, NamespaceTestbed.GatewayOuter,
                "aes256gcm16-prfsha256-ecp256", $"auth = eap-md5\neap_id = alice\nid = {SwanctlConf.PeerId}",
                $"auth = psk\nid = {SwanctlConf.GatewayId}", "net", NamespaceTestbed.PeerInner + "/32", NamespaceTestbed.LanSubnet, "aes256gcm16"))
            + SwanctlConf.PskSecret("gw", SwanctlConf.PeerId, SwanctlConf.GatewayId)
            + "secrets {\n  eap-alice {\n    id = alice\n    secret = alice-password\n  }\n}\n");
        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"), $$"""
            listen: { addresses: [{{NamespaceTestbed.GatewayOuter}}], ike_port: 500, natt_port: 4500 }
            http: { listen: "127.0.0.1:9400" }
            connections:
              rw:
                proposals: [aes256gcm16-prfsha256-ecp256]
                local: { auth: psk, id: {{SwanctlConf.GatewayId}} }
                remote: { auth: eap-mschapv2, eap_id: "%any" }
                children:
                  net: { local_ts: [{{NamespaceTestbed.LanSubnet}}], remote_ts: [{{NamespaceTestbed.PeerInnerSubnet}}], esp_proposals: [aes256gcm16] }
            secrets:
              ike-gw: { id: [{{SwanctlConf.GatewayId}}, {{SwanctlConf.PeerId}}], secret: "{{SwanctlConf.Psk}}" }
              eap-alice: { id: alice, secret: alice-password }
            """, scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics());

        var initiate = await peer.InitiateAsync("gw", "net", timeoutSeconds: 15);
        Assert.False(initiate.Ok, "an EAP-MD5 client got a tunnel from an EAP-MSCHAPv2 gateway");
        var log = peer.Log();
        Assert.Contains("server requested EAP_MSCHAPV2", log);
        Assert.Contains("received EAP_FAILURE", log);
        Assert.Equal(1, await GatewayMetrics.WaitAtLeastAsync(bed.Gateway, 1, scope.Remaining(TimeSpan.FromSeconds(5)),
            "concentrator_ike_auth_failures_total", "reason=\"eap_failed\""));
        Assert.Contains(gateway.EventsWithId(1011), e => e.Message.Contains("Nak"));
        Assert.Equal(0, await GatewayMetrics.ReadAsync(bed.Gateway, "concentrator_users_online"));
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }
}
