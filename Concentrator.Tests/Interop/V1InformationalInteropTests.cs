using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Concentrator.Testbed.Interop;
using Xunit.Abstractions;

namespace Concentrator.Tests.Interop;

/// <summary>
/// The IKEv1 informational exchange against stock strongSwan (<c>version = 1</c>, PSK, <c>encap = yes</c>: charon's
/// kernel-libipsec speaks ESP-in-UDP only, so it fakes NAT-D and both ends float to 4500) with the built concentrator
/// in the gateway namespace. charon initiates the ISAKMP SA alone (<c>swanctl --initiate --ike</c>) where a test needs no
/// Child SA, so DPD there runs on an idle SA; the delete test adds a quick mode Child SA. Each test asserts on both ends: charon's log
/// (what it parsed and generated) and the concentrator's events, metrics and SA list.
/// </summary>
[Collection(InteropCollection.Name)]
[Trait("Category", "Root")]
public sealed partial class V1InformationalInteropTests(ITestOutputHelper output)
{
    /// <summary>
    /// Our DPD against charon (which does not probe itself here): the concentrator probes an idle SA with dpd_delay 2 s,
    /// dpd_timeout 6 s, charon parses each R-U-THERE and answers; nothing is declared dead. Then charon is SIGKILLed:
    /// within dpd_delay * 1.5 + dpd_timeout (and slack for the loaded machine) the concentrator's SA is gone, closed as
    /// a dead peer (Timeout) and counted like IKEv2's DPD close.
    /// </summary>
    [Fact(Timeout = 150_000)]
    [Trait("Category", "Root")]
    public async Task V1_dpd_probes_are_answered_and_detect_a_killed_peer_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 90);
        var bed = scope.Bed;

        var (peer, gateway) = await StartAsync(scope, "0", GatewayYaml("dpd_delay: 2s", "dpd_timeout: 6s"));

        await EstablishAsync(scope, peer, bed.Gateway);

        // Idle over several dpd_delay intervals: each of our probes is answered.
        await Task.Delay(TimeSpan.FromSeconds(8));
        string log = peer.Log();
        int parsed = Regex.Matches(log, @"parsed INFORMATIONAL_V1 request \d+ \[ HASH N\(DPD\) \]").Count;
        int acks = Regex.Matches(log, @"generating INFORMATIONAL_V1 request \d+ \[ HASH N\(DPD_ACK\) \]").Count;
        var m0 = await LifecycleInteropTests.ScrapeAsync(bed.Gateway, "metrics");
        double probes0 = LifecycleInteropTests.MetricValue(m0, "concentrator_ike_dpd_probes_total");
        scope.Log($"our probes {probes0}; parsed by charon {parsed}, answered by charon {acks}");
        Assert.True(probes0 >= 2, $"{probes0} DPD probes in 8 idle seconds with dpd_delay 2s");
        Assert.True(parsed >= 2, "charon parsed fewer than two of our R-U-THERE");
        Assert.True(acks >= 2, "charon answered fewer than two of our R-U-THERE");
        Assert.DoesNotContain("received invalid DPD sequence number", log);
        Assert.Equal(0, LifecycleInteropTests.MetricValue(m0, "concentrator_ike_dead_peers_total"));
        Assert.Empty(gateway.EventsWithId(V1SaClosed));
        Assert.Single(await OurSasAsync(bed.Gateway));

        await peer.KillAsync();
        Assert.True(peer.HasExited, "charon did not die from SIGKILL");
        var killed = Stopwatch.StartNew();
        scope.Log("charon SIGKILLed");
        bool closed = await gateway.WaitForEventAsync(V1SaClosed, scope.Remaining(TimeSpan.FromSeconds(30)));
        double detected = killed.Elapsed.TotalSeconds;
        var m = await LifecycleInteropTests.ScrapeAsync(bed.Gateway, "metrics");
        scope.Log($"IKEv1 SA closed: {closed} after {detected:F1} s; dead peers {LifecycleInteropTests.MetricValue(m, "concentrator_ike_dead_peers_total")}, " +
                  $"probes {LifecycleInteropTests.MetricValue(m, "concentrator_ike_dpd_probes_total")}");
        Assert.True(closed, "the concentrator did not close the IKEv1 SA of the dead peer");
        Assert.Contains("Timeout", gateway.EventsWithId(V1SaClosed).Last().Message);
        Assert.Single(gateway.EventsWithId(V1DpdDead));
        Assert.Equal(1, LifecycleInteropTests.MetricValue(m, "concentrator_ike_dead_peers_total"));
        Assert.True(LifecycleInteropTests.MetricValue(m, "concentrator_ike_dpd_probes_total") > probes0, "no probe after the peer died");
        // The last answer came at most 2 s before the kill; silence is noticed within 1.5 x dpd_delay, and the SA ends
        // dpd_timeout - dpd_delay after the first unanswered probe: at most 3 + 4 s and slack for the loaded machine.
        Assert.True(detected < 3 + 4 + 3, $"DPD took {detected:F1} s");
        Assert.True(detected >= 4 - 0.5, $"the SA closed after {detected:F1} s, before dpd_timeout could have run out");
        Assert.Empty(await OurSasAsync(bed.Gateway));
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }

    /// <summary>
    /// charon's DPD and Deletes both ways. charon probes with dpd_delay 2 s: the concentrator (no dpd_delay of its own)
    /// answers every R-U-THERE and charon keeps its SA over several intervals. charon's quick mode Child SA is then
    /// deleted by <c>swanctl --terminate --child</c>: ours leaves the data plane, the ISAKMP SA stays. charon's <c>swanctl --terminate --ike</c> sends an ISAKMP Delete: the concentrator's SA closes
    /// as deleted by the peer. Then charon initiates again and the concentrator's <c>/admin/terminate</c> deletes the new
    /// SA: charon parses the Delete and removes its SA.
    /// </summary>
    [Fact(Timeout = 150_000)]
    [Trait("Category", "Root")]
    public async Task V1_deletes_from_either_end_remove_the_sa_at_the_other_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 90);
        var bed = scope.Bed;

        var (peer, gateway) = await StartAsync(scope, "2s", GatewayYaml());

        await EstablishAsync(scope, peer, bed.Gateway);
        await Task.Delay(TimeSpan.FromSeconds(7));
        string log = peer.Log();
        int probes = Regex.Matches(log, @"generating INFORMATIONAL_V1 request \d+ \[ HASH N\(DPD\) \]").Count;
        int acks = Regex.Matches(log, @"parsed INFORMATIONAL_V1 request \d+ \[ HASH N\(DPD_ACK\) \]").Count;
        scope.Log($"charon's probes {probes}, our answers parsed by charon {acks}");
        Assert.True(probes >= 2, "charon sent fewer than two R-U-THERE in 7 s with dpd_delay 2s");
        Assert.True(acks >= probes - 1, "charon's R-U-THERE went unanswered");
        Assert.DoesNotContain("received invalid DPD sequence number", log);
        Assert.DoesNotContain("DPD check timed out", log);
        Assert.Equal("ESTABLISHED", Assert.Single(await peer.ListSasAsync()).State);

        // A Child SA by quick mode, then charon's IPsec Delete for it: ours leaves the data plane, the ISAKMP SA stays.
        var child = await peer.InitiateAsync("gw", "net", timeoutSeconds: 20);
        Assert.True(child.Ok, "swanctl --initiate --child net failed: " + child);
        Assert.True(await WaitInstalledAsync(bed.Gateway, 1, TimeSpan.FromSeconds(10)), "our Child SA was not installed");
        var terminateChild = await peer.SwanctlAsync(["--terminate", "--child", "net", "--timeout", "10"], TimeSpan.FromSeconds(20));
        scope.Log("swanctl --terminate --child: " + terminateChild);
        Assert.True(await WaitInstalledAsync(bed.Gateway, 0, TimeSpan.FromSeconds(10)), "our Child SA stayed after charon's Delete");
        Assert.Single(gateway.EventsWithId(V1ChildDeleteReceived));
        Assert.Empty(Assert.Single(await peer.ListSasAsync()).Children);
        Assert.Single(await OurSasAsync(bed.Gateway));

        var terminate = await peer.SwanctlAsync(["--terminate", "--ike", "gw", "--timeout", "10"], TimeSpan.FromSeconds(20));
        scope.Log("swanctl --terminate: " + terminate);
        Assert.Matches(@"generating INFORMATIONAL_V1 request \d+ \[ HASH D \]", peer.Log());
        Assert.True(await gateway.WaitForEventAsync(V1SaClosed, scope.Remaining(TimeSpan.FromSeconds(15))), "our SA did not close on charon's Delete");
        Assert.Contains("DeletedByPeer", gateway.EventsWithId(V1SaClosed).Last().Message);
        Assert.Single(gateway.EventsWithId(V1IsakmpDeleteReceived));
        Assert.Empty(await OurSasAsync(bed.Gateway));

        await EstablishAsync(scope, peer, bed.Gateway);
        var r = await bed.Gateway.ExecAsync(TimeSpan.FromSeconds(15), "curl", "-sS", "--max-time", "10", "-X", "POST",
            "http://127.0.0.1:9400/admin/terminate?ike=peer&timeout=5");
        scope.Log("admin terminate: " + r.Stdout.Trim());
        var clock = Stopwatch.StartNew();
        while ((await peer.ListSasAsync()).Count > 0 && clock.Elapsed < TimeSpan.FromSeconds(15)) await Task.Delay(250);
        Assert.Matches(@"parsed INFORMATIONAL_V1 request \d+ \[ HASH D \]", peer.Log());
        Assert.Empty(await peer.ListSasAsync());
        Assert.Empty(await OurSasAsync(bed.Gateway));
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }

    /// <summary>
    /// INITIAL-CONTACT (RFC 2407 §4.6.3.3): charon is SIGKILLed and started again empty; its new main mode carries
    /// INITIAL-CONTACT in message 5 (charon adds it when it has no SA with the peer). The concentrator replaces the old
    /// SA at once (closed as Replaced, without a Delete to a peer that forgot it) and keeps only the new one.
    /// </summary>
    [Fact(Timeout = 150_000)]
    [Trait("Category", "Root")]
    public async Task V1_initial_contact_of_a_restarted_peer_replaces_its_old_sa_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 90);
        var bed = scope.Bed;

        var (first, gateway) = await StartAsync(scope, "0", GatewayYaml());

        string oldSpi = Assert.Single(await EstablishAsync(scope, first, bed.Gateway));
        await first.KillAsync();
        scope.Log($"charon SIGKILLed; our SA {oldSpi} stays (no DPD)");
        Assert.Equal([oldSpi], await OurSasAsync(bed.Gateway));

        var second = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer2"), "peer2"));
        scope.AddDiagnostics("charon peer (restarted)", () => second.Diagnostics());
        await second.LoadAsync(PeerConf(bed.PeerOuter, dpdDelay: "0"));
        var init = await second.SwanctlAsync(["--initiate", "--ike", "gw", "--timeout", "20"], TimeSpan.FromSeconds(30));
        Assert.True(init.Ok, "swanctl --initiate --ike failed: " + init);
        Assert.Matches(@"generating ID_PROT request 0 \[ ID HASH N\(INITIAL_CONTACT\) \]", second.Log());

        var clock = Stopwatch.StartNew();
        IReadOnlyList<string> ours = [];
        while (clock.Elapsed < TimeSpan.FromSeconds(15))
        {
            ours = await OurSasAsync(bed.Gateway);
            if (ours.Count == 1 && ours[0] != oldSpi) break;
            await Task.Delay(250);
        }
        scope.Log($"our SAs after the restart: {string.Join(", ", ours)}");
        Assert.Single(ours);
        Assert.NotEqual(oldSpi, ours[0]);
        Assert.Contains(gateway.EventsWithId(V1SaClosed), e => e.Message.Contains("Replaced") && e.Message.Contains(oldSpi));
        Assert.Equal("ESTABLISHED", Assert.Single(await second.ListSasAsync()).State);
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }

    // ------------------------------------------------------------------------------------------------

    /// <summary>v1core's "IKEv1 SA closed" event; v1info's ISAKMP Delete received and dead peer events.</summary>
    private const int V1SaClosed = 5102;
    private const int V1IsakmpDeleteReceived = 5181;
    private const int V1ChildDeleteReceived = 5182;
    private const int V1DpdDead = 5188;

    /// <summary>charon (<paramref name="charonDpdDelay"/>) in the peer namespace and the concentrator with <paramref name="gatewayYaml"/>.</summary>
    private static async Task<(StrongSwan Peer, ConcentratorProcess Gateway)> StartAsync(InteropScope scope, string charonDpdDelay, string gatewayYaml)
    {
        var bed = scope.Bed;
        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer"));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics());
        await peer.LoadAsync(PeerConf(bed.PeerOuter, charonDpdDelay));
        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"), gatewayYaml,
            scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics());
        return (peer, gateway);
    }

    /// <summary>charon initiates the ISAKMP SA alone; returns our SA list (cookies) once it shows exactly one.</summary>
    private static async Task<IReadOnlyList<string>> EstablishAsync(InteropScope scope, StrongSwan peer, Netns gw)
    {
        var init = await peer.SwanctlAsync(["--initiate", "--ike", "gw", "--timeout", "20"], TimeSpan.FromSeconds(30));
        Assert.True(init.Ok, "swanctl --initiate --ike failed: " + init);
        Assert.Equal("ESTABLISHED", Assert.Single(await peer.ListSasAsync()).State);
        var clock = Stopwatch.StartNew();
        IReadOnlyList<string> ours = [];
        while (clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            ours = await OurSasAsync(gw);
            if (ours.Count == 1) break;
            await Task.Delay(200);
        }
        scope.Log($"ISAKMP SA up; ours: {string.Join(", ", ours)}");
        Assert.Single(ours);
        return ours;
    }

    /// <summary>Polls the data plane until it holds <paramref name="count"/> installed SAs (bounded).</summary>
    private static async Task<bool> WaitInstalledAsync(Netns gw, int count, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            using var doc = JsonDocument.Parse(await LifecycleInteropTests.ScrapeAsync(gw, "dataplane"));
            if (doc.RootElement.GetProperty("installed").GetInt32() == count) return true;
            await Task.Delay(200);
        }
        return false;
    }

    /// <summary>The established IKE SAs of /admin/sas (their SPI, i.e. our cookie), any property casing.</summary>
    private static async Task<IReadOnlyList<string>> OurSasAsync(Netns gw)
    {
        using var doc = JsonDocument.Parse(await LifecycleInteropTests.ScrapeAsync(gw, "admin/sas"));
        var spis = new List<string>();
        foreach (var sa in doc.RootElement.EnumerateArray())
        {
            string? spi = null, state = null;
            foreach (var p in sa.EnumerateObject())
            {
                if (p.Name.Equals("spi", StringComparison.OrdinalIgnoreCase)) spi = p.Value.ToString();
                if (p.Name.Equals("state", StringComparison.OrdinalIgnoreCase)) state = p.Value.ToString();
            }
            if (spi is not null && string.Equals(state, "ESTABLISHED", StringComparison.OrdinalIgnoreCase)) spis.Add(spi);
        }
        return spis;
    }

    /// <summary>strongSwan as IKEv1 initiator: PSK, encap = yes; child "net" is negotiated only where a test initiates it.</summary>
    private static string PeerConf(string peerOuter, string dpdDelay) => $$"""
        connections {
          gw {
            version = 1
            local_addrs = {{peerOuter}}
            remote_addrs = {{NamespaceTestbed.GatewayOuter}}
            proposals = aes256-sha256-modp2048
            encap = yes
            rekey_time = 4h
            reauth_time = 0
            dpd_delay = {{dpdDelay}}
            keyingtries = 1
            local {
              auth = psk
              id = {{SwanctlConf.PeerId}}
            }
            remote {
              auth = psk
              id = {{SwanctlConf.GatewayId}}
            }
            children {
              net {
                local_ts = {{NamespaceTestbed.PeerInner}}/32
                remote_ts = {{NamespaceTestbed.LanSubnet}}
                esp_proposals = aes256-sha256
                rekey_time = 0
                start_action = none
                close_action = none
                dpd_action = clear
              }
            }
          }
        }
        secrets {
          ike-interop {
            id-1 = {{SwanctlConf.PeerId}}
            id-2 = {{SwanctlConf.GatewayId}}
            secret = "{{SwanctlConf.Psk}}"
          }
        }
        """;

    /// <summary>The concentrator: IKEv1 responder connection "peer" (PSK) with <paramref name="extra"/> connection keys.</summary>
    private static string GatewayYaml(params string[] extra) => $$"""
        # generated by the Concentrator IKEv1 informational interop tests
        listen: { addresses: [{{NamespaceTestbed.GatewayOuter}}], ike_port: 500, natt_port: 4500 }
        http: { listen: "127.0.0.1:9400" }
        connections:
          peer:
            version: 1
            local_addrs: [{{NamespaceTestbed.GatewayOuter}}]
            remote_addrs: ["%any"]
            proposals: [aes256-sha256-modp2048]
            local: { auth: psk, id: {{SwanctlConf.GatewayId}} }
            remote: { auth: psk, id: {{SwanctlConf.PeerId}} }
        {{string.Concat(extra.Select(line => "    " + line + "\n"))}}    children:
              net: { local_ts: [{{NamespaceTestbed.LanSubnet}}], remote_ts: [{{NamespaceTestbed.PeerInnerSubnet}}], esp_proposals: [aes256-sha256] }
        secrets:
          ike-interop: { id: [{{SwanctlConf.PeerId}}, {{SwanctlConf.GatewayId}}], secret: "{{SwanctlConf.Psk}}" }
        """;
}
