using System.Net;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.Hosting;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Sa.V1;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;
using Concentrator.Telemetry;

namespace Concentrator.Tests.Ike.Sa.V1;

/// <summary>
/// Two <see cref="IkeV1Sa"/> wired directly (no ActorSystem, no sockets): what one sends the other receives, as the demux
/// would hand it on (header parsed, port 4500 and the NAT-T flag when the sender floated). For the IKEv1 helpers too.
/// </summary>
public static class V1PairHarness
{
    public static readonly IPEndPoint InitiatorEp = new(IPAddress.Parse("192.0.2.1"), 500);
    public static readonly IPEndPoint ResponderEp = new(IPAddress.Parse("192.0.2.2"), 500);
    public const ulong InitiatorCookie = 0x0A0B_0C0D_0E0F_1011;
    public const ulong ResponderCookie = 0x2122_2324_2526_2728;

    public sealed class Side(IkeV1Sa sa, InMemoryDataPlane plane, IPEndPoint self, ConcentratorMetrics metrics)
    {
        public IkeV1Sa Sa { get; } = sa;
        public InMemoryDataPlane Plane { get; } = plane;
        public IPEndPoint Self { get; } = self;
        public ConcentratorMetrics Metrics { get; } = metrics;
        public List<IkeEffect> Seen { get; } = [];

        /// <summary>Every datagram this side sent, in order.</summary>
        public List<SendMessage> Sent { get; } = [];

        public List<SendMessage> Drain()
        {
            var effects = Sa.DrainEffects();
            Seen.AddRange(effects);
            var sends = effects.OfType<SendMessage>().ToList();
            Sent.AddRange(sends);
            return sends;
        }

        public V1Inbound InboundFrom(Side sender, SendMessage send)
        {
            IsakmpHeader.TryParse(send.Datagram, out var header);
            int port = send.NatT ? UdpEncapsulation.NatTraversalPort : 500;
            return new V1Inbound(send.Datagram, header, new IPEndPoint(sender.Self.Address, port), new IPEndPoint(Self.Address, port), send.NatT);
        }
    }

    public static ConcentratorConfig Config(string yaml) => ConcentratorConfig.Parse(yaml, "<v1>");

    public static (Side I, Side R) Create(string initiatorYaml, string responderYaml, string connection = "site")
    {
        var iConfig = Config(initiatorYaml);
        var rConfig = Config(responderYaml);
        var (iPlane, rPlane) = (new InMemoryDataPlane(), new InMemoryDataPlane());
        var (iMetrics, rMetrics) = (new ConcentratorMetrics(), new ConcentratorMetrics());
        var i = IkeV1Sa.CreateInitiator(new IkeSaContext { Resolver = new ConfigConnectionResolver(iConfig), DataPlane = iPlane, Metrics = iMetrics },
            iConfig.Connections[connection], InitiatorCookie, InitiatorEp, ResponderEp);
        var r = IkeV1Sa.CreateResponder(new IkeSaContext { Resolver = new ConfigConnectionResolver(rConfig), DataPlane = rPlane, Metrics = rMetrics },
            InitiatorCookie, ResponderCookie, ResponderEp, InitiatorEp, natT: false);
        return (new Side(i, iPlane, InitiatorEp, iMetrics), new Side(r, rPlane, ResponderEp, rMetrics));
    }

    /// <summary>
    /// Delivers messages both ways until neither side sends (at most <paramref name="rounds"/> deliveries);
    /// <paramref name="tamper"/> may change or drop (null) a datagram on the wire.
    /// </summary>
    public static void Pump(Side i, Side r, Func<Side, SendMessage, SendMessage?>? tamper = null, int rounds = 40)
    {
        var queue = new Queue<(Side From, Side To, SendMessage Send)>();
        foreach (var s in i.Drain()) queue.Enqueue((i, r, s));
        foreach (var s in r.Drain()) queue.Enqueue((r, i, s));
        while (queue.Count > 0 && rounds-- > 0)
        {
            var (from, to, send) = queue.Dequeue();
            if ((tamper is null ? send : tamper(from, send)) is not { } delivered) continue;
            to.Sa.HandleDatagram(to.InboundFrom(from, delivered));
            foreach (var s in to.Drain()) queue.Enqueue((to, from, s));
        }
    }

    public static (Side I, Side R) Handshake(string initiatorYaml, string responderYaml, Func<Side, SendMessage, SendMessage?>? tamper = null)
    {
        var (i, r) = Create(initiatorYaml, responderYaml);
        i.Sa.Initiate();
        Pump(i, r, tamper);
        return (i, r);
    }

    public static string Initiator(string proposals = "aes256-sha256-modp2048", string psk = "v1-pre-shared-key-0123456789", string extra = "",
        string remoteId = "gw.example.net", bool weak = false) => $$"""
        listen: { addresses: [192.0.2.1], ike_port: 0, natt_port: 0 }
        connections:
          site:
            version: 1
            remote_addrs: [192.0.2.2]
            proposals: [{{proposals}}]
            weak_algorithms: {{(weak ? "yes" : "no")}}
        {{extra}}
            local: { auth: psk, id: branch.example.net }
            remote: { auth: psk, id: "{{remoteId}}" }
            children:
              net: { local_ts: [10.200.1.0/24], remote_ts: [10.10.0.0/16] }
        secrets:
          ike-1: { id-1: branch.example.net, id-2: gw.example.net, secret: "{{psk}}" }
        """;

    public static string Responder(string proposals = "aes256-sha256-modp2048", string psk = "v1-pre-shared-key-0123456789", string extra = "",
        string remoteId = "branch.example.net", bool weak = false) => $$"""
        listen: { addresses: [192.0.2.2], ike_port: 0, natt_port: 0 }
        connections:
          rw:
            version: 1
            remote_addrs: [192.0.2.1]
            proposals: [{{proposals}}]
            weak_algorithms: {{(weak ? "yes" : "no")}}
        {{extra}}
            local: { auth: psk, id: gw.example.net }
            remote: { auth: psk, id: "{{remoteId}}" }
            children:
              net: { local_ts: [10.10.0.0/16], remote_ts: [10.200.1.0/24] }
        secrets:
          ike-1: { id-1: branch.example.net, id-2: gw.example.net, secret: "{{psk}}" }
        """;
}
