using System.Net;
using Akka.Actor;
using Akka.Configuration;
using Concentrator.Actors;
using Concentrator.Cluster.Replication;
using Concentrator.DataPlane;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Crypto;
using Concentrator.Ipsec;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Support;
using Xunit.Abstractions;

namespace Concentrator.Tests.Cluster.Membership;

/// <summary>
/// A process that reaches a node's remoting port without being a member (here: on the lone node's loopback) speaks
/// Akka to it directly: it asks for an SA's keys, and offers an SA of its own making. Neither works; both are counted.
/// </summary>
public sealed class ClusterMessageTrustTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Quiet = TimeSpan.FromSeconds(3);

    [Fact]
    public async Task A_process_that_is_not_a_member_can_neither_read_an_sas_keys_nor_install_an_sa()
    {
        int port = FreePorts.Tcp();
        await using var node = await ClusterTestNode.StartAsync($"cluster: {{ port: {port} }}", "a");
        await using var peer = TestGateway.Start(TestGateway.InitiatorYaml(), name: "peer");
        await Eventually.TrueAsync(() => node.Gateway.Ready, "the node is Up", 30);
        peer.Initiate("site", node.Gateway.IkeEndpoint);
        var plane = (InMemoryDataPlane)node.Gateway.Options.DataPlane;
        await Eventually.TrueAsync(() => peer.Events.Up.Count == 1 && plane.InstalledCount == 1, "the tunnel is up", 15);
        var sa = (await node.Gateway.Supervisor.Ask<List<IActorRef>>(IkeSaSupervisor.GetSas.Instance, TimeSpan.FromSeconds(5))).Single();
        ulong spi = (await sa.Ask<IkeSaActor.Info>(IkeSaActor.GetInfo.Instance, TimeSpan.FromSeconds(5))).Spi;

        // The stranger speaks the cluster messages' own serializer, as a node would; anything else it sends goes as JSON.
        using var stranger = ActorSystem.Create("stranger", ConfigurationFactory.ParseString("""
            akka.loglevel = OFF
            akka.stdout-loglevel = OFF
            akka.actor.provider = remote
            akka.remote.dot-netty.tcp.hostname = 127.0.0.1
            akka.remote.dot-netty.tcp.port = 0
            """).WithFallback(ConfigurationFactory.ParseString(ClusterMessageSerializer.Hocon)));
        var inbox = Inbox.Create(stranger);
        var mobility = stranger.ActorSelection($"akka.tcp://concentrator@127.0.0.1:{port}/user/ike/mobility");
        var ike = stranger.ActorSelection($"akka.tcp://concentrator@127.0.0.1:{port}/user/ike");

        // 1. "Release this SA to me", as a node asks: the holder would answer with its snapshot, keys included. Then the
        //    same through the supervisor's own message, and "delete every SA", which only the node itself may say.
        mobility.Tell(new ReleaseRequest(spi, EspProof: false, []), inbox.Receiver);
        mobility.Tell(new DuplicateDelete(spi, Silent: false), inbox.Receiver); // "delete your SA, a duplicate of my login"
        ike.Tell(new IkeSaSupervisor.ReleaseSa(spi, inbox.Receiver, [], false), inbox.Receiver);
        ike.Tell(new DeleteAll(), inbox.Receiver);
        object? answer = null;
        try
        {
            answer = await inbox.ReceiveAsync(Quiet);
        }
        catch (TimeoutException)
        {
        }
        Assert.True(answer is null, $"a non-member got an answer to a release request: {answer?.GetType().Name}");
        Assert.Equal(1, plane.InstalledCount);
        Assert.Equal(1, await node.Gateway.CountSasAsync());

        // 2. "Here is an SA I released to you": its keys, and selectors that open the whole LAN.
        using var forged = ForgedSnapshot(0x0bad_0000_0000_0001UL);
        mobility.Tell(new Released(forged.SpiR, 1, IkeSaSnapshotCodec.Encode(forged)), inbox.Receiver);
        await Task.Delay(Quiet);
        Assert.Equal([spi], (await node.Gateway.Supervisor.Ask<List<IActorRef>>(IkeSaSupervisor.GetSas.Instance, TimeSpan.FromSeconds(5)))
            .Select(a => a.Path.Name).Select(n => Convert.ToUInt64(n["ike-".Length..], 16)));
        Assert.Equal(1, plane.InstalledCount);
        Assert.Single(peer.Events.Up);
        Assert.Empty(peer.Events.Down);

        var m = await node.ScrapeAsync();
        output.WriteLine($"dropped: {m.Sum("concentrator_cluster_messages_dropped_total")}");
        // The three cluster messages are dropped at the door and counted; the others never deserialize.
        Assert.Equal(3, m.Sum("concentrator_cluster_messages_dropped_total", ("reason", "not_member")));
        Assert.Equal(0, m.Sum("concentrator_cluster_sa_adoptions_total"));
        Assert.Equal(0, m.Sum("concentrator_cluster_sa_releases_total"));
    }

    /// <summary>An established SA of the node's connection "rw" with keys the sender knows and selectors 0.0.0.0/0.</summary>
    private static IkeSaSnapshot ForgedSnapshot(ulong spi)
    {
        static byte[] Bytes(int length, byte start) => Enumerable.Range(0, length).Select(x => (byte)(start + x)).ToArray();
        var any = new TrafficSelector(TsType.Ipv4AddressRange, 0, 0, 65535, IPAddress.Any, IPAddress.Broadcast);
        return new IkeSaSnapshot
        {
            SpiI = 0x1111_2222_3333_4444UL,
            SpiR = spi,
            IsInitiator = false,
            State = IkeSaState.Established,
            Connection = "rw",
            Local = new IPEndPoint(IPAddress.Loopback, 500),
            Remote = new IPEndPoint(IPAddress.Parse("127.0.0.9"), 500),
            EstablishedUtc = DateTime.UtcNow,
            LocalId = Identity.Parse("gw.test"),
            RemoteId = Identity.Parse("intruder.test"),
            Suite = new IkeSuite(EncrAlgorithm.AesGcm16, 256, PrfAlgorithm.HmacSha2_256, IntegAlgorithm.None, DhGroup.Ecp256),
            Keys = new IkeKeys
            {
                SkD = Bytes(32, 1), SkAi = [], SkAr = [], SkEi = Bytes(36, 4), SkEr = Bytes(36, 5), SkPi = Bytes(32, 6), SkPr = Bytes(32, 7),
            },
            NextRequestId = 0,
            PeerNextRequestId = 2,
            Children =
            [
                new ChildSaSnapshot("lan", 0xC0DE_BAD1, 0xC0DE_BAD2, new EspSuite(EncrAlgorithm.AesGcm16, 256, IntegAlgorithm.None, DhGroup.None, false),
                    Bytes(36, 14), [], Bytes(36, 15), [], [any], [any], EspTransport.UdpEncapsulated, 64, DateTime.UtcNow, 0, 0),
            ],
        };
    }
}
