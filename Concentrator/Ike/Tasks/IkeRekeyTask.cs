using System.Buffers.Binary;
using System.Security.Cryptography;
using Concentrator.Ike.Crypto;
using Concentrator.Ike.Proposals;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Tasks;

/// <summary>
/// Rekeys the IKE SA (RFC 7296 §1.3.2): CREATE_CHILD_SA {SA(IKE, new SPI), Ni, KEi} -> {SA, Nr, KEr}.
/// The new SA's keys come from the old SK_d (§2.18); its initiator is whoever started this exchange.
/// Child SAs move to the new SA; the rekey initiator then deletes the old SA with INFORMATIONAL.
/// Simultaneous IKE rekeys (§2.8.2, §2.25.2) both complete: the new SA whose exchange had the lowest of the four
/// nonces is redundant and deleted by its initiator, the children move to the other one, whose initiator deletes
/// the old SA (strongSwan's ike_rekey decides the same way). A rekey request while another exchange of ours is in
/// flight, or while we delete the SA, is refused with TEMPORARY_FAILURE (§2.25.2).
/// </summary>
public sealed class IkeRekeyTask : IIkeTask
{
    private IKeyExchange? _dh;
    private ulong _ourSpi;
    private byte[] _nonce = [];
    private Proposal? _chosen;
    private IkeSuite _suite;
    private NotifyType? _error;

    // ---- Initiator ----

    public void BuildRequest(IkeSa sa, List<Payload> payloads)
    {
        _ourSpi = IkeSa.RandomIkeSpi();
        _nonce = sa.NewNonce();
        _dh = KeyExchangeFactory.Create(sa.Suite.Group);
        payloads.Add(new SaPayload(ProposalSelector.ToWire(sa.Connection!.Proposals, IkeSa.SpiBytes(_ourSpi))));
        payloads.Add(new NoncePayload(_nonce));
        payloads.Add(new KePayload(_dh.Group, _dh.PublicValue));
    }

    public TaskOutcome ProcessResponse(IkeSa sa, IkeMessage response)
    {
        sa.RekeyingIke = false;
        var passive = sa.TakePassiveIkeRekey();
        var saPayload = response.Get<SaPayload>();
        var nonce = response.Get<NoncePayload>();
        var ke = response.Get<KePayload>();
        if (response.GetErrorNotify() is not null || saPayload is not { Proposals: [var answer] } || answer.Spi.Length != 8 ||
            nonce is null || ke is null || !ProposalSelector.TryAcceptIke(sa.Connection!.Proposals, answer, out var suite) ||
            !NonceRules.IsLongEnough(nonce.Data, suite.Prf) ||
            ke.Group != _dh!.Group || suite.Group != _dh.Group || !_dh.TryDeriveSharedSecret(ke.Data, out var secret))
        {
            _dh?.Dispose();
            if (passive is not null)
            {
                // Refused in a collision (TEMPORARY_FAILURE: the peer had finished its rekey and deletes the old SA):
                // the peer's new SA, which we answered, carries on.
                sa.HandOver(passive.Sa);
                return TaskOutcome.Done;
            }

            // The old SA stays; the lifetime timer tries again.
            sa.Context.Metrics.CountRekey("ike", success: false);
            return TaskOutcome.Done;
        }

        ulong peerSpi = BinaryPrimitives.ReadUInt64BigEndian(answer.Spi);
        var ours = Derive(sa, suite, secret, _nonce, nonce.Data, spiI: _ourSpi, spiR: peerSpi, weInitiate: true);
        if (passive is not null && IkeSa.CompareNonces(IkeSa.LowerNonce(_nonce, nonce.Data), passive.LowerNonce) < 0)
        {
            // Lost: ours is redundant and we delete it (INFORMATIONAL {D(IKE)} on it); the peer's new SA takes the
            // children and the peer deletes the old SA.
            sa.HandOver(passive.Sa);
            sa.Redundant(ours);
            ours.Delete();
            return TaskOutcome.Done;
        }

        sa.HandOver(ours);
        // Won: the peer deletes its redundant SA; we delete the old one (its children already belong to ours).
        if (passive is not null) sa.Redundant(passive.Sa);
        sa.Context.Metrics.CountRekey("ike", success: true);
        sa.Delete();
        return TaskOutcome.Done;
    }

    // ---- Responder ----

    public TaskOutcome ProcessRequest(IkeSa sa, IkeMessage request)
    {
        var saPayload = request.Get<SaPayload>()!;
        var nonce = request.Get<NoncePayload>();
        var ke = request.Get<KePayload>();
        if (nonce is null || ke is null)
        {
            _error = NotifyType.InvalidSyntax;
            return TaskOutcome.Done;
        }

        // §2.25.2: TEMPORARY_FAILURE while we delete this SA or run another exchange on it (a Child SA being created,
        // rekeyed or deleted); only our own IKE rekey on the wire is a collision answered as usual.
        bool collision = sa.IkeRekeyInFlight && !sa.HasPassiveIkeRekey;
        // An SA already replaced (it only awaits its Delete) is never rekeyed twice.
        if (sa.State != IkeSaState.Established || sa.Successor is not null || (sa.HasExchangeInFlight && !collision) ||
            (sa.RekeyingIke && !collision))
        {
            _error = NotifyType.TemporaryFailure;
            return TaskOutcome.Done;
        }

        if (!ProposalSelector.TrySelectIke(sa.Connection!.Proposals, saPayload.Proposals, ke.Group, out _chosen, out _suite) ||
            _chosen!.Spi.Length != 8)
        {
            _error = NotifyType.NoProposalChosen;
            return TaskOutcome.Done;
        }

        if (ke.Group != _suite.Group)
        {
            _error = NotifyType.InvalidKePayload;
            return TaskOutcome.Done;
        }

        _dh = KeyExchangeFactory.Create(_suite.Group);
        if (!_dh.TryDeriveSharedSecret(ke.Data, out var secret))
        {
            _error = NotifyType.InvalidSyntax;
            return TaskOutcome.Done;
        }

        _ourSpi = IkeSa.RandomIkeSpi();
        _nonce = sa.NewNonce();
        ulong peerSpi = BinaryPrimitives.ReadUInt64BigEndian(_chosen.Spi);
        var created = Derive(sa, _suite, secret, nonce.Data, _nonce, spiI: peerSpi, spiR: _ourSpi, weInitiate: false);
        sa.Context.Metrics.CountRekey("ike", success: true);
        if (collision)
        {
            // Settled by the nonces when the response to our own rekey arrives (or by the peer's Delete of this SA).
            sa.PassiveIkeRekey(created, IkeSa.LowerNonce(nonce.Data, _nonce));
        }
        else
        {
            sa.HandOver(created);
        }
        return TaskOutcome.Done;
    }

    public void BuildResponse(IkeSa sa, List<Payload> payloads)
    {
        if (_error is { } error)
        {
            payloads.Add(IkeSa.ErrorNotify(error, _suite.Group));
            return;
        }

        payloads.Add(new SaPayload([_chosen! with { Spi = IkeSa.SpiBytes(_ourSpi) }]));
        payloads.Add(new NoncePayload(_nonce));
        payloads.Add(new KePayload(_dh!.Group, _dh.PublicValue));
        _dh.Dispose();
    }

    // ---- Shared ----

    /// <summary>The new SA with keys from the old SK_d (§2.18); it gets the children only through <see cref="IkeSa.HandOver"/>.</summary>
    private static IkeSa Derive(IkeSa sa, IkeSuite suite, byte[] secret, byte[] ni, byte[] nr, ulong spiI, ulong spiR, bool weInitiate)
    {
        try
        {
            var keys = KeyDerivation.DeriveRekeyedIkeSaKeys(suite, sa.Suite.Prf, sa.Keys!.SkD, secret, ni, nr, spiI, spiR);
            return IkeSa.CreateRekeyed(sa, weInitiate, spiI, spiR, suite, keys);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(secret);
        }
    }
}
