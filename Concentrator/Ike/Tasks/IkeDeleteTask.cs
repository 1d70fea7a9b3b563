using Concentrator.Ike.Sa;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Tasks;

/// <summary>
/// Deletes the IKE SA, and with it every Child SA, with INFORMATIONAL {D(IKE)} (RFC 7296 §1.4.1). Initiator: the SA
/// closes when the response arrives (or when the retransmission budget runs out). Responder: the SA closes once the
/// response is sent; a D(IKE) that ends our own IKE rekey lets the peer's colliding new SA take the children first
/// (§2.25.2).
/// </summary>
public sealed class IkeDeleteTask : IIkeTask
{
    public void BuildRequest(IkeSa sa, List<Payload> payloads) => payloads.Add(new DeletePayload(ProtocolId.Ike, []));

    public TaskOutcome ProcessResponse(IkeSa sa, IkeMessage response)
    {
        sa.Close(CloseReason.Deleted);
        return TaskOutcome.Failed;
    }

    /// <summary>An INFORMATIONAL request in which the initiator refuses our IKE_AUTH response (RFC 7296 §2.21.2).</summary>
    public static bool RefusedUs(IkeMessage request) =>
        request.GetNotify(NotifyType.AuthenticationFailed) is not null || request.GetNotify(NotifyType.InvalidSyntax) is not null;

    public TaskOutcome ProcessRequest(IkeSa sa, IkeMessage request)
    {
        if (RefusedUs(request))
        {
            bool authentication = request.GetNotify(NotifyType.AuthenticationFailed) is not null;
            if (authentication) sa.Context.Metrics.CountAuthFailure(initiator: false, AuthFailure.RefusedByPeer);
            sa.TaskManager.CloseAfterResponse = authentication ? CloseReason.AuthFailed : CloseReason.InvalidSyntax;
            return TaskOutcome.Done;
        }
        foreach (var delete in request.GetAll<DeletePayload>())
        {
            if (delete.Protocol != ProtocolId.Ike) continue;
            // If the peer's colliding rekey already created a new SA, the peer won and that SA takes the children over.
            if (sa.TakePassiveIkeRekey() is { } passive) sa.HandOver(passive.Sa);
            sa.TaskManager.CloseAfterResponse = CloseReason.DeletedByPeer;
        }
        return TaskOutcome.Done;
    }

    public void BuildResponse(IkeSa sa, List<Payload> payloads)
    {
    }
}
