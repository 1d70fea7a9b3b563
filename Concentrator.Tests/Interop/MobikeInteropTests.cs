using System.Globalization;
using System.Text.RegularExpressions;
using Concentrator.Testbed.Interop;
using Xunit.Abstractions;

namespace Concentrator.Tests.Interop;

/// <summary>
/// MOBIKE (RFC 4555) against a stock strongSwan road warrior (peer namespace, libipsec, encap = yes, mobike = yes): the
/// laptop leaves its network for another (its address 10.99.1.2 goes, 10.99.4.2 on another subnet comes, with a new route
/// to the gateway) under a running ping. strongSwan sends UPDATE_SA_ADDRESSES from the new address; the gateway moves the
/// IKE SA and its Child SA there, and the ping resumes within 2 s on the same IKE SA: no new IKE_SA_INIT reaches the
/// gateway, strongSwan's IKE SPIs are unchanged (its Child SA it rekeys, as kernel-libipsec cannot move one). Without MOBIKE on the gateway (mobike: no) strongSwan
/// reauthenticates instead: a new IKE_SA_INIT, new SPIs (how this test fails without the feature).
/// </summary>
[Collection(InteropCollection.Name)]
[Trait("Category", "Root")]
public sealed partial class MobikeInteropTests(ITestOutputHelper output)
{
    private const string Ike = "aes256gcm16-prfsha256-ecp256";
    private const string Esp = "aes256gcm16";

    /// <summary>The network the laptop moves to: the gateway has an address on it as well (10.99.4.1 on g0).</summary>
    private const string NewPeerAddress = "10.99.4.2";
    private const string GatewayOnNewNetwork = "10.99.4.1";

    private const int MobikeMoved = 4300;

    [Fact(Timeout = 120_000)]
    [Trait("Category", "Root")]
    public async Task A_strongswan_road_warrior_that_changes_its_address_keeps_its_ike_sa_and_its_ping_resumes_within_2_s_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 100);
        var bed = scope.Bed;
        bed.Gateway.AddAddress(NamespaceTestbed.GatewayOuterDevice, GatewayOnNewNetwork + "/24");

        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer"));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics());
        // local_addrs %any: the road warrior may use whatever address it has; mobike = yes is strongSwan's default.
        await peer.LoadAsync(SwanctlConf.Connection("gw", "%any", NamespaceTestbed.GatewayOuter, SwanctlConf.PeerId, SwanctlConf.GatewayId,
            Ike, "net", NamespaceTestbed.PeerInner + "/32", NamespaceTestbed.LanSubnet, Esp).Replace("mobike = no", "mobike = yes"));
        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"),
            ConcentratorYaml.Responder(Ike, Esp), scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics());

        var init = await peer.InitiateAsync("gw", "net", timeoutSeconds: 20);
        Assert.True(init.Ok, "swanctl --initiate to the concentrator failed: " + init);
        var up = await peer.WaitInstalledAsync("gw", "net", scope.Remaining(TimeSpan.FromSeconds(10)));
        Assert.NotNull(up);
        var (ikeBefore, childBefore) = up!.Value;
        scope.Log("before: " + ikeBefore);
        Assert.Equal(bed.PeerOuter, ikeBefore.Get("local-host"));
        Assert.Contains("peer supports MOBIKE", peer.Log());
        var first = await Ping(bed, 3, TimeSpan.FromSeconds(15));
        Assert.True(first.Ok, "ping through the tunnel failed before the move: " + first);

        // A ping every 100 ms for 8 s; 2 s in, the laptop changes networks.
        var pinging = bed.Peer.ExecAsync(TimeSpan.FromSeconds(20), "ping", "-n", "-D", "-O", "-c", "80", "-i", "0.1", "-W", "1",
            "-I", NamespaceTestbed.PeerInner, NamespaceTestbed.LanHost);
        await Task.Delay(2000);
        bed.Peer.AddAddress(NamespaceTestbed.PeerDevice, NewPeerAddress + "/24");
        double moveAt = Now();
        bed.Peer.Ip("addr", "del", bed.PeerOuter + "/24", "dev", NamespaceTestbed.PeerDevice);
        bed.Peer.Ip("route", "add", "10.99.1.0/24", "via", GatewayOnNewNetwork, "dev", NamespaceTestbed.PeerDevice);
        var ping = await pinging;

        var replies = ReplyTimes(ping.Stdout);
        double? resumed = replies.Where(t => t > moveAt).Select(t => (double?)t).FirstOrDefault();
        double lastBefore = replies.Where(t => t <= moveAt).DefaultIfEmpty(double.NaN).Max();
        scope.Log($"ping: {PingOutput.Summary(ping)}; last reply {moveAt - lastBefore:F3} s before the move, first after it " +
            (resumed is { } r ? $"{r - moveAt:F3} s after" : "never"));
        Assert.True(resumed is not null, "the ping never resumed after the address change:\n" + ping.Stdout);
        Assert.True(resumed!.Value - moveAt < 2.0, $"the ping resumed {resumed.Value - moveAt:F3} s after the address change (limit 2 s)");
        Assert.True(replies.Count(t => t > moveAt) >= 40, $"only {replies.Count(t => t > moveAt)} replies after the move");

        // The same IKE SA and Child SA at both ends, now from the new address.
        var after = (await peer.ListSasAsync()).Single(s => s.Name == "gw");
        scope.Log("after: " + after);
        Assert.Equal(NewPeerAddress, after.Get("local-host"));
        Assert.Equal((ikeBefore.Get("initiator-spi"), ikeBefore.Get("responder-spi")), (after.Get("initiator-spi"), after.Get("responder-spi")));
        // A child strongSwan replaced stays listed as DELETED for charon.delete_rekeyed_delay (5 s) to take late packets.
        var childAfter = Assert.Single(after.Children, c => c.State != "DELETED");
        string log = peer.Log();
        Assert.Contains("requesting address change using MOBIKE", log);
        Assert.Matches(UpdateSent(), log);
        Assert.Matches(UpdateAnswered(), log);
        // strongSwan's kernel-libipsec cannot move an installed SA, so after the update charon rekeys its Child SA over the
        // same IKE SA (ike_sa update_hosts falls back to CHILD_REKEY when the kernel says NOT_SUPPORTED); with XFRM the
        // SPIs stay. Either way no Child SA is negotiated anew.
        if (childAfter.SpiIn != childBefore.SpiIn) Assert.Matches(ChildRekey(), log);
        Assert.True(gateway.EventsWithId(ConcentratorProcess.ChildSaInstalled).Count <= 2, "more than the child and its rekey installed");

        string metrics = await GatewayMetrics.ScrapeAsync(bed.Gateway);
        Assert.Equal(1, GatewayMetrics.Sum(metrics, "concentrator_ike_negotiations_started_total", "role=\"responder\""));
        Assert.Equal(1, GatewayMetrics.Sum(metrics, "concentrator_ike_mobike_updates_total", "outcome=\"moved\""));
        Assert.Single(gateway.EventsWithId(ConcentratorProcess.IkeSaEstablished));
        Assert.Contains(gateway.EventsWithId(MobikeMoved), e => e.Message.Contains(NewPeerAddress + ":4500", StringComparison.Ordinal));
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.IkeSaClosed));
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }

    private static double Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;

    private static Task<CommandResult> Ping(NamespaceTestbed bed, int count, TimeSpan timeout) =>
        bed.Peer.ExecAsync(timeout, "ping", "-n", "-c", count.ToString(CultureInfo.InvariantCulture), "-i", "0.3", "-W", "2",
            "-I", NamespaceTestbed.PeerInner, NamespaceTestbed.LanHost);

    /// <summary>The Unix times (ping -D) of the echo replies.</summary>
    private static List<double> ReplyTimes(string output) =>
        ReplyLine().Matches(output).Select(m => double.Parse(m.Groups["t"].Value, CultureInfo.InvariantCulture)).ToList();

    [GeneratedRegex(@"generating INFORMATIONAL request \d+ \[ N\(UPD_SA_ADDR\) N\(NATD_S_IP\) N\(NATD_D_IP\) N\(COOKIE2\)")]
    private static partial Regex UpdateSent();

    [GeneratedRegex(@"parsed INFORMATIONAL response \d+ \[ N\(NATD_S_IP\) N\(NATD_D_IP\) N\(COOKIE2\) \]")]
    private static partial Regex UpdateAnswered();

    [GeneratedRegex(@"generating CREATE_CHILD_SA request \d+ \[ N\(REKEY_SA\)")]
    private static partial Regex ChildRekey();

    [GeneratedRegex(@"^\[(?<t>\d+\.\d+)\] \d+ bytes from", RegexOptions.Multiline)]
    private static partial Regex ReplyLine();
}
