using System.Buffers.Binary;
using System.Net;
using Akka.Actor;
using Concentrator.Actors;
using Concentrator.Cluster.Replication;
using Concentrator.DataPlane;
using Concentrator.Ipsec;
using Concentrator.Telemetry;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Support;
using Concentrator.Tests.Telemetry;
using Xunit.Abstractions;


namespace Concentrator.Tests.Cluster.Replication;

/// <summary>
/// Three clustered gateways in this process (real Akka remoting and Distributed Data on loopback, in-memory data
/// planes) and one peer: an SA negotiated on node a moves to the node its peer's ESP reaches, without renegotiation.
/// ESP is handed to a node's data plane directly, as the load balancer in front of the cluster would deliver it.
/// </summary>
public sealed class SaMobilityTests(ITestOutputHelper output)
{
    private static readonly IPAddress PeerInner = IPAddress.Parse("10.200.1.1");
    private static readonly IPAddress LanHost = IPAddress.Parse("10.10.0.1");

    [Fact]
    public async Task Esp_arriving_at_another_node_moves_the_sa_there_and_traffic_continues_without_renegotiation()
    {
        await using var cluster = await StartClusterWithPeerAsync();
        var (nodes, peer) = (cluster.Nodes, cluster.Peer);
        var (a, b) = (nodes[0], nodes[1]);
        var (peerSpi, gatewaySpi) = await EstablishAsync(peer, a, nodes);

        // The peer's ESP reaches b: the first packet finds no SA there and asks for it; a releases it to b.
        var first = Seal(peer, peerSpi, 1);
        Assert.Equal(EspStatus.UnknownSpi, Plane(b).Decapsulate(first, out _));
        await Eventually.TrueAsync(() => Plane(b).InstalledCount == 1 && Plane(a).InstalledCount == 0, "the Child SA moved from a to b", 10);
        Assert.Equal(EspStatus.Ok, Plane(b).Decapsulate(Seal(peer, peerSpi, 2), out _));

        // b's outbound sequence numbers continue past everything a may have sent.
        var reply = new byte[2048];
        var inner = Packets.Ipv4Udp(LanHost, PeerInner, 100);
        Assert.Equal(EspStatus.Ok, Plane(b).Encapsulate(gatewaySpi, inner, reply, out int written));
        Assert.True(BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(4)) > ClusterMobility.SequenceMargin, "sequence number jumped past the margin");
        Assert.Equal(EspStatus.Ok, peer.DataPlane.Decapsulate(reply.AsSpan(0, written), out _));

        var mb = await b.ScrapeAsync();
        var ma = await a.ScrapeAsync();
        Assert.Equal(1, mb.Sum("concentrator_cluster_sa_adoptions_total", ("outcome", "adopted")));
        Assert.Equal(1, ma.Sum("concentrator_cluster_sa_releases_total", ("reason", "moved")));
        Assert.Equal(1, await b.Gateway.CountSasAsync());
        Assert.Equal(0, await a.Gateway.CountSasAsync());

        // Nobody negotiated anything new. (IKE from b is not exercised here: without a NAT the peer answers the
        // address it negotiated with; FailoverRootTests moves a peer's whole 5-tuple through a real balancer.)
        Assert.Single(peer.Events.Up);
        Assert.Empty(peer.Events.Down);
        double inits = 0;
        foreach (var n in nodes) inits += (await n.ScrapeAsync()).Sum("concentrator_ike_messages_received_total", ("exchange", "ike_sa_init"));
        Assert.Equal(1, inits);
    }

    [Fact]
    public async Task Esp_that_does_not_authenticate_with_the_sas_keys_moves_nothing()
    {
        await using var cluster = await StartClusterWithPeerAsync();
        var (nodes, peer) = (cluster.Nodes, cluster.Peer);
        var (a, b) = (nodes[0], nodes[1]);
        var (peerSpi, gatewaySpi) = await EstablishAsync(peer, a, nodes);
        Assert.True(b.Gateway.Replicas!.TryGetIkeSpiOfEsp(gatewaySpi, out var ikeSpi));

        // a receives the peer's first packet and replicates its SA again: the replica's inbound mark is now 1.
        var seen = Seal(peer, peerSpi, 1);
        Assert.Equal(EspStatus.Ok, Plane(a).Decapsulate(seen.ToArray(), out _));
        (await SaActorAsync(a)).Tell(IkeSaActor.ReplicateNow.Instance);
        await Eventually.TrueAsync(() => b.Gateway.Replicas.TryGet(ikeSpi, out var e) && e.TryCopySnapshot(out var bytes) && FloorOf(bytes, gatewaySpi) == 1,
            "b's replica records the mark a reached", 10);

        // Forged: the SA's SPI with bytes nobody keyed. Replayed: a packet the holder already took. Neither authenticates.
        var forged = (byte[])seen.Clone();
        forged.AsSpan(8).Fill(0x5a);
        Assert.Equal(EspStatus.UnknownSpi, Plane(b).Decapsulate(forged, out _));
        await Task.Delay(SpiReportLimiter.Interval + TimeSpan.FromMilliseconds(50)); // the data plane reports an SPI at most this often
        Assert.Equal(EspStatus.UnknownSpi, Plane(b).Decapsulate(seen.ToArray(), out _));
        await Task.Delay(SaMobilityActor.ReleaseWait * 3);
        Assert.Equal(1, Plane(a).InstalledCount);
        Assert.Equal(0, Plane(b).InstalledCount);
        Assert.Equal(0, (await a.ScrapeAsync()).Sum("concentrator_cluster_sa_releases_total"));
        var mb = await b.ScrapeAsync();
        Assert.Equal(0, mb.Sum("concentrator_cluster_sa_adoptions_total", ("outcome", "adopted")));
        Assert.Equal(2, mb.Sum("concentrator_cluster_sa_adoptions_total", ("outcome", "unauthenticated")));

        // The peer's next genuine packet moves it.
        await Task.Delay(SpiReportLimiter.Interval + TimeSpan.FromMilliseconds(50));
        Assert.Equal(EspStatus.UnknownSpi, Plane(b).Decapsulate(Seal(peer, peerSpi, 2), out _));
        await Eventually.TrueAsync(() => Plane(b).InstalledCount == 1 && Plane(a).InstalledCount == 0, "the Child SA moved from a to b", 10);
        // Restored with every number up to the mark seen: the packet a took cannot be replayed to b.
        Assert.Equal(EspStatus.Replay, Plane(b).Decapsulate(seen.ToArray(), out _));
        Assert.Single(peer.Events.Up);
    }

    [Fact]
    public async Task An_ike_message_that_does_not_authenticate_with_the_sas_keys_moves_nothing()
    {
        await using var cluster = await StartClusterWithPeerAsync();
        var (nodes, peer) = (cluster.Nodes, cluster.Peer);
        var (a, b) = (nodes[0], nodes[1]);
        var (_, gatewaySpi) = await EstablishAsync(peer, a, nodes);
        Assert.True(b.Gateway.Replicas!.TryGetIkeSpiOfEsp(gatewaySpi, out var spiR));
        ulong spiI = (await (await SaActorAsync(peer)).Ask<IkeSaActor.Info>(IkeSaActor.GetInfo.Instance, TimeSpan.FromSeconds(5))).Spi;

        // An INFORMATIONAL request of the peer's as far as the header goes (both SPIs are on the wire), its SK payload junk.
        var datagram = new byte[28 + 4 + 16 + 32 + 16];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(datagram, spiI);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(datagram.AsSpan(8), spiR);
        datagram[16] = 46; // SK
        datagram[17] = 0x20;
        datagram[18] = 37; // INFORMATIONAL
        datagram[19] = 0x08; // initiator, request
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(datagram.AsSpan(20), 7);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(datagram.AsSpan(24), (uint)datagram.Length);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(30), (ushort)(datagram.Length - 28));
        new Random(3).NextBytes(datagram.AsSpan(32));
        using var udp = new System.Net.Sockets.UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        for (int i = 0; i < 3; i++) await udp.SendAsync(datagram, b.Gateway.IkeEndpoint);

        await Task.Delay(SaMobilityActor.ReleaseWait * 3);
        Assert.Equal(1, Plane(a).InstalledCount);
        Assert.Equal(0, Plane(b).InstalledCount);
        Assert.Equal(1, await a.Gateway.CountSasAsync());
        Assert.Equal(0, await b.Gateway.CountSasAsync());
        Assert.Equal(0, (await a.ScrapeAsync()).Sum("concentrator_cluster_sa_releases_total"));
        Assert.True((await b.ScrapeAsync()).Sum("concentrator_cluster_sa_adoptions_total", ("outcome", "unauthenticated")) >= 1);
        Assert.Empty(peer.Events.Down);
    }

    private static async Task<IActorRef> SaActorAsync(ClusterTestNode node) => await SaActorAsync(node.Gateway);

    private static async Task<IActorRef> SaActorAsync(TestGateway peer) => await SaActorAsync(peer.Gateway);

    private static async Task<IActorRef> SaActorAsync(Concentrator.Hosting.Gateway gateway) =>
        (await gateway.Supervisor.Ask<List<IActorRef>>(IkeSaSupervisor.GetSas.Instance, TimeSpan.FromSeconds(5))).Single();

    /// <summary>The inbound sequence mark of child <paramref name="inboundSpi"/> in an encoded snapshot (-1: none).</summary>
    private static long FloorOf(byte[] encoded, uint inboundSpi)
    {
        if (IkeSaSnapshotCodec.TryDecode(encoded, out var snapshot) != ParseStatus.Ok) return -1;
        using (snapshot)
        {
            return snapshot!.Children.FirstOrDefault(c => c.InboundSpi == inboundSpi) is { } child ? (long)child.InboundSequenceFloor : -1;
        }
    }

    [Fact]
    public async Task A_node_that_leaves_hands_its_sas_off_and_the_node_the_peer_reaches_next_adopts_them_at_once()
    {
        await using var cluster = await StartClusterWithPeerAsync();
        var (nodes, peer) = (cluster.Nodes, cluster.Peer);
        var (a, c) = (nodes[0], nodes[2]);
        var (peerSpi, gatewaySpi) = await EstablishAsync(peer, a, nodes);
        ulong ikeSpi = c.Gateway.Replicas!.TryGetIkeSpiOfEsp(gatewaySpi, out var s) ? s : 0;
        Assert.NotEqual(0UL, ikeSpi);

        // a leaves (SIGTERM in a rolling restart): no Delete reaches the peer, the replica marks the SA released.
        await a.Gateway.ShutdownAsync(TimeSpan.FromSeconds(10));
        await Eventually.TrueAsync(() => c.Gateway.Replicas!.TryGet(ikeSpi, out var e) && e.Released, "c sees the SA released", 10);
        Assert.Empty(peer.Events.Down);

        // The peer's ESP now reaches c, which adopts from the replica without asking anybody.
        Assert.Equal(EspStatus.UnknownSpi, Plane(c).Decapsulate(Seal(peer, peerSpi, 1), out _));
        await Eventually.TrueAsync(() => Plane(c).InstalledCount == 1, "c adopted the Child SA", 3);
        Assert.Equal(EspStatus.Ok, Plane(c).Decapsulate(Seal(peer, peerSpi, 2), out _));
        Assert.Equal(1, (await c.ScrapeAsync()).Sum("concentrator_cluster_sa_adoptions_total", ("outcome", "adopted")));
        Assert.True(c.Gateway.Replicas!.TryGet(ikeSpi, out var adopted) && !adopted.Released && adopted.Epoch == 2,
            "the adopter replicated the SA under the next epoch");
        Assert.Single(peer.Events.Up);
    }

    [Fact]
    public async Task When_the_holder_does_not_answer_the_node_the_esp_reaches_restores_the_replica_and_the_old_holder_is_fenced()
    {
        await using var cluster = await StartClusterWithPeerAsync();
        var (nodes, peer) = (cluster.Nodes, cluster.Peer);
        var (a, b) = (nodes[0], nodes[1]);
        var (peerSpi, gatewaySpi) = await EstablishAsync(peer, a, nodes);
        Assert.True(b.Gateway.Replicas!.TryGetIkeSpiOfEsp(gatewaySpi, out var ikeSpi));
        Assert.True(b.Gateway.Replicas.TryGet(ikeSpi, out var entry));

        // As b sees it, the holder is a node that no longer answers (a crashed member): its release request goes
        // nowhere, so b restores the SA from its replica after the release wait. a, alive after all, must stop its copy.
        b.Gateway.Replicas.Set(ikeSpi, entry with { Owner = "akka.tcp://concentrator@127.0.0.1:9" });
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal(EspStatus.UnknownSpi, Plane(b).Decapsulate(Seal(peer, peerSpi, 1), out _));
        await Eventually.TrueAsync(() => Plane(b).InstalledCount == 1, "b restored the Child SA from its replica", 5);
        output.WriteLine($"adopted from the replica {clock.ElapsedMilliseconds} ms after the first ESP packet");
        Assert.True(clock.Elapsed >= SaMobilityActor.ReleaseWait, "b waited for the holder before using the replica");
        Assert.Equal(EspStatus.Ok, Plane(b).Decapsulate(Seal(peer, peerSpi, 2), out _));

        await Eventually.TrueAsync(() => Plane(a).InstalledCount == 0, "a's copy was fenced off by b's newer epoch", 10);
        Assert.Equal(1, (await a.ScrapeAsync()).Sum("concentrator_cluster_sa_releases_total", ("reason", "fenced")));
        Assert.Equal(0, await a.Gateway.CountSasAsync());
        Assert.True(a.Gateway.Replicas!.TryGet(ikeSpi, out var seenByA) && seenByA.Owner == b.Gateway.ClusterNode!.SelfAddress.ToString() && seenByA.Epoch == 2);

        var reply = new byte[2048];
        Assert.Equal(EspStatus.Ok, Plane(b).Encapsulate(gatewaySpi, Packets.Ipv4Udp(LanHost, PeerInner, 64), reply, out int written));
        Assert.True(BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(4)) > ClusterMobility.SequenceMargin);
        Assert.Equal(EspStatus.Ok, peer.DataPlane.Decapsulate(reply.AsSpan(0, written), out _));
        Assert.Single(peer.Events.Up);
        Assert.Empty(peer.Events.Down);
    }

    [Fact]
    public async Task When_a_node_dies_without_a_hand_off_one_survivor_adopts_its_idle_sa_and_runs_its_dpd()
    {
        // dpd_delay on the gateways: the adopted SA's timers must run on its new node although its peer sends nothing.
        await using var cluster = await StartClusterWithPeerAsync(DpdDelay);
        var (nodes, peer) = (cluster.Nodes, cluster.Peer);
        var (a, b, c) = (nodes[0], nodes[1], nodes[2]);
        var (_, gatewaySpi) = await EstablishAsync(peer, a, nodes);
        Assert.True(b.Gateway.Replicas!.TryGetIkeSpiOfEsp(gatewaySpi, out var ikeSpi));
        string aOwner = a.Gateway.ClusterNode!.SelfAddress.ToString();
        Assert.True(b.Gateway.Replicas.TryGet(ikeSpi, out var before) && before.Owner == aOwner && before.Epoch == 1 && !before.Released);

        // The survivors split a dead member's SAs by SPI modulo their count, in the ordinal order of their addresses.
        var survivors = new[] { b, c }.OrderBy(n => n.Gateway.ClusterNode!.SelfAddress.ToString(), StringComparer.Ordinal).ToArray();
        var adopter = survivors[(int)(ikeSpi % 2)];
        var other = survivors[1 - (int)(ikeSpi % 2)];
        string adopterOwner = adopter.Gateway.ClusterNode!.SelfAddress.ToString();

        // a is downed as a failure detector (or an operator) would down a crashed node: no HandOffAll, nothing
        // released; a finds itself Down and shuts its actor system down. From here on the peer sends nothing.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Akka.Cluster.Cluster.Get(b.Gateway.System).Down(a.Gateway.ClusterNode.SelfAddress);
        await Eventually.TrueAsync(() => a.Gateway.System.WhenTerminated.IsCompleted, "the downed node shut down", 15);
        output.WriteLine($"a terminated {clock.ElapsedMilliseconds} ms after the down");
        var peerBefore = await PeerMetricsAsync(peer); // a's own DPD probes, if any, are counted in here
        // Its SA actors stopped without removing their replicas (its replicator stops with the cluster, before the
        // user actors): the entry outlives the node. Until a is removed it may still name a, then the adopter.
        Assert.True(other.Gateway.Replicas!.TryGet(ikeSpi, out var orphan) && (orphan.Owner == aOwner || orphan.Owner == adopterOwner),
            "the dead node's replica entry survives it");
        await Eventually.TrueAsync(() => Plane(adopter).InstalledCount == 1, "the Child SA is installed on the adopter", 15);
        output.WriteLine($"orphan adopted by {adopterOwner} {clock.ElapsedMilliseconds} ms after the down");
        Assert.Equal(0, Plane(other).InstalledCount);

        var ma = await adopter.ScrapeAsync();
        var mo = await other.ScrapeAsync();
        Assert.Equal(1, ma.Sum("concentrator_cluster_sa_adoptions_total", ("outcome", "adopted")));
        Assert.Equal(0, ma.Sum("concentrator_cluster_sa_adoptions_total", ("outcome", "failed")));
        Assert.Equal(0, mo.Sum("concentrator_cluster_sa_adoptions_total"));
        Assert.Equal(1, await adopter.Gateway.CountSasAsync());
        Assert.Equal(0, await other.Gateway.CountSasAsync());
        // Nothing from the peer reached either survivor: the adoption came from the membership change alone.
        Assert.Equal(0, ma.Sum("concentrator_ike_messages_received_total") + mo.Sum("concentrator_ike_messages_received_total"));
        Assert.Equal(0, ma.Sum("concentrator_esp_packets_total", ("direction", "in")) + mo.Sum("concentrator_esp_packets_total", ("direction", "in")));

        // The adopter replicates it under the next epoch as its owner; the other survivor sees that.
        Assert.True(adopter.Gateway.Replicas!.TryGet(ikeSpi, out var mine) && mine.Owner == adopterOwner && mine.Epoch == 2 && !mine.Released);
        await Eventually.TrueAsync(() => other.Gateway.Replicas!.TryGet(ikeSpi, out var seen) && seen.Owner == adopterOwner && seen.Epoch == 2,
            "the other survivor sees the adopter own the SA under epoch 2", 10);

        // Its DPD runs on the adopter: an idle SA is probed between dpd_delay and 1.5 x dpd_delay after the restore.
        await Eventually.TrueAsync(async () => (await adopter.ScrapeAsync()).Sum("concentrator_ike_dpd_probes_total") >= 1,
            "the adopter sent a DPD probe", DpdDelay.TotalSeconds * 1.5 + 5);
        output.WriteLine($"first DPD probe from the adopter {clock.ElapsedMilliseconds} ms after the down");
        Assert.True((await adopter.ScrapeAsync()).Sum("concentrator_ike_messages_sent_total", ("exchange", "informational")) >= 1);
        Assert.Equal(0, (await other.ScrapeAsync()).Sum("concentrator_ike_dpd_probes_total"));
        // The probe is a valid request of this IKE SA (the restored keys and message IDs continue a's): the peer
        // accepts and answers it. It answers the address it negotiated with (a's; no NAT here, so it does not follow
        // the request's source, RFC 7296 §2.23), so the adopter itself never sees the answer: behind the cluster's
        // load balancer that address is the service's, which FailoverRootTests covers.
        double Informational(MetricsText m, string family) => m.Sum(family, ("exchange", "informational"));
        await Eventually.TrueAsync(async () =>
        {
            var mp = await PeerMetricsAsync(peer);
            return Informational(mp, "concentrator_ike_messages_received_total") > Informational(peerBefore, "concentrator_ike_messages_received_total") &&
                   Informational(mp, "concentrator_ike_messages_sent_total") > Informational(peerBefore, "concentrator_ike_messages_sent_total");
        }, "the peer received and answered the adopter's DPD probe", 5);
        var peerAfter = await PeerMetricsAsync(peer);
        Assert.Equal(0, peerAfter.Sum("concentrator_ike_messages_dropped_total"));
        Assert.Equal(0, peerAfter.Sum("concentrator_ike_malformed_messages_total"));

        // No renegotiation and no teardown as the peer sees it.
        Assert.Single(peer.Events.Up);
        Assert.Empty(peer.Events.Down);
        Assert.Equal(0, (await adopter.ScrapeAsync()).Sum("concentrator_ike_messages_received_total", ("exchange", "ike_sa_init")));
    }

    [Fact]
    public async Task Two_nodes_adopting_the_same_sa_at_once_leave_exactly_one_holder()
    {
        await using var cluster = await StartClusterWithPeerAsync();
        var (nodes, peer) = (cluster.Nodes, cluster.Peer);
        var (a, b, c) = (nodes[0], nodes[1], nodes[2]);
        var (_, gatewaySpi) = await EstablishAsync(peer, a, nodes);
        Assert.True(b.Gateway.Replicas!.TryGetIkeSpiOfEsp(gatewaySpi, out var ikeSpi));

        // Survivors whose views of the Up members differ when a member is removed (another joins meanwhile) may both
        // pick the same orphan: both restore it under epoch 2. The tie must leave one holder, not fence both.
        b.Gateway.Supervisor.Tell(new IkeSaSupervisor.AdoptOrphan(ikeSpi));
        c.Gateway.Supervisor.Tell(new IkeSaSupervisor.AdoptOrphan(ikeSpi));
        await Eventually.TrueAsync(() => Plane(a).InstalledCount == 0, "a's copy was fenced by epoch 2", 10);
        await Task.Delay(2000); // replication settles (WriteAll, 100 ms notifications)
        int holders = 0;
        foreach (var n in nodes) holders += await n.Gateway.CountSasAsync();
        output.WriteLine($"holders after a concurrent adoption: b {Plane(b).InstalledCount}, c {Plane(c).InstalledCount}");
        Assert.Equal(1, holders);
        Assert.Equal(1, Plane(b).InstalledCount + Plane(c).InstalledCount);
        var holder = Plane(b).InstalledCount == 1 ? b : c;
        string owner = holder.Gateway.ClusterNode!.SelfAddress.ToString();
        foreach (var n in nodes)
        {
            Assert.True(n.Gateway.Replicas!.TryGet(ikeSpi, out var e) && e.Owner == owner && e.Epoch == 2, "every member's replica names the holder");
        }
        Assert.Single(peer.Events.Up);
        Assert.Empty(peer.Events.Down);
    }

    [Fact]
    public async Task Two_nodes_adopting_the_same_sa_at_once_never_seal_one_sequence_number_twice_under_its_key()
    {
        await using var cluster = await StartClusterWithPeerAsync();
        var (nodes, peer) = (cluster.Nodes, cluster.Peer);
        var (a, b, c) = (nodes[0], nodes[1], nodes[2]);
        var (_, gatewaySpi) = await EstablishAsync(peer, a, nodes);
        Assert.True(b.Gateway.Replicas!.TryGetIkeSpiOfEsp(gatewaySpi, out var ikeSpi));

        // Every node seals outbound ESP of the SA (same key everywhere) as fast as it can while b and c both take the SA
        // over from the same replica at the same moment (as survivors with different views of a removed member would).
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(6));
        var sealers = nodes.Select(n => Task.Run(() => SealWhileRunning(Plane(n), gatewaySpi, stop.Token))).ToArray();
        await Task.Delay(200);
        b.Gateway.Supervisor.Tell(new IkeSaSupervisor.AdoptOrphan(ikeSpi));
        c.Gateway.Supervisor.Tell(new IkeSaSupervisor.AdoptOrphan(ikeSpi));
        var sealedBy = await Task.WhenAll(sealers);

        var names = new[] { "a", "b", "c" };
        for (int x = 0; x < 3; x++)
        {
            output.WriteLine($"{names[x]} sealed {sealedBy[x].Count} packets" + (sealedBy[x].Count > 0 ? $", sequence numbers {sealedBy[x].Min()}..{sealedBy[x].Max()}" : ""));
        }
        for (int x = 0; x < 3; x++)
        {
            for (int y = x + 1; y < 3; y++)
            {
                var both = sealedBy[x].Intersect(sealedBy[y]).ToList();
                Assert.True(both.Count == 0, $"{names[x]} and {names[y]} both sealed sequence number {both.FirstOrDefault()} (and {both.Count - 1} more) under the SA's key");
            }
        }
        foreach (var (n, name) in new[] { (b, "b"), (c, "c") })
        {
            var m = await n.ScrapeAsync();
            output.WriteLine($"{name}: " + string.Join(", ", ConcentratorMetrics.AdoptionOutcomes.Select(o => $"{o} {m.Sum("concentrator_cluster_sa_adoptions_total", ("outcome", o))}")));
        }
        Assert.NotEmpty(sealedBy[0]);
        Assert.True(sealedBy[1].Count + sealedBy[2].Count > 0, "an adopter took the SA over and sent");
        await Eventually.TrueAsync(() => Plane(a).InstalledCount == 0, "a's copy was fenced", 10);
    }

    /// <summary>Seals outbound packets of <paramref name="spi"/>'s SA on <paramref name="plane"/> until cancelled; the
    /// sequence numbers of those sealed (none while the node does not hold the SA).</summary>
    private static HashSet<uint> SealWhileRunning(InMemoryDataPlane plane, uint spi, CancellationToken stop)
    {
        var sealedNumbers = new HashSet<uint>();
        var wire = new byte[2048];
        var inner = Packets.Ipv4Udp(LanHost, PeerInner, 64);
        while (!stop.IsCancellationRequested)
        {
            if (plane.Encapsulate(spi, inner, wire, out _) == EspStatus.Ok) sealedNumbers.Add(BinaryPrimitives.ReadUInt32BigEndian(wire.AsSpan(4)));
            else Thread.Sleep(1);
            Thread.SpinWait(2000);
        }
        return sealedNumbers;
    }

    [Fact]
    public async Task An_sa_restored_from_its_replica_after_the_peers_nat_rebound_sends_to_the_new_mapping()
    {
        var nodes = await StartClusterAsync();
        var (a, b) = (nodes[0], nodes[1]);
        // The peer sits behind a NAT in front of node a; its NAT-T socket's mapping is the SA's remote endpoint.
        var nat = UdpNat.Start(a.Gateway.IkeEndpoint, new IPEndPoint(IPAddress.Loopback, a.Gateway.Transports[0].NattPort));
        var peer = TestGateway.Start(TestGateway.InitiatorYaml().Replace("    remote_addrs: [127.0.0.1]\n",
            $"    remote_addrs: [127.0.0.1]\n    remote_port: {nat.Endpoint.Port}\n"), name: "peer");
        await using var cluster = new ClusterWithPeer(nodes, peer);
        await using var natScope = nat;
        var peerNatt = new IPEndPoint(IPAddress.Loopback, peer.Gateway.Transports[0].NattPort);
        peer.Initiate("site", nat.Endpoint);
        await Eventually.TrueAsync(() => peer.Events.Up.Count == 1 && Plane(a).InstalledCount == 1, "the tunnel is up on a through the NAT", 15);
        var peerSa = (await peer.Gateway.Supervisor.Ask<List<IActorRef>>(IkeSaSupervisor.GetSas.Instance, TimeSpan.FromSeconds(5))).Single();
        var child = (await peerSa.Ask<IkeSaActor.Info>(IkeSaActor.GetInfo.Instance, TimeSpan.FromSeconds(5))).Children.Single();
        var (peerSpi, gatewaySpi) = (child.InboundSpi, child.OutboundSpi);
        await Eventually.TrueAsync(() => b.Gateway.Replicas!.TryGetIkeSpiOfEsp(gatewaySpi, out _), "b holds the replica", 10);
        Assert.True(b.Gateway.Replicas!.TryGetIkeSpiOfEsp(gatewaySpi, out var ikeSpi));
        var before = nat.MappingOf(peerNatt)!;
        Assert.Equal(before, RemoteOf(Plane(a), gatewaySpi));

        // The NAT rebinds; the peer's next request (a DPD) arrives from the new mapping: a's SA and its child follow, and
        // the replica records it.
        nat.Rebind();
        peerSa.Tell(IkeSaActor.SendDpd.Instance);
        await Eventually.TrueAsync(() => nat.MappingOf(peerNatt) is { } m && !m.Equals(before), "the DPD left through a new mapping", 5);
        var after = nat.MappingOf(peerNatt)!;
        await Eventually.TrueAsync(() => after.Equals(RemoteOf(Plane(a), gatewaySpi)), "a's Child SA sends to the new mapping", 5);
        await Eventually.TrueAsync(() => ReplicatedRemote(b, ikeSpi) is { } r && r.Equals(after), "b's replica holds the new mapping", 10);

        // a stops answering (as b sees it): the peer's ESP reaches b, which restores the SA from its replica.
        Assert.True(b.Gateway.Replicas.TryGet(ikeSpi, out var entry));
        b.Gateway.Replicas.Set(ikeSpi, entry with { Owner = "akka.tcp://concentrator@127.0.0.1:9" });
        Assert.Equal(EspStatus.UnknownSpi, Plane(b).Decapsulate(Seal(peer, peerSpi, 1), out _));
        await Eventually.TrueAsync(() => Plane(b).InstalledCount == 1, "b restored the Child SA from its replica", 5);
        Assert.Equal(after, RemoteOf(Plane(b), gatewaySpi));
        Assert.Single(peer.Events.Up);
        Assert.Empty(peer.Events.Down);
    }

    private static IPEndPoint? RemoteOf(InMemoryDataPlane plane, uint spi) => plane.TryGetSa(spi, out var sa) ? sa.RemoteEndpoint : null;

    private static IPEndPoint? ReplicatedRemote(ClusterTestNode node, ulong ikeSpi)
    {
        if (!node.Gateway.Replicas!.TryGet(ikeSpi, out var entry)) return null;
        if (IkeSaSnapshotCodec.TryDecode(entry.Snapshot.Span, out var snapshot) != ParseStatus.Ok) return null;
        using (snapshot) return snapshot!.Remote;
    }

    [Fact]
    public async Task A_lone_node_replicates_nothing_until_a_second_member_comes_up_and_then_everything()
    {
        int pa = FreePorts.Tcp(), pb = FreePorts.Tcp();
        string seeds = $"[{ClusterTestNode.Seed(pa)}]";
        var nodes = new List<ClusterTestNode> { await ClusterTestNode.StartAsync($"cluster: {{ port: {pa}, seed_nodes: {seeds} }}", "a") };
        await using var peer = TestGateway.Start(TestGateway.InitiatorYaml(), name: "peer");
        try
        {
            var a = nodes[0];
            await Eventually.TrueAsync(() => a.Gateway.Ready, "a is Up", 30);
            peer.Initiate("site", a.Gateway.IkeEndpoint);
            await Eventually.TrueAsync(() => peer.Events.Up.Count == 1 && Plane(a).InstalledCount == 1, "the tunnel is up on a", 15);
            await Task.Delay(500);
            Assert.True(a.Gateway.Replicas!.Alone);
            Assert.Equal(0, a.Gateway.Replicas.Count); // alone: no snapshot taken, nothing written

            nodes.Add(await ClusterTestNode.StartAsync($"cluster: {{ port: {pb}, seed_nodes: {seeds} }}", "b"));
            var b = nodes[1];
            await Eventually.TrueAsync(() => b.Gateway.Replicas!.Count == 1, "b received the SA a took alone", 30);
            Assert.False(a.Gateway.Replicas.Alone);
            Assert.Equal(1, a.Gateway.Replicas.Count);
            Assert.Equal(1.0, (await b.ScrapeAsync()).Sum("concentrator_cluster_replicated_sas"));
        }
        finally
        {
            await peer.DisposeAsync();
            await Task.WhenAll(nodes.Select(n => n.DisposeAsync().AsTask()));
        }
    }

    [Fact]
    public async Task A_holder_sends_past_a_mark_only_once_every_member_has_that_mark()
    {
        // An adopter starts above the mark it holds plus the margin: the holder may go beyond its own mark plus the margin
        // only once the write that carries the mark reached every member, or an adopter holding an older mark would seal
        // the numbers the holder is sealing.
        int pa = FreePorts.Tcp(), pb = FreePorts.Tcp();
        string seeds = $"[{ClusterTestNode.Seed(pa)}]";
        var nodes = new List<ClusterTestNode>();
        await using var peer = TestGateway.Start(TestGateway.InitiatorYaml(), name: "peer");
        try
        {
            foreach (var (port, name) in new[] { (pa, "a"), (pb, "b") })
            {
                nodes.Add(await ClusterTestNode.StartAsync($"cluster: {{ port: {port}, seed_nodes: {seeds}, split_brain_resolver: off }}", name));
            }
            var (a, b) = (nodes[0], nodes[1]);
            await Eventually.TrueAsync(() => a.Gateway.Ready && b.Gateway.Ready, "a and b are Up", 40);
            var (_, gatewaySpi) = await EstablishAsync(peer, a, nodes);

            // b stays a member Up but stops acknowledging replica writes (its replicator is gone).
            Akka.DistributedData.DistributedData.Get(b.Gateway.System).Replicator.Tell(PoisonPill.Instance);
            Assert.True(Plane(a).TryGetSa(gatewaySpi, out var sa));
            const ulong below = ClusterMobility.SequenceMargin - 10;
            sa.SetLastOutboundSequenceForTest(below);
            (await SaActorAsync(a)).Tell(IkeSaActor.ReplicateNow.Instance);
            await Task.Delay(TimeSpan.FromSeconds(3)); // the write to every member times out after 2 s

            var wire = new byte[2048];
            var inner = Packets.Ipv4Udp(LanHost, PeerInner, 64);
            var statuses = Enumerable.Range(0, 20).Select(_ => Plane(a).Encapsulate(gatewaySpi, inner, wire, out int _)).ToList();
            output.WriteLine(string.Join(",", statuses));
            Assert.All(statuses.Take(10), s => Assert.Equal(EspStatus.Ok, s));
            Assert.All(statuses.Skip(10), s => Assert.Equal(EspStatus.SequenceCeiling, s));
        }
        finally
        {
            await peer.DisposeAsync();
            await Task.WhenAll(nodes.Select(n => n.DisposeAsync().AsTask()));
        }
    }

    [Fact]
    public void Replica_entries_round_trip_and_malformed_ones_are_refused()
    {
        var entry = SaReplicaEntry.Create("akka.tcp://concentrator@10.0.0.1:4053", 7, released: true, [0x1000u, 0x2000u], [1, 2, 3, 4, 5]);
        Assert.True(SaReplicaEntry.TryDecode(entry.Raw, out var decoded));
        Assert.Equal(entry.Owner, decoded!.Owner);
        Assert.Equal(7, decoded.Epoch);
        Assert.True(decoded.Released);
        Assert.Equal(new uint[] { 0x1000, 0x2000 }, decoded.EspSpis);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5 }, decoded.Snapshot.ToArray());

        // Every truncation inside the header is refused; the snapshot part is the codec's to judge.
        int header = entry.Raw.Length - 5;
        for (int n = 0; n < header; n++) Assert.False(SaReplicaEntry.TryDecode(entry.Raw[..n], out _), $"truncated to {n} bytes");
        var wrongVersion = (byte[])entry.Raw.Clone();
        wrongVersion[0] = 9;
        Assert.False(SaReplicaEntry.TryDecode(wrongVersion, out _));
        var random = new Random(7);
        for (int i = 0; i < 2000; i++)
        {
            var junk = new byte[random.Next(0, 64)];
            random.NextBytes(junk);
            SaReplicaEntry.TryDecode(junk, out _); // never throws
        }
    }

    private static async Task<MetricsText> PeerMetricsAsync(TestGateway peer) =>
        new(await MetricsEndpointTests.ExportAsync(peer.Gateway.Metrics.Registry));

    private static InMemoryDataPlane Plane(ClusterTestNode node) => (InMemoryDataPlane)node.Gateway.Options.DataPlane;

    private static readonly TimeSpan DpdDelay = TimeSpan.FromSeconds(2);

    /// <summary>Three clustered nodes and a peer gateway; disposing stops the peer, then every node.</summary>
    private sealed record ClusterWithPeer(List<ClusterTestNode> Nodes, TestGateway Peer) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Peer.DisposeAsync();
            await Task.WhenAll(Nodes.Select(n => n.DisposeAsync().AsTask()));
        }
    }

    private async Task<ClusterWithPeer> StartClusterWithPeerAsync(TimeSpan? dpdDelay = null)
    {
        var nodes = await StartClusterAsync(dpdDelay);
        return new ClusterWithPeer(nodes, TestGateway.Start(TestGateway.InitiatorYaml(), name: "peer"));
    }

    private async Task<List<ClusterTestNode>> StartClusterAsync(TimeSpan? dpdDelay = null)
    {
        string? gatewayYaml = dpdDelay is { } dpd
            ? TestGateway.ResponderYaml().Replace("local: { auth: psk, id: gw.test }", $"dpd_delay: {dpd.TotalSeconds:0}s\n    local: {{ auth: psk, id: gw.test }}")
            : null;
        int pa = FreePorts.Tcp(), pb = FreePorts.Tcp(), pc = FreePorts.Tcp();
        string seeds = $"[{ClusterTestNode.Seed(pa)}]";
        var nodes = new List<ClusterTestNode>();
        foreach (var (port, name) in new[] { (pa, "a"), (pb, "b"), (pc, "c") })
        {
            nodes.Add(await ClusterTestNode.StartAsync($"cluster: {{ port: {port}, seed_nodes: {seeds} }}", name, gatewayYaml));
        }
        foreach (var n in nodes)
        {
            await Eventually.TrueAsync(async () => (await n.ScrapeAsync()).Sum("concentrator_cluster_members", ("status", "up")) == 3,
                $"{n.Gateway.ClusterNode!.SelfAddress} sees three members Up", 40);
        }
        return nodes;
    }

    /// <summary>The peer negotiates with <paramref name="holder"/>; returns (the peer's inbound SPI, the gateway's) once every node holds the replica.</summary>
    private async Task<(uint Peer, uint Gateway)> EstablishAsync(TestGateway peer, ClusterTestNode holder, List<ClusterTestNode> nodes)
    {
        peer.Initiate("site", holder.Gateway.IkeEndpoint);
        await Eventually.TrueAsync(() => peer.Events.Up.Count == 1 && Plane(holder).InstalledCount == 1, "the tunnel is up on the holder", 15);
        var sa = (await peer.Gateway.Supervisor.Ask<List<IActorRef>>(IkeSaSupervisor.GetSas.Instance, TimeSpan.FromSeconds(5))).Single();
        var info = await sa.Ask<IkeSaActor.Info>(IkeSaActor.GetInfo.Instance, TimeSpan.FromSeconds(5));
        var child = info.Children.Single();
        foreach (var n in nodes)
        {
            await Eventually.TrueAsync(() => n.Gateway.Replicas!.TryGetIkeSpiOfEsp(child.OutboundSpi, out _), $"{n.Gateway.ClusterNode!.SelfAddress} holds the replica", 10);
        }
        output.WriteLine($"tunnel up: peer inbound SPI {child.InboundSpi:x8}, gateway inbound SPI {child.OutboundSpi:x8}");
        return (child.InboundSpi, child.OutboundSpi);
    }

    private static byte[] Seal(TestGateway peer, uint peerSpi, byte seed)
    {
        var wire = new byte[2048];
        var inner = Packets.Ipv4Udp(PeerInner, LanHost, 200, seed);
        Assert.Equal(EspStatus.Ok, peer.DataPlane.Encapsulate(peerSpi, inner, wire, out int written));
        return wire.AsSpan(0, written).ToArray();
    }
}
