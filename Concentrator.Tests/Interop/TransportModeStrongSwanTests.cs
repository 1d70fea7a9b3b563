using Concentrator.Testbed.Interop;
using Xunit.Abstractions;

namespace Concentrator.Tests.Interop;

/// <summary>
/// USE_TRANSPORT_MODE negotiated with stock strongSwan (RFC 7296 §1.3.1), host to host between the outer addresses. The
/// testbed's charon uses kernel-libipsec, whose ipsec_sa_create refuses every mode but tunnel ("IPsec SA: unsupported
/// mode"), so a transport-mode SA never carries traffic on strongSwan's side: what these tests prove is the exchange.
/// strongSwan asks for transport (we answer transport only when asked: our log 4642) and accepts our transport answer
/// (its libipsec is then asked to install one); it answers tunnel to a transport request of ours when its child says
/// tunnel, which we accept, and it accepts tunnel when it asked transport of our tunnel child, as strongSwan's
/// child_create does. (kernel-libipsec's faked NAT detection forces ESP-in-UDP; no real NAT, so transport is allowed.)
/// </summary>
[Collection(InteropCollection.Name)]
[Trait("Category", "Root")]
public sealed class TransportModeStrongSwanTests(ITestOutputHelper output)
{
    private const string Ike = "aes256gcm16-prfsha256-ecp256";
    private const string Esp = "aes256gcm16";
    private const int TransportModeEvent = 4642;
    private const string LibipsecRefusal = "unsupported mode";

    /// <summary>kernel-libipsec refuses a tunnel-mode policy covering the peer's own address ("conflicts with IKE
    /// traffic") unless allowed: the tunnel fallbacks here are host to host.</summary>
    private const string AllowPeerTs = "plugins {\n  kernel-libipsec {\n    allow_peer_ts = yes\n  }\n}";

    private static string SwanConf(NamespaceTestbed bed, string remoteAddrs, bool transport)
    {
        var conf = SwanctlConf.Connection("gw", bed.PeerOuter, remoteAddrs, SwanctlConf.PeerId, SwanctlConf.GatewayId, Ike, "net",
            bed.PeerOuter + "/32", NamespaceTestbed.GatewayOuter + "/32", Esp);
        string line = "esp_proposals = " + Esp;
        Assert.Contains(line, conf);
        return transport ? conf.Replace(line, line + "\n                mode = transport") : conf;
    }

    private static string OurConf(NamespaceTestbed bed, bool initiator, string mode) => initiator
        ? ConcentratorYaml.Connection(NamespaceTestbed.GatewayOuter, bed.PeerOuter, SwanctlConf.GatewayId, SwanctlConf.PeerId, Ike, Esp,
            NamespaceTestbed.GatewayOuter + "/32", bed.PeerOuter + "/32", startAction: "start", name: "site", mode: mode)
        : ConcentratorYaml.Connection(NamespaceTestbed.GatewayOuter, "%any", SwanctlConf.GatewayId, SwanctlConf.PeerId, Ike, Esp,
            NamespaceTestbed.GatewayOuter + "/32", bed.PeerOuter + "/32", mode: mode);

    /// <summary>strongSwan initiates with mode = transport against our responder in <paramref name="ourMode"/>.</summary>
    [Theory(Timeout = 90_000)]
    [InlineData("transport")]
    [InlineData("tunnel")]
    [Trait("Category", "Root")]
    public async Task StrongSwan_initiator_asking_transport_Root(string ourMode)
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 60);
        var bed = scope.Bed;
        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer", extraSettings: AllowPeerTs));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics());
        await peer.LoadAsync(SwanConf(bed, NamespaceTestbed.GatewayOuter, transport: true));
        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"), OurConf(bed, initiator: false, ourMode),
            scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics());

        var init = await peer.InitiateAsync("gw", "net", timeoutSeconds: 15);
        scope.Log("swanctl --initiate: " + (init.Ok ? "ok" : "failed"));
        var request = Line(peer.Log(), "generating IKE_AUTH request");
        scope.Log("strongSwan: " + request);
        Assert.Contains("N(USE_TRANSP)", request);
        Assert.True(await gateway.WaitForEventAsync(ConcentratorProcess.ChildSaInstalled, scope.Remaining(TimeSpan.FromSeconds(10))),
            "the concentrator did not install the child (1003)");
        if (ourMode == "transport")
        {
            // We answer transport only to a request that carried USE_TRANSPORT_MODE; strongSwan accepted it and asked
            // its libipsec for a transport-mode SA, which libipsec refuses.
            Assert.True(await gateway.WaitForEventAsync(TransportModeEvent, scope.Remaining(TimeSpan.FromSeconds(5))),
                "the concentrator did not install a transport-mode child (4642): strongSwan did not ask for transport");
            Assert.True(await EventuallyAsync(() => peer.Log().Contains(LibipsecRefusal), scope.Remaining(TimeSpan.FromSeconds(10))),
                "strongSwan did not try to install the transport-mode SA we agreed");
        }
        else
        {
            // Our tunnel answer: strongSwan's initiator accepts tunnel mode and installs it.
            var onPeer = await peer.WaitInstalledAsync("gw", "net", scope.Remaining(TimeSpan.FromSeconds(10)));
            Assert.True(onPeer is not null, "strongSwan did not install the tunnel-mode child we answered");
            scope.Log("peer: " + onPeer!.Value.Child);
            Assert.Equal("TUNNEL", onPeer.Value.Child.Get("mode"));
            Assert.Empty(gateway.EventsWithId(TransportModeEvent));
            Assert.DoesNotContain(LibipsecRefusal, peer.Log());
        }
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }

    /// <summary>Our initiator asks for transport; strongSwan's responder child says <paramref name="swanMode"/>.</summary>
    [Theory(Timeout = 90_000)]
    [InlineData("transport")]
    [InlineData("tunnel")]
    [Trait("Category", "Root")]
    public async Task Concentrator_initiator_asking_transport_Root(string swanMode)
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 60);
        var bed = scope.Bed;
        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer", extraSettings: AllowPeerTs));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics());
        await peer.LoadAsync(SwanConf(bed, "%any", transport: swanMode == "transport"));
        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"), OurConf(bed, initiator: true, "transport"),
            scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics());

        Assert.True(await EventuallyAsync(() => Line(peer.Log(), "generating IKE_AUTH response") is not null, scope.Remaining(TimeSpan.FromSeconds(20))),
            "strongSwan did not answer IKE_AUTH");
        var request = Line(peer.Log(), "parsed IKE_AUTH request")!;
        var response = Line(peer.Log(), "generating IKE_AUTH response")!;
        scope.Log("strongSwan: " + request + "\nstrongSwan: " + response);
        Assert.Contains("N(USE_TRANSP)", request);
        if (swanMode == "transport")
        {
            // strongSwan took our USE_TRANSPORT_MODE: its libipsec is asked for a transport-mode SA and refuses it, so
            // strongSwan answers IKE_AUTH without the child and we install none.
            Assert.True(await EventuallyAsync(() => peer.Log().Contains(LibipsecRefusal), scope.Remaining(TimeSpan.FromSeconds(10))),
                "strongSwan did not try to install a transport-mode SA: it did not take our USE_TRANSPORT_MODE");
            await Task.Delay(1000);
            Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ChildSaInstalled));
        }
        else
        {
            // strongSwan's tunnel child answers with the child in tunnel mode (SA, no notify) and installs it. That our
            // initiator accepts it is TransportModeTests' (in process): here kernel-libipsec's route for our address
            // (allow_peer_ts) takes its own IKE_AUTH response into its tunnel, so the answer never reaches us.
            Assert.Contains(" SA ", response);
            Assert.DoesNotContain("USE_TRANSP", response);
            Assert.Contains("CHILD_SA net{1} established", peer.Log());
            Assert.DoesNotContain(LibipsecRefusal, peer.Log());
            Assert.Empty(gateway.EventsWithId(TransportModeEvent));
        }
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }

    /// <summary>The first line of charon's log containing <paramref name="text"/>, or null.</summary>
    private static string? Line(string log, string text) =>
        log.Split('\n').FirstOrDefault(l => l.Contains(text, StringComparison.Ordinal));

    private static async Task<bool> EventuallyAsync(Func<bool> condition, TimeSpan timeout)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (condition()) return true;
            await Task.Delay(200);
        }
        return condition();
    }
}
