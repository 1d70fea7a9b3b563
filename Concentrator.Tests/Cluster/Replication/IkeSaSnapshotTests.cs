using System.Buffers.Binary;
using System.Net;
using Concentrator.Cluster.Replication;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.Hosting;
using Concentrator.Ike.Sa;
using Concentrator.Ipsec;
using Concentrator.Telemetry;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Ike.Sa;
using Concentrator.Tests.Support;
using Concentrator.Tests.Telemetry;

namespace Concentrator.Tests.Cluster.Replication;

/// <summary>
/// Cluster failover without renegotiation (issue 7), protocol side: an IKE SA taken from "node A" as a snapshot, sent
/// through the codec and restored on "node B" (a new <see cref="IkeSaContext"/> with its own data plane, same config)
/// carries on with the same peer. Two directly wired <see cref="IkeSa"/> ends, hosted as <see cref="RekeyHarness"/> does.
/// </summary>
public sealed class IkeSaSnapshotTests
{
    private const ulong Margin = 1000;
    private static readonly IPAddress InitiatorInner = IPAddress.Parse("10.200.1.9");
    private static readonly IPAddress ResponderInner = IPAddress.Parse("10.10.0.9");

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void An_established_sa_moved_to_another_node_carries_on_with_dpd_rekeys_esp_and_delete(bool moveInitiator)
    {
        var (i, r) = RekeyHarness.Established();
        var (moving, peer) = moveInitiator ? (i, r) : (r, i);
        uint childInbound = moving.Sa.Children.Single().InboundSpi;
        // Inner addresses by the original roles (an IKE rekey may swap IsInitiator).
        var (innerB, innerPeer) = moveInitiator ? (InitiatorInner, ResponderInner) : (ResponderInner, InitiatorInner);

        // Traffic before the move: 5 packets out of the moving end, 3 into it; the peer's third is kept for a replay.
        for (int n = 0; n < 5; n++)
        {
            Assert.Equal(EspStatus.Ok, Seal(moving.Plane, innerB, out var wire));
            Assert.Equal(EspStatus.Ok, Open(peer.Plane, wire));
        }
        byte[] third = [];
        for (int n = 0; n < 3; n++)
        {
            Assert.Equal(EspStatus.Ok, Seal(peer.Plane, innerPeer, out var wire));
            third = wire.ToArray();
            Assert.Equal(EspStatus.Ok, Open(moving.Plane, wire));
        }

        var nodeB = MoveToNodeB(moving, moveInitiator);
        Assert.Equal(IkeSaState.Established, nodeB.Sa.State);
        Assert.Equal(moving.Sa.SpiI, nodeB.Sa.SpiI);
        Assert.Equal(moving.Sa.SpiR, nodeB.Sa.SpiR);
        var restored = Assert.Single(nodeB.Seen.OfType<IkeSaRestored>());
        Assert.Equal(moveInitiator ? "site" : "rw", restored.Connection);
        Assert.Equal(moveInitiator ? "gw.test" : "site.test", restored.RemoteId);
        Assert.Empty(nodeB.Seen.OfType<IkeSaEstablished>());
        var install = Assert.Single(nodeB.Seen.OfType<ChildSaEstablished>()).Install;
        Assert.Equal(childInbound, install.InboundSpi);
        Assert.Equal(5 + Margin, install.OutboundSequenceStart);
        Assert.Equal(3UL, install.InboundSequenceFloor);
        Assert.True(install.OutboundActive);
        Assert.Equal(1, nodeB.Plane.InstalledCount);
        Assert.Equal(0, moving.Plane.InstalledCount);

        // ESP: keys agree both ways; node B continues past the mark + margin; what node A accepted stays refused.
        Assert.Equal(EspStatus.Ok, Seal(nodeB.Plane, innerB, out var fromB));
        Assert.True(BinaryPrimitives.ReadUInt32BigEndian(fromB.AsSpan(4)) > 5 + Margin - 1);
        Assert.Equal(5 + Margin + 1, BinaryPrimitives.ReadUInt32BigEndian(fromB.AsSpan(4)));
        Assert.Equal(EspStatus.Ok, Open(peer.Plane, fromB));
        Assert.Equal(EspStatus.Replay, Open(nodeB.Plane, third));
        Assert.Equal(EspStatus.Ok, Seal(peer.Plane, innerPeer, out var toB));
        Assert.Equal(EspStatus.Ok, Open(nodeB.Plane, toB));

        // The peer's DPD is answered by node B, and node B's own DPD by the peer.
        peer.Sa.SendDpd();
        RekeyHarness.Pump(peer, nodeB);
        Assert.False(peer.Sa.RequestInFlight);
        nodeB.Sa.SendDpd();
        RekeyHarness.Pump(nodeB, peer);
        Assert.False(nodeB.Sa.RequestInFlight);

        // A Child rekey initiated by each side in turn.
        foreach (var rekeyer in new[] { nodeB, peer })
        {
            uint old = rekeyer.Sa.Children.Single().InboundSpi;
            Assert.True(rekeyer.Sa.RekeyChild(old));
            RekeyHarness.Pump(rekeyer, rekeyer == nodeB ? peer : nodeB);
            Assert.NotEqual(old, rekeyer.Sa.Children.Single().InboundSpi);
            Assert.Single(peer.Sa.Children);
            Assert.Equal(1, nodeB.Plane.InstalledCount);
            Assert.Equal(1, peer.Plane.InstalledCount);
            LoopbackExchangeTests.AssertEspFlows(nodeB.Plane, peer.Plane, innerB, innerPeer);
            LoopbackExchangeTests.AssertEspFlows(peer.Plane, nodeB.Plane, innerPeer, innerB);
        }

        // An IKE rekey initiated by node B moves the child to a new IKE SA that works.
        ulong oldSpi = nodeB.Sa.OurSpi;
        Assert.True(nodeB.Sa.RekeyIke());
        RekeyHarness.Pump(nodeB, peer);
        Assert.NotEqual(oldSpi, nodeB.Sa.OurSpi);
        Assert.Equal(nodeB.Sa.SpiI, peer.Sa.SpiI);
        Assert.Equal(nodeB.Sa.SpiR, peer.Sa.SpiR);
        Assert.Equal(IkeSaState.Established, nodeB.Sa.State);
        Assert.Single(nodeB.Sa.Children);
        peer.Sa.SendDpd();
        RekeyHarness.Pump(peer, nodeB);
        Assert.False(peer.Sa.RequestInFlight);
        LoopbackExchangeTests.AssertEspFlows(nodeB.Plane, peer.Plane, innerB, innerPeer);

        // None of it was a new negotiation on node B; the rekeys are counted as rekeys.
        AssertNoNegotiationCounted(nodeB);
        Assert.Equal(1, Scrape(nodeB).Sum("concentrator_rekeys_total", ("kind", "ike"), ("outcome", "success")));
        Assert.Equal(2, Scrape(nodeB).Sum("concentrator_rekeys_total", ("kind", "child"), ("outcome", "success")));

        // And a Delete of the IKE SA from node B ends both ends with their children.
        nodeB.Sa.Delete();
        RekeyHarness.Pump(nodeB, peer);
        Assert.Equal(IkeSaState.Destroyed, nodeB.Sa.State);
        Assert.Equal(IkeSaState.Destroyed, peer.Sa.State);
        Assert.Equal(0, nodeB.Plane.InstalledCount);
        Assert.Equal(0, peer.Plane.InstalledCount);
    }

    [Fact]
    public void A_retransmission_of_the_peers_last_request_is_answered_from_the_restored_response_cache()
    {
        var (i, r) = RekeyHarness.Established();
        i.Sa.SendDpd();
        var probe = i.Drain().Single();
        r.Receive(probe.Datagram, i.Self);
        var answer = r.Drain().Single();

        var nodeB = MoveToNodeB(r, initiatorSide: false);
        long version = nodeB.Sa.StateVersion;
        nodeB.Receive(probe.Datagram, i.Self);
        var again = nodeB.Drain();
        Assert.Equal(answer.Datagram, Assert.Single(again).Datagram);
        Assert.Equal(version, nodeB.Sa.StateVersion);

        // The answer completes the peer's exchange; the next request (a new message ID) is processed normally.
        i.Receive(again[0].Datagram, r.Self);
        i.Drain();
        Assert.False(i.Sa.RequestInFlight);
        i.Sa.SendDpd();
        RekeyHarness.Pump(i, nodeB);
        Assert.False(i.Sa.RequestInFlight);
        Assert.True(nodeB.Sa.StateVersion > version);
    }

    [Fact]
    public void A_half_open_responder_moved_after_ike_sa_init_completes_ike_auth_on_the_new_node()
    {
        var (i, r) = NewPair();
        Assert.False(IkeSaSnapshotter.CanSnapshot(r.Sa), "nothing to continue before IKE_SA_INIT");
        i.Sa.Initiate();
        r.Receive(i.Drain().Single().Datagram, i.Self);
        var initResponse = r.Drain().Single();
        Assert.Equal(IkeSaState.Connecting, r.Sa.State);
        Assert.False(IkeSaSnapshotter.CanSnapshot(i.Sa), "an initiator before establishment is not snapshot");
        Assert.True(IkeSaSnapshotter.CanSnapshot(r.Sa));

        var snapshot = IkeSaSnapshotter.Snapshot(r.Sa, _ => (0, 0));
        Assert.Equal("", snapshot.Connection);
        Assert.Equal(["rw"], snapshot.Candidates);
        Assert.NotEmpty(snapshot.InitRequest);
        snapshot.Dispose();

        var nodeB = MoveToNodeB(r, initiatorSide: false);
        Assert.Empty(nodeB.Seen);
        Assert.Equal(IkeSaState.Connecting, nodeB.Sa.State);

        i.Receive(initResponse.Datagram, r.Self);
        var auth = i.Drain().Single();
        nodeB.Receive(auth.Datagram, i.Self);
        var authResponse = nodeB.Drain().Single();
        Assert.Equal(IkeSaState.Established, nodeB.Sa.State);
        Assert.Equal("rw", nodeB.Sa.Connection!.Name);
        Assert.Single(nodeB.Seen.OfType<IkeSaEstablished>());
        Assert.Equal(1, nodeB.Plane.InstalledCount);
        Assert.Equal(0, r.Plane.InstalledCount);

        i.Receive(authResponse.Datagram, r.Self);
        i.Drain();
        Assert.Equal(IkeSaState.Established, i.Sa.State);
        LoopbackExchangeTests.AssertEspFlows(i.Plane, nodeB.Plane, InitiatorInner, ResponderInner);
        LoopbackExchangeTests.AssertEspFlows(nodeB.Plane, i.Plane, ResponderInner, InitiatorInner);
    }

    [Fact]
    public void Snapshot_dispose_zeroes_its_keys_and_a_restored_sa_zeroes_a_deleted_childs_key_copy()
    {
        var (i, r) = RekeyHarness.Established();
        var snapshot = IkeSaSnapshotter.Snapshot(r.Sa, _ => (0, 0));
        var k = snapshot.Keys;
        var c = snapshot.Children.Single();
        byte[][] arrays = [k.SkD, k.SkAi, k.SkAr, k.SkEi, k.SkEr, k.SkPi, k.SkPr,
            c.InboundEncryptionKey, c.InboundIntegrityKey, c.OutboundEncryptionKey, c.OutboundIntegrityKey];
        // AES-GCM: no integrity keys (IKE or ESP); the other seven arrays hold key bytes.
        Assert.Equal(7, arrays.Count(a => a.Length > 0));
        Assert.All(arrays.Where(a => a.Length > 0), a => Assert.Contains(a, b => b != 0));
        snapshot.Dispose();
        Assert.All(arrays, a => Assert.All(a, b => Assert.Equal(0, b)));

        // The old node's SA zeroes its own copies when it goes; node B's are separate arrays.
        uint spi = r.Sa.Children.Single().InboundSpi;
        var oldCopies = r.Sa.ChildKeyMaterial(spi);
        var nodeB = MoveToNodeB(r, initiatorSide: false);
        Assert.All(oldCopies, a => Assert.All(a, b => Assert.Equal(0, b)));
        var copies = nodeB.Sa.ChildKeyMaterial(spi);
        Assert.Equal(4, copies.Count);
        Assert.All(copies.Where(a => a.Length > 0), a => Assert.Contains(a, b => b != 0));

        nodeB.Sa.DeleteChild(spi);
        RekeyHarness.Pump(nodeB, i);
        Assert.Empty(nodeB.Sa.Children);
        Assert.Empty(nodeB.Sa.ChildKeyMaterial(spi));
        Assert.All(copies, a => Assert.All(a, b => Assert.Equal(0, b)));
    }

    [Fact]
    public void State_version_changes_with_each_exchange_and_not_on_a_dropped_message()
    {
        var (i, r) = RekeyHarness.Established();
        long before = r.Sa.StateVersion;
        i.Sa.SendDpd();
        var probe = i.Drain().Single();

        // Dropped: a tampered copy, a response nobody asked for, a request with a message ID out of the window.
        var tampered = probe.Datagram.ToArray();
        tampered[^3] ^= 0x40;
        r.Receive(tampered, i.Self);
        Assert.Empty(r.Drain());
        Assert.Equal(before, r.Sa.StateVersion);

        r.Receive(probe.Datagram, i.Self);
        var answer = r.Drain().Single();
        long afterAnswer = r.Sa.StateVersion;
        Assert.True(afterAnswer > before);

        r.Receive(answer.Datagram, i.Self);
        Assert.Empty(r.Drain());
        Assert.Equal(afterAnswer, r.Sa.StateVersion);
        var future = probe.Datagram.ToArray();
        BinaryPrimitives.WriteUInt32BigEndian(future.AsSpan(20), 77);
        r.Receive(future, i.Self);
        Assert.Empty(r.Drain());
        Assert.Equal(afterAnswer, r.Sa.StateVersion);

        // Our own request changes nothing until its response arrives.
        long initiatorBefore = i.Sa.StateVersion;
        i.Receive(answer.Datagram, r.Self);
        i.Drain();
        Assert.True(i.Sa.StateVersion > initiatorBefore);
        long idle = i.Sa.StateVersion;
        i.Sa.SendDpd();
        var second = i.Drain().Single();
        Assert.Equal(idle, i.Sa.StateVersion);
        r.Receive(second.Datagram, i.Self);
        i.Receive(r.Drain().Single().Datagram, r.Self);
        i.Drain();
        Assert.True(i.Sa.StateVersion > idle);

        // A child rekey changes it on both ends.
        long iv = i.Sa.StateVersion, rv = r.Sa.StateVersion;
        Assert.True(i.Sa.RekeyChild(i.Sa.Children.Single().InboundSpi));
        RekeyHarness.Pump(i, r);
        Assert.True(i.Sa.StateVersion > iv && r.Sa.StateVersion > rv);
    }

    [Fact]
    public void A_snapshot_taken_mid_rekey_restores_the_inbound_only_successor_and_activates_it_on_the_peers_delete()
    {
        var (i, r) = RekeyHarness.Established();
        uint old = r.Sa.Children.Single().InboundSpi;
        Assert.True(i.Sa.RekeyChild(i.Sa.Children.Single().InboundSpi));
        r.Receive(i.Drain().Single().Datagram, i.Self);
        var rekeyResponse = r.Drain().Single();
        Assert.Equal(2, r.Sa.Children.Count);

        // Node A dies after answering the rekey; the peer's Delete of the old child reaches node B.
        var nodeB = MoveToNodeB(r, initiatorSide: false);
        var installs = nodeB.Seen.OfType<ChildSaEstablished>().Select(e => e.Install).ToList();
        Assert.Equal(2, installs.Count);
        Assert.True(installs.Single(x => x.InboundSpi == old).OutboundActive);
        Assert.False(installs.Single(x => x.InboundSpi != old).OutboundActive);

        i.Receive(rekeyResponse.Datagram, r.Self);
        RekeyHarness.Pump(i, nodeB);
        uint successor = nodeB.Sa.Children.Single().InboundSpi;
        Assert.NotEqual(old, successor);
        Assert.Contains(nodeB.Seen, e => e is ChildSaActivated a && a.InboundSpi == successor);
        Assert.Contains(nodeB.Seen, e => e is ChildSaRemoved x && x.InboundSpi == old && x.Rekeyed);
        LoopbackExchangeTests.AssertEspFlows(nodeB.Plane, i.Plane, ResponderInner, InitiatorInner);
    }

    [Fact]
    public void A_snapshot_taken_after_our_rekey_sends_the_old_childs_delete_again_from_the_new_node()
    {
        var (i, r) = RekeyHarness.Established();
        uint old = i.Sa.Children.Single().InboundSpi;
        Assert.True(i.Sa.RekeyChild(old));
        r.Receive(i.Drain().Single().Datagram, i.Self);
        i.Receive(r.Drain().Single().Datagram, r.Self);
        // Our rekey is complete; the Delete of the old child is on the wire, and is lost with node A.
        var lostDelete = i.Drain().Single();
        Assert.Equal(2, i.Sa.Children.Count);

        var nodeB = MoveToNodeB(i, initiatorSide: true, expectedSends: 1);
        var resent = nodeB.Seen.OfType<SendMessage>().Single();
        // An INFORMATIONAL under the lost request's message ID (IKE header: exchange type at 18, message ID at 20).
        Assert.Equal((byte)ExchangeType.Informational, resent.Datagram[18]);
        Assert.Equal(BinaryPrimitives.ReadUInt32BigEndian(lostDelete.Datagram.AsSpan(20)), BinaryPrimitives.ReadUInt32BigEndian(resent.Datagram.AsSpan(20)));
        r.Receive(resent.Datagram, i.Self);
        RekeyHarness.Pump(r, nodeB);
        Assert.NotEqual(old, nodeB.Sa.Children.Single().InboundSpi);
        Assert.Single(r.Sa.Children);
        Assert.Equal(1, nodeB.Plane.InstalledCount);
        Assert.Equal(1, r.Plane.InstalledCount);
        LoopbackExchangeTests.AssertEspFlows(nodeB.Plane, r.Plane, InitiatorInner, ResponderInner);
        LoopbackExchangeTests.AssertEspFlows(r.Plane, nodeB.Plane, ResponderInner, InitiatorInner);
    }

    [Fact]
    public void Restore_returns_null_when_the_connection_no_longer_exists()
    {
        var (_, r) = RekeyHarness.Established();
        using var snapshot = IkeSaSnapshotter.Snapshot(r.Sa, _ => (0, 0));
        var other = ConcentratorConfig.Parse(TestGateway.ResponderYaml().Replace("  rw:", "  renamed:"), "<b>");
        var context = new IkeSaContext { Resolver = new ConfigConnectionResolver(other), DataPlane = new InMemoryDataPlane() };
        Assert.Null(IkeSaSnapshotter.Restore(context, snapshot, Margin));
        var same = new IkeSaContext { Resolver = new ConfigConnectionResolver(ConcentratorConfig.Parse(TestGateway.ResponderYaml(), "<b>")), DataPlane = new InMemoryDataPlane() };
        Assert.NotNull(IkeSaSnapshotter.Restore(same, snapshot, Margin));
    }

    // ---- Helpers ----

    /// <summary>
    /// Node A's end snapshot (marks from its data plane), encoded, decoded and restored on node B (new context and
    /// data plane, the same configuration parsed anew); then node A's SA and data plane are gone.
    /// </summary>
    internal static RekeyHarness.Side MoveToNodeB(RekeyHarness.Side nodeA, bool initiatorSide, int expectedSends = 0)
    {
        Assert.True(IkeSaSnapshotter.CanSnapshot(nodeA.Sa));
        byte[] encoded;
        using (var snapshot = IkeSaSnapshotter.Snapshot(nodeA.Sa, spi => nodeA.Plane.TryGetSequenceMarks(spi, out var o, out var t) ? (o, t) : (0, 0)))
        {
            encoded = IkeSaSnapshotCodec.Encode(snapshot);
        }

        Assert.Equal(ParseStatus.Ok, IkeSaSnapshotCodec.TryDecode(encoded, out var decoded));
        var config = ConcentratorConfig.Parse(initiatorSide ? TestGateway.InitiatorYaml() : TestGateway.ResponderYaml(), "<node-b>");
        var plane = new InMemoryDataPlane();
        var context = new IkeSaContext { Resolver = new ConfigConnectionResolver(config), DataPlane = plane, Metrics = new ConcentratorMetrics() };
        IkeSa? restored;
        using (decoded)
        {
            restored = IkeSaSnapshotter.Restore(context, decoded!, Margin);
        }

        Assert.NotNull(restored);
        nodeA.Sa.Dispose();
        nodeA.Plane.Dispose();
        var nodeB = new RekeyHarness.Side(restored, plane, nodeA.Self);
        Assert.Equal(expectedSends, nodeB.Drain().Count);

        // Node B counts the SA in its state gauge, but no negotiation (nor a setup time, nor a new child).
        var m = Scrape(nodeB);
        Assert.Equal(1, m.Sum("concentrator_ike_sas", ("state", restored.State == IkeSaState.Established ? "established" : "connecting")));
        AssertNoNegotiationCounted(nodeB);
        Assert.Equal(0, m.Sum("concentrator_child_sas_created_total"));
        return nodeB;
    }

    private static MetricsText Scrape(RekeyHarness.Side side) =>
        new(MetricsEndpointTests.ExportAsync(side.Sa.Context.Metrics.Registry).GetAwaiter().GetResult());

    private static void AssertNoNegotiationCounted(RekeyHarness.Side side)
    {
        var m = Scrape(side);
        Assert.Equal(0, m.Sum("concentrator_ike_negotiations_started_total"));
        Assert.Equal(0, m.Sum("concentrator_ike_negotiations_succeeded_total"));
        Assert.Equal(0, m.Sum("concentrator_ike_sa_setup_duration_seconds_count"));
    }

    private static (RekeyHarness.Side I, RekeyHarness.Side R) NewPair()
    {
        var rConfig = ConcentratorConfig.Parse(TestGateway.ResponderYaml(), "<r>");
        var iConfig = ConcentratorConfig.Parse(TestGateway.InitiatorYaml(), "<i>");
        var rPlane = new InMemoryDataPlane();
        var iPlane = new InMemoryDataPlane();
        var i = new RekeyHarness.Side(IkeSa.CreateInitiator(new IkeSaContext { Resolver = new ConfigConnectionResolver(iConfig), DataPlane = iPlane },
            iConfig.Connections["site"], 0x3132_3334_3536_3738, RekeyHarness.InitiatorEp, RekeyHarness.ResponderEp), iPlane, RekeyHarness.InitiatorEp);
        var r = new RekeyHarness.Side(IkeSa.CreateResponder(new IkeSaContext { Resolver = new ConfigConnectionResolver(rConfig), DataPlane = rPlane },
            0x3132_3334_3536_3738, 0x4142_4344_4546_4748, RekeyHarness.ResponderEp, RekeyHarness.InitiatorEp, natT: false), rPlane, RekeyHarness.ResponderEp);
        return (i, r);
    }

    private static EspStatus Seal(InMemoryDataPlane plane, IPAddress src, out byte[] wire)
    {
        var dst = src.Equals(InitiatorInner) ? ResponderInner : InitiatorInner;
        var packet = Packets.Ipv4Udp(src, dst, 100);
        var buffer = new byte[packet.Length + 128];
        var status = plane.Encapsulate(plane.InstalledSpis().Single(), packet, buffer, out int written);
        wire = buffer.AsSpan(0, written).ToArray();
        return status;
    }

    private static EspStatus Open(InMemoryDataPlane plane, byte[] wire) => plane.Decapsulate(wire.ToArray(), out _);
}
