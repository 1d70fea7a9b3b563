using System.Security.Cryptography;
using Concentrator.Ike.Tasks.V1;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Sa.V1;

// Receiving, sending and retransmitting. IKEv1 has no response flag and no message-ID window: a responder knows a
// retransmitted request by its octets (it answers from the reply it cached), an initiator resends its last message
// until the next one arrives, on the IKEv2 retransmit tunables, and gives up after them.
public sealed partial class IkeV1Sa
{
    // The last message we answered (SHA-256 of its octets) and our answer, resent when the same octets arrive again.
    private byte[]? _lastReceivedHash;
    private SendMessage? _lastReply;
    // Our messages waiting for their answers, by message ID (phase 1's is 0), each with its attempt and when it is due
    // again; the host's one retransmit timer is armed for the earliest.
    private readonly Dictionary<uint, Pending> _requests = [];

    private sealed record Pending(SendMessage Send, int Attempt, long DueMs);

    /// <summary>Message IDs we already used or saw (RFC 2408 §3.1: unique per exchange), bounded like the exchange states.</summary>
    private readonly HashSet<uint> _usedMessageIds = [];

    /// <summary>
    /// One datagram for this SA (its cookies already routed it here). A retransmission of the message we last answered
    /// is answered from the cache; an encrypted message is decrypted (no IV moves) and handed to its exchange's
    /// handler with the payloads; anything that does not parse, decrypt or fit is counted and dropped.
    /// </summary>
    public void HandleDatagram(V1Inbound inbound)
    {
        if (State == V1Phase1State.Closed) return;
        var header = inbound.Header;
        if (header.InitiatorCookie != CookieI || (CookieR != 0 && header.ResponderCookie != CookieR && header.ResponderCookie != 0))
        {
            Context.Metrics.CountDrop(IkeDropReason.UnknownSpi);
            return;
        }

        byte[] hash = SHA256.HashData(inbound.Datagram);
        if (_lastReceivedHash is not null && hash.AsSpan().SequenceEqual(_lastReceivedHash))
        {
            if (_lastReply is { } reply) Emit(reply);
            return;
        }

        if (V1Exchanges.Find(header.Exchange, header.Encrypted) is not { } handler)
        {
            Context.Metrics.CountDrop(IkeDropReason.UnexpectedExchange);
            return;
        }

        var status = IsakmpCodec.TryDecode(inbound.Datagram, out var message, Context.Limits.MaxPayloads);
        if (status != ParseStatus.Ok || message is null)
        {
            Context.Metrics.CountMalformed(status);
            return;
        }

        V1Received received;
        if (header.Encrypted)
        {
            if (Protector is null || (header.MessageId != 0 && !Protector.Phase1Complete))
            {
                Context.Metrics.CountDrop(IkeDropReason.UnexpectedExchange);
                return;
            }
            if (Protector.TryOpen(message, out var plaintext, out var nextIv) != ParseStatus.Ok)
            {
                Context.Metrics.CountMalformed(ParseStatus.BadLength);
                return;
            }
            var payloads = new List<V1Payload>();
            status = IsakmpCodec.TryDecodeChain(header.NextPayload, plaintext, allowPadding: true, payloads, Context.Limits.MaxPayloads);
            if (status != ParseStatus.Ok)
            {
                // A wrong key (PSK) decrypts to garbage: the chain does not parse. Nothing moved.
                CryptographicOperations.ZeroMemory(plaintext);
                handler.Undecryptable(this, inbound);
                return;
            }
            received = new V1Received(inbound, payloads, plaintext, nextIv);
        }
        else
        {
            // After phase 1 every exchange is encrypted (RFC 2409 §5.5, §5.7); a cleartext one is unauthenticated.
            if (State is V1Phase1State.Established or V1Phase1State.Deleting or V1Phase1State.Authenticating)
            {
                Context.Metrics.CountDrop(IkeDropReason.NotAuthenticated);
                return;
            }
            received = new V1Received(inbound, message.Payloads, [], []);
        }

        _lastReceivedHashPending = hash;
        handler.Handle(this, received);
        _lastReceivedHashPending = null;
    }

    // Set while a handler runs: a reply it sends is cached against the message it answers.
    private byte[]? _lastReceivedHashPending;

    /// <summary>The handler verified <paramref name="message"/> (its HASH, or it is phase 1's cleartext): the exchange's IV moves.</summary>
    public void CommitReceived(V1Received message)
    {
        if (message.Protected) Protector!.Commit(message.MessageId, message.NextIv);
        if (message.MessageId != 0) _usedMessageIds.Add(message.MessageId);
        LastInbound = Environment.TickCount64;
    }

    /// <summary>
    /// Sends a message of <paramref name="exchange"/> with <paramref name="messageId"/>: sealed when the keys exist and
    /// <paramref name="encrypt"/>, else in cleartext. <paramref name="request"/>: we wait for an answer and retransmit
    /// until it comes (<see cref="CancelRequest(uint)"/> with its message ID); otherwise it answers the message being handled and is resent when
    /// that message arrives again. <paramref name="answers"/> with <paramref name="request"/>: both (quick mode's message 2
    /// answers message 1 and waits for HASH(3)).
    /// </summary>
    public void Send(V1ExchangeType exchange, uint messageId, IReadOnlyList<V1Payload> payloads, bool encrypt, bool request,
        bool answers = false)
    {
        var header = new IsakmpHeader(CookieI, CookieR, V1PayloadType.None, V1Constants.MajorVersion, V1Constants.MinorVersion, exchange,
            V1Flags.None, messageId, 0);
        byte[] datagram = encrypt ? Protector!.Seal(header, payloads) : IsakmpCodec.Encode(header, payloads);
        var send = new SendMessage(datagram, RemoteEndpoint, NatT);
        Emit(send);
        if (messageId != 0) _usedMessageIds.Add(messageId);
        // Only an answer is cached: a request we start while handling (XAUTH after main mode 5) must not replace it.
        if (_lastReceivedHashPending is not null && (!request || answers))
        {
            _lastReceivedHash = _lastReceivedHashPending;
            _lastReply = send;
        }
        if (!request) return;
        _requests[messageId] = new Pending(send, 0, Context.Clock() + (long)Context.Tunables.RetransmitDelay(0).TotalMilliseconds);
        Rearm();
    }

    /// <summary>Phase 1's message (ID 0) was answered: no more retransmissions of it.</summary>
    public void CancelRequest() => CancelRequest(0);

    /// <summary>The exchange <paramref name="messageId"/> got its answer (or ended): its message is no longer retransmitted.</summary>
    public void CancelRequest(uint messageId)
    {
        if (_requests.Remove(messageId)) Rearm();
    }

    /// <summary>
    /// The host's retransmit timer: resends the earliest waiting message (the timer was armed for it) and any other now
    /// due, each where the SA talks now (it may have floated to 4500 since); an exchange that used up the tunables' tries
    /// ends the SA (as strongSwan: an unanswered retransmission means the peer is gone).
    /// </summary>
    public void OnRetransmitTimer()
    {
        if (_requests.Count == 0 || State == V1Phase1State.Closed) return;
        long now = Context.Clock();
        uint earliest = _requests.MinBy(r => r.Value.DueMs).Key;
        foreach (var (id, pending) in _requests.ToList())
        {
            if (id != earliest && pending.DueMs > now) continue;
            int attempt = pending.Attempt + 1;
            bool giveUp = attempt > Context.Tunables.RetransmitTries;
            OnRetransmitTick(ref giveUp); // v1ra: XAUTH's deadline, and an XAUTH given up counted (IkeV1Sa.RemoteAccess.cs)
            if (giveUp)
            {
                _requests.Clear();
                Fail(CloseReason.Timeout);
                return;
            }
            Emit(pending.Send with { Remote = RemoteEndpoint, NatT = NatT });
            _requests[id] = pending with { Attempt = attempt, DueMs = now + (long)Context.Tunables.RetransmitDelay(attempt).TotalMilliseconds };
        }
        Rearm();
    }

    private void Rearm()
    {
        if (_requests.Count == 0)
        {
            Emit(new CancelRetransmit());
            return;
        }
        long delay = Math.Max(1, _requests.Values.Min(r => r.DueMs) - Context.Clock());
        Emit(new ScheduleRetransmit(TimeSpan.FromMilliseconds(delay)));
    }

    /// <summary>A fresh non-zero message ID not used on this SA before (RFC 2408 §3.1).</summary>
    public uint NewMessageId()
    {
        if (_usedMessageIds.Count > 4096) _usedMessageIds.Clear();
        while (true)
        {
            uint id = BitConverter.ToUInt32(RandomNumberGenerator.GetBytes(4));
            if (id != 0 && _usedMessageIds.Add(id)) return id;
        }
    }

    /// <summary>True when the peer already used <paramref name="messageId"/> in a completed exchange (a replay).</summary>
    public bool MessageIdUsed(uint messageId) => _usedMessageIds.Contains(messageId);

    /// <summary>Initiator: sends main mode message 1 (or what the connection's phase 1 exchange starts with).</summary>
    public void Initiate()
    {
        if (!IsInitiator || State != V1Phase1State.Created) throw new InvalidOperationException("Only a new initiator initiates.");
        Context.Metrics.NegotiationStarted(true, Telemetry.IkeVersion.V1);
        V1Exchanges.Phase1For(Connection!).Initiate(this);
    }

    /// <summary>
    /// Deletes the SA: with an ISAKMP Delete to the peer when established and the informational handler can send one
    /// (<see cref="IV1Deleter"/>), then closes.
    /// </summary>
    public void Delete()
    {
        if (State == V1Phase1State.Closed) return;
        if (State == V1Phase1State.Established && V1Exchanges.Find(V1ExchangeType.Informational) is IV1Deleter deleter)
        {
            Move(V1Phase1State.Deleting);
            deleter.SendDelete(this);
        }
        Fail(CloseReason.Deleted);
    }
}
