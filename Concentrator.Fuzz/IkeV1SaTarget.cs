using System.Buffers.Binary;
using System.Net;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.Hosting;
using Concentrator.Ike.Admission;
using Concentrator.Ike.Crypto.V1;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Sa.V1;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;
using Concentrator.Telemetry;

namespace Concentrator.Fuzz;

/// <summary>
/// ikev1-sa: the IKEv1 phase 1 state machine. An <see cref="IkeV1Sa"/> initiator and a responder (created, as the
/// supervisor creates it, only by a message <see cref="AdmissionPolicy.IsInitialV1"/> accepts) exchange main mode
/// messages the input steers: delivered, dropped, repeated, corrupted, or with their payloads replaced by the input's
/// chain. A replaced encrypted message is sealed with the sender's key and the IV the receiver expects (the previous
/// phase 1 message's last block), so with the PSK both sides share mutations reach the decrypted parser and the
/// HASH check of message 5/6.
/// <code>
/// input[0]   suite: bit 0 picks the proposal (<see cref="Suites"/>)
/// then commands, each an op byte (low nibble: what; bit 4: which side, 0 initiator, 1 responder) and its operands:
///   0 deliver the next queued datagram   1 drop it   2 deliver it twice   3 retransmit timer   4 delete the SA
///   5 replace the next queued datagram's payloads (same header, same sender): u8 first payload, u16 length, chain
///   6 corrupt the next queued datagram: u16 offset, u8 xor
/// </code>
/// When the commands run out the queue is delivered until quiet (bounded). Besides any exception, a crash is: a
/// datagram the responder took that changed nothing (no state move, no answer) and was counted nowhere (a refusal must
/// be counted), responder exchange state beyond <see cref="V1ExchangeStates.MaxExchanges"/>, or an established
/// responder without the configured peer identity.
/// </summary>
public static class IkeV1SaTarget
{
    private static readonly IPEndPoint InitiatorEp = new(IPAddress.Parse("192.0.2.1"), 500);
    private static readonly IPEndPoint ResponderEp = new(IPAddress.Parse("192.0.2.2"), 500);
    private const ulong ResponderCookie = 0x5555_6666_7777_8888;
    private const int MaxDeliveries = 100;

    public static readonly string[] Suites = ["aes128-sha256-ecp256", "aes256-sha384-ecp256"];

    public static string Yaml(string proposals, bool initiator) => initiator
        ? $$"""
            connections:
              site:
                version: 1
                remote_addrs: [192.0.2.2]
                proposals: [{{proposals}}]
                local: { auth: psk, id: site.test }
                remote: { auth: psk, id: gw.test }
                children:
                  net:
                    local_ts: [10.200.1.0/24]
                    remote_ts: [10.10.0.0/16]
                    esp_proposals: [aes128-sha256-ecp256]
            secrets:
              site: { secret: "v1-fuzz-shared-key-0123456789" }
            """
        : $$"""
            connections:
              rw:
                version: 1
                proposals: [{{proposals}}]
                local: { auth: psk, id: gw.test }
                remote: { auth: psk, id: site.test }
                children:
                  lan:
                    local_ts: [10.10.0.0/16]
                    remote_ts: [10.200.0.0/16]
                    esp_proposals: [aes128-sha256-ecp256]
            secrets:
              rw: { secret: "v1-fuzz-shared-key-0123456789" }
            """;

    private static readonly (ConcentratorConfig Initiator, ConcentratorConfig Responder)[] Configs =
        Suites.Select(s => (ConcentratorConfig.Parse(Yaml(s, true), "<fuzz-v1-i>"), ConcentratorConfig.Parse(Yaml(s, false), "<fuzz-v1-r>"))).ToArray();

    /// <summary>A datagram on its way: who sent it, and for a phase 1 encrypted one the IV its receiver decrypts it with.</summary>
    public sealed record Queued(bool FromResponder, byte[] Datagram, byte[]? IvBefore);

    /// <summary>One run's two ends; the responder exists once a first message was admitted.</summary>
    public sealed class Run : IDisposable
    {
        public required IkeV1Sa Initiator { get; init; }
        public IkeV1Sa? Responder { get; set; }
        public required IkeSaContext ResponderContext { get; init; }
        public Queue<Queued> Queue { get; } = new();
        public byte[]? ChainIv { get; set; }

        public void Dispose()
        {
            Initiator.Dispose();
            Responder?.Dispose();
        }
    }

    public static Run Create(int suite)
    {
        var (iConfig, rConfig) = Configs[suite & 1];
        long nonce = 0;
        Func<int, byte[]> nonces = n =>
        {
            var b = new byte[n];
            BinaryPrimitives.WriteInt64BigEndian(b, Interlocked.Increment(ref nonce));
            return b;
        };
        var iContext = new IkeSaContext { Resolver = new ConfigConnectionResolver(iConfig), DataPlane = new InMemoryDataPlane(), NonceSource = nonces };
        var rContext = new IkeSaContext { Resolver = new ConfigConnectionResolver(rConfig), DataPlane = new InMemoryDataPlane(), NonceSource = nonces };
        return new Run
        {
            Initiator = IkeV1Sa.CreateInitiator(iContext, iConfig.Connections["site"], 0x1111_2222_3333_4444, InitiatorEp, ResponderEp),
            ResponderContext = rContext,
        };
    }

    /// <summary>How a run ended: both ends' states (the responder's null when no first message was admitted).</summary>
    public readonly record struct Outcome(V1Phase1State Initiator, V1Phase1State? Responder);

    public static Outcome Execute(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty) return default;
        using var run = Create(input[0]);
        run.Initiator.Initiate();
        Drain(run, run.Initiator, fromResponder: false);
        int p = 1, deliveries = 0;
        while (p < input.Length && deliveries < MaxDeliveries)
        {
            byte op = input[p++];
            bool responderSide = (op & 0x10) != 0;
            var side = responderSide ? run.Responder : run.Initiator;
            switch (op & 0x0F)
            {
                case 0 when run.Queue.Count > 0:
                    Deliver(run, run.Queue.Dequeue());
                    deliveries++;
                    break;
                case 1 when run.Queue.Count > 0:
                    run.Queue.Dequeue();
                    break;
                case 2 when run.Queue.Count > 0:
                    var twice = run.Queue.Dequeue();
                    Deliver(run, twice);
                    Deliver(run, twice);
                    deliveries += 2;
                    break;
                case 3 when side is not null:
                    side.OnRetransmitTimer();
                    Drain(run, side, responderSide);
                    break;
                case 4 when side is not null:
                    side.Delete();
                    Drain(run, side, responderSide);
                    break;
                case 5:
                    if (p + 3 > input.Length) return Result(run);
                    var first = (V1PayloadType)input[p];
                    int length = Math.Min(BinaryPrimitives.ReadUInt16BigEndian(input[(p + 1)..]), input.Length - p - 3);
                    var chain = input.Slice(p + 3, length);
                    p += 3 + length;
                    if (run.Queue.Count > 0) Replace(run, first, chain);
                    break;
                case 6:
                    if (p + 3 > input.Length) return Result(run);
                    int offset = BinaryPrimitives.ReadUInt16BigEndian(input[p..]);
                    byte xor = input[p + 2];
                    p += 3;
                    if (run.Queue.Count > 0)
                    {
                        var head = run.Queue.Peek().Datagram;
                        if (head.Length > 0) head[offset % head.Length] ^= xor;
                    }
                    break;
            }
        }

        for (int k = 0; k < MaxDeliveries && run.Queue.Count > 0; k++) Deliver(run, run.Queue.Dequeue());
        return Result(run);
    }

    private static Outcome Result(Run run) => new(run.Initiator.State, run.Responder?.State);

    private static void Deliver(Run run, Queued queued)
    {
        var datagram = queued.Datagram.ToArray();
        if (IsakmpHeader.TryParse(datagram, out var header) != ParseStatus.Ok) return;
        if (!queued.FromResponder)
        {
            if (run.Responder is null)
            {
                if (!AdmissionPolicy.IsInitialV1(header)) return;
                run.Responder = IkeV1Sa.CreateResponder(run.ResponderContext, header.InitiatorCookie, ResponderCookie, ResponderEp, InitiatorEp, natT: false);
            }
            Check(run, run.Responder, new V1Inbound(datagram, header, InitiatorEp, ResponderEp, false));
        }
        else
        {
            run.Initiator.HandleDatagram(new V1Inbound(datagram, header, ResponderEp, InitiatorEp, false));
            Drain(run, run.Initiator, fromResponder: false);
        }
    }

    /// <summary>Delivers to the responder and checks that what it took either moved it, was answered, or was counted.</summary>
    private static void Check(Run run, IkeV1Sa responder, V1Inbound inbound)
    {
        var before = responder.State;
        long refusals = Refusals();
        responder.HandleDatagram(inbound);
        int sent = Drain(run, responder, fromResponder: true);
        if (responder.State == before && sent == 0 && Refusals() == refusals && before != V1Phase1State.Closed)
        {
            throw new InvalidOperationException($"the responder in {before} took a datagram (exchange {inbound.Header.Exchange}, flags {inbound.Header.Flags}, message ID {inbound.Header.MessageId:x8}, {inbound.Datagram.Length} octets) without moving, answering or counting it");
        }
        if (responder.Exchanges.Count > V1ExchangeStates.MaxExchanges)
        {
            throw new InvalidOperationException($"{responder.Exchanges.Count} exchange states");
        }
        if (responder.State == V1Phase1State.Established && responder.RemoteId?.Text != "site.test")
        {
            throw new InvalidOperationException($"established with peer identity '{responder.RemoteId?.Text}'");
        }
    }

    // Process-wide totals: another thread's counting can only hide a finding, never invent one.
    private static long Refusals()
    {
        long sum = 0;
        for (int r = 0; r < (int)IkeDropReason.Count; r++) sum += IkeStats.DropCount((IkeDropReason)r);
        foreach (var reason in Enum.GetValues<CloseReason>()) sum += IkeStats.ClosedCount(reason);
        return sum;
    }

    /// <summary>Queues what <paramref name="sa"/> sent and returns how many datagrams that was.</summary>
    private static int Drain(Run run, IkeV1Sa sa, bool fromResponder)
    {
        int sent = 0;
        foreach (var effect in sa.DrainEffects())
        {
            if (effect is ChildSaActivated) sent++; // v1quick: HASH(3) is answered by nothing; it switches the Child SA's outbound on
            if (effect is ChildSaRemoved) sent++; // v1info: a Delete of a Child SA is answered by nothing; it removes the Child SA
            if (effect is not SendMessage send) continue;
            sent++;
            byte[]? ivBefore = null;
            if (IsakmpHeader.TryParse(send.Datagram, out var header) == ParseStatus.Ok && header.Encrypted && header.MessageId == 0
                && sa.Prf is { } prf)
            {
                int block = sa.Suite.Encryption == Phase1Encryption.AesCbc ? 16 : 8;
                ivBefore = run.ChainIv ?? (sa.Phase1 is { } p1 ? V1KeyDerivation.Phase1Iv(prf, p1.Gxi, p1.Gxr, block) : null);
                if (send.Datagram.Length >= V1Constants.HeaderLength + block) run.ChainIv = send.Datagram[^block..];
            }
            run.Queue.Enqueue(new Queued(fromResponder, send.Datagram, ivBefore));
        }
        return sent;
    }

    /// <summary>The next queued datagram with the input's chain: in cleartext, or sealed as its sender would have.</summary>
    private static void Replace(Run run, V1PayloadType first, ReadOnlySpan<byte> chain)
    {
        var queued = run.Queue.Dequeue();
        if (IsakmpHeader.TryParse(queued.Datagram, out var header) != ParseStatus.Ok) return;
        var sender = queued.FromResponder ? run.Responder : run.Initiator;
        byte[] datagram;
        if (!header.Encrypted)
        {
            datagram = new byte[V1Constants.HeaderLength + chain.Length];
            (header with { NextPayload = first, Length = (uint)datagram.Length }).Write(datagram);
            chain.CopyTo(datagram.AsSpan(V1Constants.HeaderLength));
        }
        else if (queued.IvBefore is { } iv && sender?.Prf is { } prf && sender.SkeyidE.Length > 0)
        {
            var payloads = new List<V1Payload>();
            if (IsakmpCodec.TryDecodeChain(first, chain, allowPadding: false, payloads) != ParseStatus.Ok || payloads.Count == 0) return;
            var key = V1KeyDerivation.EncryptionKey(prf, sender.SkeyidE, sender.Suite.KeyLength);
            using var sealer = V1MessageProtector.Create(sender.Suite.Encryption, key, prf, iv);
            datagram = sealer.Seal(header with { Flags = header.Flags & ~V1Flags.Encryption }, payloads);
        }
        else
        {
            return;
        }
        // The receiver chains its next IV from what it receives: the replacement's last block.
        if (header.Encrypted && header.MessageId == 0) run.ChainIv = datagram[^(sender!.Suite.Encryption == Phase1Encryption.AesCbc ? 16 : 8)..];
        run.Queue.Enqueue(queued with { Datagram = datagram });
    }

    /// <summary>Seeds: the whole main mode, each message dropped or repeated, message 5 replaced (a wrong HASH), corruptions.</summary>
    public static IEnumerable<(string Name, byte[] Data)> Seeds()
    {
        byte[] deliverAll = [0, 0, 0, 0, 0, 0];
        var m5 = IsakmpCodec.EncodeChain([
            new V1IdPayload(V1IdType.Fqdn, "site.test"u8.ToArray()),
            new V1DataPayload(V1PayloadType.Hash, new byte[32]),
            new V1NotificationPayload(V1NotifyType.InitialContact, V1ProtocolId.Isakmp, new byte[16]),
        ]);
        byte[] replace5 = [5, (byte)V1PayloadType.Identification, (byte)(m5.Length >> 8), (byte)m5.Length, .. m5];
        foreach (byte suite in new byte[] { 0, 1 })
        {
            yield return ($"s{suite}-main-mode", [suite, .. deliverAll]);
            yield return ($"s{suite}-repeat-each", [suite, 2, 2, 2, 2, 2, 2]);
            yield return ($"s{suite}-drop-4-retransmit", [suite, 0, 0, 0, 1, 0x13, 0, 0, 0]);
            yield return ($"s{suite}-forged-hash-5", [suite, 0, 0, 0, 0, .. replace5, 0, 0]);
            yield return ($"s{suite}-corrupt-5", [suite, 0, 0, 0, 0, 6, 0, 40, 0x01, 0, 0]);
            yield return ($"s{suite}-delete", [suite, 0, 0, 0, 0, 0, 0, 0x14, 0]);
        }
    }
}
