using Concentrator.Ike.Connections;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Sa.V1;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Tasks.V1;

/// <summary>
/// The quick mode handler (exchange 32) on an established phase 1 SA: one <see cref="QuickModeTask"/> per message ID in
/// <see cref="IkeV1Sa.Exchanges"/>. Responder: message 1 creates the task only once its HASH(1) verified (a message that
/// does not authenticate keeps no state); the new SA's inbound direction is installed before message 2 leaves (effects
/// run in order), message 2 retransmitted until HASH(3), which activates its outbound. Initiator: <see cref="Start"/>
/// sends message 1; message 2 installs both directions and HASH(3) goes out (again from the reply cache when message 2
/// is retransmitted). A rekey (ours, or the peer's second quick mode with the same child and
/// selectors) leaves the old SA to its Delete: ours is sent here after the new SA carries traffic, the old inbound
/// kept for the rekey grace.
/// </summary>
public sealed class QuickMode : IV1ExchangeHandler
{
    public static readonly QuickMode Instance = new();

    public V1ExchangeType Exchange => V1ExchangeType.QuickMode;

    public void Handle(IkeV1Sa sa, V1Received message)
    {
        // v1ra: QuickModeRefusal — XAUTH not done (the SA is still Authenticating), or Mode Config leased no address.
        if (sa.QuickModeRefusal() is not null || !message.Protected || message.MessageId == 0)
        {
            sa.Context.Metrics.CountDrop(IkeDropReason.UnexpectedExchange);
            return;
        }
        uint mid = message.MessageId;
        if (sa.Exchanges.TryGet<QuickModeTask>(mid, out var task))
        {
            if (task.IsInitiator) OnReply(sa, task, message);
            else OnHash3(sa, task, message);
            return;
        }
        if (sa.Exchanges.Contains(mid) || sa.MessageIdUsed(mid))
        {
            sa.Context.Metrics.CountDrop(IkeDropReason.InvalidMessageId);
            return;
        }
        OnRequest(sa, message);
    }

    /// <summary>Initiator: a quick mode for <paramref name="child"/> (a rekey of <paramref name="replacing"/> when given).</summary>
    public static void Start(IkeV1Sa sa, ChildConfig child, QuickModeChild? replacing)
    {
        uint mid = sa.NewMessageId();
        var task = new QuickModeTask(sa.QuickModeContext, mid, child, replacing);
        var step = task.BuildRequest();
        if (step.Outcome != QuickModeOutcome.Send)
        {
            sa.Emit(new V1QuickModeEvent(V1QuickModeEventKind.Refused, child.Name, 0, 0, step.Notify, "nothing to offer"));
            return;
        }
        sa.Exchanges.Set(mid, task);
        sa.Send(V1ExchangeType.QuickMode, mid, step.Payloads, encrypt: true, request: true);
    }

    private static void OnRequest(IkeV1Sa sa, V1Received message)
    {
        var task = new QuickModeTask(sa.QuickModeContext, message.MessageId);
        var step = task.ProcessRequest(message.Payloads, message.AfterHash);
        if (step.Outcome == QuickModeOutcome.Drop)
        {
            sa.Context.Metrics.CountDrop(IkeDropReason.IntegrityCheckFailed);
            return;
        }
        sa.CommitReceived(message);
        if (step.Outcome == QuickModeOutcome.Refuse)
        {
            sa.Protector!.EndExchange(message.MessageId);
            sa.Emit(new V1QuickModeEvent(V1QuickModeEventKind.Refused, "", 0, 0, step.Notify, "peer's request"));
            SendNotify(sa, step.Notify, task.RefusedSpi);
            return;
        }
        var child = task.Result!;
        if (!sa.IsQuickModeRekey(child) && sa.LiveQuickModeChildren() >= sa.Context.Limits.ChildSaLimit)
        {
            // charon.child_sa_limit, as for IKEv2; a rekey replaces a child and is never refused by it.
            sa.Context.Metrics.Limits.Hit(ResourceLimit.ChildSaLimit, sa.Context.Limits.ChildSaLimit);
            task.Discard();
            sa.Protector!.EndExchange(message.MessageId);
            sa.Emit(new V1QuickModeEvent(V1QuickModeEventKind.Refused, child.Child.Name, 0, 0, V1NotifyType.NoProposalChosen, "child_sa_limit"));
            SendNotify(sa, V1NotifyType.NoProposalChosen, task.RefusedSpi);
            return;
        }
        sa.Exchanges.Set(message.MessageId, task);
        // The inbound SA is in the data plane before message 2 leaves: the peer may send on it as soon as it has HASH(3) out.
        sa.EmitQuickModeInstall(child);
        // Message 2 is retransmitted until HASH(3) arrives (a lost HASH(3) would leave the SA inbound-only until it
        // expires) and is also the cached answer to a retransmitted message 1.
        sa.Send(V1ExchangeType.QuickMode, message.MessageId, step.Payloads, encrypt: true, request: true, answers: true);
    }

    private static void OnHash3(IkeV1Sa sa, QuickModeTask task, V1Received message)
    {
        if (task.ProcessHash3(message.Payloads).Outcome == QuickModeOutcome.Drop)
        {
            sa.Context.Metrics.CountDrop(IkeDropReason.IntegrityCheckFailed);
            return;
        }
        sa.CommitReceived(message);
        sa.CancelRequest(message.MessageId);
        End(sa, message.MessageId);
        var child = task.Result!;
        sa.Emit(new ChildSaActivated(child.InboundSpi));
        var replaced = sa.AddQuickModeChild(child);
        sa.Emit(new V1QuickModeEvent(V1QuickModeEventKind.Established, child.Child.Name, child.InboundSpi, child.OutboundSpi, 0,
            Describe(child, initiator: false, replaced?.Child)));
    }

    private static void OnReply(IkeV1Sa sa, QuickModeTask task, V1Received message)
    {
        var step = task.ProcessReply(message.Payloads, message.AfterHash);
        if (step.Outcome == QuickModeOutcome.Drop)
        {
            sa.Context.Metrics.CountDrop(IkeDropReason.IntegrityCheckFailed);
            return;
        }
        sa.CommitReceived(message);
        sa.CancelRequest(message.MessageId);
        if (step.Outcome == QuickModeOutcome.Refuse)
        {
            End(sa, message.MessageId);
            sa.Emit(new V1QuickModeEvent(V1QuickModeEventKind.Refused, task.Result?.Child.Name ?? "", 0, 0, step.Notify, "peer's reply"));
            SendNotify(sa, step.Notify, task.RefusedSpi);
            return;
        }
        var child = task.Result!;
        sa.EmitQuickModeInstall(child);
        // HASH(3) answers message 2: a retransmitted message 2 gets it again from the SA's reply cache.
        sa.Send(V1ExchangeType.QuickMode, message.MessageId, step.Payloads, encrypt: true, request: false);
        End(sa, message.MessageId);
        sa.Emit(new ChildSaActivated(child.InboundSpi));
        var replaced = sa.AddQuickModeChild(child);
        sa.Emit(new V1QuickModeEvent(V1QuickModeEventKind.Established, child.Child.Name, child.InboundSpi, child.OutboundSpi, 0,
            Describe(child, initiator: true, replaced?.Child)));
        if (task.Replacing is { } old)
        {
            // Our rekey: the peer learns of the old SA's end by its Delete; our old inbound stays for the rekey grace.
            SendDelete(sa, old.InboundSpi);
            sa.ForgetQuickModeChild(old.InboundSpi);
            sa.Emit(new ChildSaRemoved(old.InboundSpi, Rekeyed: true));
        }
    }

    private static void End(IkeV1Sa sa, uint messageId)
    {
        sa.Exchanges.Remove(messageId);
        sa.Protector!.EndExchange(messageId);
    }

    private static string Describe(QuickModeChild child, bool initiator, QuickModeChild? replaced) =>
        $"{(initiator ? "initiator" : "responder")} {child.Suite.Encryption}-{child.Suite.KeyBits}/{child.Suite.Integrity}" +
        $"{(child.Suite.Group == DhGroup.None ? "" : "/" + child.Suite.Group)} {(child.Terms.Udp ? "udp-" : "")}{child.Terms.Mode} " +
        $"{string.Join(',', child.Install.LocalTs)} === {string.Join(',', child.Install.RemoteTs)}, life {child.Terms.LifeSeconds}s" +
        (replaced is null ? "" : $", rekeys {replaced.InboundSpi:x8}/{replaced.OutboundSpi:x8}");

    // ---- informational messages quick mode needs (RFC 2409 §5.7: HASH(1) over M-ID | payloads) ----------------------------
    // The two informational messages quick mode sends, through the informational exchange's IkeV1Sa.SendInformational.

    private static void SendNotify(IkeV1Sa sa, V1NotifyType notify, byte[] spi)
    {
        var payload = new V1NotificationPayload(notify, V1ProtocolId.Esp, spi.Length == 4 ? spi : []);
        SendInformational(sa, payload);
    }

    private static void SendDelete(IkeV1Sa sa, uint inboundSpi) =>
        SendInformational(sa, new V1DeletePayload(V1ProtocolId.Esp, [QuickModeTask.SpiBytes(inboundSpi)]));

    private static void SendInformational(IkeV1Sa sa, V1Payload payload) => sa.SendInformational([payload]);
}

public static partial class V1Exchanges
{
    static partial void AddQuickMode(Registry registry) => registry.Add(QuickMode.Instance);
}
