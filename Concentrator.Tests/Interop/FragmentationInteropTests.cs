using System.Globalization;
using System.Text.RegularExpressions;
using Concentrator.Testbed.Interop;
using Xunit.Abstractions;

namespace Concentrator.Tests.Interop;

/// <summary>
/// IKE fragmentation (RFC 7383) against stock strongSwan on a path that drops IP fragments, as the middleboxes do that make
/// Windows report error 809: an nft filter at each end's ingress (<see cref="FragmentFilter"/>) drops every IPv4 fragment.
/// IKE_AUTH is made larger than the 1500-octet path honestly: one side's child is a dual-stack site announcing 40 IPv6
/// prefixes besides its IPv4 subnet (40 octets per selector; a TS payload holds at most 64 selectors here), so both
/// the request's and the narrowed response's traffic selectors run to well over 1500 octets. It gets through only as SKF fragments, both ways in each test: strongSwan's to us and ours to strongSwan.
/// With <c>fragmentation: no</c> on our side the same setup fails in either role, which shows the filter bites.
/// </summary>
[Collection(InteropCollection.Name)]
[Trait("Category", "Root")]
public sealed partial class FragmentationInteropTests(ITestOutputHelper output)
{
    private const string Esp = "aes256gcm16";

    /// <summary>Largest IKE message that crosses the 1500-octet IPv4 path in one datagram on UDP 4500 (20 IP, 8 UDP, 4 marker).</summary>
    private const int LargestUnfragmented = 1500 - 20 - 8 - 4;

    /// <summary>The many prefixes, 2001:db8:100:1::/64 to 2001:db8:100:28::/64; quoted for YAML, bare for swanctl.conf.</summary>
    private static string ManyPrefixes(bool yaml) =>
        string.Join(", ", Enumerable.Range(1, 40).Select(i => yaml ? $"\"2001:db8:100:{i:x}::/64\"" : $"2001:db8:100:{i:x}::/64"));

    /// <summary>A prefix covering <see cref="ManyPrefixes"/>.</summary>
    private static string CoveringPrefix(bool yaml) => yaml ? "\"2001:db8:100::/48\"" : "2001:db8:100::/48";

    /// <summary>strongSwan initiates (AES-GCM): its IKE_AUTH request is split into SKF fragments to us, our response into fragments to it.</summary>
    [Fact(Timeout = 120_000)]
    [Trait("Category", "Root")]
    public async Task StrongSwan_initiator_and_Concentrator_responder_exchange_a_large_IKE_AUTH_in_fragments_over_a_path_dropping_IP_fragments_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 80);
        var bed = scope.Bed;
        var (peer, gateway) = await StartStrongSwanInitiatorCaseAsync(scope, fragmentation: "yes");

        var init = await peer.InitiateAsync("gw", "net", timeoutSeconds: 20);
        Assert.True(init.Ok, "swanctl --initiate to the concentrator failed: " + init);
        var onPeer = await peer.WaitInstalledAsync("gw", "net", scope.Remaining(TimeSpan.FromSeconds(10)));
        Assert.True(onPeer is not null, "peer: no ESTABLISHED IKE SA with an INSTALLED child");

        await AssertFragmentedBothWaysAsync(scope, bed, peer, gateway);
        var ping = await bed.Peer.ExecAsync(scope.Remaining(TimeSpan.FromSeconds(15)),
            "ping", "-n", "-c", "3", "-i", "0.3", "-W", "2", "-I", NamespaceTestbed.PeerInner, NamespaceTestbed.LanHost);
        scope.Log("ping peer inner -> LAN: " + PingOutput.Summary(ping));
        Assert.True(ping.Ok, "ping through the tunnel failed: " + ping);
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }

    /// <summary>
    /// As a road warrior behind NAT talks to us: with <c>encap: yes</c> on our side strongSwan sees a NAT and moves to UDP 4500
    /// after IKE_SA_INIT, so every fragment both ways carries the non-ESP marker, which our fragment size makes room for.
    /// </summary>
    [Fact(Timeout = 120_000)]
    [Trait("Category", "Root")]
    public async Task StrongSwan_initiator_and_Concentrator_responder_exchange_fragments_on_UDP_4500_over_a_path_dropping_IP_fragments_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 80);
        var bed = scope.Bed;
        var (peer, gateway) = await StartStrongSwanInitiatorCaseAsync(scope, fragmentation: "yes", encap: true);

        var init = await peer.InitiateAsync("gw", "net", timeoutSeconds: 20);
        Assert.True(init.Ok, "swanctl --initiate to the concentrator failed: " + init);
        var onPeer = await peer.WaitInstalledAsync("gw", "net", scope.Remaining(TimeSpan.FromSeconds(10)));
        Assert.True(onPeer is not null, "peer: no ESTABLISHED IKE SA with an INSTALLED child");
        var (ike, _) = onPeer!.Value;
        Assert.Equal("yes", ike.Get("nat-remote"));
        Assert.Matches(@"sending packet: from \S+\[4500\] to \S+\[4500\]", peer.Log());

        await AssertFragmentedBothWaysAsync(scope, bed, peer, gateway);
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }

    /// <summary>
    /// The same path and messages with <c>fragmentation: no</c> on our side: we do not announce support, so strongSwan sends
    /// its IKE_AUTH whole, the kernel splits it into IP fragments, the filter drops them, and no SA comes up. This proves the
    /// filter bites: the tests above get through by RFC 7383 alone.
    /// </summary>
    [Fact(Timeout = 120_000)]
    [Trait("Category", "Root")]
    public async Task Without_IKE_fragmentation_the_large_IKE_AUTH_does_not_cross_the_path_dropping_IP_fragments_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 80);
        var bed = scope.Bed;
        var (peer, gateway) = await StartStrongSwanInitiatorCaseAsync(scope, fragmentation: "no");

        var init = await peer.InitiateAsync("gw", "net", timeoutSeconds: 12);
        scope.Log("swanctl --initiate: " + init);
        Assert.False(init.Ok, "the IKE SA came up although IKE fragmentation was off: the filter let IP fragments through");
        string log = peer.Log();
        // Sent whole: a datagram larger than the path, never split into SKF fragments.
        var sent = SendingPacket().Matches(log).Select(m => int.Parse(m.Groups["bytes"].Value, CultureInfo.InvariantCulture)).ToList();
        scope.Log($"strongSwan sent datagrams of {string.Join(", ", sent)} octets");
        Assert.Contains(sent, s => s > LargestUnfragmented);
        Assert.DoesNotMatch(Splitting(), log);
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.IkeSaEstablished));
        long droppedAtGateway = FragmentFilter.Dropped(bed.Gateway, NamespaceTestbed.GatewayOuterDevice);
        string metrics = await GatewayMetrics.ScrapeAsync(bed.Gateway);
        double received = GatewayMetrics.Sum(metrics, "concentrator_ike_fragments_received_total");
        scope.Log($"IP fragments dropped at the gateway: {droppedAtGateway}; IKE fragments received: {received}");
        Assert.True(droppedAtGateway >= 2, $"{droppedAtGateway} IP fragments dropped at the gateway: strongSwan's IKE_AUTH did not arrive as IP fragments");
        Assert.Equal(0, received);
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }

    /// <summary>strongSwan (AES-GCM) as initiator announcing 40 IPv6 prefixes, we as responder with <paramref name="fragmentation"/>,
    /// both ends behind the fragment filter.</summary>
    private static async Task<(StrongSwan Peer, ConcentratorProcess Gateway)> StartStrongSwanInitiatorCaseAsync(InteropScope scope, string fragmentation,
        bool encap = false)
    {
        var bed = scope.Bed;
        FragmentFilter.Install(bed.Peer, NamespaceTestbed.PeerDevice, bed.WorkDir);
        FragmentFilter.Install(bed.Gateway, NamespaceTestbed.GatewayOuterDevice, bed.WorkDir);

        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer"));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics());
        await peer.LoadAsync(SwanctlConf.Connection("gw", bed.PeerOuter, NamespaceTestbed.GatewayOuter, SwanctlConf.PeerId, SwanctlConf.GatewayId,
            "aes256gcm16-prfsha256-ecp256", "net", $"{NamespaceTestbed.PeerInner}/32, {ManyPrefixes(yaml: false)}", NamespaceTestbed.LanSubnet, Esp));
        string yaml = ConcentratorYaml.Connection(NamespaceTestbed.GatewayOuter, "%any", SwanctlConf.GatewayId, SwanctlConf.PeerId,
            "aes256gcm16-prfsha256-ecp256", Esp, NamespaceTestbed.LanSubnet, $"{NamespaceTestbed.PeerInnerSubnet}, {CoveringPrefix(yaml: true)}",
            encap: encap);
        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"), WithFragmentation(yaml, fragmentation),
            scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics());
        return (peer, gateway);
    }

    /// <summary>We initiate (AES-CBC with HMAC, padded per fragment): our IKE_AUTH request goes as fragments, strongSwan answers in fragments.</summary>
    [Fact(Timeout = 120_000)]
    [Trait("Category", "Root")]
    public async Task Concentrator_initiator_and_StrongSwan_responder_exchange_a_large_IKE_AUTH_in_fragments_over_a_path_dropping_IP_fragments_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 80);
        var bed = scope.Bed;
        var (peer, gateway) = await StartConcentratorInitiatorCaseAsync(scope, fragmentation: "yes");

        var onPeer = await peer.WaitInstalledAsync("gw", "net", scope.Remaining(TimeSpan.FromSeconds(25)));
        Assert.True(onPeer is not null, "peer (responder): no ESTABLISHED IKE SA with an INSTALLED child");
        Assert.True(await gateway.WaitForEventAsync(ConcentratorProcess.ChildSaInstalled, scope.Remaining(TimeSpan.FromSeconds(5))),
            "the concentrator did not log Child SA installed (1003)");

        await AssertFragmentedBothWaysAsync(scope, bed, peer, gateway);
        var ping = await bed.Lan.ExecAsync(scope.Remaining(TimeSpan.FromSeconds(15)),
            "ping", "-n", "-c", "3", "-i", "0.3", "-W", "2", NamespaceTestbed.PeerInner);
        scope.Log("ping LAN -> peer inner: " + PingOutput.Summary(ping));
        Assert.True(ping.Ok, "ping through the tunnel failed: " + ping);
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }

    /// <summary>As <see cref="Without_IKE_fragmentation_the_large_IKE_AUTH_does_not_cross_the_path_dropping_IP_fragments_Root"/>
    /// with us initiating: our IKE_AUTH leaves whole, as IP fragments the filter at strongSwan's end drops.</summary>
    [Fact(Timeout = 120_000)]
    [Trait("Category", "Root")]
    public async Task Without_IKE_fragmentation_our_large_IKE_AUTH_does_not_cross_the_path_dropping_IP_fragments_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 80);
        var bed = scope.Bed;
        var (peer, gateway) = await StartConcentratorInitiatorCaseAsync(scope, fragmentation: "no");

        var onPeer = await peer.WaitInstalledAsync("gw", "net", scope.Remaining(TimeSpan.FromSeconds(10)));
        Assert.True(onPeer is null, "the SA came up although IKE fragmentation was off: the filter let IP fragments through");
        long droppedAtPeer = FragmentFilter.Dropped(bed.Peer, NamespaceTestbed.PeerDevice);
        string metrics = await GatewayMetrics.ScrapeAsync(bed.Gateway);
        double sent = GatewayMetrics.Sum(metrics, "concentrator_ike_fragments_sent_total");
        scope.Log($"IP fragments dropped at the peer: {droppedAtPeer}; IKE fragments sent: {sent}");
        Assert.True(droppedAtPeer >= 2, $"{droppedAtPeer} IP fragments dropped at the peer: our IKE_AUTH did not leave as IP fragments");
        Assert.Equal(0, sent);
        Assert.Contains("IKE_SA_INIT", peer.Log());
        Assert.DoesNotMatch(Received(), peer.Log());
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.IkeSaEstablished));
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }

    /// <summary>We (AES-CBC with HMAC) initiate a site connection announcing 40 IPv6 prefixes with <paramref name="fragmentation"/>
    /// to strongSwan as responder, both ends behind the fragment filter.</summary>
    private static async Task<(StrongSwan Peer, ConcentratorProcess Gateway)> StartConcentratorInitiatorCaseAsync(InteropScope scope, string fragmentation)
    {
        var bed = scope.Bed;
        FragmentFilter.Install(bed.Peer, NamespaceTestbed.PeerDevice, bed.WorkDir);
        FragmentFilter.Install(bed.Gateway, NamespaceTestbed.GatewayOuterDevice, bed.WorkDir);

        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer"));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics());
        await peer.LoadAsync(SwanctlConf.Connection("gw", bed.PeerOuter, "%any", SwanctlConf.PeerId, SwanctlConf.GatewayId,
            "aes256-sha256-modp2048", "net", NamespaceTestbed.PeerInnerSubnet, $"{NamespaceTestbed.LanSubnet}, {CoveringPrefix(yaml: false)}", "aes256-sha256"));
        string yaml = ConcentratorYaml.Connection(NamespaceTestbed.GatewayOuter, bed.PeerOuter, SwanctlConf.GatewayId, SwanctlConf.PeerId,
            "aes256-sha256-modp2048", "aes256-sha256", $"{NamespaceTestbed.LanSubnet}, {ManyPrefixes(yaml: true)}", NamespaceTestbed.PeerInnerSubnet,
            startAction: "start", name: "site");
        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"), WithFragmentation(yaml, fragmentation),
            scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics());
        return (peer, gateway);
    }

    /// <summary>The harness's connection with swanctl's <c>fragmentation</c> set (after the harness's <c>encap</c> line).</summary>
    private static string WithFragmentation(string yaml, string fragmentation)
    {
        string encap = yaml.Contains("    encap: yes\n", StringComparison.Ordinal) ? "    encap: yes\n" : "    encap: no\n";
        Assert.Contains(encap, yaml);
        return yaml.Replace(encap, encap + $"    fragmentation: {fragmentation}\n");
    }

    /// <summary>
    /// strongSwan split a message of more than <see cref="LargestUnfragmented"/> octets and reassembled ours; we sent and
    /// reassembled fragments (metrics); and not one IP fragment reached either filter, so nothing got through any other way.
    /// </summary>
    private static async Task AssertFragmentedBothWaysAsync(InteropScope scope, NamespaceTestbed bed, StrongSwan peer, ConcentratorProcess gateway)
    {
        string log = peer.Log();
        var splits = Splitting().Matches(log).Select(m => int.Parse(m.Groups["bytes"].Value, CultureInfo.InvariantCulture)).ToList();
        scope.Log($"strongSwan split messages of {string.Join(", ", splits)} octets; reassembled: {Reassembled().Matches(log).Count}");
        Assert.Contains(splits, s => s > LargestUnfragmented);
        Assert.Matches(Received(), log);
        Assert.True(Reassembled().IsMatch(log), "strongSwan did not reassemble a fragmented message of ours");

        string metrics = await GatewayMetrics.ScrapeAsync(bed.Gateway);
        double sent = GatewayMetrics.Sum(metrics, "concentrator_ike_fragments_sent_total");
        double received = GatewayMetrics.Sum(metrics, "concentrator_ike_fragments_received_total");
        double reassembled = GatewayMetrics.Sum(metrics, "concentrator_ike_messages_reassembled_total");
        scope.Log($"concentrator: {sent} fragments sent, {received} received, {reassembled} messages reassembled");
        Assert.True(sent >= 2, "the concentrator sent no fragmented message");
        Assert.True(received >= 2 && reassembled >= 1, "the concentrator reassembled no fragmented message");

        long droppedAtPeer = FragmentFilter.Dropped(bed.Peer, NamespaceTestbed.PeerDevice);
        long droppedAtGateway = FragmentFilter.Dropped(bed.Gateway, NamespaceTestbed.GatewayOuterDevice);
        long oversizeAtPeer = FragmentFilter.Oversized(bed.Peer, NamespaceTestbed.PeerDevice);
        long oversizeAtGateway = FragmentFilter.Oversized(bed.Gateway, NamespaceTestbed.GatewayOuterDevice);
        scope.Log($"IP fragments dropped: {droppedAtPeer} at the peer, {droppedAtGateway} at the gateway; IKE datagrams over " +
                  $"{FragmentFilter.FragmentSize} octets: {oversizeAtPeer} from us, {oversizeAtGateway} from strongSwan");
        Assert.Equal(0, droppedAtPeer);
        Assert.Equal(0, droppedAtGateway);
        // Each side's fragments fit charon.fragment_size (1280, both defaults) as whole IP datagrams, the non-ESP marker counted on 4500.
        Assert.Equal(0, oversizeAtPeer);
        Assert.Equal(0, oversizeAtGateway);
    }

    [GeneratedRegex(@"splitting IKE message \((?<bytes>\d+) bytes\) into \d+ fragments")]
    private static partial Regex Splitting();

    [GeneratedRegex(@"sending packet: from \S+ to \S+ \((?<bytes>\d+) bytes\)")]
    private static partial Regex SendingPacket();

    [GeneratedRegex(@"received fragment #\d+ of \d+")]
    private static partial Regex Received();

    [GeneratedRegex(@"reassembled fragmented IKE message")]
    private static partial Regex Reassembled();
}
