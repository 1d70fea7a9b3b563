using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;
using Concentrator.Ike.Crypto;
using Concentrator.Ike.Proposals;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;
using Concentrator.Ike.Connections;

namespace Concentrator.Ike.Exchanges.Tasks;

/// <summary>
/// Creates one Child SA: inside IKE_AUTH (SA, TSi, TSr; RFC 7296 §1.2) or with CREATE_CHILD_SA
/// (plus Nonce and an optional KE for PFS; §1.3.1). Narrows traffic selectors (§2.9) and derives
/// KEYMAT (§2.17). A failed child inside IKE_AUTH does not fail the IKE SA (§1.2). With a
/// REKEY_SA notify it rekeys an existing child (§1.3.3, §2.8): the initiator switches outbound when
/// the response arrives and then deletes the old SA; the responder installs the new SA inbound-only
/// and starts sending on it once the old SA is deleted, so no packet meets a missing inbound SA.
/// </summary>
public sealed class ChildCreateTask : IIkeTask
{
    private readonly ChildConfig? _initiatorChild;
    private readonly ChildSaRecord? _rekeyOf;
    private ChildSaRecord? _rekeyedByPeer;
    private ChildConfig? _child;
    private uint _ourSpi;
    private byte[] _nonceI = [];
    private byte[] _nonceR = [];
    private IKeyExchange? _dh;
    private Proposal? _chosen;
    private EspSuite _suite;
    private IReadOnlyList<TrafficSelector> _tsi = [];
    private IReadOnlyList<TrafficSelector> _tsr = [];
    private NotifyType? _error;
    private bool _inIkeAuth;

    private readonly bool _initial;

    /// <param name="child">The child to create as initiator; null for the responder role.</param>
    /// <param name="rekeyOf">Initiator: the existing Child SA this one replaces.</param>
    /// <param name="initial">Initiator: one of the children of <see cref="IkeSa.Initiate"/> (counted until answered).</param>
    public ChildCreateTask(ChildConfig? child, ChildSaRecord? rekeyOf = null, bool initial = false)
    {
        _initiatorChild = child;
        _rekeyOf = rekeyOf;
        _initial = initial;
    }

    /// <summary>Initiator: the Child SA this task rekeys, if it is a rekey.</summary>
    internal ChildSaRecord? RekeyOf => _rekeyOf;

    // ---- Initiator ----

    public void BuildRequest(IkeSa sa, List<Payload> payloads)
    {
        _child = _initiatorChild!;
        _inIkeAuth = sa.State != IkeSaState.Established;
        _ourSpi = sa.Context.DataPlane.AllocateSpi();
        bool pfs = !_inIkeAuth && FirstGroup(_child.EspProposals) is not DhGroup.None;

        if (_rekeyOf is not null)
        {
            payloads.Add(new NotifyPayload(NotifyType.RekeySa, null, ProtocolId.Esp, IkeSa.SpiBytes(_rekeyOf.InboundSpi)));
        }

        payloads.Add(new SaPayload(ProposalSelector.ToWire(_child.EspProposals, IkeSa.SpiBytes(_ourSpi), includeGroups: pfs)));
        if (!_inIkeAuth)
        {
            _nonceI = sa.NewNonce();
            payloads.Add(new NoncePayload(_nonceI));
            if (pfs)
            {
                _dh = KeyExchangeFactory.Create(FirstGroup(_child.EspProposals));
                payloads.Add(new KePayload(_dh.Group, _dh.PublicValue));
            }
        }

        // A rekey keeps the narrowed selectors of the SA it replaces.
        _tsi = _rekeyOf?.LocalTs ?? Resolve(_child.LocalTs, sa.LocalEndpoint.Address);
        _tsr = _rekeyOf?.RemoteTs ?? Resolve(_child.RemoteTs, sa.RemoteEndpoint.Address);
        payloads.Add(new TsPayload(PayloadType.TsInitiator, _tsi));
        payloads.Add(new TsPayload(PayloadType.TsResponder, _tsr));
    }

    public TaskStatus ProcessResponse(IkeSa sa, IkeMessage response)
    {
        if (_initial) sa.InitialChildDone();
        var saPayload = response.Get<SaPayload>();
        var tsi = response.Get<TsPayload>(PayloadType.TsInitiator);
        var tsr = response.Get<TsPayload>(PayloadType.TsResponder);
        if (response.GetErrorNotify() is not null || saPayload is null || tsi is null || tsr is null ||
            saPayload.Proposals.Count != 1 || saPayload.Proposals[0].Spi.Length != 4 ||
            !ProposalSelector.TryAcceptEsp(_child!.EspProposals, saPayload.Proposals[0], includedGroups: _dh is not null, out _suite) ||
            !TrafficSelectorNarrowing.IsSubset(tsi.Selectors, _tsi) || !TrafficSelectorNarrowing.IsSubset(tsr.Selectors, _tsr))
        {
            return Abandon(sa);
        }

        byte[] secret = [];
        if (!_inIkeAuth)
        {
            var nonce = response.Get<NoncePayload>();
            if (nonce is null || !NonceRules.IsLongEnough(nonce.Data, sa.Suite.Prf)) return Abandon(sa);
            _nonceR = nonce.Data;
            if (_dh is not null)
            {
                var ke = response.Get<KePayload>();
                if (ke is null || ke.Group != _dh.Group || !_dh.TryDeriveSharedSecret(ke.Data, out secret)) return Abandon(sa);
            }
        }

        uint peerSpi = BinaryPrimitives.ReadUInt32BigEndian(saPayload.Proposals[0].Spi);
        if (_rekeyOf is null)
        {
            Install(sa, peerSpi, tsi.Selectors, tsr.Selectors, secret, weInitiated: true, outboundActive: true);
            return TaskStatus.Done;
        }

        uint old = _rekeyOf.InboundSpi;
        sa.RekeyDone(old);
        // Simultaneous rekey (§2.8.1): the peer's rekey of the same child, answered by us while ours was in flight,
        // created a second successor. The SA whose exchange had the lowest of the four nonces is redundant and is
        // deleted by the side that initiated it; the other side's initiator deletes the old SA. strongSwan's
        // child_rekey compares the lower nonce of each exchange the same way, so both ends agree.
        var passive = sa.TakePassiveChildRekey(old);
        bool lost = passive is not null &&
                    IkeSa.CompareNonces(IkeSa.LowerNonce(_nonceI, _nonceR), passive.LowerNonce) < 0;
        // A lost successor never sends: the peer deletes the old SA and our side of its successor takes over.
        Install(sa, peerSpi, tsi.Selectors, tsr.Selectors, secret, weInitiated: true, outboundActive: !lost);
        if (lost)
        {
            sa.CollisionLost(_ourSpi);
            return TaskStatus.Done;
        }

        // Make-before-break: the new SA carries outbound from now on; the old one goes once the peer
        // confirms its deletion (in-flight packets on it are still accepted until then).
        if (passive is not null) sa.CollisionWon(old, passive.Successor);
        if (sa.FindChild(old) is not null)
        {
            sa.Rekeyed(old);
            sa.DeleteChild(old);
        }
        else
        {
            // The peer deleted the old SA before our response arrived (reordered): the rekey still counts.
            sa.Context.Metrics.CountRekey("child", success: true);
        }
        return TaskStatus.Done;
    }

    private TaskStatus Abandon(IkeSa sa)
    {
        // The IKE SA stays up; only this child is given up (RFC 7296 §1.2 for IKE_AUTH). A failed rekey
        // (e.g. TEMPORARY_FAILURE in a collision, §2.25) keeps the old SA; the lifetime timer retries.
        sa.Context.DataPlane.ReleaseSpi(_ourSpi);
        _dh?.Dispose();
        if (_rekeyOf is not null)
        {
            sa.RekeyDone(_rekeyOf.InboundSpi);
            // Refused in a collision the peer settled (TEMPORARY_FAILURE because it was already deleting the old SA,
            // §2.25.1, or CHILD_SA_NOT_FOUND because it had): its successor, which we answered, carries on.
            bool settledByPeer = sa.TakePassiveChildRekey(_rekeyOf.InboundSpi) is not null || sa.FindChild(_rekeyOf.InboundSpi) is null;
            if (!settledByPeer) sa.Context.Metrics.CountRekey("child", success: false);
        }
        return TaskStatus.Done;
    }

    // ---- Responder ----

    public TaskStatus ProcessRequest(IkeSa sa, IkeMessage request)
    {
        _inIkeAuth = request.Header.Exchange == ExchangeType.IkeAuth;
        var saPayload = request.Get<SaPayload>();
        var tsi = request.Get<TsPayload>(PayloadType.TsInitiator);
        var tsr = request.Get<TsPayload>(PayloadType.TsResponder);
        if (saPayload is null)
        {
            // IKE_AUTH without a child (RFC 6023 childless) is fine; CREATE_CHILD_SA needs one.
            if (!_inIkeAuth) _error = NotifyType.InvalidSyntax;
            return TaskStatus.Done;
        }

        if (tsi is null || tsr is null)
        {
            _error = NotifyType.InvalidSyntax;
            return TaskStatus.Done;
        }

        if (!_inIkeAuth && saPayload.Proposals.Count > 0 && saPayload.Proposals[0].Protocol == ProtocolId.Ike)
        {
            // IKE SA rekeying belongs to the lifecycle work; refusing keeps the existing SA intact (§2.25).
            _error = NotifyType.NoProposalChosen;
            return TaskStatus.Done;
        }

        var ke = _inIkeAuth ? null : request.Get<KePayload>();
        IEnumerable<ChildConfig> candidates = sa.Connection!.Children.Values;
        if (!_inIkeAuth && request.GetNotify(NotifyType.RekeySa) is { } rekey)
        {
            // The notify names the peer's inbound SPI of the SA being rekeyed: our outbound SPI (§3.10.1).
            _rekeyedByPeer = rekey.Spi.Length == 4 ? sa.FindChildByOutbound(BinaryPrimitives.ReadUInt32BigEndian(rekey.Spi)) : null;
            if (_rekeyedByPeer is null || !sa.Connection.Children.TryGetValue(_rekeyedByPeer.Child, out var rekeyedConfig))
            {
                _error = NotifyType.ChildSaNotFound;
                return TaskStatus.Done;
            }

            if (sa.IsDeleting(_rekeyedByPeer.InboundSpi))
            {
                // We are deleting this SA (our own rekey of it completed, or it expired): §2.25.1 wants
                // TEMPORARY_FAILURE; our Delete settles it for the peer.
                _error = NotifyType.TemporaryFailure;
                return TaskStatus.Done;
            }

            candidates = [rekeyedConfig];
        }
        else if (!_inIkeAuth && sa.Children.Count >= sa.Context.Limits.ChildSaLimit)
        {
            // charon.child_sa_limit; a rekey replaces a child and is never refused by it (RFC 7296 §3.10.1).
            sa.Context.Metrics.Limits.Hit(ResourceLimit.ChildSaLimit, sa.Context.Limits.ChildSaLimit);
            _error = NotifyType.NoAdditionalSas;
            return TaskStatus.Done;
        }

        bool anyProposal = false;
        foreach (var child in candidates)
        {
            if (!ProposalSelector.TrySelectEsp(child.EspProposals, saPayload.Proposals, requireGroup: ke is not null, out var chosen, out var suite))
            {
                continue;
            }

            anyProposal = true;
            var narrowedI = TrafficSelectorNarrowing.Narrow(tsi.Selectors, Resolve(child.RemoteTs, sa.RemoteEndpoint.Address));
            var narrowedR = TrafficSelectorNarrowing.Narrow(tsr.Selectors, Resolve(child.LocalTs, sa.LocalEndpoint.Address));
            if (narrowedI.Count == 0 || narrowedR.Count == 0) continue;

            _child = child;
            _chosen = chosen;
            _suite = suite;
            _tsi = narrowedI;
            _tsr = narrowedR;
            break;
        }

        if (_child is null)
        {
            _error = anyProposal ? NotifyType.TsUnacceptable : NotifyType.NoProposalChosen;
            return TaskStatus.Done;
        }

        if (_chosen!.Spi.Length != 4)
        {
            _error = NotifyType.InvalidSyntax;
            return TaskStatus.Done;
        }

        byte[] secret = [];
        if (!_inIkeAuth)
        {
            var nonce = request.Get<NoncePayload>();
            if (nonce is null || !NonceRules.IsLongEnough(nonce.Data, sa.Suite.Prf))
            {
                _error = NotifyType.InvalidSyntax;
                return TaskStatus.Done;
            }

            _nonceI = nonce.Data;
            _nonceR = sa.NewNonce();
            if (ke is not null)
            {
                if (ke.Group != _suite.Group)
                {
                    _error = NotifyType.InvalidKePayload;
                    return TaskStatus.Done;
                }

                _dh = KeyExchangeFactory.Create(_suite.Group);
                if (!_dh.TryDeriveSharedSecret(ke.Data, out secret))
                {
                    _error = NotifyType.InvalidSyntax;
                    return TaskStatus.Done;
                }
            }
        }

        uint peerSpi = BinaryPrimitives.ReadUInt32BigEndian(_chosen.Spi);
        _ourSpi = sa.Context.DataPlane.AllocateSpi();
        // The inbound SA is installed before the response leaves (effects run in order). A rekeyed SA
        // sends only once the initiator deleted the old one: it has our new inbound SA by then.
        Install(sa, peerSpi, _tsi, _tsr, secret, weInitiated: false, outboundActive: _rekeyedByPeer is null);
        if (_rekeyedByPeer is not null)
        {
            uint old = _rekeyedByPeer.InboundSpi;
            sa.ActivateWhenDeleted(old, _ourSpi);
            sa.Context.Metrics.CountRekey("child", success: true);
            // Our own rekey of the same child is on the wire (§2.8.1): answered as usual, settled by the nonces
            // when our response arrives.
            if (sa.RekeyInFlight(old)) sa.PassiveChildRekey(old, _ourSpi, IkeSa.LowerNonce(_nonceI, _nonceR));
        }
        return TaskStatus.Done;
    }

    public void BuildResponse(IkeSa sa, List<Payload> payloads)
    {
        if (_error is { } error)
        {
            payloads.Add(IkeSa.ErrorNotify(error, _suite.Group));
            return;
        }

        if (_child is null) return;
        payloads.Add(new SaPayload([_chosen! with { Spi = IkeSa.SpiBytes(_ourSpi) }]));
        if (!_inIkeAuth)
        {
            payloads.Add(new NoncePayload(_nonceR));
            if (_dh is not null) payloads.Add(new KePayload(_dh.Group, _dh.PublicValue));
        }
        payloads.Add(new TsPayload(PayloadType.TsInitiator, _tsi));
        payloads.Add(new TsPayload(PayloadType.TsResponder, _tsr));
        _dh?.Dispose();
    }

    // ---- Shared ----

    private void Install(IkeSa sa, uint peerSpi, IReadOnlyList<TrafficSelector> tsi, IReadOnlyList<TrafficSelector> tsr,
        byte[] secret, bool weInitiated, bool outboundActive)
    {
        // KEYMAT nonces: those of IKE_AUTH's IKE SA, or of this CREATE_CHILD_SA exchange (§2.17).
        byte[] ni = _inIkeAuth ? sa.NonceI : _nonceI;
        byte[] nr = _inIkeAuth ? sa.NonceR : _nonceR;
        using var keys = KeyDerivation.DeriveChildSaKeys(sa.Suite.Prf, sa.Keys!.SkD, _suite, secret, ni, nr);
        CryptographicOperations.ZeroMemory(secret);

        // "Initiator" keys protect traffic from the initiator of this exchange to its responder.
        var localTs = weInitiated ? tsi : tsr;
        var remoteTs = weInitiated ? tsr : tsi;
        var install = new ChildSaInstall(
            InboundSpi: _ourSpi,
            OutboundSpi: peerSpi,
            Suite: _suite,
            InboundEncryptionKey: (weInitiated ? keys.EncrResponder : keys.EncrInitiator).ToArray(),
            InboundIntegrityKey: (weInitiated ? keys.IntegResponder : keys.IntegInitiator).ToArray(),
            OutboundEncryptionKey: (weInitiated ? keys.EncrInitiator : keys.EncrResponder).ToArray(),
            OutboundIntegrityKey: (weInitiated ? keys.IntegInitiator : keys.IntegResponder).ToArray(),
            LocalTs: localTs,
            RemoteTs: remoteTs,
            LocalEndpoint: sa.LocalEndpoint,
            RemoteEndpoint: sa.RemoteEndpoint,
            Transport: sa.NatT ? EspTransport.UdpEncapsulated : EspTransport.RawEsp,
            ReplayWindow: _child!.ReplayWindow,
            Connection: sa.Connection!.Name,
            Child: _child.Name,
            OutboundActive: outboundActive);
        sa.AddChild(new ChildSaRecord(_child.Name, _ourSpi, peerSpi, _suite, localTs, remoteTs), install);
    }

    internal static IReadOnlyList<TrafficSelector> Resolve(IReadOnlyList<TrafficSelectorSpec> specs, IPAddress dynamicAddress)
    {
        if (dynamicAddress.IsIPv4MappedToIPv6) dynamicAddress = dynamicAddress.MapToIPv4();
        if (specs.Count == 0) return [Host(dynamicAddress)];
        var list = new List<TrafficSelector>(specs.Count);
        foreach (var s in specs) list.Add(s.Resolve(dynamicAddress));
        return list;
    }

    private static TrafficSelector Host(IPAddress a) =>
        new(a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? TsType.Ipv6AddressRange : TsType.Ipv4AddressRange,
            0, 0, 65535, a, a);

    private static DhGroup FirstGroup(IReadOnlyList<EspProposal> proposals)
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
