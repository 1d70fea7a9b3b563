using Concentrator.Ike.Sa;
using Concentrator.Ike.Wire;

namespace Concentrator.Ike.Tasks;

/// <summary>
/// Dead peer detection (RFC 7296 §2.4): an empty INFORMATIONAL request. Nothing is special about it but its deadline:
/// the task manager gives the probe the connection's dpd_timeout on top of the retransmission budget, and an unanswered
/// probe closes the SA with <see cref="CloseReason.Timeout"/>. A peer's probe is answered with an empty response.
/// </summary>
public sealed class DpdTask : IIkeTask
{
    public void BuildRequest(IkeSa sa, List<Payload> payloads)
    {
    }

    public TaskOutcome ProcessResponse(IkeSa sa, IkeMessage response) => TaskOutcome.Done;

    public TaskOutcome ProcessRequest(IkeSa sa, IkeMessage request) => TaskOutcome.Done;

    public void BuildResponse(IkeSa sa, List<Payload> payloads)
    {
    }
}
