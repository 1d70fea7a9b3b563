using System.Buffers.Binary;
using System.Net;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.Hosting;
using Concentrator.Ike.Admission;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;

namespace Concentrator.Fuzz;

/// <summary>
/// ike-frag: IKE fragmentation (RFC 7383) at both ends of an IKE SA. Two <see cref="IkeSa"/> objects run IKE_SA_INIT
/// (both announce support); the initiator's IKE_AUTH, large enough to need fragments (its child announces 40 IPv6
/// prefixes), waits as fragments, and the input decides what reaches the responder and what of its fragmented answer
/// reaches the initiator, and adds fragments of its own sealed with either end's real keys:
/// <code>
/// input[0]  setup: bit 0 suite (AES-GCM; AES-CBC + HMAC), bits 1-2 charon.fragment_size (576, 640, 800, 1280),
///           bit 3 max_packet 1500 (else 10000), bit 4 fragment_memory 2000 (else the default)
/// then commands, an op byte (its value mod 6) and its operands:
///   0 u8 k        deliver the initiator's k-th datagram sent (mod the count) to the responder
///   1 u8 k        deliver the responder's k-th datagram sent to the initiator
///   2 u8 k, u16 offset, u8 xor   the same as 0 with one octet changed
///   3 u16 number, u16 total, u8 first, u8 flags, u8 length, piece   one SKF fragment sealed by an end with its keys
///     (flags bit 0: by the responder, as a response, else by the initiator; bit 1: message ID + 1; bit 2: INFORMATIONAL;
///     bit 3: padded by 255 octets, the most a peer may)
///   4             the initiator's retransmission timer (its fragments are sent again)
///   5             deliver everything sent, both ways, in order
/// </code>
/// When the commands run out everything sent is delivered (bounded). Besides any exception, a crash is an SA holding more
/// fragment octets than its bound, a node budget that disagrees with its one SA or passes charon.fragment_memory, or
/// octets still held once both SAs are disposed.
/// </summary>
public static class IkeFragTarget
{
    private static readonly IPEndPoint InitiatorEp = new(IPAddress.Parse("192.0.2.1"), 500);
    private static readonly IPEndPoint ResponderEp = new(IPAddress.Parse("192.0.2.2"), 500);
    private static readonly int[] FragmentSizes = [576, 640, 800, 1280];
    private const int MaxDeliveries = 400;
    private const int MaxSent = 256;

    private static readonly (ConcentratorConfig Initiator, ConcentratorConfig Responder)[] Configs =
    [
        Build("aes256gcm16-prfsha256-x25519", "aes256gcm16"),
        Build("aes256-sha256-x25519", "aes128-sha256"),
    ];

    private static (ConcentratorConfig, ConcentratorConfig) Build(string ike, string esp)
    {
        var prefixes = string.Join(", ", Enumerable.Range(1, 40).Select(n => $"\"2001:db8:1:{n:x}::/64\""));
        return (ConcentratorConfig.Parse(SeedGenerator.InitiatorYaml(ike, esp).Replace("[10.200.1.0/24]", $"[10.200.1.0/24, {prefixes}]"), "<frag-i>"),
            ConcentratorConfig.Parse(SeedGenerator.ResponderYaml(ike, esp).Replace("[10.200.0.0/16]", "[10.200.0.0/16, \"2001:db8:1::/48\"]"), "<frag-r>"));
    }

    /// <summary>How a run ended: both SAs' states, the most fragment octets the responder held, fragments each end received.</summary>
    public readonly record struct Outcome(IkeSaState Initiator, IkeSaState Responder, int MostHeld, int InitiatorSent);

    private sealed class End(IkeSa sa, IPEndPoint self)
    {
        public IkeSa Sa { get; } = sa;
        public IPEndPoint Self { get; } = self;
        public List<byte[]> Sent { get; } = new();
        public int Delivered { get; set; }
    }

    public static Outcome Run(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty) return default;
        byte setup = input[0];
        var (iConfig, rConfig) = Configs[setup & 1];
        var tunables = IkeTunables.Default with { FragmentSizeV4 = FragmentSizes[(setup >> 1) & 3] };
        var limits = ResourceLimits.Default with
        {
            MaxPacket = (setup & 8) != 0 ? 1500 : ResourceLimits.Default.MaxPacket,
            FragmentMemory = (setup & 16) != 0 ? 2000 : ResourceLimits.Default.FragmentMemory,
        };
        long nonce = 0;
        Func<int, byte[]> nonces = n =>
        {
            var b = new byte[n];
            BinaryPrimitives.WriteInt64BigEndian(b, ++nonce);
            return b;
        };
        var iContext = new IkeSaContext
        {
            Resolver = new ConfigConnectionResolver(iConfig), DataPlane = new InMemoryDataPlane(), Tunables = tunables, Limits = limits, NonceSource = nonces,
        };
        var rContext = new IkeSaContext
        {
            Resolver = new ConfigConnectionResolver(rConfig), DataPlane = new InMemoryDataPlane(), Tunables = tunables, Limits = limits, NonceSource = nonces,
        };
        var i = new End(IkeSa.CreateInitiator(iContext, iConfig.Connections["site"], 0x1111_2222_3333_4444, InitiatorEp, ResponderEp), InitiatorEp);
        var r = new End(IkeSa.CreateResponder(rContext, 0x1111_2222_3333_4444, 0x5555_6666_7777_8888, ResponderEp, InitiatorEp, natT: false), ResponderEp);
        int mostHeld = 0;
        try
        {
            i.Sa.Initiate();
            Drain(i);
            Deliver(r, i.Sent[0], ref mostHeld);
            Deliver(i, r.Sent[0], ref mostHeld);
            i.Delivered = r.Delivered = 1;
            int p = 1, deliveries = 0;
            while (p < input.Length && deliveries < MaxDeliveries)
            {
                int op = input[p++] % 6;
                switch (op)
                {
                    case 0 or 1 when p < input.Length:
                    {
                        var (from, to) = op == 0 ? (i, r) : (r, i);
                        byte k = input[p++];
                        if (from.Sent.Count > 0) Deliver(to, from.Sent[k % from.Sent.Count], ref mostHeld);
                        deliveries++;
                        break;
                    }
                    case 2 when p + 4 <= input.Length:
                    {
                        byte k = input[p];
                        int offset = BinaryPrimitives.ReadUInt16BigEndian(input[(p + 1)..]);
                        byte xor = input[p + 3];
                        p += 4;
                        if (i.Sent.Count == 0) break;
                        var changed = (byte[])i.Sent[k % i.Sent.Count].Clone();
                        changed[offset % changed.Length] ^= xor;
                        Deliver(r, changed, ref mostHeld);
                        deliveries++;
                        break;
                    }
                    case 3 when p + 8 <= input.Length:
                    {
                        ushort number = BinaryPrimitives.ReadUInt16BigEndian(input[p..]);
                        ushort total = BinaryPrimitives.ReadUInt16BigEndian(input[(p + 2)..]);
                        var first = (PayloadType)input[p + 4];
                        byte flags = input[p + 5];
                        int length = Math.Min(input[p + 6], input.Length - p - 7);
                        var piece = input.Slice(p + 7, length);
                        p += 7 + length;
                        var (by, to) = (flags & 1) != 0 ? (r, i) : (i, r);
                        if (by.Sa.Protector is not { } protector) break;
                        var exchange = (flags & 4) != 0 ? ExchangeType.Informational : ExchangeType.IkeAuth;
                        var header = new IkeHeader(by.Sa.SpiI, by.Sa.SpiR, PayloadType.None, ProtocolConstants.MajorVersion,
                            ProtocolConstants.MinorVersion, exchange, by == r ? IkeFlags.Response : IkeFlags.Initiator, 1u + (uint)((flags >> 1) & 1), 0);
                        Deliver(to, protector.SealFragment(header, first, piece, number, total, (flags & 8) != 0 ? 255 : 0), ref mostHeld);
                        deliveries++;
                        break;
                    }
                    case 4:
                        i.Sa.OnRetransmitTimer();
                        Drain(i);
                        break;
                    case 5:
                        deliveries += Flush(i, r, MaxDeliveries - deliveries, ref mostHeld);
                        break;
                    default:
                        p = input.Length;
                        break;
                }
            }

            Flush(i, r, MaxDeliveries, ref mostHeld);
            return new Outcome(i.Sa.State, r.Sa.State, mostHeld, i.Sent.Count);
        }
        finally
        {
            i.Sa.Dispose();
            r.Sa.Dispose();
            if (iContext.Reassembly.Held != 0 || rContext.Reassembly.Held != 0)
            {
                throw new InvalidOperationException($"fragment octets held after both SAs were disposed: {iContext.Reassembly.Held}, {rContext.Reassembly.Held}");
            }
        }
    }

    /// <summary>Delivers what each end sent and the other has not seen yet, in order, until quiet or <paramref name="budget"/> runs out.</summary>
    private static int Flush(End i, End r, int budget, ref int mostHeld)
    {
        int delivered = 0;
        while (delivered < budget && (i.Delivered < i.Sent.Count || r.Delivered < r.Sent.Count))
        {
            if (i.Delivered < i.Sent.Count) Deliver(r, i.Sent[i.Delivered++], ref mostHeld);
            else Deliver(i, r.Sent[r.Delivered++], ref mostHeld);
            delivered++;
        }
        return delivered;
    }

    private static void Deliver(End to, byte[] datagram, ref int mostHeld)
    {
        var from = to.Self.Equals(InitiatorEp) ? ResponderEp : InitiatorEp;
        to.Sa.HandleDatagram(datagram, from, to.Self, viaNatT: false);
        Drain(to);
        var sa = to.Sa;
        int held = sa.TaskManager.FragmentBytesHeld;
        var context = sa.Context;
        // Two reassemblies, each within max_packet of content (padding is not kept) and the first fragment kept whole.
        int bound = 2 * (context.Limits.MaxPacket + ushort.MaxValue);
        if (held > bound) throw new InvalidOperationException($"an SA holds {held} fragment octets, more than its bound {bound}");
        if (context.Reassembly.Held != held) throw new InvalidOperationException($"the node's budget says {context.Reassembly.Held}, its one SA {held}");
        if (held > context.Limits.FragmentMemory) throw new InvalidOperationException($"{held} octets held, fragment_memory is {context.Limits.FragmentMemory}");
        if (to.Self.Equals(ResponderEp)) mostHeld = Math.Max(mostHeld, held);
    }

    private static void Drain(End end)
    {
        foreach (var e in end.Sa.DrainEffects())
        {
            if (e is ChildSaEstablished && end.Sa.State is IkeSaState.Created or IkeSaState.Connecting)
            {
                throw new InvalidOperationException($"a Child SA was installed by an IKE SA in state {end.Sa.State}: its peer is not authenticated");
            }
            if (e is SendMessage send && end.Sent.Count < MaxSent) end.Sent.Add(send.Datagram);
        }
    }
}
