using System.Globalization;
using Akka.Actor;
using Akka.Configuration;
using Akka.DistributedData;
using Akka.TestKit;
using Concentrator.Actors;
using Concentrator.Cluster.Membership;
using Concentrator.Cluster.Replication;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;
using MemberStatus = Akka.Cluster.MemberStatus;

namespace Concentrator.Tests.Cluster.Replication;

/// <summary>
/// The actor-level multi-node tests of <see cref="SaReplicaActor"/>: two or three cluster nodes in this process (the
/// TestKit's own ActorSystem is node a, the others are created and joined here) over real loopback remoting and real
/// Distributed Data, configured by the production HOCON (<see cref="ClusterSettings.Hocon"/>). Each node's supervisor
/// is a <see cref="TestProbe"/>, so what the replica actor tells it (ReplicateAll, Fence, AdoptOrphan) is asserted
/// directly, without whole gateways (<see cref="SaMobilityTests"/> covers those). Akka.TestKit rather than the
/// multi-node test adapter, which this package registry does not carry; every node runs in one process, so the
/// tests need no root and no namespaces. Snapshots are opaque bytes to the replica (only the entry header is decoded).
/// </summary>
public sealed class SaReplicaActorTests(ITestOutputHelper output)
    : Akka.TestKit.Xunit2.TestKit(NodeConfig(), ClusterConfig.SystemName, output)
{
    /// <summary>Generous: two cores shared with other builds; a pass normally takes a fraction of it.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    /// <summary>How long a message that must not come is waited for.</summary>
    private static readonly TimeSpan Quiet = TimeSpan.FromSeconds(1);

    /// <summary>The production cluster HOCON (split-brain resolver off: the tests down members themselves), faster gossip
    /// so membership settles in well under a second, and short shutdown phases so a node whose peers are already gone
    /// does not wait out the default leave timeouts.</summary>
    private static Akka.Configuration.Config NodeConfig() =>
        ConfigurationFactory.ParseString("""
            akka.loglevel = ERROR
            akka.loggers = ["Akka.TestKit.TestEventListener, Akka.TestKit"]
            akka.cluster.gossip-interval = 200ms
            akka.cluster.leader-actions-interval = 200ms
            akka.cluster.periodic-tasks-initial-delay = 0s
            akka.coordinated-shutdown.phases.cluster-leave.timeout = 2s
            akka.coordinated-shutdown.phases.cluster-exiting.timeout = 2s
            """).WithFallback(ConfigurationFactory.ParseString(
            ClusterSettings.Hocon(new ClusterConfig { Hostname = "127.0.0.1", Port = 0, SplitBrainResolver = "off" })));

    [Fact]
    public async Task A_put_on_one_node_appears_in_the_other_nodes_index_is_replaced_by_the_next_put_and_leaves_it_on_remove()
    {
        await using var cluster = await ReplicaCluster.FormAsync(this, 2);
        var (a, b) = (cluster[0], cluster[1]);
        const ulong spi = 0x8123_4567_89ab_cdefUL;
        var snapshot = Bytes(96, 1);

        a.Replica.Tell(new SaReplicaActor.Put(spi, 7, false, [0xc000_0001, 0xc000_0002], snapshot.ToArray())); // the replica zeroes what it is given
        await AwaitAssertAsync(() =>
        {
            Assert.True(b.Index.TryGet(spi, out var entry), "b holds a's entry");
            Assert.Equal(a.Owner, entry.Owner);
            Assert.Equal(7, entry.Epoch);
            Assert.False(entry.Released);
            Assert.Equal(snapshot, entry.Snapshot.ToArray());
            Assert.True(b.Index.TryGetIkeSpiOfEsp(0xc000_0001, out var ike1) && ike1 == spi, "ESP SPI 1 leads to the IKE SA");
            Assert.True(b.Index.TryGetIkeSpiOfEsp(0xc000_0002, out var ike2) && ike2 == spi, "ESP SPI 2 leads to the IKE SA");
        }, Patience);
        Assert.NotEqual(a.Owner, b.Owner);

        // A newer snapshot of the same SA (released on leave, its children rekeyed) replaces the old one, ESP SPIs too.
        var released = Bytes(80, 2);
        a.Replica.Tell(new SaReplicaActor.Put(spi, 7, true, [0xc000_0003], released.ToArray()));
        await AwaitAssertAsync(() =>
        {
            Assert.True(b.Index.TryGet(spi, out var entry) && entry.Released, "b sees the SA released");
            Assert.Equal(released, entry.Snapshot.ToArray());
            Assert.True(b.Index.TryGetIkeSpiOfEsp(0xc000_0003, out var ike) && ike == spi, "the new ESP SPI leads to the IKE SA");
            Assert.False(b.Index.TryGetIkeSpiOfEsp(0xc000_0001, out _), "the rekeyed-away ESP SPI leads nowhere");
        }, Patience);

        a.Replica.Tell(new SaReplicaActor.Remove(spi));
        await AwaitAssertAsync(() =>
        {
            Assert.False(b.Index.TryGet(spi, out _), "b dropped the removed SA");
            Assert.False(b.Index.TryGetIkeSpiOfEsp(0xc000_0003, out _), "its ESP SPI leads nowhere");
        }, Patience);
        Assert.False(a.Index.TryGet(spi, out _));
        Assert.Equal(0, b.Index.Count);

        await a.Supervisor.ExpectNoMsgAsync(Quiet);
        await b.Supervisor.ExpectNoMsgAsync(TimeSpan.Zero);
    }

    [Fact]
    public async Task A_change_notification_older_than_a_local_remove_does_not_bring_the_removed_sa_back()
    {
        await using var cluster = await ReplicaCluster.FormAsync(this, 2);
        var (a, b) = (cluster[0], cluster[1]);
        const ulong spi = 0x6000_0000_0000_3000UL;
        a.Replica.Tell(new SaReplicaActor.Put(spi, 1, false, [0xf000_0001], Bytes(48, 8)));
        await AwaitAssertAsync(() => Assert.True(b.Index.TryGet(spi, out _), "b holds a's entry"), Patience);
        Assert.True(a.Index.TryGet(spi, out var held));
        var replicated = held.Raw.ToArray(); // Distributed Data's own copy: the index zeroes its entry on remove

        // The replicator notifies subscribers on an interval: a notification carrying the entry can follow the remove.
        a.Replica.Tell(new SaReplicaActor.Remove(spi));
        var stale = LWWDictionary<string, byte[]>.Empty.SetItem(Akka.Cluster.Cluster.Get(a.System), spi.ToString("x16", CultureInfo.InvariantCulture), replicated);
        a.Replica.Tell(new Changed(SaReplicaActor.KeyOf(spi), stale));
        // The mailbox is in order: once the sentinel is indexed, the remove and the stale notification were handled.
        const ulong sentinel = 0x1000_0000_0000_0001UL;
        a.Replica.Tell(new SaReplicaActor.Put(sentinel, 1, false, [], Bytes(8, 9)));
        await AwaitAssertAsync(() => Assert.True(a.Index.TryGet(sentinel, out _)), Patience, TimeSpan.FromMilliseconds(1));
        // Until the replicator's next notification (100 ms) corrects it, a stale entry would sit in a's index: watch it.
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (watch.Elapsed < Quiet)
        {
            Assert.False(a.Index.TryGet(spi, out _), $"a's own removal stands against the stale notification ({watch.ElapsedMilliseconds} ms)");
            await Task.Delay(2);
        }
        await AwaitAssertAsync(() => Assert.False(b.Index.TryGet(spi, out _), "b dropped the removed SA"), Patience);
        await a.Supervisor.ExpectNoMsgAsync(TimeSpan.Zero);
    }

    [Fact]
    public async Task A_put_with_an_older_epoch_than_another_nodes_entry_fences_the_writer_and_leaves_that_entry_alone()
    {
        await using var cluster = await ReplicaCluster.FormAsync(this, 2);
        var (a, b) = (cluster[0], cluster[1]);
        const ulong spi = 0x4000_0000_0000_1000UL;
        // Same top bits, so the same LWW dictionary: a's writes to it reach b in order.
        const ulong sentinel = spi + 1;
        Assert.Equal(SaReplicaActor.KeyOf(spi), SaReplicaActor.KeyOf(sentinel));
        var bSnapshot = Bytes(64, 3);

        b.Replica.Tell(new SaReplicaActor.Put(spi, 2, false, [0xd000_0001], bSnapshot.ToArray()));
        await AwaitAssertAsync(() => Assert.True(a.Index.TryGet(spi, out var e) && e.Owner == b.Owner && e.Epoch == 2, "a sees b's entry"), Patience);

        a.Replica.Tell(new SaReplicaActor.Put(spi, 1, false, [0xd000_0002], Bytes(64, 4)));
        Assert.Equal(spi, (await a.Supervisor.ExpectMsgAsync<IkeSaSupervisor.Fence>(Patience)).Spi);

        // Had a written its stale copy, it would reach b before the sentinel (and b would be fenced in turn).
        a.Replica.Tell(new SaReplicaActor.Put(sentinel, 1, false, [], Bytes(8, 5)));
        await AwaitAssertAsync(() => Assert.True(b.Index.TryGet(sentinel, out _), "the sentinel reached b"), Patience);
        foreach (var node in new[] { a, b })
        {
            Assert.True(node.Index.TryGet(spi, out var entry));
            Assert.Equal(b.Owner, entry.Owner);
            Assert.Equal(2, entry.Epoch);
            Assert.Equal(bSnapshot, entry.Snapshot.ToArray());
            Assert.True(node.Index.TryGetIkeSpiOfEsp(0xd000_0001, out _));
            Assert.False(node.Index.TryGetIkeSpiOfEsp(0xd000_0002, out _), "a's stale ESP SPI is not indexed");
        }
        await b.Supervisor.ExpectNoMsgAsync(Quiet);
        await a.Supervisor.ExpectNoMsgAsync(TimeSpan.Zero);
    }

    [Fact]
    public async Task A_put_with_a_newer_epoch_takes_the_sa_over_and_fences_the_node_that_held_it()
    {
        await using var cluster = await ReplicaCluster.FormAsync(this, 2);
        var (a, b) = (cluster[0], cluster[1]);
        const ulong spi = 0x2000_0000_0000_2000UL;

        b.Replica.Tell(new SaReplicaActor.Put(spi, 2, false, [0xe000_0001], Bytes(64, 6)));
        await AwaitAssertAsync(() => Assert.True(a.Index.TryGet(spi, out var e) && e.Owner == b.Owner, "a sees b's entry"), Patience);

        // a adopted the SA (b looked gone): epoch 3 wins, and b learns from the replica that its copy must stop.
        var adopted = Bytes(64, 7);
        a.Replica.Tell(new SaReplicaActor.Put(spi, 3, false, [0xe000_0001], adopted.ToArray()));
        Assert.Equal(spi, (await b.Supervisor.ExpectMsgAsync<IkeSaSupervisor.Fence>(Patience)).Spi);
        Assert.True(b.Index.TryGet(spi, out var entry));
        Assert.Equal(a.Owner, entry.Owner);
        Assert.Equal(3, entry.Epoch);
        Assert.Equal(adopted, entry.Snapshot.ToArray());
        await a.Supervisor.ExpectNoMsgAsync(Quiet);
        await b.Supervisor.ExpectNoMsgAsync(TimeSpan.Zero);
    }

    [Fact]
    public async Task When_a_member_is_downed_the_survivors_adopt_its_sas_and_older_orphans_split_disjointly_by_spi()
    {
        await using var cluster = await ReplicaCluster.FormAsync(this, 3);
        var (a, b, c) = (cluster[0], cluster[1], cluster[2]);
        // 10 even and 10 odd SPIs over different keys: with two survivors, each adopts exactly one parity.
        var spis = Enumerable.Range(0, 20)
            .Select(i => ((ulong)(i * 37 % SaReplicaActor.KeyCount) << (64 - SaReplicaActor.KeyBits)) | (0x0123_4567_0000UL + (ulong)i))
            .ToHashSet();
        Assert.Equal(20, spis.Count);
        uint esp = 0xf000_0000;
        foreach (var spi in spis) b.Replica.Tell(new SaReplicaActor.Put(spi, 1, false, [esp++], Bytes(32, (int)spi)));
        await AwaitAssertAsync(() =>
        {
            Assert.Equal(spis, a.Index.OwnedBy(b.Owner).ToHashSet());
            Assert.Equal(spis, c.Index.OwnedBy(b.Owner).ToHashSet());
        }, Patience);

        // SAs an earlier removal gave to a member that died before adopting them still name that long-gone member: they
        // are orphans too (2 even, 2 odd). Entries of members still present are not.
        const string gone = "akka.tcp://concentrator@127.0.0.1:9";
        var earlier = Enumerable.Range(0, 4).Select(i => 0x0abc_0000_0000_0000UL + (ulong)i).ToHashSet();
        foreach (var spi in earlier)
        {
            foreach (var node in new[] { a, c }) node.Index.Set(spi, SaReplicaEntry.Create(gone, 1, released: false, [], Bytes(8, (int)spi)));
        }
        foreach (var node in new[] { a, c }) node.Index.Set(0x0abc_0000_0000_0100UL, SaReplicaEntry.Create(a.Owner, 1, released: false, [], Bytes(8, 1)));

        Akka.Cluster.Cluster.Get(c.System).Down(b.Address);

        var adoptedByA = await AdoptionsAsync(a.Supervisor, 12);
        var adoptedByC = await AdoptionsAsync(c.Supervisor, 12);
        await a.Supervisor.ExpectNoMsgAsync(Quiet);
        await c.Supervisor.ExpectNoMsgAsync(TimeSpan.Zero);
        Assert.Empty(adoptedByA.Intersect(adoptedByC));
        Assert.Equal(spis.Union(earlier).ToHashSet(), adoptedByA.Union(adoptedByC).ToHashSet());
        Assert.Single(adoptedByA.Select(s => s % 2).Distinct());
        Assert.False(a.Index.Alone);
        Assert.False(c.Index.Alone);
    }

    [Fact]
    public async Task A_lone_node_replicates_nothing_until_a_second_member_comes_up_then_asks_for_replication_once()
    {
        await using var cluster = await ReplicaCluster.FormAsync(this, 1);
        var a = cluster[0];
        Assert.True(a.Index.Alone);
        await a.Supervisor.ExpectNoMsgAsync(Quiet);

        var b = await cluster.JoinAsync();
        await a.Supervisor.ExpectMsgAsync<IkeSaSupervisor.ReplicateAll>(Patience);
        await b.Supervisor.ExpectMsgAsync<IkeSaSupervisor.ReplicateAll>(Patience);
        Assert.False(a.Index.Alone);
        Assert.False(b.Index.Alone);

        // A third member is no reason to replicate again.
        var c = await cluster.JoinAsync();
        await c.Supervisor.ExpectMsgAsync<IkeSaSupervisor.ReplicateAll>(Patience);
        await a.Supervisor.ExpectNoMsgAsync(Quiet);
        await b.Supervisor.ExpectNoMsgAsync(TimeSpan.Zero);

        // Once the others have left, a is alone again.
        foreach (var other in new[] { b, c }) Akka.Cluster.Cluster.Get(other.System).Leave(other.Address);
        await AwaitAssertAsync(() => Assert.True(a.Index.Alone, "a is alone again"), Patience);
    }

    [Fact]
    public async Task WaitIdle_answers_Idle_once_every_member_has_acknowledged_the_writes_sent_before_it()
    {
        await using var cluster = await ReplicaCluster.FormAsync(this, 2);
        var (a, b) = (cluster[0], cluster[1]);
        var asker = CreateTestProbe(a.System);

        a.Replica.Tell(SaReplicaActor.WaitIdle.Instance, asker.Ref);
        await asker.ExpectMsgAsync<SaReplicaActor.Idle>(Quiet);

        var spis = Enumerable.Range(0, 50).Select(i => ((ulong)i << (64 - SaReplicaActor.KeyBits)) | 0xabcdUL).ToHashSet();
        foreach (var spi in spis) a.Replica.Tell(new SaReplicaActor.Put(spi, 1, false, [], Bytes(256, (int)spi)));
        a.Replica.Tell(SaReplicaActor.WaitIdle.Instance, asker.Ref);
        await asker.ExpectMsgAsync<SaReplicaActor.Idle>(Patience);

        // WriteAll: b's replicator holds every write already, before any change notification reaches b's index.
        var replicator = DistributedData.Get(b.System).Replicator;
        var atB = new HashSet<ulong>();
        foreach (var key in spis.Select(SaReplicaActor.KeyOf).Distinct())
        {
            var response = await replicator.Ask<IGetResponse>(Dsl.Get(key, ReadLocal.Instance), Patience);
            if (response is NotFound) continue;
            foreach (var (name, bytes) in Assert.IsType<GetSuccess>(response).Get(key).Entries)
            {
                Assert.True(SaReplicaEntry.TryDecode(bytes, out var entry) && entry!.Owner == a.Owner, "a's entry");
                atB.Add(ulong.Parse(name, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture));
            }
        }
        Assert.Equal(spis, atB);

        // Nothing is pending any more: the next WaitIdle is answered at once.
        a.Replica.Tell(SaReplicaActor.WaitIdle.Instance, asker.Ref);
        await asker.ExpectMsgAsync<SaReplicaActor.Idle>(Quiet);
    }

    private static async Task<HashSet<ulong>> AdoptionsAsync(TestProbe supervisor, int count)
    {
        var spis = new HashSet<ulong>();
        for (int i = 0; i < count; i++) spis.Add((await supervisor.ExpectMsgAsync<IkeSaSupervisor.AdoptOrphan>(Patience)).Spi);
        Assert.Equal(count, spis.Count);
        return spis;
    }

    private static byte[] Bytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>One cluster member: its replica actor, that actor's index, and the probe standing in for its supervisor.</summary>
    private sealed record ReplicaNode(ActorSystem System, SaReplicaIndex Index, TestProbe Supervisor, IActorRef Replica)
    {
        public Address Address => Akka.Cluster.Cluster.Get(System).SelfAddress;

        public string Owner => SaReplicaActor.SelfOwner(System);
    }

    /// <summary>
    /// Node 0 is the TestKit's ActorSystem (shut down by the TestKit); every other node's ActorSystem is created here and
    /// terminated on dispose, whatever the test's outcome. A node counts as joined once every member sees every member
    /// Up and every replicator counts every member (so WriteAll reaches them all).
    /// </summary>
    [Fact]
    public async Task Of_claims_under_one_epoch_at_most_one_wins_and_a_later_epoch_wins_over_an_earlier_one()
    {
        await using var cluster = await ReplicaCluster.FormAsync(this, 3);
        var nodes = Enumerable.Range(0, 3).Select(i => cluster[i]).ToArray();
        var claims = nodes.Select(n => n.System.ActorOf(SaClaimActor.Props(), "claims")).ToArray();
        var probes = nodes.Select(n => CreateTestProbe(n.System)).ToArray();

        // Concurrent: b and c claim the same SAs under the same epoch at the same moment.
        var spis = Enumerable.Range(0, 24).Select(i => 0x9000_0000_0000_0000UL + ((ulong)i << 52) + (ulong)i).ToList();
        foreach (var spi in spis)
        {
            claims[1].Tell(new SaClaimActor.Claim(spi, 2), probes[1].Ref);
            claims[2].Tell(new SaClaimActor.Claim(spi, 2), probes[2].Ref);
        }
        var won = new Dictionary<ulong, int>();
        foreach (var probe in new[] { probes[1], probes[2] })
        {
            foreach (var _ in spis)
            {
                var result = await probe.ExpectMsgAsync<SaClaimActor.ClaimResult>(Patience);
                Assert.Equal(2, result.Epoch);
                if (result.Won) won[result.Spi] = won.GetValueOrDefault(result.Spi) + 1;
            }
        }
        output.WriteLine($"{spis.Count} contested SAs: {won.Count} won by one node, {spis.Count - won.Count} by neither");
        Assert.All(won.Values, count => Assert.Equal(1, count));

        // In turn: the first claim wins, a second under the same epoch loses, a later epoch wins, an earlier one then
        // loses. Twenty SAs of one claim set, so that the set's merges between the nodes are exercised, not just one element.
        for (int k = 0; k < 20; k++)
        {
            ulong sa = 0x7000_0000_0000_0000UL + (ulong)k;
            async Task<bool> ClaimAsync(int node, long epoch)
            {
                claims[node].Tell(new SaClaimActor.Claim(sa, epoch), probes[node].Ref);
                return (await probes[node].ExpectMsgAsync<SaClaimActor.ClaimResult>(Patience)).Won;
            }
            Assert.True(await ClaimAsync(0, 2), $"SA {k}: a claims epoch 2 first");
            Assert.False(await ClaimAsync(1, 2), $"SA {k}: b claims epoch 2 after a");
            Assert.True(await ClaimAsync(1, 3), $"SA {k}: b claims epoch 3");
            Assert.False(await ClaimAsync(0, 3), $"SA {k}: a claims epoch 3 after b");
            Assert.False(await ClaimAsync(2, 2), $"SA {k}: c claims epoch 2 after b's 3");
        }

        // Once the SA is forgotten (deleted), nothing stands in the way of a claim under any epoch.
        const ulong x = 0x7000_0000_0000_0000UL;
        claims[1].Tell(new SaClaimActor.Forget(x));
        await AwaitAssertAsync(async () =>
        {
            claims[2].Tell(new SaClaimActor.Claim(x, 2), probes[2].Ref);
            Assert.True((await probes[2].ExpectMsgAsync<SaClaimActor.ClaimResult>(Patience)).Won);
        }, Patience);
    }

    private sealed class ReplicaCluster : IAsyncDisposable
    {
        private readonly SaReplicaActorTests _kit;
        private readonly List<ReplicaNode> _nodes = [];
        private readonly List<ActorSystem> _created = [];

        private ReplicaCluster(SaReplicaActorTests kit) => _kit = kit;

        public ReplicaNode this[int i] => _nodes[i];

        public static async Task<ReplicaCluster> FormAsync(SaReplicaActorTests kit, int members)
        {
            var cluster = new ReplicaCluster(kit);
            try
            {
                var first = cluster.Start(kit.Sys);
                Akka.Cluster.Cluster.Get(kit.Sys).Join(first.Address);
                await cluster.SettledAsync();
                for (int i = 1; i < members; i++)
                {
                    await cluster.JoinAsync();
                }
                // Each node's supervisor was asked to replicate once, when it stopped being alone; nothing else yet.
                if (members > 1)
                {
                    foreach (var node in cluster._nodes) await node.Supervisor.ExpectMsgAsync<IkeSaSupervisor.ReplicateAll>(Patience);
                }
                return cluster;
            }
            catch
            {
                await cluster.DisposeAsync();
                throw;
            }
        }

        public async Task<ReplicaNode> JoinAsync()
        {
            var system = ActorSystem.Create(ClusterConfig.SystemName, _kit.Sys.Settings.Config);
            _created.Add(system);
            var node = Start(system);
            Akka.Cluster.Cluster.Get(system).Join(_nodes[0].Address);
            await SettledAsync();
            return node;
        }

        private ReplicaNode Start(ActorSystem system)
        {
            var index = new SaReplicaIndex();
            var supervisor = _kit.CreateTestProbe(system);
            var replica = system.ActorOf(SaReplicaActor.Props(index, supervisor.Ref, NullLogger.Instance), "replica");
            var node = new ReplicaNode(system, index, supervisor, replica);
            _nodes.Add(node);
            return node;
        }

        private async Task SettledAsync()
        {
            int n = _nodes.Count;
            await _kit.AwaitAssertAsync(() =>
            {
                foreach (var node in _nodes)
                {
                    var members = Akka.Cluster.Cluster.Get(node.System).State.Members;
                    Assert.Equal(n, members.Count(m => m.Status == MemberStatus.Up));
                }
            }, Patience);
            foreach (var node in _nodes)
            {
                var replicator = DistributedData.Get(node.System).Replicator;
                await _kit.AwaitAssertAsync(async () =>
                    Assert.Equal(n, (await replicator.Ask<ReplicaCount>(Dsl.GetReplicaCount, Patience)).N), Patience);
            }
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var system in _created)
            {
                try
                {
                    await system.Terminate().WaitAsync(TimeSpan.FromSeconds(15));
                }
                catch (TimeoutException)
                {
                    // A system that will not stop within the bound is left to the process exit; the test result stands.
                }
            }
        }
    }
}
