using System.Diagnostics;
using Concentrator.Testbed.Interop;
using Xunit.Abstractions;

namespace Concentrator.Tests.Interop;

/// <summary>
/// Issue 14, finding 7, as a real client meets it: strongSwan set up as an EAP client (what Windows and iOS are when
/// configured for EAP) sends IKE_AUTH with IDi and no AUTH (RFC 7296 §2.16). No connection here offers EAP, so the
/// concentrator answers AUTHENTICATION_FAILED at once; it used to stop the SA's actor on a null dereference, log two
/// stack traces and leave the client retransmitting until it gave up.
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
}
