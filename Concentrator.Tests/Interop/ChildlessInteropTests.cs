using System.Text.RegularExpressions;
using Concentrator.Testbed.Interop;
using Xunit.Abstractions;

namespace Concentrator.Tests.Interop;

/// <summary>
/// Childless IKE SAs (RFC 6023) against stock strongSwan (peer namespace, libipsec, encap = yes): strongSwan with
/// childless = force brings up an IKE SA without a Child SA at our gateway and its child later by CREATE_CHILD_SA; our
/// initiator with childless: force does the same to a strongSwan responder; our childless: never refuses strongSwan's
/// force and keeps nothing.
/// </summary>
[Collection(InteropCollection.Name)]
[Trait("Category", "Root")]
public sealed partial class ChildlessInteropTests(ITestOutputHelper output)
{
    private const string Ike = "aes256gcm16-prfsha256-ecp256";
    private const string Esp = "aes256gcm16";
    private const int ChildlessMismatch = 4650;

    [Fact(Timeout = 120_000)]
    [Trait("Category", "Root")]
    public async Task StrongSwan_force_gets_a_childless_ike_sa_then_its_child_by_create_child_sa_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 90);
        var bed = scope.Bed;
        var peer = await StartPeerAsync(scope, NamespaceTestbed.GatewayOuter, NamespaceTestbed.PeerInner + "/32", "childless = force");
        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"), ConcentratorYaml.Responder(Ike, Esp),
            scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics());

        // The IKE SA alone (swanctl --initiate --ike, strongSwan 5.9.2 and later).
        var init = await peer.SwanctlAsync(["--initiate", "--ike", "gw", "--timeout", "20"], TimeSpan.FromSeconds(25));
        Assert.True(init.Ok, "swanctl --initiate --ike to the concentrator failed: " + init);
        Assert.True(await gateway.WaitForEventAsync(ConcentratorProcess.IkeSaEstablished, scope.Remaining(TimeSpan.FromSeconds(5))));
        var ike = Assert.Single(await peer.ListSasAsync());
        scope.Log("peer: " + ike);
        Assert.Equal("ESTABLISHED", ike.State);
        Assert.Empty(ike.Children);
        string log = peer.Log();
        Assert.Matches(@"parsed IKE_SA_INIT response 0 \[[^\]]*N\(CHDLESS_SUP\)", log);
        var authRequest = IkeAuthRequest().Match(log);
        Assert.True(authRequest.Success, "no IKE_AUTH request in charon's log");
        Assert.DoesNotContain(" SA ", authRequest.Value);
        Assert.DoesNotContain("TSi", authRequest.Value);
        string sas = await SasAsync(bed);
        scope.Log("concentrator sas:\n" + sas);
        Assert.Contains("peer: #", sas);
        Assert.DoesNotContain("net: INSTALLED", sas);
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ChildSaInstalled));

        // The child under the same IKE SA: CREATE_CHILD_SA.
        var child = await peer.InitiateAsync("gw", "net");
        Assert.True(child.Ok, "swanctl --initiate --child under the childless IKE SA failed: " + child);
        var up = await peer.WaitInstalledAsync("gw", "net", scope.Remaining(TimeSpan.FromSeconds(10)));
        Assert.NotNull(up);
        Assert.Equal(ike.Get("uniqueid"), up!.Value.Ike.Get("uniqueid"));
        Assert.Single(await peer.ListSasAsync());
        Assert.Matches(@"generating CREATE_CHILD_SA request \d+ \[ SA No (KE )?TSi TSr", peer.Log());
        Assert.True(await gateway.WaitForEventAsync(ConcentratorProcess.ChildSaInstalled, scope.Remaining(TimeSpan.FromSeconds(5))));
        Assert.Single(gateway.EventsWithId(ConcentratorProcess.IkeSaEstablished));
        Assert.Contains("net: INSTALLED", await SasAsync(bed));

        var ping = await PingAsync(bed);
        Assert.True(ping.Ok, "ping through the child of the childless IKE SA failed: " + ping);
        Assert.Empty(gateway.EventsWithId(ChildlessMismatch));
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }

    [Fact(Timeout = 120_000)]
    [Trait("Category", "Root")]
    public async Task Our_force_initiator_gets_a_childless_ike_sa_at_strongswan_then_the_child_by_create_child_sa_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 90);
        var bed = scope.Bed;
        // strongSwan responds with its default (allow): it announces support and takes the childless IKE_AUTH.
        var peer = await StartPeerAsync(scope, "%any", NamespaceTestbed.PeerInnerSubnet, "");
        string yaml = ConcentratorYaml.Connection(NamespaceTestbed.GatewayOuter, bed.PeerOuter, SwanctlConf.GatewayId, SwanctlConf.PeerId, Ike, Esp,
            NamespaceTestbed.LanSubnet, NamespaceTestbed.PeerInnerSubnet, name: "site");
        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"), WithChildless(yaml, "force"),
            scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics());

        var initiate = await bed.Gateway.ExecCheckedAsync(TimeSpan.FromSeconds(30), "dotnet", ConcentratorProcess.AssemblyPath, "initiate",
            "--child", "net", "--admin", "http://127.0.0.1:9400/");
        scope.Log("concentrator initiate: " + initiate.Stdout.Trim());
        var up = await peer.WaitInstalledAsync("gw", "net", scope.Remaining(TimeSpan.FromSeconds(20)));
        Assert.True(up is not null, "peer (responder): no ESTABLISHED IKE SA with an INSTALLED child");
        Assert.NotEqual("yes", up!.Value.Ike.Get("initiator"));
        string log = peer.Log();
        var authRequest = Regex.Match(log, @"parsed IKE_AUTH request 1 \[[^\]]*\]");
        Assert.True(authRequest.Success, "no IKE_AUTH request in charon's log");
        scope.Log("peer: " + authRequest.Value);
        Assert.DoesNotContain(" SA ", authRequest.Value);
        Assert.DoesNotContain("TSi", authRequest.Value);
        var authResponse = Regex.Match(log, @"generating IKE_AUTH response 1 \[[^\]]*\]");
        Assert.True(authResponse.Success, "no IKE_AUTH response in charon's log");
        Assert.DoesNotContain("TSi", authResponse.Value);
        Assert.Matches(@"parsed CREATE_CHILD_SA request \d+ \[ SA No (KE )?TSi TSr", log);
        Assert.True(await gateway.WaitForEventAsync(ConcentratorProcess.ChildSaInstalled, scope.Remaining(TimeSpan.FromSeconds(5))));
        Assert.Single(gateway.EventsWithId(ConcentratorProcess.IkeSaEstablished));
        Assert.Single(await peer.ListSasAsync());
        string sas = await SasAsync(bed);
        scope.Log("concentrator sas:\n" + sas);
        Assert.Contains("net: INSTALLED", sas);

        var ping = await bed.Lan.ExecAsync(scope.Remaining(TimeSpan.FromSeconds(15)),
            "ping", "-n", "-c", "3", "-i", "0.3", "-W", "2", NamespaceTestbed.PeerInner);
        scope.Log("ping LAN -> peer inner: " + PingOutput.Summary(ping));
        Assert.True(ping.Ok, "ping from the LAN host to the peer's inner address failed: " + ping);
        Assert.Empty(gateway.EventsWithId(ChildlessMismatch));
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }

    [Fact(Timeout = 120_000)]
    [Trait("Category", "Root")]
    public async Task Our_never_refuses_strongswans_childless_initiations_and_keeps_nothing_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 90);
        var bed = scope.Bed;
        var peer = await StartPeerAsync(scope, NamespaceTestbed.GatewayOuter, NamespaceTestbed.PeerInner + "/32", "childless = force");
        string yaml = WithChildless(ConcentratorYaml.Responder(Ike, Esp), "never") + "\ncharon: { half_open_timeout: 3s }\n";
        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"), yaml,
            scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics());

        // strongSwan's force with a child: we announce no support, so strongSwan gives up before IKE_AUTH.
        var init = await peer.InitiateAsync("gw", "net", timeoutSeconds: 15);
        scope.Log("swanctl --initiate --child: " + init);
        Assert.False(init.Ok, "strongSwan's childless force initiation succeeded against childless never");
        string log = peer.Log();
        Assert.Matches(@"parsed IKE_SA_INIT response 0 \[", log);
        Assert.DoesNotMatch(@"parsed IKE_SA_INIT response 0 \[[^\]]*N\(CHDLESS_SUP\)", log);
        Assert.Contains("peer does not support childless", log);
        Assert.Empty(await peer.ListSasAsync());
        // Our half-open SA of that IKE_SA_INIT ends at half_open_timeout.
        Assert.Equal(1, await GatewayMetrics.ReadAsync(bed.Gateway, "concentrator_ike_half_open_sas"));
        await AssertNothingRemainsAsync(scope, bed, gateway);

        // An IKE SA alone (swanctl --initiate --ike): strongSwan sends a childless IKE_AUTH, which we refuse with
        // INVALID_SYNTAX as strongSwan's own responder does.
        var ikeOnly = await peer.SwanctlAsync(["--initiate", "--ike", "gw", "--timeout", "15"], TimeSpan.FromSeconds(20));
        scope.Log("swanctl --initiate --ike: " + ikeOnly);
        Assert.False(ikeOnly.Ok, "strongSwan's childless IKE_AUTH was accepted by childless never");
        log = peer.Log();
        var authRequest = IkeAuthRequest().Match(log);
        Assert.True(authRequest.Success, "strongSwan sent no IKE_AUTH request");
        Assert.DoesNotContain("TSi", authRequest.Value);
        Assert.Contains("received INVALID_SYNTAX notify error", log);
        Assert.Empty(await peer.ListSasAsync());
        Assert.True(await gateway.WaitForEventAsync(ChildlessMismatch, scope.Remaining(TimeSpan.FromSeconds(5))),
            "the concentrator did not log the childless refusal (4650)");
        scope.Log("concentrator: " + gateway.EventsWithId(ChildlessMismatch).Single().Message);
        await AssertNothingRemainsAsync(scope, bed, gateway);
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }

    /// <summary>No IKE SA of any state, none ever established, no child, and sas lists nothing.</summary>
    private static async Task AssertNothingRemainsAsync(InteropScope scope, NamespaceTestbed bed, ConcentratorProcess gateway)
    {
        double left = double.NaN;
        for (var clock = System.Diagnostics.Stopwatch.StartNew(); clock.Elapsed < scope.Remaining(TimeSpan.FromSeconds(15)); await Task.Delay(300))
        {
            string metrics = await GatewayMetrics.ScrapeAsync(bed.Gateway);
            left = GatewayMetrics.Sum(metrics, "concentrator_ike_sas") + GatewayMetrics.Sum(metrics, "concentrator_ike_half_open_sas");
            if (left == 0) break;
        }
        Assert.Equal(0, left);
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.IkeSaEstablished));
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ChildSaInstalled));
        Assert.Contains("no IKE SAs", await SasAsync(bed));
    }

    // ------------------------------------------------------------------------------------------------
    // Helpers
    // ------------------------------------------------------------------------------------------------

    /// <summary>strongSwan in the peer namespace with connection gw (child net: <paramref name="localTs"/> to the LAN) and
    /// <paramref name="extra"/> connection lines.</summary>
    private static async Task<StrongSwan> StartPeerAsync(InteropScope scope, string remoteAddrs, string localTs, string extra)
    {
        var bed = scope.Bed;
        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer"));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics());
        await peer.LoadAsync(SwanctlConf.Connections(SwanctlConf.ConnectionBlock("gw", bed.PeerOuter, remoteAddrs, Ike,
                $"auth = psk\nid = {SwanctlConf.PeerId}", $"auth = psk\nid = {SwanctlConf.GatewayId}", "net", localTs, NamespaceTestbed.LanSubnet,
                Esp, extra: extra)) +
            SwanctlConf.PskSecret("gw", SwanctlConf.PeerId, SwanctlConf.GatewayId));
        return peer;
    }

    /// <summary>The harness's connection with <c>childless</c> set (after its <c>version</c> line).</summary>
    private static string WithChildless(string yaml, string policy)
    {
        Assert.Contains("    version: 2\n", yaml);
        return yaml.Replace("    version: 2\n", $"    version: 2\n    childless: {policy}\n");
    }

    private static async Task<string> SasAsync(NamespaceTestbed bed) =>
        (await bed.Gateway.ExecCheckedAsync(TimeSpan.FromSeconds(30), "dotnet", ConcentratorProcess.AssemblyPath, "sas",
            "--admin", "http://127.0.0.1:9400/")).Stdout;

    private static Task<CommandResult> PingAsync(NamespaceTestbed bed) =>
        bed.Peer.ExecAsync(TimeSpan.FromSeconds(15), "ping", "-n", "-c", "3", "-i", "0.3", "-W", "2",
            "-I", NamespaceTestbed.PeerInner, NamespaceTestbed.LanHost);

    [GeneratedRegex(@"generating IKE_AUTH request 1 \[[^\]]*\]")]
    private static partial Regex IkeAuthRequest();
}
