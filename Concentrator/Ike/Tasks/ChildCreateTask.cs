using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Crypto;
using Concentrator.Ike.Proposals;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Tasks;

/// <summary>
/// Creates one Child SA: inside IKE_AUTH (SA, TSi, TSr; RFC 7296 §1.2) or with CREATE_CHILD_SA
/// (plus Nonce and an optional KE for PFS; §1.3.1). Narrows traffic selectors (§2.9) and derives
/// KEYMAT (§2.17). A failed child inside IKE_AUTH does not fail the IKE SA (§1.2). The inbound SA is
/// installed before the response leaves (effects run in order). <see cref="ChildRekeyTask"/> wraps this
/// task for a rekey (REKEY_SA, §1.3.3, §2.8) and decides, with the collision rules, whether the new SA
/// may send at once.
/// </summary>
public sealed partial class ChildCreateTask : IIkeTask
{
    private readonly ChildConfig? _initiatorChild;
    private readonly ChildSaRecord? _replacing;
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
    // Initiator: the child left IKE_AUTH for a CREATE_CHILD_SA of its own (RFC 6023).
    private bool _deferred;
    private IpsecMode _mode;

    private readonly bool _initial;

    /// <param name="child">The child to create as initiator; null for the responder role.</param>
    /// <param name="initial">Initiator: one of the children of <see cref="IkeSa.Initiate"/> (counted until answered).</param>
    /// <param name="replacing">Initiator of a rekey: the Child SA the new one replaces (its narrowed selectors are kept).</param>
    public ChildCreateTask(ChildConfig? child, bool initial = false, ChildSaRecord? replacing = null)
    {
        _initiatorChild = child;
        _initial = initial;
        _replacing = replacing;
    }

    /// <summary>Our inbound SPI of the new SA (0 before one is allocated).</summary>
    internal uint OurSpi => _ourSpi;

    /// <summary>The lower of this exchange's two nonces (the lowest-nonce rule of §2.8.1).</summary>
    internal byte[] LowerNonce => IkeSa.LowerNonce(_nonceI, _nonceR);

    /// <summary>Responder: the child was negotiated and installed.</summary>
    internal bool Installed { get; private set; }

    // ---- Initiator ----

    public void BuildRequest(IkeSa sa, List<Payload> payloads)
    {
        _child = _initiatorChild!;
        _inIkeAuth = sa.State != IkeSaState.Established;
        if (_inIkeAuth && sa.ChildlessUnsupportedByPeer)
        {
            sa.ChildlessMismatch("childless force, but the responder did not announce CHILDLESS_IKEV2_SUPPORTED");
            return;
        }
        if (_inIkeAuth && sa.DefersFirstChild)
        {
            _deferred = true;
            return;
        }
        _ourSpi = sa.Context.DataPlane.AllocateSpi();
        bool pfs = !_inIkeAuth && FirstGroup(_child.EspProposals) is not DhGroup.None;

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
        _tsi = _replacing?.LocalTs ?? Resolve(_child.LocalTs, VirtualIps.DynamicHosts(sa, local: true, assigned: false));
        _tsr = _replacing?.RemoteTs ?? Resolve(_child.RemoteTs, VirtualIps.DynamicHosts(sa, local: false));
        payloads.Add(new TsPayload(PayloadType.TsInitiator, _tsi));
        payloads.Add(new TsPayload(PayloadType.TsResponder, _tsr));
        if (RequestTransport(sa)) payloads.Add(new NotifyPayload(NotifyType.UseTransportMode));
    }

    public TaskOutcome ProcessResponse(IkeSa sa, IkeMessage response)
    {
        if (_deferred)
        {
            // The IKE SA is established (a refused IKE_AUTH ended it before this task): the child follows at once.
            sa.TaskManager.EnqueueFirst(ExchangeType.CreateChildSa, new ChildCreateTask(_child, _initial));
            return TaskOutcome.Done;
        }
        if (!TryAccept(sa, response, out var accepted)) return Abandon(sa);
        Install(sa, accepted, outboundActive: true);
        return TaskOutcome.Done;
    }

    /// <summary>The response as the peer's answer to our proposal and selectors: its SPI and the DH secret (empty without
    /// PFS). False when it refuses or does not fit what we asked; the caller then abandons the child.</summary>
    internal bool TryAccept(IkeSa sa, IkeMessage response, out Accepted accepted)
    {
        accepted = default;
        if (_initial) sa.InitialChildDone();
        var saPayload = response.Get<SaPayload>();
        var tsi = response.Get<TsPayload>(PayloadType.TsInitiator);
        var tsr = response.Get<TsPayload>(PayloadType.TsResponder);
        if (response.GetErrorNotify() is not null || saPayload is null || tsi is null || tsr is null ||
            saPayload.Proposals.Count != 1 || saPayload.Proposals[0].Spi.Length != 4 ||
            !ProposalSelector.TryAcceptEsp(_child!.EspProposals, saPayload.Proposals[0], includedGroups: _dh is not null, out _suite) ||
            !TrafficSelectorNarrowing.IsSubset(tsi.Selectors, _tsi) || !TrafficSelectorNarrowing.IsSubset(tsr.Selectors, _tsr) ||
            !AcceptMode(sa, response, tsi.Selectors, tsr.Selectors))
        {
            return false;
        }

        byte[] secret = [];
        if (!_inIkeAuth)
        {
            var nonce = response.Get<NoncePayload>();
            if (nonce is null || !NonceRules.IsLongEnough(nonce.Data, sa.Suite.Prf)) return false;
            _nonceR = nonce.Data;
            if (_dh is not null)
            {
                var ke = response.Get<KePayload>();
                if (ke is null || ke.Group != _dh.Group || !_dh.TryDeriveSharedSecret(ke.Data, out secret)) return false;
            }
        }

        accepted = new Accepted(BinaryPrimitives.ReadUInt32BigEndian(saPayload.Proposals[0].Spi), tsi.Selectors, tsr.Selectors, secret);
        return true;
    }

    /// <summary>Installs the child the peer accepted (see <see cref="TryAccept"/>).</summary>
    internal void Install(IkeSa sa, Accepted accepted, bool outboundActive) =>
        Install(sa, accepted.PeerSpi, accepted.Tsi, accepted.Tsr, accepted.Secret, weInitiated: true, outboundActive);

    /// <summary>Gives the child up: the IKE SA stays up (RFC 7296 §1.2 for IKE_AUTH), the SPI goes back.</summary>
    internal TaskOutcome Abandon(IkeSa sa)
    {
        sa.Context.DataPlane.ReleaseSpi(_ourSpi);
        _dh?.Dispose();
        return TaskOutcome.Done;
    }

    /// <summary>What the peer's response gave us: its inbound SPI, the selectors it narrowed to, the PFS secret.</summary>
    internal readonly record struct Accepted(uint PeerSpi, IReadOnlyList<TrafficSelector> Tsi, IReadOnlyList<TrafficSelector> Tsr, byte[] Secret);

    // ---- Responder ----

    public TaskOutcome ProcessRequest(IkeSa sa, IkeMessage request)
    {
        // RFC 6023: the IKE_AUTH's shape (with or without a child) against what we announced and the connection's policy.
        if (request.Header.Exchange == ExchangeType.IkeAuth && sa.RefusesIkeAuthShape(request) is { } refused) return sa.ChildlessMismatch(refused);
        if (!Precheck(request)) return TaskOutcome.Done;
        // The configuration payload's failure notify answers IKE_AUTH; no Child SA comes of it (strongSwan's child_create).
        if (_inIkeAuth && sa.VirtualIps.Failed) return TaskOutcome.Done;
        if (!_inIkeAuth && sa.ChildTable.Count >= sa.Context.Limits.ChildSaLimit)
        {
            // charon.child_sa_limit; a rekey replaces a child and is never refused by it (RFC 7296 §3.10.1).
            sa.Context.Metrics.Limits.Hit(ResourceLimit.ChildSaLimit, sa.Context.Limits.ChildSaLimit);
            return Refuse(NotifyType.NoAdditionalSas);
        }

        Negotiate(sa, request, sa.Connection!.Children.Values, outboundActive: true);
        return TaskOutcome.Done;
    }

    /// <summary>
    /// The request's shape: false when there is nothing more to do, either a childless IKE_AUTH (RFC 6023, fine) or an
    /// error already chosen for the response.
    /// </summary>
    internal bool Precheck(IkeMessage request)
    {
        _inIkeAuth = request.Header.Exchange == ExchangeType.IkeAuth;
        var saPayload = request.Get<SaPayload>();
        if (saPayload is null)
        {
            // IKE_AUTH without a child (RFC 6023 childless) is fine; CREATE_CHILD_SA needs one.
            if (!_inIkeAuth) _error = NotifyType.InvalidSyntax;
            return false;
        }

        if (request.Get<TsPayload>(PayloadType.TsInitiator) is null || request.Get<TsPayload>(PayloadType.TsResponder) is null)
        {
            _error = NotifyType.InvalidSyntax;
            return false;
        }

        if (!_inIkeAuth && saPayload.Proposals.Count > 0 && saPayload.Proposals[0].Protocol == ProtocolId.Ike)
        {
            // IKE SA rekeying belongs to the lifecycle work; refusing keeps the existing SA intact (§2.25).
            _error = NotifyType.NoProposalChosen;
            return false;
        }

        return true;
    }

    /// <summary>Answers the request with this error notify alone.</summary>
    internal TaskOutcome Refuse(NotifyType error)
    {
        _error = error;
        return TaskOutcome.Done;
    }

    /// <summary>
    /// Picks the first of <paramref name="candidates"/> whose ESP proposals and selectors fit the request, derives its
    /// keys and installs it (inbound at once; outbound when <paramref name="outboundActive"/>), or chooses the error.
    /// </summary>
    internal void Negotiate(IkeSa sa, IkeMessage request, IEnumerable<ChildConfig> candidates, bool outboundActive)
    {
        var saPayload = request.Get<SaPayload>()!;
        var tsi = request.Get<TsPayload>(PayloadType.TsInitiator)!;
        var tsr = request.Get<TsPayload>(PayloadType.TsResponder)!;
        var ke = _inIkeAuth ? null : request.Get<KePayload>();
        bool anyProposal = false;
        foreach (var child in candidates)
        {
            // CREATE_CHILD_SA negotiates the DH group whether or not a KE payload came (strongSwan never skips KE
            // transforms there): a child whose esp_proposals require PFS matches no proposal without its group.
            if (!ProposalSelector.TrySelectEsp(child.EspProposals, saPayload.Proposals, requireGroup: !_inIkeAuth, out var chosen, out var suite))
            {
                continue;
            }

            anyProposal = true;
            var narrowedI = TrafficSelectorNarrowing.Narrow(tsi.Selectors, Resolve(child.RemoteTs, VirtualIps.DynamicHosts(sa, local: false)));
            var narrowedR = TrafficSelectorNarrowing.Narrow(tsr.Selectors, Resolve(child.LocalTs, VirtualIps.DynamicHosts(sa, local: true)));
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
            return;
        }

        if (_chosen!.Spi.Length != 4)
        {
            _error = NotifyType.InvalidSyntax;
            return;
        }

        byte[] secret = [];
        if (!_inIkeAuth)
        {
            var nonce = request.Get<NoncePayload>();
            if (nonce is null || !NonceRules.IsLongEnough(nonce.Data, sa.Suite.Prf))
            {
                _error = NotifyType.InvalidSyntax;
                return;
            }

            _nonceI = nonce.Data;
            _nonceR = sa.NewNonce();
            // A KE payload next to a proposal agreed without PFS is ignored (RFC 7296 §1.3.1 makes it optional).
            if (_suite.Group != DhGroup.None)
            {
                // The agreed group, asked for when the KE payload is missing or of another group (§1.3, §3.10.1).
                if (ke is null || ke.Group != _suite.Group)
                {
                    _error = NotifyType.InvalidKePayload;
                    return;
                }

                _dh = KeyExchangeFactory.Create(_suite.Group);
                if (!_dh.TryDeriveSharedSecret(ke.Data, out secret))
                {
                    _error = NotifyType.InvalidSyntax;
                    return;
                }
            }
        }

        _mode = ChooseMode(sa, request);
        uint peerSpi = BinaryPrimitives.ReadUInt32BigEndian(_chosen.Spi);
        _ourSpi = sa.Context.DataPlane.AllocateSpi();
        Install(sa, peerSpi, _tsi, _tsr, secret, weInitiated: false, outboundActive);
        Installed = true;
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
        if (_mode == IpsecMode.Transport) payloads.Add(new NotifyPayload(NotifyType.UseTransportMode));
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
            OutboundActive: outboundActive,
            Mode: _mode,
            InterfaceIdIn: _child.InterfaceIdIn,
            InterfaceIdOut: _child.InterfaceIdOut);
        sa.AddChild(new ChildSaRecord(_child.Name, _ourSpi, peerSpi, _suite, localTs, remoteTs, _mode), install);
    }

    /// <summary>Concrete selectors: "dynamic" (and no selector at all) stands for each of <paramref name="dynamicHosts"/>
    /// (<see cref="VirtualIps.DynamicHosts"/>); none of them, none for it.</summary>
    internal static IReadOnlyList<TrafficSelector> Resolve(IReadOnlyList<TrafficSelectorSpec> specs, IReadOnlyList<IPAddress> dynamicHosts)
    {
        var list = new List<TrafficSelector>(Math.Max(specs.Count, 1));
        if (specs.Count == 0)
        {
            foreach (var host in dynamicHosts) list.Add(TrafficSelectorSpec.ForHost(host));
            return list;
        }
        foreach (var s in specs)
        {
            if (!s.Dynamic)
            {
                list.Add(s.Selector!);
                continue;
            }
            foreach (var host in dynamicHosts) list.Add(s.Resolve(host));
        }
        return list;
    }

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
