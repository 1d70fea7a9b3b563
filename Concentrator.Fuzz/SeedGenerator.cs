using System.Buffers.Binary;
using System.Net;
using System.Text;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.Hosting;
using Concentrator.Ike.Crypto;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;

namespace Concentrator.Fuzz;

/// <summary>
/// Writes seed corpora made by the project's own code: a loopback exchange between two <see cref="IkeSa"/>
/// objects (IKE_SA_INIT, IKE_AUTH, DPD, CREATE_CHILD_SA rekey, Child SA delete; AEAD and CBC suites),
/// ESP packets from <see cref="InMemoryDataPlane"/>, configuration files, and the seeds of the state machine, ESP past
/// its ICV and the replica (<see cref="StateSeeds"/>).
/// </summary>
public static class SeedGenerator
{
    private static readonly IPEndPoint InitiatorEp = new(IPAddress.Parse("192.0.2.1"), 500);
    private static readonly IPEndPoint ResponderEp = new(IPAddress.Parse("192.0.2.2"), 500);

    public static string ResponderYaml(string proposals, string esp) => $$"""
        listen: { addresses: [127.0.0.1], ike_port: 0, natt_port: 0 }
        connections:
          rw:
            proposals: [{{proposals}}]
            local: { auth: psk, id: gw.test }
            remote: { auth: psk, id: "%any" }
            children:
              lan:
                local_ts: [10.10.0.0/16]
                remote_ts: [10.200.0.0/16]
                esp_proposals: [{{esp}}]
        secrets:
          rw: { secret: "test-shared-key-0123456789" }
        """;

    public static string InitiatorYaml(string proposals, string esp) => $$"""
        listen: { addresses: [127.0.0.1], ike_port: 0, natt_port: 0 }
        connections:
          site:
            remote_addrs: [127.0.0.1]
            proposals: [{{proposals}}]
            local: { auth: psk, id: site.test }
            remote: { auth: psk, id: gw.test }
            children:
              net:
                local_ts: [10.200.1.0/24]
                remote_ts: [10.10.0.0/16]
                esp_proposals: [{{esp}}]
        secrets:
          site: { secret: "test-shared-key-0123456789" }
        """;

    /// <summary>Every seed, by target, as (file name, bytes).</summary>
    public static Dictionary<string, List<(string Name, byte[] Data)>> Generate()
    {
        var seeds = FuzzTargets.All.ToDictionary(t => t, _ => new List<(string, byte[])>());
        foreach (var (tag, ike, esp) in new[]
                 {
                     ("gcm", "aes256gcm16-prfsha256-ecp256", "aes256gcm16"),
                     ("cbc", "aes256-sha256-modp2048", "aes128-sha256"),
                 })
        {
            foreach (var (name, datagram, opened) in Exchange(ike, esp))
            {
                seeds[FuzzTargets.IkeMessage].Add(($"{tag}-{name}", datagram));
                IkeHeader.TryParse(datagram, out var header);
                List<Payload> chain;
                PayloadType first;
                if (opened is null)
                {
                    first = header.NextPayload;
                    seeds[FuzzTargets.IkeChain].Add(($"{tag}-{name}", [(byte)first, .. datagram.AsSpan(ProtocolConstants.IkeHeaderLength)]));
                    continue;
                }

                chain = opened;
                first = chain.Count > 0 ? chain[0].Type : PayloadType.None;
                var plain = new byte[IkeCodec.GetChainLength(chain)];
                IkeCodec.WriteChain(chain, plain);
                seeds[FuzzTargets.IkeChain].Add(($"{tag}-{name}-inner", [(byte)first, .. plain]));

                foreach (byte suiteBit in new byte[] { 0, 1 })
                {
                    byte selector = (byte)(suiteBit | ExchangeBits(header.Exchange) | (header.IsResponse ? 8 : 0));
                    seeds[FuzzTargets.SkOpen].Add(($"{(suiteBit == 0 ? "gcm" : "cbc")}-{tag}-{name}", SealForSkOpen(selector, chain)));
                }
            }
        }

        foreach (byte selector in new byte[] { 0, 1 })
        {
            string tag = selector == 0 ? "gcm" : "cbc";
            foreach (var (name, packet) in EspPackets(FuzzTargets.EspSuite(selector)))
            {
                seeds[FuzzTargets.EspDecap].Add(($"{tag}-{name}", [selector, .. packet]));
            }
        }

        seeds[FuzzTargets.IkeStateMachine].AddRange(StateSeeds.IkeSa());
        seeds[FuzzTargets.EspOpen].AddRange(StateSeeds.EspOpen());
        seeds[FuzzTargets.Replica].AddRange(StateSeeds.Replica());
        seeds[FuzzTargets.IkeFrag].AddRange(StateSeeds.IkeFrag());
        seeds[FuzzTargets.RadiusResponse].AddRange(RadiusResponseTarget.Seeds());
        seeds[FuzzTargets.IkeV1Message].AddRange(IkeV1MessageTarget.Seeds());
        seeds[FuzzTargets.IkeV1Protect].AddRange(IkeV1ProtectTarget.Seeds());
        seeds[FuzzTargets.IkeV1StateMachine].AddRange(IkeV1SaTarget.Seeds());

        var configs = seeds[FuzzTargets.Config];
        configs.Add(("responder.yaml", Encoding.UTF8.GetBytes(ResponderYaml("aes256gcm16-prfsha256-ecp256", "aes256gcm16"))));
        configs.Add(("initiator.yaml", Encoding.UTF8.GetBytes(InitiatorYaml("aes256-sha256-modp2048", "aes128-sha256"))));
        configs.Add(("minimal.yaml", Encoding.UTF8.GetBytes("connections: {}\n")));
        configs.Add(("default-proposals.yaml", Encoding.UTF8.GetBytes(ResponderYaml("default", "default"))));
        configs.Add(("ipv6.yaml", Encoding.UTF8.GetBytes(ResponderYaml("aes128gcm16-prfsha384-x25519", "chacha20poly1305")
            .Replace("10.10.0.0/16", "\"2001:db8::/32\"").Replace("10.200.0.0/16", "\"2001:db8:1::/48\", 10.1.0.0/16"))));
        var example = FindExample();
        if (example is not null) configs.Add(("example.yaml", File.ReadAllBytes(example)));
        return seeds;
    }

    public static void Write(string directory)
    {
        foreach (var (target, files) in Generate())
        {
            var dir = Path.Combine(directory, target);
            Directory.CreateDirectory(dir);
            foreach (var (name, data) in files) File.WriteAllBytes(Path.Combine(dir, name), data);
            Console.WriteLine($"{target}: {files.Count} seeds, {files.Sum(f => f.Data.Length)} bytes");
        }
    }

    private static byte ExchangeBits(ExchangeType exchange) => exchange switch
    {
        ExchangeType.CreateChildSa => 1 << 1,
        ExchangeType.Informational => 2 << 1,
        _ => 0,
    };

    /// <summary>Seals the chain the way the sk-open target expects: selector | first | IV | ciphertext | ICV.</summary>
    public static byte[] SealForSkOpen(byte selector, IReadOnlyList<Payload> inner)
    {
        var suite = FuzzTargets.SkSuite(selector);
        using var sealer = new IkeMessageProtector(suite, FuzzTargets.SkKeys(suite), weAreInitiator: true);
        var sealedMessage = sealer.Seal(FuzzTargets.SkHeader(selector, 0), inner);
        int sk = ProtocolConstants.IkeHeaderLength;
        return [selector, sealedMessage[sk], .. sealedMessage.AsSpan(sk + ProtocolConstants.GenericPayloadHeaderLength)];
    }

    private sealed class Side(IkeSa sa, InMemoryDataPlane plane, IPEndPoint endpoint)
    {
        public IkeSa Sa { get; } = sa;
        public InMemoryDataPlane Plane { get; } = plane;
        public IPEndPoint Endpoint { get; } = endpoint;

        public List<byte[]> Drain()
        {
            var sent = new List<byte[]>();
            foreach (var e in Sa.DrainEffects())
            {
                if (e is ChildSaEstablished c) Plane.AddSa(c.Install);
                if (e is ChildSaRemoved r) Plane.DeleteSa(r.InboundSpi);
                if (e is SendMessage m) sent.Add(m.Datagram);
            }
            return sent;
        }
    }

    /// <summary>Datagrams of a loopback run, with the opened inner payloads of encrypted ones.</summary>
    internal static List<(string Name, byte[] Datagram, List<Payload>? Inner)> Exchange(string ike, string esp)
    {
        var rConfig = ConcentratorConfig.Parse(ResponderYaml(ike, esp), "<r>");
        var iConfig = ConcentratorConfig.Parse(InitiatorYaml(ike, esp), "<i>");
        using var rPlane = new InMemoryDataPlane();
        using var iPlane = new InMemoryDataPlane();
        var rContext = new IkeSaContext { Resolver = new ConfigConnectionResolver(rConfig), DataPlane = rPlane };
        var iContext = new IkeSaContext { Resolver = new ConfigConnectionResolver(iConfig), DataPlane = iPlane };
        var i = new Side(IkeSa.CreateInitiator(iContext, iConfig.Connections["site"], 0x1111_2222_3333_4444, InitiatorEp, ResponderEp), iPlane, InitiatorEp);
        var r = new Side(IkeSa.CreateResponder(rContext, 0x1111_2222_3333_4444, 0x5555_6666_7777_8888, ResponderEp, InitiatorEp, natT: false), rPlane, ResponderEp);

        var log = new List<(string, byte[], List<Payload>?)>();
        int n = 0;
        void Pump(string step)
        {
            // Ping-pong until both sides are quiet.
            var pending = new Queue<(Side To, Side From, byte[] Datagram)>();
            foreach (var d in i.Drain()) pending.Enqueue((r, i, d));
            foreach (var d in r.Drain()) pending.Enqueue((i, r, d));
            while (pending.Count > 0 && n < 64)
            {
                var (to, from, datagram) = pending.Dequeue();
                IkeHeader.TryParse(datagram, out var h);
                string name = $"{n++:D2}-{step}-{h.Exchange}-{(h.IsResponse ? "resp" : "req")}".ToLowerInvariant();
                log.Add((name, datagram, Open(to.Sa, datagram)));
                to.Sa.HandleDatagram(datagram, from.Endpoint, to.Endpoint, viaNatT: false);
                foreach (var d in to.Drain()) pending.Enqueue((from, to, d));
            }
        }

        i.Sa.Initiate();
        Pump("setup");
        i.Sa.SendDpd();
        Pump("dpd");
        var child = i.Sa.Children.FirstOrDefault();
        if (child is not null)
        {
            i.Sa.RekeyChild(child.InboundSpi);
            Pump("rekey");
        }
        child = i.Sa.Children.FirstOrDefault();
        if (child is not null)
        {
            i.Sa.DeleteChild(child.InboundSpi);
            Pump("delete");
        }
        i.Sa.Dispose();
        r.Sa.Dispose();
        return log;
    }

    /// <summary>The inner payloads of an encrypted datagram, opened with the receiver's keys (null for IKE_SA_INIT).</summary>
    private static List<Payload>? Open(IkeSa receiver, byte[] datagram)
    {
        if (IkeCodec.TryDecode(datagram, out var message) != ParseStatus.Ok || message is null) return null;
        if (!message.Payloads.Exists(p => p is EncryptedPayload)) return null;
        if (receiver.Protector is not { } protector) return null;
        return protector.TryOpen(datagram, message) == ParseStatus.Ok ? message.Payloads : null;
    }

    private static IEnumerable<(string Name, byte[] Packet)> EspPackets(EspSuite suite)
    {
        using var peer = new InMemoryDataPlane();
        peer.AddSa(FuzzTargets.EspInstall(suite, peer: true));
        var inners = new (string, byte[])[]
        {
            ("ipv4-udp-28", Ipv4(28, 17)),
            ("ipv4-tcp-60", Ipv4(60, 6)),
            ("ipv4-icmp-100", Ipv4(100, 1)),
            ("ipv4-1400", Ipv4(1400, 17)),
            ("ipv6-udp-48", Ipv6(48, 17)),
            ("ipv6-300", Ipv6(300, 6)),
        };
        var buffer = new byte[2048];
        foreach (var (name, inner) in inners)
        {
            if (peer.Encapsulate(FuzzTargets.EspPeerSpi, inner, buffer, out int written) != EspStatus.Ok)
                throw new InvalidOperationException($"Encapsulate failed for {name}");
            yield return (name, buffer.AsSpan(0, written).ToArray());
        }
    }

    private static byte[] Ipv4(int length, byte protocol)
    {
        var p = new byte[length];
        p[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)length);
        p[8] = 64;
        p[9] = protocol;
        IPAddress.Parse("10.200.1.5").TryWriteBytes(p.AsSpan(12), out _);
        IPAddress.Parse("10.10.0.7").TryWriteBytes(p.AsSpan(16), out _);
        for (int k = 20; k < length; k++) p[k] = (byte)k;
        return p;
    }

    private static byte[] Ipv6(int length, byte protocol)
    {
        var p = new byte[length];
        p[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(4), (ushort)(length - 40));
        p[6] = protocol;
        p[7] = 64;
        IPAddress.Parse("2001:db8:1::5").TryWriteBytes(p.AsSpan(8), out _);
        IPAddress.Parse("2001:db8::7").TryWriteBytes(p.AsSpan(24), out _);
        for (int k = 40; k < length; k++) p[k] = (byte)k;
        return p;
    }

    private static string? FindExample()
    {
        var candidates = new[]
        {
            Path.Combine(AppContext.BaseDirectory, "Config", "example.yaml"),
        };
        foreach (var c in candidates)
        {
            if (File.Exists(c)) return c;
        }

        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            var path = Path.Combine(dir.FullName, "Concentrator", "Config", "example.yaml");
            if (File.Exists(path)) return path;
        }

        return null;
    }
}
