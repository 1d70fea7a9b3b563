using System.Security.Cryptography;
using Concentrator.Ike.Crypto;
using Concentrator.Ike.Proposals;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Tasks.V1;

public sealed partial class QuickModeTask
{
    /// <summary>
    /// Responder, message 1: HASH(1) first (a wrong one is a drop, the message may be forged), then the shape, the
    /// selectors (INVALID-ID-INFORMATION when no child's fit, as strongSwan checks them first), the proposal
    /// (NO-PROPOSAL-CHOSEN), the KE payload the chosen group requires. On success the Child SA's inbound direction is
    /// ready to install (<see cref="Result"/>) and message 2 is returned.
    /// </summary>
    public QuickModeStep ProcessRequest(IReadOnlyList<V1Payload> payloads, ReadOnlySpan<byte> afterHash)
    {
        if (State != QuickModeState.Idle || IsInitiator || !VerifyHash(payloads, afterHash, hash2: false, [])) return QuickModeStep.Drop;
        if (!TryShape(payloads, out var shape)) return Fail(V1NotifyType.InvalidPayloadType);
        var firstEsp = shape.Sa.Proposals.FirstOrDefault(p => p.Protocol == V1ProtocolId.Esp);
        RefusedSpi = firstEsp?.Spi ?? [];

        var remoteHost = V1TrafficSelectors.ForHost(_ctx.RemoteEndpoint.Address);
        var localHost = V1TrafficSelectors.ForHost(_ctx.LocalEndpoint.Address);
        TrafficSelector? tsi = remoteHost, tsr = localHost;
        _withIds = shape.IdCi is not null;
        if (_withIds && (!V1TrafficSelectors.TryFromId(shape.IdCi!, out tsi) || !V1TrafficSelectors.TryFromId(shape.IdCr!, out tsr)))
        {
            return Fail(V1NotifyType.InvalidIdInformation);
        }

        bool anySelectors = false;
        foreach (var child in _ctx.Children)
        {
            var narrowedI = V1TrafficSelectors.Narrow(tsi!, ChildCreateTask.Resolve(child.RemoteTs, [_ctx.RemoteEndpoint.Address]));
            var narrowedR = V1TrafficSelectors.Narrow(tsr!, ChildCreateTask.Resolve(child.LocalTs, [_ctx.LocalEndpoint.Address]));
            if (narrowedI is null || narrowedR is null) continue;
            // Without IDs in the request there are none in the reply to narrow with: the hosts must fit as they are.
            if (!_withIds && (narrowedI != tsi || narrowedR != tsr)) continue;
            anySelectors = true;
            var mode = child.Transport ? IpsecMode.Transport : IpsecMode.Tunnel;
            if (!V1EspProposals.TrySelect(child.EspProposals, shape.Sa, mode, _ctx.NatDetected, out var selection)) continue;
            _child = child;
            _selection = selection;
            _tsi = _withIds ? narrowedI : null;
            _tsr = _withIds ? narrowedR : null;
            break;
        }
        if (_child is null) return Fail(anySelectors ? V1NotifyType.NoProposalChosen : V1NotifyType.InvalidIdInformation);
        RefusedSpi = _selection!.Proposal.Spi;

        // PFS (RFC 2409 §5.5): the chosen transform names the group, the KE payload of that group must come with it.
        byte[] secret = [];
        var group = _selection.Suite.Group;
        if ((group == DhGroup.None) != (shape.Ke is null)) return Fail(group == DhGroup.None ? V1NotifyType.InvalidPayloadType : V1NotifyType.InvalidKeyInformation);
        if (group != DhGroup.None)
        {
            _dh = KeyExchangeFactory.Create(group);
            if (!_dh.TryDeriveSharedSecret(shape.Ke, out secret)) return Fail(V1NotifyType.InvalidKeyInformation);
        }

        _nonceI = shape.Nonce;
        _nonceR = _ctx.NewNonce();
        _ourSpi = _ctx.AllocateSpi();
        var reply = new List<V1Payload>
        {
            new V1SaPayload([_selection.Proposal with { Spi = SpiBytes(_ourSpi) }]),
            new V1DataPayload(V1PayloadType.Nonce, _nonceR),
        };
        if (_dh is not null) reply.Add(new V1DataPayload(V1PayloadType.KeyExchange, _dh.PublicValue));
        if (_withIds)
        {
            reply.Add(V1TrafficSelectors.ToId(_tsi!)!);
            reply.Add(V1TrafficSelectors.ToId(_tsr!)!);
        }

        Result = BuildChild(_selection.PeerSpi, secret);
        MoveTo(QuickModeState.AwaitingHash3);
        return new QuickModeStep(QuickModeOutcome.Send, WithHash(reply, hash2: true));
    }

    /// <summary>
    /// Responder, message 3: HASH(3) alone. Anything else under this M-ID is dropped (a retransmitted message 1 is the
    /// host's to answer from its cache). The commit bit changes nothing here.
    /// </summary>
    public QuickModeStep ProcessHash3(IReadOnlyList<V1Payload> payloads)
    {
        if (State != QuickModeState.AwaitingHash3 || payloads.Count != 1 ||
            payloads[0] is not V1DataPayload { Type: V1PayloadType.Hash } hash ||
            !CryptographicOperations.FixedTimeEquals(Hash3(), hash.Data))
        {
            return QuickModeStep.Drop;
        }
        MoveTo(QuickModeState.Established);
        return new QuickModeStep(QuickModeOutcome.Established, []);
    }
}
