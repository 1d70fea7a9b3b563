using Concentrator.Ike.Crypto;
using Concentrator.Ike.Proposals;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Tasks.V1;

public sealed partial class QuickModeTask
{
    /// <summary>
    /// Initiator, message 1: our ESP proposals (with the group of the first proposal naming one: PFS), a nonce, the KE
    /// payload with PFS, and the child's first local and remote selectors as IDci/IDcr (an IKEv1 quick mode carries one
    /// pair; a rekey keeps the pair of the SA it replaces). The lifetimes offered are the child's hard limits.
    /// Refuse (nothing is sent) when the child has nothing usable.
    /// </summary>
    public QuickModeStep BuildRequest()
    {
        if (State != QuickModeState.Idle || !IsInitiator) throw new InvalidOperationException("not an idle quick mode initiator");
        _child = _initiatorChild!;
        var mode = _child.Transport ? IpsecMode.Transport : IpsecMode.Tunnel;
        var life = _child.LifeTime > TimeSpan.Zero ? _child.LifeTime : _child.RekeyTime * 1.1;
        _ourTerms = new V1EspTerms(mode, _ctx.NatDetected, _ctx.NatDetected && _ctx.DraftNatT,
            (uint)Math.Clamp(life.TotalSeconds, 1, uint.MaxValue), (_child.LifeBytes > 0 ? _child.LifeBytes : _child.RekeyBytes) / 1000);
        var group = PfsGroup(_child.EspProposals);

        _tsi = _replacing?.Install.LocalTs[0] ?? ChildCreateTask.Resolve(_child.LocalTs, [_ctx.LocalEndpoint.Address]).FirstOrDefault();
        _tsr = _replacing?.Install.RemoteTs[0] ?? ChildCreateTask.Resolve(_child.RemoteTs, [_ctx.RemoteEndpoint.Address]).FirstOrDefault();
        var idci = _tsi is null ? null : V1TrafficSelectors.ToId(_tsi);
        var idcr = _tsr is null ? null : V1TrafficSelectors.ToId(_tsr);
        if (idci is null || idcr is null) return Fail(V1NotifyType.InvalidIdInformation);
        _withIds = true;

        _ourSpi = _ctx.AllocateSpi();
        _offer = V1EspProposals.ToWire(_child.EspProposals, SpiBytes(_ourSpi), group, _ourTerms);
        if (_offer is null) return Fail(V1NotifyType.NoProposalChosen);
        _nonceI = _ctx.NewNonce();
        var request = new List<V1Payload> { new V1SaPayload([_offer]), new V1DataPayload(V1PayloadType.Nonce, _nonceI) };
        if (group != DhGroup.None)
        {
            _dh = KeyExchangeFactory.Create(group);
            request.Add(new V1DataPayload(V1PayloadType.KeyExchange, _dh.PublicValue));
        }
        request.Add(idci);
        request.Add(idcr);
        MoveTo(QuickModeState.AwaitingReply);
        return new QuickModeStep(QuickModeOutcome.Send, WithHash(request, hash2: false));
    }

    /// <summary>
    /// Initiator, message 2: HASH(2) (a wrong one is a drop), one transform of ours, IDs inside ours (a responder may
    /// narrow, RFC 2409 §5.5), the KE of our group with PFS. On success the Child SA is ready to install
    /// (<see cref="Result"/>) and HASH(3) is returned; refusals give the exchange up (the host may send the notify).
    /// </summary>
    public QuickModeStep ProcessReply(IReadOnlyList<V1Payload> payloads, ReadOnlySpan<byte> afterHash)
    {
        if (State != QuickModeState.AwaitingReply || !VerifyHash(payloads, afterHash, hash2: true, _nonceI)) return QuickModeStep.Drop;
        if (!TryShape(payloads, out var shape)) return Fail(V1NotifyType.InvalidPayloadType);
        if (!V1EspProposals.TryAccept(_offer!, shape.Sa, _ourTerms, out _selection)) return Fail(V1NotifyType.NoProposalChosen);
        RefusedSpi = _selection!.Proposal.Spi;

        if (shape.IdCi is null || !V1TrafficSelectors.TryFromId(shape.IdCi, out var tsi) || !V1TrafficSelectors.TryFromId(shape.IdCr!, out var tsr) ||
            !TrafficSelectorNarrowing.IsSubset([tsi!], [_tsi!]) || !TrafficSelectorNarrowing.IsSubset([tsr!], [_tsr!]))
        {
            return Fail(V1NotifyType.InvalidIdInformation);
        }
        _tsi = tsi;
        _tsr = tsr;

        byte[] secret = [];
        if ((_dh is null) != (shape.Ke is null) || _selection.Suite.Group != (_dh?.Group ?? DhGroup.None)) return Fail(V1NotifyType.InvalidKeyInformation);
        if (_dh is not null && !_dh.TryDeriveSharedSecret(shape.Ke, out secret)) return Fail(V1NotifyType.InvalidKeyInformation);

        _nonceR = shape.Nonce;
        Result = BuildChild(_selection.PeerSpi, secret);
        MoveTo(QuickModeState.Established);
        return new QuickModeStep(QuickModeOutcome.Send, [new V1DataPayload(V1PayloadType.Hash, Hash3())]);
    }

    /// <summary>The group of the first of our proposals that names a supported one (as IKEv2's CREATE_CHILD_SA); None: no PFS.</summary>
    private static DhGroup PfsGroup(IReadOnlyList<EspProposal> proposals)
    {
        foreach (var p in proposals)
        {
            foreach (var g in p.Groups)
            {
                if (g != DhGroup.None && KeyExchangeFactory.IsSupported(g)) return g;
            }
        }
        return DhGroup.None;
    }
}
