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
/// IKE_SA_INIT (RFC 7296 §1.2): SA, KE, Nonce and NAT detection (§2.23) for both roles; COOKIE (§2.6)
/// and INVALID_KE_PAYLOAD (§1.3) retries on the initiator; keys derived once both nonces are known.
/// </summary>
public sealed class IkeInitTask : IIkeTask
{
    /// <summary>Bound on COOKIE/INVALID_KE round trips before giving up (a peer could loop us forever).</summary>
    private const int MaxRetries = 3;

    /// <summary>A random IPv4 address, port 0, chosen once per process: no real endpoint hashes like it.</summary>
    private static readonly IPEndPoint FakeSource = new(new IPAddress(RandomNumberGenerator.GetBytes(4)), 0);

    private IKeyExchange? _dh;
    private DhGroup _group;
    private int _retries;
    private byte[]? _cookie;
    private Proposal? _chosen;

    // ---- Initiator ----

    public void BuildRequest(IkeSa sa, List<Payload> payloads)
    {
        var proposals = sa.Connection!.Proposals;
        if (_group == DhGroup.None) _group = FirstGroup(proposals);
        if (_dh is null || _dh.Group != _group)
        {
            _dh?.Dispose();
            _dh = KeyExchangeFactory.Create(_group);
        }

        // The nonce stays the same across COOKIE and INVALID_KE retries.
        if (sa.NonceI.Length == 0) sa.NonceI = sa.NewNonce();

        if (_cookie is not null) payloads.Add(new NotifyPayload(NotifyType.Cookie, _cookie));
        payloads.Add(new SaPayload(ProposalSelector.ToWire(proposals, [])));
        payloads.Add(new KePayload(_group, _dh.PublicValue));
        payloads.Add(new NoncePayload(sa.NonceI));
        AddNatDetection(sa, payloads, spiR: 0);
        if (sa.Connection.Fragmentation != Fragmentation.No) payloads.Add(new NotifyPayload(NotifyType.IkeFragmentationSupported));
        // RFC 6023 §3 lets the initiator announce too; strongSwan's responders ignore it.
        if (sa.AnnouncesChildless) payloads.Add(new NotifyPayload(NotifyType.ChildlessIkev2Supported));
    }

    public TaskOutcome ProcessResponse(IkeSa sa, IkeMessage response)
    {
        if (response.GetNotify(NotifyType.Cookie) is { } cookie)
        {
            if (++_retries > MaxRetries) return sa.Fail(CloseReason.CookieRejected);
            _cookie = cookie.Data;
            return TaskOutcome.Retry;
        }

        if (response.GetNotify(NotifyType.InvalidKePayload) is { } invalidKe)
        {
            if (invalidKe.Data.Length != 2 || ++_retries > MaxRetries) return sa.Fail(CloseReason.InvalidKe);
            var wanted = (DhGroup)BinaryPrimitives.ReadUInt16BigEndian(invalidKe.Data);
            if (wanted == _group || !Offers(sa.Connection!.Proposals, wanted)) return sa.Fail(CloseReason.InvalidKe);
            _group = wanted;
            return TaskOutcome.Retry;
        }

        if (response.GetErrorNotify() is { } error)
        {
            return sa.Fail(error.NotifyType == NotifyType.NoProposalChosen ? CloseReason.NoProposal : CloseReason.InvalidSyntax);
        }

        var saPayload = response.Get<SaPayload>();
        var ke = response.Get<KePayload>();
        var nonce = response.Get<NoncePayload>();
        if (saPayload is null || ke is null || nonce is null || saPayload.Proposals.Count != 1 || response.Header.ResponderSpi == 0)
        {
            return sa.Fail(CloseReason.InvalidSyntax);
        }

        if (!ProposalSelector.TryAcceptIke(sa.Connection!.Proposals, saPayload.Proposals[0], out var suite) ||
            suite.Group != _group || ke.Group != _group)
        {
            return sa.Fail(CloseReason.NoProposal);
        }

        if (!NonceRules.IsLongEnough(nonce.Data, suite.Prf))
        {
            return sa.Fail(CloseReason.InvalidSyntax);
        }

        if (!_dh!.TryDeriveSharedSecret(ke.Data, out var secret))
        {
            return sa.Fail(CloseReason.InvalidKe);
        }

        sa.SpiR = response.Header.ResponderSpi;
        sa.NonceR = nonce.Data;
        sa.PeerSupportsFragmentation = response.GetNotify(NotifyType.IkeFragmentationSupported) is not null;
        sa.PeerSupportsChildless = response.GetNotify(NotifyType.ChildlessIkev2Supported) is not null;
        sa.InitRequest = sa.ActiveRequest;
        sa.InitResponse = sa.CurrentDatagram;
        DeriveKeys(sa, suite, secret);
        CheckNat(sa, response);

        if ((sa.NatDetected || sa.Connection.Encap) && !sa.NatT)
        {
            // RFC 7296 §2.23: once a NAT is seen (or encap forces it), the initiator moves IKE (and ESP) to port 4500.
            sa.NatT = true;
            // The flow to port 4500 gets a mapping of its own: the one IKE_SA_INIT's hash names is not ours any more.
            sa.NatMappingHash = null;
            sa.RemoteEndpoint = new IPEndPoint(sa.RemoteEndpoint.Address, sa.Connection.RemotePort is { } p && p != UdpEncapsulation.IkePort ? p : sa.Context.NattPort);
            sa.LocalEndpoint = new IPEndPoint(sa.LocalEndpoint.Address, sa.Context.NattPort);
        }

        Dispose();
        return TaskOutcome.Done;
    }

    // ---- Responder ----

    public TaskOutcome ProcessRequest(IkeSa sa, IkeMessage request)
    {
        sa.InitRequest = sa.CurrentDatagram;
        var saPayload = request.Get<SaPayload>()!;
        var ke = request.Get<KePayload>()!;
        var nonce = request.Get<NoncePayload>()!;

        // IKEv1 connections (version 1) are main mode's (Tasks/V1), never an IKEv2 responder's.
        sa.Candidates = sa.Context.Resolver.FindCandidates(sa.LocalEndpoint, sa.RemoteEndpoint).Where(c => c.Version != 1).ToList();
        if (sa.Candidates.Count == 0) return sa.RejectWith(NotifyType.NoProposalChosen, CloseReason.NoConnection);

        IkeSuite suite = default;
        foreach (var candidate in sa.Candidates)
        {
            if (ProposalSelector.TrySelectIke(candidate.Proposals, saPayload.Proposals, ke.Group, out _chosen, out suite))
            {
                sa.Connection = candidate;
                break;
            }
        }

        if (_chosen is null) return sa.RejectWith(NotifyType.NoProposalChosen, CloseReason.NoProposal);

        if (ke.Group != suite.Group)
        {
            var reject = IkeSa.ErrorNotify(NotifyType.InvalidKePayload, suite.Group);
            return sa.RejectWith(reject.NotifyType, CloseReason.InvalidKe, reject.Data);
        }

        if (!NonceRules.IsLongEnough(nonce.Data, suite.Prf))
        {
            return sa.RejectWith(NotifyType.InvalidSyntax, CloseReason.InvalidSyntax);
        }

        _group = suite.Group;
        _dh = KeyExchangeFactory.Create(suite.Group);
        if (!_dh.TryDeriveSharedSecret(ke.Data, out var secret))
        {
            // RFC 6989: an invalid public value ends the exchange.
            return sa.RejectWith(NotifyType.InvalidSyntax, CloseReason.InvalidKe);
        }

        sa.NonceI = nonce.Data;
        sa.NonceR = sa.NewNonce();
        sa.PeerSupportsFragmentation = request.GetNotify(NotifyType.IkeFragmentationSupported) is not null;
        sa.PeerSupportsChildless = request.GetNotify(NotifyType.ChildlessIkev2Supported) is not null;
        DeriveKeys(sa, suite, secret);
        CheckNat(sa, request);
        return TaskOutcome.Done;
    }

    public void BuildResponse(IkeSa sa, List<Payload> payloads)
    {
        payloads.Add(new SaPayload([_chosen!]));
        payloads.Add(new KePayload(_group, _dh!.PublicValue));
        payloads.Add(new NoncePayload(sa.NonceR));
        AddNatDetection(sa, payloads, sa.SpiR);
        // RFC 7383 §2.3: a responder announces support only to an initiator that did (strongSwan's too).
        if (sa.PeerSupportsFragmentation && sa.Connection!.Fragmentation != Fragmentation.No)
        {
            payloads.Add(new NotifyPayload(NotifyType.IkeFragmentationSupported));
        }
        // RFC 6023 §3: announced whether or not the initiator did (strongSwan's ike_init), unless childless never.
        if (sa.AnnouncesChildless) payloads.Add(new NotifyPayload(NotifyType.ChildlessIkev2Supported));
        Dispose();
    }

    // ---- Shared ----

    private static void DeriveKeys(IkeSa sa, IkeSuite suite, byte[] secret)
    {
        try
        {
            sa.Suite = suite;
            sa.ProposalText = Describe(suite);
            sa.Keys = KeyDerivation.DeriveIkeSaKeys(suite, secret, sa.NonceI, sa.NonceR, sa.SpiI, sa.SpiR);
            sa.Protector = new IkeMessageProtector(suite, sa.Keys, sa.IsInitiator);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(secret);
        }
    }

    /// <summary>
    /// With encap (forced UDP encapsulation) NAT_DETECTION_SOURCE_IP hashes <see cref="FakeSource"/> instead of our
    /// address, in either role, so the peer believes we are behind a NAT and keeps IKE and ESP on UDP 4500 (strongSwan's
    /// ike_natd does the same). The destination hash stays true.
    /// </summary>
    private static void AddNatDetection(IkeSa sa, List<Payload> payloads, ulong spiR) =>
        AddNatDetection(sa, payloads, spiR, sa.LocalEndpoint, sa.RemoteEndpoint);

    /// <summary>NAT detection for a message from <paramref name="local"/> to <paramref name="remote"/> (MOBIKE's
    /// INFORMATIONAL exchanges hash the path the message takes, RFC 4555 §3.5, §3.8).</summary>
    internal static void AddNatDetection(IkeSa sa, List<Payload> payloads, ulong spiR, IPEndPoint local, IPEndPoint remote)
    {
        var source = sa.Connection is { Encap: true } ? FakeSource : local;
        payloads.Add(new NotifyPayload(NotifyType.NatDetectionSourceIp, NatDetection.Hash(sa.SpiI, spiR, source)));
        payloads.Add(new NotifyPayload(NotifyType.NatDetectionDestinationIp, NatDetection.Hash(sa.SpiI, spiR, remote)));
    }

    /// <summary>
    /// RFC 7296 §2.23: the peer's SOURCE hashes must match the address we saw it from, its DESTINATION
    /// hash the address we received on. A peer that fakes a mismatch (strongSwan's encap=yes) gets NAT-T.
    /// </summary>
    private static void CheckNat(IkeSa sa, IkeMessage message) => CheckNat(sa, message, sa.LocalEndpoint, sa.RemoteEndpoint);

    /// <summary>
    /// As above for a message that arrived on <paramref name="local"/> from <paramref name="remote"/>. Sets NatDetected and
    /// BehindNat only when the message carries NAT detection; an initiator keeps the peer's DESTINATION hash (what its NAT
    /// maps it to, <see cref="IkeSa.NatMappingHash"/>).
    /// </summary>
    internal static void CheckNat(IkeSa sa, IkeMessage message, IPEndPoint local, IPEndPoint remote)
    {
        var h = message.Header;
        bool any = false, remoteMatches = false, localMatches = true;
        foreach (var n in message.GetAll<NotifyPayload>())
        {
            if (n.NotifyType == NotifyType.NatDetectionSourceIp)
            {
                any = true;
                remoteMatches |= n.Data.AsSpan().SequenceEqual(NatDetection.Hash(h.InitiatorSpi, h.ResponderSpi, remote));
            }
            else if (n.NotifyType == NotifyType.NatDetectionDestinationIp)
            {
                localMatches = n.Data.AsSpan().SequenceEqual(NatDetection.Hash(h.InitiatorSpi, h.ResponderSpi, local));
                if (sa.OriginalInitiator) sa.NatMappingHash = n.Data.ToArray();
            }
        }

        if (!any) return;
        sa.NatDetected = any && (!remoteMatches || !localMatches);
        sa.BehindNat = any && !localMatches;
    }

    private static DhGroup FirstGroup(IReadOnlyList<IkeProposal> proposals)
    {
        foreach (var p in proposals)
        {
            foreach (var g in p.Groups)
            {
                if (KeyExchangeFactory.IsSupported(g)) return g;
            }
        }
        throw new InvalidOperationException("connection offers no supported DH group");
    }

    private static bool Offers(IReadOnlyList<IkeProposal> proposals, DhGroup group)
    {
        foreach (var p in proposals)
        {
            if (p.Groups.Contains(group)) return KeyExchangeFactory.IsSupported(group);
        }
        return false;
    }

    internal static string Describe(IkeSuite s) =>
        Algorithms.IsAead(s.Encryption)
            ? $"{s.Encryption}-{s.KeyBits}/{s.Prf}/{s.Group}"
            : $"{s.Encryption}-{s.KeyBits}/{s.Integrity}/{s.Prf}/{s.Group}";

    private void Dispose()
    {
        _dh?.Dispose();
        _dh = null;
    }
}
