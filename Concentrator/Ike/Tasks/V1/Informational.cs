using Concentrator.Ike.Sa;
using Concentrator.Ike.Sa.V1;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Tasks.V1;

/// <summary>
/// The informational exchange (5) of an IKEv1 SA once its keys exist (after charon's informational task): the HASH of
/// RFC 2409 §5.7 verified first (a forged or replayed-under-another-key message is counted and moves nothing), then
/// <see cref="V1InformationalTask"/> reads it and this handler carries the outcome out on the SA. Informationals are
/// one-way: nothing waits for an answer and no IV is kept for their message IDs. Also the SA's
/// <see cref="IV1Deleter"/>: our teardown's Deletes (each Child SA, then the ISAKMP SA).
/// </summary>
public sealed class Informational : IV1ExchangeHandler, IV1Deleter
{
    public static readonly Informational Instance = new();

    public V1ExchangeType Exchange => V1ExchangeType.Informational;

    public void Handle(IkeV1Sa sa, V1Received message)
    {
        if (sa.State is not (V1Phase1State.Established or V1Phase1State.Deleting) || !V1Hashes.VerifyHash1(sa, message))
        {
            sa.Context.Metrics.CountDrop(IkeDropReason.IntegrityCheckFailed);
            sa.InfoDropped(sa.State is V1Phase1State.Established or V1Phase1State.Deleting ? "HASH does not verify" : "phase 1 not established");
            return;
        }

        long before = sa.LastInbound;
        sa.CommitReceived(message);
        sa.Protector!.EndExchange(message.MessageId);
        var payloads = message.Payloads.Skip(1).ToList();
        var outcome = V1InformationalTask.Process(payloads, authenticated: true,
            new V1InfoContext(sa.CookieI, sa.CookieR, Phase1Established: true, sa.Dpd, sa.FindChild));
        // A DPD notify out of sequence proves nothing about the peer (charon moves its inbound time only for the expected one).
        if (!outcome.ProvesLiveness) sa.LastInbound = before;
        sa.Apply(outcome);
    }

    /// <summary>Our teardown, in charon's order: a Delete per Child SA (our inbound SPI), then the ISAKMP SA's.</summary>
    public void SendDelete(IkeV1Sa sa)
    {
        foreach (var payloads in V1Informational.TeardownDeletes(sa.CookieI, sa.CookieR, sa.InstalledChildren()))
        {
            sa.SendInformational(payloads);
        }
        sa.InfoDeleteSent("the ISAKMP SA and its Child SAs");
    }
}

public static partial class V1Exchanges
{
    static partial void AddInformational(Registry registry) => registry.Add(Informational.Instance);
}

public static partial class V1VendorIds
{
    // charon always announces DPD (isakmp_vendor's table): we answer R-U-THERE whatever our dpd_delay.
    static partial void AnnounceDpd(IkeV1Sa sa, ref bool announce) => announce = true;
}
