using Concentrator.Testbed.Interop;
using Xunit.Abstractions;

namespace Concentrator.Tests.Interop;


/// <summary>
/// strongSwan (peer namespace, libipsec, encap = yes) initiates to the built concentrator running as a
/// process in the gateway namespace. Asserts the control plane on both sides (swanctl shows the IKE SA
/// ESTABLISHED with the child INSTALLED, the concentrator logs 1001 IKE SA established and 1003 Child SA
/// installed with SPIs matching charon's), then traffic through the concentrator's TUN data plane, then
/// that its SIGTERM deletes the SAs with the peer.
/// </summary>
[Collection(InteropCollection.Name)]
[Trait("Category", "Root")]
public sealed class ConcentratorInteropTests(ITestOutputHelper output)
{
    private const int WeakAlgorithmsEnabled = 4102;

    [Fact(Timeout = 90_000)]
    [Trait("Category", "Root")]
    public Task StrongSwan_initiator_to_Concentrator_responder_ike_Root() =>
        InitiatorToResponder(
            charonIke: "aes256gcm16-prfsha256-ecp256", charonEsp: "aes256gcm16",
            concentratorIke: "aes256gcm16-prfsha256-ecp256", concentratorEsp: "aes256gcm16",
            expectIke: ("AES_GCM_16", "256", "ECP_256"), expectEsp: "AES_GCM_16");

    [Fact(Timeout = 90_000)]
    [Trait("Category", "Root")]
    public Task StrongSwan_initiator_to_Concentrator_responder_default_proposals_Root() =>
        InitiatorToResponder(
            charonIke: "default", charonEsp: "default",
            concentratorIke: "default", concentratorEsp: "default",
            expectIke: null, expectEsp: null);

    [Fact(Timeout = 90_000)]
    [Trait("Category", "Root")]
    public Task StrongSwan_initiator_to_Concentrator_responder_modp2048_cbc_Root() =>
        InitiatorToResponder(
            charonIke: "aes256-sha256-modp2048", charonEsp: "aes256-sha256",
            concentratorIke: "aes256-sha256-modp2048", concentratorEsp: "aes256-sha256",
            expectIke: ("AES_CBC", "256", "MODP_2048"), expectEsp: "AES_CBC");

    /// <summary>IKE with curve25519 (group 31), ESP with ChaCha20-Poly1305 (RFC 7634), ping through the TUN data plane.</summary>
    [Fact(Timeout = 90_000)]
    [Trait("Category", "Root")]
    public Task StrongSwan_initiator_to_Concentrator_responder_curve25519_chacha20poly1305_Root() =>
        InitiatorToResponder(
            charonIke: "aes128gcm16-prfsha256-curve25519", charonEsp: "chacha20poly1305",
            concentratorIke: "aes128gcm16-prfsha256-curve25519", concentratorEsp: "chacha20poly1305",
            expectIke: ("AES_GCM_16", "128", "CURVE_25519"), expectEsp: "CHACHA20_POLY1305");

    /// <summary>
    /// A real NAT (masquerading router namespace) between strongSwan and the concentrator: the concentrator
    /// logs NAT, and the peer's ESP reaches the gateway as UDP 4500 from the router's address.
    /// </summary>
    [Fact(Timeout = 90_000)]
    [Trait("Category", "Root")]
    public Task StrongSwan_initiator_behind_nat_to_Concentrator_responder_Root() =>
        InitiatorToResponder(
            charonIke: "aes256gcm16-prfsha256-ecp256", charonEsp: "aes256gcm16",
            concentratorIke: "aes256gcm16-prfsha256-ecp256", concentratorEsp: "aes256gcm16",
            expectIke: ("AES_GCM_16", "256", "ECP_256"), expectEsp: "AES_GCM_16", withNatRouter: true);

    /// <summary>
    /// A legacy peer (issue 8 item 3): IKE 3des-sha1-modp1024 and ESP 3des-sha1 (charon's openssl plugin) against a
    /// connection with weak_algorithms: yes, which the concentrator warns about at start (4102); tunnel up, ping through it.
    /// </summary>
    [Fact(Timeout = 90_000)]
    [Trait("Category", "Root")]
    public Task StrongSwan_initiator_to_Concentrator_responder_weak_3des_sha1_modp1024_Root() =>
        InitiatorToResponder(
            charonIke: "3des-sha1-modp1024", charonEsp: "3des-sha1",
            concentratorIke: "3des-sha1-modp1024", concentratorEsp: "3des-sha1",
            expectIke: ("3DES_CBC", "", "MODP_1024"), expectEsp: "3DES_CBC", weakAlgorithms: true);

    /// <summary>The same legacy peer against strongSwan's "default" list (which names 3des and sha1) without the opt-in: refused.</summary>
    [Fact(Timeout = 90_000)]
    [Trait("Category", "Root")]
    public Task StrongSwan_weak_initiator_to_Concentrator_default_proposals_is_refused_Root() =>
        Refused(charonIke: "3des-sha1-modp1024", concentratorIke: "default",
            charonPsk: SwanctlConf.Psk, expectedInCharonLog: "received NO_PROPOSAL_CHOSEN notify error");

    /// <summary>No common IKE proposal: the concentrator answers IKE_SA_INIT with NO_PROPOSAL_CHOSEN.</summary>
    [Fact(Timeout = 90_000)]
    [Trait("Category", "Root")]
    public Task StrongSwan_initiator_to_Concentrator_proposal_mismatch_Root() =>
        Refused(charonIke: "aes128gcm16-prfsha256-modp3072", concentratorIke: "aes256gcm16-prfsha256-ecp256",
            charonPsk: SwanctlConf.Psk, expectedInCharonLog: "received NO_PROPOSAL_CHOSEN notify error");

    /// <summary>Different PSKs: the concentrator answers IKE_AUTH with AUTHENTICATION_FAILED.</summary>
    [Fact(Timeout = 90_000)]
    [Trait("Category", "Root")]
    public Task StrongSwan_initiator_to_Concentrator_wrong_psk_Root() =>
        Refused(charonIke: "aes256gcm16-prfsha256-ecp256", concentratorIke: "aes256gcm16-prfsha256-ecp256",
            charonPsk: "not-the-gateways-psk-0123456789", expectedInCharonLog: "received AUTHENTICATION_FAILED notify error");

    private async Task Refused(string charonIke, string concentratorIke, string charonPsk, string expectedInCharonLog)
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output);
        var bed = scope.Bed;

        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer"));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics());
        await peer.LoadAsync(SwanctlConf.Connection("gw", bed.PeerOuter, NamespaceTestbed.GatewayOuter, SwanctlConf.PeerId, SwanctlConf.GatewayId,
            charonIke, "net", NamespaceTestbed.PeerInner + "/32", NamespaceTestbed.LanSubnet, "aes256gcm16", psk: charonPsk));
        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"),
            ConcentratorYaml.Responder(concentratorIke, "aes256gcm16"), scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics());

        var init = await peer.InitiateAsync("gw", "net", timeoutSeconds: 15);
        scope.Log($"initiate: exit {init.ExitCode}");
        Assert.False(init.Ok, "swanctl --initiate unexpectedly succeeded: " + init);
        Assert.Contains(expectedInCharonLog, peer.Log());
        Assert.Empty(await peer.ListSasAsync());
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.IkeSaEstablished));
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ChildSaInstalled));
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        Assert.False(gateway.HasExited, "the concentrator exited after refusing a peer");
        scope.Passed();
    }

    private async Task InitiatorToResponder(string charonIke, string charonEsp, string concentratorIke, string concentratorEsp,
        (string Encr, string KeySize, string Group)? expectIke, string? expectEsp, bool withNatRouter = false, bool weakAlgorithms = false)
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, withNatRouter);
        var bed = scope.Bed;

        // charon first: scope disposal runs in reverse, so the concentrator's SIGTERM deletes reach a live peer.
        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer"));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics());
        await peer.LoadAsync(SwanctlConf.Connection("gw", bed.PeerOuter, NamespaceTestbed.GatewayOuter, SwanctlConf.PeerId, SwanctlConf.GatewayId,
            charonIke, "net", NamespaceTestbed.PeerInner + "/32", NamespaceTestbed.LanSubnet, charonEsp));

        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"),
            ConcentratorYaml.Responder(concentratorIke, concentratorEsp, weakAlgorithms), scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics());
        scope.Log("concentrator listening");
        // weak_algorithms is announced once at start, and only when set.
        Assert.Equal(weakAlgorithms ? 1 : 0, gateway.EventsWithId(WeakAlgorithmsEnabled).Count);

        Underlay.InstallEspCounters(bed.Gateway, bed.WorkDir);

        var init = await peer.InitiateAsync("gw", "net", timeoutSeconds: 20);
        scope.Log($"initiate: exit {init.ExitCode}");
        Assert.True(init.Ok, "swanctl --initiate to the concentrator failed: " + init);

        var onPeer = await peer.WaitInstalledAsync("gw", "net", scope.Remaining(TimeSpan.FromSeconds(10)));
        Assert.True(onPeer is not null, "peer: no ESTABLISHED IKE SA with an INSTALLED child");
        var (ike, child) = onPeer!.Value;
        scope.Log("peer: " + ike);
        if (expectIke is { } e)
        {
            Assert.Equal(e.Encr, ike.Get("encr-alg"));
            Assert.Equal(e.KeySize, ike.Get("encr-keysize"));
            Assert.Equal(e.Group, ike.Get("dh-group"));
        }
        if (expectEsp is not null) Assert.Equal(expectEsp, child.Get("encr-alg"));
        if (weakAlgorithms)
        {
            Assert.Equal("HMAC_SHA1_96", ike.Get("integ-alg"));
            Assert.Equal("PRF_HMAC_SHA1", ike.Get("prf-alg"));
            Assert.Equal("HMAC_SHA1_96", child.Get("integ-alg"));
        }
        if (expectEsp == "CHACHA20_POLY1305")
        {
            // The native implementations of libstrongswan-extra-plugins are loaded (not only openssl's).
            string plugins = peer.Log().Split('\n').FirstOrDefault(l => l.Contains("loaded plugins:")) ?? "";
            Assert.Contains(" chapoly", plugins);
            Assert.Contains(" curve25519", plugins);
        }
        Assert.Equal("yes", child.Get("encap"));
        Assert.Equal(NamespaceTestbed.PeerInner + "/32", Assert.Single(child.LocalTs));
        Assert.Equal(NamespaceTestbed.LanSubnet, Assert.Single(child.RemoteTs));

        Assert.True(await gateway.WaitForEventAsync(ConcentratorProcess.IkeSaEstablished, scope.Remaining(TimeSpan.FromSeconds(5))),
            "the concentrator did not log IKE SA established (1001)");
        Assert.True(await gateway.WaitForEventAsync(ConcentratorProcess.ChildSaInstalled, scope.Remaining(TimeSpan.FromSeconds(5))),
            "the concentrator did not log Child SA installed (1003)");
        var established = Assert.Single(gateway.EventsWithId(ConcentratorProcess.IkeSaEstablished));
        var installed = Assert.Single(gateway.EventsWithId(ConcentratorProcess.ChildSaInstalled));
        scope.Log("concentrator: " + established.Message);
        scope.Log("concentrator: " + installed.Message);
        Assert.Contains("responder", established.Message);
        Assert.Contains(SwanctlConf.PeerId, established.Message);
        Assert.Contains($"with {bed.PeerSeenByGateway}:", established.Message);
        if (withNatRouter) Assert.Equal("yes", ike.Get("nat-local"));
        // The concentrator's inbound SPI is charon's outbound one and vice versa.
        Assert.Contains($"SPIs in {Underlay.NormalizeSpi(child.SpiOut)} out {Underlay.NormalizeSpi(child.SpiIn)}", installed.Message);
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));

        // ---- TRAFFIC through the concentrator's TUN data plane (tunnel.type tun, the default of `run`):
        // ping from the peer's inner address to the LAN host, ESP-in-UDP both ways on the underlay with
        // exactly the negotiated SPIs, and charon's child counting the packets.
        await using (var capture = await Underlay.Capture.StartAsync(bed.Gateway, NamespaceTestbed.GatewayOuterDevice, bed.WorkDir, seconds: 10, maxPackets: 6))
        {
            var ping = await bed.Peer.ExecAsync(TimeSpan.FromSeconds(15),
                "ping", "-n", "-c", "3", "-i", "0.3", "-W", "2", "-I", NamespaceTestbed.PeerInner, NamespaceTestbed.LanHost);
            scope.Log("ping: " + ping.Stdout.Split('\n').FirstOrDefault(l => l.Contains("received")));
            var lines = await capture.FinishAsync(scope.Remaining(TimeSpan.FromSeconds(2)));
            foreach (var l in lines) scope.Log("capture: " + l);
            var counters = Underlay.ReadCounters(bed.Gateway);
            scope.Log("gateway underlay counters: " + string.Join(", ", counters.Select(kv => $"{kv.Key}={kv.Value}")));
            Assert.True(ping.Ok, "ping through the concentrator's tunnel failed: " + ping);
            var spis = Underlay.Capture.Spis(lines);
            // Every ESP packet of the peer (its outbound SPI) arrives from the address the gateway sees (the
            // router's, behind NAT) on UDP 4500, and every one of the gateway's goes back there.
            foreach (var f in lines.Select(l => l.Split(',')).Where(f => f.Length == 5 && f[4].Length > 0))
            {
                string spi = Underlay.NormalizeSpi(f[4]);
                if (spi == Underlay.NormalizeSpi(child.SpiOut))
                {
                    Assert.Equal(bed.PeerSeenByGateway, f[0]);
                    Assert.Equal("4500", f[3]);
                }
                else if (spi == Underlay.NormalizeSpi(child.SpiIn))
                {
                    Assert.Equal(bed.PeerSeenByGateway, f[1]);
                    Assert.Equal("4500", f[2]);
                }
            }
            if (withNatRouter)
            {
                Assert.EndsWith("NAT True", established.Message);
                Assert.DoesNotContain(lines, l => l.Contains(bed.PeerOuter));
            }
            Assert.Contains(Underlay.NormalizeSpi(child.SpiOut), spis);
            Assert.Contains(Underlay.NormalizeSpi(child.SpiIn), spis);
            Assert.True(counters.GetValueOrDefault("esp_in") >= 3, "fewer than 3 ESP-in-UDP packets reached the concentrator");
            Assert.True(counters.GetValueOrDefault("esp_out") >= 3, "fewer than 3 ESP-in-UDP packets left the concentrator");
            var after = await peer.WaitInstalledAsync("gw", "net", TimeSpan.FromSeconds(5));
            scope.Log("peer child after ping: " + after!.Value.Child);
            Assert.True(after.Value.Child.Number("packets-in") >= 3, "charon's child SA decrypted fewer than 3 packets from the concentrator");
            Assert.True(after.Value.Child.Number("packets-out") >= 3, "charon's child SA sent fewer than 3 packets");
        }

        // SIGTERM: the concentrator deletes its IKE SA with the peer (INFORMATIONAL with Delete) before exiting.
        await gateway.DisposeAsync();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        IReadOnlyList<IkeSaInfo> left;
        do
        {
            left = await peer.ListSasAsync();
            if (left.Count == 0) break;
            await Task.Delay(200);
        }
        while (clock.Elapsed < scope.Remaining(TimeSpan.FromSeconds(8)));
        scope.Log("peer after the concentrator's shutdown: " + (left.Count == 0 ? "no SAs" : string.Join("; ", left)));
        Assert.True(left.Count == 0, "the peer still has SAs after the concentrator's SIGTERM: " + string.Join("; ", left));
        Assert.Contains("received DELETE for IKE_SA", peer.Log());
        Assert.NotEmpty(gateway.EventsWithId(ConcentratorProcess.IkeSaClosed));

        scope.Passed();
    }
}
