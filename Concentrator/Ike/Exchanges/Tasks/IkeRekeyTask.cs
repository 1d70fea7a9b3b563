using System.Buffers.Binary;
using System.Security.Cryptography;
using Concentrator.Ike.Crypto;
using Concentrator.Ike.Proposals;
using Concentrator.Ike.Wire;

namespace Concentrator.Ike.Exchanges.Tasks;

/// <summary>
/// Rekeys the IKE SA (RFC 7296 §1.3.2): CREATE_CHILD_SA {SA(IKE, new SPI), Ni, KEi} -> {SA, Nr, KEr}.
/// The new SA's keys come from the old SK_d (§2.18); its initiator is whoever started this exchange.
/// Child SAs move to the new SA; the rekey initiator then deletes the old SA with INFORMATIONAL.
/// Collisions (§2.25): a rekey request while we have a request of our own in flight is refused with
/// TEMPORARY_FAILURE, and the peer retries later; that keeps exactly one successor.
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
        _nonce = IkeSa.RandomBytes(sa.Context.Tunables.NonceLength);
        _dh = KeyExchangeFactory.Create(sa.Suite.Group);
        payloads.Add(new SaPayload(ProposalSelector.ToWire(sa.Connection!.Proposals, IkeSa.SpiBytes(_ourSpi))));
        payloads.Add(new NoncePayload(_nonce));
        payloads.Add(new KePayload(_dh.Group, _dh.PublicValue));
    }

    public TaskStatus ProcessResponse(IkeSa sa, IkeMessage response)
    {
        sa.RekeyingIke = false;
        var saPayload = response.Get<SaPayload>();
        var nonce = response.Get<NoncePayload>();
        var ke = response.Get<KePayload>();
        if (response.GetErrorNotify() is not null || saPayload is not { Proposals: [var answer] } || answer.Spi.Length != 8 ||
            nonce is null || ke is null || !ProposalSelector.TryAcceptIke(sa.Connection!.Proposals, answer, out var suite) ||
            !NonceRules.IsLongEnough(nonce.Data, suite.Prf) ||
            ke.Group != _dh!.Group || suite.Group != _dh.Group || !_dh.TryDeriveSharedSecret(ke.Data, out var secret))
        {
            // The old SA stays; the lifetime timer tries again (TEMPORARY_FAILURE in a collision, §2.25).
            _dh?.Dispose();
            sa.Context.Metrics.CountRekey("ike", success: false);
            return TaskStatus.Done;
        }

        ulong peerSpi = BinaryPrimitives.ReadUInt64BigEndian(answer.Spi);
        Derive(sa, suite, secret, _nonce, nonce.Data, spiI: _ourSpi, spiR: peerSpi, weInitiate: true);
        sa.Context.Metrics.CountRekey("ike", success: true);
        // The old SA has done its job: delete it (its children already belong to the successor).
        sa.Delete();
        return TaskStatus.Done;
    }

    // ---- Responder ----

    public TaskStatus ProcessRequest(IkeSa sa, IkeMessage request)
    {
        var saPayload = request.Get<SaPayload>()!;
        var nonce = request.Get<NoncePayload>();
        var ke = request.Get<KePayload>();
        if (nonce is null || ke is null)
        {
            _error = NotifyType.InvalidSyntax;
            return TaskStatus.Done;
        }

        if (sa.HasExchangeInFlight || sa.RekeyingIke)
        {
            _error = NotifyType.TemporaryFailure;
            return TaskStatus.Done;
        }

        if (!ProposalSelector.TrySelectIke(sa.Connection!.Proposals, saPayload.Proposals, ke.Group, out _chosen, out _suite) ||
            _chosen!.Spi.Length != 8)
        {
            _error = NotifyType.NoProposalChosen;
            return TaskStatus.Done;
        }

        if (ke.Group != _suite.Group)
        {
            _error = NotifyType.InvalidKePayload;
            return TaskStatus.Done;
        }

        _dh = KeyExchangeFactory.Create(_suite.Group);
        if (!_dh.TryDeriveSharedSecret(ke.Data, out var secret))
        {
            _error = NotifyType.InvalidSyntax;
            return TaskStatus.Done;
        }

        _ourSpi = IkeSa.RandomIkeSpi();
        _nonce = IkeSa.RandomBytes(sa.Context.Tunables.NonceLength);
        ulong peerSpi = BinaryPrimitives.ReadUInt64BigEndian(_chosen.Spi);
        Derive(sa, _suite, secret, nonce.Data, _nonce, spiI: peerSpi, spiR: _ourSpi, weInitiate: false);
        sa.Context.Metrics.CountRekey("ike", success: true);
        return TaskStatus.Done;
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

    /// <summary>Keys of the new SA from the old SK_d (§2.18); the successor is announced to the host by an effect.</summary>
    private static void Derive(IkeSa sa, IkeSuite suite, byte[] secret, byte[] ni, byte[] nr, ulong spiI, ulong spiR, bool weInitiate)
    {
        try
        {
            var keys = KeyDerivation.DeriveRekeyedIkeSaKeys(suite, sa.Suite.Prf, sa.Keys!.SkD, secret, ni, nr, spiI, spiR);
            sa.Successor = IkeSa.CreateRekeyed(sa, weInitiate, spiI, spiR, suite, keys);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(secret);
        }
    }
}
