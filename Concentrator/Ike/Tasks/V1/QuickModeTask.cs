using System.Buffers.Binary;
using System.Security.Cryptography;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Crypto;
using Concentrator.Ike.Crypto.V1;
using Concentrator.Ike.Proposals;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Tasks.V1;

/// <summary>What the host does after one step of quick mode.</summary>
public enum QuickModeOutcome
{
    /// <summary>Send <see cref="QuickModeStep.Payloads"/> (encrypted, under the exchange's M-ID).</summary>
    Send = 0,
    /// <summary>Send <see cref="QuickModeStep.Notify"/> in an informational exchange; the task has failed.</summary>
    Refuse = 1,
    /// <summary>Count and drop the message: it did not authenticate (a forged or corrupted HASH) or does not belong here.</summary>
    Drop = 2,
    /// <summary>Nothing to send: the responder received HASH(3), both directions may carry traffic.</summary>
    Established = 3,
}

public readonly record struct QuickModeStep(QuickModeOutcome Outcome, IReadOnlyList<V1Payload> Payloads, V1NotifyType Notify = 0)
{
    public static QuickModeStep Drop => new(QuickModeOutcome.Drop, []);
    public static QuickModeStep Refuse(V1NotifyType notify) => new(QuickModeOutcome.Refuse, [], notify);
}

/// <summary>
/// One quick mode exchange (RFC 2409 §5.5), after strongSwan's sa/ikev1/tasks/quick_mode.c:
/// <code>
///  Initiator                        Responder
///  HDR*, HASH(1), SA, Ni [, KE ] [, IDci, IDcr ] --&gt;
///                                   &lt;-- HDR*, HASH(2), SA, Nr [, KE ] [, IDci, IDcr ]
///  HDR*, HASH(3) --&gt;
/// </code>
/// The ESP proposals and their choice are <see cref="V1EspProposals"/>'s (PFS whenever the child's esp_proposals name a
/// group: the KE payload is then required), the selectors <see cref="V1TrafficSelectors"/>'s, the keys
/// <see cref="V1ChildKeys"/>'s. Both roles install the new SA's inbound direction as soon as its keys are known (the
/// responder before message 2 leaves, the initiator before HASH(3) leaves) with its outbound inactive: the peer may send
/// on it at once, and the host switches outbound (<see cref="QuickModeChild"/>) when the peer has it too. The commit bit
/// (RFC 2408 §4.6) is never set by us and never waited for: a responder installs on HASH(3) and sends no CONNECTED notify.
/// Nothing here throws on peer input; every refusal is a notify (RFC 2408 §5), every unauthenticated message a drop.
/// </summary>
public sealed partial class QuickModeTask
{
    private readonly IQuickModeContext _ctx;
    private readonly ChildConfig? _initiatorChild;
    private readonly QuickModeChild? _replacing;
    private ChildConfig? _child;
    private uint _ourSpi;
    private byte[] _nonceI = [];
    private byte[] _nonceR = [];
    private IKeyExchange? _dh;
    private V1EspSelection? _selection;
    private V1Proposal? _offer;
    private V1EspTerms _ourTerms;
    // The selectors as IDci/IDcr carry them; null when the exchange has no IDs (the phase 1 hosts).
    private TrafficSelector? _tsi;
    private TrafficSelector? _tsr;
    private bool _withIds;

    /// <param name="messageId">The exchange's M-ID (the initiator's random choice, RFC 2408 §3.1).</param>
    /// <param name="child">Initiator: the child to negotiate; null for the responder.</param>
    /// <param name="replacing">Initiator of a rekey: the Child SA the new one replaces (its selectors are kept).</param>
    public QuickModeTask(IQuickModeContext context, uint messageId, ChildConfig? child = null, QuickModeChild? replacing = null)
    {
        _ctx = context;
        MessageId = messageId;
        _initiatorChild = child;
        _replacing = replacing;
    }

    public uint MessageId { get; }
    public QuickModeState State { get; private set; }
    public bool IsInitiator => _initiatorChild is not null;

    /// <summary>The negotiated Child SA once its keys are known (responder: after message 1; initiator: after message 2).</summary>
    public QuickModeChild? Result { get; private set; }

    /// <summary>The Child SA this exchange rekeys, when we initiated a rekey.</summary>
    public QuickModeChild? Replacing => _replacing;

    /// <summary>The SPI a refusal's notify names (RFC 2408 §3.14: the SPI of the offer refused), empty when none was read.</summary>
    public byte[] RefusedSpi { get; private set; } = [];

    private void MoveTo(QuickModeState next)
    {
        bool legal = (State, next) switch
        {
            (QuickModeState.Idle, QuickModeState.AwaitingReply) => true,
            (QuickModeState.Idle, QuickModeState.AwaitingHash3) => true,
            (QuickModeState.AwaitingReply, QuickModeState.Established) => true,
            (QuickModeState.AwaitingHash3, QuickModeState.Established) => true,
            (not QuickModeState.Established, QuickModeState.Failed) => true,
            _ => false,
        };
        if (!legal) throw new InvalidOperationException($"quick mode cannot move from {State} to {next}");
        State = next;
    }

    /// <summary>Gives the exchange up (refused, timed out, or its phase 1 SA went away): the SPI goes back, the DH key is
    /// dropped. An SA already installed inbound is the host's to remove (<see cref="Result"/>).</summary>
    public void Abandon()
    {
        if (State is QuickModeState.Established or QuickModeState.Failed) return;
        if (Result is null && _ourSpi != 0) _ctx.ReleaseSpi(_ourSpi);
        _dh?.Dispose();
        MoveTo(QuickModeState.Failed);
    }

    /// <summary>Drops a negotiated Child SA the host will not install (a limit): its SPI goes back, its keys are zeroed.</summary>
    public void Discard()
    {
        if (Result is { } r)
        {
            _ctx.ReleaseSpi(r.InboundSpi);
            CryptographicOperations.ZeroMemory(r.Install.InboundEncryptionKey);
            CryptographicOperations.ZeroMemory(r.Install.InboundIntegrityKey);
            CryptographicOperations.ZeroMemory(r.Install.OutboundEncryptionKey);
            CryptographicOperations.ZeroMemory(r.Install.OutboundIntegrityKey);
            Result = null;
        }
        if (State != QuickModeState.Failed) MoveTo(QuickModeState.Failed);
    }

    private QuickModeStep Fail(V1NotifyType notify)
    {
        Abandon();
        return QuickModeStep.Refuse(notify);
    }

    // ---- HASH payloads ------------------------------------------------------------------------

    /// <summary>HASH(1) or HASH(2) in front of <paramref name="rest"/>, computed over their encoding (RFC 2409 §5.5).</summary>
    private List<V1Payload> WithHash(List<V1Payload> rest, bool hash2)
    {
        byte[] chain = IsakmpCodec.EncodeChain(rest);
        byte[] hash = hash2
            ? V1KeyDerivation.QuickHash2(_ctx.Prf, _ctx.SkeyidA, MessageId, _nonceI, chain)
            : V1KeyDerivation.QuickHash1(_ctx.Prf, _ctx.SkeyidA, MessageId, chain);
        return [new V1DataPayload(V1PayloadType.Hash, hash), .. rest];
    }

    /// <summary>
    /// True when the first payload is a HASH equal to HASH(1)/(2) over <paramref name="afterHash"/>: the received chain
    /// after the HASH payload, as it came (<see cref="Sa.V1.V1Received.AfterHash"/>), without the cipher's padding.
    /// </summary>
    private bool VerifyHash(IReadOnlyList<V1Payload> payloads, ReadOnlySpan<byte> afterHash, bool hash2, byte[] nonceI)
    {
        if (payloads.Count < 2 || payloads[0] is not V1DataPayload { Type: V1PayloadType.Hash } received || afterHash.IsEmpty) return false;
        byte[] expected = hash2
            ? V1KeyDerivation.QuickHash2(_ctx.Prf, _ctx.SkeyidA, MessageId, nonceI, afterHash)
            : V1KeyDerivation.QuickHash1(_ctx.Prf, _ctx.SkeyidA, MessageId, afterHash);
        return CryptographicOperations.FixedTimeEquals(expected, received.Data);
    }

    private byte[] Hash3() => V1KeyDerivation.QuickHash3(_ctx.Prf, _ctx.SkeyidA, MessageId, _nonceI, _nonceR);

    // ---- payload shape --------------------------------------------------------------------------

    /// <summary>The payloads of message 1 or 2 after HASH, by the table of RFC 2409 §5.5 (plus NAT-OA, RFC 3947 §5.2,
    /// and status notifies such as RESPONDER-LIFETIME): one SA and one nonce, at most one KE, no ID or exactly two.</summary>
    private static bool TryShape(IReadOnlyList<V1Payload> payloads, out Shape shape)
    {
        shape = default;
        V1SaPayload? sa = null;
        V1DataPayload? nonce = null, ke = null;
        var ids = new List<V1IdPayload>();
        for (int i = 1; i < payloads.Count; i++)
        {
            switch (payloads[i])
            {
                case V1SaPayload s when sa is null: sa = s; break;
                case V1DataPayload { Type: V1PayloadType.Nonce } n when nonce is null: nonce = n; break;
                case V1DataPayload { Type: V1PayloadType.KeyExchange } k when ke is null: ke = k; break;
                case V1IdPayload id when ids.Count < 2: ids.Add(id); break;
                case NatOaPayload: break;
                case V1NotificationPayload { IsError: false }: break;
                default: return false;
            }
        }
        if (sa is null || nonce is null || ids.Count == 1) return false;
        shape = new Shape(sa, nonce.Data, ke?.Data, ids.Count == 2 ? ids[0] : null, ids.Count == 2 ? ids[1] : null);
        return true;
    }

    private readonly record struct Shape(V1SaPayload Sa, byte[] Nonce, byte[]? Ke, V1IdPayload? IdCi, V1IdPayload? IdCr);

    // ---- keys and install -----------------------------------------------------------------------

    /// <summary>Derives both directions' keys, hands them to a <see cref="ChildSaInstall"/> (outbound inactive) and zeroes
    /// what stays here. <paramref name="secret"/> is the PFS secret, empty without; zeroed.</summary>
    private QuickModeChild BuildChild(uint peerSpi, byte[] secret)
    {
        uint spiI = IsInitiator ? _ourSpi : peerSpi;
        uint spiR = IsInitiator ? peerSpi : _ourSpi;
        var suite = _selection!.Suite;
        using var keys = V1ChildKeys.Derive(_ctx.Prf, _ctx.SkeyidD, suite, secret, spiI, spiR, _nonceI, _nonceR);
        CryptographicOperations.ZeroMemory(secret);
        _dh?.Dispose();

        // "Initiator" keys protect traffic from the quick mode initiator to its responder.
        bool we = IsInitiator;
        var initiatorTs = _tsi ?? V1TrafficSelectors.ForHost(we ? _ctx.LocalEndpoint.Address : _ctx.RemoteEndpoint.Address);
        var responderTs = _tsr ?? V1TrafficSelectors.ForHost(we ? _ctx.RemoteEndpoint.Address : _ctx.LocalEndpoint.Address);
        var install = new ChildSaInstall(
            InboundSpi: _ourSpi,
            OutboundSpi: peerSpi,
            Suite: suite,
            InboundEncryptionKey: (we ? keys.EncrResponder : keys.EncrInitiator).ToArray(),
            InboundIntegrityKey: (we ? keys.IntegResponder : keys.IntegInitiator).ToArray(),
            OutboundEncryptionKey: (we ? keys.EncrInitiator : keys.EncrResponder).ToArray(),
            OutboundIntegrityKey: (we ? keys.IntegInitiator : keys.IntegResponder).ToArray(),
            LocalTs: [we ? initiatorTs : responderTs],
            RemoteTs: [we ? responderTs : initiatorTs],
            LocalEndpoint: _ctx.LocalEndpoint,
            RemoteEndpoint: _ctx.RemoteEndpoint,
            Transport: _ctx.NatDetected ? EspTransport.UdpEncapsulated : EspTransport.RawEsp,
            ReplayWindow: _child!.ReplayWindow,
            Connection: _ctx.ConnectionName,
            Child: _child.Name,
            OutboundActive: false,
            Mode: _selection.Terms.Mode,
            InterfaceIdIn: _child.InterfaceIdIn,
            InterfaceIdOut: _child.InterfaceIdOut);
        return new QuickModeChild(_child, install, suite, _selection.Terms);
    }

    private static uint Spi(byte[] spi) => BinaryPrimitives.ReadUInt32BigEndian(spi);

    internal static byte[] SpiBytes(uint spi)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, spi);
        return b;
    }
}
