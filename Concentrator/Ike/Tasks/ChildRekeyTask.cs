using System.Buffers.Binary;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Wire;

namespace Concentrator.Ike.Tasks;

/// <summary>
/// Rekeys one Child SA (RFC 7296 §1.3.3, §2.8): CREATE_CHILD_SA with REKEY_SA, negotiated by the
/// <see cref="ChildCreateTask"/> it wraps. Make-before-break: the initiator switches outbound when the response
/// arrives and then deletes the old SA; the responder installs the new SA inbound-only and starts sending on it once
/// the old SA is deleted, so no packet meets a missing inbound SA. Simultaneous rekeys of one child (§2.8.1) both
/// complete: the SA whose exchange had the lowest of the four nonces is redundant and deleted by the side that
/// initiated it, and the other side's initiator deletes the old SA. strongSwan's child_rekey compares the lower nonce
/// of each exchange the same way, so both ends agree.
/// </summary>
public sealed class ChildRekeyTask : IIkeTask
{
    private readonly ChildSaRecord? _old;
    private readonly ChildCreateTask _create;
    private ChildSaRecord? _rekeyedByPeer;

    /// <summary>Initiator: rekey <paramref name="old"/> (negotiated again with <paramref name="config"/>).</summary>
    public ChildRekeyTask(ChildConfig config, ChildSaRecord old)
    {
        _old = old;
        _create = new ChildCreateTask(config, replacing: old);
    }

    /// <summary>Responder.</summary>
    public ChildRekeyTask() => _create = new ChildCreateTask(null);

    /// <summary>Initiator: the Child SA this task rekeys.</summary>
    internal ChildSaRecord Old => _old!;

    // ---- Initiator ----

    public void BuildRequest(IkeSa sa, List<Payload> payloads)
    {
        payloads.Add(new NotifyPayload(NotifyType.RekeySa, null, ChildDeleteTask.ProtocolOf(_old!.Suite), IkeSa.SpiBytes(_old.InboundSpi)));
        _create.BuildRequest(sa, payloads);
    }

    public TaskOutcome ProcessResponse(IkeSa sa, IkeMessage response)
    {
        uint old = _old!.InboundSpi;
        var table = sa.ChildTable;
        if (!_create.TryAccept(sa, response, out var accepted))
        {
            // A failed rekey (e.g. TEMPORARY_FAILURE in a collision, §2.25) keeps the old SA; the lifetime timer retries.
            _create.Abandon(sa);
            table.RekeyDone(old);
            // Refused in a collision the peer settled (TEMPORARY_FAILURE because it was already deleting the old SA,
            // §2.25.1, or CHILD_SA_NOT_FOUND because it had): its successor, which we answered, carries on.
            bool settledByPeer = table.TakePassiveRekey(old) is not null || table.Find(old) is null;
            if (!settledByPeer) sa.Context.Metrics.CountRekey("child", success: false);
            return TaskOutcome.Done;
        }

        table.RekeyDone(old);
        // The peer's rekey of the same child, answered by us while ours was in flight, created a second successor.
        var passive = table.TakePassiveRekey(old);
        bool lost = passive is not null && IkeSa.CompareNonces(_create.LowerNonce, passive.LowerNonce) < 0;
        // A lost successor never sends: the peer deletes the old SA and our side of its successor takes over.
        _create.Install(sa, accepted, outboundActive: !lost);
        if (lost)
        {
            table.MarkRedundant(_create.OurSpi);
            sa.DeleteChild(_create.OurSpi);
            return TaskOutcome.Done;
        }

        // Make-before-break: the new SA carries outbound from now on; the old one goes once the peer
        // confirms its deletion (in-flight packets on it are still accepted until then).
        if (passive is not null) table.CollisionWon(old, passive.Successor);
        if (table.Find(old) is not null)
        {
            table.Rekeyed(old);
            sa.Context.Metrics.CountRekey("child", success: true);
            sa.DeleteChild(old);
        }
        else
        {
            // The peer deleted the old SA before our response arrived (reordered): the rekey still counts.
            sa.Context.Metrics.CountRekey("child", success: true);
        }
        return TaskOutcome.Done;
    }

    // ---- Responder ----

    public TaskOutcome ProcessRequest(IkeSa sa, IkeMessage request)
    {
        if (!_create.Precheck(request)) return TaskOutcome.Done;
        var rekey = request.GetNotify(NotifyType.RekeySa)!;
        // The notify names the peer's inbound SPI of the SA being rekeyed: our outbound SPI (§3.10.1).
        _rekeyedByPeer = rekey.Spi.Length == 4 ? sa.ChildTable.FindByOutbound(BinaryPrimitives.ReadUInt32BigEndian(rekey.Spi)) : null;
        if (_rekeyedByPeer is null || !sa.Connection!.Children.TryGetValue(_rekeyedByPeer.Child, out var config))
        {
            return _create.Refuse(NotifyType.ChildSaNotFound);
        }

        uint old = _rekeyedByPeer.InboundSpi;
        if (sa.ChildTable.IsDeleting(old))
        {
            // We are deleting this SA (our own rekey of it completed, or it expired): §2.25.1 wants
            // TEMPORARY_FAILURE; our Delete settles it for the peer.
            return _create.Refuse(NotifyType.TemporaryFailure);
        }

        // Installed inbound-only: it sends once the initiator deleted the old SA, when it has our new inbound SA.
        _create.Negotiate(sa, request, [config], outboundActive: false);
        if (!_create.Installed) return TaskOutcome.Done;
        sa.ChildTable.ActivateWhenDeleted(old, _create.OurSpi);
        sa.Context.Metrics.CountRekey("child", success: true);
        // Our own rekey of the same child is on the wire (§2.8.1): answered as usual, settled by the nonces
        // when our response arrives.
        if (sa.ChildRekeyInFlight(old)) sa.ChildTable.PassiveRekey(old, _create.OurSpi, _create.LowerNonce);
        return TaskOutcome.Done;
    }

    public void BuildResponse(IkeSa sa, List<Payload> payloads) => _create.BuildResponse(sa, payloads);
}
