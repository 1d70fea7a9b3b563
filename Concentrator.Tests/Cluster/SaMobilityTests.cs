using System.Buffers.Binary;
using System.Net;
using Akka.Actor;
using Concentrator.Actors;
using Concentrator.Cluster;
using Concentrator.DataPlane;
using Concentrator.DataPlane.Esp;
using Concentrator.Tests.Support;
using Xunit.Abstractions;

namespace Concentrator.Tests.Cluster;

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
        var nodes = await StartClusterAsync();
        await using var peer = TestGateway.Start(TestGateway.InitiatorYaml(), name: "peer");
        try
        {
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
            Assert.True(BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(4)) > IkeSaSupervisor.SequenceMargin, "sequence number jumped past the margin");
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
        finally
        {
            await peer.DisposeAsync();
            await Task.WhenAll(nodes.Select(n => n.DisposeAsync().AsTask()));
        }
    }

    [Fact]
    public async Task A_node_that_leaves_hands_its_sas_off_and_the_node_the_peer_reaches_next_adopts_them_at_once()
    {
        var nodes = await StartClusterAsync();
        await using var peer = TestGateway.Start(TestGateway.InitiatorYaml(), name: "peer");
        try
        {
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
        finally
        {
            await peer.DisposeAsync();
            await Task.WhenAll(nodes.Select(n => n.DisposeAsync().AsTask()));
        }
    }

    [Fact]
    public async Task When_the_holder_does_not_answer_the_node_the_esp_reaches_restores_the_replica_and_the_old_holder_is_fenced()
    {
        var nodes = await StartClusterAsync();
        await using var peer = TestGateway.Start(TestGateway.InitiatorYaml(), name: "peer");
        try
        {
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
            Assert.True(clock.Elapsed >= IkeSaSupervisor.ReleaseWait, "b waited for the holder before using the replica");
            Assert.Equal(EspStatus.Ok, Plane(b).Decapsulate(Seal(peer, peerSpi, 2), out _));

            await Eventually.TrueAsync(() => Plane(a).InstalledCount == 0, "a's copy was fenced off by b's newer epoch", 10);
            Assert.Equal(1, (await a.ScrapeAsync()).Sum("concentrator_cluster_sa_releases_total", ("reason", "fenced")));
            Assert.Equal(0, await a.Gateway.CountSasAsync());
            Assert.True(a.Gateway.Replicas!.TryGet(ikeSpi, out var seenByA) && seenByA.Owner == b.Gateway.ClusterNode!.SelfAddress.ToString() && seenByA.Epoch == 2);

            var reply = new byte[2048];
            Assert.Equal(EspStatus.Ok, Plane(b).Encapsulate(gatewaySpi, Packets.Ipv4Udp(LanHost, PeerInner, 64), reply, out int written));
            Assert.True(BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(4)) > IkeSaSupervisor.SequenceMargin);
            Assert.Equal(EspStatus.Ok, peer.DataPlane.Decapsulate(reply.AsSpan(0, written), out _));
            Assert.Single(peer.Events.Up);
            Assert.Empty(peer.Events.Down);
        }
        finally
        {
            await peer.DisposeAsync();
            await Task.WhenAll(nodes.Select(n => n.DisposeAsync().AsTask()));
        }
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

    private static InMemoryDataPlane Plane(ClusterTestNode node) => (InMemoryDataPlane)node.Gateway.Options.DataPlane;

    private async Task<List<ClusterTestNode>> StartClusterAsync()
    {
        int pa = FreePorts.Tcp(), pb = FreePorts.Tcp(), pc = FreePorts.Tcp();
        string seeds = $"[{ClusterTestNode.Seed(pa)}]";
        var nodes = new List<ClusterTestNode>();
        foreach (var (port, name) in new[] { (pa, "a"), (pb, "b"), (pc, "c") })
        {
            nodes.Add(await ClusterTestNode.StartAsync($"cluster: {{ port: {port}, seed_nodes: {seeds} }}", name));
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
