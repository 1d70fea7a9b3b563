using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.Hosting;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;

namespace Concentrator.Fuzz;

/// <summary>
/// ike-sa: the IKE state machine. Two <see cref="IkeSa"/> objects (an initiator and a responder, each hosted in an
/// <see cref="IkeSaLineage"/> as its actor hosts it) exchange messages the input steers: it delivers, drops, repeats and
/// corrupts the queued datagrams, starts exchanges on either side, and injects or replaces messages with its own payload
/// chain, which the target seals with the sender's keys (a chain that decodes; IKE_SA_INIT goes as it is), so mutations
/// reach the tasks past the integrity check.
/// <code>
/// input[0]   suite: bits 0-1 pick IKE / ESP proposals (see <see cref="Suites"/>: AES-GCM, ChaCha20-Poly1305 with ESN,
///            AES-CBC + HMAC with PFS and ESN, AES-GCM-128 with ESN)
/// then commands, each an op byte (low nibble: what; bit 4: which side, 0 initiator, 1 responder) and its operands:
///   0 deliver the next queued datagram      1 drop it      2 deliver it twice (a retransmission)
///   3 retransmit timer   4 create a child   5 rekey the first child   6 rekey the IKE SA   7 DPD
///   8 delete the first child   9 delete the IKE SA
///  10 inject from the side: u8 exchange (0-3: IKE_SA_INIT, IKE_AUTH, CREATE_CHILD_SA, INFORMATIONAL), u8 flags
///     (bit 0 response, bit 1 message ID + 1, bit 2 message ID - 1), u8 first payload, u16 length, chain
///  11 replace the next queued datagram's payloads (same header, same sender): u8 first payload, u16 length, chain
///  12 corrupt the next queued datagram: u16 offset, u8 xor
/// </code>
/// When the commands run out the queue is delivered until quiet (bounded). Besides any exception, a crash is a Child SA
/// installed by an SA whose peer is not authenticated.
/// </summary>
public static class IkeSaTarget
{
    private static readonly IPEndPoint InitiatorEp = new(IPAddress.Parse("192.0.2.1"), 500);
    private static readonly IPEndPoint ResponderEp = new(IPAddress.Parse("192.0.2.2"), 500);
    private const int MaxDeliveries = 200;

    /// <summary>IKE and ESP proposals by the suite bits of input[0].</summary>
    public static readonly (string Ike, string Esp)[] Suites =
    [
        ("aes256gcm16-prfsha256-x25519", "aes256gcm16"),
        ("chacha20poly1305-prfsha256-x25519", "chacha20poly1305-esn"),
        ("aes256-sha256-x25519", "aes128-sha256-x25519-esn"),
        ("aes128gcm16-prfsha384-x25519", "aes128gcm16-esn-noesn"),
    ];

    private static readonly (ConcentratorConfig Initiator, ConcentratorConfig Responder)[] Configs =
        Suites.Select(s => (ConcentratorConfig.Parse(SeedGenerator.InitiatorYaml(s.Ike, s.Esp), "<fuzz-i>"),
            ConcentratorConfig.Parse(SeedGenerator.ResponderYaml(s.Ike, s.Esp), "<fuzz-r>"))).ToArray();

    private static readonly ExchangeType[] Exchanges = [ExchangeType.IkeSaInit, ExchangeType.IkeAuth, ExchangeType.CreateChildSa, ExchangeType.Informational];

    /// <summary>One end: its SAs as the actor hosts them, and its data plane.</summary>
    public sealed class Side(IkeSa sa, IPEndPoint self) : IDisposable
    {
        public IkeSaLineage Lineage { get; } = new(sa);
        public InMemoryDataPlane Plane { get; } = new();
        public IPEndPoint Self { get; } = self;

        public void Dispose()
        {
            Lineage.Dispose();
            Plane.Dispose();
        }
    }

    /// <summary>A datagram on its way, and who sent it.</summary>
    public sealed record Queued(bool FromResponder, byte[] Datagram);

    /// <summary>The two ends of a fresh run with <paramref name="suite"/>; nonces are deterministic so a run repeats.</summary>
    public static (Side I, Side R) Create(int suite)
    {
        var (iConfig, rConfig) = Configs[suite & 3];
        long nonce = 0;
        Func<int, byte[]> nonces = n =>
        {
            var b = new byte[n];
            BinaryPrimitives.WriteInt64BigEndian(b, Interlocked.Increment(ref nonce));
            return b;
        };
        var iContext = new IkeSaContext { Resolver = new ConfigConnectionResolver(iConfig), DataPlane = new InMemoryDataPlane(), NonceSource = nonces };
        var rContext = new IkeSaContext { Resolver = new ConfigConnectionResolver(rConfig), DataPlane = new InMemoryDataPlane(), NonceSource = nonces };
        var i = new Side(IkeSa.CreateInitiator(iContext, iConfig.Connections["site"], 0x1111_2222_3333_4444, InitiatorEp, ResponderEp), InitiatorEp);
        var r = new Side(IkeSa.CreateResponder(rContext, 0x1111_2222_3333_4444, 0x5555_6666_7777_8888, ResponderEp, InitiatorEp, natT: false), ResponderEp);
        return (i, r);
    }

    /// <summary>How a run ended: the states of both current SAs and the Child SAs in the responder's data plane.</summary>
    public readonly record struct Outcome(IkeSaState Initiator, IkeSaState Responder, int ResponderChildren);

    public static Outcome Run(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty) return default;
        var (i, r) = Create(input[0]);
        try
        {
            var queue = new Queue<Queued>();
            i.Lineage.Current.Initiate();
            Drain(i, false, queue);
            int p = 1, deliveries = 0;
            while (p < input.Length && deliveries < MaxDeliveries)
            {
                byte op = input[p++];
                var side = (op & 0x10) == 0 ? i : r;
                bool fromResponder = side == r;
                switch (op & 0x0F)
                {
                    case 0 when queue.Count > 0:
                        Deliver(queue.Dequeue(), i, r, queue);
                        deliveries++;
                        break;
                    case 1 when queue.Count > 0:
                        queue.Dequeue();
                        break;
                    case 2 when queue.Count > 0:
                        var twice = queue.Dequeue();
                        Deliver(twice, i, r, queue);
                        Deliver(twice, i, r, queue);
                        deliveries += 2;
                        break;
                    case 3:
                        foreach (var sa in side.Lineage.All.ToList()) sa.OnRetransmitTimer();
                        break;
                    case 4:
                        if (side.Lineage.Current.State == IkeSaState.Established && side.Lineage.Current.Connection is { } c)
                            side.Lineage.Current.CreateChild(c.Children.Values.First());
                        break;
                    case 5:
                        if (side.Lineage.Current.Children.FirstOrDefault() is { } child) side.Lineage.Current.RekeyChild(child.InboundSpi);
                        break;
                    case 6:
                        side.Lineage.Current.RekeyIke();
                        break;
                    case 7:
                        if (side.Lineage.Current.State == IkeSaState.Established) side.Lineage.Current.SendDpd();
                        break;
                    case 8:
                        if (side.Lineage.Current.Children.FirstOrDefault() is { } gone) side.Lineage.Current.DeleteChild(gone.InboundSpi);
                        break;
                    case 9:
                        side.Lineage.Current.Delete();
                        break;
                    case 10:
                        if (!TryChain(input, ref p, 2, out var head, out var first, out var chain)) return Result(i, r);
                        var inject = Build(side.Lineage.Current, Exchanges[head[0] & 3], head[1], first, chain);
                        if (inject is not null) Deliver(new Queued(fromResponder, inject), i, r, queue);
                        deliveries++;
                        break;
                    case 11:
                        if (!TryChain(input, ref p, 0, out _, out var replaceFirst, out var replaceChain)) return Result(i, r);
                        if (queue.Count > 0)
                        {
                            var next = queue.Dequeue();
                            var sender = next.FromResponder ? r : i;
                            var replaced = Replace(sender, next.Datagram, replaceFirst, replaceChain);
                            if (replaced is not null) Deliver(next with { Datagram = replaced }, i, r, queue);
                            deliveries++;
                        }
                        break;
                    case 12:
                        if (p + 3 > input.Length) return Result(i, r);
                        int offset = BinaryPrimitives.ReadUInt16BigEndian(input[p..]);
                        byte xor = input[p + 2];
                        p += 3;
                        if (queue.Count > 0 && queue.Peek().Datagram is { Length: > 0 } d) d[offset % d.Length] ^= xor;
                        break;
                }

                Drain(i, false, queue);
                Drain(r, true, queue);
            }

            for (; queue.Count > 0 && deliveries < MaxDeliveries; deliveries++) Deliver(queue.Dequeue(), i, r, queue);
            return Result(i, r);
        }
        finally
        {
            i.Dispose();
            r.Dispose();
        }
    }

    private static Outcome Result(Side i, Side r) => new(i.Lineage.Current.State, r.Lineage.Current.State, r.Plane.InstalledCount);

    /// <summary>Reads a payload chain operand: <paramref name="head"/> bytes, the first payload type, a u16 length, the chain.</summary>
    private static bool TryChain(ReadOnlySpan<byte> input, ref int p, int head, out byte[] headBytes, out PayloadType first, out byte[] chain)
    {
        headBytes = [];
        first = PayloadType.None;
        chain = [];
        if (p + head + 3 > input.Length) return false;
        headBytes = input.Slice(p, head).ToArray();
        first = (PayloadType)input[p + head];
        int length = Math.Min(BinaryPrimitives.ReadUInt16BigEndian(input[(p + head + 1)..]), input.Length - p - head - 3);
        chain = input.Slice(p + head + 3, length).ToArray();
        p += head + 3 + length;
        return true;
    }

    /// <summary>A message of <paramref name="sender"/> carrying the raw chain, sealed with its keys (IKE_SA_INIT: in the clear).</summary>
    private static byte[]? Build(IkeSa sender, ExchangeType exchange, byte flags, PayloadType first, byte[] chain)
    {
        bool response = (flags & 1) != 0;
        uint id = response ? sender.TaskManager.PeerNextRequestId - 1 : sender.TaskManager.NextRequestId;
        if ((flags & 2) != 0) id++;
        if ((flags & 4) != 0) id--;
        var header = new IkeHeader(sender.SpiI, exchange == ExchangeType.IkeSaInit && !response ? 0 : sender.SpiR, first,
            ProtocolConstants.MajorVersion, ProtocolConstants.MinorVersion, exchange,
            (response ? IkeFlags.Response : IkeFlags.None) | (sender.IsInitiator ? IkeFlags.Initiator : IkeFlags.None), id, 0);
        return Seal(sender, header, first, chain);
    }

    /// <summary>The queued datagram with its payloads replaced by the chain, sealed again by its sender.</summary>
    private static byte[]? Replace(Side sender, byte[] datagram, PayloadType first, byte[] chain)
    {
        if (IkeHeader.TryParse(datagram, out var header) != ParseStatus.Ok) return null;
        // The sender's own SPI: the initiator's when it sent as the IKE SA's original initiator.
        var sa = sender.Lineage.Find(header.FromInitiator ? header.InitiatorSpi : header.ResponderSpi) ?? sender.Lineage.Current;
        return Seal(sa, header, first, chain);
    }

    private static byte[]? Seal(IkeSa sender, IkeHeader header, PayloadType first, byte[] chain)
    {
        if (header.Exchange == ExchangeType.IkeSaInit)
        {
            var clear = new byte[ProtocolConstants.IkeHeaderLength + chain.Length];
            (header with { NextPayload = first, Length = (uint)clear.Length }).Write(clear);
            chain.CopyTo(clear, ProtocolConstants.IkeHeaderLength);
            return clear;
        }

        // Inside SK the chain is sealed as payloads: one that does not decode would never get past a real sender's
        // encoder (the ike-chain and sk-open targets fuzz the decoder itself).
        var payloads = new List<Payload>();
        if (sender.Protector is null || IkeCodec.TryDecodeChain(first, chain, payloads) != ParseStatus.Ok) return null;
        return sender.Protector.Seal(header with { NextPayload = PayloadType.None, Length = 0 }, payloads);
    }

    private static void Deliver(Queued m, Side i, Side r, Queue<Queued> queue)
    {
        var to = m.FromResponder ? i : r;
        var from = m.FromResponder ? r : i;
        if (IkeHeader.TryParse(m.Datagram, out var header) != ParseStatus.Ok) return;
        var sa = to.Lineage.Route(IkeSaLineage.RecipientSpi(header));
        sa.HandleDatagram(m.Datagram, from.Self, to.Self, false);
        Drain(to, to == r, queue);
    }

    /// <summary>Carries out a side's effects as the actor does, queueing what it sends.</summary>
    private static void Drain(Side side, bool responder, Queue<Queued> queue)
    {
        for (bool progress = true; progress;)
        {
            progress = false;
            foreach (var sa in side.Lineage.All.ToList())
            {
                var effects = sa.DrainEffects();
                progress |= effects.Count > 0;
                foreach (var e in effects)
                {
                    switch (e)
                    {
                        case ChildSaEstablished c:
                            if (sa.State is IkeSaState.Created or IkeSaState.Connecting)
                                throw new InvalidOperationException($"a Child SA was installed by an IKE SA in state {sa.State}: its peer is not authenticated");
                            try
                            {
                                side.Plane.AddSa(c.Install);
                            }
                            catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or CryptographicException)
                            {
                                // The EffectRunner refuses such a child the same way (and deletes it with the peer).
                            }
                            break;
                        case ChildSaRemoved removed:
                            side.Plane.DeleteSa(removed.InboundSpi);
                            break;
                        case IkeSaRekeyed k:
                            side.Lineage.Rekeyed(sa, k.Successor);
                            break;
                        case IkeSaRedundant d:
                            side.Lineage.AddRedundant(d.Sa);
                            break;
                        case IkeSaClosed:
                            side.Lineage.Retire(sa);
                            break;
                        case SendMessage send when queue.Count < 64:
                            queue.Enqueue(new Queued(responder, send.Datagram));
                            break;
                    }
                }
            }
        }
    }
}
