using Concentrator.DataPlane;
using Concentrator.Tests.Cluster;
using Concentrator.Ipsec;
using Concentrator.Telemetry;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Support;

namespace Concentrator.Tests.Cluster.Replication;

/// <summary>
/// swanctl's unique across a cluster of two gateways in this process (real remoting and Distributed Data on loopback,
/// in-memory data planes): the second login of a user landing on the other node finds the first through its replica and
/// has its holder delete it (replace) or is refused (keep). Logins come from two of our initiators with the same
/// identity and unique never (so no INITIAL_CONTACT, as a strongSwan client with unique never).
/// </summary>
public sealed class UniqueClusterTests
{
    private static string GatewayYaml(string unique) => $$"""
        listen: { addresses: [127.0.0.1], ike_port: 0, natt_port: 0 }
        connections:
          rw:
            proposals: [aes256gcm16-prfsha256-ecp256]
            unique: {{unique}}
            local: { auth: psk, id: gw.test }
            remote: { auth: psk, id: "%any" }
            children:
              lan: { local_ts: [10.10.0.0/16], remote_ts: [10.200.0.0/16], esp_proposals: [aes256gcm16] }
        secrets:
          rw: { secret: "test-shared-key-0123456789" }
        """;

    private static string Peer() =>
        TestGateway.InitiatorYaml().Replace("    remote_addrs:", "    unique: never\n    remote_addrs:");

    private static InMemoryDataPlane Plane(ClusterTestNode node) => (InMemoryDataPlane)node.Gateway.Options.DataPlane;

    private static async Task<(ClusterTestNode A, ClusterTestNode B)> ClusterAsync(string unique, string name)
    {
        int pa = FreePorts.Tcp(), pb = FreePorts.Tcp();
        string seeds = $"[{ClusterTestNode.Seed(pa)}]";
        var a = await ClusterTestNode.StartAsync($"cluster: {{ port: {pa}, seed_nodes: {seeds} }}", name + "-a", GatewayYaml(unique));
        var b = await ClusterTestNode.StartAsync($"cluster: {{ port: {pb}, seed_nodes: {seeds} }}", name + "-b", GatewayYaml(unique));
        foreach (var n in new[] { a, b })
        {
            await Eventually.TrueAsync(async () => (await n.ScrapeAsync()).Sum("concentrator_cluster_members", ("status", "up")) == 2,
                "both nodes see two members Up", 40);
        }
        return (a, b);
    }

    [Theory(Timeout = 120_000)]
    [InlineData("replace")]
    [InlineData("keep")]
    public async Task A_second_login_on_the_other_node_replaces_or_is_refused(string unique)
    {
        var (a, b) = await ClusterAsync(unique, "uniq-" + unique);
        await using var _a = a;
        await using var _b = b;
        await using var first = TestGateway.Start(Peer(), name: "uniq-first");
        await using var second = TestGateway.Start(Peer(), name: "uniq-second");

        first.Initiate("site", a.Gateway.IkeEndpoint);
        await Eventually.TrueAsync(() => first.Events.Up.Count == 1 && Plane(a).InstalledCount == 1, "the first login is up on a", 15);
        await Eventually.TrueAsync(() => b.Gateway.Replicas!.Count == 1, "b holds the first login's replica", 15);

        second.Initiate("site", b.Gateway.IkeEndpoint);
        if (unique == "replace")
        {
            await Eventually.TrueAsync(() => second.Events.Up.Count == 1, "the second login is up on b", 15);
            await Eventually.TrueAsync(() => first.Events.Down.Count == 1, "a deleted the first login with its peer", 15);
            Assert.Equal(CloseReason.DeletedByPeer, first.Events.Down.Single().Reason);
            await Eventually.TrueAsync(() => Plane(a).InstalledCount == 0 && Plane(b).InstalledCount == 1, "only the second login's child is left", 10);
            Assert.Equal(1, b.Gateway.Metrics.Users.UniqueCount("replace", UniqueOutcome.Deleted));
        }
        else
        {
            await Eventually.TrueAsync(() => second.Events.Down.Count == 1, "the second login was refused", 15);
            Assert.Equal(CloseReason.AuthFailed, second.Events.Down.Single().Reason);
            Assert.Equal(1, b.Gateway.Metrics.Users.UniqueCount("keep", UniqueOutcome.Refused));
            await Task.Delay(500);
            Assert.Empty(first.Events.Down);
            Assert.Equal(1, Plane(a).InstalledCount);
            Assert.Equal(0, Plane(b).InstalledCount);
        }
    }

    [Fact]
    public void Duplicate_deletion_round_trips_and_malformed_bytes_are_refused()
    {
        using var system = Akka.Actor.ActorSystem.Create("uniq-serializer", "akka.loglevel = OFF");
        var serializer = new Concentrator.Cluster.Replication.ClusterMessageSerializer((Akka.Actor.ExtendedActorSystem)system);
        var message = new Concentrator.Cluster.Replication.DuplicateDelete(0x0123_4567_89ab_cdefUL, Silent: true);
        string manifest = serializer.Manifest(message);
        Assert.Equal(message, serializer.FromBinary(serializer.ToBinary(message), manifest));
        Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary([1, 2, 3], manifest));
        Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary([0, 0, 0, 0, 0, 0, 0, 1, 2], manifest));
        Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary([0, 0, 0, 0, 0, 0, 0, 1, 1, 0], manifest));
    }
}
