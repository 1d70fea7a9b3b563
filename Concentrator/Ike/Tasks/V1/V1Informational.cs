using System.Buffers.Binary;
using System.Security.Cryptography;
using Concentrator.Ike.Crypto;
using Concentrator.Ike.Crypto.V1;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Tasks.V1;

/// <summary>What became of a received informational before its payloads are read.</summary>
public enum V1InfoCheck
{
    Ok = 0,
    /// <summary>Sent in the clear: read (notifications only) before phase 1 keys exist, dropped after.</summary>
    Unprotected,
    /// <summary>The ciphertext or the decrypted chain does not parse.</summary>
    Malformed,
    /// <summary>Decrypted, but its first payload is not a HASH (RFC 2409 §5.7).</summary>
    NoHash,
    /// <summary>HASH(1) is not prf(SKEYID_a, M-ID | payloads after it): forged or not keyed with this SA.</summary>
    HashMismatch,
    /// <summary>Encrypted with a non-zero M-ID before phase 1 ended: no IV exists for it yet.</summary>
    TooEarly,
}

/// <summary>
/// The protection of ISAKMP Informational exchanges after the key exchange (RFC 2409 §5.7): the payloads are preceded by
/// HASH(1) = prf(SKEYID_a, M-ID | N/D), the whole encrypted with the IV of the message's own M-ID. Informationals are
/// one-way (no response, never retransmitted), so neither direction keeps an IV for them once sealed or read: the
/// protector's per-M-ID IV is forgotten at once. Before phase 1 keys exist strongSwan reads Notification payloads sent
/// in the clear (an error ending main mode); once SKEYID_a exists anything without a verified HASH is dropped.
/// </summary>
public static class V1Informational
{
    /// <summary>HASH(1) followed by <paramref name="payloads"/>: the chain an informational carries (RFC 2409 §5.7).</summary>
    public static List<V1Payload> Protect(Prf prf, ReadOnlySpan<byte> skeyidA, uint messageId, IReadOnlyList<V1Payload> payloads)
    {
        if (payloads.Count == 0) throw new ArgumentException("An informational carries at least one Notification or Delete.", nameof(payloads));
        byte[] chain = IsakmpCodec.EncodeChain(payloads);
        byte[] hash = V1KeyDerivation.QuickHash1(prf, skeyidA, messageId, chain);
        var protectedPayloads = new List<V1Payload>(payloads.Count + 1) { new V1DataPayload(V1PayloadType.Hash, hash) };
        protectedPayloads.AddRange(payloads);
        return protectedPayloads;
    }

    /// <summary>
    /// Builds an encrypted informational of the SA with the two cookies under <paramref name="messageId"/> (a fresh random
    /// one per message, RFC 2408 §3.1); its IV is forgotten after sealing (nothing answers an informational).
    /// </summary>
    public static byte[] Seal(V1MessageProtector protector, Prf prf, ReadOnlySpan<byte> skeyidA, ulong initiatorCookie, ulong responderCookie,
        uint messageId, IReadOnlyList<V1Payload> payloads)
    {
        var header = new IsakmpHeader(initiatorCookie, responderCookie, V1PayloadType.None, V1Constants.MajorVersion, V1Constants.MinorVersion,
            V1ExchangeType.Informational, V1Flags.None, messageId, 0);
        byte[] datagram = protector.Seal(header, Protect(prf, skeyidA, messageId, payloads));
        protector.EndExchange(messageId);
        return datagram;
    }

    /// <summary>
    /// Decrypts a received informational and verifies its HASH(1); on <see cref="V1InfoCheck.Ok"/>
    /// <paramref name="payloads"/> are those after the HASH. Moves no IV and no other state: a forged message leaves the
    /// SA exactly as it was. A message in the clear is <see cref="V1InfoCheck.Unprotected"/> with its parsed payloads,
    /// which only a host without phase 1 keys reads (<see cref="V1InformationalTask.Process"/> with authenticated false).
    /// </summary>
    public static V1InfoCheck Open(V1MessageProtector? protector, Prf? prf, ReadOnlySpan<byte> skeyidA, IsakmpMessage message,
        out List<V1Payload> payloads)
    {
        payloads = [];
        if (!message.Header.Encrypted)
        {
            payloads.AddRange(message.Payloads);
            return V1InfoCheck.Unprotected;
        }
        if (protector is null || prf is null) return V1InfoCheck.TooEarly;
        if (message.Header.MessageId != 0 && !protector.Phase1Complete) return V1InfoCheck.TooEarly;
        if (protector.TryOpen(message, out var plaintext, out _) != ParseStatus.Ok) return V1InfoCheck.Malformed;
        try
        {
            return Verify(prf, skeyidA, message.Header.MessageId, message.Header.NextPayload, plaintext, out payloads);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }

    /// <summary>
    /// Checks a decrypted chain: HASH first and alone (a second HASH is malformed), equal in constant time to
    /// prf(SKEYID_a, M-ID | the octets of every payload after it), padding excluded (RFC 2409 Appendix B: the
    /// Length covers padding the HASH does not).
    /// </summary>
    public static V1InfoCheck Verify(Prf prf, ReadOnlySpan<byte> skeyidA, uint messageId, V1PayloadType first, ReadOnlySpan<byte> plaintext,
        out List<V1Payload> payloads)
    {
        payloads = [];
        if (first != V1PayloadType.Hash) return V1InfoCheck.NoHash;
        var parsed = new List<V1Payload>();
        if (IsakmpCodec.TryDecodeChain(first, plaintext, allowPadding: true, parsed) != ParseStatus.Ok) return V1InfoCheck.Malformed;
        if (parsed[0] is not V1DataPayload { Type: V1PayloadType.Hash } hash) return V1InfoCheck.NoHash;
        for (int i = 1; i < parsed.Count; i++)
        {
            if (parsed[i].Type == V1PayloadType.Hash) return V1InfoCheck.Malformed;
        }

        int hashLength = BinaryPrimitives.ReadUInt16BigEndian(plaintext[2..]);
        int end = ChainLength(first, plaintext);
        byte[] expected = V1KeyDerivation.QuickHash1(prf, skeyidA, messageId, plaintext[hashLength..end]);
        if (!CryptographicOperations.FixedTimeEquals(expected, hash.Data)) return V1InfoCheck.HashMismatch;
        parsed.RemoveAt(0);
        payloads = parsed;
        return V1InfoCheck.Ok;
    }

    /// <summary>The octets a chain that already parsed covers (its payload lengths summed), without the padding after it.</summary>
    private static int ChainLength(V1PayloadType first, ReadOnlySpan<byte> chain)
    {
        int at = 0;
        for (var next = first; next != V1PayloadType.None;)
        {
            next = (V1PayloadType)chain[at];
            at += BinaryPrimitives.ReadUInt16BigEndian(chain[(at + 2)..]);
        }
        return at;
    }

    /// <summary>
    /// strongSwan's send_notify: our own failure is told with an ISAKMP-level Notification in a new informational, but
    /// never in answer to an informational (two ends answering each other's notifies would never stop).
    /// </summary>
    public static bool AnswersWithNotify(V1ExchangeType failedExchange) => failedExchange != V1ExchangeType.Informational;

    /// <summary>The Notification we send when an exchange of ours fails for <paramref name="reason"/> (RFC 2408 §3.14.1).</summary>
    public static V1NotificationPayload ErrorNotify(CloseReason reason) => new(reason switch
    {
        CloseReason.NoProposal => V1NotifyType.NoProposalChosen,
        CloseReason.AuthFailed => V1NotifyType.AuthenticationFailed,
        CloseReason.TsUnacceptable => V1NotifyType.InvalidIdInformation,
        CloseReason.InvalidKe => V1NotifyType.InvalidKeyInformation,
        _ => V1NotifyType.PayloadMalformed,
    }, V1ProtocolId.Isakmp);

    /// <summary>The ISAKMP SPI of Delete and DPD payloads: both cookies (RFC 2408 §3.15, RFC 3706 §5.3).</summary>
    public static byte[] IsakmpSpi(ulong initiatorCookie, ulong responderCookie)
    {
        var spi = new byte[V1Constants.IsakmpSpiLength];
        BinaryPrimitives.WriteUInt64BigEndian(spi, initiatorCookie);
        BinaryPrimitives.WriteUInt64BigEndian(spi.AsSpan(V1Constants.CookieLength), responderCookie);
        return spi;
    }

    /// <summary>
    /// What we send when we tear an SA down, in charon's order: one informational per Child SA with its inbound SPI (the
    /// SPI the peer sends to), then one that deletes the ISAKMP SA. Each list is one message's payloads.
    /// </summary>
    public static List<List<V1Payload>> TeardownDeletes(ulong initiatorCookie, ulong responderCookie,
        IEnumerable<(V1ProtocolId Protocol, uint InboundSpi)> children)
    {
        var messages = new List<List<V1Payload>>();
        foreach (var (protocol, spi) in children)
        {
            var bytes = new byte[V1Constants.IpsecSpiLength];
            BinaryPrimitives.WriteUInt32BigEndian(bytes, spi);
            messages.Add([new V1DeletePayload(protocol, [bytes])]);
        }
        messages.Add([new V1DeletePayload(V1ProtocolId.Isakmp, [IsakmpSpi(initiatorCookie, responderCookie)])]);
        return messages;
    }

    /// <summary>A fresh random non-zero M-ID for an informational we start (RFC 2408 §3.1).</summary>
    public static uint NewMessageId()
    {
        Span<byte> bytes = stackalloc byte[4];
        uint id;
        do
        {
            RandomNumberGenerator.Fill(bytes);
            id = BinaryPrimitives.ReadUInt32BigEndian(bytes);
        } while (id == 0);
        return id;
    }
}
