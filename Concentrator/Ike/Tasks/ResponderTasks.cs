using Concentrator.Ike.Wire;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Tasks;

/// <summary>The tasks that answer one request of the peer, by exchange and content (strongSwan's task_manager
/// process_request); they share one response, built in this order.</summary>
public static class ResponderTasks
{
    public static List<IIkeTask> For(ExchangeType exchange, IkeMessage request) => exchange switch
    {
        ExchangeType.IkeSaInit => [new IkeInitTask(), new IkeCertPreTask()],
        ExchangeType.IkeAuth => [new IkeAuthTask(), new IkeConfigTask(), new ChildCreateTask(null), new IkeMobikeTask()],
        // CREATE_CHILD_SA rekeys the IKE SA when its SA payload proposes protocol IKE (§1.3.2).
        ExchangeType.CreateChildSa when request.Get<SaPayload>() is { Proposals: [{ Protocol: ProtocolId.Ike }, ..] } => [new IkeRekeyTask()],
        ExchangeType.CreateChildSa when request.GetNotify(NotifyType.RekeySa) is not null => [new ChildRekeyTask()],
        ExchangeType.CreateChildSa => [new ChildCreateTask(null)],
        _ => Informational(request),
    };

    /// <summary>
    /// Deletes in the order their protocols first appear (a D(IKE) first hands the children of a rekey collision's
    /// winner over before any D(ESP) is looked at); AUTHENTICATION_FAILED or INVALID_SYNTAX (the initiator refused our
    /// IKE_AUTH response) deletes the IKE SA as strongSwan's task manager does; MOBIKE's notifies go to
    /// <see cref="IkeMobikeTask"/>; an INFORMATIONAL with none of these is a liveness check.
    /// </summary>
    private static List<IIkeTask> Informational(IkeMessage request)
    {
        var tasks = new List<IIkeTask>();
        if (IkeDeleteTask.RefusedUs(request)) tasks.Add(new IkeDeleteTask());
        foreach (var delete in request.GetAll<DeletePayload>())
        {
            if (delete.Protocol == ProtocolId.Ike && !tasks.Any(t => t is IkeDeleteTask)) tasks.Add(new IkeDeleteTask());
            else if (delete.Protocol is ProtocolId.Esp or ProtocolId.Ah && !tasks.Any(t => t is ChildDeleteTask)) tasks.Add(new ChildDeleteTask());
        }
        // RFC 4555: UPDATE_SA_ADDRESSES, COOKIE2, NAT detection, address lists (alone, a path test or a DPD with NAT check).
        if (IkeMobikeTask.Concerns(request)) tasks.Add(new IkeMobikeTask());
        if (tasks.Count == 0) tasks.Add(new DpdTask());
        return tasks;
    }
}
