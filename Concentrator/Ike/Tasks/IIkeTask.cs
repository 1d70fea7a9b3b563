using Concentrator.Ike.Sa;
using Concentrator.Ike.Wire;

namespace Concentrator.Ike.Tasks;

/// <summary>Outcome of processing one side of an exchange in a task.</summary>
public enum TaskOutcome
{
    /// <summary>The task has done its part of the exchange.</summary>
    Done = 0,
    /// <summary>The exchange must be sent again (COOKIE or INVALID_KE_PAYLOAD retry of IKE_SA_INIT).</summary>
    Retry,
    /// <summary>The IKE SA cannot continue; <see cref="IkeSa.Fail"/> has been called.</summary>
    Failed,
    /// <summary>
    /// Responder: the request is answered later, once the host has done what the task emitted (OCSP requests) and called
    /// <see cref="IkeSa.ResumeDeferredRequest"/>; the exchange's tasks then run again on the same message.
    /// </summary>
    Deferred,
    /// <summary>
    /// Responder: this request is one round of an exchange of several (IKE_AUTH with EAP, RFC 7296 §2.16). The task
    /// answers it alone (the tasks after it neither process nor build), and the exchange's tasks stay for the peer's
    /// next request of the same exchange, which the task leads again; the tasks after it then act on the exchange's
    /// first request, which carried their payloads (strongSwan's ike_auth returning NEED_MORE).
    /// </summary>
    NeedMore,
}

/// <summary>
/// One piece of an exchange for one role, after strongSwan's sa/ikev2/tasks: an exchange is a list of tasks
/// whose payloads share one message. Initiator: <see cref="BuildRequest"/> then <see cref="ProcessResponse"/>.
/// Responder: <see cref="ProcessRequest"/> then <see cref="BuildResponse"/>.
/// </summary>
public interface IIkeTask
{
    void BuildRequest(IkeSa sa, List<Payload> payloads);
    TaskOutcome ProcessResponse(IkeSa sa, IkeMessage response);
    TaskOutcome ProcessRequest(IkeSa sa, IkeMessage request);
    void BuildResponse(IkeSa sa, List<Payload> payloads);
}
